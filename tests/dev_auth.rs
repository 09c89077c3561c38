//! Verified names through `chatctl dev` with real WebSocket clients: the `$connect` authorizer
//! refuses every bad token before anything is registered, a verified name wins over `?name=`,
//! nobody receives alice's messages without her token, and the local OpenID provider's sign-in
//! (authorization code + PKCE, refresh, logout) and script tokens.

// Each test holds servers and several WebSocket clients in one future, on purpose.
#![allow(clippy::large_futures)]
// Test helpers: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "dev_common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_handler::auth::Signer;
use chatctl::dev::DevServer;
use common::{
    Behaviour, Client, FakeBackend, TEST_SECRET, WAIT, bounded, connect, connect_url, dev_token,
    http, start, start_chat, start_with_backend, try_connect,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);
const QUIET: Duration = Duration::from_millis(300);

/// The key `chatctl dev` signs with, and its id: tests forge tokens with it to change one
/// thing at a time.
const DEV_KEY: &[u8] = include_bytes!("../src/dev/oidc-signing-key.pk8");
const DEV_KID: &str = "chatctl-dev-1";
/// Another key, which nobody trusts.
const OTHER_KEY: &[u8] = include_bytes!("../handler/testdata/other-rsa2048.pk8");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a good ID token of `server`'s provider for `name`.
fn claims(server: &DevServer, name: &str) -> Value {
    json!({
        "iss": server.urls().sign_in_url.unwrap(),
        "sub": format!("local-{name}"),
        "aud": "chatctl-dev",
        "iat": now(),
        "exp": now() + 600,
        "token_use": "id",
        "preferred_username": name,
    })
}

fn sign(key: &[u8], claims: &Value) -> String {
    Signer::from_pkcs8(key, DEV_KID)
        .unwrap()
        .sign(claims)
        .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Asserts that `frame` is a message from `from` saying `text`.
fn assert_message(frame: &Value, from: &str, text: &str) {
    assert_eq!(frame["type"], "message", "{frame}");
    assert_eq!(
        (frame["from"].as_str(), frame["text"].as_str()),
        (Some(from), Some(text)),
        "{frame}"
    );
}

/// `sender` writes `text` to `to` and gets the acknowledgement (or error) frame back.
async fn send(sender: &mut Client, to: &str, text: &str) -> Value {
    sender
        .send_json(&json!({"action": "sendmessage", "to": to, "text": text}))
        .await;
    sender.next_json().await
}

async fn who(client: &mut Client) -> Value {
    client.send_json(&json!({"action": "who"})).await;
    let frame = client.next_json().await;
    assert_eq!(frame["type"], "who", "{frame}");
    frame["users"].clone()
}

#[tokio::test]
async fn refused_tokens_refuse_the_handshake_and_register_nothing() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let mut observer = connect(&server, "observer").await;
        assert_eq!(who(&mut observer).await, json!(["observer"]));
        let base = server.websocket_url();
        let good = claims(&server, "alice");
        let alg_none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "kid": DEV_KID, "typ": "JWT"})),
            b64(&good)
        );
        let cases: Vec<(&str, String, u16)> = vec![
            ("no token", String::new(), 401),
            ("an empty token", "?token=".to_owned(), 401),
            ("only a name", "?name=alice".to_owned(), 401),
            (
                "an expired token",
                format!(
                    "?token={}",
                    sign(DEV_KEY, &with(good.clone(), "exp", json!(now() - 3600)))
                ),
                401,
            ),
            (
                "a token signed by another key",
                format!("?token={}", sign(OTHER_KEY, &good)),
                401,
            ),
            ("alg: none", format!("?token={alg_none}"), 401),
            (
                "the wrong issuer",
                format!(
                    "?token={}",
                    sign(
                        DEV_KEY,
                        &with(good.clone(), "iss", json!("https://evil.example.com"))
                    )
                ),
                401,
            ),
            (
                "the wrong audience",
                format!(
                    "?token={}",
                    sign(DEV_KEY, &with(good.clone(), "aud", json!("someone-else")))
                ),
                401,
            ),
            (
                "an access token",
                format!(
                    "?token={}",
                    sign(DEV_KEY, &with(good.clone(), "token_use", json!("access")))
                ),
                401,
            ),
            ("garbage", "?token=not.a.jwt".to_owned(), 401),
            (
                "a name claim that breaks the name rule",
                format!(
                    "?token={}",
                    sign(
                        DEV_KEY,
                        &with(good.clone(), "preferred_username", json!("al ice"))
                    )
                ),
                403,
            ),
        ];
        for (what, query, status) in cases {
            let refused = try_connect(&format!("{base}{query}"))
                .await
                .err()
                .unwrap_or_else(|| panic!("{what} must be refused"));
            assert_eq!(refused.status, status, "{what}");
            let body: Value = serde_json::from_str(&refused.body).unwrap();
            let message = if status == 401 {
                "Unauthorized"
            } else {
                "Forbidden"
            };
            assert_eq!(body, json!({"message": message}), "{what}");
            assert_eq!(
                server.connection_count(),
                1,
                "{what}: only the observer is connected"
            );
        }
        // Nothing was registered: `who` is unchanged.
        assert_eq!(who(&mut observer).await, json!(["observer"]));
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_verified_name_wins_over_the_query_string() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let token = dev_token(&server, "alice", None).await;
        let mut alice = connect_url(
            &format!("{}?name=mallory&token={token}", server.websocket_url()),
            "alice",
        )
        .await;
        let mut bob = connect(&server, "bob").await;
        assert_eq!(who(&mut bob).await, json!(["alice", "bob"]));
        // A client-supplied `from` is ignored too: `from` is the verified name.
        alice
            .send_json(
                &json!({"action": "sendmessage", "to": "bob", "text": "hi", "from": "mallory"}),
            )
            .await;
        assert_eq!(alice.next_json().await["type"], "sent");
        assert_message(&bob.next_json().await, "alice", "hi");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn nobody_receives_alices_messages_without_her_token() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let base = server.websocket_url();
        let mut bob = connect(&server, "bob").await;
        // Mallory signs in as herself and asks to be alice.
        let mallory_token = dev_token(&server, "mallory", None).await;
        let mut mallory = connect_url(
            &format!("{base}?token={mallory_token}&name=alice"),
            "mallory",
        )
        .await;
        // Without a token, `?name=alice` gets nowhere.
        assert_eq!(
            try_connect(&format!("{base}?name=alice"))
                .await
                .err()
                .unwrap()
                .status,
            401
        );
        assert_eq!(who(&mut bob).await, json!(["bob", "mallory"]));
        assert_eq!(
            send(&mut bob, "alice", "secret").await["code"],
            "peer_offline"
        );

        let mut alice = connect(&server, "alice").await;
        assert_eq!(send(&mut bob, "alice", "secret").await["type"], "sent");
        assert_message(&alice.next_json().await, "bob", "secret");
        mallory.expect_silence(QUIET).await;
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn two_tokens_for_alice_are_two_tabs() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let base = server.websocket_url();
        // Two distinct tokens (different lifetimes), as two tabs signed in separately.
        let first = dev_token(&server, "alice", Some(600)).await;
        let second = dev_token(&server, "alice", Some(900)).await;
        assert_ne!(first, second);
        let mut laptop = connect_url(&format!("{base}?token={first}"), "alice-laptop").await;
        let mut phone = connect_url(&format!("{base}?token={second}"), "alice-phone").await;
        let mut bob = connect(&server, "bob").await;
        assert_eq!(who(&mut bob).await, json!(["alice", "bob"]));
        assert_eq!(send(&mut bob, "alice", "both?").await["type"], "sent");
        for tab in [&mut laptop, &mut phone] {
            assert_message(&tab.next_json().await, "bob", "both?");
        }
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_integrations_get_name_and_secret_from_the_authorizer_on_every_route() {
    bounded(LIMIT, async {
        let backend = FakeBackend::start(Behaviour::Echo).await;
        let server = start_with_backend(&backend.url, |o| {
            // The default routes and sign-in, with the fake backend.
            let defaults = chatctl::dev::DevOptions::default();
            o.auth = defaults.auth;
            o.routes = defaults.routes;
        })
        .await;
        let token = dev_token(&server, "alice", None).await;
        let mut alice = connect_url(
            &format!("{}?token={token}&name=mallory", server.websocket_url()),
            "alice",
        )
        .await;
        alice.send_json(&json!({"action": "who"})).await;
        alice.next_json().await;
        alice.close().await;
        let connect = backend.wait_for("/connect").await;
        let who = backend.wait_for("/who").await;
        let disconnect = backend.wait_for("/disconnect").await;
        assert_eq!(connect.headers["x-chat-name"], "alice");
        for request in [&connect, &who, &disconnect] {
            assert_eq!(
                request.headers["x-chat-secret"], TEST_SECRET,
                "{}",
                request.path
            );
            // The token stays at the gateway: the backend never sees it.
            assert!(request.query.is_none(), "{}", request.path);
            assert!(
                !request.headers.values().any(|value| value.contains(&token)),
                "{}",
                request.path
            );
        }
        assert!(!who.headers.contains_key("x-chat-name"));
        server.shutdown().await.unwrap();
    })
    .await;
}

/// A client that follows no redirects and keeps the provider's session cookie by hand.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `application/x-www-form-urlencoded` (reqwest's `form` and `query` features are off).
fn encode(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    format!("{base}?{}", encode(pairs))
}

fn post_form(
    client: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(pairs))
}

fn query_of(location: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test]
async fn sign_in_with_authorization_code_and_pkce_then_refresh_and_logout() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let issuer = server.urls().sign_in_url.unwrap();
        let app = server.frontend_url();
        let client = browser();

        let discovery: Value = client
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], issuer);
        assert_eq!(
            discovery["code_challenge_methods_supported"],
            json!(["S256"])
        );
        let jwks: Value = client
            .get(discovery["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(jwks["keys"][0]["kid"], DEV_KID);

        let params = [
            ("response_type", "code"),
            ("client_id", "chatctl-dev"),
            ("redirect_uri", app.as_str()),
            ("scope", "openid profile"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        let authorize = format!("{issuer}/authorize");
        let page = client
            .get(with_query(&authorize, &params))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<label for=\"name\">Chat name</label>"),
            "{html}"
        );
        assert!(html.contains("value=\"state-123\""));

        // A bad name shows the page again with the rule.
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("name", "no spaces"));
        let again = post_form(&client, &authorize, &form).send().await.unwrap();
        assert_eq!(again.status(), 200);
        assert!(
            again.headers().get("set-cookie").is_none(),
            "nobody signed in"
        );
        assert!(again.text().await.unwrap().contains("role=\"alert\""));

        form.pop();
        form.push(("name", "alice"));
        // Posted from another site, the form signs nobody in.
        let forged = post_form(&client, &authorize, &form)
            .header("origin", "https://evil.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert!(forged.headers().get("set-cookie").is_none());
        let signed_in = post_form(&client, &authorize, &form)
            .header("origin", app.trim_end_matches('/'))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 303);
        let cookie = signed_in.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        let session = cookie.split(';').next().unwrap().to_owned();
        let location = signed_in.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&app), "{location}");
        let back = query_of(&location);
        assert_eq!(back["state"], "state-123");
        let code = back["code"].clone();

        let token = format!("{issuer}/token");
        let exchange = |verifier: &'static str, code: String| {
            let client = client.clone();
            let token = token.clone();
            let app = app.clone();
            async move {
                post_form(
                    &client,
                    &token,
                    &[
                        ("grant_type", "authorization_code"),
                        ("client_id", "chatctl-dev"),
                        ("code", code.as_str()),
                        ("redirect_uri", app.as_str()),
                        ("code_verifier", verifier),
                    ],
                )
                .send()
                .await
                .unwrap()
            }
        };
        // The wrong verifier fails, and burns the code.
        let wrong = exchange("x".repeat(43).leak(), code.clone()).await;
        assert_eq!(wrong.status(), 400);
        assert_eq!(
            wrong.json::<Value>().await.unwrap()["error"],
            "invalid_grant"
        );
        assert_eq!(exchange(VERIFIER, code).await.status(), 400);

        // Signed in already: the provider sends the browser straight back with a new code.
        let silent = client
            .get(with_query(&authorize, &params))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(silent.status(), 303);
        let code = query_of(silent.headers()["location"].to_str().unwrap())["code"].clone();
        let tokens: Value = exchange(VERIFIER, code.clone()).await.json().await.unwrap();
        let id_token = tokens["id_token"].as_str().unwrap().to_owned();
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(id_token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload["nonce"], "nonce-456");
        assert_eq!(payload["preferred_username"], "alice");
        assert_eq!(payload["aud"], "chatctl-dev");
        // A code works once.
        assert_eq!(exchange(VERIFIER, code).await.status(), 400);

        // The ID token connects; the access token does not.
        let mut alice = connect_url(
            &format!("{}?token={id_token}", server.websocket_url()),
            "alice",
        )
        .await;
        assert_eq!(who(&mut alice).await, json!(["alice"]));
        let access = tokens["access_token"].as_str().unwrap();
        let refused = try_connect(&format!("{}?token={access}", server.websocket_url()))
            .await
            .err()
            .unwrap();
        assert_eq!(refused.status, 401);

        // The refresh token gives a new ID token for the same name.
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let refreshed = |refresh: String| {
            let client = client.clone();
            let token = token.clone();
            async move {
                post_form(
                    &client,
                    &token,
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", "chatctl-dev"),
                        ("refresh_token", refresh.as_str()),
                    ],
                )
                .send()
                .await
                .unwrap()
            }
        };
        let renewed: Value = refreshed(refresh.clone()).await.json().await.unwrap();
        assert!(renewed["id_token"].as_str().is_some());

        // Logout ends the session and its refresh tokens, then returns to the app.
        let logout = client
            .get(with_query(
                &format!("{issuer}/logout"),
                &[("client_id", "chatctl-dev"), ("logout_uri", app.as_str())],
            ))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 303);
        assert_eq!(logout.headers()["location"], app.as_str());
        assert!(
            logout.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        // A forgotten refresh token is `invalid_grant` (RFC 6749 §5.2): the web app then signs
        // in again instead of retrying.
        let forgotten = refreshed(refresh).await;
        assert_eq!(forgotten.status(), 400);
        assert_eq!(
            forgotten.json::<Value>().await.unwrap()["error"],
            "invalid_grant"
        );
        let page = client
            .get(with_query(&authorize, &params))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.status(),
            200,
            "signed out: the page asks for a name again"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_provider_refuses_bad_authorization_requests() {
    bounded(LIMIT, async {
        let server = start_chat().await;
        let issuer = server.urls().sign_in_url.unwrap();
        let app = server.frontend_url();
        let client = browser();
        let authorize = |extra: &[(&str, &str)]| {
            let mut params = vec![
                ("response_type", "code"),
                ("client_id", "chatctl-dev"),
                ("redirect_uri", app.as_str()),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ];
            for (key, value) in extra {
                params.retain(|(k, _)| k != key);
                if !value.is_empty() {
                    params.push((key, value));
                }
            }
            let request = client.get(with_query(&format!("{issuer}/authorize"), &params));
            async move { request.send().await.unwrap() }
        };
        // Never redirected to a stranger.
        for extra in [
            [("client_id", "someone")],
            [("redirect_uri", "https://evil.example.com/")],
            [("redirect_uri", "")],
        ] {
            let response = authorize(&extra).await;
            assert_eq!(response.status(), 400, "{extra:?}");
            assert!(response.headers().get("location").is_none());
        }
        // Other mistakes go back to the app with an error.
        for (extra, error) in [
            ([("code_challenge", "")], "invalid_request"),
            ([("code_challenge_method", "plain")], "invalid_request"),
            ([("response_type", "token")], "unsupported_response_type"),
            ([("scope", "profile")], "invalid_scope"),
            ([("prompt", "none")], "login_required"),
        ] {
            let response = authorize(&extra).await;
            assert_eq!(response.status(), 303, "{extra:?}");
            let back = query_of(response.headers()["location"].to_str().unwrap());
            assert_eq!(back["error"], error, "{extra:?}");
            assert_eq!(back["state"], "s");
        }
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn script_tokens_for_a_name() {
    bounded(LIMIT, async {
        let server = start(chatctl::dev::DevOptions::default()).await;
        let endpoint = server.urls().dev_token_url.unwrap();
        let client = http();
        for bad in [
            "?name=al%20ice",
            "",
            "?name=alice&lifetime=0",
            "?name=alice&lifetime=999999",
        ] {
            let response = client.get(format!("{endpoint}{bad}")).send().await.unwrap();
            assert_eq!(response.status(), 400, "{bad}");
        }
        // As a form post too (`curl -d name=alice …`).
        let token = post_form(&client, &endpoint, &[("name", "carol")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut carol = connect_url(
            &format!("{}?token={token}", server.websocket_url()),
            "carol",
        )
        .await;
        assert_eq!(who(&mut carol).await, json!(["carol"]));
        // `lifetime` sets `exp` (the authorizer's unit tests cover expiry and its leeway).
        let short = dev_token(&server, "dave", Some(1)).await;
        let exp = serde_json::from_slice::<Value>(
            &URL_SAFE_NO_PAD
                .decode(short.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()["exp"]
            .as_u64()
            .unwrap();
        assert!(exp <= now() + 1);
        server.shutdown().await.unwrap();
    })
    .await;
}
