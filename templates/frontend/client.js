// One logical connection to the chat service that survives drops: it reconnects with
// exponential backoff and jitter until stopped. The UI listens to its events.

import { backoffDelay, joinUrl, parseServerFrame } from './protocol.js';

/** A socket stuck in CONNECTING this long is abandoned and retried (a black-holed network). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Events (CustomEvent, data in `detail`):
 * - `state`: { state: 'connecting' | 'open' | 'waiting' | 'stopped', attempt, retryInMs }
 * - `frame`: a frame from `parseServerFrame`
 * - `drop`: the open connection was lost (pending requests will not be answered)
 * - `unauthenticated`: the URL provider has no URL without a new sign-in; the client stopped
 */
export class ChatClient extends EventTarget {
  /**
   * `urlProvider({ attempt })`, when given, is asked for the URL before every attempt (an ID
   * token can expire between two); it may return null when no URL can be had without the
   * person signing in again, which stops the client with an `unauthenticated` event.
   */
  constructor({ websocketUrl, name, urlProvider = null, WebSocketImpl = globalThis.WebSocket, timers = globalThis }) {
    super();
    this.url = joinUrl(websocketUrl, name);
    this.urlProvider = urlProvider;
    this.generation = 0;
    this.name = name;
    this.WebSocketImpl = WebSocketImpl;
    this.timers = timers;
    this.socket = null;
    this.state = 'stopped';
    this.attempt = 0;
    this.retryTimer = null;
    this.connectTimer = null;
    this.retryAt = 0;
  }

  start() {
    if (this.state !== 'stopped') return;
    this.connect();
  }

  stop() {
    this.generation += 1;
    this.setState('stopped');
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'leaving');
  }

  /** Skip the remaining backoff (the network came back, the tab became visible). */
  reconnectNow() {
    if (this.state === 'waiting') {
      this.clearTimers();
      this.connect();
    }
  }

  get isOpen() {
    return this.state === 'open';
  }

  /** Sends one frame; false when there is no open connection (nothing was sent). */
  send(frame) {
    if (!this.isOpen || !this.socket) return false;
    this.socket.send(frame);
    return true;
  }

  connect() {
    this.setState('connecting');
    if (!this.urlProvider) {
      this.open(this.url);
      return;
    }
    const generation = ++this.generation;
    Promise.resolve()
      .then(() => this.urlProvider({ attempt: this.attempt }))
      .then(
        (url) => {
          if (generation !== this.generation || this.state !== 'connecting') return;
          if (url === null) {
            this.setState('stopped');
            this.dispatchEvent(new CustomEvent('unauthenticated'));
            return;
          }
          this.open(url);
        },
        () => {
          if (generation === this.generation && this.state === 'connecting') this.scheduleRetry();
        },
      );
  }

  open(url) {
    let socket;
    try {
      socket = new this.WebSocketImpl(url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    let opened = false;
    this.connectTimer = this.timers.setTimeout(() => {
      if (!opened && this.socket === socket) socket.close();
    }, CONNECT_TIMEOUT_MS);

    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      opened = true;
      this.timers.clearTimeout(this.connectTimer);
      this.attempt = 0;
      this.setState('open');
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      this.dispatchEvent(new CustomEvent('frame', { detail: parseServerFrame(event.data) }));
    });
    // 'error' is always followed by 'close', which does the bookkeeping.
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.timers.clearTimeout(this.connectTimer);
      if (this.state === 'stopped') return;
      if (opened) this.dispatchEvent(new CustomEvent('drop'));
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState('waiting', delay);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  clearTimers() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    if (this.connectTimer !== null) this.timers.clearTimeout(this.connectTimer);
    this.retryTimer = null;
    this.connectTimer = null;
  }

  setState(state, retryInMs = 0) {
    this.state = state;
    this.dispatchEvent(
      new CustomEvent('state', { detail: { state, attempt: this.attempt, retryInMs } }),
    );
  }
}
