//! bench/auth (the `auth-bench` example): the `$connect` authorizer and the cost of sign-in,
//! measured and printed as one table. Everything runs on 127.0.0.1 and stops by itself.
//!
//! 1. **Authorizer cold start**: the Lambda package's `bootstrap` started as the authorizer
//!    function (`CHAT_ROLE=authorizer`) under a local Lambda Runtime API, with a local OpenID
//!    issuer: from spawning the process to the runtime API receiving the answer to the first
//!    `$connect` event. That is process start, runtime init, discovery document and JWKS fetch
//!    (loopback HTTP: no TLS, no network latency, which a real issuer adds), and the first
//!    verification. Target < 50 ms.
//! 2. **Warm verification**: `Authorizer::verify` of an RS256 ID token with the keys cached, in
//!    process, and a whole warm invocation (event JSON in, policy JSON out). Target < 1 ms.
//! 3. **`chatctl dev` connect latency**, sign-in on (`?token=`: the authorizer, then the
//!    `$connect` integration) against off (`?name=`): handshake until the socket is open, one
//!    at a time, alternating between the two servers, tokens fetched beforehand.
//!
//! ```sh
//! bench/auth/run.sh            # builds the Lambda package's bootstrap and this example (release)
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a measurement: fail loudly

#[path = "../../handler/tests/common/issuer.rs"]
mod issuer;
#[path = "../../handler/tests/common/runtime_api.rs"]
mod runtime_api;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chat_handler::auth::{Authorizer, AuthorizerConfig, KeySet, RefreshPolicy};
use chatctl::config::ApiSettings;
use chatctl::dev::{DevOptions, DevServer};
use tokio::process::Command;

const COLD_TARGET_MS: f64 = 50.0;
const WARM_TARGET_MS: f64 = 1.0;

struct Args {
    bootstrap: Option<PathBuf>,
    cold_starts: usize,
    verifications: usize,
    connects: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        bootstrap: None,
        cold_starts: 20,
        verifications: 5_000,
        connects: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--bootstrap" => args.bootstrap = Some(PathBuf::from(value())),
            "--cold-starts" => args.cold_starts = value().parse().unwrap(),
            "--verifications" => args.verifications = value().parse().unwrap(),
            "--connects" => args.connects = value().parse().unwrap(),
            other => panic!(
                "unknown argument {other}: use --bootstrap PATH --cold-starts N --verifications N --connects N"
            ),
        }
    }
    args
}

/// Milliseconds, sorted.
struct Samples(Vec<f64>);

impl Samples {
    fn new(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Self(values)
    }

    fn quantile(&self, q: f64) -> f64 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0[index]
    }

    fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn show(value: f64) -> String {
    if value < 1.0 {
        format!("{:.1} µs", value * 1000.0)
    } else {
        format!("{value:.2} ms")
    }
}

fn row(what: &str, samples: &Samples, target: Option<f64>) {
    let verdict = target.map_or_else(String::new, |t| {
        let ok = samples.median() < t && samples.quantile(0.95) < t;
        format!("< {} {}", show(t), if ok { "✓" } else { "✗" })
    });
    println!(
        "| {what} | {} | {} | {} | {} | {verdict} |",
        samples.0.len(),
        show(samples.median()),
        show(samples.quantile(0.95)),
        show(samples.0[samples.0.len() - 1]),
    );
}

async fn cold_starts(bootstrap: &PathBuf, runs: usize) -> Samples {
    let issuer = issuer::Issuer::start().await;
    let token = issuer.token("alice");
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let event = issuer::authorizer_event(Some(&token), &format!("C{run}")).to_string();
        let api = runtime_api::RuntimeApi::with_events(vec![event]);
        let addr = api.serve().await;
        let answered = api.answered.notified();
        tokio::pin!(answered);
        answered.as_mut().enable();
        let started = Instant::now();
        let mut child = Command::new(bootstrap)
            .env_clear()
            .env("CHAT_ROLE", "authorizer")
            .env("CHAT_AUTH_PROVIDER", "oidc")
            .env("CHAT_AUTH_ISSUER", &issuer.url)
            .env("CHAT_AUTH_AUDIENCE", issuer::CLIENT_ID)
            .env("CHAT_SECRET", "bench-secret-0123456789")
            .env("RUST_LOG", "warn")
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "chat-bench-authorizer")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), answered)
            .await
            .expect("the authorizer answered nothing within 10 s");
        samples.push(ms(started.elapsed()));
        let responses = api.responses.lock().unwrap().clone();
        assert_eq!(
            responses[0].1["policyDocument"]["Statement"][0]["Effect"], "Allow",
            "{responses:?}"
        );
        child.kill().await.unwrap();
    }
    Samples::new(samples)
}

async fn warm(verifications: usize) -> (Samples, Samples) {
    let signer = chat_handler::auth::Signer::from_pkcs8(issuer::ISSUER_KEY, issuer::KID).unwrap();
    let iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Bench";
    let config = AuthorizerConfig::cognito(iss, issuer::CLIENT_ID, None)
        .with_backend_secret(Some("bench-secret".to_owned()));
    let keys = KeySet::from_keys([(issuer::KID.to_owned(), signer.public_key())]);
    let authorizer = Authorizer::with_keys(config, Arc::new(keys), RefreshPolicy::default());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The shape of a Cognito ID token (a dozen claims, ~1 KB signed).
    let token = signer
        .sign(&serde_json::json!({
            "sub": "3f1c2a4e-0b5d-4c9a-9f0e-7c1b2d3e4f5a",
            "email_verified": true,
            "iss": iss,
            "cognito:username": "alice",
            "origin_jti": "c6d1f1a2-5b1e-4d1a-8d7e-2f3a4b5c6d7e",
            "aud": issuer::CLIENT_ID,
            "event_id": "0d8e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6",
            "token_use": "id",
            "auth_time": now,
            "exp": now + 3600,
            "iat": now,
            "jti": "a1b2c3d4-e5f6-4a5b-9c8d-7e6f5a4b3c2d",
            "email": "alice@example.com",
        }))
        .unwrap();
    let event = issuer::authorizer_event(Some(&token), "W1");
    for _ in 0..200 {
        authorizer.verify(&token, SystemTime::now()).await.unwrap();
    }
    let mut verify = Vec::with_capacity(verifications);
    for _ in 0..verifications {
        let started = Instant::now();
        let identity = authorizer.verify(&token, SystemTime::now()).await.unwrap();
        verify.push(ms(started.elapsed()));
        assert_eq!(identity.name, "alice");
    }
    let mut invoke = Vec::with_capacity(verifications);
    for _ in 0..verifications {
        let event = event.clone();
        let started = Instant::now();
        let output = chat_handler::auth::lambda::invoke(&authorizer, event)
            .await
            .unwrap();
        invoke.push(ms(started.elapsed()));
        assert_eq!(output["context"]["name"], "alice");
    }
    (Samples::new(verify), Samples::new(invoke))
}

async fn dev_server(auth: bool) -> DevServer {
    let mut options = if auth {
        DevOptions::default()
    } else {
        DevOptions::without_auth()
    };
    // The stage's default limits (100 burst, 50/s) would throttle the benchmark.
    options.api = ApiSettings {
        throttling_burst_limit: 1_000_000,
        throttling_rate_limit: 1_000_000.0,
        ..ApiSettings::default()
    };
    chatctl::dev::start(options).await.unwrap()
}

async fn connect_once(url: &str) -> f64 {
    let started = Instant::now();
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let elapsed = ms(started.elapsed());
    let _ = socket.close(None).await;
    elapsed
}

async fn connects(n: usize) -> (Samples, Samples) {
    let off = dev_server(false).await;
    let on = dev_server(true).await;
    let provider = on.provider().unwrap();
    let tokens: Vec<String> = (0..n + 10)
        .map(|i| {
            provider
                .id_token(&format!("user{i}"), None, Duration::from_secs(3600))
                .unwrap()
        })
        .collect();
    let name_url = |i: usize| format!("{}?name=user{i}", off.websocket_url());
    let token_url = |i: usize| format!("{}?token={}", on.websocket_url(), tokens[i]);
    // Warm-up: connections, the in-process backend, and the authorizer's first key fetch.
    for i in 0..10 {
        connect_once(&name_url(i)).await;
        connect_once(&token_url(i)).await;
    }
    let (mut without, mut with) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 10..n + 10 {
        without.push(connect_once(&name_url(i)).await);
        with.push(connect_once(&token_url(i)).await);
    }
    off.shutdown().await.unwrap();
    on.shutdown().await.unwrap();
    (Samples::new(without), Samples::new(with))
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    println!(
        "authorizer and sign-in benchmark ({} CPUs, {}; {})",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        std::env::consts::ARCH,
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    println!();
    println!("| measurement | n | median | p95 | max | target |");
    println!("|---|---|---|---|---|---|");
    match &args.bootstrap {
        Some(bootstrap) => row(
            "authorizer cold start: spawn → first answer (discovery + JWKS + verify)",
            &cold_starts(bootstrap, args.cold_starts).await,
            Some(COLD_TARGET_MS),
        ),
        None => println!("| authorizer cold start | – | (pass --bootstrap PATH) | | | |"),
    }
    let (verify, invoke) = warm(args.verifications).await;
    row(
        "authorizer warm verification (RS256 + claims, keys cached)",
        &verify,
        Some(WARM_TARGET_MS),
    );
    row(
        "authorizer warm invocation (event JSON → policy JSON)",
        &invoke,
        Some(WARM_TARGET_MS),
    );
    let (without, with) = connects(args.connects).await;
    row("chatctl dev connect, sign-in off (?name=)", &without, None);
    row("chatctl dev connect, sign-in on (?token=)", &with, None);
    println!();
    println!(
        "sign-in adds {} to a chatctl dev connect at the median ({} at p95)",
        show(with.median() - without.median()),
        show(with.quantile(0.95) - without.quantile(0.95))
    );
}
