// Interoperability: the `wscat` CLI (and the `ws` package it is built on) as independent
// clients of `chatctl dev`, checking the exact frames of DESIGN §2. They join the way
// docs/auth.md tells script users to: an ID token for a name from `/oidc/dev-token`, then
// `wscat -c 'ws://…/dev?token=…'`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import WebSocket from 'ws';

import { HERE, eventually, startDev, within } from './harness.mjs';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An interactive `npx wscat -c <url>` whose stdin/stdout are pipes. Without a TTY wscat sends
 * each stdin line as one frame and prints each received frame on its own line (JSON escapes
 * newlines, so one frame is one line). Lines typed before the socket opens are dropped by
 * wscat, hence `ready()`; closing stdin makes wscat quit.
 */
function wscat(url) {
  const child = spawn('npx', ['--no-install', 'wscat', '--no-color', '-c', url], {
    cwd: HERE,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = [];
  let stderr = '';
  let buffer = '';
  let exit = null;
  child.stdout.on('data', (chunk) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      // readline echoes its "> " prompt to stdout even without a TTY.
      const line = buffer.slice(0, newline).replace(/^(> ?)+/, '').trim();
      buffer = buffer.slice(newline + 1);
      if (line !== '') lines.push(line);
    }
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk.toString();
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  let read = 0;
  const client = {
    lines,
    /** Frames received but not yet taken with `next`. */
    unread: () => lines.slice(read),
    stderr: () => stderr,
    exited,
    send(frame) {
      child.stdin.write(`${typeof frame === 'string' ? frame : JSON.stringify(frame)}\n`);
    },
    /** The next frame not yet returned by `next` (or skipped by `ready`). */
    async next(what = 'a frame') {
      await eventually(`wscat to receive ${what} (stderr: ${stderr.trim()})`, () => lines.length > read, {
        timeoutMs: 5_000,
      });
      const line = lines[read];
      read += 1;
      return JSON.parse(line);
    },
    /** Sends `who` until one is answered, i.e. until wscat's socket is open and registered. */
    async ready() {
      await eventually(`wscat to connect to ${url} (stderr: ${stderr.trim()})`, async () => {
        if (exit) throw new Error(`wscat exited ${JSON.stringify(exit)}: ${stderr}`);
        if (lines.length === 0) client.send({ action: 'who' });
        return lines.length > 0;
      }, { timeoutMs: 10_000, intervalMs: 150 });
      // Answers to the extra `who` probes may still be on their way: let them land and skip them.
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const line of lines) assert.equal(JSON.parse(line).type, 'who', line);
      read = lines.length;
    },
    async close() {
      if (exit === null) {
        child.stdin.end();
        child.kill('SIGTERM');
        await within(5_000, 'wscat to exit', exited);
      }
    },
  };
  return client;
}

/** A `ws` client that records every frame it receives. */
async function wsClient(url) {
  const socket = new WebSocket(url);
  const frames = [];
  socket.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await within(5_000, `ws to open ${url}`, new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  }));
  return {
    frames,
    send: (frame) => socket.send(JSON.stringify(frame)),
    close: () => socket.close(),
  };
}

describe('wscat against chatctl dev', { timeout: 120_000 }, () => {
  let dev;
  const clients = [];
  const url = async (name) => `${dev.ws}?token=${await dev.token(name)}`;
  const open = async (name) => {
    const client = wscat(await url(name));
    clients.push(client);
    return client;
  };

  before(async () => {
    dev = await startDev();
  });

  after(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await dev?.stop();
  });

  test('no token, a bad token or only a name refuses the handshake with 401', { timeout: 30_000 }, async () => {
    for (const query of ['', '?token=', '?token=not.a.token', '?name=alice']) {
      const client = wscat(`${dev.ws}${query}`);
      const { code } = await within(10_000, `wscat ${query} to give up`, client.exited);
      assert.notEqual(code, 0, `handshake with ${query || 'nothing'} must fail`);
      assert.match(client.stderr(), /Unexpected server response: 401/, client.stderr());
    }
  });

  test('one-shot wscat -x gets the who list', { timeout: 30_000 }, async () => {
    const child = spawn(
      'npx',
      ['--no-install', 'wscat', '-c', await url('oneshot'), '-x', '{"action":"who"}', '-w', '1'],
      // stdin stays open: wscat quits at once when it ends, before any answer arrives.
      { cwd: HERE, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let code;
    try {
      code = await within(15_000, 'wscat -x to finish', exited);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out.trim()), { type: 'who', users: ['oneshot'] });
  });

  test('two wscat clients exchange a message; only the addressee sees it', { timeout: 60_000 }, async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    await alice.ready();
    await bob.ready();
    // A second connection under bob's name (another tab), and a bystander.
    const bobTab = await wsClient(await url('bob'));
    const carol = await wsClient(await url('carol'));

    alice.send({ action: 'who' });
    assert.deepEqual(await alice.next('who'), { type: 'who', users: ['alice', 'bob', 'carol'] });

    // A client-supplied `from` and unknown fields are ignored.
    const text = 'hi bob — “quotes”, <tags> & a\nnewline';
    alice.send({ action: 'sendmessage', to: 'bob', text, from: 'mallory', priority: 'high' });
    const sent = await alice.next('the sent ack');
    assert.deepEqual(Object.keys(sent).sort(), ['id', 'to', 'type']);
    assert.equal(sent.type, 'sent');
    assert.equal(sent.to, 'bob');
    assert.equal(typeof sent.id, 'string');
    assert.notEqual(sent.id, '');

    const delivered = await bob.next('the message');
    assert.deepEqual(Object.keys(delivered).sort(), ['at', 'from', 'id', 'text', 'type']);
    assert.deepEqual({ ...delivered, at: '' }, { type: 'message', id: sent.id, from: 'alice', text, at: '' });
    assert.match(delivered.at, RFC3339);
    assert.ok(Math.abs(Date.parse(delivered.at) - Date.now()) < 60_000, delivered.at);
    await eventually('bob’s second tab to get the message', () => bobTab.frames.length === 1);
    assert.deepEqual(bobTab.frames[0], delivered);

    // Bob answers; alice gets it with bob as the sender.
    bob.send({ action: 'sendmessage', to: 'alice', text: 'hello alice' });
    const ack = await bob.next('the sent ack');
    assert.deepEqual({ ...ack, id: '' }, { type: 'sent', id: '', to: 'alice' });
    const answer = await alice.next('the answer');
    assert.deepEqual({ ...answer, at: '' }, { type: 'message', id: ack.id, from: 'bob', text: 'hello alice', at: '' });
    assert.match(answer.at, RFC3339);

    // Errors go to the sender only, with the documented codes.
    const errors = [
      [{ action: 'sendmessage', to: 'dave', text: 'anyone?' }, 'peer_offline'],
      [{ action: 'sendmessage', to: 'bob', text: 'x'.repeat(4097) }, 'too_large'],
      [{ action: 'sendmessage', to: 'bob', text: '' }, 'bad_request'],
      [{ action: 'sendmessage', to: 'bob' }, 'bad_request'],
      [{ action: 'sendmessage', to: 'bob', text: 42 }, 'bad_request'],
      ['this is not JSON', 'bad_request'],
      [[1, 2, 3], 'bad_request'],
      [{ action: 'dance' }, 'unknown_action'],
    ];
    for (const [frame, code] of errors) {
      alice.send(frame);
      const error = await alice.next(`the ${code} error for ${JSON.stringify(frame).slice(0, 60)}`);
      assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'type'], JSON.stringify(error));
      assert.equal(error.type, 'error');
      assert.equal(error.code, code, `for ${JSON.stringify(frame).slice(0, 60)}: ${JSON.stringify(error)}`);
      assert.equal(typeof error.message, 'string');
      assert.notEqual(error.message, '');
    }
    // Exactly 4096 characters (of which some outside the BMP) is accepted.
    const longest = `${'🙂'.repeat(96)}${'y'.repeat(4000)}`;
    alice.send({ action: 'sendmessage', to: 'bob', text: longest });
    assert.equal((await alice.next('the sent ack for 4096 characters')).type, 'sent');
    assert.equal((await bob.next('the 4096-character message')).text, longest);

    // Nobody else saw any of it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(carol.frames, [], 'the bystander received nothing');
    assert.deepEqual(alice.unread(), [], 'alice got nothing more');
    assert.deepEqual(bob.unread(), [], 'bob got nothing more');
    assert.deepEqual(bobTab.frames.map((f) => f.type), ['message', 'message']);

    // A closed connection leaves the who list.
    carol.close();
    await eventually('carol to leave the who list', async () => {
      bob.send({ action: 'who' });
      const who = await bob.next('who');
      return JSON.stringify(who.users) === JSON.stringify(['alice', 'bob']);
    });
    bobTab.close();
  });
});

describe('wscat against chatctl dev --no-auth', { timeout: 60_000 }, () => {
  let dev;

  before(async () => {
    dev = await startDev({ args: ['--no-auth'] });
  });

  after(async () => {
    await dev?.stop();
  });

  test('the name is the query string, and a bad or missing one refuses the handshake', { timeout: 30_000 }, async () => {
    for (const query of ['?name=no%20spaces', '', '?name=', `?name=${'x'.repeat(33)}`]) {
      const client = wscat(`${dev.ws}${query}`);
      const { code } = await within(10_000, `wscat ${query} to give up`, client.exited);
      assert.notEqual(code, 0, `handshake with ${query || 'no name'} must fail`);
      assert.match(client.stderr(), /Unexpected server response: 400/, client.stderr());
    }
    const ok = await wsClient(`${dev.ws}?name=zoe`);
    ok.send({ action: 'who' });
    await eventually('the who answer', () => ok.frames.length === 1);
    assert.deepEqual(ok.frames[0], { type: 'who', users: ['zoe'] });
    ok.close();
  });
});
