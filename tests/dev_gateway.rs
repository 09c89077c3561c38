//! The local API Gateway of `chatctl dev` against fake backends: route selection, mappings,
//! responses, errors, limits, timeouts, throttling and the @connections API (DESIGN §7).
//! These mechanics do not depend on who connects, so the servers here run without sign-in
//! (`?name=`); `tests/dev_auth.rs` covers the gateway with its `$connect` authorizer.

// Each test holds servers and several WebSocket clients in one future, on purpose.
#![allow(clippy::large_futures)]

#[path = "dev_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chatctl::chat_api::{self, RouteSpec};
use chatctl::config::ApiSettings;
use common::{
    Behaviour, FakeBackend, TEST_SECRET, WAIT, bounded, close_code, closed_port, connect, http,
    start_with_backend, try_connect,
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

const LIMIT: Duration = Duration::from_secs(20);

fn routes_without(route_key: &str) -> Vec<RouteSpec> {
    chat_api::routes()
        .into_iter()
        .filter(|r| r.route_key != route_key)
        .collect()
}

#[tokio::test]
async fn route_selection_uses_the_action_field_and_falls_back_to_default() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        let cases = [
            (r#"{"action":"who"}"#, "who"),
            (
                r#"{"action":"sendmessage","to":"bob","text":"hi"}"#,
                "sendmessage",
            ),
            ("not json at all", "$default"),
            ("[1,2,3]", "$default"),
            (r#"{"action":"nosuchroute"}"#, "$default"),
            (r#"{"action":42}"#, "$default"),
            (r#"{"to":"bob"}"#, "$default"),
            (r#"{"action":"$connect"}"#, "$default"),
        ];
        for (frame, expected_route) in cases {
            alice.send_text(frame).await;
            let reply = alice.next_json().await;
            assert_eq!(reply["route"], expected_route, "{frame}");
            // The frame reaches the backend unchanged.
            assert_eq!(reply["body"], frame, "{frame}");
        }
        let paths: Vec<String> = backend.recorded().iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths,
            [
                "/connect",
                "/who",
                "/sendmessage",
                "/default",
                "/default",
                "/default",
                "/default",
                "/default",
                "/default"
            ]
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn integration_requests_carry_the_mapped_headers() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        alice.send_json(&json!({"action": "who"})).await;
        alice.next_json().await;

        let connect_request = backend.wait_for("/connect").await;
        let who = backend.wait_for("/who").await;
        let h = &connect_request.headers;
        assert_eq!(h["x-chat-secret"], TEST_SECRET);
        assert_eq!(h["x-chat-name"], "alice");
        assert_eq!(h["x-route-key"], "$connect");
        assert!(connect_request.body.is_empty());
        let connection_id = h["x-connection-id"].clone();
        assert_eq!(connection_id.len(), 16, "{connection_id}");
        assert!(connection_id.ends_with('='));

        let h = &who.headers;
        assert_eq!(h["x-chat-secret"], TEST_SECRET);
        assert_eq!(h["x-route-key"], "who");
        assert_eq!(h["x-connection-id"], connection_id);
        // Query strings are mapped on $connect only.
        assert!(!h.contains_key("x-chat-name"));
        // Every request has its own id.
        assert_ne!(h["x-request-id"], connect_request.headers["x-request-id"]);
        assert!(!h["x-request-id"].is_empty());

        alice.close().await;
        let disconnect = backend.wait_for("/disconnect").await;
        assert_eq!(disconnect.headers["x-connection-id"], connection_id);
        assert_eq!(disconnect.headers["x-route-key"], "$disconnect");
        assert!(disconnect.body.is_empty());
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn custom_mappings_from_context_static_values_and_the_body() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let mut routes = chat_api::routes();
        for route in &mut routes {
            let p = &mut route.request_parameters;
            p.insert(
                "integration.request.header.x-event".into(),
                "context.eventType".into(),
            );
            p.insert(
                "integration.request.header.x-stage".into(),
                "context.stage".into(),
            );
            p.insert(
                "integration.request.header.x-fixed".into(),
                "'constant'".into(),
            );
            p.insert(
                "integration.request.querystring.stage".into(),
                "context.stage".into(),
            );
            if route.route_key == "$connect" {
                p.insert(
                    "integration.request.header.x-agent".into(),
                    "route.request.header.host".into(),
                );
                // Mapped request headers are declared by the route, as API Gateway requires.
                route
                    .route_parameters
                    .insert("route.request.header.host".into(), false);
            } else {
                p.insert(
                    "integration.request.header.x-to".into(),
                    "route.request.body.to".into(),
                );
            }
        }
        let server = start_with_backend(&backend.url, |o| {
            o.routes = routes;
            o.stage = "test".into();
        })
        .await;
        let mut alice = connect(&server, "alice").await;
        alice
            .send_json(&json!({"action": "sendmessage", "to": "bob"}))
            .await;
        alice.next_json().await;
        let connect_request = backend.wait_for("/connect").await;
        assert_eq!(connect_request.headers["x-event"], "CONNECT");
        assert_eq!(connect_request.headers["x-stage"], "test");
        assert_eq!(connect_request.headers["x-fixed"], "constant");
        assert_eq!(connect_request.query.as_deref(), Some("stage=test"));
        assert_eq!(
            connect_request.headers["x-agent"],
            server.addr().to_string(),
            "the Host header of the upgrade request"
        );
        let message = backend.wait_for("/sendmessage").await;
        assert_eq!(message.headers["x-event"], "MESSAGE");
        assert_eq!(message.headers["x-to"], "bob");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn no_match_without_a_default_route_answers_forbidden() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server =
            start_with_backend(&backend.url, |o| o.routes = routes_without("$default")).await;
        let mut alice = connect(&server, "alice").await;
        let connection_id = backend.wait_for("/connect").await.headers["x-connection-id"].clone();
        for frame in ["hello", r#"{"action":"dance"}"#] {
            alice.send_text(frame).await;
            let reply = alice.next_json().await;
            assert_eq!(reply["message"], "Forbidden");
            assert_eq!(reply["connectionId"], connection_id.as_str());
            assert!(reply["requestId"].as_str().is_some_and(|id| !id.is_empty()));
            assert_eq!(reply.as_object().unwrap().len(), 3, "{reply}");
        }
        // Matching routes still work.
        alice.send_json(&json!({"action": "who"})).await;
        assert_eq!(alice.next_json().await["route"], "who");
        assert!(backend.on("/default").is_empty());
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn replies_reach_the_client_only_on_two_way_routes() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let mut routes = chat_api::routes();
        for route in &mut routes {
            if route.route_key == "who" {
                route.two_way = false;
            }
        }
        let server = start_with_backend(&backend.url, |o| o.routes = routes).await;
        let mut alice = connect(&server, "alice").await;
        alice.send_json(&json!({"action": "who"})).await;
        backend.wait_for("/who").await;
        alice.expect_silence(Duration::from_millis(300)).await;
        // Messages are handled in order, so the next frame is the reply to this one.
        alice.send_json(&json!({"action": "sendmessage"})).await;
        assert_eq!(alice.next_json().await["route"], "sendmessage");
        server.shutdown().await.unwrap();
    })
    .await;
}

async fn assert_internal_server_error(alice: &mut common::Client, frame: &str) {
    alice.send_text(frame).await;
    let reply = alice.next_json().await;
    assert_eq!(reply["message"], "Internal server error", "{reply}");
    assert!(
        reply["connectionId"]
            .as_str()
            .is_some_and(|id| id.len() == 16)
    );
    assert!(reply["requestId"].as_str().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn a_failing_backend_gives_internal_server_error_on_every_route() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::FailMessages).await;
        let mut routes = chat_api::routes();
        for route in &mut routes {
            if route.route_key == "who" {
                route.two_way = false;
            }
        }
        let server = start_with_backend(&backend.url, |o| o.routes = routes).await;
        let mut alice = connect(&server, "alice").await;
        assert_internal_server_error(&mut alice, r#"{"action":"sendmessage"}"#).await;
        assert_internal_server_error(&mut alice, "not json").await;
        // One-way route: the error still reaches the sender.
        assert_internal_server_error(&mut alice, r#"{"action":"who"}"#).await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_backend_that_went_away_gives_internal_server_error() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        backend.stop().await;
        assert_internal_server_error(&mut alice, r#"{"action":"who"}"#).await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_slow_backend_times_out_with_internal_server_error() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Slow(Duration::from_secs(3))).await;
        let server = start_with_backend(&backend.url, |o| {
            o.integration_timeout = Duration::from_millis(300);
        })
        .await;
        let mut alice = connect(&server, "alice").await;
        let started = Instant::now();
        assert_internal_server_error(&mut alice, r#"{"action":"who"}"#).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn connect_is_refused_when_the_backend_is_down() {
    bounded(LIMIT, async {
        let port = closed_port().await;
        let server = start_with_backend(&format!("http://127.0.0.1:{port}"), |_| {}).await;
        let refused = try_connect(&format!("{}?name=alice", server.websocket_url()))
            .await
            .expect_err("the handshake must be refused");
        assert_eq!(refused.status, 500);
        assert_eq!(refused.body, r#"{"message":"Internal server error"}"#);
        assert_eq!(server.connection_count(), 0);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn connect_refused_by_the_integration_passes_its_status_and_body() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::RefuseConnect).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let refused = try_connect(&format!("{}?name=alice", server.websocket_url()))
            .await
            .expect_err("the handshake must be refused");
        assert_eq!(refused.status, 400);
        let body: Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(body["code"], "bad_request");
        // A connection that never opened gets no $disconnect.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(backend.on("/disconnect").is_empty());
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_plain_get_on_the_stage_asks_for_an_upgrade() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let response = http()
            .get(server.websocket_url().replace("ws://", "http://"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 426);
        assert!(backend.recorded().is_empty());
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn frames_up_to_32_kb_pass_and_larger_ones_close_with_1009() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        let largest = "x".repeat(32 * 1024);
        alice.send_text(&largest).await;
        assert_eq!(alice.next_json().await["route"], "$default");

        alice.send_text(&"x".repeat(32 * 1024 + 1)).await;
        assert_eq!(close_code(alice.expect_close(WAIT).await), 1009);
        backend.wait_for("/disconnect").await;
        assert_eq!(backend.on("/default").len(), 1);
        server.shutdown().await.unwrap();
    })
    .await;
}

/// Sends `total` bytes of text as a fragmented message of 16 KB frames.
async fn send_fragmented(client: &mut common::Client, total: usize) {
    const CHUNK: usize = 16 * 1024;
    let mut sent = 0;
    while sent < total {
        let size = CHUNK.min(total - sent);
        let opcode = if sent == 0 {
            Data::Text
        } else {
            Data::Continue
        };
        let last = sent + size == total;
        let frame = Frame::message(vec![b'y'; size], OpCode::Data(opcode), last);
        if client.send_raw(Message::Frame(frame)).await.is_err() {
            return; // the server may already have closed
        }
        sent += size;
    }
}

#[tokio::test]
async fn messages_up_to_128_kb_pass_and_larger_ones_close_with_1009() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        send_fragmented(&mut alice, 128 * 1024).await;
        let reply = alice.next_json().await;
        assert_eq!(reply["body"].as_str().map(str::len), Some(128 * 1024));

        send_fragmented(&mut alice, 128 * 1024 + 1).await;
        assert_eq!(close_code(alice.expect_close(WAIT).await), 1009);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn idle_connections_are_closed_with_1001() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |o| {
            o.idle_timeout = Duration::from_millis(1500);
        })
        .await;
        let mut alice = connect(&server, "alice").await;
        // Activity keeps it open past the idle timeout (generous margins: the machine may be busy)…
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            alice.send_json(&json!({"action": "who"})).await;
            alice.next_json().await;
        }
        // …and silence closes it.
        let started = Instant::now();
        assert_eq!(
            close_code(alice.expect_close(Duration::from_secs(4)).await),
            1001
        );
        assert!(
            started.elapsed() >= Duration::from_millis(1200),
            "{:?}",
            started.elapsed()
        );
        backend.wait_for("/disconnect").await;
        assert_eq!(server.connection_count(), 0);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn frames_sent_to_the_client_keep_it_alive_too() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |o| {
            o.idle_timeout = Duration::from_millis(1500);
        })
        .await;
        let mut alice = connect(&server, "alice").await;
        let id = backend.wait_for("/connect").await.headers["x-connection-id"].clone();
        let url = format!(
            "{}/@connections/{}",
            server.connections_url(),
            id.replace('=', "%3D")
        );
        // The client sends nothing; the backend posts to it every 500 ms (a server-side
        // keep-alive, as services built on API Gateway do): idle counts both directions.
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(3000) {
            let posted = http().post(&url).body("ping").send().await.unwrap();
            assert_eq!(posted.status(), 200, "closed after {:?}", started.elapsed());
            assert_eq!(alice.next_text().await, "ping");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Silence both ways closes it.
        assert_eq!(
            close_code(alice.expect_close(Duration::from_secs(4)).await),
            1001
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn connections_end_after_the_maximum_duration_even_when_active() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |o| {
            o.max_connection = Duration::from_millis(1500);
            o.idle_timeout = Duration::from_mins(1);
        })
        .await;
        let mut alice = connect(&server, "alice").await;
        let started = Instant::now();
        // A message every 200 ms: never idle, yet closed at the maximum duration.
        let code = loop {
            assert!(started.elapsed() < Duration::from_secs(4), "never closed");
            if alice
                .send_raw(Message::text(r#"{"action":"who"}"#))
                .await
                .is_err()
            {
                panic!("the connection failed without a close frame");
            }
            match alice.next_message(Duration::from_millis(200)).await {
                Some(Message::Close(frame)) => break close_code(frame),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        assert_eq!(code, 1001);
        let lived = started.elapsed();
        assert!(
            lived >= Duration::from_millis(1200) && lived < Duration::from_secs(3),
            "{lived:?}"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

fn tight_throttle() -> ApiSettings {
    ApiSettings {
        throttling_burst_limit: 3,
        // One token every 10 s: nothing refills while the test runs.
        throttling_rate_limit: 0.1,
        ..ApiSettings::default()
    }
}

#[tokio::test]
async fn throttled_connects_get_429() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |o| o.api = tight_throttle()).await;
        let url = format!("{}?name=alice", server.websocket_url());
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(try_connect(&url).await.expect("within the burst"));
        }
        let refused = try_connect(&url).await.expect_err("over the burst");
        assert_eq!(refused.status, 429);
        assert_eq!(refused.body, r#"{"message":"Too Many Requests"}"#);
        // The throttled attempt never reached the backend.
        assert_eq!(backend.on("/connect").len(), 3);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn throttled_messages_get_too_many_requests_frames_then_recover() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |o| {
            o.api = ApiSettings {
                throttling_burst_limit: 3,
                throttling_rate_limit: 1.0,
                ..ApiSettings::default()
            };
        })
        .await;
        let mut alice = connect(&server, "alice").await; // one token
        for _ in 0..5 {
            alice.send_json(&json!({"action": "who"})).await;
        }
        let mut frames = Vec::new();
        for _ in 0..5 {
            frames.push(alice.next_json().await);
        }
        let throttled: Vec<&Value> = frames
            .iter()
            .filter(|f| f["message"] == "Too Many Requests")
            .collect();
        let answered = frames.iter().filter(|f| f["route"] == "who").count();
        // Two tokens were left; unless a second passed, three messages were throttled.
        assert!(throttled.len() >= 2, "{frames:?}");
        assert_eq!(throttled.len() + answered, 5, "{frames:?}");
        assert!(throttled[0]["connectionId"].is_string() && throttled[0]["requestId"].is_string());
        // The bucket refills at one token per second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        alice.send_json(&json!({"action": "who"})).await;
        assert_eq!(alice.next_json().await["route"], "who");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn connections_api_posts_inspects_and_deletes() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        let id = backend.wait_for("/connect").await.headers["x-connection-id"].clone();
        let base = format!("{}/@connections", server.connections_url());
        // The id arrives URL-encoded, as AWS SDKs send it.
        let url = format!("{base}/{}", id.replace('=', "%3D"));
        let client = http();

        let posted = client
            .post(&url)
            .body(r#"{"hello":"alice"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200);
        assert_eq!(alice.next_text().await, r#"{"hello":"alice"}"#);

        let info = client.get(&url).send().await.unwrap();
        assert_eq!(info.status(), 200);
        let info: Value = info.json().await.unwrap();
        for field in ["connectedAt", "lastActiveAt"] {
            let at = info[field].as_str().unwrap();
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|err| panic!("{field} {at}: {err}"));
        }
        assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
        assert!(info["identity"]["userAgent"].is_string());

        let too_big = client
            .post(&url)
            .body(vec![b'z'; 128 * 1024 + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(too_big.status(), 413);

        let deleted = client.delete(&url).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(close_code(alice.expect_close(WAIT).await), 1000);

        for response in [
            client.post(&url).body("late").send().await.unwrap(),
            client.get(&url).send().await.unwrap(),
            client.delete(&url).send().await.unwrap(),
            client
                .post(format!("{base}/bm9wZQ%3D%3D"))
                .body("x")
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(response.status(), 410);
            assert_eq!(response.headers()["x-amzn-errortype"], "GoneException");
            let body: Value = response.json().await.unwrap();
            assert!(body["message"].is_string());
        }
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_connections_with_1001_and_runs_disconnect() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |_| {}).await;
        let mut alice = connect(&server, "alice").await;
        let mut bob = connect(&server, "bob").await;
        let shutdown = tokio::spawn(server.shutdown());
        assert_eq!(close_code(alice.expect_close(WAIT).await), 1001);
        assert_eq!(close_code(bob.expect_close(WAIT).await), 1001);
        shutdown.await.unwrap().unwrap();
        assert_eq!(backend.on("/disconnect").len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_mapping_from_an_undeclared_route_parameter_does_not_start() {
    let mut routes = chat_api::routes();
    // What API Gateway would not deploy: $connect maps a query string it does not declare.
    routes[0].request_parameters.insert(
        "integration.request.header.x-token".into(),
        "route.request.querystring.token".into(),
    );
    let options = chatctl::dev::DevOptions {
        routes: routes.clone(),
        backend_url: Some("http://127.0.0.1:9".into()),
        ..chatctl::dev::DevOptions::without_auth()
    };
    let err = chatctl::dev::start(options).await.unwrap_err();
    assert!(
        format!("{err:#}").contains(
            "route $connect: request parameter route.request.querystring.token is not declared by the route"
        ),
        "{err:#}"
    );
    // Declared (optional, like the name), the same definition starts.
    routes[0]
        .route_parameters
        .insert("route.request.querystring.token".into(), false);
    let server = chatctl::dev::start(chatctl::dev::DevOptions {
        routes,
        backend_url: Some("http://127.0.0.1:9".into()),
        backend_secret: Some(common::TEST_SECRET.into()),
        ..chatctl::dev::DevOptions::without_auth()
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_definition_api_gateway_would_refuse_does_not_start() {
    let mut routes = chat_api::routes();
    routes[3].request_parameters.insert(
        "integration.request.header.x-name".into(),
        "route.request.querystring.name".into(),
    );
    let options = chatctl::dev::DevOptions {
        routes,
        backend_url: Some("http://127.0.0.1:9".into()),
        ..chatctl::dev::DevOptions::without_auth()
    };
    let err = chatctl::dev::start(options).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("available on the $connect route only"),
        "{err:#}"
    );
}
