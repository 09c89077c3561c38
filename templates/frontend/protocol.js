// The chat protocol as the browser sees it (DESIGN §2), plus the small pure helpers the UI
// needs. Nothing here touches the DOM, so it can be tested under Node as it is.

/** The server's name rule; a name that fails it is refused at the handshake. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The server counts characters (Unicode scalar values), not UTF-16 code units. */
export const MAX_TEXT_CHARS = 4096;

/** Returns why `name` would be refused, or null when it is acceptable. */
export function nameProblem(name) {
  if (typeof name !== 'string' || name.length === 0) return 'Enter a name.';
  if (name.length > 32) return 'A name has at most 32 characters.';
  if (!NAME_PATTERN.test(name)) {
    return 'Use only letters A–Z, digits, “_” and “-” (no spaces).';
  }
  return null;
}

export function isValidName(name) {
  return nameProblem(name) === null;
}

/** Length as the server measures it: code points, so an emoji counts once. */
export function textLength(text) {
  let n = 0;
  // eslint-disable-next-line no-unused-vars
  for (const _ of text) n += 1;
  return n;
}

/** The URL that joins as `name`: `websocketUrl?name=<name>`. */
export function joinUrl(websocketUrl, name) {
  const separator = websocketUrl.includes('?') ? '&' : '?';
  return `${websocketUrl}${separator}name=${encodeURIComponent(name)}`;
}

/** The URL that connects with an ID token: `websocketUrl?token=<token>` (the server then takes
 * the name from the token and ignores any `name`). */
export function tokenUrl(websocketUrl, token) {
  const separator = websocketUrl.includes('?') ? '&' : '?';
  return `${websocketUrl}${separator}token=${encodeURIComponent(token)}`;
}

/** The default gateway URL for a page served by `chatctl dev`: same host, stage `dev`. */
export function defaultWebsocketUrl(loc) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/dev`;
}

/**
 * Delay before reconnect attempt number `attempt` (0-based): exponential growth capped at
 * `capMs`, with "equal jitter" (half fixed, half random) so that many tabs dropped by the same
 * outage do not all come back in the same instant, yet none retries immediately in a loop.
 */
export function backoffDelay(attempt, { baseMs = 500, capMs = 30_000, random = Math.random } = {}) {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export function chatPath(peer) {
  return `/chat/${encodeURIComponent(peer)}`;
}

/**
 * Client-side routes: `/` (people) and `/chat/<peer>` (a conversation). Anything else is
 * unknown; the app shows the people list for it rather than an error page.
 */
export function parseRoute(pathname) {
  if (pathname === '/' || pathname === '' || pathname === '/index.html') return { view: 'home' };
  const match = /^\/chat\/([^/]*)\/?$/.exec(pathname);
  if (!match) return { view: 'unknown' };
  let peer;
  try {
    peer = decodeURIComponent(match[1]);
  } catch {
    return { view: 'chat', peer: match[1], valid: false };
  }
  return { view: 'chat', peer, valid: isValidName(peer) };
}

export function whoFrame() {
  return JSON.stringify({ action: 'who' });
}

export function sendFrame(to, text) {
  return JSON.stringify({ action: 'sendmessage', to, text });
}

const isString = (v) => typeof v === 'string';

/**
 * Normalises one frame from the server. Frames without `type` that carry `message` come from
 * API Gateway itself ("Forbidden", "Internal server error", throttling) rather than the backend.
 */
export function parseServerFrame(raw) {
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return { kind: 'unknown', raw };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { kind: 'unknown', raw };
  switch (data.type) {
    case 'message':
      if (isString(data.id) && isString(data.from) && isString(data.text) && isString(data.at)) {
        return { kind: 'message', id: data.id, from: data.from, text: data.text, at: data.at };
      }
      break;
    case 'sent':
      if (isString(data.id) && isString(data.to)) return { kind: 'sent', id: data.id, to: data.to };
      break;
    case 'who':
      if (Array.isArray(data.users)) return { kind: 'who', users: data.users.filter(isString) };
      break;
    case 'error':
      return {
        kind: 'error',
        code: isString(data.code) ? data.code : 'error',
        message: isString(data.message) ? data.message : '',
      };
    case undefined:
      if (isString(data.message)) return { kind: 'error', code: 'gateway', message: data.message };
      break;
    default:
      break;
  }
  return { kind: 'unknown', raw };
}

/** The sentence shown in the conversation for an error about a message to `peer`. */
export function errorText(code, message, peer) {
  switch (code) {
    case 'peer_offline':
      return `${peer} is offline, so the message was not delivered.`;
    case 'too_large':
      return `Too long: a message can have at most ${MAX_TEXT_CHARS} characters.`;
    case 'bad_request':
      return 'The server rejected this message as malformed.';
    case 'unknown_action':
      return 'The server did not recognise this request.';
    case 'gateway':
      return `The gateway answered: ${message || 'error'}.`;
    case 'timeout':
      return 'No confirmation from the server; the message may not have been delivered.';
    case 'connection_lost':
      return 'The connection dropped before the server confirmed this message.';
    default:
      return message || `Error: ${code}`;
  }
}

/** Sorted, distinct names (the server already sends them so; being defensive costs nothing). */
export function distinctSorted(names) {
  return [...new Set(names)].sort();
}
