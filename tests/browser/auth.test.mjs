// Signing in with the reference frontend in Chromium against `chatctl dev`'s local OpenID
// provider: alice and bob sign in on its page in two browsers and chat; a reload keeps the
// page; tokens never reach storage; signing out closes the socket, and a new one without
// signing in is refused. Then tokens that expire: renewed without the person noticing, or,
// when they cannot be renewed, a new sign-in that keeps the open conversation and its draft.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { eventually, launchChromium, newPerson, signIn, sleep, startDev, within } from './harness.mjs';

/** Every WebSocket the page opens, with its URL and whether it opened or closed. */
function recordSockets(page) {
  const sockets = [];
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), closed: false, frames: [] };
    sockets.push(entry);
    ws.on('framereceived', ({ payload }) => entry.frames.push(String(payload)));
    ws.on('close', () => {
      entry.closed = true;
    });
  });
  return sockets;
}

function messageItem(page, text) {
  return page.locator('#messages li.msg').filter({ has: page.locator('.text', { hasText: text }) }).last();
}

async function sendText(page, text) {
  const input = page.locator('#message-input');
  await input.fill(text);
  await input.press('Enter');
}

/** Opens a WebSocket from the page itself; resolves 'open' or 'refused'. */
function tryWebSocket(page, url) {
  return page.evaluate(
    (target) =>
      new Promise((resolve) => {
        const socket = new WebSocket(target);
        socket.addEventListener('open', () => {
          socket.close();
          resolve('open');
        });
        socket.addEventListener('close', () => resolve('refused'));
      }),
    url,
  );
}

/** Everything the page keeps in web storage and readable cookies, as one string. */
function storedEverywhere(page) {
  return page.evaluate(() => {
    const dump = (storage) => Object.keys(storage).map((key) => `${key}=${storage.getItem(key)}`).join('\n');
    return `${dump(window.localStorage)}\n${dump(window.sessionStorage)}\n${document.cookie}`;
  });
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

describe('signing in against chatctl dev', { timeout: 240_000 }, () => {
  let browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  test('alice and bob sign in, chat, reload, and alice signs out', { timeout: 90_000 }, async () => {
    const dev = await startDev();
    try {
      const alice = await newPerson(browser);
      const bob = await newPerson(browser);
      const aliceSockets = recordSockets(alice.page);

      for (const [p, name] of [[alice, 'alice'], [bob, 'bob']]) {
        await p.page.goto(`${dev.base}/`);
        assert.equal(await p.page.locator('#join-title').textContent(), 'Sign in to chat');
        await signIn(p.page, name);
      }
      // The socket carries the ID token, never a name of the client's choosing.
      const first = aliceSockets[0];
      assert.match(new URL(first.url).searchParams.get('token') ?? '', JWT);
      assert.equal(new URL(first.url).searchParams.get('name'), null);

      // Bob signed in after alice: a `who` on focus brings him into her list.
      await alice.page.evaluate(() => window.dispatchEvent(new Event('focus')));
      await alice.page.locator('a.person[data-name="bob"][data-online="true"]').click();
      await sendText(alice.page, 'hello bob, it is really me');
      await messageItem(alice.page, 'hello bob, it is really me').locator('.status', { hasText: 'Sent' }).waitFor();
      await bob.page.locator('a.person[data-name="alice"]').click();
      const received = messageItem(bob.page, 'hello bob, it is really me');
      await received.waitFor();
      assert.equal(await received.getAttribute('data-from'), 'alice');
      await sendText(bob.page, 'hi alice');
      await messageItem(alice.page, 'hi alice').waitFor();

      // Tokens stay in memory: nothing token-like in storage or readable cookies.
      for (const p of [alice, bob]) assert.doesNotMatch(await storedEverywhere(p.page), JWT);

      // A reload signs alice in again through the provider's session, on the same page, with
      // the conversation still there.
      await alice.page.reload();
      await alice.page.locator('#conn-status[data-state="open"]').waitFor();
      assert.equal(new URL(alice.page.url()).pathname, '/chat/bob');
      assert.equal(new URL(alice.page.url()).search, '', 'the code and state are gone from the address');
      assert.equal(await alice.page.locator('#me').textContent(), 'alice');
      await messageItem(alice.page, 'hello bob, it is really me').waitFor();
      await messageItem(alice.page, 'hi alice').waitFor();
      await sendText(alice.page, 'still me after the reload');
      await messageItem(bob.page, 'still me after the reload').waitFor();
      assert.doesNotMatch(await storedEverywhere(alice.page), JWT);

      // Signing out closes the socket (the server drops alice: bob sees her offline) and ends
      // the provider's session.
      const before = aliceSockets.length;
      await alice.page.getByRole('button', { name: 'Sign out' }).click();
      await alice.page.locator('#join-view').waitFor();
      assert.equal(new URL(alice.page.url()).pathname, '/');
      await eventually('alice to leave bob’s who list', async () => {
        await bob.page.evaluate(() => window.dispatchEvent(new Event('focus')));
        return (await bob.page.locator('a.person[data-name="alice"][data-online="false"]').count()) === 1;
      });
      // A new socket is refused without signing in, with a name or without one.
      assert.equal(await tryWebSocket(alice.page, dev.ws), 'refused');
      assert.equal(await tryWebSocket(alice.page, `${dev.ws}?name=alice`), 'refused');
      await sleep(300);
      assert.equal(aliceSockets.length, before + 2, 'the app itself did not reconnect');
      assert.equal(await alice.page.locator('#join-view').isVisible(), true);
      // Signing in again asks for the name: the provider's session is over.
      await alice.page.getByRole('button', { name: 'Sign in' }).click();
      await alice.page.getByLabel('Chat name').waitFor();

      // The only errors are the two refusals above, which Chromium reports as a 401.
      const refusals = alice.errors.map(String);
      assert.equal(refusals.length, 2, refusals.join('\n'));
      for (const refusal of refusals) assert.match(refusal, /WebSocket connection to .* failed: HTTP Authentication failed/);
      assert.deepEqual(bob.errors.map(String), []);
      await alice.context.close();
      await bob.context.close();
    } finally {
      await dev.stop();
    }
  });

  test('an expired token is renewed on reconnect, without reloading the page', { timeout: 60_000 }, async () => {
    // Tokens for 8 s (renewed in their last 4 s), connections closed after 3 s: reconnects
    // soon need a fresh token.
    const dev = await startDev({ args: ['--token-lifetime', '8', '--max-connection', '3'] });
    try {
      const carol = await newPerson(browser);
      const dave = await newPerson(browser);
      const sockets = recordSockets(carol.page);
      await carol.page.goto(`${dev.base}/chat/dave`);
      await signIn(carol.page, 'carol');
      await dave.page.goto(`${dev.base}/chat/carol`);
      await signIn(dave.page, 'dave');
      await carol.page.evaluate(() => {
        window.__samePage = true;
      });
      await sendText(carol.page, 'before the token changes');
      await messageItem(dave.page, 'before the token changes').waitFor();

      await eventually('carol to reconnect twice', () => sockets.filter((s) => s.frames.length > 0).length >= 3, {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      await carol.page.locator('#conn-status[data-state="open"]').waitFor();
      const tokens = sockets.map((s) => new URL(s.url).searchParams.get('token'));
      assert.ok(tokens.every((t) => JWT.test(t ?? '')), 'every connection carried a token');
      assert.ok(new Set(tokens).size >= 2, 'the token was renewed');
      assert.equal(await carol.page.evaluate(() => window.__samePage), true, 'no reload, no redirect');
      await messageItem(carol.page, 'before the token changes').waitFor();
      await sendText(carol.page, 'after the token changed');
      await messageItem(dave.page, 'after the token changed').waitFor();
      assert.equal(await messageItem(dave.page, 'after the token changed').getAttribute('data-from'), 'carol');
      for (const p of [carol, dave]) assert.deepEqual(p.errors.map(String), []);
      await carol.context.close();
      await dave.context.close();
    } finally {
      await dev.stop();
    }
  });

  test('a token that cannot be renewed signs in again and keeps the conversation and the draft', { timeout: 90_000 }, async () => {
    let dev = await startDev({ args: ['--token-lifetime', '2'] });
    try {
      const erin = await newPerson(browser);
      // The restarted provider refuses the refresh token it no longer knows (RFC 6749 §5.2:
      // 400 invalid_grant); Chromium reports every such answer as a console error.
      const refusedRefreshes = [];
      // (The page leaves for the sign-in page at once, so the answer's body cannot be read
      // here; dev_auth checks it is invalid_grant. What is checked: only refreshes were refused.)
      erin.page.on('response', (response) => {
        if (new URL(response.url()).pathname !== '/oidc/token' || response.status() !== 400) return;
        refusedRefreshes.push(new URLSearchParams(response.request().postData() ?? '').get('grant_type'));
      });
      await erin.page.goto(`${dev.base}/chat/frank`);
      await signIn(erin.page, 'erin');
      await sendText(erin.page, 'are you there, frank?');
      await messageItem(erin.page, 'are you there, frank?').locator('.msg-error[data-code="peer_offline"]').waitFor();
      await erin.page.locator('#message-input').fill('a draft I am still writing');

      // A restart forgets the provider's sessions and refresh tokens; meanwhile the token
      // expires. Reconnecting then needs a new sign-in.
      const { port } = dev;
      await dev.stop();
      await sleep(2_500);
      dev = await within(35_000, 'restart chatctl dev on the same port', startDev({ port, args: ['--token-lifetime', '2'] }));
      await erin.page.waitForURL(/\/oidc\/authorize\?/, { timeout: 30_000 });
      await erin.page.getByLabel('Chat name').fill('erin');
      await erin.page.getByLabel('Chat name').press('Enter');
      await erin.page.locator('#conn-status[data-state="open"]').waitFor();
      assert.equal(new URL(erin.page.url()).pathname, '/chat/frank', 'back on the same conversation');
      await messageItem(erin.page, 'are you there, frank?').waitFor();
      assert.equal(await erin.page.locator('#message-input').inputValue(), 'a draft I am still writing');
      // Requests to the stopped server fail on the network, as they should, and the restarted
      // one may refuse the forgotten refresh token; nothing else failed.
      assert.ok(refusedRefreshes.every((grant) => grant === 'refresh_token'), refusedRefreshes.join(', '));
      const unexpected = erin.errors.map(String).filter((e) => !e.includes('net::ERR_CONNECTION_REFUSED'));
      const refusals = unexpected.filter((e) => e.includes('status of 400 (Bad Request)'));
      assert.ok(refusals.length <= refusedRefreshes.length, unexpected.join('\n'));
      assert.deepEqual(unexpected.filter((e) => !refusals.includes(e)), []);
      await erin.context.close();
    } finally {
      await dev.stop();
    }
  });
});
