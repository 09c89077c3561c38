//! A local OpenID provider for `chatctl dev`, at `http://127.0.0.1:PORT/oidc` (the issuer).
//!
//! It speaks what the reference web app uses of Cognito's hosted sign-in and of any OpenID
//! Connect provider, so the same sign-in code runs locally unchanged:
//! - `GET  /oidc/.well-known/openid-configuration`: discovery (OpenID Connect Discovery §3);
//! - `GET  /oidc/jwks.json`: the signing key (what the authorizer fetches);
//! - `GET  /oidc/authorize`: authorization code flow with PKCE (`S256` only, RFC 7636): a
//!   sign-in page that asks for a name; a signed-in browser (a session cookie) is sent straight
//!   back with a code, as Cognito's hosted sign-in does;
//! - `POST /oidc/token`: `authorization_code` (with the PKCE verifier) and `refresh_token`;
//! - `GET  /oidc/logout`: ends the session, then back to `logout_uri` (Cognito) or
//!   `post_logout_redirect_uri` (OpenID Connect RP-initiated logout);
//! - `GET  /oidc/dev-token?name=alice`: an ID token for scripts, tests and `wscat`, as text.
//!
//! There are no passwords: on this machine, whoever can reach the port can sign in as any name.
//! Tokens are signed with a development key built into chatctl, so they survive a restart of
//! `chatctl dev` (on the same port, the issuer is the same); no deployed authorizer trusts it,
//! since they only accept their own issuer's keys.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_handler::auth::{AuthorizerConfig, Signer};
use chat_handler::protocol::is_valid_name;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

/// Where the provider is mounted.
pub const PATH: &str = "/oidc";
/// The one client: the web app served by `chatctl dev` (or `--frontend-dir`).
pub const CLIENT_ID: &str = "chatctl-dev";
/// The claim with the chat name, as most OpenID providers name it.
pub const NAME_CLAIM: &str = chat_handler::auth::OIDC_NAME_CLAIM;
/// Cognito's default ID token lifetime.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_hours(1);
/// The longest lifetime `dev-token` hands out.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_hours(24);
/// A code must be redeemed within this, once (RFC 6749 §4.1.2 recommends at most 10 minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(60);
const SESSION_COOKIE: &str = "chatctl_dev_session";

/// The development signing key (RSA 2048, PKCS#8 DER), public by design: see the module docs.
const SIGNING_KEY: &[u8] = include_bytes!("oidc-signing-key.pk8");
const KEY_ID: &str = "chatctl-dev-1";

struct Grant {
    name: String,
    session: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    expires: Instant,
}

#[derive(Default)]
struct Sessions {
    /// Session cookie → name.
    signed_in: HashMap<String, String>,
    /// Authorization code → grant (single use).
    codes: HashMap<String, Grant>,
    /// Refresh token → (name, session).
    refresh: HashMap<String, (String, String)>,
}

/// The provider of one `chatctl dev` server.
pub struct Provider {
    issuer: String,
    /// The server's own origins: redirects go back there only.
    origins: Vec<String>,
    signer: Signer,
    token_lifetime: Duration,
    sessions: Mutex<Sessions>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("token_lifetime", &self.token_lifetime)
            .finish_non_exhaustive()
    }
}

fn random_id() -> String {
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 of `[A-Z a-z 0-9 - . _ ~]`.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl Provider {
    /// The provider for the server listening on `addr`.
    pub fn new(addr: SocketAddr, token_lifetime: Duration) -> Result<Self> {
        let signer =
            Signer::from_pkcs8(SIGNING_KEY, KEY_ID).context("loading the development key")?;
        let port = addr.port();
        Ok(Self {
            issuer: format!("http://{addr}{PATH}"),
            origins: vec![format!("http://{addr}"), format!("http://localhost:{port}")],
            signer,
            token_lifetime,
            sessions: Mutex::new(Sessions::default()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer)
    }

    /// `GET …/dev-token?name=NAME`: an ID token for a name, for scripts.
    pub fn dev_token_url(&self) -> String {
        self.endpoint("dev-token")
    }

    /// What the local authorizer verifies: this issuer, this client, `preferred_username`,
    /// and `token_use: "id"` like Cognito's ID tokens (so an access token is refused here too).
    pub fn authorizer_config(&self) -> AuthorizerConfig {
        let mut config = AuthorizerConfig::oidc(&self.issuer, CLIENT_ID, Some(NAME_CLAIM));
        config.expect.token_use = Some("id".to_owned());
        config
    }

    /// The `auth` block of the web app's `config.js`.
    pub fn frontend_config(&self) -> Value {
        json!({
            "provider": "oidc",
            "issuer": self.issuer,
            "clientId": CLIENT_ID,
            "authorizationEndpoint": self.endpoint("authorize"),
            "tokenEndpoint": self.endpoint("token"),
            "logoutEndpoint": self.endpoint("logout"),
            "nameClaim": NAME_CLAIM,
            "scope": "openid profile",
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A signed ID token for `name`.
    pub fn id_token(&self, name: &str, nonce: Option<&str>, lifetime: Duration) -> Result<String> {
        let now = epoch_seconds();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": format!("local-{name}"),
            "aud": CLIENT_ID,
            "iat": now,
            "auth_time": now,
            "exp": now + lifetime.as_secs(),
            "token_use": "id",
            NAME_CLAIM: name,
            "name": name,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.signer.sign(&claims)
    }

    fn access_token(&self, name: &str) -> Result<String> {
        let now = epoch_seconds();
        self.signer.sign(&json!({
            "iss": self.issuer,
            "sub": format!("local-{name}"),
            "client_id": CLIENT_ID,
            "iat": now,
            "exp": now + self.token_lifetime.as_secs(),
            "token_use": "access",
            "scope": "openid profile",
            "username": name,
        }))
    }

    fn allowed_redirect(&self, uri: &str) -> bool {
        self.origins.iter().any(|origin| {
            uri.strip_prefix(origin.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// The router, to be mounted at [`PATH`].
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .route("/authorize", get(authorize).post(sign_in))
            .route("/token", axum::routing::post(token))
            .route("/logout", get(logout))
            .route("/dev-token", get(dev_token).post(dev_token_form))
            .with_state(Arc::clone(self))
    }
}

type Shared = State<Arc<Provider>>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            // Discovery, keys and tokens are read by the web app, which may be served from
            // another origin (`--frontend-dir` behind another server); PKCE protects the codes.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn discovery(State(provider): Shared) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": provider.issuer,
            "authorization_endpoint": provider.endpoint("authorize"),
            "token_endpoint": provider.endpoint("token"),
            "jwks_uri": provider.endpoint("jwks.json"),
            "end_session_endpoint": provider.endpoint("logout"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", NAME_CLAIM, "name"],
            // chatctl's own: where scripts (and `status --probe --url`) get a token for a name.
            "chatctl_dev_token_endpoint": provider.dev_token_url(),
        }),
    )
}

async fn jwks(State(provider): Shared) -> Response {
    json_response(StatusCode::OK, &json!({"keys": [provider.signer.jwk()]}))
}

/// Escapes text for HTML element content and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }}
main {{ width: min(22rem, calc(100vw - 2rem)); padding: 1.5rem; border: 1px solid color-mix(in srgb, CanvasText 15%, transparent); border-radius: 12px; }}
h1 {{ font-size: 1.3rem; margin: 0 0 .25rem; }}
p {{ margin: .25rem 0 1rem; }}
.note {{ font-size: .85rem; opacity: .75; }}
label {{ display: block; font-weight: 600; margin-bottom: .25rem; }}
input {{ font: inherit; width: 100%; box-sizing: border-box; padding: .5rem .6rem; border-radius: 8px; border: 1px solid color-mix(in srgb, CanvasText 35%, transparent); }}
button {{ font: inherit; margin-top: 1rem; width: 100%; padding: .55rem; border: 0; border-radius: 8px; background: #2563eb; color: #fff; font-weight: 600; cursor: pointer; }}
.error {{ color: #b91c1c; font-weight: 600; }}
</style>
</head>
<body><main>{body}</main></body>
</html>
"#
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        "Sign-in error",
        &format!(
            "<h1>Sign-in error</h1><p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        ),
    )
}

/// The parameters of an authorization request (OpenID Connect Core §3.1.2.1).
struct AuthorizationRequest {
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    challenge: String,
    prompt: Option<String>,
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// `redirect_uri?key=value&…`, with the values encoded.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = uri.to_owned();
    for (i, (key, value)) in pairs.iter().enumerate() {
        let separator = if i == 0 && !uri.contains('?') {
            '?'
        } else {
            '&'
        };
        let _ = write!(url, "{separator}{key}={}", urlencode(value));
    }
    url
}

fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn redirect(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

impl Provider {
    /// Checks an authorization request. An unknown client or redirect URI is shown as an
    /// error page (never redirected to: RFC 6749 §4.1.2.1); other mistakes go back to the
    /// client as `error=…`.
    fn check_request(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<AuthorizationRequest, Box<Response>> {
        if param(params, "client_id") != Some(CLIENT_ID) {
            return Err(Box::new(error_page(
                StatusCode::BAD_REQUEST,
                &format!("unknown client_id: this provider has one client, {CLIENT_ID}"),
            )));
        }
        let Some(redirect_uri) =
            param(params, "redirect_uri").filter(|uri| self.allowed_redirect(uri))
        else {
            return Err(Box::new(error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "redirect_uri must be a page of this server ({})",
                    self.origins.join(" or ")
                ),
            )));
        };
        let state = param(params, "state");
        let back = |error: &str, description: &str| {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(state) = state {
                pairs.push(("state", state));
            }
            Err(Box::new(redirect(&with_query(redirect_uri, &pairs))))
        };
        if param(params, "response_type") != Some("code") {
            return back("unsupported_response_type", "use response_type=code");
        }
        if !param(params, "scope").is_some_and(|scope| scope.split(' ').any(|s| s == "openid")) {
            return back("invalid_scope", "the scope must include openid");
        }
        let Some(challenge) = param(params, "code_challenge") else {
            return back("invalid_request", "PKCE is required: send code_challenge");
        };
        if param(params, "code_challenge_method") != Some("S256") {
            return back("invalid_request", "code_challenge_method must be S256");
        }
        Ok(AuthorizationRequest {
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            nonce: param(params, "nonce").map(str::to_owned),
            challenge: challenge.to_owned(),
            prompt: param(params, "prompt").map(str::to_owned),
        })
    }

    /// Issues a code for a signed-in session and sends the browser back with it.
    fn issue_code(&self, request: AuthorizationRequest, name: &str, session: &str) -> Response {
        let code = random_id();
        self.lock().codes.insert(
            code.clone(),
            Grant {
                name: name.to_owned(),
                session: session.to_owned(),
                redirect_uri: request.redirect_uri.clone(),
                challenge: request.challenge,
                nonce: request.nonce,
                expires: Instant::now() + CODE_LIFETIME,
            },
        );
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = &request.state {
            pairs.push(("state", state));
        }
        redirect(&with_query(&request.redirect_uri, &pairs))
    }

    fn session_of(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let session = cookie(headers, SESSION_COOKIE)?;
        let name = self.lock().signed_in.get(&session).cloned()?;
        Some((session, name))
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
}

fn sign_in_page(params: &HashMap<String, String>, error: Option<&str>) -> Response {
    let mut hidden = String::new();
    for key in [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ] {
        if let Some(value) = param(params, key) {
            let _ = write!(
                hidden,
                "<input type=\"hidden\" name=\"{key}\" value=\"{}\">",
                escape(value)
            );
        }
    }
    // A mistake in the form is reported on the page, which is itself fine: 200, as most
    // providers answer.
    let error_html = error
        .map(|message| {
            format!(
                "<p id=\"name-error\" class=\"error\" role=\"alert\">{}</p>",
                escape(message)
            )
        })
        .unwrap_or_default();
    let value = param(params, "name").map(escape).unwrap_or_default();
    html(
        StatusCode::OK,
        "Sign in · chatctl dev",
        &format!(
            r#"<h1>Sign in</h1>
<p>Local sign-in of <code>chatctl dev</code>: choose the name you chat as. No password; deployed, this is the identity provider's sign-in page.</p>
<form method="post" action="{PATH}/authorize" novalidate>
{hidden}
<label for="name">Chat name</label>
<input id="name" name="name" value="{value}" required maxlength="32" pattern="[A-Za-z0-9_\-]{{1,32}}" autocomplete="username" autocapitalize="off" spellcheck="false" autofocus aria-describedby="name-hint name-error">
<p id="name-hint" class="note">1–32 characters: letters, digits, “_” or “-”.</p>
{error_html}
<button type="submit">Sign in</button>
</form>"#
        ),
    )
}

async fn authorize(
    State(provider): Shared,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let request = match provider.check_request(&params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let session = provider.session_of(&headers);
    match (session, request.prompt.as_deref()) {
        // Signed in already: straight back, as a provider's session does (a reload of the web
        // app, or a token that expired, signs in again without asking).
        (Some((session, name)), prompt) if prompt != Some("login") => {
            provider.issue_code(request, &name, &session)
        }
        (None, Some("none")) => {
            let mut pairs = vec![("error", "login_required")];
            if let Some(state) = &request.state {
                pairs.push(("state", state));
            }
            redirect(&with_query(&request.redirect_uri, &pairs))
        }
        _ => sign_in_page(&params, None),
    }
}

/// `POST /oidc/authorize`: the sign-in form.
async fn sign_in(
    State(provider): Shared,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    // Browsers name the page a form was posted from: only this server's own sign-in page may
    // sign someone in (another site cannot sign a visitor in under a name of its choosing).
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && !provider.origins.iter().any(|own| own == origin)
    {
        return error_page(
            StatusCode::FORBIDDEN,
            "this sign-in form was posted from another site",
        );
    }
    let request = match provider.check_request(&params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let name = params.get("name").map(|n| n.trim()).unwrap_or_default();
    if !is_valid_name(name) {
        return sign_in_page(
            &params,
            Some("Use 1–32 letters A–Z, digits, “_” and “-” (no spaces)."),
        );
    }
    let session = random_id();
    provider
        .lock()
        .signed_in
        .insert(session.clone(), name.to_owned());
    let mut response = provider.issue_code(request, name, &session);
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={session}; Path={PATH}; HttpOnly; SameSite=Lax"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn token_error(error: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

impl Provider {
    fn tokens(&self, name: &str, nonce: Option<&str>, session: &str) -> Response {
        let (Ok(id_token), Ok(access_token)) = (
            self.id_token(name, nonce, self.token_lifetime),
            self.access_token(name),
        ) else {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
            );
        };
        let refresh_token = random_id();
        self.lock()
            .refresh
            .insert(refresh_token.clone(), (name.to_owned(), session.to_owned()));
        json_response(
            StatusCode::OK,
            &json!({
                "id_token": id_token,
                "access_token": access_token,
                "refresh_token": refresh_token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime.as_secs(),
            }),
        )
    }
}

/// `POST /oidc/token` (RFC 6749 §4.1.3 and §6, RFC 7636 §4.5).
async fn token(State(provider): Shared, Form(params): Form<HashMap<String, String>>) -> Response {
    if param(&params, "client_id") != Some(CLIENT_ID) {
        return token_error("invalid_client", "unknown client_id");
    }
    match param(&params, "grant_type") {
        Some("authorization_code") => {
            let Some(code) = param(&params, "code") else {
                return token_error("invalid_request", "code is missing");
            };
            // Removed whether or not the rest checks out: a code is used once.
            let grant = provider.lock().codes.remove(code);
            let Some(grant) = grant.filter(|g| g.expires > Instant::now()) else {
                return token_error("invalid_grant", "the code is unknown, used or expired");
            };
            if param(&params, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
                return token_error(
                    "invalid_grant",
                    "redirect_uri differs from the authorization request",
                );
            }
            let verifier = param(&params, "code_verifier").unwrap_or_default();
            if !valid_verifier(verifier) || s256(verifier) != grant.challenge {
                return token_error("invalid_grant", "the PKCE code_verifier does not match");
            }
            provider.tokens(&grant.name, grant.nonce.as_deref(), &grant.session)
        }
        Some("refresh_token") => {
            let refresh = param(&params, "refresh_token").unwrap_or_default();
            let entry = provider.lock().refresh.get(refresh).cloned();
            match entry {
                Some((name, session)) => provider.tokens(&name, None, &session),
                None => token_error("invalid_grant", "the refresh token is unknown or revoked"),
            }
        }
        _ => token_error(
            "unsupported_grant_type",
            "use authorization_code or refresh_token",
        ),
    }
}

/// `GET /oidc/logout`: ends the session (and its refresh tokens), then goes back.
async fn logout(
    State(provider): Shared,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        let mut sessions = provider.lock();
        sessions.signed_in.remove(&session);
        sessions.refresh.retain(|_, (_, s)| *s != session);
        sessions.codes.retain(|_, grant| grant.session != session);
    }
    let target = param(&params, "logout_uri")
        .or_else(|| param(&params, "post_logout_redirect_uri"))
        .filter(|uri| provider.allowed_redirect(uri));
    let mut response = match target {
        Some(uri) => {
            let pairs: Vec<(&str, &str)> = param(&params, "state")
                .map(|state| ("state", state))
                .into_iter()
                .collect();
            redirect(&with_query(uri, &pairs))
        }
        None => html(
            StatusCode::OK,
            "Signed out · chatctl dev",
            "<h1>Signed out</h1><p>You are signed out of chatctl dev's local sign-in.</p>",
        ),
    };
    if let Ok(expired) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path={PATH}; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, expired);
    }
    response
}

fn issue_dev_token(provider: &Provider, params: &HashMap<String, String>) -> Response {
    let plain = |status: StatusCode, body: String| {
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response()
    };
    let Some(name) = param(params, "name").filter(|name| is_valid_name(name)) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "name must be 1-32 of A-Z a-z 0-9 _ -, e.g. ?name=alice\n".to_owned(),
        );
    };
    let lifetime = match param(params, "lifetime").map(str::parse::<u64>) {
        None => provider.token_lifetime,
        Some(Ok(seconds)) if (1..=MAX_TOKEN_LIFETIME.as_secs()).contains(&seconds) => {
            Duration::from_secs(seconds)
        }
        Some(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!(
                    "lifetime must be 1 to {} seconds\n",
                    MAX_TOKEN_LIFETIME.as_secs()
                ),
            );
        }
    };
    match provider.id_token(name, None, lifetime) {
        Ok(token) => plain(StatusCode::OK, token),
        Err(err) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}\n")),
    }
}

/// `GET /oidc/dev-token?name=alice[&lifetime=SECONDS]`: the ID token as plain text.
async fn dev_token(
    State(provider): Shared,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    issue_dev_token(&provider, &params)
}

/// The same as a form post (`curl -d name=alice …`).
async fn dev_token_form(
    State(provider): Shared,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    issue_dev_token(&provider, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!valid_verifier("short"));
        assert!(!valid_verifier(&"a b".repeat(20)));
    }

    #[test]
    fn redirects_stay_on_the_server() {
        let provider =
            Provider::new("127.0.0.1:8080".parse().unwrap(), DEFAULT_TOKEN_LIFETIME).unwrap();
        for ok in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080",
            "http://localhost:8080/chat/bob",
        ] {
            assert!(provider.allowed_redirect(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:8081/",
            "http://127.0.0.1:8080.evil.example/",
            "https://127.0.0.1:8080/",
            "http://127.0.0.1:8080@evil.example/",
            "javascript:alert(1)",
        ] {
            assert!(!provider.allowed_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn reflected_values_are_escaped() {
        assert_eq!(
            escape(r#"<script>"x"&'y'"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
        assert_eq!(
            with_query(
                "http://127.0.0.1:1/",
                &[("code", "a b"), ("state", "x&y=z")]
            ),
            "http://127.0.0.1:1/?code=a%20b&state=x%26y%3Dz"
        );
    }
}
