// The reference chat web app: sign in (or, without sign-in, pick a name), see who is online,
// one-to-one conversations at /chat/<peer>. User data only ever reaches the page through
// textContent.

import { Session, parseCallback, signInConfigured } from './auth.js';
import { ChatClient } from './client.js';
import {
  MAX_TEXT_CHARS,
  chatPath,
  defaultWebsocketUrl,
  distinctSorted,
  errorText,
  isValidName,
  nameProblem,
  parseRoute,
  sendFrame,
  textLength,
  tokenUrl,
  whoFrame,
} from './protocol.js';

/** Also keeps the connection clear of API Gateway's 10-minute idle timeout. */
const WHO_INTERVAL_MS = 30_000;
/** How long a sent message waits for its `sent` ack (or error) before it is flagged. */
const ACK_TIMEOUT_MS = 15_000;
/** Per conversation, the newest messages kept in sessionStorage across reloads. */
const HISTORY_LIMIT = 200;
const NAME_KEY = 'chat.name';
/** The composer's text, kept across a sign-in redirect. */
const DRAFT_KEY = 'chat.draft';
const historyKey = (me) => `chat.history.${me}`;

const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
};

/** Creates an element; string children become text nodes (never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key.startsWith('data-')) node.dataset[camel(key.slice(5))] = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function camel(s) {
  return s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

const ui = {
  topbarSession: $('session'),
  me: $('me'),
  status: $('conn-status'),
  statusText: $('conn-status-text'),
  leave: $('leave'),
  joinView: $('join-view'),
  joinForm: $('join-form'),
  joinTitle: $('join-title'),
  joinLede: $('join-lede'),
  nameFields: $('name-fields'),
  joinButton: $('join-button'),
  signInError: $('signin-error'),
  joinName: $('join-name'),
  joinError: $('join-error'),
  joinContext: $('join-context'),
  configError: $('config-error'),
  chatView: $('chat-view'),
  people: $('people'),
  peopleCount: $('people-count'),
  peopleEmpty: $('people-empty'),
  openForm: $('open-form'),
  openName: $('open-name'),
  openError: $('open-error'),
  convEmpty: $('conv-empty'),
  conv: $('conv'),
  convTitle: $('conv-title'),
  convPresence: $('conv-presence'),
  convNotice: $('conv-notice'),
  messages: $('messages'),
  composer: $('composer'),
  composerLabel: $('composer-label'),
  input: $('message-input'),
  sendButton: $('send'),
  composerHint: $('composer-hint'),
  counter: $('char-counter'),
};

const config = window.CHAT_CONFIG ?? {};
const websocketUrl =
  typeof config.websocketUrl === 'string' && config.websocketUrl !== ''
    ? config.websocketUrl
    : defaultWebsocketUrl(window.location);

/** Signing in, when config.js configures a provider; null keeps the name form. */
const session = signInConfigured(config.auth) ? new Session({ auth: config.auth }) : null;
const signInMisconfigured = !session && (config.auth?.provider === 'cognito' || config.auth?.provider === 'oidc');

const state = {
  me: null,
  client: null,
  connState: 'stopped',
  online: [],
  /** @type {Map<string, object[]>} peer → entries, oldest first */
  conversations: new Map(),
  unread: new Map(),
  route: parseRoute(window.location.pathname),
  /** Messages awaiting their ack, oldest first: the server answers a connection's frames in order. */
  pending: [],
  whoTimer: null,
  nextKey: 1,
  /** entry key → its <li>, for the conversation on screen */
  rendered: new Map(),
};

// ---------------------------------------------------------------- storage

function storageGet(key) {
  try {
    return window.sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    if (value === null) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, value);
  } catch {
    // Private mode or a full quota: the app still works, it just forgets on reload.
  }
}

function loadHistory(me) {
  state.conversations = new Map();
  const raw = storageGet(historyKey(me));
  if (!raw) return;
  try {
    const parsed = JSON.parse(raw);
    for (const [peer, entries] of Object.entries(parsed)) {
      if (!isValidName(peer) || !Array.isArray(entries)) continue;
      const clean = entries
        .filter((e) => e && typeof e.text === 'string' && (e.dir === 'in' || e.dir === 'out'))
        .map((e) => {
          const entry = { ...e, key: state.nextKey++ };
          // A message still waiting when the page went away will never be acknowledged now.
          if (entry.status === 'sending') {
            entry.status = 'failed';
            entry.error = { code: 'connection_lost', text: errorText('connection_lost', '', peer) };
          }
          return entry;
        });
      state.conversations.set(peer, clean);
    }
  } catch {
    storageSet(historyKey(me), null);
  }
}

function saveHistory() {
  if (!state.me) return;
  const out = {};
  for (const [peer, entries] of state.conversations) {
    out[peer] = entries.slice(-HISTORY_LIMIT).map(({ key: _key, ...rest }) => rest);
  }
  storageSet(historyKey(state.me), JSON.stringify(out));
}

// ---------------------------------------------------------------- session

/**
 * Connects with an ID token, renewed before it expires; null when only signing in again can
 * give one. Every other failed attempt renews it anyway, in case the server no longer takes it.
 */
async function tokenUrlFor({ attempt }) {
  const token = await session.freshToken({ force: attempt >= 2 && attempt % 2 === 0 });
  return token ? tokenUrl(websocketUrl, token) : null;
}

function join(name) {
  state.me = name;
  if (!session) storageSet(NAME_KEY, name);
  loadHistory(name);
  ui.me.textContent = name;
  const client = new ChatClient({ websocketUrl, name, urlProvider: session ? tokenUrlFor : null });
  state.client = client;
  client.addEventListener('state', (event) => onConnState(event.detail));
  client.addEventListener('frame', (event) => onFrame(event.detail));
  client.addEventListener('drop', () => failAllPending('connection_lost'));
  // The token expired and could not be renewed: through the provider and back to this page,
  // which the conversation history (sessionStorage) and the draft survive.
  client.addEventListener('unauthenticated', () => signIn());
  client.start();
  state.whoTimer = window.setInterval(requestWho, WHO_INTERVAL_MS);
  render();
}

/** Off to the provider's sign-in page, back to the page on screen. */
function signIn() {
  storageSet(DRAFT_KEY, ui.input.value || null);
  session.signIn({ returnTo: window.location.pathname }).catch((error) => {
    showSignInError(`Cannot start signing in: ${error.message}`);
  });
}

function showSignInError(text) {
  ui.signInError.textContent = text;
  ui.signInError.hidden = text === '';
}

function leave() {
  if (state.client) state.client.stop();
  window.clearInterval(state.whoTimer);
  for (const p of state.pending) window.clearTimeout(p.timer);
  storageSet(NAME_KEY, null);
  storageSet(DRAFT_KEY, null);
  storageSet(historyKey(state.me), null);
  Object.assign(state, {
    me: null,
    client: null,
    connState: 'stopped',
    online: [],
    conversations: new Map(),
    unread: new Map(),
    pending: [],
    whoTimer: null,
  });
  if (session) {
    // Ends the provider's session too, which comes back to the front page.
    if (session.signOut()) return;
  }
  navigate('/', { replace: false });
  ui.joinName.value = '';
  ui.joinName.focus();
}

function requestWho() {
  if (state.client) state.client.send(whoFrame());
}

// ---------------------------------------------------------------- protocol events

function onConnState({ state: connState, retryInMs }) {
  state.connState = connState;
  if (connState === 'open') requestWho();
  renderStatus(retryInMs);
  renderComposerState();
}

function onFrame(frame) {
  switch (frame.kind) {
    case 'who':
      state.online = distinctSorted(frame.users);
      renderPeople();
      renderConversationHeader();
      break;
    case 'message':
      receive(frame);
      break;
    case 'sent':
      acknowledge(frame);
      break;
    case 'error':
      rejectOldestPending(frame);
      break;
    default:
      break;
  }
}

function conversation(peer) {
  let entries = state.conversations.get(peer);
  if (!entries) {
    entries = [];
    state.conversations.set(peer, entries);
  }
  return entries;
}

function receive(frame) {
  const entry = {
    key: state.nextKey++,
    dir: 'in',
    id: frame.id,
    from: frame.from,
    text: frame.text,
    at: frame.at,
    status: 'received',
  };
  conversation(frame.from).push(entry);
  if (!state.online.includes(frame.from)) {
    state.online = distinctSorted([...state.online, frame.from]);
  }
  const visible = isViewing(frame.from) && document.visibilityState === 'visible';
  if (!visible) state.unread.set(frame.from, (state.unread.get(frame.from) ?? 0) + 1);
  saveHistory();
  if (isViewing(frame.from)) appendEntry(entry, frame.from);
  renderPeople();
  renderTitle();
}

function send(peer, text) {
  const entry = {
    key: state.nextKey++,
    dir: 'out',
    id: null,
    from: state.me,
    to: peer,
    text,
    at: new Date().toISOString(),
    status: 'sending',
    error: null,
  };
  if (!state.client || !state.client.send(sendFrame(peer, text))) return false;
  conversation(peer).push(entry);
  const pending = { peer, entry, timer: 0 };
  pending.timer = window.setTimeout(() => {
    const index = state.pending.indexOf(pending);
    if (index >= 0) {
      state.pending.splice(index, 1);
      markFailed(pending, 'timeout', '');
    }
  }, ACK_TIMEOUT_MS);
  state.pending.push(pending);
  saveHistory();
  if (isViewing(peer)) appendEntry(entry, peer);
  renderPeople();
  return true;
}

function acknowledge(frame) {
  // Acks name the addressee, so match the oldest message to that peer.
  const index = state.pending.findIndex((p) => p.peer === frame.to);
  if (index < 0) return;
  const [pending] = state.pending.splice(index, 1);
  window.clearTimeout(pending.timer);
  pending.entry.status = 'sent';
  pending.entry.id = frame.id;
  saveHistory();
  updateEntry(pending.entry, pending.peer);
}

function rejectOldestPending(frame) {
  // Errors carry no correlation id; replies come back in request order on one connection.
  const pending = state.pending.shift();
  if (!pending) {
    showNotice(errorText(frame.code, frame.message, state.route.peer ?? ''));
    return;
  }
  window.clearTimeout(pending.timer);
  markFailed(pending, frame.code, frame.message);
}

function markFailed(pending, code, message) {
  pending.entry.status = 'failed';
  pending.entry.error = { code, text: errorText(code, message, pending.peer) };
  saveHistory();
  updateEntry(pending.entry, pending.peer);
}

function failAllPending(code) {
  const all = state.pending;
  state.pending = [];
  for (const pending of all) {
    window.clearTimeout(pending.timer);
    markFailed(pending, code, '');
  }
}

// ---------------------------------------------------------------- routing

function isViewing(peer) {
  return state.route.view === 'chat' && state.route.valid && state.route.peer === peer;
}

function navigate(path, { replace = false } = {}) {
  if (path !== window.location.pathname) {
    if (replace) window.history.replaceState({}, '', path);
    else window.history.pushState({}, '', path);
  }
  state.route = parseRoute(window.location.pathname);
  render({ focus: true });
}

window.addEventListener('popstate', () => {
  state.route = parseRoute(window.location.pathname);
  render({ focus: true });
});

// Same-origin links inside the app navigate without a page load (modified clicks keep
// their usual meaning: new tab, new window, download).
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target instanceof Element ? event.target.closest('a[data-route]') : null;
  if (!link) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin) return;
  event.preventDefault();
  navigate(url.pathname);
});

// ---------------------------------------------------------------- rendering

function render({ focus = false } = {}) {
  const joined = state.me !== null;
  ui.joinView.hidden = joined;
  ui.chatView.hidden = !joined;
  ui.topbarSession.hidden = !joined;
  if (!joined) {
    const { route } = state;
    const verb = session ? 'Sign in' : 'Join';
    ui.joinContext.textContent =
      route.view === 'chat' && route.valid ? `${verb} to chat with ${route.peer}.` : '';
    ui.joinContext.hidden = ui.joinContext.textContent === '';
    renderTitle();
    return;
  }
  ui.chatView.dataset.view = state.route.view === 'chat' ? 'chat' : 'home';
  renderStatus(0);
  renderPeople();
  renderConversation(focus);
  renderTitle();
}

function renderTitle() {
  const unread = [...state.unread.values()].reduce((a, b) => a + b, 0);
  const prefix = unread > 0 ? `(${unread}) ` : '';
  const { route } = state;
  const where = state.me && route.view === 'chat' && route.valid ? `${route.peer} · ` : '';
  document.title = `${prefix}${where}Chat`;
}

const STATUS_TEXT = {
  connecting: 'Connecting…',
  open: 'Online',
  waiting: 'Reconnecting',
  stopped: 'Offline',
};

function renderStatus(retryInMs) {
  const s = state.connState;
  ui.status.dataset.state = s;
  let text = STATUS_TEXT[s] ?? s;
  if (s === 'waiting' && retryInMs > 0) text = `Reconnecting in ${Math.ceil(retryInMs / 1000)} s`;
  ui.statusText.textContent = text;
}

function renderPeople() {
  if (!state.me) return;
  const others = state.online.filter((n) => n !== state.me);
  // People one has talked with stay listed (marked offline) after they leave.
  const names = distinctSorted([...others, ...state.conversations.keys()].filter((n) => n !== state.me));
  ui.peopleCount.textContent = String(others.length);
  ui.peopleEmpty.hidden = names.length > 0;
  const current = state.route.view === 'chat' ? state.route.peer : null;
  ui.people.replaceChildren(
    ...names.map((name) => {
      const online = others.includes(name);
      const unread = state.unread.get(name) ?? 0;
      const last = state.conversations.get(name)?.at(-1);
      const preview = last ? `${last.dir === 'out' ? 'You: ' : ''}${last.text}` : online ? 'Online' : 'Offline';
      return el(
        'li',
        {},
        el(
          'a',
          {
            href: chatPath(name),
            class: 'person',
            'data-route': '',
            'data-name': name,
            'data-online': online ? 'true' : 'false',
            'aria-current': name === current ? 'page' : null,
            'aria-label': `${name}, ${online ? 'online' : 'offline'}${unread ? `, ${unread} unread` : ''}`,
          },
          el('span', { class: 'avatar', 'aria-hidden': 'true', text: initial(name), style: avatarStyle(name) }),
          el(
            'span',
            { class: 'person-text' },
            el('span', { class: 'person-name', text: name }),
            el('span', { class: 'person-preview', text: preview }),
          ),
          el('span', { class: `presence ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
          unread ? el('span', { class: 'badge', 'aria-hidden': 'true', text: String(unread) }) : null,
        ),
      );
    }),
  );
}

function initial(name) {
  return name.slice(0, 1).toUpperCase();
}

/** A stable hue per name, so a person keeps their colour across pages and reloads. */
function avatarStyle(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) % 360;
  return `--hue:${hash}`;
}

let renderedPeer = null;

function renderConversation(focus) {
  const { route } = state;
  const inChat = route.view === 'chat';
  ui.convEmpty.hidden = inChat;
  ui.conv.hidden = !inChat;
  if (!inChat) {
    renderedPeer = null;
    if (focus && state.me) {
      // Not the name field: on a phone that would pop up the keyboard unasked.
      const first = ui.people.querySelector('a');
      (first ?? $('people-title')).focus();
    }
    return;
  }
  if (!route.valid) {
    ui.convTitle.textContent = 'Unknown person';
    ui.convPresence.textContent = '';
    ui.messages.replaceChildren();
    renderedPeer = null;
    showNotice(`“${route.peer}” is not a valid name: names are 1–32 letters, digits, “_” or “-”.`);
    ui.composer.hidden = true;
    return;
  }
  ui.composer.hidden = false;
  const peer = route.peer;
  state.unread.delete(peer);
  if (renderedPeer !== peer) {
    renderedPeer = peer;
    hideNotice();
    ui.composerLabel.textContent = `Message to ${peer}`;
    ui.input.placeholder = `Message ${peer}`;
    state.rendered = new Map();
    ui.messages.setAttribute('aria-busy', 'true');
    ui.messages.replaceChildren();
    for (const entry of state.conversations.get(peer) ?? []) appendEntry(entry, peer, { scroll: false });
    ui.messages.removeAttribute('aria-busy');
    scrollToEnd();
    renderPeople();
  }
  renderConversationHeader();
  renderComposerState();
  if (focus) ui.input.focus();
}

function renderConversationHeader() {
  const { route } = state;
  if (route.view !== 'chat' || !route.valid) return;
  const online = state.online.includes(route.peer);
  ui.convTitle.textContent = route.peer === state.me ? `${route.peer} (you)` : route.peer;
  ui.convPresence.textContent = online ? 'online' : 'offline';
  ui.convPresence.dataset.online = online ? 'true' : 'false';
}

function renderComposerState() {
  const open = state.connState === 'open';
  ui.composer.dataset.connected = open ? 'true' : 'false';
  if (!open && state.me) {
    ui.composerHint.textContent = 'Not connected. Your text stays here; send it once the connection is back.';
  } else if (ui.composerHint.dataset.kind !== 'length') {
    ui.composerHint.textContent = '';
  }
}

function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return { short: '', long: '' };
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return {
    short: sameDay ? time : `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`,
    long: date.toLocaleString(),
  };
}

const STATUS_LABEL = { sending: 'Sending…', sent: 'Sent', failed: 'Not delivered', received: '' };

function entryNode(entry, peer) {
  const time = formatTime(entry.at);
  const sender = entry.dir === 'out' ? 'You' : entry.from;
  const li = el(
    'li',
    {
      class: `msg ${entry.dir}`,
      'data-dir': entry.dir,
      'data-from': entry.from,
      'data-status': entry.status,
      'data-id': entry.id ?? '',
    },
    el('div', { class: 'bubble' }, el('p', { class: 'text', text: entry.text })),
    el(
      'div',
      { class: 'meta' },
      el('span', { class: 'from', text: sender }),
      el('time', { datetime: entry.at, title: time.long, text: time.short }),
      entry.dir === 'out' ? el('span', { class: 'status', text: STATUS_LABEL[entry.status] ?? '' }) : null,
    ),
  );
  if (entry.error) {
    li.append(
      el(
        'div',
        { class: 'msg-error', role: 'alert', 'data-code': entry.error.code },
        el('span', { text: entry.error.text }),
        el('button', {
          type: 'button',
          class: 'link-button',
          text: 'Try again',
          'aria-label': `Send “${shorten(entry.text)}” to ${peer} again`,
          onclick: () => retry(entry, peer),
        }),
      ),
    );
  }
  return li;
}

function shorten(text) {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function appendEntry(entry, peer, { scroll = true } = {}) {
  const nearEnd = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
  const li = entryNode(entry, peer);
  state.rendered.set(entry.key, li);
  ui.messages.append(li);
  if (scroll && (nearEnd || entry.dir === 'out')) scrollToEnd();
}

function updateEntry(entry, peer) {
  if (!isViewing(peer)) return;
  const old = state.rendered.get(entry.key);
  if (!old) return;
  const li = entryNode(entry, peer);
  state.rendered.set(entry.key, li);
  old.replaceWith(li);
  if (entry.error) li.scrollIntoView({ block: 'nearest' });
}

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function retry(entry, peer) {
  if (send(peer, entry.text)) {
    ui.input.focus();
  } else {
    showNotice('Not connected yet. Try again once the status says Online.');
  }
}

function showNotice(text) {
  ui.convNotice.textContent = text;
  ui.convNotice.hidden = false;
}

function hideNotice() {
  ui.convNotice.textContent = '';
  ui.convNotice.hidden = true;
}

// ---------------------------------------------------------------- forms and keys

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (session) {
    showSignInError('');
    signIn();
    return;
  }
  if (signInMisconfigured) return;
  const name = ui.joinName.value.trim();
  const problem = nameProblem(name);
  ui.joinError.textContent = problem ?? '';
  ui.joinName.setAttribute('aria-invalid', problem ? 'true' : 'false');
  if (problem) {
    ui.joinName.focus();
    return;
  }
  join(name);
  render({ focus: true });
});

ui.joinName.addEventListener('input', () => {
  if (ui.joinError.textContent) {
    const problem = nameProblem(ui.joinName.value.trim());
    ui.joinError.textContent = problem ?? '';
    ui.joinName.setAttribute('aria-invalid', problem ? 'true' : 'false');
  }
});

ui.openForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.openName.value.trim();
  const problem = nameProblem(name);
  ui.openError.textContent = problem ?? '';
  ui.openName.setAttribute('aria-invalid', problem ? 'true' : 'false');
  if (problem) {
    ui.openName.focus();
    return;
  }
  ui.openName.value = '';
  navigate(chatPath(name));
});

ui.leave.addEventListener('click', leave);

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  submitMessage();
});

ui.input.addEventListener('keydown', (event) => {
  // Enter sends, Shift+Enter starts a new line; never while an IME is composing text.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitMessage();
  }
});

ui.input.addEventListener('input', () => {
  autosize();
  const length = textLength(ui.input.value);
  const over = length > MAX_TEXT_CHARS;
  ui.counter.hidden = length < MAX_TEXT_CHARS - 500;
  ui.counter.textContent = `${length} / ${MAX_TEXT_CHARS}`;
  ui.counter.dataset.over = over ? 'true' : 'false';
  if (!over && ui.composerHint.dataset.kind === 'length') {
    ui.composerHint.dataset.kind = '';
    renderComposerState();
  }
});

function autosize() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
}

function submitMessage() {
  const { route } = state;
  if (route.view !== 'chat' || !route.valid) return;
  const text = ui.input.value.trim();
  if (text === '') return;
  const length = textLength(text);
  if (length > MAX_TEXT_CHARS) {
    ui.composerHint.dataset.kind = 'length';
    ui.composerHint.textContent = `Too long: ${length} characters, at most ${MAX_TEXT_CHARS}.`;
    return;
  }
  if (!send(route.peer, text)) {
    renderComposerState();
    return;
  }
  ui.input.value = '';
  ui.counter.hidden = true;
  autosize();
  ui.input.focus();
}

// ---------------------------------------------------------------- liveness

function refresh() {
  if (!state.client) return;
  if (state.connState === 'open') requestWho();
  else state.client.reconnectNow();
}

window.addEventListener('focus', refresh);
window.addEventListener('online', refresh);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  refresh();
  if (isViewing(state.route.peer)) {
    state.unread.delete(state.route.peer);
    renderPeople();
    renderTitle();
  }
});

// ---------------------------------------------------------------- start

if (typeof window.CHAT_CONFIG?.websocketUrl !== 'string') {
  ui.configError.hidden = false;
  ui.configError.textContent = `config.js did not set window.CHAT_CONFIG.websocketUrl; using ${websocketUrl}.`;
}

/** The join card for signing in: a button instead of the name field. */
function showSignInCard() {
  ui.joinTitle.textContent = 'Sign in to chat';
  ui.joinLede.textContent =
    'Your chat name comes from your account, so nobody else can use it. You sign in on your identity provider’s page.';
  ui.nameFields.hidden = true;
  ui.joinButton.textContent = 'Sign in';
  ui.leave.textContent = 'Sign out';
}

/** With sign-in: finish a sign-in coming back from the provider, or start again after a reload. */
async function startSignedIn() {
  showSignInCard();
  const callback = parseCallback(window.location.search);
  if (callback) {
    let returnTo = '/';
    try {
      returnTo = await session.completeSignIn(callback);
    } catch (error) {
      window.history.replaceState({}, '', '/');
      state.route = parseRoute(window.location.pathname);
      showSignInError(error.message);
      render({ focus: true });
      ui.joinButton.focus();
      return;
    }
    window.history.replaceState({}, '', returnTo);
    state.route = parseRoute(window.location.pathname);
    const name = session.name;
    if (!isValidName(name)) {
      showSignInError(
        `Your account’s name${name ? ` “${name}”` : ''} cannot be a chat name: names are 1–32 letters, digits, “_” or “-”.`,
      );
      render({ focus: true });
      ui.joinButton.focus();
      return;
    }
    join(name);
    const draft = storageGet(DRAFT_KEY);
    storageSet(DRAFT_KEY, null);
    render({ focus: true });
    if (draft) {
      ui.input.value = draft;
      autosize();
    }
    return;
  }
  if (session.wasSignedIn) {
    // A reload: tokens live in memory only, so sign in again; the provider's session sends the
    // browser straight back here.
    ui.joinButton.disabled = true;
    ui.joinButton.textContent = 'Signing in…';
    signIn();
    return;
  }
  render({ focus: true });
  ui.joinButton.focus();
}

if (session) {
  startSignedIn();
} else {
  if (signInMisconfigured) {
    ui.configError.hidden = false;
    ui.configError.textContent =
      'config.js asks for sign-in but misses clientId, authorizationEndpoint or tokenEndpoint: signing in is not possible.';
    ui.joinButton.disabled = true;
  }
  const remembered = storageGet(NAME_KEY);
  if (remembered !== null && isValidName(remembered) && !signInMisconfigured) {
    join(remembered);
  } else {
    storageSet(NAME_KEY, null);
  }
  render({ focus: true });
  if (state.me === null) ui.joinName.focus();
}
