//! The `bootstrap` executable end to end: as a plain HTTP server (`--listen`) and under a fake
//! Lambda Runtime API serving function URL events. Everything on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort the test

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use common::runtime_api::RuntimeApi;
use common::{SECRET, function_url_event, http1};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};

const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_bootstrap");

type Log = Arc<Mutex<Vec<(Method, String, Vec<u8>)>>>;

/// A local @connections endpoint that accepts every post and records it.
async fn connections_sink() -> (String, Log) {
    async fn record(State(log): State<Log>, method: Method, uri: Uri, body: Bytes) -> StatusCode {
        log.lock()
            .unwrap()
            .push((method, uri.path().to_owned(), body.to_vec()));
        StatusCode::OK
    }
    let log = Log::default();
    let app = Router::new().fallback(record).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/dev"), log)
}

/// `bootstrap` with a clean environment: no AWS settings leak in from the machine.
fn bootstrap(callback_url: &str) -> Command {
    let mut command = Command::new(BOOTSTRAP);
    command
        .env_clear()
        .env("CHAT_SECRET", SECRET)
        .env("CHAT_CALLBACK_URL", callback_url)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Stops the child and returns everything it wrote to stderr after `seen`.
async fn stop(mut child: Child, mut seen: String) -> String {
    child.start_kill().unwrap();
    let mut rest = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stderr.read_to_string(&mut rest)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    seen.push_str(&rest);
    seen
}

#[tokio::test]
async fn listen_mode_serves_the_contract() {
    let (callback, sink) = connections_sink().await;
    let mut child = bootstrap(&callback)
        .args(["--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).await.unwrap() > 0,
                "bootstrap exited: {seen}"
            );
            seen.push_str(&line);
            if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                return addr.to_owned();
            }
        }
    })
    .await
    .expect("bootstrap announces its address");

    let mut connection = http1::Connection::open(&addr).await.unwrap();
    let mut post = async |path: &str, id: &str, extra: Option<(&str, &str)>, body: &str| {
        let mut headers = vec![
            ("x-chat-secret", SECRET),
            ("x-connection-id", id),
            ("x-request-id", "req-1"),
        ];
        headers.extend(extra);
        connection
            .request("POST", path, &headers, body.as_bytes())
            .await
            .unwrap()
    };
    for (id, name) in [("a1", "alice"), ("b1", "bob")] {
        let response = post("/connect", id, Some(("x-chat-name", name)), "").await;
        assert_eq!(response.status, 204);
    }
    let reply = post(
        "/sendmessage",
        "a1",
        None,
        r#"{"action":"sendmessage","to":"bob","text":"over http"}"#,
    )
    .await
    .json();
    assert_eq!(reply["type"], "sent");
    let who = post("/who", "b1", None, r#"{"action":"who"}"#).await.json();
    assert_eq!(who, json!({"type": "who", "users": ["alice", "bob"]}));
    let headers = [("x-chat-secret", "not-it"), ("x-connection-id", "b1")];
    let forbidden = http1::post(&addr, "/who", &headers, b"{}").await.unwrap();
    assert_eq!(forbidden.status, 403);

    let posts = sink.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0, Method::POST);
    assert_eq!(posts[0].1, "/dev/@connections/b1");
    let frame: Value = serde_json::from_slice(&posts[0].2).unwrap();
    assert_eq!(frame["id"], reply["id"]);
    assert_eq!(frame["text"], "over http");

    child.stderr = Some(stderr.into_inner());
    let log = stop(child, seen).await;
    assert!(log.contains("connected"), "{log}");
    assert!(
        !log.contains(SECRET),
        "the secret leaked into the log:\n{log}"
    );
}

#[tokio::test]
async fn it_refuses_to_start_misconfigured() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case<'_>; 4] = [
        (&[("CHAT_SECRET", "")], &[], "CHAT_SECRET must be set"),
        (
            &[("CHAT_CALLBACK_URL", "")],
            &[],
            "CHAT_CALLBACK_URL must be set",
        ),
        (
            &[(
                "CHAT_CALLBACK_URL",
                "wss://abc.execute-api.eu-west-1.amazonaws.com/dev",
            )],
            &[],
            "is the WebSocket URL",
        ),
        (&[], &["--listen", "nowhere"], "is not an address"),
    ];
    for (env, args, expected) in cases {
        let mut command = bootstrap("http://127.0.0.1:9/dev");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = tokio::time::timeout(Duration::from_secs(30), command.args(args).output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains(SECRET));
    }
}

#[tokio::test]
async fn lambda_mode_answers_function_url_events() {
    let (callback, sink) = connections_sink().await;
    let headers = |id: &str, extra: &[(&str, &str)]| {
        let mut headers =
            json!({"x-chat-secret": SECRET, "x-connection-id": id, "x-request-id": "r"});
        for (key, value) in extra {
            headers[*key] = Value::String((*value).to_owned());
        }
        headers
    };
    let api = RuntimeApi::with_events(vec![
        function_url_event(
            "/connect",
            &headers("A1", &[("x-chat-name", "alice")]),
            "",
            false,
        ),
        function_url_event(
            "/connect",
            &headers("B1", &[("x-chat-name", "bob")]),
            "",
            false,
        ),
        function_url_event(
            "/connect",
            &headers("C1", &[("x-chat-name", "no way")]),
            "",
            false,
        ),
        function_url_event(
            "/sendmessage",
            &headers("A1", &[]),
            r#"{"action":"sendmessage","to":"bob","text":"from lambda"}"#,
            false,
        ),
        function_url_event(
            "/who",
            &headers("B1", &[("x-chat-secret", "wrong")]),
            "{}",
            false,
        ),
    ]);
    let runtime_addr = api.serve().await;

    let child = bootstrap(&callback)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "chat-dev-backend")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .spawn()
        .unwrap();
    let done = common::eventually(Duration::from_secs(30), || {
        api.responses.lock().unwrap().len() >= 5
    })
    .await;
    let log = stop(child, String::new()).await;
    assert!(
        done,
        "responses: {:?}\nlog: {log}",
        api.responses.lock().unwrap()
    );
    assert!(
        api.errors.lock().unwrap().is_empty(),
        "{:?}",
        api.errors.lock().unwrap()
    );

    let responses = api.responses.lock().unwrap().clone();
    let status = |i: usize| responses[i].1["statusCode"].as_u64().unwrap();
    let body = |i: usize| -> Value {
        serde_json::from_str(responses[i].1["body"].as_str().unwrap()).unwrap()
    };
    assert_eq!(responses[0].0, "invocation-0");
    assert_eq!((status(0), status(1)), (204, 204));
    assert_eq!(status(2), 400);
    assert_eq!(body(2)["code"], "bad_request");
    assert_eq!(status(3), 200);
    assert_eq!(body(3)["type"], "sent");
    assert_eq!(status(4), 403);
    assert_eq!(body(4), json!({"message": "Forbidden"}));

    let posts = sink.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].1, "/dev/@connections/B1");
    let frame: Value = serde_json::from_slice(&posts[0].2).unwrap();
    assert_eq!(
        (frame["from"].as_str(), frame["text"].as_str()),
        (Some("alice"), Some("from lambda"))
    );
    assert!(
        !log.contains(SECRET),
        "the secret leaked into the log:\n{log}"
    );

    // On Lambda every line is one JSON object carrying its spans: the connection and request
    // of the chat span, and Lambda's request id of the invocation (what `chatctl logs` ties
    // to the access log and to Lambda's REPORT lines).
    // (The process is killed: only a last line may have been cut short.)
    let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    let events: Vec<Value> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| match serde_json::from_str(line) {
            Ok(event) => Some(event),
            Err(_) if i + 1 == lines.len() => None,
            Err(e) => panic!("not JSON ({e}): {line}"),
        })
        .collect();
    let connected = events
        .iter()
        .find(|e| e["message"] == "connected" && e["name"] == "alice")
        .unwrap_or_else(|| panic!("no `connected` event for alice in:\n{log}"));
    assert_eq!(connected["level"], "INFO");
    let spans = connected["spans"].as_array().unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "Lambda runtime invoke" && s["requestId"] == "invocation-0"),
        "{connected}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "chat" && s["connection_id"] == "A1" && s["request_id"] == "r"),
        "{connected}"
    );
}

#[tokio::test]
async fn authorizer_role_answers_api_gateway_authorizer_events() {
    let issuer = common::issuer::Issuer::start().await;
    let expired = {
        let mut claims = issuer.claims("alice");
        claims["exp"] = json!(1_000_000_000);
        issuer.signer.sign(&claims).unwrap()
    };
    let bad_name = {
        let mut claims = issuer.claims("alice");
        claims["preferred_username"] = json!("not a name");
        issuer.signer.sign(&claims).unwrap()
    };
    let events = [
        Some(issuer.token("alice")),
        None,
        Some(expired),
        Some(bad_name),
        Some(issuer.token("bob")),
    ];
    let api = RuntimeApi::with_events(
        events
            .iter()
            .enumerate()
            .map(|(i, token)| {
                common::issuer::authorizer_event(token.as_deref(), &format!("C{i}")).to_string()
            })
            .collect(),
    );
    let runtime_addr = api.serve().await;
    let child = bootstrap("http://127.0.0.1:9/dev")
        .env("CHAT_ROLE", "authorizer")
        .env("CHAT_AUTH_PROVIDER", "oidc")
        .env("CHAT_AUTH_ISSUER", &issuer.url)
        .env("CHAT_AUTH_AUDIENCE", common::issuer::CLIENT_ID)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "chat-dev-authorizer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .spawn()
        .unwrap();
    let done = common::eventually(Duration::from_secs(30), || api.answers() >= 5).await;
    let log = stop(child, String::new()).await;
    assert!(done, "log: {log}");

    let responses: std::collections::BTreeMap<String, Value> =
        api.responses.lock().unwrap().iter().cloned().collect();
    let errors: std::collections::BTreeMap<String, Value> = api
        .errors
        .lock()
        .unwrap()
        .iter()
        .map(|(id, body)| (id.clone(), serde_json::from_str(body).unwrap()))
        .collect();
    let allow = &responses["invocation-0"];
    assert_eq!(allow["principalId"], "sub-alice");
    assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        allow["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/dev/$connect"
    );
    // The backend secret of the environment travels in the context, for the integrations.
    assert_eq!(
        allow["context"],
        json!({"name": "alice", "backendSecret": SECRET})
    );
    for unauthorized in ["invocation-1", "invocation-2"] {
        assert_eq!(
            errors[unauthorized]["errorMessage"], "Unauthorized",
            "{errors:?}"
        );
    }
    assert_eq!(
        responses["invocation-3"]["policyDocument"]["Statement"][0]["Effect"],
        "Deny"
    );
    assert_eq!(responses["invocation-4"]["context"]["name"], "bob");
    // Discovery and the key set were fetched once, during init.
    assert_eq!(issuer.jwks_requests(), 1);
    assert!(
        !log.contains(SECRET),
        "the secret leaked into the log:\n{log}"
    );
    for (i, token) in events.iter().enumerate() {
        if let Some(token) = token {
            assert!(
                !log.contains(token.as_str()),
                "token {i} leaked into the log:\n{log}"
            );
        }
    }
}

#[tokio::test]
async fn authorizer_role_outside_lambda_is_refused() {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        bootstrap("http://127.0.0.1:9/dev")
            .env("CHAT_ROLE", "authorizer")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("runs under AWS Lambda only"));
}
