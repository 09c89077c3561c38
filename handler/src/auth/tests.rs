//! The authorizer's verification, one test per rejection reason, with tokens minted here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;

const ISSUER_KEY: &[u8] = include_bytes!("../../testdata/issuer-rsa2048.pk8");
const OTHER_KEY: &[u8] = include_bytes!("../../testdata/other-rsa2048.pk8");
const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test";
const CLIENT: &str = "client-1";
const KID: &str = "key-1";
const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/dev/$connect";

fn signer() -> Signer {
    Signer::from_pkcs8(ISSUER_KEY, KID).unwrap()
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn epoch(at: SystemTime) -> i64 {
    i64::try_from(at.duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// The claims of a good Cognito ID token for alice, issued now, valid for an hour.
fn claims() -> Value {
    let now = epoch(now());
    json!({
        "sub": "0b1c-alice",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "cognito:username": "alice",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn token(claims: &Value) -> String {
    signer().sign(claims).unwrap()
}

fn config() -> AuthorizerConfig {
    AuthorizerConfig::cognito(ISSUER, CLIENT, None)
}

fn keys() -> KeySet {
    KeySet::from_keys([(KID.to_owned(), signer().public_key())])
}

fn authorizer() -> Authorizer {
    Authorizer::with_keys(
        config().with_backend_secret(Some("s3cret-backend".to_owned())),
        Arc::new(keys()),
        RefreshPolicy::default(),
    )
}

async fn verify(token: &str) -> Result<Identity, VerifyError> {
    authorizer().verify(token, now()).await
}

async fn rejection(token: &str) -> Rejection {
    match verify(token).await {
        Err(VerifyError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn a_good_token_proves_its_name() {
    let identity = verify(&token(&claims())).await.unwrap();
    assert_eq!(
        identity,
        Identity {
            name: "alice".into(),
            subject: Some("0b1c-alice".into())
        }
    );
}

#[tokio::test]
async fn no_token() {
    assert_eq!(rejection("").await, Rejection::Missing);
}

#[tokio::test]
async fn malformed_tokens() {
    let good = token(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    for bad in [
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{good}.extra"),
        format!("{}.{}.", parts[0], parts[1]),
        format!("!!.{}.{}", parts[1], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", b64(&json!([1, 2])), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64(&json!("x")), parts[2]),
        "x".repeat(jwt::MAX_TOKEN_BYTES + 1),
    ] {
        let rejection = rejection(&bad).await;
        assert!(
            matches!(
                rejection,
                Rejection::Malformed(_) | Rejection::BadSignature | Rejection::Algorithm
            ),
            "{bad:.40}: {rejection:?}"
        );
    }
    assert!(matches!(rejection("a.b.c").await, Rejection::Malformed(_)));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let header = json!({"alg": "none", "kid": KID, "typ": "JWT"});
    let unsigned = format!("{}.{}.", b64(&header), b64(&claims()));
    assert_eq!(rejection(&unsigned).await, Rejection::Algorithm);
    // Even with a (meaningless) signature part, and in any letter case.
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": KID});
        let forged = format!("{}.{}.AAAA", b64(&header), b64(&claims()));
        assert_eq!(rejection(&forged).await, Rejection::Algorithm, "{alg}");
    }
    let no_alg = format!("{}.{}.AAAA", b64(&json!({"kid": KID})), b64(&claims()));
    assert_eq!(rejection(&no_alg).await, Rejection::Algorithm);
}

#[tokio::test]
async fn algorithm_confusion_hs256_with_the_public_key_is_refused() {
    // The classic attack: HMAC-SHA256 keyed with the issuer's public key (which anyone can
    // read from the JWKS), hoping the verifier uses "the key" with the token's algorithm.
    let jwk = signer().jwk();
    let header = json!({"alg": "HS256", "kid": KID, "typ": "JWT"});
    let signing_input = format!("{}.{}", b64(&header), b64(&claims()));
    for secret in [
        serde_json::to_vec(&jwk).unwrap(),
        URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
    ] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, signing_input.as_bytes());
        let forged = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(rejection(&forged).await, Rejection::Algorithm);
    }
    // Other asymmetric algorithms are refused too, before any key is used.
    for alg in ["RS384", "RS512", "PS256", "ES256", "EdDSA", "rs256"] {
        let forged = signer()
            .sign_with_header(&json!({"alg": alg, "kid": KID}), &claims())
            .unwrap();
        assert_eq!(rejection(&forged).await, Rejection::Algorithm, "{alg}");
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let forged = signer()
        .sign_with_header(
            &json!({"alg": "RS256", "kid": KID, "crit": ["exp"], "exp": 1}),
            &claims(),
        )
        .unwrap();
    assert_eq!(rejection(&forged).await, Rejection::CriticalHeader);
}

#[tokio::test]
async fn a_token_without_kid_is_refused() {
    let forged = signer()
        .sign_with_header(&json!({"alg": "RS256"}), &claims())
        .unwrap();
    assert_eq!(rejection(&forged).await, Rejection::NoKeyId);
    let empty = signer()
        .sign_with_header(&json!({"alg": "RS256", "kid": ""}), &claims())
        .unwrap();
    assert_eq!(rejection(&empty).await, Rejection::NoKeyId);
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let stranger = Signer::from_pkcs8(ISSUER_KEY, "key-9").unwrap();
    assert_eq!(
        rejection(&stranger.sign(&claims()).unwrap()).await,
        Rejection::UnknownKey
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    // The other key claims the issuer's key id.
    let impostor = Signer::from_pkcs8(OTHER_KEY, KID).unwrap();
    assert_eq!(
        rejection(&impostor.sign(&claims()).unwrap()).await,
        Rejection::BadSignature
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let good = token(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    let mallory = with(claims(), "cognito:username", json!("mallory"));
    let tampered = format!("{}.{}.{}", parts[0], b64(&mallory), parts[2]);
    assert_eq!(rejection(&tampered).await, Rejection::BadSignature);
}

#[tokio::test]
async fn the_wrong_issuer_is_refused() {
    for iss in [
        json!("https://evil.example.com"),
        json!(format!("{ISSUER}/")),
        json!(null),
    ] {
        let token = token(&with(claims(), "iss", iss.clone()));
        assert_eq!(rejection(&token).await, Rejection::Issuer, "{iss}");
    }
    assert_eq!(
        rejection(&token(&without(claims(), "iss"))).await,
        Rejection::Issuer
    );
}

#[tokio::test]
async fn the_wrong_audience_is_refused() {
    for aud in [
        json!("client-2"),
        json!(["client-2", "client-3"]),
        json!(5),
        // Several audiences: `azp` must name this client.
        json!([CLIENT, "client-2"]),
    ] {
        let token = token(&with(claims(), "aud", aud.clone()));
        assert_eq!(rejection(&token).await, Rejection::Audience, "{aud}");
    }
    assert_eq!(
        rejection(&token(&without(claims(), "aud"))).await,
        Rejection::Audience
    );
}

#[tokio::test]
async fn audience_forms_that_name_the_client_are_accepted() {
    let list = with(claims(), "aud", json!([CLIENT]));
    assert!(verify(&token(&list)).await.is_ok());
    let with_azp = with(
        with(claims(), "aud", json!([CLIENT, "client-2"])),
        "azp",
        json!(CLIENT),
    );
    assert!(verify(&token(&with_azp)).await.is_ok());
    // Cognito access tokens name the client in `client_id` (this one is then refused for its
    // `token_use`, not its audience).
    let access = with(without(claims(), "aud"), "client_id", json!(CLIENT));
    assert_eq!(
        rejection(&token(&with(access, "token_use", json!("access")))).await,
        Rejection::TokenUse
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let past = epoch(now()) - 120;
    assert_eq!(
        rejection(&token(&with(claims(), "exp", json!(past)))).await,
        Rejection::Expired
    );
    assert_eq!(
        rejection(&token(&without(claims(), "exp"))).await,
        Rejection::Expired
    );
    // Within the leeway it still counts as valid: the issuer's clock may be a little ahead.
    let just = epoch(now()) - 5;
    assert!(
        verify(&token(&with(claims(), "exp", json!(just))))
            .await
            .is_ok()
    );
    assert!(matches!(
        rejection(&token(&with(claims(), "exp", json!("tomorrow")))).await,
        Rejection::Malformed(_)
    ));
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let later = epoch(now()) + 600;
    assert_eq!(
        rejection(&token(&with(claims(), "nbf", json!(later)))).await,
        Rejection::NotYetValid
    );
    let soon = epoch(now()) + 5;
    assert!(
        verify(&token(&with(claims(), "nbf", json!(soon))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let later = epoch(now()) + 600;
    assert_eq!(
        rejection(&token(&with(claims(), "iat", json!(later)))).await,
        Rejection::IssuedInFuture
    );
}

#[tokio::test]
async fn cognito_access_tokens_are_not_id_tokens() {
    for token_use in [json!("access"), json!(null)] {
        let token = token(&with(claims(), "token_use", token_use));
        assert_eq!(rejection(&token).await, Rejection::TokenUse);
    }
    assert_eq!(
        rejection(&token(&without(claims(), "token_use"))).await,
        Rejection::TokenUse
    );
    // An OpenID provider that is not Cognito sets no token_use, and none is required.
    let oidc = Authorizer::with_keys(
        AuthorizerConfig::oidc(ISSUER, CLIENT, None),
        Arc::new(keys()),
        RefreshPolicy::default(),
    );
    let claims = with(
        without(claims(), "token_use"),
        "preferred_username",
        json!("bob"),
    );
    let identity = oidc.verify(&token(&claims), now()).await.unwrap();
    assert_eq!(identity.name, "bob");
}

#[tokio::test]
async fn a_missing_name_claim_is_refused() {
    assert_eq!(
        rejection(&token(&without(claims(), "cognito:username"))).await,
        Rejection::MissingName
    );
    assert_eq!(
        rejection(&token(&with(claims(), "cognito:username", json!(42)))).await,
        Rejection::MissingName
    );
}

#[tokio::test]
async fn a_name_claim_that_breaks_the_name_rule_is_refused() {
    for name in ["", "al ice", "älice", "bob!", &"x".repeat(33), "a/b"] {
        let token = token(&with(claims(), "cognito:username", json!(name)));
        assert_eq!(rejection(&token).await, Rejection::InvalidName, "{name:?}");
    }
}

// ---------------------------------------------------------------- the API Gateway contract

fn request(token: Option<&str>) -> AuthorizerRequest {
    // The event of AWS's documentation (apigateway-websocket-api-lambda-auth), trimmed.
    let mut event = json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Connection": "upgrade", "Host": "abcdef123.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Connection": ["upgrade"]},
        "queryStringParameters": {"name": "mallory"},
        "multiValueQueryStringParameters": {"name": ["mallory"]},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "XYZ=",
            "requestTime": "19/Jan/2023:21:13:26 +0000",
            "messageDirection": "IN",
            "stage": "dev",
            "connectedAt": 1_674_162_806_344_u64,
            "requestTimeEpoch": 1_674_162_806_345_u64,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "XYZ=",
            "domainName": "abcdef123.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "L0SM9cOFvHcCIhw=",
            "apiId": "abcdef123"
        }
    });
    if let Some(token) = token {
        event["queryStringParameters"]["token"] = json!(token);
        event["multiValueQueryStringParameters"]["token"] = json!([token]);
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn allow_carries_the_verified_name_and_the_secret_in_the_context() {
    let response = authorizer()
        .authorize(&request(Some(&token(&claims()))))
        .await
        .unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        json!({
            "principalId": "0b1c-alice",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": METHOD_ARN
                }]
            },
            "context": {"name": "alice", "backendSecret": "s3cret-backend"}
        })
    );
    // `?name=mallory` in the same request changed nothing, and the secret never prints.
    assert!(!format!("{response:?}").contains("s3cret"));
}

#[tokio::test]
async fn a_bad_name_claim_gets_a_deny_policy() {
    let token = token(&with(claims(), "cognito:username", json!("al ice")));
    let response = authorizer()
        .authorize(&request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.policy_document.statement[0].effect, Effect::Deny);
    assert!(response.context.is_empty());
}

#[tokio::test]
async fn refused_tokens_are_unauthorized_for_api_gateway() {
    let expired = token(&with(claims(), "exp", json!(epoch(now()) - 3600)));
    for request in [request(None), request(Some("")), request(Some(&expired))] {
        let error = authorizer().authorize(&request).await.unwrap_err();
        assert!(matches!(error, AuthorizerError::Unauthorized(_)));
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_message, "Unauthorized");
    }
}

struct Counting {
    calls: AtomicUsize,
    answers: std::sync::Mutex<Vec<anyhow::Result<KeySet>>>,
    /// Answer once the scripted answers run out.
    last: KeySet,
}

impl Counting {
    fn new(answers: Vec<anyhow::Result<KeySet>>, last: KeySet) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            answers: std::sync::Mutex::new(answers.into_iter().rev().collect()),
            last,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl KeySource for Counting {
    async fn fetch(&self) -> anyhow::Result<KeySet> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // A fetch takes a moment, so concurrent lookups overlap.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let next = self.answers.lock().unwrap().pop();
        next.unwrap_or_else(|| Ok(self.last.clone()))
    }
}

fn with_source(source: Arc<Counting>, policy: RefreshPolicy) -> Authorizer {
    Authorizer::with_keys(config(), source, policy)
}

const NEVER: Duration = Duration::from_secs(3600);

fn policy(min_interval: Duration, retry_after_failure: Duration) -> RefreshPolicy {
    RefreshPolicy {
        min_interval,
        retry_after_failure,
    }
}

#[tokio::test]
async fn keys_are_fetched_once_and_shared_by_concurrent_connects() {
    let source = Counting::new(vec![], keys());
    let authorizer = with_source(Arc::clone(&source), policy(NEVER, NEVER));
    let token = token(&claims());
    let results =
        futures_util::future::join_all((0..16).map(|_| authorizer.verify(&token, now()))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(source.calls(), 1);
    assert!(authorizer.verify(&token, now()).await.is_ok());
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_at_a_bounded_rate() {
    let rotated = Signer::from_pkcs8(OTHER_KEY, "key-2").unwrap();
    let after_rotation = KeySet::from_keys([
        (KID.to_owned(), signer().public_key()),
        ("key-2".to_owned(), rotated.public_key()),
    ]);
    // Within the interval: one refresh for the first unknown kid, none for the following.
    let source = Counting::new(vec![Ok(keys())], after_rotation.clone());
    let bounded = with_source(Arc::clone(&source), policy(NEVER, NEVER));
    assert!(bounded.verify(&token(&claims()), now()).await.is_ok());
    let new_token = rotated.sign(&claims()).unwrap();
    // The first sight of key-2 comes after the first fetch, inside the interval: refused,
    // without another fetch, however often it is tried.
    for _ in 0..5 {
        let error = bounded.verify(&new_token, now()).await.unwrap_err();
        assert_eq!(error.rejection(), Some(&Rejection::UnknownKey));
    }
    let made_up = Signer::from_pkcs8(ISSUER_KEY, "key-made-up").unwrap();
    let _ = bounded
        .verify(&made_up.sign(&claims()).unwrap(), now())
        .await;
    assert_eq!(source.calls(), 1);

    // Once the interval has passed, an unknown kid refreshes the keys and the rotated key is
    // accepted.
    let source = Counting::new(vec![Ok(keys())], after_rotation);
    let quick = with_source(
        Arc::clone(&source),
        policy(Duration::from_millis(50), NEVER),
    );
    assert!(quick.verify(&token(&claims()), now()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let identity = quick.verify(&new_token, now()).await.unwrap();
    assert_eq!(identity.name, "alice");
    assert_eq!(source.calls(), 2);
    // The old key still works after the refresh.
    assert!(quick.verify(&token(&claims()), now()).await.is_ok());
    assert_eq!(source.calls(), 2);
}

#[tokio::test]
async fn unavailable_keys_fail_the_authorizer_and_are_retried_later() {
    let source = Counting::new(vec![Err(anyhow::anyhow!("connection refused"))], keys());
    let authorizer = Authorizer::with_keys(
        config(),
        Arc::clone(&source) as Arc<dyn KeySource>,
        policy(NEVER, Duration::from_millis(50)),
    );
    let token = token(&claims());
    let error = authorizer
        .authorize(&request(Some(&token)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthorizerError::Failed(_)));
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_ne!(diagnostic.error_message, "Unauthorized");
    // Right after the failure nothing is fetched.
    assert!(matches!(
        authorizer.verify(&token, now()).await,
        Err(VerifyError::Unavailable(_))
    ));
    assert_eq!(source.calls(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(authorizer.verify(&token, now()).await.is_ok());
    assert_eq!(source.calls(), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_keys_in_hand() {
    let source = Counting::new(
        vec![Ok(keys()), Err(anyhow::anyhow!("503 Service Unavailable"))],
        keys(),
    );
    let authorizer = with_source(
        Arc::clone(&source),
        policy(Duration::from_millis(50), NEVER),
    );
    assert!(authorizer.verify(&token(&claims()), now()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stranger = Signer::from_pkcs8(ISSUER_KEY, "key-9").unwrap();
    let error = authorizer
        .verify(&stranger.sign(&claims()).unwrap(), now())
        .await
        .unwrap_err();
    assert_eq!(error.rejection(), Some(&Rejection::UnknownKey));
    assert_eq!(source.calls(), 2);
    assert!(authorizer.verify(&token(&claims()), now()).await.is_ok());
}

#[test]
fn a_jwks_keeps_only_rsa_signing_keys() {
    let jwk = signer().jwk();
    let mut encryption = jwk.clone();
    encryption["use"] = json!("enc");
    encryption["kid"] = json!("enc-1");
    let mut es256 = jwk.clone();
    es256["alg"] = json!("ES256");
    es256["kid"] = json!("ec-1");
    let ec = json!({"kty": "EC", "kid": "ec-2", "crv": "P-256", "x": "AA", "y": "AA"});
    let mut bare = jwk.clone();
    bare.as_object_mut().unwrap().remove("use");
    bare.as_object_mut().unwrap().remove("alg");
    bare["kid"] = json!("bare-1");
    let document = json!({"keys": [jwk, encryption, es256, ec, bare]});
    let set = KeySet::parse(&serde_json::to_vec(&document).unwrap()).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.get(KID), Some(&signer().public_key()));
    assert!(set.get("bare-1").is_some());
    assert!(KeySet::parse(br#"{"keys":[]}"#).is_err());
    assert!(KeySet::parse(b"<html>").is_err());
}

#[test]
fn configuration_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    };
    let cognito = AuthorizerConfig::from_env(&env(&[
        ("CHAT_AUTH_PROVIDER", "cognito"),
        ("CHAT_AUTH_ISSUER", ISSUER),
        ("CHAT_AUTH_AUDIENCE", CLIENT),
        ("CHAT_SECRET", "s3cret"),
    ]))
    .unwrap();
    assert_eq!(cognito.expect.token_use.as_deref(), Some("id"));
    assert_eq!(cognito.expect.name_claim, "cognito:username");
    assert_eq!(
        cognito.jwks_url.as_deref(),
        Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test/.well-known/jwks.json")
    );
    assert!(!format!("{cognito:?}").contains("s3cret"));
    let oidc = AuthorizerConfig::from_env(&env(&[
        ("CHAT_AUTH_PROVIDER", "oidc"),
        ("CHAT_AUTH_ISSUER", "https://id.example.com/"),
        ("CHAT_AUTH_AUDIENCE", "chat"),
        ("CHAT_AUTH_NAME_CLAIM", "nickname"),
    ]))
    .unwrap();
    assert_eq!(oidc.expect.token_use, None);
    assert_eq!(oidc.expect.name_claim, "nickname");
    assert_eq!(oidc.jwks_url, None);
    assert_eq!(oidc.backend_secret, None);
    let missing = AuthorizerConfig::from_env(&env(&[("CHAT_AUTH_PROVIDER", "oidc")])).unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("CHAT_AUTH_ISSUER must be set")
    );
    let wrong = AuthorizerConfig::from_env(&env(&[
        ("CHAT_AUTH_PROVIDER", "saml"),
        ("CHAT_AUTH_ISSUER", ISSUER),
        ("CHAT_AUTH_AUDIENCE", CLIENT),
    ]))
    .unwrap_err();
    assert!(wrong.to_string().contains("is not cognito or oidc"));
}
