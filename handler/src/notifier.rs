//! Reaching other connections: API Gateway's `@connections` management API.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::{Client, Config};

use crate::aws::{https_client, timeouts};

/// Why a post or delete did not reach its connection.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// 410: the connection no longer exists (or never finished connecting).
    #[error("the connection no longer exists")]
    Gone,
    /// Anything else: throttling, a network failure, a misconfigured callback URL…
    #[error("{0}")]
    Other(String),
}

/// Delivers frames to connections other than the one being answered.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends `data` as one frame to `connection_id`.
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError>;
    /// Closes `connection_id`.
    async fn delete(&self, connection_id: &str) -> Result<(), NotifyError>;
}

/// The callback URL of the management API, checked: `http(s)://host[:port]/{stage}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl {
    url: String,
    host: String,
    https: bool,
}

impl CallbackUrl {
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        const SHAPE: &str = "https://{api-id}.execute-api.{region}.amazonaws.com/{stage}";
        let trimmed = raw.trim().trim_end_matches('/');
        if !trimmed.contains("://") {
            anyhow::bail!(
                "the @connections callback URL {trimmed:?} must start with https://; expected {SHAPE}"
            );
        }
        let uri: axum::http::Uri = trimmed.parse().map_err(|_| {
            anyhow::anyhow!(
                "the @connections callback URL {trimmed:?} is not a URL; expected {SHAPE}"
            )
        })?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some("wss" | "ws") => anyhow::bail!(
                "the @connections callback URL {trimmed:?} is the WebSocket URL; use the https:// \
                 management URL instead: {SHAPE}"
            ),
            _ => anyhow::bail!(
                "the @connections callback URL {trimmed:?} must start with https://; expected {SHAPE}"
            ),
        };
        let host = uri.host().unwrap_or_default().to_owned();
        if host.is_empty() {
            anyhow::bail!(
                "the @connections callback URL {trimmed:?} has no host; expected {SHAPE}"
            );
        }
        // The stage is part of the management API's path; without it every post answers 403
        // or 404 (a frequent misconfiguration).
        if uri.path().trim_matches('/').is_empty() {
            anyhow::bail!(
                "the @connections callback URL {trimmed:?} lacks the stage path; expected {SHAPE}"
            );
        }
        if uri.query().is_some() {
            anyhow::bail!("the @connections callback URL {trimmed:?} must not have a query string");
        }
        Ok(Self {
            url: trimmed.to_owned(),
            host,
            https,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Whether this is the local gateway of `chatctl dev` (plain http on this machine), which
    /// does not check request signatures.
    pub fn is_local(&self) -> bool {
        !self.https
            && matches!(
                self.host.as_str(),
                "127.0.0.1" | "localhost" | "[::1]" | "::1"
            )
    }

    /// The region in an API Gateway host (`{api-id}.execute-api.{region}.amazonaws.com`).
    pub fn region(&self) -> Option<&str> {
        let mut labels = self.host.split('.');
        let _api_id = labels.next()?;
        if labels.next()? != "execute-api" {
            return None;
        }
        labels.next().filter(|region| !region.is_empty())
    }
}

/// The real [`Notifier`]: `aws-sdk-apigatewaymanagement` pointed at the callback URL.
#[derive(Debug, Clone)]
pub struct ConnectionsApi {
    client: Client,
}

impl ConnectionsApi {
    /// A client with the credentials and region of `sdk_config` (Lambda's role, or the
    /// standard chain of a self-hosted server).
    pub fn new(sdk_config: &SdkConfig, callback_url: &CallbackUrl) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk_config)
            .endpoint_url(callback_url.as_str())
            .build();
        Self::from_client(Client::from_conf(config))
    }

    /// A client for the local gateway of `chatctl dev`: it does not verify SigV4, so fixed
    /// dummy credentials avoid any lookup of real ones (and any instance-metadata probing).
    pub fn local(callback_url: &CallbackUrl) -> Self {
        let config = Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(
                callback_url.region().unwrap_or("us-east-1").to_owned(),
            ))
            .credentials_provider(Credentials::new(
                "chatctl-dev",
                "chatctl-dev",
                None,
                None,
                "chatctl-dev-static",
            ))
            .timeout_config(timeouts())
            .http_client(https_client())
            .endpoint_url(callback_url.as_str())
            .build();
        Self::from_client(Client::from_conf(config))
    }

    pub fn from_client(client: Client) -> Self {
        Self { client }
    }
}

/// Maps an SDK failure: 410 is `Gone` (the typed `GoneException`, or a bare 410 from a gateway
/// that omits the error-type header), anything else is `Other` with the full error chain.
fn classify<E>(
    err: &SdkError<E, aws_sdk_apigatewaymanagement::config::http::HttpResponse>,
    is_gone: impl Fn(&E) -> bool,
) -> NotifyError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let gone = err.as_service_error().is_some_and(&is_gone)
        || err
            .raw_response()
            .is_some_and(|response| response.status().as_u16() == 410);
    if gone {
        NotifyError::Gone
    } else {
        NotifyError::Other(DisplayErrorContext(err).to_string())
    }
}

#[async_trait]
impl Notifier for ConnectionsApi {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map(drop)
            .map_err(|err| classify(&err, PostToConnectionError::is_gone_exception))
    }

    async fn delete(&self, connection_id: &str) -> Result<(), NotifyError> {
        self.client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map(drop)
            .map_err(|err| classify(&err, DeleteConnectionError::is_gone_exception))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_are_checked() {
        let aws =
            CallbackUrl::parse("https://abc123.execute-api.eu-west-1.amazonaws.com/dev/").unwrap();
        assert_eq!(
            aws.as_str(),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
        );
        assert_eq!(aws.region(), Some("eu-west-1"));
        assert!(!aws.is_local());

        let dev = CallbackUrl::parse("http://127.0.0.1:4000/dev").unwrap();
        assert!(dev.is_local());
        assert_eq!(dev.region(), None);
        assert!(
            CallbackUrl::parse("http://localhost:4000/dev")
                .unwrap()
                .is_local()
        );
        assert!(
            !CallbackUrl::parse("http://10.0.0.1:4000/dev")
                .unwrap()
                .is_local()
        );

        let wss =
            CallbackUrl::parse("wss://abc.execute-api.eu-west-1.amazonaws.com/dev").unwrap_err();
        assert!(wss.to_string().contains("is the WebSocket URL"), "{wss}");
        let no_stage =
            CallbackUrl::parse("https://abc.execute-api.eu-west-1.amazonaws.com").unwrap_err();
        assert!(
            no_stage.to_string().contains("lacks the stage path"),
            "{no_stage}"
        );
        let no_scheme =
            CallbackUrl::parse("abc.execute-api.eu-west-1.amazonaws.com/dev").unwrap_err();
        assert!(
            no_scheme.to_string().contains("must start with https://"),
            "{no_scheme}"
        );
    }
}
