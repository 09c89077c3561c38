//! `chatctl status --probe` against `chatctl dev`.

// Each test holds servers and several WebSocket clients in one future, on purpose.
#![allow(clippy::large_futures)]

#[path = "dev_common/mod.rs"]
mod common;

use std::time::Duration;

use chatctl::chat_api;
use chatctl::dev::DevOptions;
use chatctl::probe::probe;
use common::{bounded, closed_port, start, start_chat};

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
