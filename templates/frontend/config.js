// Where the chat service is. `chatctl dev` serves its own /config.js and the Amplify build
// (amplify.yml) overwrites this file from CHAT_WEBSOCKET_URL; this default fits any server
// that hosts the page and the gateway on the same host with the stage `dev`.
window.CHAT_CONFIG = {
  websocketUrl: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/dev",
};
