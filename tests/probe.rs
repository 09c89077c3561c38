//! `chatctl status --probe` against `chatctl dev`.

// Each test holds servers and several WebSocket clients in one future, on purpose.
#![allow(clippy::large_futures)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::{AttributeType, ExplicitAuthFlowsType};
use base64::Engine as _;
use chatctl::chat_api;
use chatctl::dev::DevOptions;
use chatctl::probe::{
    COGNITO_JOINED_WITH, IdToken, PROBE_USERS, ProbeJoin, ProbeToken, ProbeTokens, cognito_tokens,
    probe, probe_with,
};
use common::{bounded, closed_port, dev_token, start, start_chat};
use serde_json::Value;
use support::Emulator;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_probe_passes_against_the_dev_server() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let report = probe(&server.websocket_url(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(report.url, server.websocket_url());
        assert!(
            report.sender.starts_with("probe-") && report.sender.ends_with("-a"),
            "{report:?}"
        );
        assert!(report.receiver.ends_with("-b"));
        assert!(!report.message_id.is_empty());
        assert!(
            report.connect_ms > 0.0 && report.delivery_ms > 0.0 && report.ack_ms > 0.0,
            "{report:?}"
        );
        let json = serde_json::to_value(&report).unwrap();
        for field in [
            "url",
            "sender",
            "receiver",
            "message_id",
            "connect_ms",
            "delivery_ms",
            "ack_ms",
        ] {
            assert!(json.get(field).is_some(), "{field} missing from {json}");
        }
        // The probe's clients left.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(server.connection_count(), 0);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_missing_acknowledgement_is_reported() {
    bounded(LIMIT, async {
        // sendmessage without its route response: the message is delivered, the ack is lost.
        let mut routes = chat_api::routes();
        for route in &mut routes {
            if route.route_key == "sendmessage" {
                route.two_way = false;
            }
        }
        let server = start(DevOptions {
            routes,
            ..DevOptions::without_auth()
        })
        .await;
        let err = probe(&server.websocket_url(), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("timeout waiting for the `sent` acknowledgement at probe-"),
            "{err:#}"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn unreachable_services_and_bad_urls_are_reported() {
    bounded(LIMIT, async {
        let port = closed_port().await;
        let err = probe(
            &format!("ws://127.0.0.1:{port}/dev"),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!(
                "cannot connect to ws://127.0.0.1:{port}/dev as probe-"
            )),
            "{err:#}"
        );
        let err = probe("https://example.invalid/dev", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot probe https://example.invalid/dev: the URL must start with ws:// or wss://"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refused_handshake_is_reported_with_its_status() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        // A wrong stage: nothing answers the upgrade there.
        let url = server.websocket_url().replace("/dev", "/prod");
        let err = probe(&url, Duration::from_secs(2)).await.unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("refused the connection of probe-"), "{err}");
        assert!(err.contains("HTTP 404 Not Found: {\"message\":\"no WebSocket endpoint at /prod: connect to /dev?name=NAME\"}"), "{err}");
        server.shutdown().await.unwrap();
    })
    .await;
}

/// The claims of a JWT, not verified (what the test checks is what Cognito put in it).
fn claims(token: &IdToken) -> Value {
    let payload = token.expose().split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_probe_joins_chatctl_dev_with_the_tokens_it_is_given() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let token = |name: &str, raw: String| {
            ProbeToken::from_claim(IdToken::new(raw), "preferred_username", name).unwrap()
        };
        let alice = token("alice", dev_token(&server, "alice", None).await);
        let bob = token("bob", dev_token(&server, "bob", None).await);
        let secret = alice.token.expose().to_owned();
        let tokens = ProbeTokens::new(alice, bob, "test tokens").unwrap();
        assert!(!format!("{tokens:?}").contains(&secret));
        let report = probe_with(
            &server.websocket_url(),
            Duration::from_secs(5),
            ProbeJoin::Tokens(tokens),
        )
        .await
        .unwrap();
        // The names are the tokens', verified by the server: `from` said alice.
        assert_eq!(
            (report.sender.as_str(), report.receiver.as_str()),
            ("alice", "bob")
        );
        assert_eq!(report.joined_with, "test tokens");
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains(&secret), "{json}");
        // Without tokens, the same server refuses the probe's clients.
        let err = probe_with(
            &server.websocket_url(),
            Duration::from_secs(5),
            ProbeJoin::Names,
        )
        .await
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("refused the connection of probe-")
                && format!("{err:#}").contains("HTTP 401"),
            "{err:#}"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_token_the_service_refuses_is_reported_without_showing_it() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let alice = dev_token(&server, "alice", None).await;
        let bob = dev_token(&server, "bob", None).await;
        // A token signed by someone else: the signature of bob's token on alice's claims.
        let parts: Vec<&str> = alice.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            bob.split('.').nth(2).unwrap()
        );
        let tokens = ProbeTokens::new(
            ProbeToken::from_claim(IdToken::new(forged.clone()), "preferred_username", "A")
                .unwrap(),
            ProbeToken::from_claim(IdToken::new(bob), "preferred_username", "B").unwrap(),
            "test tokens",
        )
        .unwrap();
        let err = probe_with(
            &server.websocket_url(),
            Duration::from_secs(5),
            ProbeJoin::Tokens(tokens),
        )
        .await
        .unwrap_err();
        let text = format!("{err:#} {err:?}");
        assert!(
            text.contains("the service refused the connection of alice with HTTP 401"),
            "{text}"
        );
        assert!(!text.contains(parts[1]), "{text}");
        server.shutdown().await.unwrap();
    })
    .await;
}

/// A user pool and a public app client that allows the admin password flow, made directly
/// through the SDK (as `chatctl up` would).
async fn pool_and_client(cognito: &aws_sdk_cognitoidentityprovider::Client) -> (String, String) {
    let pool = cognito
        .create_user_pool()
        .pool_name("chat-dev")
        .send()
        .await
        .unwrap()
        .user_pool()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("chat-dev-web")
        .generate_secret(false)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    (pool, client)
}

/// (username, sub) of every user of the pool.
async fn users(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
) -> Vec<(String, String)> {
    let mut users: Vec<(String, String)> = cognito
        .list_users()
        .user_pool_id(pool)
        .send()
        .await
        .unwrap()
        .users()
        .iter()
        .map(|u| {
            let sub = u
                .attributes()
                .iter()
                .find(|a| a.name() == "sub")
                .and_then(|a| a.value())
                .unwrap_or_default()
                .to_owned();
            (u.username().unwrap().to_owned(), sub)
        })
        .collect();
    users.sort();
    users
}

#[tokio::test]
async fn cognito_probe_users_are_created_once_and_sign_in_every_run() {
    let emulator = Emulator::start().await;
    let cognito = support::ctx(&emulator, "chat-dev").aws.cognito;
    let (pool, client) = pool_and_client(&cognito).await;

    let first = cognito_tokens(&cognito, &pool, &client).await.unwrap();
    assert_eq!(first.joined_with, COGNITO_JOINED_WITH);
    assert_eq!(
        [first.sender.name.as_str(), first.receiver.name.as_str()],
        PROBE_USERS
    );
    for (probe, user) in [
        (&first.sender, PROBE_USERS[0]),
        (&first.receiver, PROBE_USERS[1]),
    ] {
        let claims = claims(&probe.token);
        assert_eq!(claims["cognito:username"], user, "{claims}");
        assert_eq!(claims["aud"], client.as_str(), "{claims}");
        assert_eq!(claims["token_use"], "id", "{claims}");
        assert_eq!(
            claims["iss"],
            chatctl::resources::user_pool::issuer(&pool, support::REGION, "amazonaws.com"),
            "{claims}"
        );
        // Neither Debug nor anything else that prints shows a token.
        assert!(!format!("{first:?}").contains(probe.token.expose()));
    }
    let created = users(&cognito, &pool).await;
    assert_eq!(
        created.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        PROBE_USERS
    );

    // The second run signs the same users in again (a fresh password each time).
    emulator.clear_calls().await;
    let second = cognito_tokens(&cognito, &pool, &client).await.unwrap();
    assert_eq!(users(&cognito, &pool).await, created);
    assert_ne!(second.sender.token, first.sender.token);
    assert_eq!(
        claims(&second.sender.token)["cognito:username"],
        PROBE_USERS[0]
    );
    assert_eq!(emulator.count("AdminSetUserPassword").await, 2);
    assert_eq!(emulator.count("AdminInitiateAuth").await, 2);
}

#[tokio::test]
async fn cognito_probe_users_the_probe_did_not_make_are_left_alone() {
    let emulator = Emulator::start().await;
    let cognito = support::ctx(&emulator, "chat-dev").aws.cognito;
    let (pool, client) = pool_and_client(&cognito).await;
    // Someone holds the probe's name with an email address: not a user the probe made.
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username(PROBE_USERS[0])
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value("someone@example.com")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    emulator.clear_calls().await;
    let err = cognito_tokens(&cognito, &pool, &client).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "user chatctl-probe-a of user pool {pool} has an email: it was not created by `status --probe` (which gives its users none), so the probe does not reset its password; delete that user (aws cognito-idp admin-delete-user --user-pool-id {pool} --username chatctl-probe-a) to let the probe use the name"
        )
    );
    assert_eq!(emulator.count("AdminSetUserPassword").await, 0);

    // A disabled probe user is reported, not enabled again; the message is exact (no
    // password, no token in it).
    cognito
        .admin_delete_user()
        .user_pool_id(&pool)
        .username(PROBE_USERS[0])
        .send()
        .await
        .unwrap();
    cognito_tokens(&cognito, &pool, &client).await.unwrap();
    cognito
        .admin_disable_user()
        .user_pool_id(&pool)
        .username(PROBE_USERS[1])
        .send()
        .await
        .unwrap();
    let err = cognito_tokens(&cognito, &pool, &client).await.unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "probe user chatctl-probe-b of user pool {pool} could not sign in 3 times in a row with the password just set (NotAuthorizedException): another `status --probe` may be running, or the user was disabled"
        )
    );
    // An app client that does not exist: AWS's answer, named.
    let err = cognito_tokens(&cognito, &pool, "nosuchclient")
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").starts_with(&format!(
            "signing probe user chatctl-probe-a in to app client nosuchclient of user pool {pool}: ResourceNotFoundException"
        )),
        "{err:#}"
    );
}
