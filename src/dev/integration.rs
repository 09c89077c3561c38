//! Calls a route's non-proxy HTTP integration the way API Gateway does: `POST` to the URI
//! resolved from the stage variables, the mapped request parameters as headers and query
//! string, and the client's frame as the body (passed through unchanged).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;

use super::mapping::Mapped;

/// What an integration call produced.
#[derive(Debug)]
pub enum Outcome {
    /// The backend answered below 500: with the `$default` integration response every status
    /// passes its body through.
    Response { status: StatusCode, body: Bytes },
    /// Connection refused, timeout, an unreadable answer or a 5xx: API Gateway reports these
    /// to the client as "Internal server error".
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Integrations {
    http: reqwest::Client,
}

impl Integrations {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // The backend is on loopback (or a URL the user gave); an HTTP(S)_PROXY set in the
            // shell must not route gateway traffic elsewhere.
            .no_proxy()
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { http })
    }

    /// POSTs `body` to `uri` with the mapped parameters.
    pub async fn call(&self, uri: &str, mapped: Mapped, body: Bytes) -> (Outcome, Duration) {
        let started = Instant::now();
        let mut url = match reqwest::Url::parse(uri) {
            Ok(url) => url,
            Err(err) => {
                return (
                    Outcome::Failed(format!("the integration URI is invalid: {err}")),
                    started.elapsed(),
                );
            }
        };
        if !mapped.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&mapped.query);
        }
        let mut request = self.http.post(url).body(body);
        for (name, value) in mapped.headers {
            request = request.header(name, value);
        }
        let outcome = match request.send().await {
            Err(err) => Outcome::Failed(describe(&err)),
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Err(err) => Outcome::Failed(describe(&err)),
                    Ok(_) if status.is_server_error() => {
                        Outcome::Failed(format!("the backend answered {status}"))
                    }
                    Ok(body) => Outcome::Response { status, body },
                }
            }
        };
        (outcome, started.elapsed())
    }
}

/// A failure in words, without the URL's query string (mapped values could be secrets).
fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "could not read the answer"
    } else {
        "failed"
    };
    match err.url() {
        Some(url) => {
            format!(
                "{what}: {}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ) + url.path()
        }
        None => what.to_owned(),
    }
}
