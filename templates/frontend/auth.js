// Signing in through the identity provider's hosted sign-in page: OAuth 2.0 authorization
// code with PKCE (RFC 7636), OpenID Connect's `state` and `nonce`. The same code talks to
// Cognito's hosted sign-in, any OpenID Connect provider and `chatctl dev`'s local one; which
// one comes from `config.js` (`window.CHAT_CONFIG.auth`).
//
// Tokens are kept in memory only, never in localStorage, sessionStorage or cookies: a reload
// signs in again through the provider, whose own session sends the browser straight back.
// Only the short-lived values of a sign-in under way (state, nonce, PKCE verifier, and the
// page to return to) wait in sessionStorage for the redirect back, and are removed then.

/** How long before its expiry a token is renewed (at most half its lifetime). */
export const RENEW_BEFORE_MS = 60_000;
const PENDING_KEY = 'chat.signin';
const SIGNED_IN_KEY = 'chat.signedIn';

export function base64UrlEncode(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function base64UrlDecode(text) {
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** `bytes` random bytes, base64url: 43 characters for 32 bytes, a valid PKCE verifier. */
export function randomString(bytes = 32, cryptoImpl = globalThis.crypto) {
  return base64UrlEncode(cryptoImpl.getRandomValues(new Uint8Array(bytes)));
}

/** RFC 7636 §4.2: BASE64URL(SHA-256(verifier)). */
export async function pkceChallenge(verifier, cryptoImpl = globalThis.crypto) {
  const digest = await cryptoImpl.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64UrlEncode(new Uint8Array(digest));
}

/** The claims of a JWT, without verifying it (the server's authorizer does that). */
export function decodeJwtPayload(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) throw new Error('not a JWT');
  return JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[1])));
}

/**
 * Why an ID token from the token endpoint is not the one this sign-in asked for, or null.
 * OpenID Connect Core §3.1.3.7: issuer, audience, expiry, and the nonce of this request.
 */
export function idTokenProblem(claims, { issuer, clientId, nonce, now = Date.now() }) {
  if (issuer && claims.iss !== issuer) return 'the ID token comes from another issuer';
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(clientId)) return 'the ID token is for another client';
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return 'the ID token has expired';
  if (claims.nonce !== nonce) return 'the ID token does not answer this sign-in (nonce)';
  return null;
}

/** The provider's sign-in URL for one request. */
export function authorizeUrl(auth, { redirectUri, state, nonce, challenge }) {
  const url = new URL(auth.authorizationEndpoint);
  const params = {
    response_type: 'code',
    client_id: auth.clientId,
    redirect_uri: redirectUri,
    scope: auth.scope || 'openid profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/**
 * The provider's sign-out URL. Cognito's `/logout` wants `client_id` and `logout_uri`; an
 * OpenID provider's end-session endpoint `post_logout_redirect_uri` (and `id_token_hint`).
 */
export function logoutUrl(auth, { redirectUri, idToken }) {
  if (!auth.logoutEndpoint) return null;
  const url = new URL(auth.logoutEndpoint);
  url.searchParams.set('client_id', auth.clientId);
  if (auth.provider === 'cognito') {
    url.searchParams.set('logout_uri', redirectUri);
  } else {
    url.searchParams.set('post_logout_redirect_uri', redirectUri);
    if (idToken) url.searchParams.set('id_token_hint', idToken);
  }
  return url.toString();
}

/** `?code=…&state=…` (or `?error=…`) of the redirect back, or null for an ordinary visit. */
export function parseCallback(search) {
  const params = new URLSearchParams(search);
  if (!params.has('state') || (!params.has('code') && !params.has('error'))) return null;
  return {
    code: params.get('code'),
    state: params.get('state'),
    error: params.get('error'),
    errorDescription: params.get('error_description'),
  };
}

/** Whether the config asks for sign-in (`auth.provider` is `cognito` or `oidc`). */
export function signInConfigured(auth) {
  return Boolean(
    auth &&
      (auth.provider === 'cognito' || auth.provider === 'oidc') &&
      auth.clientId &&
      auth.authorizationEndpoint &&
      auth.tokenEndpoint,
  );
}

export class SignInError extends Error {}

/**
 * One person's sign-in, in one tab. Events (CustomEvent): `tokens` when new tokens arrive.
 */
export class Session extends EventTarget {
  constructor({
    auth,
    storage = globalThis.sessionStorage,
    location = globalThis.location,
    fetchImpl = (...args) => globalThis.fetch(...args),
    cryptoImpl = globalThis.crypto,
    now = () => Date.now(),
  }) {
    super();
    this.auth = auth;
    this.storage = storage;
    this.location = location;
    this.fetch = fetchImpl;
    this.crypto = cryptoImpl;
    this.now = now;
    this.nameClaim = auth.nameClaim || (auth.provider === 'cognito' ? 'cognito:username' : 'preferred_username');
    this.tokens = null; // { idToken, refreshToken, claims }
    this.renewing = null;
  }

  /** Where the provider sends the browser back: the app's root (a registered callback URL). */
  get redirectUri() {
    return `${this.location.origin}/`;
  }

  get idToken() {
    return this.tokens?.idToken ?? null;
  }

  /** The chat name the provider vouches for (the server reads the same claim). */
  get name() {
    const value = this.tokens?.claims?.[this.nameClaim];
    return typeof value === 'string' ? value : null;
  }

  /** Whether this tab signed in before (a reload then signs in again without asking). */
  get wasSignedIn() {
    return this.read(SIGNED_IN_KEY) === '1';
  }

  read(key) {
    try {
      return this.storage.getItem(key);
    } catch {
      return null;
    }
  }

  write(key, value) {
    try {
      if (value === null) this.storage.removeItem(key);
      else this.storage.setItem(key, value);
    } catch {
      // Private mode or a full quota: a reload then asks to sign in again.
    }
  }

  /** Sends the browser to the provider's sign-in page; it comes back to `returnTo`. */
  async signIn({ returnTo = '/' } = {}) {
    const state = randomString(16, this.crypto);
    const nonce = randomString(16, this.crypto);
    const verifier = randomString(32, this.crypto);
    const challenge = await pkceChallenge(verifier, this.crypto);
    this.write(PENDING_KEY, JSON.stringify({ state, nonce, verifier, returnTo }));
    this.location.assign(authorizeUrl(this.auth, { redirectUri: this.redirectUri, state, nonce, challenge }));
  }

  /**
   * Finishes a sign-in from the redirect back (`callback` from `parseCallback`): checks the
   * state, redeems the code with the PKCE verifier and checks the ID token's nonce. Returns
   * the page to go back to.
   */
  async completeSignIn(callback) {
    const raw = this.read(PENDING_KEY);
    this.write(PENDING_KEY, null);
    let pending = null;
    try {
      pending = raw ? JSON.parse(raw) : null;
    } catch {
      pending = null;
    }
    if (!pending || typeof pending.state !== 'string' || pending.state !== callback.state) {
      throw new SignInError('This sign-in was not started here (its state does not match). Please sign in again.');
    }
    if (callback.error) {
      throw new SignInError(`The sign-in failed: ${callback.errorDescription || callback.error}.`);
    }
    const tokens = await this.requestTokens({
      grant_type: 'authorization_code',
      code: callback.code,
      redirect_uri: this.redirectUri,
      code_verifier: pending.verifier,
    });
    const problem = idTokenProblem(tokens.claims, {
      issuer: this.auth.issuer,
      clientId: this.auth.clientId,
      nonce: pending.nonce,
      now: this.now(),
    });
    if (problem) throw new SignInError(`The sign-in failed: ${problem}.`);
    this.accept(tokens);
    return typeof pending.returnTo === 'string' && pending.returnTo.startsWith('/') ? pending.returnTo : '/';
  }

  async requestTokens(form) {
    let response;
    try {
      response = await this.fetch(this.auth.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: this.auth.clientId, ...form }).toString(),
      });
    } catch {
      throw new SignInError('The sign-in service cannot be reached.');
    }
    let body = {};
    try {
      body = await response.json();
    } catch {
      body = {};
    }
    if (!response.ok || typeof body.id_token !== 'string') {
      const error = new SignInError(`The sign-in service refused: ${body.error_description || body.error || response.status}.`);
      error.code = body.error;
      throw error;
    }
    let claims;
    try {
      claims = decodeJwtPayload(body.id_token);
    } catch {
      throw new SignInError('The sign-in service sent an ID token that is not a JWT.');
    }
    return { idToken: body.id_token, refreshToken: body.refresh_token ?? null, claims };
  }

  accept(tokens) {
    this.tokens = {
      idToken: tokens.idToken,
      // Providers do not always send a new refresh token with a refreshed ID token.
      refreshToken: tokens.refreshToken ?? this.tokens?.refreshToken ?? null,
      claims: tokens.claims,
    };
    this.write(SIGNED_IN_KEY, '1');
    this.dispatchEvent(new CustomEvent('tokens'));
  }

  expiresAt() {
    const exp = this.tokens?.claims?.exp;
    return typeof exp === 'number' ? exp * 1000 : 0;
  }

  /** Renew this long before expiry: a minute, or half the lifetime of a shorter-lived token. */
  renewWindow() {
    const { exp, iat } = this.tokens?.claims ?? {};
    const lifetime = typeof exp === 'number' && typeof iat === 'number' ? (exp - iat) * 1000 : 0;
    return lifetime > 0 ? Math.min(RENEW_BEFORE_MS, lifetime / 2) : RENEW_BEFORE_MS;
  }

  /**
   * An ID token valid for at least `RENEW_BEFORE_MS` (renewed with the refresh token when
   * needed, or when `force`), or null when only an interactive sign-in can give one.
   */
  async freshToken({ force = false } = {}) {
    if (!this.tokens) return null;
    if (!force && this.expiresAt() - this.now() > this.renewWindow()) return this.tokens.idToken;
    if (!this.tokens.refreshToken) return this.unexpiredToken();
    this.renewing ??= this.requestTokens({ grant_type: 'refresh_token', refresh_token: this.tokens.refreshToken })
      .then((tokens) => {
        if (tokens.claims[this.nameClaim] !== this.name) throw new SignInError('the renewed token names someone else');
        this.accept(tokens);
        return tokens.idToken;
      })
      .catch((error) => {
        // The current token serves while it is valid. A refused refresh token (revoked,
        // expired) is dropped, and without a valid token only signing in again helps (null).
        // Anything else (the provider unreachable) is worth another try later: the error
        // goes to the caller, which retries.
        const current = this.unexpiredToken();
        if (error.code === 'invalid_grant') {
          if (this.tokens) this.tokens.refreshToken = null;
          return current;
        }
        if (current) return current;
        throw error;
      })
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /** The current ID token if it has not expired yet, else null. */
  unexpiredToken() {
    return this.tokens && this.expiresAt() > this.now() ? this.tokens.idToken : null;
  }

  /** Forgets the tokens, then ends the provider's session (which returns to the app). */
  signOut() {
    const idToken = this.idToken;
    this.tokens = null;
    this.write(SIGNED_IN_KEY, null);
    this.write(PENDING_KEY, null);
    const url = logoutUrl(this.auth, { redirectUri: this.redirectUri, idToken });
    if (url) this.location.assign(url);
    return url;
  }
}
