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
