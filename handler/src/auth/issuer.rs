//! The issuer's keys over HTTPS: the JWKS at a known URL (Cognito publishes it at
//! `{issuer}/.well-known/jwks.json`), or at the `jwks_uri` of the issuer's OpenID discovery
//! document (`{issuer}/.well-known/openid-configuration`, OpenID Connect Discovery §4).

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper::{StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::jwks::{KeySet, KeySource};

/// Each discovery or JWKS request must finish within this (a Lambda authorizer has at most
/// API Gateway's 29 s, and a person is waiting for the handshake).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Neither document is anywhere near this; a bigger answer is not a key set.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Refuses anything but `https://`, except `http://` to a loopback host (a local provider such
/// as `chatctl dev`'s, or a test's): keys fetched in clear text over a network could be
/// replaced by anyone on the path.
pub fn check_key_url(url: &str) -> anyhow::Result<Uri> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("{url:?} is not a URL"))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => bail!("{url} is not https: only a loopback host may use http"),
        _ => bail!("{url} is not an https:// URL"),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `{issuer}/.well-known/openid-configuration`: a terminating `/` of the issuer is removed
/// before appending (OpenID Connect Discovery §4).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.strip_suffix('/').unwrap_or(issuer)
    )
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// The signing keys of one issuer, fetched over HTTP(S).
pub struct IssuerKeys {
    issuer: String,
    /// Set up front, or found through discovery on first use.
    jwks_url: OnceCell<Uri>,
    client: OnceLock<Result<HttpsClient, String>>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url.get())
            .finish_non_exhaustive()
    }
}

impl IssuerKeys {
    /// Keys of `issuer`, from `jwks_url` when given, else through discovery.
    pub fn new(issuer: &str, jwks_url: Option<&str>) -> anyhow::Result<Self> {
        check_key_url(issuer).context("the issuer")?;
        let cell = OnceCell::new();
        if let Some(url) = jwks_url {
            let uri = check_key_url(url).context("the JWKS URL")?;
            cell.set(uri)
                .map_err(|_| anyhow::anyhow!("the JWKS URL was set twice"))?;
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            jwks_url: cell,
            client: OnceLock::new(),
        })
    }

    fn client(&self) -> anyhow::Result<&HttpsClient> {
        // Built on first use: loading the system's trust roots takes a few milliseconds.
        let built = self.client.get_or_init(|| {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let builder = match hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(std::sync::Arc::clone(&provider))
            {
                Ok(builder) => builder,
                // A machine without trust roots can still fetch from a loopback http issuer;
                // any https fetch then fails its certificate check.
                Err(err) => {
                    tracing::warn!("no trusted root certificates ({err}): https fetches will fail");
                    let config = rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .map_err(|err| err.to_string())?
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth();
                    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
                }
            };
            let connector = builder.https_or_http().enable_http1().build();
            Ok(Client::builder(TokioExecutor::new()).build(connector))
        });
        built.as_ref().map_err(|err| anyhow::anyhow!("{err}"))
    }

    async fn get(&self, uri: &Uri) -> anyhow::Result<Bytes> {
        let client = self.client()?;
        let request = async {
            let response = client
                .get(uri.clone())
                .await
                .with_context(|| format!("GET {uri}"))?;
            let status = response.status();
            if status != StatusCode::OK {
                bail!("GET {uri} answered {status}");
            }
            let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map_err(|err| anyhow::anyhow!("reading {uri}: {err}"))?;
            Ok(body.to_bytes())
        };
        tokio::time::timeout(REQUEST_TIMEOUT, request)
            .await
            .with_context(|| format!("GET {uri} took more than {REQUEST_TIMEOUT:?}"))?
    }

    async fn jwks_uri(&self) -> anyhow::Result<&Uri> {
        self.jwks_url
            .get_or_try_init(|| async {
                let url = discovery_url(&self.issuer);
                let uri = check_key_url(&url)?;
                let document: Discovery = serde_json::from_slice(&self.get(&uri).await?)
                    .with_context(|| format!("{url} is not an OpenID discovery document"))?;
                // Discovery §4.3: the document must be the issuer's own.
                if document.issuer != self.issuer {
                    bail!(
                        "{url} names the issuer {:?}, not {:?}",
                        document.issuer,
                        self.issuer
                    );
                }
                check_key_url(&document.jwks_uri).context("the discovery document's jwks_uri")
            })
            .await
    }
}

#[async_trait::async_trait]
impl KeySource for IssuerKeys {
    async fn fetch(&self) -> anyhow::Result<KeySet> {
        let uri = self.jwks_uri().await?;
        KeySet::parse(&self.get(uri).await?).with_context(|| format!("the key set at {uri}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        for ok in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json",
            "http://127.0.0.1:8080/oidc/jwks.json",
            "http://localhost:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(check_key_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/jwks.json",
            "http://10.0.0.1/jwks.json",
            "ftp://example.com/x",
            "example.com",
            "https:///x",
        ] {
            assert!(check_key_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discovery_url_drops_one_terminating_slash() {
        assert_eq!(
            discovery_url("https://id.example.com/"),
            "https://id.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/openid-configuration"
        );
    }
}
