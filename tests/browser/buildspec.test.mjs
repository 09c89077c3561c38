// The Amplify build spec runs as Amplify would run it: its commands, phase by phase, in bash,
// in a copy of the app; the build must write config.js from CHAT_WEBSOCKET_URL and fail
// without it (or with a value that is not a plain ws(s) URL).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import vm from 'node:vm';

import { FRONTEND, REPO } from './harness.mjs';

const BUILDSPEC = path.join(REPO, 'templates', 'amplify', 'buildspec.yml');
const SHELLS = ['bash', 'sh'];

/**
 * Reads the subset of YAML the build spec is written in (kept deliberately plain): top-level
 * `version`, `frontend.phases.<phase>.commands` as single-quoted list items, and
 * `frontend.artifacts` with `baseDirectory` and `files`.
 */
function readBuildspec(text) {
  const spec = { version: null, phases: {}, baseDirectory: null, files: [] };
  let phase = null;
  let list = null;
  const unquote = (s) => (s.startsWith("'") && s.endsWith("'") ? s.slice(1, -1).replaceAll("''", "'") : s);
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || /^\s*#/.test(line)) continue;
    let m;
    if ((m = /^version: (\S+)$/.exec(line))) spec.version = Number(m[1]);
    else if ((m = /^ {4}(preBuild|build|postBuild):$/.exec(line))) {
      phase = m[1];
      spec.phases[phase] = [];
    } else if (/^ {6}commands:$/.test(line)) list = spec.phases[phase];
    else if ((m = /^ {4}baseDirectory: (.+)$/.exec(line))) spec.baseDirectory = unquote(m[1]);
    else if (/^ {4}files:$/.test(line)) list = spec.files;
    else if ((m = /^ +- (.+)$/.exec(line)) && list) list.push(unquote(m[1]));
    else if (/^ {0,4}\S/.test(line)) list = null;
  }
  return spec;
}

/**
 * Runs every command in phase order, each in its own shell, stopping at the first failure.
 * Both bash and a plain POSIX sh, so the spec does not lean on one shell's extensions.
 */
function build(spec, dir, env, shell = 'bash') {
  for (const phase of ['preBuild', 'build', 'postBuild']) {
    for (const command of spec.phases[phase] ?? []) {
      const result = spawnSync(shell, ['-e', '-c', command], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, ...env },
        encoding: 'utf8',
        timeout: 10_000,
      });
      if (result.status !== 0) return { ok: false, phase, command, stderr: result.stderr };
    }
  }
  return { ok: true };
}

async function withApp(fn) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chatctl-amplify-'));
  try {
    await cp(FRONTEND, dir, { recursive: true });
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function evalConfig(source) {
  const sandbox = { window: {}, location: { protocol: 'https:', host: 'static.example' } };
  vm.runInNewContext(source, sandbox, { timeout: 1_000 });
  return sandbox.window.CHAT_CONFIG;
}

describe('templates/amplify/buildspec.yml', async () => {
  const spec = readBuildspec(await readFile(BUILDSPEC, 'utf8'));

  test('is an amplify.yml v1 frontend spec publishing the app files as they are', () => {
    assert.equal(spec.version, 1);
    assert.ok(spec.phases.build?.length > 0, 'a build phase with commands');
    assert.equal(spec.baseDirectory, '.');
    assert.deepEqual(spec.files, ['**/*']);
  });

  for (const shell of SHELLS) {
  test(`writes config.js from CHAT_WEBSOCKET_URL (${shell})`, async () => {
    const url = 'wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev';
    await withApp(async (dir) => {
      const result = build(spec, dir, { CHAT_WEBSOCKET_URL: url }, shell);
      assert.deepEqual(result, { ok: true });
      const config = await readFile(path.join(dir, 'config.js'), 'utf8');
      assert.equal(config, `window.CHAT_CONFIG = { websocketUrl: "${url}" };\n`);
      assert.deepEqual({ ...evalConfig(config) }, { websocketUrl: url });
    });
  });

  test(`fails without CHAT_WEBSOCKET_URL, leaving config.js alone (${shell})`, async () => {
    await withApp(async (dir) => {
      for (const env of [{}, { CHAT_WEBSOCKET_URL: '' }]) {
        const result = build(spec, dir, env, shell);
        assert.equal(result.ok, false);
        assert.match(result.stderr, /CHAT_WEBSOCKET_URL is not set/);
      }
      const config = await readFile(path.join(dir, 'config.js'), 'utf8');
      assert.equal(config, await readFile(path.join(FRONTEND, 'config.js'), 'utf8'));
    });
  });

  test(`refuses a value that is not a plain ws(s) URL (${shell})`, async () => {
    await withApp(async (dir) => {
      const bad = ['https://example.com/dev', 'wss://', 'wss://x/dev";alert(1);"', 'wss://x/dev\n', 'wss://x/dev </script>', "wss://x/dev\\"];
      for (const value of bad) {
        const result = build(spec, dir, { CHAT_WEBSOCKET_URL: value }, shell);
        assert.equal(result.ok, false, JSON.stringify(value));
        assert.match(result.stderr, /not a ws:\/\/ or wss:\/\/ URL/);
      }
      const config = await readFile(path.join(dir, 'config.js'), 'utf8');
      assert.equal(config, await readFile(path.join(FRONTEND, 'config.js'), 'utf8'));
      // Query strings and ports are fine.
      const url = 'ws://127.0.0.1:8080/dev?x=1&y=%20';
      assert.deepEqual(build(spec, dir, { CHAT_WEBSOCKET_URL: url }, shell), { ok: true });
      assert.deepEqual({ ...evalConfig(await readFile(path.join(dir, 'config.js'), 'utf8')) }, { websocketUrl: url });
    });
  });
  }

  const COGNITO = {
    CHAT_AUTH_PROVIDER: 'cognito',
    CHAT_AUTH_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
    CHAT_AUTH_CLIENT_ID: '1h57kf5cpq17m0eml12EXAMPLE',
    CHAT_AUTH_AUTHORIZE_URL: 'https://chat-dev-1a2b.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
    CHAT_AUTH_TOKEN_URL: 'https://chat-dev-1a2b.auth.eu-west-1.amazoncognito.com/oauth2/token',
    CHAT_AUTH_LOGOUT_URL: 'https://chat-dev-1a2b.auth.eu-west-1.amazoncognito.com/logout',
    CHAT_AUTH_NAME_CLAIM: 'cognito:username',
  };
  const WSS = 'wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev';

  for (const shell of SHELLS) {
  test(`writes the sign-in settings into config.js (${shell})`, async () => {
    await withApp(async (dir) => {
      assert.deepEqual(build(spec, dir, { CHAT_WEBSOCKET_URL: WSS, ...COGNITO }, shell), { ok: true });
      const config = evalConfig(await readFile(path.join(dir, 'config.js'), 'utf8'));
      assert.equal(config.websocketUrl, WSS);
      assert.deepEqual({ ...config.auth }, {
        provider: 'cognito',
        issuer: COGNITO.CHAT_AUTH_ISSUER,
        clientId: COGNITO.CHAT_AUTH_CLIENT_ID,
        authorizationEndpoint: COGNITO.CHAT_AUTH_AUTHORIZE_URL,
        tokenEndpoint: COGNITO.CHAT_AUTH_TOKEN_URL,
        logoutEndpoint: COGNITO.CHAT_AUTH_LOGOUT_URL,
        nameClaim: 'cognito:username',
      });
      // provider = none (or unset) keeps today's config.js: the name form.
      for (const provider of [{ CHAT_AUTH_PROVIDER: 'none' }, {}]) {
        assert.deepEqual(build(spec, dir, { CHAT_WEBSOCKET_URL: WSS, ...provider }, shell), { ok: true });
        assert.deepEqual({ ...evalConfig(await readFile(path.join(dir, 'config.js'), 'utf8')) }, { websocketUrl: WSS });
      }
    });
  });

  test(`refuses incomplete or unsafe sign-in settings (${shell})`, async () => {
    await withApp(async (dir) => {
      const cases = [
        [{ ...COGNITO, CHAT_AUTH_PROVIDER: 'saml' }, /must be cognito, oidc or none/],
        [{ ...COGNITO, CHAT_AUTH_CLIENT_ID: '' }, /CHAT_AUTH_CLIENT_ID is not set/],
        [{ ...COGNITO, CHAT_AUTH_TOKEN_URL: undefined }, /CHAT_AUTH_TOKEN_URL is not set/],
        [{ ...COGNITO, CHAT_AUTH_ISSUER: 'https://x/"};alert(1);//' }, /CHAT_AUTH_ISSUER has characters/],
        [{ ...COGNITO, CHAT_AUTH_NAME_CLAIM: 'user name' }, /CHAT_AUTH_NAME_CLAIM has characters/],
      ];
      for (const [env, message] of cases) {
        const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
        const result = build(spec, dir, { CHAT_WEBSOCKET_URL: WSS, ...clean }, shell);
        assert.equal(result.ok, false, JSON.stringify(env));
        assert.match(result.stderr, message);
      }
      const config = await readFile(path.join(dir, 'config.js'), 'utf8');
      assert.equal(config, await readFile(path.join(FRONTEND, 'config.js'), 'utf8'));
    });
  });
  }

  test('the shipped default config.js derives the URL from the page location', async () => {
    const config = await readFile(path.join(FRONTEND, 'config.js'), 'utf8');
    assert.deepEqual({ ...evalConfig(config) }, { websocketUrl: 'wss://static.example/dev' });
  });
});
