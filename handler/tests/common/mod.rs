//! Shared test fixtures: a recording fake of @connections and a chat harness over `handle`.

#![allow(dead_code)]

pub mod http1;
pub mod issuer;
pub mod runtime_api;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat_handler::{
    Deps, MemoryRegistry, Notifier, NotifyError, Registry, Reply, Request, Route, handle,
};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-0123456789";

/// A fake @connections that records what it delivered. Connections marked gone answer 410,
/// broken ones fail otherwise; neither records a delivery.
#[derive(Default)]
pub struct RecordingNotifier {
    delivered: Mutex<Vec<(String, Value)>>,
    attempts: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
    gone: Mutex<HashSet<String>>,
    broken: Mutex<HashSet<String>>,
}

impl RecordingNotifier {
    pub fn mark_gone(&self, connection_id: &str) {
        self.gone.lock().unwrap().insert(connection_id.to_owned());
    }

    pub fn mark_broken(&self, connection_id: &str) {
        self.broken.lock().unwrap().insert(connection_id.to_owned());
    }

    /// Every frame delivered, in order, with its connection.
    pub fn delivered(&self) -> Vec<(String, Value)> {
        self.delivered.lock().unwrap().clone()
    }

    /// Frames delivered to one connection.
    pub fn delivered_to(&self, connection_id: &str) -> Vec<Value> {
        self.delivered()
            .into_iter()
            .filter(|(id, _)| id == connection_id)
            .map(|(_, frame)| frame)
            .collect()
    }

    /// Every connection a post was attempted to, delivered or not.
    pub fn attempts(&self) -> Vec<String> {
        self.attempts.lock().unwrap().clone()
    }

    pub fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
        self.attempts.lock().unwrap().push(connection_id.to_owned());
        if self.gone.lock().unwrap().contains(connection_id) {
            return Err(NotifyError::Gone);
        }
        if self.broken.lock().unwrap().contains(connection_id) {
            return Err(NotifyError::Other("connection refused".into()));
        }
        let frame: Value = serde_json::from_slice(data).expect("posted frames are JSON");
        self.delivered
            .lock()
            .unwrap()
            .push((connection_id.to_owned(), frame));
        Ok(())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), NotifyError> {
        self.deleted.lock().unwrap().push(connection_id.to_owned());
        Ok(())
    }
}

/// The handler with a given registry and a recording notifier, called without HTTP.
pub struct Chat {
    pub deps: Deps,
    pub registry: Arc<dyn Registry>,
    pub notifier: Arc<RecordingNotifier>,
}

impl Chat {
    pub fn in_memory() -> Self {
        Self::with_registry(Arc::new(MemoryRegistry::new()))
    }

    pub fn with_registry(registry: Arc<dyn Registry>) -> Self {
        let notifier = Arc::new(RecordingNotifier::default());
        let deps = Deps::new(registry.clone(), notifier.clone(), SECRET.to_owned());
        Self {
            deps,
            registry,
            notifier,
        }
    }

    pub fn request(connection_id: &str, body: &str) -> Request {
        Request {
            secret: Some(SECRET.as_bytes().to_vec()),
            connection_id: Some(connection_id.to_owned()),
            name: None,
            request_id: Some("req-1".to_owned()),
            body: body.to_owned().into(),
        }
    }

    pub async fn call(&self, route: Route, request: Request) -> Reply {
        handle(&self.deps, route, request).await
    }

    pub async fn connect(&self, connection_id: &str, name: Option<&str>) -> Reply {
        let mut request = Self::request(connection_id, "");
        request.name = name.map(str::to_owned);
        self.call(Route::Connect, request).await
    }

    /// Connects and asserts the connection was accepted.
    pub async fn join(&self, connection_id: &str, name: &str) {
        assert_eq!(
            self.connect(connection_id, Some(name)).await,
            Reply::NoContent
        );
    }

    pub async fn disconnect(&self, connection_id: &str) -> Reply {
        self.call(Route::Disconnect, Self::request(connection_id, ""))
            .await
    }

    /// Sends `body` on `route` and returns the reply frame (asserting a 200 JSON reply).
    pub async fn frame(&self, route: Route, connection_id: &str, body: &str) -> Value {
        let reply = self.call(route, Self::request(connection_id, body)).await;
        assert_eq!(reply.status(), 200, "{reply:?}");
        serde_json::from_slice(&reply.body().expect("a 200 reply has a body")).unwrap()
    }

    pub async fn send(&self, connection_id: &str, message: &Value) -> Value {
        self.frame(Route::SendMessage, connection_id, &message.to_string())
            .await
    }

    pub async fn who(&self, connection_id: &str) -> Value {
        self.frame(Route::Who, connection_id, r#"{"action":"who"}"#)
            .await
    }
}

/// The body of a reply as JSON.
pub fn body_json(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body().expect("reply has a body")).unwrap()
}

/// Polls `check` until it holds or `within` elapses.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Lambda function URL event (payload format 2.0) as API Gateway's HTTP integration makes it.
pub fn function_url_event(path: &str, headers: &Value, body: &str, base64: bool) -> String {
    use std::fmt::Write as _;
    let body = if base64 {
        // Function URLs base64-encode bodies they consider binary.
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in body.as_bytes().chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    } else {
        body.to_owned()
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnop",
            "domainName": "abcdefghijklmnop.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abcdefghijklmnop",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "AmazonAPIGateway_abc123"
            },
            "requestId": "5f4e7d0c-0000-4000-8000-000000000001",
            "routeKey": "$default",
            "stage": "$default",
            "time": "31/Jan/2025:12:00:00 +0000",
            "timeEpoch": 1_738_324_800_000_u64
        },
        "isBase64Encoded": base64
    });
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    let mut out = String::new();
    write!(out, "{event}").unwrap();
    out
}
