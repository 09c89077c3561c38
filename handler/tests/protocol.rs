//! The chat protocol (DESIGN §2) through `handle`, with an in-memory registry and a recording
//! @connections fake.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort the test

mod common;

use std::time::Duration;

use chat_handler::{NOT_JOINED_MESSAGE, Reply, Request, Route};
use common::{Chat, SECRET, body_json, eventually};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn error(code: &str, message: &str) -> Value {
    json!({"type": "error", "code": code, "message": message})
}

#[tokio::test]
async fn a_message_reaches_the_addressee_and_nobody_else() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    chat.join("c1", "carol").await;

    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "hi"}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
    assert_eq!(reply["to"], "bob");
    let id = reply["id"].as_str().unwrap();
    assert!(!id.is_empty());

    let delivered = chat.notifier.delivered();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let (connection, frame) = &delivered[0];
    assert_eq!(connection, "b1");
    let at = frame["at"].as_str().unwrap();
    assert!(at.ends_with('Z'), "{at}");
    let at = OffsetDateTime::parse(at, &Rfc3339).unwrap();
    assert!((OffsetDateTime::now_utc() - at).abs() < time::Duration::seconds(5));
    assert_eq!(
        frame,
        &json!({"type": "message", "id": id, "from": "alice", "text": "hi", "at": frame["at"]})
    );
    assert!(chat.notifier.delivered_to("c1").is_empty());
    assert!(chat.notifier.delivered_to("a1").is_empty());
}

#[tokio::test]
async fn from_is_the_senders_registered_name_whatever_the_client_claims() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "trust me", "from": "mallory", "extra": {"x": 1}}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
    let frames = chat.notifier.delivered_to("b1");
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["from"], "alice");
    assert_eq!(frames[0]["text"], "trust me");
    assert!(frames[0].get("extra").is_none());
}

#[tokio::test]
async fn every_tab_of_the_addressee_gets_the_message() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    chat.join("b2", "bob").await;
    chat.join("c1", "carol").await;
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "both tabs"}),
        )
        .await;
    let first = chat.notifier.delivered_to("b1");
    let second = chat.notifier.delivered_to("b2");
    assert_eq!(first.len(), 1);
    assert_eq!(first, second);
    assert_eq!(first[0]["id"], reply["id"]);
    assert!(chat.notifier.delivered_to("c1").is_empty());
    assert_eq!(chat.notifier.delivered().len(), 2);
}

#[tokio::test]
async fn a_message_to_oneself_reaches_all_of_ones_tabs() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("a2", "alice").await;
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "alice", "text": "note to self"}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
    assert_eq!(chat.notifier.delivered_to("a1").len(), 1);
    assert_eq!(chat.notifier.delivered_to("a2").len(), 1);
}

#[tokio::test]
async fn an_offline_addressee_is_reported_to_the_sender_only() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("c1", "carol").await;
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "anyone?"}),
        )
        .await;
    assert_eq!(reply, error("peer_offline", "bob is not online"));

    chat.join("b1", "bob").await;
    assert_eq!(chat.disconnect("b1").await, Reply::NoContent);
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "still?"}),
        )
        .await;
    assert_eq!(reply["code"], "peer_offline");
    assert!(chat.notifier.attempts().is_empty());
}

#[tokio::test]
async fn stale_connections_answering_410_are_removed() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    chat.join("b2", "bob").await;
    chat.notifier.mark_gone("b1");

    // One tab is gone, the other still gets the message.
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "one"}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
    assert_eq!(chat.notifier.delivered_to("b2").len(), 1);
    assert_eq!(chat.registry.name_of("b1").await.unwrap(), None);
    assert_eq!(chat.registry.connections_of("bob").await.unwrap(), ["b2"]);

    // Every connection gone: nothing was delivered, so bob is offline, and no longer listed.
    chat.notifier.mark_gone("b2");
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "two"}),
        )
        .await;
    assert_eq!(reply, error("peer_offline", "bob is not online"));
    assert!(
        chat.registry
            .connections_of("bob")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        chat.who("a1").await,
        json!({"type": "who", "users": ["alice"]})
    );
}

#[tokio::test]
async fn a_delivery_failure_other_than_410_is_a_backend_error_and_keeps_the_connection() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    chat.notifier.mark_broken("b1");
    let reply = chat
        .call(
            Route::SendMessage,
            Chat::request("a1", r#"{"action":"sendmessage","to":"bob","text":"hi"}"#),
        )
        .await;
    assert_eq!(reply, Reply::Internal);
    assert_eq!(reply.status(), 500);
    assert_eq!(
        chat.registry.name_of("b1").await.unwrap().as_deref(),
        Some("bob")
    );

    // With another tab reachable the message counts as sent.
    chat.join("b2", "bob").await;
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": "hi"}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
}

#[tokio::test]
async fn malformed_messages_get_bad_request_and_reach_nobody() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    let cases = [
        ("not json at all", "the message is not valid JSON"),
        (
            r#"{"action":"sendmessage","to":"bob","text":"hi""#,
            "the message is not valid JSON",
        ),
        ("[1,2,3]", "the message must be a JSON object"),
        ("\"hello\"", "the message must be a JSON object"),
        ("42", "the message must be a JSON object"),
        ("null", "the message must be a JSON object"),
        (
            r#"{"action":"sendmessage","text":"hi"}"#,
            "\"to\" is missing",
        ),
        (
            r#"{"action":"sendmessage","to":["bob"],"text":"hi"}"#,
            "\"to\" must be a string",
        ),
        (
            r#"{"action":"sendmessage","to":7,"text":"hi"}"#,
            "\"to\" must be a string",
        ),
        (
            r#"{"action":"sendmessage","to":"","text":"hi"}"#,
            "\"to\" must be a user name of 1-32 characters from A-Z a-z 0-9 _ -",
        ),
        (
            r#"{"action":"sendmessage","to":"bob"}"#,
            "\"text\" is missing",
        ),
        (
            r#"{"action":"sendmessage","to":"bob","text":42}"#,
            "\"text\" must be a string",
        ),
        (
            r#"{"action":"sendmessage","to":"bob","text":null}"#,
            "\"text\" must be a string",
        ),
        (
            r#"{"action":"sendmessage","to":"bob","text":{"a":1}}"#,
            "\"text\" must be a string",
        ),
        (
            r#"{"action":"sendmessage","to":"bob","text":""}"#,
            "\"text\" must not be empty",
        ),
    ];
    for (body, message) in cases {
        let reply = chat.frame(Route::SendMessage, "a1", body).await;
        assert_eq!(reply, error("bad_request", message), "body: {body}");
    }
    assert!(chat.notifier.attempts().is_empty());
}

#[tokio::test]
async fn text_is_limited_to_4096_characters_not_bytes() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;

    // 4096 characters of three bytes each: 12 KiB, still within the limit.
    let at_limit = "€".repeat(4096);
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": at_limit}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
    assert_eq!(chat.notifier.delivered_to("b1")[0]["text"], at_limit);

    let over = "a".repeat(4097);
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": over}),
        )
        .await;
    assert_eq!(
        reply,
        error("too_large", "\"text\" is longer than 4096 characters")
    );
    let over_multibyte = "€".repeat(4097);
    let reply = chat
        .send(
            "a1",
            &json!({"action": "sendmessage", "to": "bob", "text": over_multibyte}),
        )
        .await;
    assert_eq!(reply["code"], "too_large");
    assert_eq!(chat.notifier.delivered().len(), 1);
}

#[tokio::test]
async fn who_lists_every_name_online_sorted_and_distinct() {
    let chat = Chat::in_memory();
    chat.join("z1", "zoe").await;
    chat.join("a1", "alice").await;
    chat.join("b1", "Bob").await;
    chat.join("a2", "alice").await;
    chat.join("m1", "mike_2-x").await;
    assert_eq!(
        chat.who("m1").await,
        json!({"type": "who", "users": ["Bob", "alice", "mike_2-x", "zoe"]})
    );
    chat.disconnect("a1").await;
    assert_eq!(
        chat.who("z1").await["users"],
        json!(["Bob", "alice", "mike_2-x", "zoe"])
    );
    chat.disconnect("a2").await;
    assert_eq!(
        chat.who("z1").await["users"],
        json!(["Bob", "mike_2-x", "zoe"])
    );
    assert!(chat.notifier.attempts().is_empty());
}

#[tokio::test]
async fn unrouted_messages_get_unknown_action_or_bad_request() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    assert_eq!(
        chat.frame(Route::Default, "a1", r#"{"action":"dance","to":"bob"}"#)
            .await,
        error(
            "unknown_action",
            "unknown action \"dance\"; use \"sendmessage\" or \"who\""
        )
    );
    assert_eq!(
        chat.frame(
            Route::Default,
            "a1",
            r#"{"action":"SendMessage","to":"bob","text":"x"}"#
        )
        .await["code"],
        "unknown_action"
    );
    for body in [
        "hello",
        "[\"sendmessage\"]",
        "17",
        r#"{"to":"bob","text":"hi"}"#,
        "",
    ] {
        let reply = chat.frame(Route::Default, "a1", body).await;
        assert_eq!(reply["type"], "error", "{body}");
        assert_eq!(reply["code"], "bad_request", "{body}");
    }
    assert!(chat.notifier.attempts().is_empty());
}

#[tokio::test]
async fn connect_refuses_missing_and_invalid_names() {
    let chat = Chat::in_memory();
    let cases = [
        (
            None,
            "a name is required: connect with ?name=<1-32 of A-Z a-z 0-9 _ ->",
        ),
        (
            Some(""),
            "a name is required: connect with ?name=<1-32 of A-Z a-z 0-9 _ ->",
        ),
        (
            Some("al ice"),
            "invalid name: use 1-32 characters from A-Z a-z 0-9 _ -",
        ),
        (
            Some("bob!"),
            "invalid name: use 1-32 characters from A-Z a-z 0-9 _ -",
        ),
        (
            Some("zoë"),
            "invalid name: use 1-32 characters from A-Z a-z 0-9 _ -",
        ),
    ];
    let too_long = "n".repeat(33);
    let cases = cases.into_iter().chain([(
        Some(too_long.as_str()),
        "invalid name: use 1-32 characters from A-Z a-z 0-9 _ -",
    )]);
    for (name, message) in cases {
        let reply = chat.connect("x1", name).await;
        assert_eq!(reply.status(), 400, "{name:?}");
        assert_eq!(body_json(&reply), error("bad_request", message), "{name:?}");
        assert_eq!(chat.registry.name_of("x1").await.unwrap(), None);
    }
    assert!(chat.registry.names().await.unwrap().is_empty());

    let longest = "n".repeat(32);
    chat.join("x1", &longest).await;
    assert_eq!(chat.registry.names().await.unwrap(), [longest]);
}

#[tokio::test]
async fn disconnect_forgets_the_connection_and_tolerates_unknown_ids() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    assert_eq!(chat.disconnect("a1").await, Reply::NoContent);
    assert_eq!(chat.registry.name_of("a1").await.unwrap(), None);
    assert_eq!(chat.disconnect("a1").await, Reply::NoContent);
    assert_eq!(chat.disconnect("never-seen").await, Reply::NoContent);
}

#[tokio::test]
async fn a_connection_that_never_joined_is_answered_and_closed() {
    let chat = Chat::in_memory();
    chat.join("b1", "bob").await;
    let requests = [
        (
            Route::SendMessage,
            r#"{"action":"sendmessage","to":"bob","text":"hi"}"#,
        ),
        (Route::Who, r#"{"action":"who"}"#),
        (Route::Default, r#"{"action":"dance"}"#),
    ];
    for (route, body) in requests {
        let reply = chat.frame(route, "ghost", body).await;
        assert_eq!(reply, error("bad_request", NOT_JOINED_MESSAGE), "{route:?}");
    }
    assert_eq!(
        NOT_JOINED_MESSAGE,
        "this connection has not joined; reconnect with ?name=…"
    );
    assert!(
        chat.notifier.attempts().is_empty(),
        "bob must not receive the ghost's message"
    );
    // The close happens shortly after the reply, so the gateway can still deliver it.
    assert!(
        eventually(Duration::from_secs(3), || chat.notifier.deleted().len()
            == 3)
        .await,
        "deleted: {:?}",
        chat.notifier.deleted()
    );
    assert!(chat.notifier.deleted().iter().all(|id| id == "ghost"));
    assert_eq!(chat.registry.names().await.unwrap(), ["bob"]);
}

#[tokio::test]
async fn requests_without_the_right_secret_are_forbidden_on_every_route() {
    let chat = Chat::in_memory();
    chat.join("a1", "alice").await;
    chat.join("b1", "bob").await;
    let wrong = [
        None,
        Some(Vec::new()),
        Some(b"wrong".to_vec()),
        Some(format!("{SECRET}x").into_bytes()),
        Some(SECRET.as_bytes()[..SECRET.len() - 1].to_vec()),
    ];
    for secret in wrong {
        for route in Route::ALL {
            let request = Request {
                secret: secret.clone(),
                name: Some("mallory".into()),
                ..Chat::request("m1", r#"{"action":"sendmessage","to":"bob","text":"hi"}"#)
            };
            let reply = chat.call(route, request).await;
            assert_eq!(reply, Reply::Forbidden, "{route:?} {secret:?}");
            assert_eq!(reply.status(), 403);
            assert_eq!(body_json(&reply), json!({"message": "Forbidden"}));
        }
        // Not even a disconnect of a real connection gets through.
        let request = Request {
            secret: secret.clone(),
            ..Chat::request("a1", "")
        };
        assert_eq!(
            chat.call(Route::Disconnect, request).await,
            Reply::Forbidden
        );
    }
    assert_eq!(chat.registry.names().await.unwrap(), ["alice", "bob"]);
    assert!(chat.notifier.attempts().is_empty());
    assert!(chat.notifier.deleted().is_empty());
}

#[tokio::test]
async fn a_request_without_a_connection_id_is_refused() {
    let chat = Chat::in_memory();
    for route in Route::ALL {
        let request = Request {
            connection_id: None,
            name: Some("alice".into()),
            ..Chat::request("", "{}")
        };
        let reply = chat.call(route, request).await;
        assert_eq!(reply.status(), 400, "{route:?}");
        assert_eq!(
            body_json(&reply),
            error("bad_request", "the x-connection-id header is missing")
        );
    }
    assert!(chat.registry.names().await.unwrap().is_empty());
}

#[tokio::test]
async fn reconnecting_under_another_name_moves_the_connection() {
    let chat = Chat::in_memory();
    chat.join("c1", "alice").await;
    chat.join("c1", "bob").await;
    assert_eq!(chat.who("c1").await["users"], json!(["bob"]));
    chat.join("d1", "dave").await;
    let reply = chat
        .send(
            "d1",
            &json!({"action": "sendmessage", "to": "alice", "text": "hi"}),
        )
        .await;
    assert_eq!(reply["code"], "peer_offline");
}
