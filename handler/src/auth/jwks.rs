//! The issuer's signing keys (a JWKS, RFC 7517): parsed once, cached, refreshed when a token
//! names a key the cache does not know (the issuer rotated its keys), and never fetched more
//! often than a fixed interval however many tokens with unknown keys arrive.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;

use super::jwt::{ALGORITHM, RsaKey};

/// The RS256 signing keys of a JWKS document, by `kid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: HashMap<String, RsaKey>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl KeySet {
    /// Parses a JWKS document, keeping the RSA keys meant for RS256 signatures (a key with
    /// another `use` or `alg`, or another type, can never verify a token here).
    pub fn parse(document: &[u8]) -> anyhow::Result<Self> {
        let document: Document =
            serde_json::from_slice(document).context("the JWKS is not a JSON key set")?;
        let mut keys = HashMap::new();
        for jwk in document.keys {
            let usable = jwk.kty.as_deref() == Some("RSA")
                && jwk.usage.as_deref().is_none_or(|u| u == "sig")
                && jwk.alg.as_deref().is_none_or(|a| a == ALGORITHM);
            let (true, Some(kid), Some(n), Some(e)) = (usable, jwk.kid, jwk.n, jwk.e) else {
                continue;
            };
            let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else {
                continue;
            };
            keys.insert(kid, RsaKey::from_components(&n, &e));
        }
        anyhow::ensure!(!keys.is_empty(), "the JWKS has no RSA signing key");
        Ok(Self { keys })
    }

    pub fn from_keys(keys: impl IntoIterator<Item = (String, RsaKey)>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
        }
    }

    pub fn get(&self, kid: &str) -> Option<&RsaKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Where the keys come from (the issuer over HTTPS, or a fixed set in tests).
#[async_trait::async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> anyhow::Result<KeySet>;
}

/// A fixed key set: no network.
#[async_trait::async_trait]
impl KeySource for KeySet {
    async fn fetch(&self) -> anyhow::Result<KeySet> {
        Ok(self.clone())
    }
}

/// How often the cache may go back to the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// With keys in hand, an unknown `kid` refreshes them at most this often; tokens with made-up
    /// key ids therefore cannot make the authorizer hammer the issuer.
    pub min_interval: Duration,
    /// Without keys (the first fetch failed), how long to wait before trying again.
    pub retry_after_failure: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(2),
        }
    }
}

/// The answer for one `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(RsaKey),
    /// Not in the (possibly just refreshed) key set.
    Unknown,
}

/// The keys could not be obtained at all: the authorizer fails rather than refusing the token
/// (API Gateway answers 500, not 401: it is not the person's fault).
#[derive(Debug, thiserror::Error)]
#[error("the issuer's keys are unavailable: {0:#}")]
pub struct Unavailable(pub anyhow::Error);

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
}

/// The cached keys of one issuer.
pub struct KeyCache {
    source: Arc<dyn KeySource>,
    policy: RefreshPolicy,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching: concurrent requests wait for one fetch instead of starting many.
    refresh: Mutex<RefreshState>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    pub fn new(source: Arc<dyn KeySource>, policy: RefreshPolicy) -> Self {
        Self {
            source,
            policy,
            keys: RwLock::new(None),
            refresh: Mutex::new(RefreshState::default()),
        }
    }

    async fn cached(&self, kid: &str) -> Option<Option<RsaKey>> {
        let keys = self.keys.read().await;
        keys.as_ref().map(|set| set.get(kid).cloned())
    }

    /// The key `kid`, fetching the key set on first use and refreshing it (within the policy)
    /// when `kid` is not in it.
    pub async fn key(&self, kid: &str) -> Result<Lookup, Unavailable> {
        if let Some(Some(key)) = self.cached(kid).await {
            return Ok(Lookup::Found(key));
        }
        let mut refresh = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        let have_keys = match self.cached(kid).await {
            Some(Some(key)) => return Ok(Lookup::Found(key)),
            Some(None) => true,
            None => false,
        };
        let wait = if have_keys {
            self.policy.min_interval
        } else {
            self.policy.retry_after_failure
        };
        if refresh
            .last_attempt
            .is_some_and(|last| last.elapsed() < wait)
        {
            return if have_keys {
                Ok(Lookup::Unknown)
            } else {
                Err(Unavailable(anyhow::anyhow!(
                    "the last attempt to fetch them failed moments ago"
                )))
            };
        }
        refresh.last_attempt = Some(Instant::now());
        match self.source.fetch().await {
            Ok(set) => {
                tracing::info!(keys = set.len(), "fetched the issuer's signing keys");
                let found = set.get(kid).cloned();
                *self.keys.write().await = Some(Arc::new(set));
                Ok(found.map_or(Lookup::Unknown, Lookup::Found))
            }
            // Keys already in hand stay valid: a failed refresh only means this kid is unknown.
            Err(err) if have_keys => {
                tracing::warn!("refreshing the issuer's signing keys failed: {err:#}");
                Ok(Lookup::Unknown)
            }
            Err(err) => Err(Unavailable(err)),
        }
    }

    /// Fetches the keys ahead of the first token (best effort: a failure is retried on use).
    pub async fn prefetch(&self) {
        if let Err(err) = self.key("").await {
            tracing::warn!("{err}");
        }
    }
}
