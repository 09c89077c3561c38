//! Verified identity: the `$connect` authorizer.
//!
//! A client connects with `?token=<ID token>`. The authorizer verifies the token against the
//! issuer's signing keys ([`jwks`], fetched once and cached) and its claims ([`jwt`]), and
//! answers API Gateway's REQUEST-authorizer contract ([`apigw`]): an Allow policy whose context
//! carries the verified chat name (and the backend secret, so that it needs no stage variable),
//! a Deny policy for a genuine token whose name breaks the name rule, or `Unauthorized`.
//!
//! The same [`Authorizer`] runs as a Lambda function on AWS ([`lambda`]) and in-process under
//! `chatctl dev`, which calls it through the same JSON contract.

pub mod apigw;
mod issuer;
pub mod jwks;
pub mod jwt;
pub mod lambda;
pub mod sign;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use serde_json::Value;

pub use apigw::{AuthorizerRequest, AuthorizerResponse, Effect};
pub use issuer::{IssuerKeys, check_key_url, discovery_url};
pub use jwks::{KeyCache, KeySet, KeySource, RefreshPolicy};
pub use jwt::{DEFAULT_LEEWAY, Expectations, Identity, Rejection, RsaKey};
pub use sign::Signer;

use crate::deps::Secret;

/// The query string parameter that carries the ID token (browsers cannot set headers on a
/// WebSocket handshake); the authorizer's identity source is `route.request.querystring.token`.
pub const TOKEN_PARAMETER: &str = "token";
/// Context key of the verified chat name (`$context.authorizer.name`).
pub const CONTEXT_NAME: &str = "name";
/// Context key of the backend secret (`$context.authorizer.backendSecret`).
pub const CONTEXT_SECRET: &str = "backendSecret";

/// Which function the one package runs as: `backend` (default) or [`ROLE_AUTHORIZER`].
pub const ENV_ROLE: &str = "CHAT_ROLE";
pub const ROLE_AUTHORIZER: &str = "authorizer";

/// Environment of the authorizer function (see [`AuthorizerConfig::from_env`]).
pub const ENV_PROVIDER: &str = "CHAT_AUTH_PROVIDER";
pub const ENV_ISSUER: &str = "CHAT_AUTH_ISSUER";
pub const ENV_AUDIENCE: &str = "CHAT_AUTH_AUDIENCE";
pub const ENV_NAME_CLAIM: &str = "CHAT_AUTH_NAME_CLAIM";
pub const ENV_JWKS_URL: &str = "CHAT_AUTH_JWKS_URL";

/// Cognito's username claim in ID tokens.
pub const COGNITO_NAME_CLAIM: &str = "cognito:username";
/// The OpenID Connect standard claim for a short name (Core §5.1).
pub const OIDC_NAME_CLAIM: &str = "preferred_username";

/// What the authorizer verifies, and what it hands on.
#[derive(Clone)]
pub struct AuthorizerConfig {
    pub expect: Expectations,
    /// The JWKS URL; `None` finds it through the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// Put into the Allow context as [`CONTEXT_SECRET`] for the integrations.
    pub backend_secret: Option<String>,
}

impl std::fmt::Debug for AuthorizerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizerConfig")
            .field("expect", &self.expect)
            .field("jwks_url", &self.jwks_url)
            .field(
                "backend_secret",
                &self.backend_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl AuthorizerConfig {
    /// A Cognito user pool: `issuer` is `https://cognito-idp.{region}.amazonaws.com/{pool-id}`,
    /// `client_id` the app client's id. Cognito ID tokens carry `token_use: "id"`, which is
    /// required (an access token of the same pool is refused), and publish their keys at
    /// `{issuer}/.well-known/jwks.json`.
    pub fn cognito(issuer: &str, client_id: &str, name_claim: Option<&str>) -> Self {
        Self {
            expect: Expectations {
                issuer: issuer.to_owned(),
                audience: client_id.to_owned(),
                token_use: Some("id".to_owned()),
                name_claim: name_claim.unwrap_or(COGNITO_NAME_CLAIM).to_owned(),
                leeway: jwt::DEFAULT_LEEWAY,
            },
            jwks_url: Some(format!(
                "{}/.well-known/jwks.json",
                issuer.trim_end_matches('/')
            )),
            backend_secret: None,
        }
    }

    /// Any OpenID Connect issuer; keys through its discovery document.
    pub fn oidc(issuer: &str, audience: &str, name_claim: Option<&str>) -> Self {
        Self {
            expect: Expectations {
                issuer: issuer.to_owned(),
                audience: audience.to_owned(),
                token_use: None,
                name_claim: name_claim.unwrap_or(OIDC_NAME_CLAIM).to_owned(),
                leeway: jwt::DEFAULT_LEEWAY,
            },
            jwks_url: None,
            backend_secret: None,
        }
    }

    #[must_use]
    pub fn with_backend_secret(mut self, secret: Option<String>) -> Self {
        self.backend_secret = secret;
        self
    }

    /// From `CHAT_AUTH_PROVIDER` (`cognito` | `oidc`), `CHAT_AUTH_ISSUER`, `CHAT_AUTH_AUDIENCE`
    /// (the app client id), `CHAT_AUTH_NAME_CLAIM` (optional), `CHAT_AUTH_JWKS_URL` (optional)
    /// and `CHAT_SECRET` (optional: the backend secret for the integrations).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required = |name: &str, what: &str| {
            env(name).with_context(|| format!("{name} must be set to {what}"))
        };
        let provider = required(ENV_PROVIDER, "cognito or oidc")?;
        let issuer = required(ENV_ISSUER, "the token issuer (https://…)")?;
        let audience = required(ENV_AUDIENCE, "the app client id tokens are issued for")?;
        let name_claim = env(ENV_NAME_CLAIM);
        let mut config = match provider.as_str() {
            "cognito" => Self::cognito(&issuer, &audience, name_claim.as_deref()),
            "oidc" => Self::oidc(&issuer, &audience, name_claim.as_deref()),
            other => anyhow::bail!("{ENV_PROVIDER}={other:?} is not cognito or oidc"),
        };
        if let Some(url) = env(ENV_JWKS_URL) {
            config.jwks_url = Some(url);
        }
        config.backend_secret = env(crate::deps::ENV_SECRET);
        Ok(config)
    }
}

/// Why the authorizer did not answer with a policy.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// No usable token: API Gateway answers 401.
    #[error("Unauthorized")]
    Unauthorized(Rejection),
    /// The authorizer itself failed (no keys): API Gateway answers 500.
    #[error("the authorizer failed: {0:#}")]
    Failed(anyhow::Error),
}

/// The `$connect` authorizer. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    expect: Expectations,
    keys: KeyCache,
    secret: Option<Secret>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("expect", &self.inner.expect)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// An authorizer fetching its keys from the issuer (nothing is fetched before the first
    /// token, or [`Authorizer::prefetch`]).
    pub fn new(config: AuthorizerConfig) -> anyhow::Result<Self> {
        let source = IssuerKeys::new(&config.expect.issuer, config.jwks_url.as_deref())?;
        Ok(Self::with_keys(
            config,
            Arc::new(source),
            RefreshPolicy::default(),
        ))
    }

    /// An authorizer with its own key source and refresh policy (tests, benchmarks).
    pub fn with_keys(
        config: AuthorizerConfig,
        source: Arc<dyn KeySource>,
        policy: RefreshPolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                expect: config.expect,
                keys: KeyCache::new(source, policy),
                secret: config.backend_secret.map(Secret::new),
            }),
        }
    }

    pub fn expectations(&self) -> &Expectations {
        &self.inner.expect
    }

    /// Fetches the keys now (best effort), so the first connect does not wait for them.
    pub async fn prefetch(&self) {
        self.inner.keys.prefetch().await;
    }

    /// Verifies `token` at `now`.
    pub async fn verify(&self, token: &str, now: SystemTime) -> Result<Identity, VerifyError> {
        let unverified = jwt::parse(token).map_err(VerifyError::Rejected)?;
        let key = match self.inner.keys.key(&unverified.kid).await {
            Ok(jwks::Lookup::Found(key)) => key,
            Ok(jwks::Lookup::Unknown) => return Err(VerifyError::Rejected(Rejection::UnknownKey)),
            Err(unavailable) => return Err(VerifyError::Unavailable(unavailable.0)),
        };
        unverified
            .verify(&key, &self.inner.expect, now)
            .map_err(VerifyError::Rejected)
    }

    /// Answers one REQUEST-authorizer event.
    pub async fn authorize(
        &self,
        request: &AuthorizerRequest,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let connection_id = request.connection_id().unwrap_or("-");
        let token = request.query(TOKEN_PARAMETER).unwrap_or_default();
        match self.verify(token, SystemTime::now()).await {
            Ok(identity) => {
                tracing::info!(connection_id, name = identity.name, "allowed");
                let mut context = BTreeMap::from([(
                    CONTEXT_NAME.to_owned(),
                    Value::String(identity.name.clone()),
                )]);
                if let Some(secret) = &self.inner.secret {
                    context.insert(
                        CONTEXT_SECRET.to_owned(),
                        Value::String(secret.expose().to_owned()),
                    );
                }
                let principal = identity.subject.as_deref().unwrap_or(&identity.name);
                Ok(AuthorizerResponse::new(
                    principal,
                    Effect::Allow,
                    &request.method_arn,
                    context,
                ))
            }
            Err(VerifyError::Rejected(rejection)) if rejection.is_identity_refused() => {
                tracing::info!(
                    connection_id,
                    reason = rejection.code(),
                    "denied: {rejection}"
                );
                Ok(AuthorizerResponse::new(
                    "anonymous",
                    Effect::Deny,
                    &request.method_arn,
                    BTreeMap::new(),
                ))
            }
            Err(VerifyError::Rejected(rejection)) => {
                tracing::info!(
                    connection_id,
                    reason = rejection.code(),
                    "unauthorized: {rejection}"
                );
                Err(AuthorizerError::Unauthorized(rejection))
            }
            Err(VerifyError::Unavailable(err)) => {
                tracing::error!(connection_id, "cannot verify tokens: {err:#}");
                Err(AuthorizerError::Failed(err))
            }
        }
    }
}

/// Why [`Authorizer::verify`] did not produce an identity.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("the issuer's keys are unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

impl VerifyError {
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            Self::Unavailable(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
