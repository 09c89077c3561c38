//! A minimal OpenID issuer on loopback: a discovery document and a JWKS for the test key
//! (`testdata/issuer-rsa2048.pk8`), and tokens minted with it. Shared by the tests and the
//! authorizer benchmark.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chat_handler::auth::Signer;
use serde_json::{Value, json};

pub const ISSUER_KEY: &[u8] = include_bytes!("../../testdata/issuer-rsa2048.pk8");
pub const OTHER_KEY: &[u8] = include_bytes!("../../testdata/other-rsa2048.pk8");
pub const KID: &str = "test-key-1";
pub const CLIENT_ID: &str = "test-client";

pub struct Issuer {
    /// `http://127.0.0.1:PORT`: the `iss` of its tokens.
    pub url: String,
    pub signer: Arc<Signer>,
    jwks_requests: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Served {
    url: String,
    signer: Arc<Signer>,
    jwks_requests: Arc<AtomicUsize>,
}

/// JSON without axum's `json` feature, which the handler's axum leaves out.
type Json = ([(&'static str, &'static str); 1], String);

fn json_body(value: &Value) -> Json {
    ([("content-type", "application/json")], value.to_string())
}

async fn discovery(State(served): State<Served>) -> Json {
    json_body(&json!({
        "issuer": served.url,
        "jwks_uri": format!("{}/jwks.json", served.url),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(served): State<Served>) -> Json {
    served.jwks_requests.fetch_add(1, Ordering::SeqCst);
    json_body(&json!({"keys": [served.signer.jwk()]}))
}

impl Issuer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let signer = Arc::new(Signer::from_pkcs8(ISSUER_KEY, KID).unwrap());
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .with_state(Served {
                url: url.clone(),
                signer: Arc::clone(&signer),
                jwks_requests: Arc::clone(&jwks_requests),
            });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            signer,
            jwks_requests,
        }
    }

    pub fn jwks_requests(&self) -> usize {
        self.jwks_requests.load(Ordering::SeqCst)
    }

    /// The claims of a good ID token for `name`, valid for an hour.
    pub fn claims(&self, name: &str) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        json!({
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": format!("sub-{name}"),
            "preferred_username": name,
            "iat": now,
            "exp": now + 3600,
        })
    }

    pub fn token(&self, name: &str) -> String {
        self.signer.sign(&self.claims(name)).unwrap()
    }
}

/// A REQUEST-authorizer event for `$connect` with `?token=`, shaped like AWS's example.
pub fn authorizer_event(token: Option<&str>, connection_id: &str) -> Value {
    let mut query = json!({});
    let mut multi = json!({});
    if let Some(token) = token {
        query["token"] = json!(token);
        multi["token"] = json!([token]);
    }
    json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/dev/$connect",
        "headers": {"Connection": "upgrade", "Upgrade": "websocket"},
        "multiValueHeaders": {"Connection": ["upgrade"], "Upgrade": ["websocket"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi,
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "stage": "dev",
            "connectionId": connection_id,
            "requestId": format!("req-{connection_id}"),
            "apiId": "abcdef123",
            "identity": {"sourceIp": "127.0.0.1"}
        }
    })
}
