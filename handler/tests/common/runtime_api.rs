//! The part of the Lambda Runtime API that `lambda_runtime` uses, serving queued events on
//! loopback: what `bootstrap` talks to when `AWS_LAMBDA_RUNTIME_API` points here. Shared by the
//! tests and the authorizer benchmark (`benches/authorizer.rs`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;

/// Queued invocation events and what the function answered.
#[derive(Clone, Default)]
pub struct RuntimeApi {
    pub events: Arc<Mutex<Vec<String>>>,
    pub responses: Arc<Mutex<Vec<(String, Value)>>>,
    pub errors: Arc<Mutex<Vec<(String, String)>>>,
    /// Notified on every response or error.
    pub answered: Arc<Notify>,
}

impl RuntimeApi {
    pub fn with_events(events: Vec<String>) -> Self {
        let api = Self::default();
        *api.events.lock().unwrap() = events;
        api
    }

    /// Serves on 127.0.0.1; returns the `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub async fn serve(&self) -> SocketAddr {
        let app = Router::new().fallback(answer).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    pub fn answers(&self) -> usize {
        self.responses.lock().unwrap().len() + self.errors.lock().unwrap().len()
    }
}

async fn answer(State(api): State<RuntimeApi>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        let next = {
            let mut events = api.events.lock().unwrap();
            (!events.is_empty()).then(|| events.remove(0))
        };
        let Some(event) = next else {
            // No more work: block like the real API until the test stops the process.
            std::future::pending::<()>().await;
            unreachable!();
        };
        let n = api.answers();
        let deadline = (time::OffsetDateTime::now_utc().unix_timestamp() + 60) * 1000;
        return (
            [
                ("lambda-runtime-aws-request-id", format!("invocation-{n}")),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:chat-dev-backend".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
            ],
            event,
        )
            .into_response();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["2018-06-01", "runtime", "invocation", id, "response"] => {
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            api.responses.lock().unwrap().push(((*id).to_owned(), body));
        }
        ["2018-06-01", "runtime", "invocation", id, "error"]
        | ["2018-06-01", "runtime", id @ "init", "error"] => {
            api.errors.lock().unwrap().push((
                (*id).to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    api.answered.notify_waiters();
    (StatusCode::ACCEPTED, "{}").into_response()
}
