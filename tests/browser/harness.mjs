// Shared test plumbing: start `chatctl dev` on a free loopback port, launch Debian's Chromium
// through playwright-core, and bounded waits. Everything started here is stopped by `stop()`.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const FRONTEND = path.join(REPO, 'templates', 'frontend');

const CHATCTL_BIN = path.resolve(HERE, process.env.CHATCTL_BIN ?? '../../target/debug/chatctl');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const STARTUP_TIMEOUT_MS = 30_000;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` in the message when `promise` takes longer than `ms`. */
export async function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` (sync or async) until it returns a truthy value; returns that value. */
export async function eventually(what, check, { timeoutMs = 5_000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** A loopback port that was free a moment ago (the kernel picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs `chatctl dev --port <port> [args…]` (a free port unless given) in a fresh temporary
 * directory, so no chatctl.toml of the developer's is picked up, and resolves once `GET /`
 * answers 200. Sign-in is on unless `args` holds `--no-auth`.
 */
export async function startDev({ port: wanted, args = [] } = {}) {
  const port = wanted ?? (await freePort());
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'chatctl-browser-'));
  const child = spawn(CHATCTL_BIN, ['dev', '--port', String(port), ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  const collect = (chunk) => {
    output += chunk.toString();
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.on('error', (error) => {
      exited = { error };
      resolve();
    });
  });

  const base = `http://127.0.0.1:${port}`;
  const dev = {
    port,
    base,
    ws: `ws://127.0.0.1:${port}/dev`,
    /** An ID token for `name` from the local sign-in, the way scripts get one. */
    async token(name, { lifetime } = {}) {
      const url = new URL(`${base}/oidc/dev-token`);
      url.searchParams.set('name', name);
      if (lifetime) url.searchParams.set('lifetime', String(lifetime));
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`no token for ${name}: ${response.status} ${body}`);
      return body;
    },
    output: () => output,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const stopped = await Promise.race([exitPromise.then(() => true), sleep(5_000).then(() => false)]);
        if (!stopped) {
          child.kill('SIGKILL');
          await exitPromise;
        }
      }
      await rm(cwd, { recursive: true, force: true });
    },
  };

  try {
    await eventually(
      `${CHATCTL_BIN} dev --port ${port} to answer GET / with 200`,
      async () => {
        if (exited !== null) {
          throw new Error(`chatctl dev exited early (${JSON.stringify(exited)}); output:\n${output}`);
        }
        const response = await fetch(`${base}/`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        return response.status === 200;
      },
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    await dev.stop();
    if (exited?.error?.code === 'ENOENT') {
      throw new Error(`${CHATCTL_BIN} not found: build it first (cargo build) or set CHATCTL_BIN`);
    }
    throw error;
  }
  return dev;
}

/**
 * Launches Chromium. Playwright gives it a fresh temporary user-data-dir and removes it on
 * close; each simulated person then gets an isolated context (own storage, own cookies).
 */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    timeout: 30_000,
  });
}

export const DESKTOP = { width: 1100, height: 720 };
export const PHONE = { width: 390, height: 844 };

/** A new isolated browser context with one page, like a person in their own browser. */
export async function newPerson(browser, { viewport = DESKTOP, isMobile = false } = {}) {
  const context = await browser.newContext({
    viewport,
    isMobile,
    hasTouch: isMobile,
    deviceScaleFactor: isMobile ? 2 : 1,
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(5_000);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(new Error(message.text()));
  });
  return { context, page, errors };
}

/**
 * Signs `page` in as `name` through the local provider's sign-in page (the page must show the
 * app's sign-in card), and waits for the chat to be online.
 */
export async function signIn(page, name) {
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/oidc\/authorize\?/);
  await page.getByLabel('Chat name').fill(name);
  await page.getByLabel('Chat name').press('Enter');
  await page.locator('#conn-status[data-state="open"]').waitFor();
  const me = await page.locator('#me').textContent();
  if (me !== name) throw new Error(`signed in as ${me}, not ${name}`);
}
