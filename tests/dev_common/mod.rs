//! Helpers shared by the `chatctl dev` integration tests: starting servers, real WebSocket
//! clients with bounded waits, and small fake backends. Everything listens on 127.0.0.1.

#![allow(dead_code)] // each test file uses a different subset
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chatctl::dev::{self, DevOptions, DevServer};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// Upper bound for any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(5);

/// Runs a test body with an overall time limit.
pub async fn bounded<F: Future<Output = ()>>(limit: Duration, body: F) {
    tokio::time::timeout(limit, body)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {limit:?}"));
}

pub async fn start(options: DevOptions) -> DevServer {
    tokio::time::timeout(WAIT, dev::start(options))
        .await
        .expect("dev server start timed out")
        .expect("dev server failed to start")
}

/// A dev server with the in-process chat backend, as `chatctl dev` runs by default: sign-in
/// on, names verified by the `$connect` authorizer.
pub async fn start_chat() -> DevServer {
    start(DevOptions::default()).await
}

/// A dev server without sign-in (`--no-auth`): `?name=` picks the name.
pub async fn start_without_auth() -> DevServer {
    start(DevOptions::without_auth()).await
}

/// A dev server without sign-in whose integrations go to `backend_url` with the secret
/// `test-secret`: for the gateway's mechanics (routing, mapping, limits), which do not depend
/// on who connects. `tests/dev_auth.rs` covers the gateway with its authorizer.
pub async fn start_with_backend(
    backend_url: &str,
    customize: impl FnOnce(&mut DevOptions),
) -> DevServer {
    let mut options = DevOptions {
        backend_url: Some(backend_url.to_owned()),
        backend_secret: Some(TEST_SECRET.to_owned()),
        ..DevOptions::without_auth()
    };
    customize(&mut options);
    start(options).await
}

/// An ID token for `name` from the server's local sign-in, fetched the way a script does
/// (`GET /oidc/dev-token?name=…`); `lifetime` in seconds, or the server's default.
pub async fn dev_token(server: &DevServer, name: &str, lifetime: Option<u64>) -> String {
    let endpoint = server
        .urls()
        .dev_token_url
        .expect("the server runs without sign-in");
    let url = match lifetime {
        Some(seconds) => format!("{endpoint}?name={name}&lifetime={seconds}"),
        None => format!("{endpoint}?name={name}"),
    };
    let response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

pub const TEST_SECRET: &str = "test-secret";

pub struct Client {
    pub name: String,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the handshake answered when it was refused.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

pub async fn try_connect(url: &str) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, Refused> {
    match tokio::time::timeout(WAIT, Box::pin(connect_async(url))).await {
        Err(elapsed) => panic!("connecting to {url}: {elapsed}"),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(response))) => Err(Refused {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        }),
        Ok(Err(err)) => panic!("connecting to {url} failed: {err}"),
    }
}

/// Joins as `name`: with an ID token when the server signs people in, else with `?name=`.
pub async fn connect(server: &DevServer, name: &str) -> Client {
    let url = if server.provider().is_some() {
        let token = dev_token(server, name, None).await;
        format!("{}?token={token}", server.websocket_url())
    } else {
        format!("{}?name={name}", server.websocket_url())
    };
    connect_url(&url, name).await
}

/// Connects to `url` as it is (its query string included), calling the client `name`.
pub async fn connect_url(url: &str, name: &str) -> Client {
    let socket = try_connect(url)
        .await
        .unwrap_or_else(|refused| panic!("{name} was refused: {refused:?}"));
    Client {
        name: name.to_owned(),
        socket,
    }
}

impl Client {
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .unwrap_or_else(|err| panic!("{} could not send: {err}", self.name));
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_raw(&mut self, message: Message) -> Result<(), tungstenite::Error> {
        self.socket.send(message).await
    }

    /// The next data frame as text; panics on timeout, close or error.
    pub async fn next_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{} got no frame within {WAIT:?}", self.name))
                .unwrap_or_else(|| panic!("{}'s connection ended", self.name))
                .unwrap_or_else(|err| panic!("{}'s connection failed: {err}", self.name));
            match message {
                Message::Text(text) => return text.as_str().to_owned(),
                Message::Binary(data) => return String::from_utf8_lossy(&data).into_owned(),
                Message::Close(frame) => panic!("{} was closed: {frame:?}", self.name),
                _ => {}
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        let text = self.next_text().await;
        serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{} got a non-JSON frame {text:?}: {err}", self.name))
    }

    /// Asserts that no data frame arrives within `window`.
    pub async fn expect_silence(&mut self, window: Duration) {
        if let Ok(Some(Ok(message))) = tokio::time::timeout(window, self.socket.next()).await {
            assert!(
                !(message.is_text() || message.is_binary()),
                "{} expected no frame but got {message:?}",
                self.name
            );
        }
    }

    /// The next message of any kind within `limit`, or `None` (timeout, or the stream ended).
    pub async fn next_message(&mut self, limit: Duration) -> Option<Message> {
        match tokio::time::timeout(limit, self.socket.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            _ => None,
        }
    }

    /// Waits for the server to close the connection; returns the close frame.
    pub async fn expect_close(&mut self, limit: Duration) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(elapsed) => panic!("{} was not closed within {limit:?}: {elapsed}", self.name),
                Ok(Some(Ok(Message::Close(frame)))) => return frame,
                Ok(Some(Ok(_))) => {}
                // The server may drop the socket right after its close frame.
                Ok(None | Some(Err(_))) => return None,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(WAIT, self.socket.close(None)).await;
    }
}

/// One request a fake backend received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// How a fake backend answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// `/connect` and `/disconnect` → 204; every other path → 200 with
    /// `{"route": <x-route-key>, "body": <body>}`.
    Echo,
    /// `/connect` → 204; everything else → 500.
    FailMessages,
    /// `/connect` → 204; everything else answers after this delay.
    Slow(Duration),
    /// `/connect` → 400 with a JSON error body.
    RefuseConnect,
}

/// A fake chat backend on loopback that records what the gateway sends it.
pub struct FakeBackend {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct FakeState {
    behaviour: Behaviour,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

async fn fake_handler(
    State(state): State<FakeState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_map: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let route = header_map.get("x-route-key").cloned().unwrap_or_default();
    state.requests.lock().unwrap().push(Recorded {
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: header_map,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let lifecycle = matches!(uri.path(), "/connect" | "/disconnect");
    match state.behaviour {
        Behaviour::RefuseConnect if uri.path() == "/connect" => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            r#"{"type":"error","code":"bad_request","message":"refused by the fake backend"}"#,
        )
            .into_response(),
        _ if lifecycle => StatusCode::NO_CONTENT.into_response(),
        Behaviour::FailMessages => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, json!({"route": route}).to_string()).into_response()
        }
        Behaviour::Echo | Behaviour::RefuseConnect => (
            StatusCode::OK,
            [("content-type", "application/json")],
            json!({"route": route, "body": String::from_utf8_lossy(&body)}).to_string(),
        )
            .into_response(),
    }
}

impl FakeBackend {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(fake_handler).with_state(FakeState {
            behaviour,
            requests: Arc::clone(&requests),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            url,
            requests,
            stop: Some(stop),
            task,
        }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests received on `path`.
    pub fn on(&self, path: &str) -> Vec<Recorded> {
        self.recorded()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Waits until a request on `path` has arrived.
    pub async fn wait_for(&self, path: &str) -> Recorded {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(found) = self.on(path).into_iter().next() {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request on {path}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops answering: later integration calls fail to connect.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Graceful, so that kept-alive connections from the gateway's pool are closed too
        // (aborting the accept loop would leave them serving).
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("fake backend did not stop")
            .unwrap();
    }
}

/// A loopback port with nothing listening on it (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// An HTTP client for @connections and the frontend.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()
        .unwrap()
}

/// The code of a close frame the server sent.
pub fn close_code(frame: Option<CloseFrame>) -> u16 {
    let Some(frame) = frame else {
        panic!("expected a close frame with a code");
    };
    u16::from(frame.code)
}
