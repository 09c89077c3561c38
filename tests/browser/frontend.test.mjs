// The frontend's DOM-free modules under Node: name rules, routes, frame parsing, backoff, and
// the reconnecting client driven by a fake WebSocket and fake timers.

import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';

import { FRONTEND } from './harness.mjs';

const load = (file) => import(pathToFileURL(path.join(FRONTEND, file)).href);
const protocol = await load('protocol.js');
const { ChatClient } = await load('client.js');

describe('protocol.js', () => {
  test('names follow the server rule [A-Za-z0-9_-]{1,32}', () => {
    for (const ok of ['a', 'alice', 'Bob_2', 'x-y', 'Z'.repeat(32), '0']) assert.equal(protocol.isValidName(ok), true, ok);
    for (const bad of ['', ' ', 'a b', 'a.b', 'é', 'a/b', 'x'.repeat(33), 'alice\n', '<b>', null, undefined, 7]) {
      assert.equal(protocol.isValidName(bad), false, String(bad));
    }
    assert.equal(protocol.nameProblem(''), 'Enter a name.');
    assert.match(protocol.nameProblem('x'.repeat(33)), /at most 32/);
    assert.match(protocol.nameProblem('bad name'), /letters/);
  });

  test('the join URL appends the encoded name', () => {
    assert.equal(protocol.joinUrl('wss://abc.execute-api.eu-west-1.amazonaws.com/dev', 'al-ice_1'),
      'wss://abc.execute-api.eu-west-1.amazonaws.com/dev?name=al-ice_1');
    assert.equal(protocol.joinUrl('ws://127.0.0.1:9/dev', 'a b&c'), 'ws://127.0.0.1:9/dev?name=a%20b%26c');
    assert.equal(protocol.joinUrl('ws://h/dev?x=1', 'bob'), 'ws://h/dev?x=1&name=bob');
  });

  test('the default gateway URL follows the page’s scheme and host', () => {
    assert.equal(protocol.defaultWebsocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/dev');
    assert.equal(protocol.defaultWebsocketUrl({ protocol: 'https:', host: 'chat.example.com' }), 'wss://chat.example.com/dev');
  });

  test('text length counts code points like the server', () => {
    assert.equal(protocol.textLength('abc'), 3);
    assert.equal(protocol.textLength('🙂🙂'), 2);
    assert.equal(protocol.textLength('é'), 1);
  });

  test('routes', () => {
    assert.deepEqual(protocol.parseRoute('/'), { view: 'home' });
    assert.deepEqual(protocol.parseRoute('/index.html'), { view: 'home' });
    assert.deepEqual(protocol.parseRoute('/chat/bob'), { view: 'chat', peer: 'bob', valid: true });
    assert.deepEqual(protocol.parseRoute('/chat/bob/'), { view: 'chat', peer: 'bob', valid: true });
    assert.deepEqual(protocol.parseRoute('/chat/a%20b'), { view: 'chat', peer: 'a b', valid: false });
    assert.deepEqual(protocol.parseRoute('/chat/%E0%A4%A'), { view: 'chat', peer: '%E0%A4%A', valid: false });
    assert.deepEqual(protocol.parseRoute('/chat/'), { view: 'chat', peer: '', valid: false });
    assert.deepEqual(protocol.parseRoute('/elsewhere'), { view: 'unknown' });
    assert.deepEqual(protocol.parseRoute('/chat/bob/extra'), { view: 'unknown' });
    assert.equal(protocol.chatPath('bob'), '/chat/bob');
  });

  test('client frames', () => {
    assert.deepEqual(JSON.parse(protocol.whoFrame()), { action: 'who' });
    assert.deepEqual(JSON.parse(protocol.sendFrame('bob', 'hi "there"')), { action: 'sendmessage', to: 'bob', text: 'hi "there"' });
  });

  test('server frames are normalised; malformed ones are unknown', () => {
    const p = protocol.parseServerFrame;
    assert.deepEqual(p('{"type":"message","id":"1","from":"a","text":"t","at":"2024-01-01T00:00:00Z","extra":1}'),
      { kind: 'message', id: '1', from: 'a', text: 't', at: '2024-01-01T00:00:00Z' });
    assert.deepEqual(p('{"type":"sent","id":"1","to":"b"}'), { kind: 'sent', id: '1', to: 'b' });
    assert.deepEqual(p('{"type":"who","users":["a","b",3]}'), { kind: 'who', users: ['a', 'b'] });
    assert.deepEqual(p('{"type":"error","code":"peer_offline","message":"m"}'), { kind: 'error', code: 'peer_offline', message: 'm' });
    assert.deepEqual(p('{"message":"Forbidden","connectionId":"c","requestId":"r"}'), { kind: 'error', code: 'gateway', message: 'Forbidden' });
    assert.equal(p('{"type":"message","id":"1"}').kind, 'unknown');
    assert.equal(p('not json').kind, 'unknown');
    assert.equal(p('[1]').kind, 'unknown');
    assert.equal(p('null').kind, 'unknown');
  });

  test('error sentences name the peer and the limit', () => {
    assert.equal(protocol.errorText('peer_offline', 'x', 'dave'), 'dave is offline, so the message was not delivered.');
    assert.match(protocol.errorText('too_large', '', 'bob'), /4096/);
    assert.match(protocol.errorText('gateway', 'Internal server error', 'bob'), /Internal server error/);
    assert.equal(protocol.errorText('something_new', 'as the server said', 'bob'), 'as the server said');
  });

  test('backoff grows exponentially, is capped, and is jittered within [d/2, d]', () => {
    const at = (attempt, r) => protocol.backoffDelay(attempt, { random: () => r });
    assert.deepEqual([0, 1, 2, 3].map((n) => at(n, 0)), [250, 500, 1000, 2000]);
    assert.deepEqual([0, 1, 2, 3].map((n) => at(n, 1)), [500, 1000, 2000, 4000]);
    assert.equal(at(20, 1), 30_000);
    assert.equal(at(1000, 0), 15_000);
    const spread = new Set(Array.from({ length: 50 }, () => protocol.backoffDelay(4)));
    assert.ok(spread.size > 10, 'random jitter');
    for (const d of spread) assert.ok(d >= 4000 && d <= 8000, String(d));
  });
});

/** A WebSocket stand-in the test opens, feeds and closes by hand. */
class FakeSocket extends EventTarget {
  static all = [];

  constructor(url) {
    super();
    this.url = url;
    this.sent = [];
    this.closed = false;
    FakeSocket.all.push(this);
  }

  send(data) {
    this.sent.push(data);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.dispatchEvent(new Event('close'));
  }

  serverOpens() {
    this.dispatchEvent(new Event('open'));
  }

  serverSends(data) {
    const event = new Event('message');
    event.data = data;
    this.dispatchEvent(event);
  }
}

/** Timers that only fire when the test says so. */
function fakeTimers() {
  let next = 1;
  const pending = new Map();
  return {
    setTimeout(fn, ms) {
      const id = next++;
      pending.set(id, { fn, ms });
      return id;
    },
    clearTimeout(id) {
      pending.delete(id);
    },
    delays: () => [...pending.values()].map((t) => t.ms),
    /** Fires the timers with the given delay (or all). */
    fire(filter = () => true) {
      for (const [id, t] of [...pending]) {
        if (!filter(t.ms)) continue;
        pending.delete(id);
        t.fn();
      }
    },
  };
}

describe('client.js', () => {
  test('reconnects after a drop with growing delays and resets once open', () => {
    FakeSocket.all = [];
    const timers = fakeTimers();
    const client = new ChatClient({ websocketUrl: 'ws://h/dev', name: 'alice', WebSocketImpl: FakeSocket, timers });
    const states = [];
    let drops = 0;
    client.addEventListener('state', (e) => states.push(e.detail.state));
    client.addEventListener('drop', () => {
      drops += 1;
    });
    const frames = [];
    client.addEventListener('frame', (e) => frames.push(e.detail));

    client.start();
    assert.equal(FakeSocket.all.length, 1);
    assert.equal(FakeSocket.all[0].url, 'ws://h/dev?name=alice');
    assert.equal(client.send('x'), false, 'nothing is sent before open');
    FakeSocket.all[0].serverOpens();
    assert.equal(client.isOpen, true);
    assert.equal(client.send('{"action":"who"}'), true);
    assert.deepEqual(FakeSocket.all[0].sent, ['{"action":"who"}']);
    FakeSocket.all[0].serverSends('{"type":"who","users":["alice"]}');
    assert.deepEqual(frames, [{ kind: 'who', users: ['alice'] }]);

    // The server goes away: the client waits, then retries; failures lengthen the wait.
    FakeSocket.all[0].close();
    assert.equal(drops, 1);
    assert.equal(client.state, 'waiting');
    const waits = [];
    for (let i = 0; i < 4; i += 1) {
      const delays = timers.delays();
      assert.equal(delays.length, 1, 'exactly one retry is scheduled');
      waits.push(delays[0]);
      timers.fire();
      const socket = FakeSocket.all.at(-1);
      assert.equal(client.state, 'connecting');
      // Fails without ever opening (the server is still down).
      socket.close();
      // The connect-timeout timer of the failed socket was cleared.
    }
    assert.equal(drops, 1, 'a failed attempt is not a drop');
    for (let i = 1; i < waits.length; i += 1) {
      assert.ok(waits[i] >= waits[i - 1] * 2 * 0.5 && waits[i] <= 30_000, `waits grow: ${waits}`);
    }
    assert.ok(waits[3] >= 2000, `after four failures the wait is at least 2 s: ${waits}`);

    // reconnectNow skips the wait; a successful open resets the backoff.
    client.reconnectNow();
    FakeSocket.all.at(-1).serverOpens();
    assert.equal(client.state, 'open');
    FakeSocket.all.at(-1).close();
    assert.ok(timers.delays()[0] <= 500, `backoff restarts after a good connection: ${timers.delays()}`);

    client.stop();
    assert.deepEqual(timers.delays(), [], 'stop cancels the retry');
    assert.equal(states.at(-1), 'stopped');
  });

  test('stop closes the socket and never reconnects', () => {
    FakeSocket.all = [];
    const timers = fakeTimers();
    const client = new ChatClient({ websocketUrl: 'ws://h/dev', name: 'bob', WebSocketImpl: FakeSocket, timers });
    client.start();
    FakeSocket.all[0].serverOpens();
    client.stop();
    assert.equal(FakeSocket.all[0].closed, true);
    assert.deepEqual(timers.delays(), []);
    assert.equal(FakeSocket.all.length, 1);
  });

  test('a socket stuck connecting is abandoned after the connect timeout', () => {
    FakeSocket.all = [];
    const timers = fakeTimers();
    const client = new ChatClient({ websocketUrl: 'ws://h/dev', name: 'carol', WebSocketImpl: FakeSocket, timers });
    client.start();
    assert.deepEqual(timers.delays(), [10_000]);
    timers.fire((ms) => ms === 10_000);
    assert.equal(FakeSocket.all[0].closed, true);
    assert.equal(client.state, 'waiting');
  });
});

const auth = await load('auth.js');

/** A sessionStorage stand-in. */
function memoryStorage() {
  const map = new Map();
  return {
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => map.set(key, String(value)),
    removeItem: (key) => map.delete(key),
    dump: () => Object.fromEntries(map),
  };
}

/** An unsigned JWT with `claims` (the client never verifies signatures; the server does). */
function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(claims)}.c2ln`;
}

const AUTH = {
  provider: 'oidc',
  issuer: 'https://id.example.com',
  clientId: 'chat-web',
  authorizationEndpoint: 'https://id.example.com/authorize',
  tokenEndpoint: 'https://id.example.com/token',
  logoutEndpoint: 'https://id.example.com/logout',
  nameClaim: 'preferred_username',
};

/** A Session wired to fakes: a location that records assignments, a scripted token endpoint. */
function fakeSession({ answers = [], now = 1_700_000_000_000, config = AUTH } = {}) {
  const storage = memoryStorage();
  const location = { origin: 'https://chat.example.com', assigned: [], assign(url) { this.assigned.push(url); } };
  const requests = [];
  const fetchImpl = async (url, init) => {
    requests.push({ url, form: Object.fromEntries(new URLSearchParams(init.body)) });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    const { status = 200, body } = next;
    return { ok: status < 300, status, json: async () => body };
  };
  const clock = { now };
  const session = new auth.Session({ auth: config, storage, location, fetchImpl, now: () => clock.now });
  return { session, storage, location, requests, clock };
}

describe('auth.js', () => {
  test('PKCE S256 matches RFC 7636 appendix B, and verifiers are 43 base64url characters', async () => {
    assert.equal(
      await auth.pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
    const verifier = auth.randomString(32);
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(auth.randomString(32), verifier);
  });

  test('the sign-in and sign-out URLs carry what each provider expects', () => {
    const url = new URL(auth.authorizeUrl(AUTH, { redirectUri: 'https://chat.example.com/', state: 's', nonce: 'n', challenge: 'c' }));
    assert.equal(url.origin + url.pathname, 'https://id.example.com/authorize');
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      response_type: 'code',
      client_id: 'chat-web',
      redirect_uri: 'https://chat.example.com/',
      scope: 'openid profile',
      state: 's',
      nonce: 'n',
      code_challenge: 'c',
      code_challenge_method: 'S256',
    });
    const oidc = new URL(auth.logoutUrl(AUTH, { redirectUri: 'https://chat.example.com/', idToken: 't' }));
    assert.deepEqual(Object.fromEntries(oidc.searchParams), {
      client_id: 'chat-web',
      post_logout_redirect_uri: 'https://chat.example.com/',
      id_token_hint: 't',
    });
    const cognito = new URL(
      auth.logoutUrl({ ...AUTH, provider: 'cognito' }, { redirectUri: 'https://chat.example.com/', idToken: 't' }),
    );
    assert.deepEqual(Object.fromEntries(cognito.searchParams), { client_id: 'chat-web', logout_uri: 'https://chat.example.com/' });
    assert.equal(auth.logoutUrl({ ...AUTH, logoutEndpoint: undefined }, { redirectUri: 'x' }), null);
  });

  test('callbacks, JWT payloads and ID token checks', () => {
    assert.deepEqual(auth.parseCallback('?code=c&state=s'), { code: 'c', state: 's', error: null, errorDescription: null });
    assert.equal(auth.parseCallback('?error=access_denied&state=s').error, 'access_denied');
    assert.equal(auth.parseCallback(''), null);
    assert.equal(auth.parseCallback('?code=c'), null, 'a code without state is no callback of ours');
    assert.deepEqual(auth.decodeJwtPayload(jwt({ a: 'é' })), { a: 'é' });
    assert.throws(() => auth.decodeJwtPayload('nope'));
    const good = { iss: AUTH.issuer, aud: 'chat-web', exp: 2_000_000_000, nonce: 'n' };
    const check = (claims) => auth.idTokenProblem(claims, { issuer: AUTH.issuer, clientId: 'chat-web', nonce: 'n', now: 1_700_000_000_000 });
    assert.equal(check(good), null);
    assert.equal(check({ ...good, aud: ['x', 'chat-web'] }), null);
    assert.match(check({ ...good, nonce: 'm' }), /nonce/);
    assert.match(check({ ...good, iss: 'https://evil.example.com' }), /issuer/);
    assert.match(check({ ...good, aud: 'other' }), /client/);
    assert.match(check({ ...good, exp: 1_600_000_000 }), /expired/);
    assert.equal(auth.signInConfigured(AUTH), true);
    assert.equal(auth.signInConfigured({ provider: 'none' }), false);
    assert.equal(auth.signInConfigured({ ...AUTH, tokenEndpoint: '' }), false);
    assert.equal(auth.signInConfigured(undefined), false);
  });

  test('a sign-in checks state and nonce, and keeps the tokens out of storage', async () => {
    const issued = (nonce) => ({
      body: {
        id_token: jwt({ iss: AUTH.issuer, aud: 'chat-web', iat: 1_700_000_000, exp: 1_700_003_600, nonce, preferred_username: 'alice' }),
        refresh_token: 'refresh-1',
      },
    });
    const { session, storage, location, requests } = fakeSession();
    await session.signIn({ returnTo: '/chat/bob' });
    const sent = new URL(location.assigned[0]).searchParams;
    const pending = JSON.parse(storage.getItem('chat.signin'));
    assert.equal(sent.get('state'), pending.state);
    assert.equal(sent.get('nonce'), pending.nonce);
    assert.equal(sent.get('code_challenge'), await auth.pkceChallenge(pending.verifier));
    assert.equal(sent.get('redirect_uri'), 'https://chat.example.com/');

    // The answer to someone else's sign-in (another state) is refused before any request.
    await assert.rejects(session.completeSignIn({ code: 'c', state: 'forged' }), /state/);
    assert.equal(requests.length, 0);

    // A token whose nonce is not this sign-in's is refused.
    const replay = fakeSession({ answers: [issued('someone-else')] });
    await replay.session.signIn();
    const replayState = JSON.parse(replay.storage.getItem('chat.signin')).state;
    await assert.rejects(replay.session.completeSignIn({ code: 'c', state: replayState }), /nonce/);
    assert.equal(replay.session.idToken, null);

    // The real thing: the code and the verifier are redeemed, the name read from the claim.
    const ok = fakeSession({ answers: [issued('NONCE')] });
    await ok.session.signIn({ returnTo: '/chat/bob' });
    const entry = JSON.parse(ok.storage.getItem('chat.signin'));
    entry.nonce = 'NONCE';
    ok.storage.setItem('chat.signin', JSON.stringify(entry));
    const returnTo = await ok.session.completeSignIn({ code: 'the-code', state: entry.state });
    assert.equal(returnTo, '/chat/bob');
    assert.deepEqual(ok.requests[0].form, {
      client_id: 'chat-web',
      grant_type: 'authorization_code',
      code: 'the-code',
      redirect_uri: 'https://chat.example.com/',
      code_verifier: entry.verifier,
    });
    assert.equal(ok.session.name, 'alice');
    assert.equal(ok.session.wasSignedIn, true);
    assert.equal(ok.storage.getItem('chat.signin'), null, 'the pending sign-in is gone');
    const stored = JSON.stringify(ok.storage.dump());
    assert.ok(!stored.includes(ok.session.idToken) && !stored.includes('refresh-1'), `no token in storage: ${stored}`);
    // Used once: the same callback again is refused.
    await assert.rejects(ok.session.completeSignIn({ code: 'the-code', state: entry.state }), /state/);
  });

  test('tokens are renewed before they expire; a refused refresh asks for a new sign-in', async () => {
    const token = (iat, name = 'alice') => jwt({ iss: AUTH.issuer, aud: 'chat-web', iat, exp: iat + 3600, preferred_username: name });
    const { session, clock, requests } = fakeSession({
      answers: [
        { body: { id_token: token(1_700_003_000) } },
        new TypeError('Failed to fetch'),
        { status: 400, body: { error: 'invalid_grant' } },
      ],
    });
    session.accept({ idToken: token(1_700_000_000), refreshToken: 'r1', claims: auth.decodeJwtPayload(token(1_700_000_000)) });
    const first = session.idToken;
    assert.equal(await session.freshToken(), first, 'valid for an hour: no request');
    assert.equal(requests.length, 0);
    clock.now = (1_700_003_600 - 30) * 1000; // 30 s before expiry
    const renewed = await session.freshToken();
    assert.notEqual(renewed, first);
    assert.deepEqual(requests[0].form, { client_id: 'chat-web', grant_type: 'refresh_token', refresh_token: 'r1' });
    // The provider did not send a new refresh token: the old one is kept.
    assert.equal(session.tokens.refreshToken, 'r1');
    // Unreachable provider, token still valid: the current token serves.
    assert.equal(await session.freshToken({ force: true }), renewed);
    // Refused refresh token with an expired token: nothing but a new sign-in helps.
    clock.now = (1_700_003_000 + 3600 + 5) * 1000;
    assert.equal(await session.freshToken(), null);
    assert.equal(session.tokens.refreshToken, null);
  });

  test('an unreachable provider with an expired token is retried, not a new sign-in', async () => {
    const expired = jwt({ iss: AUTH.issuer, aud: 'chat-web', iat: 1, exp: 2, preferred_username: 'alice' });
    const { session } = fakeSession({ answers: [new TypeError('Failed to fetch')] });
    session.accept({ idToken: expired, refreshToken: 'r1', claims: auth.decodeJwtPayload(expired) });
    await assert.rejects(session.freshToken(), /cannot be reached/);
    assert.equal(session.tokens.refreshToken, 'r1');
  });

  test('sign-out forgets the tokens and goes to the provider', () => {
    const { session, location, storage } = fakeSession();
    const token = jwt({ preferred_username: 'alice', exp: 2_000_000_000 });
    session.accept({ idToken: token, refreshToken: 'r', claims: auth.decodeJwtPayload(token) });
    const url = session.signOut();
    assert.equal(location.assigned[0], url);
    assert.equal(session.idToken, null);
    assert.equal(session.wasSignedIn, false);
    assert.equal(storage.getItem('chat.signedIn'), null);
  });
});

describe('client.js with ID tokens', () => {
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  test('asks for a URL before every attempt and stops when none can be had', async () => {
    FakeSocket.all = [];
    const timers = fakeTimers();
    const asked = [];
    const urls = ['ws://h/dev?token=one', 'ws://h/dev?token=two', null];
    const client = new ChatClient({
      websocketUrl: 'ws://h/dev',
      name: 'alice',
      urlProvider: async ({ attempt }) => {
        asked.push(attempt);
        return urls.shift();
      },
      WebSocketImpl: FakeSocket,
      timers,
    });
    let unauthenticated = 0;
    client.addEventListener('unauthenticated', () => {
      unauthenticated += 1;
    });
    client.start();
    await tick();
    assert.equal(FakeSocket.all[0].url, 'ws://h/dev?token=one');
    FakeSocket.all[0].serverOpens();
    FakeSocket.all[0].close();
    timers.fire();
    await tick();
    assert.equal(FakeSocket.all[1].url, 'ws://h/dev?token=two');
    FakeSocket.all[1].close();
    timers.fire();
    await tick();
    assert.deepEqual(asked, [0, 1, 2], "the attempt counts the retries since the last open");
    assert.equal(FakeSocket.all.length, 2, 'no socket without a URL');
    assert.equal(client.state, 'stopped');
    assert.equal(unauthenticated, 1);
  });

  test('a failing URL provider is retried, and stop wins over a pending one', async () => {
    FakeSocket.all = [];
    const timers = fakeTimers();
    let fail = true;
    const client = new ChatClient({
      websocketUrl: 'ws://h/dev',
      name: 'bob',
      urlProvider: async () => {
        if (fail) throw new Error('offline');
        return 'ws://h/dev?token=t';
      },
      WebSocketImpl: FakeSocket,
      timers,
    });
    client.start();
    await tick();
    assert.equal(client.state, 'waiting');
    assert.equal(FakeSocket.all.length, 0);
    fail = false;
    timers.fire();
    client.stop();
    await tick();
    assert.equal(FakeSocket.all.length, 0, 'stopped before the URL arrived: no socket');
    assert.equal(client.state, 'stopped');
  });
});
