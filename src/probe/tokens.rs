//! The ID tokens the probe's two clients join with, and the names they prove.
//!
//! A token is a credential: `Debug` shows `IdToken(***)`, nothing formats it, and an error
//! about one names the variable or the user it came from, never its text.

use std::fmt;

use anyhow::{Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_handler::protocol::is_valid_name;
use serde_json::{Map, Value};

/// Where `provider = "oidc"` users put the probe's tokens: two ID tokens of their provider
/// for two different names (chatctl cannot sign in to a provider it does not manage).
pub const TOKEN_A_ENV: &str = "CHATCTL_PROBE_TOKEN_A";
pub const TOKEN_B_ENV: &str = "CHATCTL_PROBE_TOKEN_B";

/// An ID token.
#[derive(Clone, PartialEq, Eq)]
pub struct IdToken(String);

impl IdToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// The token itself, for the handshake's query string. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The payload, decoded but NOT verified: the probe only needs to know which name the
    /// service will verify; the service's authorizer does the verifying.
    pub fn unverified_claims(&self) -> Option<Map<String, Value>> {
        let payload = self.0.split('.').nth(1)?;
        match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?) {
            Ok(Value::Object(claims)) => Some(claims),
            _ => None,
        }
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdToken(***)")
    }
}

/// One client of the probe: the name its token carries, and the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeToken {
    pub name: String,
    pub token: IdToken,
}

impl ProbeToken {
    /// The token with the name read from its `name_claim`; `source` says where it came from,
    /// for the error (`CHATCTL_PROBE_TOKEN_A`, `user chatctl-probe-a`).
    pub fn from_claim(token: IdToken, name_claim: &str, source: &str) -> Result<Self> {
        let jwt_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        let Some(claims) = token
            .unverified_claims()
            .filter(|_| token.0.chars().all(jwt_chars))
        else {
            bail!("{source} is not an ID token (a JWT: three base64url parts, a JSON payload)");
        };
        let Some(name) = claims.get(name_claim).and_then(Value::as_str) else {
            bail!(
                "the ID token of {source} has no \"{name_claim}\" claim, which holds the chat name"
            );
        };
        if !is_valid_name(name) {
            bail!(
                "the ID token of {source} names {name:?} in \"{name_claim}\", which is not a chat name (1 to 32 of A-Z a-z 0-9 _ -): the service would refuse it"
            );
        }
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
            && exp <= time::OffsetDateTime::now_utc().unix_timestamp()
        {
            bail!("the ID token of {source} (for {name}) has expired: get a fresh one");
        }
        Ok(Self {
            name: name.to_owned(),
            token,
        })
    }
}

/// The probe's two clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTokens {
    pub sender: ProbeToken,
    pub receiver: ProbeToken,
    /// How the report says the clients joined (`ProbeReport::joined_with`).
    pub joined_with: &'static str,
}

impl ProbeTokens {
    /// Two tokens for two different names.
    pub fn new(
        sender: ProbeToken,
        receiver: ProbeToken,
        joined_with: &'static str,
    ) -> Result<Self> {
        if sender.name == receiver.name {
            bail!(
                "both probe tokens are for {}: the probe sends a message from one name to another, so it needs tokens for two different names",
                sender.name
            );
        }
        Ok(Self {
            sender,
            receiver,
            joined_with,
        })
    }
}

/// What [`tokens_from_env`] reports as `joined_with`.
pub const FROM_ENV: &str = "ID tokens from CHATCTL_PROBE_TOKEN_A and CHATCTL_PROBE_TOKEN_B";

/// `provider = "oidc"`: the two ID tokens in [`TOKEN_A_ENV`] and [`TOKEN_B_ENV`], their
/// names read from `name_claim` (the configured `[auth] name_claim`).
pub fn tokens_from_env(name_claim: &str) -> Result<ProbeTokens> {
    tokens_from(|var| std::env::var(var).ok(), name_claim)
}

fn tokens_from(lookup: impl Fn(&str) -> Option<String>, name_claim: &str) -> Result<ProbeTokens> {
    let read = |var: &str| -> Result<ProbeToken> {
        let value = lookup(var).unwrap_or_default();
        if value.trim().is_empty() {
            bail!(
                "{var} is not set: with [auth] provider = \"oidc\", `status --probe` joins with two ID tokens from your provider for two different names, in {TOKEN_A_ENV} and {TOKEN_B_ENV} (chatctl cannot sign in to a provider it does not manage; docs/auth.md, \"status --probe\")"
            );
        }
        ProbeToken::from_claim(IdToken::new(value), name_claim, var)
    };
    ProbeTokens::new(read(TOKEN_A_ENV)?, read(TOKEN_B_ENV)?, FROM_ENV)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> IdToken {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        IdToken::new(format!(
            "{}.{}.c2lnbmF0dXJl",
            part(&serde_json::json!({"alg": "RS256", "kid": "k"})),
            part(claims)
        ))
    }

    fn later() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + 600
    }

    #[test]
    fn names_come_from_the_configured_claim() {
        let token = jwt(&serde_json::json!({"nick": "alice", "exp": later()}));
        let probe = ProbeToken::from_claim(token, "nick", "A").unwrap();
        assert_eq!(probe.name, "alice");
        let token = jwt(&serde_json::json!({"preferred_username": "alice", "exp": later()}));
        let err = ProbeToken::from_claim(token, "nick", "CHATCTL_PROBE_TOKEN_A").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the ID token of CHATCTL_PROBE_TOKEN_A has no \"nick\" claim, which holds the chat name"
        );
    }

    #[test]
    fn unusable_tokens_are_refused_before_connecting() {
        let bad_name = jwt(&serde_json::json!({"nick": "alice smith", "exp": later()}));
        let err = ProbeToken::from_claim(bad_name, "nick", "A").unwrap_err();
        assert!(err.to_string().contains("is not a chat name"), "{err}");
        let expired = jwt(&serde_json::json!({"nick": "alice", "exp": 1_000}));
        let err = ProbeToken::from_claim(expired, "nick", "A").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the ID token of A (for alice) has expired: get a fresh one"
        );
        let err = ProbeToken::from_claim(IdToken::new("not-a-jwt"), "nick", "A").unwrap_err();
        assert!(err.to_string().starts_with("A is not an ID token"), "{err}");
        // Nothing that would change the handshake's query string.
        let good = jwt(&serde_json::json!({"nick": "alice", "exp": later()}));
        let smuggling = IdToken::new(format!("{}&name=bob", good.expose()));
        let err = ProbeToken::from_claim(smuggling, "nick", "A").unwrap_err();
        assert!(err.to_string().starts_with("A is not an ID token"), "{err}");
        let a = ProbeToken::from_claim(
            jwt(&serde_json::json!({"nick": "alice", "exp": later()})),
            "nick",
            "A",
        )
        .unwrap();
        let err = ProbeTokens::new(a.clone(), a, "test").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("both probe tokens are for alice"),
            "{err}"
        );
    }

    #[test]
    fn the_environment_holds_two_tokens_for_two_names() {
        let a = jwt(&serde_json::json!({"preferred_username": "alice", "exp": later()}));
        let b = jwt(&serde_json::json!({"preferred_username": "bob", "exp": later()}));
        let env = |var: &str| match var {
            TOKEN_A_ENV => Some(format!("{}\n", a.expose())),
            TOKEN_B_ENV => Some(b.expose().to_owned()),
            _ => None,
        };
        let tokens = tokens_from(env, "preferred_username").unwrap();
        assert_eq!(
            (tokens.sender.name.as_str(), tokens.receiver.name.as_str()),
            ("alice", "bob")
        );
        assert_eq!(tokens.sender.token, a);
        assert_eq!(tokens.joined_with, FROM_ENV);
        let only_a = |var: &str| (var == TOKEN_A_ENV).then(|| a.expose().to_owned());
        let err = tokens_from(only_a, "preferred_username").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "CHATCTL_PROBE_TOKEN_B is not set: with [auth] provider = \"oidc\", `status --probe` joins with two ID tokens"
            ),
            "{err}"
        );
        let err = tokens_from(|_| None, "preferred_username").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CHATCTL_PROBE_TOKEN_A is not set"),
            "{err}"
        );
    }

    #[test]
    fn tokens_never_show() {
        let token = jwt(&serde_json::json!({"nick": "alice", "exp": later()}));
        let secret = token.expose().to_owned();
        let probe = ProbeToken::from_claim(token, "nick", "A").unwrap();
        let shown = format!("{probe:?}");
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains("IdToken(***)"), "{shown}");
    }
}
