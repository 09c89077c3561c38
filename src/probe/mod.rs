//! `chatctl status --probe`: proves a deployed (or local) chat service works end to end.
//!
//! Two WebSocket clients join with generated names; the first sends the second a random text;
//! the probe checks that the second receives exactly that message, from the first's name, and
//! that the first receives the `sent` acknowledgement with the same message id. Any other
//! outcome is an error that says what was expected and what happened.
//!
//! How the clients join ([`ProbeJoin`]): with `?name=` and generated names, or with two ID
//! tokens for two different names — on a loopback URL served by `chatctl dev` with sign-in on,
//! from its local OpenID provider (found through its discovery document; [`probe`] does
//! that by itself); on AWS with `provider = "cognito"`, of the stack's probe users
//! ([`cognito_tokens`]); with `provider = "oidc"`, from the environment ([`tokens_from_env`]).
//! docs/auth.md, "status --probe", says why.

mod cognito;
mod tokens;

pub use cognito::{JOINED_WITH as COGNITO_JOINED_WITH, PROBE_USERS, cognito_tokens};
pub use tokens::{
    FROM_ENV as ENV_JOINED_WITH, IdToken, ProbeToken, ProbeTokens, TOKEN_A_ENV, TOKEN_B_ENV,
    tokens_from_env,
};

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a successful probe measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    /// The WebSocket URL probed (without the query string).
    pub url: String,
    /// The names of the two clients (generated, or those of their tokens).
    pub sender: String,
    pub receiver: String,
    /// The id the service gave the message.
    pub message_id: String,
    /// Time to open the sender's connection (TCP, TLS, upgrade and `$connect`), ms.
    pub connect_ms: f64,
    /// From sending the message to the receiver getting it, ms.
    pub delivery_ms: f64,
    /// From sending the message to the sender getting its `sent` acknowledgement, ms.
    pub ack_ms: f64,
    /// How the clients joined: `name` (`?name=`), `token` (ID tokens of `chatctl dev`'s
    /// local sign-in), [`COGNITO_JOINED_WITH`] or [`ENV_JOINED_WITH`]. Never a token.
    pub joined_with: &'static str,
}

/// How the probe's clients say who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeJoin {
    /// `?name=` with generated names: a service without sign-in.
    Names,
    /// `?token=` with these ID tokens; the names are theirs.
    Tokens(ProbeTokens),
}

/// `ProbeReport::joined_with` for `chatctl dev`'s tokens.
pub const DEV_JOINED_WITH: &str = "token";

/// `chatctl dev`'s local provider, when `url` is a loopback URL of a dev server with sign-in.
async fn local_sign_in(url: &str) -> Option<String> {
    let rest = url.strip_prefix("ws://")?;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    let discovery = format!(
        "http://{authority}{}/.well-known/openid-configuration",
        crate::dev::oidc::PATH
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let document: Value = client
        .get(&discovery)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    document
        .get("chatctl_dev_token_endpoint")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn dev_token(endpoint: &str, name: &str) -> Result<ProbeToken> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    // Probe names are plain `[a-z0-9-]`: nothing to encode.
    let response = client
        .get(format!("{endpoint}?name={name}"))
        .send()
        .await
        .with_context(|| format!("asking {endpoint} for a token"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!(
            "{endpoint} refused a token for {name}: {status} {}",
            body.trim()
        );
    }
    Ok(ProbeToken {
        name: name.to_owned(),
        token: IdToken::new(body),
    })
}

/// Generated probe names, `probe-{tag}-a` and `probe-{tag}-b`.
fn generated_names() -> (String, String) {
    let tag: String = random_token(8);
    (format!("probe-{tag}-a"), format!("probe-{tag}-b"))
}

/// Runs the probe against `url` (`ws://` or `wss://`, the stage URL without `?name=`); the
/// whole probe, connections included, must finish within `timeout`. On a loopback
/// `chatctl dev` with sign-in, the clients join with its tokens; otherwise with `?name=`.
pub async fn probe(url: &str, timeout: Duration) -> Result<ProbeReport> {
    check_url(url)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let join = async {
        Ok::<_, anyhow::Error>(match local_sign_in(url).await {
            Some(endpoint) => {
                let (a, b) = generated_names();
                ProbeJoin::Tokens(ProbeTokens::new(
                    dev_token(&endpoint, &a).await?,
                    dev_token(&endpoint, &b).await?,
                    DEV_JOINED_WITH,
                )?)
            }
            None => ProbeJoin::Names,
        })
    };
    let Ok(join) = tokio::time::timeout_at(deadline, join).await else {
        bail!("probe of {url} did not finish within {timeout:?}");
    };
    probe_until(url, deadline, timeout, join?).await
}

/// [`probe`] with the clients joining as `join` says.
pub async fn probe_with(url: &str, timeout: Duration, join: ProbeJoin) -> Result<ProbeReport> {
    check_url(url)?;
    probe_until(url, tokio::time::Instant::now() + timeout, timeout, join).await
}

async fn probe_until(
    url: &str,
    deadline: tokio::time::Instant,
    timeout: Duration,
    join: ProbeJoin,
) -> Result<ProbeReport> {
    // Boxed: two WebSocket handshakes make a large future.
    match tokio::time::timeout_at(deadline, Box::pin(run(url, deadline, join))).await {
        Ok(result) => result,
        Err(_) => bail!("probe of {url} did not finish within {timeout:?}"),
    }
}

fn check_url(url: &str) -> Result<()> {
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        bail!("cannot probe {url}: the URL must start with ws:// or wss://");
    }
    Ok(())
}

async fn run(url: &str, deadline: tokio::time::Instant, join: ProbeJoin) -> Result<ProbeReport> {
    let text = format!("probe {}", random_token(16));
    let (sender, receiver, query_a, query_b, joined_with) = match join {
        ProbeJoin::Names => {
            let (a, b) = generated_names();
            let (query_a, query_b) = (format!("name={a}"), format!("name={b}"));
            (a, b, query_a, query_b, "name")
        }
        // Tokens are base64url and dots (`ProbeToken::from_claim`, the dev provider):
        // nothing to encode.
        ProbeJoin::Tokens(tokens) => (
            tokens.sender.name,
            tokens.receiver.name,
            format!("token={}", tokens.sender.token.expose()),
            format!("token={}", tokens.receiver.token.expose()),
            tokens.joined_with,
        ),
    };

    let started = Instant::now();
    let mut a = connect(url, &sender, &query_a).await?;
    let connect_ms = millis(started.elapsed());
    let mut b = connect(url, &receiver, &query_b).await?;

    let outcome = exchange(&mut a, &mut b, &sender, &receiver, &text, deadline).await;
    // Close politely whatever happened, without letting a slow close hide the result.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = a.close(None).await;
        let _ = b.close(None).await;
    })
    .await;
    let (message_id, delivery_ms, ack_ms) = outcome?;
    Ok(ProbeReport {
        url: url.to_owned(),
        sender,
        receiver,
        message_id,
        connect_ms,
        delivery_ms,
        ack_ms,
        joined_with,
    })
}

async fn exchange(
    a: &mut Socket,
    b: &mut Socket,
    sender: &str,
    receiver: &str,
    text: &str,
    deadline: tokio::time::Instant,
) -> Result<(String, f64, f64)> {
    let request = json!({"action": "sendmessage", "to": receiver, "text": text});
    let sent_at = Instant::now();
    a.send(Message::text(request.to_string()))
        .await
        .with_context(|| format!("sending the probe message as {sender}"))?;

    let mut delivered: Option<(String, f64)> = None;
    let mut acknowledged: Option<(String, f64)> = None;
    while delivered.is_none() || acknowledged.is_none() {
        let waiting_for = match (&delivered, &acknowledged) {
            (None, None) => {
                format!("the message at {receiver} and the `sent` acknowledgement at {sender}")
            }
            (None, Some(_)) => format!("the message at {receiver}"),
            _ => format!("the `sent` acknowledgement at {sender}"),
        };
        tokio::select! {
            frame = next_json(a, sender), if acknowledged.is_none() => {
                let frame = frame?;
                if frame.get("type").and_then(Value::as_str) != Some("sent") {
                    bail!("{sender} expected the `sent` acknowledgement but got {frame}");
                }
                if frame.get("to").and_then(Value::as_str) != Some(receiver) {
                    bail!("the `sent` acknowledgement names the wrong addressee: {frame}");
                }
                let id = string_field(&frame, "id")
                    .with_context(|| format!("the `sent` acknowledgement has no id: {frame}"))?;
                acknowledged = Some((id, millis(sent_at.elapsed())));
            }
            frame = next_json(b, receiver), if delivered.is_none() => {
                let frame = frame?;
                if frame.get("type").and_then(Value::as_str) != Some("message") {
                    bail!("{receiver} expected the probe message but got {frame}");
                }
                let from = frame.get("from").and_then(Value::as_str).unwrap_or_default();
                if from != sender {
                    bail!("wrong sender: {receiver} got the message from {from:?}, expected {sender:?}");
                }
                if frame.get("text").and_then(Value::as_str) != Some(text) {
                    bail!("{receiver} got a different text than was sent: {frame}");
                }
                if frame.get("at").and_then(Value::as_str).is_none_or(|at| {
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_err()
                }) {
                    bail!("the message has no RFC 3339 `at` time: {frame}");
                }
                let id = string_field(&frame, "id")
                    .with_context(|| format!("the message has no id: {frame}"))?;
                delivered = Some((id, millis(sent_at.elapsed())));
            }
            () = tokio::time::sleep_until(deadline) => bail!("timeout waiting for {waiting_for}"),
        }
    }
    let (Some((message_id, delivery_ms)), Some((ack_id, ack_ms))) = (delivered, acknowledged)
    else {
        bail!("the probe ended without both frames");
    };
    if message_id != ack_id {
        bail!(
            "the acknowledgement id {ack_id:?} differs from the delivered message id {message_id:?}"
        );
    }
    Ok((message_id, delivery_ms, ack_ms))
}

async fn connect(url: &str, name: &str, query: &str) -> Result<Socket> {
    let separator = if url.contains('?') { '&' } else { '?' };
    let target = format!("{url}{separator}{query}");
    match connect_async(target.as_str()).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>();
            bail!(
                "the service refused the connection of {name} with HTTP {}{}",
                response.status(),
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                }
            )
        }
        // The query may hold an ID token: an error that quotes the URL must not show it.
        Err(err) => bail!(
            "cannot connect to {url} as {name}: {}",
            scrub(&format!("{:#}", anyhow::Error::new(err)), query)
        ),
    }
}

/// The next data frame as JSON; pings and pongs are skipped.
async fn next_json(socket: &mut Socket, who: &str) -> Result<Value> {
    loop {
        let message = socket
            .next()
            .await
            .with_context(|| format!("the connection of {who} ended unexpectedly"))?
            .with_context(|| format!("reading from the connection of {who}"))?;
        match message {
            Message::Text(text) => {
                return serde_json::from_str(text.as_str())
                    .with_context(|| format!("{who} got a frame that is not JSON: {text}"));
            }
            Message::Binary(data) => {
                return serde_json::from_slice(&data)
                    .with_context(|| format!("{who} got a binary frame that is not JSON"));
            }
            Message::Close(frame) => {
                let why = frame.map_or_else(
                    || "no close code".to_owned(),
                    |f| format!("code {} {}", u16::from(f.code), f.reason),
                );
                bail!("the service closed the connection of {who} ({why})");
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// `text` without the value of `query` (`token=…`) anywhere in it.
fn scrub(text: &str, query: &str) -> String {
    match query.split_once('=') {
        Some((_, value)) if value.len() >= 8 => text.replace(value, "***"),
        _ => text.to_owned(),
    }
}

fn string_field(frame: &Value, field: &str) -> Option<String> {
    frame.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_never_quote_the_token() {
        let query = "token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        let text =
            "Unable to connect to wss://x/dev?token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        assert_eq!(
            scrub(text, query),
            "Unable to connect to wss://x/dev?token=***"
        );
        // A name is no secret, and too short a value is left as it is.
        assert_eq!(scrub("as alice", "name=alice"), "as alice");
    }
}
