//! `ConnectionsApi` (the real @connections client) against a local recording server: the
//! `/{stage}` prefix is kept, ids are URL-encoded, and 410 maps to `NotifyError::Gone`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort the test

mod common;

use std::sync::{Arc, Mutex};

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chat_handler::{CallbackUrl, ConnectionsApi, Deps, Notifier, NotifyError};
use common::http1;

#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    signed: bool,
    body: Vec<u8>,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

async fn record(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    log.lock().unwrap().push(Recorded {
        method,
        path: path.clone(),
        signed: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 ")),
        body: body.to_vec(),
    });
    let id = path.rsplit('/').next().unwrap_or_default();
    match id {
        // What API Gateway answers for a closed connection.
        "gone" => (
            StatusCode::GONE,
            [("x-amzn-errortype", "GoneException")],
            r#"{"message":"The connection with the provided id no longer exists"}"#,
        )
            .into_response(),
        // A gateway that only sets the status.
        "bare-gone" => (StatusCode::GONE, "").into_response(),
        "forbidden" => (
            StatusCode::FORBIDDEN,
            [("x-amzn-errortype", "ForbiddenException")],
            r#"{"message":"Forbidden"}"#,
        )
            .into_response(),
        _ if path.contains("/@connections/") => StatusCode::OK.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts the recording server on a free loopback port; returns its base URL and log.
async fn recording_server() -> (String, Log, tokio::task::JoinHandle<()>) {
    let log = Log::default();
    let app = Router::new().fallback(record).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), log, server)
}

#[tokio::test]
async fn posts_and_deletes_go_to_the_stage_path_and_410_is_gone() {
    let (base, log, server) = recording_server().await;
    // A trailing slash must not double the separator.
    let api = ConnectionsApi::local(&CallbackUrl::parse(&format!("{base}/dev/")).unwrap());

    api.post("abc=", br#"{"type":"message"}"#).await.unwrap();
    api.delete("xyz").await.unwrap();
    assert!(matches!(
        api.post("gone", b"{}").await,
        Err(NotifyError::Gone)
    ));
    assert!(matches!(
        api.post("bare-gone", b"{}").await,
        Err(NotifyError::Gone)
    ));
    assert!(matches!(api.delete("gone").await, Err(NotifyError::Gone)));
    match api.post("forbidden", b"{}").await {
        Err(NotifyError::Other(message)) => {
            assert!(message.contains("Forbidden"), "{message}");
        }
        other => panic!("expected Other, got {other:?}"),
    }

    let log = log.lock().unwrap().clone();
    let seen: Vec<(Method, &str)> = log
        .iter()
        .map(|r| (r.method.clone(), r.path.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (Method::POST, "/dev/@connections/abc%3D"),
            (Method::DELETE, "/dev/@connections/xyz"),
            (Method::POST, "/dev/@connections/gone"),
            (Method::POST, "/dev/@connections/bare-gone"),
            (Method::DELETE, "/dev/@connections/gone"),
            (Method::POST, "/dev/@connections/forbidden"),
        ]
    );
    assert_eq!(log[0].body, br#"{"type":"message"}"#);
    // Signed with the dummy credentials: harmless locally, and the same code path as on AWS.
    assert!(log.iter().all(|r| r.signed));
    server.abort();
}

#[tokio::test]
async fn a_client_from_an_sdk_config_keeps_a_multi_segment_stage_path() {
    let (base, log, server) = recording_server().await;
    let sdk_config =
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .http_client(chat_handler::https_client())
            .credentials_provider(
                aws_sdk_apigatewaymanagement::config::SharedCredentialsProvider::new(
                    Credentials::new("AKIDTEST", "test-secret-key", None, None, "test"),
                ),
            )
            .build();
    let api = ConnectionsApi::new(
        &sdk_config,
        &CallbackUrl::parse(&format!("{base}/prod/v2")).unwrap(),
    );
    api.post("conn-1", b"hello").await.unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].path, "/prod/v2/@connections/conn-1");
    assert!(log[0].signed);
    server.abort();
}

#[tokio::test]
async fn deps_in_memory_posts_through_the_callback_url() {
    let (base, log, server) = recording_server().await;
    let deps = Deps::in_memory("s".into(), &format!("{base}/local"))
        .await
        .unwrap();
    let router = chat_handler::router(deps);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let backend = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let addr = addr.to_string();
    for (id, name) in [("a-1", "alice"), ("b-1", "bob")] {
        let headers = [
            ("x-chat-secret", "s"),
            ("x-connection-id", id),
            ("x-chat-name", name),
        ];
        let response = http1::post(&addr, "/connect", &headers, b"").await.unwrap();
        assert_eq!(response.status, 204);
    }
    let headers = [("x-chat-secret", "s"), ("x-connection-id", "a-1")];
    let body = br#"{"action":"sendmessage","to":"bob","text":"hi"}"#;
    let reply = http1::post(&addr, "/sendmessage", &headers, body)
        .await
        .unwrap()
        .json();
    assert_eq!(reply["type"], "sent");
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].path, "/local/@connections/b-1");
    let frame: serde_json::Value = serde_json::from_slice(&log[0].body).unwrap();
    assert_eq!(frame["from"], "alice");
    assert_eq!(frame["id"], reply["id"]);
    backend.abort();
    server.abort();
}

#[tokio::test]
async fn deps_in_memory_rejects_a_websocket_url() {
    let err = Deps::in_memory("s".into(), "ws://127.0.0.1:9/dev")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is the WebSocket URL"), "{err}");
}
