//! Everything a request needs, built once at start: the registry, the notifier and the secret.

use std::fmt;
use std::sync::Arc;

use anyhow::Context as _;
use subtle::ConstantTimeEq as _;

use crate::dynamo::DynamoRegistry;
use crate::notifier::{CallbackUrl, ConnectionsApi, Notifier};
use crate::registry::{MemoryRegistry, Registry};

/// Environment variable holding the shared secret gateways send in `x-chat-secret`.
pub const ENV_SECRET: &str = "CHAT_SECRET";
/// Environment variable holding the `@connections` base URL (https, with the stage).
pub const ENV_CALLBACK_URL: &str = "CHAT_CALLBACK_URL";
/// Environment variable naming the DynamoDB registry table; unset or empty → in memory.
pub const ENV_TABLE: &str = "CHAT_TABLE";

/// The shared secret. Its `Debug` never shows the value, so it cannot leak through a log line.
#[derive(Clone)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that hands it on (the authorizer's context).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time (for equal lengths): the backend's URL is public, so the
    /// secret is its only protection. An empty configured secret matches nothing.
    pub(crate) fn matches(&self, presented: Option<&[u8]>) -> bool {
        let expected = self.0.as_bytes();
        !expected.is_empty()
            && presented.is_some_and(|presented| bool::from(presented.ct_eq(expected)))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The dependencies of the handler. Cloning is cheap (shared pointers).
#[derive(Clone)]
pub struct Deps {
    pub(crate) registry: Arc<dyn Registry>,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) secret: Secret,
}

impl fmt::Debug for Deps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deps")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

fn env_var(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("{name} is not valid UTF-8"),
    }
}

impl Deps {
    pub fn new(registry: Arc<dyn Registry>, notifier: Arc<dyn Notifier>, secret: String) -> Self {
        Self {
            registry,
            notifier,
            secret: Secret::new(secret),
        }
    }

    /// The registry, for callers that inspect or seed it.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// Builds the dependencies from `CHAT_SECRET`, `CHAT_CALLBACK_URL` and `CHAT_TABLE`
    /// (see docs/integration-contract.md). AWS credentials and region come from the
    /// environment (see [`crate::aws::sdk_config`]); without `AWS_REGION`, the region is taken
    /// from an API Gateway callback URL.
    pub async fn from_env() -> anyhow::Result<Self> {
        let secret = env_var(ENV_SECRET)?
            .with_context(|| format!("{ENV_SECRET} must be set to the shared backend secret"))?;
        let callback_raw = env_var(ENV_CALLBACK_URL)?.with_context(|| {
            format!("{ENV_CALLBACK_URL} must be set to the @connections URL (https://…/{{stage}})")
        })?;
        let callback = CallbackUrl::parse(&callback_raw)
            .with_context(|| format!("{ENV_CALLBACK_URL} is invalid"))?;
        let table = env_var(ENV_TABLE)?;

        if table.is_none() && callback.is_local() {
            // Nothing in AWS is used: skip the credential and region chains entirely.
            return Ok(Self::with_memory(secret, &callback));
        }

        let sdk_config = crate::aws::sdk_config(&callback).await?;

        let notifier: Arc<dyn Notifier> = if callback.is_local() {
            Arc::new(ConnectionsApi::local(&callback))
        } else {
            Arc::new(ConnectionsApi::new(&sdk_config, &callback))
        };
        let registry: Arc<dyn Registry> = match table {
            Some(table) => Arc::new(DynamoRegistry::new(
                aws_sdk_dynamodb::Client::new(&sdk_config),
                table,
            )),
            None => Arc::new(MemoryRegistry::new()),
        };
        Ok(Self::new(registry, notifier, secret))
    }

    /// An in-memory registry and a `ConnectionsApi` at `callback_url` with dummy static
    /// credentials: what `chatctl dev` runs, whose gateway does not check signatures.
    // Async like `from_env`, so callers can switch between the two without other changes.
    #[allow(clippy::unused_async)]
    pub async fn in_memory(secret: String, callback_url: &str) -> anyhow::Result<Self> {
        let callback = CallbackUrl::parse(callback_url)?;
        Ok(Self::with_memory(secret, &callback))
    }

    fn with_memory(secret: String, callback: &CallbackUrl) -> Self {
        Self::new(
            Arc::new(MemoryRegistry::new()),
            Arc::new(ConnectionsApi::local(callback)),
            secret,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_compares_exactly_and_never_prints() {
        let secret = Secret("s3cret-value".into());
        assert!(secret.matches(Some(b"s3cret-value")));
        assert!(!secret.matches(Some(b"s3cret-valuf")));
        assert!(!secret.matches(Some(b"s3cret")));
        assert!(!secret.matches(Some(b"")));
        assert!(!secret.matches(None));
        assert!(!format!("{secret:?}").contains("s3cret"));

        let empty = Secret("".into());
        assert!(!empty.matches(Some(b"")));
        assert!(!empty.matches(None));
    }
}
