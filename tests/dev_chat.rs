//! The chat protocol (DESIGN §2) end to end through `chatctl dev` with its in-process backend,
//! and the frontend it serves. The clients sign in as `chatctl dev` runs by default: each joins
//! with an ID token for its name from the local sign-in (`tests/dev_auth.rs` covers what the
//! authorizer refuses).

// Each test holds servers and several WebSocket clients in one future, on purpose.
#![allow(clippy::large_futures)]

#[path = "dev_common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chatctl::dev::DevOptions;
use common::{
    Client, WAIT, bounded, connect, http, start, start_chat, start_without_auth, try_connect,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);
const QUIET: Duration = Duration::from_millis(300);

async fn send(from: &mut Client, to: &str, text: &str) -> Value {
    from.send_json(&json!({"action": "sendmessage", "to": to, "text": text}))
        .await;
    from.next_json().await
}

fn assert_error(frame: &Value, code: &str) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert!(
        frame["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{frame}"
    );
}

#[tokio::test]
async fn messages_reach_only_the_addressee_with_the_server_side_sender() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let mut alice = connect(&server, "alice").await;
        let mut bob = connect(&server, "bob").await;
        let mut carol = connect(&server, "carol").await;

        // A client-supplied `from` (an unknown field) is ignored.
        alice
            .send_json(
                &json!({"action": "sendmessage", "to": "bob", "text": "hi bob", "from": "mallory"}),
            )
            .await;
        let sent = alice.next_json().await;
        assert_eq!(sent["type"], "sent");
        assert_eq!(sent["to"], "bob");
        let message = bob.next_json().await;
        assert_eq!(message["type"], "message");
        assert_eq!(message["from"], "alice");
        assert_eq!(message["text"], "hi bob");
        assert_eq!(message["id"], sent["id"]);
        let at = message["at"].as_str().unwrap();
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();

        let reply = send(&mut bob, "alice", "hello alice").await;
        assert_eq!(reply["type"], "sent");
        let message = alice.next_json().await;
        assert_eq!(
            (message["from"].as_str(), message["text"].as_str()),
            (Some("bob"), Some("hello alice"))
        );

        // Carol saw none of it.
        carol.expect_silence(QUIET).await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn every_tab_of_a_name_receives_its_messages() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let mut alice = connect(&server, "alice").await;
        let mut bob_laptop = connect(&server, "bob").await;
        let mut bob_phone = connect(&server, "bob").await;
        let sent = send(&mut alice, "bob", "both of you").await;
        for tab in [&mut bob_laptop, &mut bob_phone] {
            let message = tab.next_json().await;
            assert_eq!(message["text"], "both of you");
            assert_eq!(message["id"], sent["id"]);
        }
        // A closed tab leaves the other one reachable.
        bob_phone.close().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            send(&mut alice, "bob", "still there?").await["type"],
            "sent"
        );
        assert_eq!(bob_laptop.next_json().await["text"], "still there?");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn who_lists_every_online_name_once_sorted() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let mut carol = connect(&server, "carol").await;
        let _alice = connect(&server, "alice").await;
        let _alice_again = connect(&server, "alice").await;
        let bob = connect(&server, "bob").await;
        carol.send_json(&json!({"action": "who"})).await;
        assert_eq!(
            carol.next_json().await,
            json!({"type": "who", "users": ["alice", "bob", "carol"]})
        );
        bob.close().await;
        // $disconnect is best effort and asynchronous: wait until bob is gone.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            carol.send_json(&json!({"action": "who"})).await;
            let who = carol.next_json().await;
            if who["users"] == json!(["alice", "carol"]) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "bob still listed: {who}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn mistakes_get_error_frames_seen_by_the_sender_only() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let mut alice = connect(&server, "alice").await;
        let mut bob = connect(&server, "bob").await;

        alice.send_text("this is not JSON").await;
        assert_error(&alice.next_json().await, "bad_request");
        alice.send_text("[1,2]").await;
        assert_error(&alice.next_json().await, "bad_request");
        alice.send_json(&json!({"action": "dance"})).await;
        assert_error(&alice.next_json().await, "unknown_action");
        alice
            .send_json(&json!({"action": "sendmessage", "to": "bob"}))
            .await;
        assert_error(&alice.next_json().await, "bad_request");
        alice
            .send_json(&json!({"action": "sendmessage", "to": "bob", "text": ""}))
            .await;
        assert_error(&alice.next_json().await, "bad_request");
        alice
            .send_json(&json!({"action": "sendmessage", "to": "bob", "text": 5}))
            .await;
        assert_error(&alice.next_json().await, "bad_request");
        assert_error(&send(&mut alice, "nobody", "hello?").await, "peer_offline");
        assert_error(
            &send(&mut alice, "bob", &"é".repeat(4097)).await,
            "too_large",
        );
        // 4096 characters (8 KB in UTF-8) are fine.
        assert_eq!(
            send(&mut alice, "bob", &"é".repeat(4096)).await["type"],
            "sent"
        );
        assert_eq!(
            bob.next_json().await["text"]
                .as_str()
                .map(|t| t.chars().count()),
            Some(4096)
        );

        bob.expect_silence(QUIET).await;
        server.shutdown().await.unwrap();
    })
    .await;
}

/// Without sign-in (`--no-auth`), the backend checks the name the client picked.
#[tokio::test]
async fn without_sign_in_bad_or_missing_names_refuse_the_handshake_with_400() {
    bounded(LIMIT, async {
        let server = start_without_auth().await;
        let base = server.websocket_url();
        for query in [
            "",
            "?name=",
            "?name=has%20space",
            "?name=%C3%A9",
            "?other=x",
            &format!("?name={}", "n".repeat(33)),
        ] {
            let refused = try_connect(&format!("{base}{query}"))
                .await
                .err()
                .unwrap_or_else(|| panic!("{query:?} must be refused"));
            assert_eq!(refused.status, 400, "{query:?}");
            let body: Value = serde_json::from_str(&refused.body).unwrap();
            assert_eq!(body["code"], "bad_request", "{query:?}");
        }
        assert_eq!(server.connection_count(), 0);
        // The longest valid name and every allowed character work.
        let name = format!("A-z_09{}", "x".repeat(26));
        let client = connect(&server, &name).await;
        assert_eq!(server.connection_count(), 1);
        client.close().await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_frontend_is_served_with_config_and_spa_fallback() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let client = http();
        let base = server.frontend_url();
        let index = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/frontend/index.html"
        ))
        .unwrap();

        for (path, content_type) in [
            ("", "text/html; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("styles.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
        ] {
            let response = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], content_type, "{path}");
        }

        let config = client.get(format!("{base}config.js")).send().await.unwrap();
        assert_eq!(
            config.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let config = config.text().await.unwrap();
        assert!(
            config.contains(&format!(
                "window.CHAT_CONFIG = {{ websocketUrl: \"{}\", auth: {{",
                server.websocket_url()
            )),
            "{config}"
        );
        // The sign-in settings point at the local provider.
        let auth = config
            .split_once("auth: ")
            .and_then(|(_, rest)| rest.strip_suffix(" };\n"))
            .unwrap();
        let auth: Value = serde_json::from_str(auth).unwrap();
        let issuer = server.urls().sign_in_url.unwrap();
        assert_eq!(auth["provider"], "oidc");
        assert_eq!(auth["issuer"], issuer);
        assert_eq!(auth["clientId"], "chatctl-dev");
        assert_eq!(auth["authorizationEndpoint"], format!("{issuer}/authorize"));
        assert_eq!(auth["tokenEndpoint"], format!("{issuer}/token"));
        assert_eq!(auth["logoutEndpoint"], format!("{issuer}/logout"));
        assert_eq!(auth["nameClaim"], "preferred_username");

        // Deep links and reloads get the app.
        for path in ["chat/bob", "chat/bob/", "some/unknown/page"] {
            let response = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(
                response.headers()["content-type"],
                "text/html; charset=utf-8"
            );
            assert_eq!(response.text().await.unwrap(), index, "{path}");
        }
        // …but not the gateway's paths.
        let stage = client
            .get(server.websocket_url().replace("ws://", "http://"))
            .send()
            .await
            .unwrap();
        assert_eq!(stage.status(), 426);
        let typo = client
            .get(format!("{}/@connections", server.connections_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(typo.status(), 404);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_frontend_directory_replaces_the_embedded_one() {
    bounded(LIMIT, async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<p>custom</p>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/site.css"), "p{}").unwrap();
        let server = start(DevOptions {
            frontend_dir: Some(dir.path().to_owned()),
            ..DevOptions::default()
        })
        .await;
        let client = http();
        let base = server.frontend_url();
        let get = |path: &str| client.get(format!("{base}{path}")).send();
        assert_eq!(
            get("").await.unwrap().text().await.unwrap(),
            "<p>custom</p>"
        );
        let css = get("assets/site.css").await.unwrap();
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(css.text().await.unwrap(), "p{}");
        assert_eq!(
            get("chat/alice").await.unwrap().text().await.unwrap(),
            "<p>custom</p>"
        );
        // config.js is always generated, and nothing outside the directory is reachable.
        assert!(
            get("config.js")
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("websocketUrl")
        );
        let escape = get("..%2F..%2Fetc%2Fpasswd")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(escape, "<p>custom</p>");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn names_are_free_again_after_disconnect_and_backend_posts_stay_ordered() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let mut alice = connect(&server, "alice").await;
        let mut bob = connect(&server, "bob").await;
        // Several messages in a row arrive in order.
        for i in 0..20 {
            alice
                .send_json(&json!({"action": "sendmessage", "to": "bob", "text": format!("m{i}")}))
                .await;
        }
        let mut acks = Vec::new();
        for i in 0..20 {
            assert_eq!(bob.next_json().await["text"], format!("m{i}"));
            acks.push(alice.next_json().await["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            acks.iter().collect::<BTreeSet<_>>().len(),
            20,
            "ids are unique"
        );
        bob.close().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_error(&send(&mut alice, "bob", "gone?").await, "peer_offline");
        let mut bob = connect(&server, "bob").await;
        assert_eq!(
            send(&mut alice, "bob", "welcome back").await["type"],
            "sent"
        );
        assert_eq!(bob.next_json().await["text"], "welcome back");
        server.shutdown().await.unwrap();
    })
    .await;
}
