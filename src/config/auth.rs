//! `[auth]`: who may use a name (docs/auth.md).
//!
//! ```toml
//! [auth]
//! provider = "cognito"                 # cognito | oidc | none
//! # oidc only:
//! issuer = "https://id.example.com/"   # exactly the `iss` of its ID tokens
//! audience = "chat-web"                # the client id the tokens are issued for (`aud`)
//! name_claim = "preferred_username"    # the claim that holds the chat name
//! ```
//!
//! Without the section the provider is `none`: an existing stack keeps working as it did, and
//! `plan` and `status` say that names prove nothing (`chatctl init` writes `cognito`).

use anyhow::{Result, bail};
use serde::Serialize;

use super::Document;

pub const KEYS: &[&str] = &["provider", "issuer", "audience", "name_claim"];

/// Who may use a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum Auth {
    /// A Cognito user pool chatctl creates and owns, with its hosted sign-in.
    Cognito { name_claim: String },
    /// An OpenID Connect issuer the user already has.
    Oidc {
        issuer: String,
        audience: String,
        name_claim: String,
    },
    /// `?name=` is a label the client picks.
    None,
}

/// The claim chatctl reads the name from, per provider, unless `name_claim` says otherwise.
pub const COGNITO_NAME_CLAIM: &str = chat_handler::auth::COGNITO_NAME_CLAIM;
pub const OIDC_NAME_CLAIM: &str = chat_handler::auth::OIDC_NAME_CLAIM;

/// What `plan` and `status` print with `provider = "none"`.
pub const NO_AUTH_WARNING: &str = "[auth] provider = \"none\": a chat name is a label anyone can pick, and whoever joins as \"alice\" receives alice's messages; set provider = \"cognito\" (or \"oidc\") to verify names (docs/auth.md)";

impl Auth {
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Cognito { .. } => "cognito",
            Self::Oidc { .. } => "oidc",
            Self::None => "none",
        }
    }

    /// Whether names are verified by an authorizer on `$connect`.
    pub fn verifies_names(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// The warning for `plan` and `status`, when names prove nothing.
    pub fn warning(&self) -> Option<&'static str> {
        (!self.verifies_names()).then_some(NO_AUTH_WARNING)
    }
}

fn validate_name_claim(claim: &str) -> Result<()> {
    // Claim names are JSON member names; they may be URIs (`https://example.com/nick`), so
    // only blanks, control characters and absurd lengths are refused.
    if claim.is_empty()
        || claim.len() > 256
        || claim.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!(
            "auth.name_claim = \"{claim}\" is not a claim name: use the name of the ID token claim that holds the chat name, e.g. name_claim = \"preferred_username\""
        );
    }
    Ok(())
}

/// `https://host[/path]` exactly as the issuer writes it into `iss` (no query, no fragment;
/// a trailing slash is kept because `iss` is compared character for character). `http://` is
/// accepted for a loopback host only, for a provider on the same machine.
fn validate_issuer(issuer: &str) -> Result<()> {
    let fix = "write it exactly as the `iss` claim of its ID tokens, e.g. issuer = \"https://id.example.com/\"";
    if issuer.contains(char::is_whitespace) || issuer.contains(['?', '#']) {
        bail!("auth.issuer = \"{issuer}\" is not an issuer URL: {fix} (no query or fragment)");
    }
    if chat_handler::auth::check_key_url(issuer).is_err() {
        let reason = if issuer.starts_with("http://") {
            "an issuer must use https (http only on a loopback host)"
        } else {
            "it is not an https:// URL"
        };
        bail!("auth.issuer = \"{issuer}\" is not valid: {reason}; {fix}");
    }
    Ok(())
}

fn validate_audience(audience: &str) -> Result<()> {
    if audience.is_empty() || audience.len() > 256 || audience.chars().any(char::is_whitespace) {
        bail!(
            "auth.audience = \"{audience}\" is not valid: use the client id your provider issues the ID tokens for (their `aud` claim), e.g. audience = \"chat-web\""
        );
    }
    Ok(())
}

pub(super) fn parse(doc: &Document<'_>) -> Result<Auth> {
    if !doc.has_section("auth") {
        return Ok(Auth::None);
    }
    let provider = doc
        .choice("auth", "provider", &["cognito", "oidc", "none"])?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "[auth] needs provider: provider = \"cognito\" (chatctl creates a user pool), \"oidc\" (your own OpenID provider: also set issuer and audience) or \"none\" (names prove nothing)"
            )
        })?;
    let issuer = doc.string("auth", "issuer")?;
    let audience = doc.string("auth", "audience")?;
    let name_claim = doc.string("auth", "name_claim")?;
    if let Some(claim) = &name_claim {
        validate_name_claim(claim)?;
    }
    match provider.as_str() {
        "oidc" => {
            let issuer = issuer.ok_or_else(|| {
                anyhow::anyhow!(
                    "auth.provider = \"oidc\" needs issuer: the URL of your OpenID provider exactly as in its tokens' `iss`, e.g. issuer = \"https://id.example.com/\""
                )
            })?;
            validate_issuer(&issuer)?;
            let audience = audience.ok_or_else(|| {
                anyhow::anyhow!(
                    "auth.provider = \"oidc\" needs audience: the client id your provider issues ID tokens for, e.g. audience = \"chat-web\""
                )
            })?;
            validate_audience(&audience)?;
            Ok(Auth::Oidc {
                issuer,
                audience,
                name_claim: name_claim.unwrap_or_else(|| OIDC_NAME_CLAIM.to_owned()),
            })
        }
        other => {
            for (key, value) in [("issuer", &issuer), ("audience", &audience)] {
                if value.is_some() {
                    let why = if other == "cognito" {
                        "chatctl creates the user pool and knows its issuer and client"
                    } else {
                        "names are not verified"
                    };
                    bail!(
                        "auth.{key} applies to provider = \"oidc\" only ({why}); remove it, or set provider = \"oidc\""
                    );
                }
            }
            if other == "cognito" {
                Ok(Auth::Cognito {
                    name_claim: name_claim.unwrap_or_else(|| COGNITO_NAME_CLAIM.to_owned()),
                })
            } else {
                if name_claim.is_some() {
                    bail!(
                        "auth.name_claim applies to provider = \"cognito\" or \"oidc\" only (with \"none\" the client picks its name); remove it"
                    );
                }
                Ok(Auth::None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, EnvRegion, Overrides};

    const APP: &str = "[app]\nname = \"chat\"\nregion = \"eu-west-1\"\n";

    fn parse(auth: &str) -> Result<Auth> {
        Config::parse(
            &format!("{APP}{auth}"),
            Path::new("chatctl.toml"),
            &Overrides::default(),
            &EnvRegion::default(),
        )
        .map(|config| config.auth)
    }

    fn error(auth: &str) -> String {
        format!("{:#}", parse(auth).expect_err("must be refused"))
    }

    #[test]
    fn without_the_section_names_are_not_verified() {
        assert_eq!(parse("").unwrap(), Auth::None);
        assert_eq!(parse("").unwrap().warning(), Some(NO_AUTH_WARNING));
    }

    #[test]
    fn cognito_and_none() {
        assert_eq!(
            parse("[auth]\nprovider = \"cognito\"\n").unwrap(),
            Auth::Cognito {
                name_claim: "cognito:username".into()
            }
        );
        assert_eq!(
            parse("[auth]\nprovider = \"cognito\"\nname_claim = \"preferred_username\"\n").unwrap(),
            Auth::Cognito {
                name_claim: "preferred_username".into()
            }
        );
        let none = parse("[auth]\nprovider = \"none\"\n").unwrap();
        assert_eq!(none, Auth::None);
        assert!(
            parse("[auth]\nprovider = \"cognito\"\n")
                .unwrap()
                .warning()
                .is_none()
        );
    }

    #[test]
    fn oidc_needs_issuer_and_audience() {
        let auth = parse(
            "[auth]\nprovider = \"oidc\"\nissuer = \"https://id.example.com/\"\naudience = \"chat-web\"\n",
        )
        .unwrap();
        assert_eq!(
            auth,
            Auth::Oidc {
                issuer: "https://id.example.com/".into(),
                audience: "chat-web".into(),
                name_claim: "preferred_username".into()
            }
        );
        assert_eq!(
            error("[auth]\nprovider = \"oidc\"\naudience = \"x\"\n"),
            "auth.provider = \"oidc\" needs issuer: the URL of your OpenID provider exactly as in its tokens' `iss`, e.g. issuer = \"https://id.example.com/\""
        );
        assert!(
            error("[auth]\nprovider = \"oidc\"\nissuer = \"https://id.example.com\"\n")
                .starts_with("auth.provider = \"oidc\" needs audience")
        );
    }

    #[test]
    fn bad_values_name_key_value_and_fix() {
        assert_eq!(
            error("[auth]\nprovider = \"Cognito\"\n"),
            "auth.provider = \"Cognito\" is not valid (did you mean \"cognito\"?); use one of: cognito, oidc, none"
        );
        assert!(error("[auth]\n").starts_with("[auth] needs provider"));
        let msg = error(
            "[auth]\nprovider = \"oidc\"\nissuer = \"http://id.example.com\"\naudience = \"a\"\n",
        );
        assert!(
            msg.starts_with(
                "auth.issuer = \"http://id.example.com\" is not valid: an issuer must use https"
            ),
            "{msg}"
        );
        let msg = error(
            "[auth]\nprovider = \"oidc\"\nissuer = \"https://id.example.com/?x=1\"\naudience = \"a\"\n",
        );
        assert!(msg.contains("no query or fragment"), "{msg}");
        let msg =
            error("[auth]\nprovider = \"oidc\"\nissuer = \"id.example.com\"\naudience = \"a\"\n");
        assert!(msg.contains("it is not an https:// URL"), "{msg}");
        let msg = error(
            "[auth]\nprovider = \"oidc\"\nissuer = \"https://id.example.com\"\naudience = \"a b\"\n",
        );
        assert!(
            msg.starts_with("auth.audience = \"a b\" is not valid"),
            "{msg}"
        );
        let msg = error("[auth]\nprovider = \"cognito\"\nname_claim = \"user name\"\n");
        assert!(
            msg.starts_with("auth.name_claim = \"user name\" is not a claim name"),
            "{msg}"
        );
        assert_eq!(
            error("[auth]\nprovider = \"oidc\"\nissuer = 5\n"),
            "auth.issuer must be a string, found the integer 5: write it in quotes, e.g. issuer = \"…\""
        );
        assert!(error("[auth]\nprovder = \"oidc\"\n").contains("(did you mean `provider`?)"));
    }

    #[test]
    fn oidc_keys_are_refused_elsewhere() {
        assert_eq!(
            error("[auth]\nprovider = \"cognito\"\nissuer = \"https://id.example.com\"\n"),
            "auth.issuer applies to provider = \"oidc\" only (chatctl creates the user pool and knows its issuer and client); remove it, or set provider = \"oidc\""
        );
        assert!(
            error("[auth]\nprovider = \"none\"\naudience = \"x\"\n").starts_with(
                "auth.audience applies to provider = \"oidc\" only (names are not verified)"
            )
        );
        assert!(
            error("[auth]\nprovider = \"none\"\nname_claim = \"x\"\n")
                .starts_with("auth.name_claim applies to provider = \"cognito\" or \"oidc\" only")
        );
    }

    #[test]
    fn a_loopback_issuer_may_use_http() {
        let auth = parse(
            "[auth]\nprovider = \"oidc\"\nissuer = \"http://127.0.0.1:5556/dex\"\naudience = \"chat\"\nname_claim = \"name\"\n",
        )
        .unwrap();
        assert!(matches!(auth, Auth::Oidc { .. }));
    }
}
