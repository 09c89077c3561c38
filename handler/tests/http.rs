//! The HTTP interface of the contract: headers in, status codes and JSON bodies out, the same
//! through a plain request and through a Lambda function URL event (payload 2.0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort the test

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chat_handler::{Deps, MemoryRegistry, router};
use common::{RecordingNotifier, SECRET, function_url_event};
use serde_json::{Value, json};
use tower::ServiceExt as _;

fn app() -> (axum::Router, Arc<RecordingNotifier>) {
    let notifier = Arc::new(RecordingNotifier::default());
    let deps = Deps::new(
        Arc::new(MemoryRegistry::new()),
        notifier.clone(),
        SECRET.to_owned(),
    );
    (router(deps), notifier)
}

fn post(path: &str, connection_id: &str) -> axum::http::request::Builder {
    Request::post(path)
        .header("x-chat-secret", SECRET)
        .header("x-connection-id", connection_id)
        .header("x-route-key", "sendmessage")
        .header("x-request-id", "req-42")
}

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, content_type, body)
}

async fn connect(app: &axum::Router, connection_id: &str, name: &str) {
    let request = post("/connect", connection_id)
        .header("x-chat-name", name)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(app, request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
}

#[tokio::test]
async fn the_routes_answer_with_the_contracts_status_codes() {
    let (app, notifier) = app();
    connect(&app, "a1", "alice").await;
    connect(&app, "b1", "bob").await;

    let body = r#"{"action":"sendmessage","to":"bob","text":"hi"}"#;
    let (status, content_type, reply) = call(
        &app,
        post("/sendmessage", "a1").body(Body::from(body)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["type"], "sent");
    assert_eq!(notifier.delivered_to("b1")[0]["id"], reply["id"]);

    let (status, _, reply) = call(
        &app,
        post("/who", "b1")
            .body(Body::from(r#"{"action":"who"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&reply).unwrap(),
        json!({"type":"who","users":["alice","bob"]})
    );

    // Errors for the sender are reply frames, hence 200.
    let (status, _, reply) = call(
        &app,
        post("/default", "b1")
            .body(Body::from("{\"action\":\"x\"}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&reply).unwrap()["code"],
        "unknown_action"
    );

    let (status, _, body) =
        call(&app, post("/disconnect", "b1").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
}

#[tokio::test]
async fn connect_with_a_bad_name_is_a_400_with_an_error_frame() {
    let (app, _) = app();
    for name in [None, Some("has space"), Some(&*"x".repeat(33))] {
        let mut request = post("/connect", "c1");
        if let Some(name) = name {
            request = request.header("x-chat-name", name);
        }
        let (status, content_type, body) = call(&app, request.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], "bad_request");
    }
}

#[tokio::test]
async fn without_the_secret_every_path_and_method_is_forbidden() {
    let (app, _) = app();
    for path in [
        "/connect",
        "/disconnect",
        "/sendmessage",
        "/who",
        "/default",
        "/",
        "/admin",
    ] {
        for secret in [None, Some("nope"), Some("")] {
            let mut request = Request::post(path)
                .header("x-connection-id", "c1")
                .header("x-chat-name", "eve");
            if let Some(secret) = secret {
                request = request.header("x-chat-secret", secret);
            }
            let (status, _, body) = call(&app, request.body(Body::from("{}")).unwrap()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} {secret:?}");
            assert_eq!(body, br#"{"message":"Forbidden"}"#);
        }
        let (status, _, _) = call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "GET {path}");
    }
}

#[tokio::test]
async fn with_the_secret_unknown_paths_are_404_and_other_methods_405() {
    let (app, _) = app();
    let (status, _, _) = call(&app, post("/admin", "c1").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let request = Request::get("/who")
        .header("x-chat-secret", SECRET)
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn call_lambda(app: &axum::Router, event: &str) -> (StatusCode, Vec<u8>) {
    let request = lambda_http::request::from_str(event).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, body)
}

#[tokio::test]
async fn function_url_events_reach_the_same_routes() {
    let (app, notifier) = app();
    let headers = |id: &str, extra: &[(&str, &str)]| {
        let mut h = json!({
            "x-chat-secret": SECRET,
            "x-connection-id": id,
            "x-request-id": "req-9",
            "content-type": "application/json",
            "host": "abcdefghijklmnop.lambda-url.eu-west-1.on.aws"
        });
        for (k, v) in extra {
            h[*k] = Value::String((*v).to_owned());
        }
        h
    };
    let (status, _) = call_lambda(
        &app,
        &function_url_event(
            "/connect",
            &headers(
                "A=",
                &[("x-chat-name", "alice"), ("x-route-key", "$connect")],
            ),
            "",
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call_lambda(
        &app,
        &function_url_event(
            "/connect",
            &headers("B=", &[("x-chat-name", "bob")]),
            "",
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let body = r#"{"action":"sendmessage","to":"bob","text":"hé"}"#;
    for base64 in [false, true] {
        let (status, reply) = call_lambda(
            &app,
            &function_url_event("/sendmessage", &headers("A=", &[]), body, base64),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["type"], "sent", "base64={base64}");
    }
    let frames = notifier.delivered_to("B=");
    assert_eq!(frames.len(), 2);
    assert!(
        frames
            .iter()
            .all(|f| f["text"] == "hé" && f["from"] == "alice")
    );

    let mut forged = headers("A=", &[]);
    forged["x-chat-secret"] = Value::String("guess".into());
    let (status, reply) =
        call_lambda(&app, &function_url_event("/who", &forged, "{}", false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reply, br#"{"message":"Forbidden"}"#);
}

#[tokio::test]
async fn a_backend_behind_a_path_prefix_routes_on_the_last_segment() {
    let (app, _) = app();
    let request = post("/chat/backend/connect", "p1")
        .header("x-chat-name", "alice")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = call(
        &app,
        post("/chat/backend/who", "p1")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"type": "who", "users": ["alice"]})
    );
    let (status, _, _) = call(&app, post("/who/", "p1").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
