//! `chatctl dev`: the whole chat service in one process, on loopback.
//!
//! One HTTP listener on `127.0.0.1:PORT` serves
//! - `ws://127.0.0.1:PORT/{stage}?token=…`, a local API Gateway WebSocket stage built from
//!   [`crate::chat_api`] (the same routes, mappings, responses and stage variables that
//!   `chatctl up` deploys) and [`crate::config::ApiSettings`] (throttling), with the `$connect`
//!   authorizer ([`authorizer`]) running the authorizer code of the deployed stack;
//! - `http://127.0.0.1:PORT/oidc`, a local OpenID provider ([`oidc`]) that signs people in
//!   (and hands scripts a token for a name); without auth (`--no-auth`), clients join with
//!   `?name=…` instead;
//! - `http://127.0.0.1:PORT/{stage}/@connections/{id}`, the management API;
//! - `/`, the reference frontend with a generated `/config.js` and an SPA fallback.
//!
//! Unless `--backend-url` names another one, the chat backend (`chat_handler`) runs in the same
//! process on its own loopback port with an in-memory registry, and the gateway calls it over
//! HTTP exactly as API Gateway would (docs/integration-contract.md).
//!
//! # How closely this follows API Gateway
//!
//! Documented behaviour reproduced here:
//! - Route selection on `$request.body.action`: the value, stringified, must equal a route key.
//!   Non-JSON frames, non-objects, a missing/`null`/structured `action` or no match go to
//!   `$default`; without a `$default` route the sender gets
//!   `{"message":"Forbidden","connectionId":…,"requestId":…}`.
//! - The `$connect` authorizer (a Lambda REQUEST authorizer on AWS) runs first: no `?token=`
//!   → 401, its `Unauthorized` → 401, a Deny → 403, a failure → 500; an Allow's context is
//!   `context.authorizer.*` for the integrations of `$connect` and of every later route of the
//!   connection (details in [`authorizer`]).
//! - `$connect` runs during the handshake: the upgrade waits for the integration. AWS documents
//!   that a failing `$connect` integration refuses the connection; here any non-2xx answer
//!   refuses the handshake **with the backend's status code and body** (400 for a bad name),
//!   and an unreachable/timed-out/failed backend with 500. (One report describes a non-proxy
//!   `$connect` answering 400 yet connecting on AWS; that is unverified and not reproduced.)
//! - Integration request parameters from `context.*`, `stageVariables.*`, `'static'` values,
//!   `route.request.body.*` and, on `$connect` only, `route.request.querystring.*` and
//!   `route.request.header.*` (a definition using them elsewhere is refused at start, as
//!   API Gateway refuses to deploy it).
//! - Replies reach the sender only on two-way routes (those with the `$default` route
//!   response); the integration's answer becomes one frame (an empty answer, none).
//! - Frames over 32 KB or messages over 128 KB close the connection with 1009; a 10-minute
//!   idle timeout and a 2-hour maximum close it with 1001 (both configurable). Idle means no
//!   frame in either direction: "If no messages are sent between the server and client for a
//!   10-minute period, API Gateway closes the connection" (Hotsock, a service built on API
//!   Gateway WebSockets: <https://hotsock.io/docs/connections/keep-alive>, whose server-sent
//!   keep-alive messages hold connections open); AWS's quota table says only "idle".
//! - Integration URIs are `{scheme}://${stageVariables.backendHost}/{path}` and resolve as
//!   API Gateway resolves them (a stage variable that is not set fails the call).
//! - @connections: POST (one frame; 410 unknown id; 413 over 128 KB), GET (connectedAt,
//!   lastActiveAt, identity as RFC 3339 JSON), DELETE (204; 410 unknown id).
//!   Posting to a connection still inside `$connect` answers 410, as on AWS.
//! - `$disconnect` runs after the close, best effort.
//!
//! Choices where AWS's behaviour is not documented (or not verified):
//! - Integration failures (connection refused, timeout, a 5xx answer, which the contract treats
//!   as a failure) send `{"message":"Internal server error","connectionId":…,"requestId":…}` to
//!   the sender on one-way routes too: that is what clients of API Gateway observe with
//!   failing integrations on routes without a route response. Below 500, the answer passes
//!   through the `$default` integration response unchanged.
//! - A throttled message gets `{"message":"Too Many Requests","connectionId":…,"requestId":…}`;
//!   a throttled `$connect` a 429 handshake answer. Connects and messages share one stage-wide
//!   token bucket (burst, rate per second); `$disconnect` consumes nothing.
//! - DeleteConnection closes with 1000; idle, maximum duration and server shutdown with 1001.
//! - Messages of one connection are handled in order, one at a time (AWS may run them
//!   concurrently); replies and the frames they cause keep the client's order.
//! - @connections requests are accepted without verifying SigV4 signatures (local only), and a
//!   client whose outbound queue is full makes posts answer 429 `LimitExceededException`.
//! - Connection and request ids are 11 random bytes in URL-safe base64 (`L0SM9cOFvHcCIhw=`).
//! - `$context.domainName` is `127.0.0.1:PORT`, `$context.apiId` a random 10-character id.

pub mod access_log;
pub mod authorizer;
mod connections;
mod gateway;
mod integration;
mod management;
pub mod mapping;
pub mod oidc;
mod static_files;
pub mod throttle;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chat_api::{self, RouteSpec};
use crate::config::ApiSettings;

pub use gateway::{MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
pub use static_files::EMBEDDED as EMBEDDED_FRONTEND;

/// API Gateway's idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(10);
/// API Gateway's maximum connection duration.
pub const DEFAULT_MAX_CONNECTION: Duration = Duration::from_hours(2);
/// API Gateway's (default and maximum) integration timeout.
pub const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// How long shutdown waits for connections to close and `$disconnect` calls to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Who may use a name under `chatctl dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevAuth {
    /// `?name=` picks the name (`--no-auth`, or `[auth] provider = "none"`).
    Off,
    /// The local OpenID provider signs people in and the `$connect` authorizer verifies their
    /// ID tokens, valid for `token_lifetime`.
    Local { token_lifetime: Duration },
}

impl DevAuth {
    pub fn local() -> Self {
        Self::Local {
            token_lifetime: oidc::DEFAULT_TOKEN_LIFETIME,
        }
    }

    /// The identity mapping of the routes this mode serves.
    pub fn identity(self) -> chat_api::Identity {
        match self {
            Self::Off => chat_api::Identity::ClientName,
            Self::Local { .. } => chat_api::Identity::Authorizer,
        }
    }
}

/// What `chatctl dev` serves and how.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub stage: String,
    /// Sign-in and the `$connect` authorizer (on by default).
    pub auth: DevAuth,
    /// The API definition, normally [`chat_api::routes_for`] the identity of `auth`.
    pub routes: Vec<RouteSpec>,
    /// Throttling (burst and rate) of the stage.
    pub api: ApiSettings,
    /// An external chat backend (`--backend-url`); `None` runs `chat_handler` in-process.
    pub backend_url: Option<String>,
    /// The secret the gateway sends in `x-chat-secret`. With an external backend it must be
    /// that backend's `CHAT_SECRET` (pass it through the environment, never a flag); `None`
    /// generates a random one, which is what the in-process backend uses.
    pub backend_secret: Option<String>,
    /// Serve the frontend from this directory instead of the embedded `templates/frontend`.
    pub frontend_dir: Option<PathBuf>,
    pub idle_timeout: Duration,
    pub max_connection: Duration,
    pub integration_timeout: Duration,
    /// Where the access log goes (`{dir}/{stage}/access.log`); `None` writes none.
    pub log_dir: Option<PathBuf>,
}

impl Default for DevOptions {
    fn default() -> Self {
        let auth = DevAuth::local();
        Self {
            port: 0,
            stage: "dev".to_owned(),
            auth,
            routes: chat_api::routes_for(auth.identity()),
            api: ApiSettings::default(),
            backend_url: None,
            backend_secret: None,
            frontend_dir: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connection: DEFAULT_MAX_CONNECTION,
            integration_timeout: DEFAULT_INTEGRATION_TIMEOUT,
            log_dir: None,
        }
    }
}

impl DevOptions {
    /// The defaults without sign-in: names from `?name=` (as `--no-auth`).
    pub fn without_auth() -> Self {
        Self {
            auth: DevAuth::Off,
            routes: chat_api::routes(),
            ..Self::default()
        }
    }
}

/// The URLs of a running dev server (for printing, or `--output json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevUrls {
    pub frontend_url: String,
    pub websocket_url: String,
    pub connections_url: String,
    /// Where the gateway's integrations go (the in-process backend or `--backend-url`).
    pub backend_url: String,
    /// The local OpenID provider (the issuer), with auth on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_url: Option<String>,
    /// `GET {dev_token_url}?name=NAME`: an ID token for a name, for scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_token_url: Option<String>,
}

/// A running dev server. Dropping it without [`DevServer::shutdown`] stops it abruptly.
#[derive(Debug)]
pub struct DevServer {
    addr: SocketAddr,
    stage: String,
    backend_url: String,
    provider: Option<Arc<oidc::Provider>>,
    gateway: Arc<gateway::Gateway>,
    stop: watch::Sender<bool>,
    stop_backend: Option<watch::Sender<bool>>,
    server: JoinHandle<std::io::Result<()>>,
    backend: Option<JoinHandle<Result<()>>>,
}

/// Binds 127.0.0.1:`port`, starts the backend (unless external) and the gateway, and returns
/// once both are listening.
pub async fn start(options: DevOptions) -> Result<DevServer> {
    // Boxed: the backend's and the gateway's set-up make a large future, which callers would
    // otherwise carry on their stack.
    Box::pin(start_inner(options)).await
}

async fn start_inner(options: DevOptions) -> Result<DevServer> {
    validate(&options)?;
    let routes = mapping::parse_routes(&options.routes)?;

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
    let addr = listener.local_addr()?;
    let connections_url = format!("http://{addr}/{}", options.stage);

    let secret = options.backend_secret.clone().unwrap_or_else(random_secret);
    let (backend_url, stop_backend, backend) = if let Some(url) = &options.backend_url {
        (url.trim_end_matches('/').to_owned(), None, None)
    } else {
        let backend_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("cannot listen for the in-process chat backend")?;
        let backend_addr = backend_listener.local_addr()?;
        let deps = chat_handler::Deps::in_memory(secret.clone(), &connections_url)
            .await
            .context("preparing the in-process chat backend")?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(chat_handler::serve(
            backend_listener,
            deps,
            stopped(stop_rx),
        ));
        (format!("http://{backend_addr}"), Some(stop_tx), Some(task))
    };

    // With auth, the stage holds no secret: the authorizer hands it to the integrations.
    let identity = options.auth.identity();
    let provider = match options.auth {
        DevAuth::Off => None,
        DevAuth::Local { token_lifetime } => {
            Some(Arc::new(oidc::Provider::new(addr, token_lifetime)?))
        }
    };
    let authorizer = match &provider {
        Some(provider) => {
            let config = provider
                .authorizer_config()
                .with_backend_secret(Some(secret.clone()));
            Some(authorizer::LocalAuthorizer::new(
                chat_handler::auth::Authorizer::new(config)
                    .context("preparing the $connect authorizer")?,
            ))
        }
        None => None,
    };

    let access_log = match &options.log_dir {
        Some(dir) => access_log::AccessLog::create(dir, &options.stage)?,
        None => access_log::AccessLog::default(),
    };
    let (stop, stop_rx) = watch::channel(false);
    let endpoint = chat_api::BackendEndpoint::parse(&backend_url)?;
    let gateway = Arc::new(gateway::Gateway {
        stage: options.stage.clone(),
        api_id: random_api_id(),
        domain_name: addr.to_string(),
        routes,
        backend_scheme: endpoint.scheme,
        stage_variables: chat_api::stage_variables_for(identity, &endpoint, &secret),
        integrations: integration::Integrations::new(options.integration_timeout)?,
        connections: connections::Connections::default(),
        throttle: throttle::TokenBucket::from_settings(&options.api),
        idle_timeout: options.idle_timeout,
        max_connection: options.max_connection,
        tasks: connections::Tasks::default(),
        shutdown: stop_rx.clone(),
        authorizer,
        access_log,
    });

    let files = Arc::new(static_files::StaticFiles {
        frontend: match &options.frontend_dir {
            Some(dir) => static_files::Frontend::Directory(dir.clone()),
            None => static_files::Frontend::Embedded,
        },
        config_js: config_js(
            &format!("ws://{addr}/{}", options.stage),
            provider.as_ref().map(|p| p.frontend_config()),
        ),
        stage_path: format!("/{}", options.stage),
    });

    let stage = &options.stage;
    let app = Router::new()
        .route(&format!("/{stage}"), get(gateway::handshake))
        .route(
            &format!("/{stage}/@connections/{{id}}"),
            post(management::post)
                .get(management::get)
                .delete(management::delete),
        )
        .with_state(Arc::clone(&gateway));
    let app = match &provider {
        Some(provider) => app.nest(oidc::PATH, provider.router()),
        None => app,
    };
    let app = app.fallback_service(
        Router::new()
            .fallback(static_files::serve)
            .with_state(files),
    );

    // Small frames both ways: without TCP_NODELAY, Nagle's algorithm and delayed ACKs add
    // tens of milliseconds to a chat message.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stop_rx))
        .into_future(),
    );

    tracing::info!(
        websocket = format!("ws://{addr}/{stage}"),
        connections = connections_url,
        frontend = format!("http://{addr}/"),
        "chatctl dev is listening"
    );
    Ok(DevServer {
        addr,
        stage: options.stage,
        backend_url,
        provider,
        gateway,
        stop,
        stop_backend,
        server,
        backend,
    })
}

impl DevServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT/{stage}`: where clients connect (add `?token=…`, or `?name=…`
    /// without auth).
    pub fn websocket_url(&self) -> String {
        format!("ws://{}/{}", self.addr, self.stage)
    }

    /// `http://127.0.0.1:PORT/{stage}`: the @connections callback URL (`CHAT_CALLBACK_URL`).
    pub fn connections_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.stage)
    }

    /// `http://127.0.0.1:PORT/`: the reference frontend.
    pub fn frontend_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn urls(&self) -> DevUrls {
        DevUrls {
            frontend_url: self.frontend_url(),
            websocket_url: self.websocket_url(),
            connections_url: self.connections_url(),
            backend_url: self.backend_url.clone(),
            sign_in_url: self.provider.as_ref().map(|p| p.issuer().to_owned()),
            dev_token_url: self.provider.as_ref().map(|p| p.dev_token_url()),
        }
    }

    /// The local OpenID provider, with auth on.
    pub fn provider(&self) -> Option<&oidc::Provider> {
        self.provider.as_deref()
    }

    /// Number of open WebSocket connections.
    pub fn connection_count(&self) -> usize {
        self.gateway.connections.len()
    }

    /// Closes every connection (1001), waits for their `$disconnect` calls, then stops the
    /// gateway and the in-process backend.
    pub async fn shutdown(mut self) -> Result<()> {
        self.stop.send_replace(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, self.gateway.tasks.idle())
            .await
            .is_err()
        {
            tracing::warn!("connections did not close within {SHUTDOWN_GRACE:?}");
        }
        let server = tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server).await;
        if let Some(stop_backend) = self.stop_backend.take() {
            stop_backend.send_replace(true);
        }
        if let Some(mut backend) = self.backend.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut backend).await {
                Ok(joined) => joined.context("the chat backend task failed")??,
                Err(_) => backend.abort(),
            }
        }
        match server {
            Ok(joined) => joined
                .context("the dev server task failed")?
                .context("serving chatctl dev")?,
            Err(_) => self.server.abort(),
        }
        Ok(())
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        // After `shutdown` these are finished; otherwise (a test failing early, for instance)
        // nothing must keep listening.
        self.server.abort();
        if let Some(backend) = &self.backend {
            backend.abort();
        }
    }
}

/// Starts the server, logs its URLs, and stops it cleanly on Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions) -> Result<()> {
    let server = start(options).await?;
    let urls = server.urls();
    tracing::info!("frontend:       {}", urls.frontend_url);
    match &urls.dev_token_url {
        Some(tokens) => {
            tracing::info!("WebSocket:      {}?token=ID_TOKEN", urls.websocket_url);
            tracing::info!("a token:        curl -s '{tokens}?name=NAME'");
        }
        None => tracing::info!("WebSocket:      {}?name=NAME", urls.websocket_url),
    }
    tracing::info!(
        "@connections:   {}/@connections/{{id}}",
        urls.connections_url
    );
    tracing::info!("press Ctrl-C to stop");
    server.run_until_signal().await
}

impl DevServer {
    /// Serves until Ctrl-C or SIGTERM, then shuts down.
    pub async fn run_until_signal(self) -> Result<()> {
        termination().await?;
        tracing::info!("stopping");
        self.shutdown().await
    }
}

#[cfg(unix)]
async fn termination() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C"),
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn termination() -> Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")
}

fn validate(options: &DevOptions) -> Result<()> {
    let stage_ok = !options.stage.is_empty()
        && options
            .stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !stage_ok {
        bail!(
            "stage \"{}\" is not valid: use letters, digits, dashes or underscores",
            options.stage
        );
    }
    let authorized = options
        .routes
        .iter()
        .any(|route| route.authorizer.is_some());
    match (options.auth, authorized) {
        (DevAuth::Off, true) => bail!(
            "the $connect route has an authorizer, but chatctl dev runs without sign-in: drop --no-auth, or use routes without an authorizer"
        ),
        (DevAuth::Local { .. }, false) => bail!(
            "chatctl dev runs with sign-in, but the $connect route has no authorizer: pass --no-auth, or use routes with the authorizer"
        ),
        (DevAuth::Local { token_lifetime }, true) if token_lifetime.is_zero() => {
            bail!("the token lifetime must be above zero")
        }
        _ => {}
    }
    if let Some(url) = &options.backend_url {
        // It travels as a stage variable, as on AWS.
        chat_api::BackendEndpoint::parse(url).with_context(|| format!("--backend-url {url}"))?;
    }
    if let Some(secret) = &options.backend_secret
        && (secret.is_empty() || !secret.chars().all(chat_api::stage_variable_char))
    {
        bail!(
            "the backend secret cannot travel as an API Gateway stage variable: use letters, digits and -._~:/?#&=, only"
        );
    }
    for (name, value) in [
        ("idle timeout", options.idle_timeout),
        ("maximum connection duration", options.max_connection),
        ("integration timeout", options.integration_timeout),
    ] {
        if value.is_zero() {
            bail!("the {name} must be above zero");
        }
    }
    Ok(())
}

/// Completes when the flag turns true or its sender is dropped.
async fn stopped(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|stop| *stop).await;
}

fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Shaped like an API Gateway API id: 10 lowercase letters and digits.
fn random_api_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..10)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// The web app's `config.js`: the stage URL, and the sign-in settings with auth on.
fn config_js(websocket_url: &str, auth: Option<serde_json::Value>) -> String {
    let url = serde_json::to_string(websocket_url).unwrap_or_default();
    let auth = auth
        .map(|auth| format!(", auth: {auth}"))
        .unwrap_or_default();
    format!("// Generated by chatctl dev.\nwindow.CHAT_CONFIG = {{ websocketUrl: {url}{auth} }};\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_js_points_at_the_local_stage() {
        assert_eq!(
            config_js("ws://127.0.0.1:8080/dev", None),
            "// Generated by chatctl dev.\nwindow.CHAT_CONFIG = { websocketUrl: \"ws://127.0.0.1:8080/dev\" };\n"
        );
        assert_eq!(
            config_js(
                "ws://127.0.0.1:8080/dev",
                Some(serde_json::json!({"provider": "oidc"}))
            ),
            "// Generated by chatctl dev.\nwindow.CHAT_CONFIG = { websocketUrl: \"ws://127.0.0.1:8080/dev\", auth: {\"provider\":\"oidc\"} };\n"
        );
    }

    #[test]
    fn options_are_validated() {
        let bad_stage = DevOptions {
            stage: "a/b".into(),
            ..DevOptions::default()
        };
        assert!(validate(&bad_stage).is_err());
        let bad_url = DevOptions {
            backend_url: Some("127.0.0.1:9000".into()),
            ..DevOptions::default()
        };
        let err = format!("{:#}", validate(&bad_url).unwrap_err());
        assert!(
            err.starts_with("--backend-url 127.0.0.1:9000: ")
                && err.ends_with("is not an http:// or https:// URL"),
            "{err}"
        );
        assert!(validate(&DevOptions::default()).is_ok());
        assert!(validate(&DevOptions::without_auth()).is_ok());
        let mismatched = DevOptions {
            auth: DevAuth::Off,
            ..DevOptions::default()
        };
        assert!(
            validate(&mismatched)
                .unwrap_err()
                .to_string()
                .contains("drop --no-auth")
        );
        let unverified = DevOptions {
            routes: chat_api::routes(),
            ..DevOptions::default()
        };
        assert!(validate(&unverified).is_err());
        let api_id = random_api_id();
        assert_eq!(api_id.len(), 10);
    }
}
