// The reference frontend in Chromium against `chatctl dev`: signing in through the local
// provider's page (as `chatctl dev` runs by default), deep links to /chat/<peer> (and reloading
// them), delivery to exactly the addressee, errors in place, keyboard use, reconnection after
// the server restarts, a phone-sized layout; and the name form without sign-in (`--no-auth`).
// auth.test.mjs covers signing in and out, and renewing tokens, in depth.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { PHONE, eventually, launchChromium, newPerson, signIn, startDev, within } from './harness.mjs';

const SCREENSHOTS = process.env.CHAT_SCREENSHOTS ? path.resolve(process.env.CHAT_SCREENSHOTS) : null;

async function screenshot(page, name) {
  if (!SCREENSHOTS) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name) });
}

/** Every frame the page's WebSockets receive, parsed (non-JSON kept as { raw }). */
function recordFrames(page) {
  const frames = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : payload.toString();
      try {
        frames.push(JSON.parse(text));
      } catch {
        frames.push({ raw: text });
      }
    });
  });
  return frames;
}

/** Without sign-in: the app's own name form. */
async function joinAs(page, name) {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').press('Enter');
  await page.locator('#conn-status[data-state="open"]').waitFor();
  assert.equal(await page.locator('#me').textContent(), name);
}

async function sendText(page, text) {
  const input = page.locator('#message-input');
  await input.fill(text);
  await input.press('Enter');
}

/** The <li> of the last message in the open conversation whose text is exactly `text`. */
function messageItem(page, text) {
  return page.locator('#messages li.msg').filter({ has: page.locator('.text', { hasText: text }) }).last();
}

describe('reference frontend against chatctl dev', { timeout: 180_000 }, () => {
  let dev;
  let browser;
  const people = [];

  async function person(options) {
    const p = await newPerson(browser, options);
    people.push(p);
    return p;
  }

  before(async () => {
    dev = await startDev();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('deep link, reload, delivery to the addressee only, errors in place', { timeout: 90_000 }, async () => {
    const alice = await person();
    const bob = await person();
    const carol = await person();
    const carolFrames = recordFrames(carol.page);

    // Carol and Alice sign in from the front page.
    for (const [p, name] of [[carol, 'carol'], [alice, 'alice']]) {
      const response = await p.page.goto(`${dev.base}/`);
      assert.equal(response.status(), 200);
      await signIn(p.page, name);
    }

    // Bob arrives through a deep link before having signed in: the sign-in card says who he
    // will talk to, and signing in lands him in that conversation.
    const bobResponse = await bob.page.goto(`${dev.base}/chat/alice`);
    assert.equal(bobResponse.status(), 200, 'the server must rewrite /chat/<peer> to index.html');
    await bob.page.locator('#join-context', { hasText: 'alice' }).waitFor();
    await screenshot(bob.page, 'chat-join.png');
    await signIn(bob.page, 'bob');
    assert.equal(new URL(bob.page.url()).pathname, '/chat/alice');
    await bob.page.locator('#conv-title', { hasText: 'alice' }).waitFor();

    // Deep links load the app (no 404).
    const deep = await fetch(`${dev.base}/chat/bob`);
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<script type="module" src="\/app\.js">/);
    // Alice navigates straight to /chat/bob, then reloads it: both sign her in again through
    // the provider's session (tokens live in memory only) and show the conversation.
    for (const step of ['navigate', 'reload']) {
      const response =
        step === 'navigate' ? await alice.page.goto(`${dev.base}/chat/bob`) : await alice.page.reload();
      assert.equal(response.status(), 200, `${step} /chat/bob`);
      await alice.page.locator('#conn-status[data-state="open"]').waitFor();
      assert.equal(await alice.page.locator('#join-view').isHidden(), true, 'signed in again');
      assert.equal(new URL(alice.page.url()).pathname, '/chat/bob');
      assert.equal(await alice.page.locator('#me').textContent(), 'alice');
      assert.equal(await alice.page.locator('#conv-title').textContent(), 'bob');
      await alice.page.locator('#conv-presence', { hasText: /^online$/ }).waitFor();
    }

    // Bob goes back to the list (client-side), so the message shows up as unread there.
    await bob.page.locator('.brand').click();
    assert.equal(new URL(bob.page.url()).pathname, '/');
    const secret = 'Hi Bob! The dev stage is live. Want to try it?';
    await sendText(alice.page, secret);
    const sentItem = messageItem(alice.page, secret);
    await sentItem.locator('.status', { hasText: 'Sent' }).waitFor();
    assert.equal(await sentItem.getAttribute('data-dir'), 'out');
    assert.equal(await alice.page.locator('#message-input').inputValue(), '', 'the composer is cleared');
    const sentId = await sentItem.getAttribute('data-id');
    assert.ok(sentId, 'the ack id is recorded on the message');

    const aliceInBobsList = bob.page.locator('a.person[data-name="alice"]');
    await aliceInBobsList.locator('.badge', { hasText: '1' }).waitFor();
    await eventually('the unread count in bob’s title', async () => (await bob.page.title()).startsWith('(1) '));
    await aliceInBobsList.click();
    assert.equal(new URL(bob.page.url()).pathname, '/chat/alice');
    const received = messageItem(bob.page, secret);
    await received.waitFor();
    assert.equal(await received.getAttribute('data-dir'), 'in');
    assert.equal(await received.getAttribute('data-from'), 'alice');
    assert.equal(await received.locator('.from').textContent(), 'alice');
    assert.equal(await received.locator('.text').textContent(), secret);
    assert.equal(await received.getAttribute('data-id'), sentId, 'the same message id on both ends');
    const at = await received.locator('time').getAttribute('datetime');
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 60_000, `a current RFC 3339 timestamp, got ${at}`);
    assert.notEqual(await received.locator('time').textContent(), '');
    assert.equal(await aliceInBobsList.locator('.badge').count(), 0, 'opening the conversation marks it read');

    // Bob answers; alice sees it with bob as the sender.
    const answer = 'Yes! Opening it on my phone now.';
    await sendText(bob.page, answer);
    const answered = messageItem(alice.page, answer);
    await answered.waitFor();
    assert.equal(await answered.getAttribute('data-from'), 'bob');
    assert.equal(await answered.locator('.from').textContent(), 'bob');
    await screenshot(alice.page, 'chat-alice.png');
    await screenshot(bob.page, 'chat-bob.png');

    // Markup arrives as text, never as HTML.
    const markup = '<img src=x onerror="window.__injected=1"> <b>bold?</b>';
    await sendText(bob.page, markup);
    const reply = messageItem(alice.page, 'bold?');
    await reply.waitFor();
    assert.equal(await reply.getAttribute('data-from'), 'bob');
    assert.equal(await reply.locator('.text').textContent(), markup);
    assert.equal(await alice.page.locator('#messages img, #messages b').count(), 0);
    assert.equal(await alice.page.evaluate(() => window.__injected), undefined);

    // Carol saw nothing of it: no frame but replies to her own `who`, nothing on screen.
    await alice.page.waitForTimeout(300);
    assert.ok(carolFrames.length > 0, 'carol received her who replies');
    for (const frame of carolFrames) assert.equal(frame.type, 'who', `unexpected frame for carol: ${JSON.stringify(frame)}`);
    const carolText = await carol.page.locator('body').innerText();
    for (const text of [secret, answer, 'bold?']) assert.ok(!carolText.includes(text), text);
    assert.equal(await carol.page.locator('#messages li').count(), 0);
    assert.equal(await carol.page.locator('.badge').count(), 0);
    // Carol does see both as online (a `who` on focus refreshes the list).
    await carol.page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await carol.page.locator('a.person[data-name="alice"][data-online="true"]').waitFor();
    await carol.page.locator('a.person[data-name="bob"][data-online="true"]').waitFor();

    // A message to somebody offline: the error appears on that very message.
    await alice.page.getByLabel('Chat with someone by name').fill('dave');
    await alice.page.getByLabel('Chat with someone by name').press('Enter');
    assert.equal(new URL(alice.page.url()).pathname, '/chat/dave');
    await alice.page.locator('#conv-presence', { hasText: /^offline$/ }).waitFor();
    const lost = 'Are you there, Dave?';
    await sendText(alice.page, lost);
    const failed = messageItem(alice.page, lost);
    await failed.locator('.msg-error[data-code="peer_offline"]', { hasText: 'dave is offline' }).waitFor();
    assert.equal(await failed.getAttribute('data-status'), 'failed');
    assert.equal(await failed.locator('.status').textContent(), 'Not delivered');
    await screenshot(alice.page, 'chat-error.png');

    // The failure stays with that conversation: bob's conversation shows no error.
    await alice.page.locator('a.person[data-name="bob"]').click();
    await messageItem(alice.page, secret).waitFor();
    assert.equal(await alice.page.locator('#messages .msg-error').count(), 0);

    // A phone-sized screen: one column, no horizontal scrolling.
    await bob.page.setViewportSize(PHONE);
    await sendText(bob.page, 'Works here too. Long links wrap: https://example.com/a/long/path/that/has/to/wrap/somewhere/on/a/narrow/screen');
    await messageItem(bob.page, 'Works here too').locator('.status', { hasText: 'Sent' }).waitFor();
    const widths = await bob.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(widths[0] <= widths[1], `no horizontal scroll (scrollWidth ${widths[0]} > ${widths[1]})`);
    assert.equal(await bob.page.locator('.sidebar').isVisible(), false, 'the list is hidden in a conversation');
    await screenshot(bob.page, 'chat-phone.png');
    await bob.page.locator('a.back').click();
    assert.equal(await bob.page.locator('.sidebar').isVisible(), true);
    await screenshot(bob.page, 'chat-phone-people.png');

    for (const p of [alice, bob, carol]) assert.deepEqual(p.errors.map(String), []);
  });

  test('keyboard only: sign in, pick a person, send with Enter', { timeout: 60_000 }, async () => {
    const erin = await person();
    const frank = await person();
    await frank.page.goto(`${dev.base}/`);
    await signIn(frank.page, 'frank');

    const { page } = erin;
    await page.goto(`${dev.base}/`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'join-button', 'the sign-in button has focus');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/oidc\/authorize\?/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'name', 'the provider’s name field has focus');
    // An invalid name is explained on the sign-in page and signs nobody in.
    await page.keyboard.type('erin smith');
    await page.keyboard.press('Enter');
    await page.locator('#name-error', { hasText: 'letters' }).waitFor();
    await page.locator('#name').press('Control+A');
    await page.keyboard.type('erin');
    await page.keyboard.press('Enter');
    await page.locator('#conn-status[data-state="open"]').waitFor();

    // Focus lands in the list; Tab order reaches frank's entry, Enter opens it and moves
    // focus to the composer.
    const frankLink = page.locator('a.person[data-name="frank"]');
    await frankLink.waitFor();
    await eventually('focus on frank in the list', async () => {
      if ((await page.evaluate(() => document.activeElement?.dataset?.name)) === 'frank') return true;
      await page.keyboard.press('Tab');
      return false;
    });
    const outline = await frankLink.evaluate((a) => getComputedStyle(a).outlineStyle);
    assert.notEqual(outline, 'none', 'keyboard focus is visible');
    await page.keyboard.press('Enter');
    assert.equal(new URL(page.url()).pathname, '/chat/frank');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'message-input');
    await page.keyboard.type('first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line');
    await page.keyboard.press('Enter');
    const arrived = messageItem(frank.page, 'second line');
    await frank.page.locator('a.person[data-name="erin"]').click();
    await arrived.waitFor();
    assert.equal(await arrived.locator('.text').textContent(), 'first line\nsecond line');
    assert.equal(await arrived.getAttribute('data-from'), 'erin');

    // Signing out forgets who she is: a reload shows the sign-in card again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#join-view').waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
    await page.reload();
    assert.equal(await page.locator('#join-view').isVisible(), true);
    assert.equal(await page.locator('#join-button').textContent(), 'Sign in');
    assert.deepEqual([...erin.errors, ...frank.errors].map(String), []);
  });

  test('reconnects with backoff after the server restarts, and rejoins under the same name', { timeout: 60_000 }, async () => {
    const { page } = await person();
    const frames = recordFrames(page);
    await page.goto(`${dev.base}/chat/nobody`);
    await signIn(page, 'grace');

    const { port } = dev;
    await dev.stop();
    const seenBefore = frames.length;
    await page.locator('#conn-status[data-state="waiting"]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#conn-status-text').textContent(), /^Reconnecting/);
    // Sending while disconnected keeps the text in the box and says why.
    await sendText(page, 'queued?');
    assert.equal(await page.locator('#message-input').inputValue(), 'queued?');
    assert.match(await page.locator('#composer-hint').textContent(), /Not connected/);

    dev = await within(35_000, 'restart chatctl dev on the same port', startDev({ port }));
    await page.locator('#conn-status[data-state="open"]').waitFor({ timeout: 20_000 });
    await eventually('a who reply listing grace after the reconnect', () =>
      frames.slice(seenBefore).some((f) => f.type === 'who' && f.users.includes('grace')),
    );
    await page.locator('#message-input').press('Enter');
    await messageItem(page, 'queued?').locator('.msg-error[data-code="peer_offline"]').waitFor();
  });
});

describe('the name form without sign-in (chatctl dev --no-auth)', { timeout: 90_000 }, () => {
  let dev;
  let browser;

  before(async () => {
    dev = await startDev({ args: ['--no-auth'] });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('keyboard only: join with a name, remembered on reload, forgotten on leaving', { timeout: 60_000 }, async () => {
    const ida = await newPerson(browser);
    const jay = await newPerson(browser);
    await jay.page.goto(`${dev.base}/`);
    await joinAs(jay.page, 'jay');

    const { page } = ida;
    await page.goto(`${dev.base}/chat/jay`);
    assert.equal(await page.locator('#join-button').textContent(), 'Join');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'join-name', 'the name field has focus');
    // An invalid name is explained next to the field and does not connect.
    await page.keyboard.type('ida smith');
    await page.keyboard.press('Enter');
    await page.locator('#join-error', { hasText: 'letters' }).waitFor();
    assert.equal(await page.locator('#join-name').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#join-view').isVisible(), true);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('ida');
    await page.keyboard.press('Enter');
    await page.locator('#conn-status[data-state="open"]').waitFor();
    await page.locator('#message-input').fill('hi jay');
    await page.locator('#message-input').press('Enter');
    await jay.page.locator('a.person[data-name="ida"]').click();
    await messageItem(jay.page, 'hi jay').waitFor();

    // The name is remembered for the tab: a reload rejoins at once.
    await page.reload();
    await page.locator('#conn-status[data-state="open"]').waitFor();
    assert.equal(await page.locator('#me').textContent(), 'ida');
    await messageItem(page, 'hi jay').waitFor();
    // Leaving forgets it: a reload shows the join form again.
    await page.getByRole('button', { name: 'Leave' }).click();
    await page.locator('#join-view').waitFor();
    await page.reload();
    assert.equal(await page.locator('#join-view').isVisible(), true);
    assert.deepEqual([...ida.errors, ...jay.errors].map(String), []);
    await ida.context.close();
    await jay.context.close();
  });
});
