//! ID tokens: the compact JWS form (RFC 7515), RS256 signatures (RFC 7518 §3.3) and the claim
//! checks of OpenID Connect Core §3.1.3.7, without any JWT crate: the rules are few, and every
//! one of them is spelled out (and unit tested) here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::{Map, Value};

use crate::protocol::is_valid_name;

/// The only signature algorithm accepted. Cognito and every common OpenID provider sign ID
/// tokens with it; accepting one algorithm closes the doors `alg: none` and algorithm confusion
/// (an HS256 token "signed" with the public key as HMAC secret) would open.
pub const ALGORITHM: &str = "RS256";

/// Tokens longer than this are refused before any decoding. API Gateway caps the whole URL at
/// 4096 characters, so nothing legitimate comes near it; the bound keeps the work per attempt
/// small.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Clock skew tolerated on `exp`, `nbf` and `iat` between the issuer and the verifier.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Why a token was not accepted. The messages never contain anything from the token itself,
/// so they can go to logs as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no token was presented")]
    Missing,
    #[error("the token is not a well-formed JWS: {0}")]
    Malformed(&'static str),
    #[error("the token's algorithm is not RS256")]
    Algorithm,
    #[error("the token has critical header extensions, which are not supported")]
    CriticalHeader,
    #[error("the token names no key (`kid`)")]
    NoKeyId,
    #[error("the issuer's key set has no key with the token's `kid`")]
    UnknownKey,
    #[error("the signature does not verify with the issuer's key")]
    BadSignature,
    #[error("the token's issuer (`iss`) is not the configured issuer")]
    Issuer,
    #[error("the token is not issued for the configured audience (`aud` / `client_id`)")]
    Audience,
    #[error("the token has expired (`exp`)")]
    Expired,
    #[error("the token is not valid yet (`nbf`)")]
    NotYetValid,
    #[error("the token claims to be issued in the future (`iat`)")]
    IssuedInFuture,
    #[error("the token is not an ID token (`token_use`)")]
    TokenUse,
    #[error("the token has no string claim with the chat name")]
    MissingName,
    #[error("the token's name claim breaks the name rule (1-32 of A-Z a-z 0-9 _ -)")]
    InvalidName,
}

impl Rejection {
    /// A short stable identifier, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed(_) => "malformed",
            Self::Algorithm => "algorithm",
            Self::CriticalHeader => "critical_header",
            Self::NoKeyId => "no_kid",
            Self::UnknownKey => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::TokenUse => "token_use",
            Self::MissingName => "missing_name",
            Self::InvalidName => "invalid_name",
        }
    }

    /// Whether the token itself is genuine and current, and only the identity it carries is
    /// not allowed to chat: API Gateway then gets a Deny policy (403) rather than
    /// "Unauthorized" (401, "present a valid token").
    pub fn is_identity_refused(&self) -> bool {
        matches!(self, Self::MissingName | Self::InvalidName)
    }
}

/// An RSA public key from the issuer's JWKS.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaKey {
    /// Big-endian modulus and exponent, without leading zero bytes (as ring expects them).
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey({} bits)", self.n.len() * 8)
    }
}

impl RsaKey {
    pub fn from_components(n: &[u8], e: &[u8]) -> Self {
        let strip = |bytes: &[u8]| {
            let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            bytes[first..].to_vec()
        };
        Self {
            n: strip(n),
            e: strip(e),
        }
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    /// ring refuses moduli under 2048 bits.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    pub kid: String,
    signing_input: &'a [u8],
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

fn decode_segment(segment: &str, what: &'static str) -> Result<Vec<u8>, Rejection> {
    // The no-padding engine refuses `=`, so each token has exactly one encoding.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Rejection::Malformed(what))
}

fn decode_object(segment: &str, what: &'static str) -> Result<Map<String, Value>, Rejection> {
    match serde_json::from_slice(&decode_segment(segment, what)?) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Rejection::Malformed(what)),
    }
}

/// Splits a compact JWS and checks its header: RS256, a `kid`, no `crit`.
pub fn parse(token: &str) -> Result<Unverified<'_>, Rejection> {
    if token.is_empty() {
        return Err(Rejection::Missing);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::Malformed("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed("a JWS has three dot-separated parts"));
    };
    let header = decode_object(header, "the header is not base64url JSON")?;
    // Before anything else in the header: an `alg: none` token or an HMAC token is refused
    // whatever else it says.
    if header.get("alg").and_then(Value::as_str) != Some(ALGORITHM) {
        return Err(Rejection::Algorithm);
    }
    if header.contains_key("crit") {
        return Err(Rejection::CriticalHeader);
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        _ => return Err(Rejection::NoKeyId),
    };
    let claims = decode_object(payload, "the payload is not base64url JSON")?;
    let signature = decode_segment(signature, "the signature is not base64url")?;
    if signature.is_empty() {
        return Err(Rejection::BadSignature);
    }
    let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    Ok(Unverified {
        kid,
        signing_input: &token.as_bytes()[..signing_input_len],
        signature,
        claims,
    })
}

/// What a token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// `iss`, compared exactly (a trailing slash matters).
    pub issuer: String,
    /// `aud` (string, or array containing it), or `client_id` for tokens without `aud`.
    pub audience: String,
    /// Required `token_use` (Cognito: `id`), if any.
    pub token_use: Option<String>,
    /// The claim that holds the chat name.
    pub name_claim: String,
    pub leeway: Duration,
}

/// The identity a verified token proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The chat name (from [`Expectations::name_claim`]), satisfying the protocol's rule.
    pub name: String,
    /// `sub`: the issuer's stable id of the person.
    pub subject: Option<String>,
}

/// Seconds since the epoch as a float, for comparisons with NumericDate claims (which may
/// have a fractional part).
fn seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or(Rejection::Malformed("a time claim is not a number")),
    }
}

fn audience_matches(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(values)) => {
            let listed = values.iter().any(|v| v.as_str() == Some(audience));
            // OpenID Connect Core §3.1.3.7: with several audiences, `azp` must name us.
            let azp_ok =
                values.len() < 2 || claims.get("azp").and_then(Value::as_str) == Some(audience);
            listed && azp_ok
        }
        // Cognito access tokens carry `client_id` instead of `aud`.
        None => claims.get("client_id").and_then(Value::as_str) == Some(audience),
        Some(_) => false,
    }
}

impl Unverified<'_> {
    /// Checks the signature with `key`, then the claims at time `now`.
    pub fn verify(
        self,
        key: &RsaKey,
        expect: &Expectations,
        now: SystemTime,
    ) -> Result<Identity, Rejection> {
        if !key.verifies(self.signing_input, &self.signature) {
            return Err(Rejection::BadSignature);
        }
        check_claims(&self.claims, expect, now)
    }
}

/// The claim checks, on claims whose signature has been verified.
fn check_claims(
    claims: &Map<String, Value>,
    expect: &Expectations,
    now: SystemTime,
) -> Result<Identity, Rejection> {
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer.as_str()) {
        return Err(Rejection::Issuer);
    }
    if !audience_matches(claims, &expect.audience) {
        return Err(Rejection::Audience);
    }
    let now = seconds(now);
    let leeway = expect.leeway.as_secs_f64();
    let exp = numeric_date(claims, "exp")?.ok_or(Rejection::Expired)?;
    if now >= exp + leeway {
        return Err(Rejection::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| now + leeway < nbf) {
        return Err(Rejection::NotYetValid);
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| now + leeway < iat) {
        return Err(Rejection::IssuedInFuture);
    }
    if let Some(token_use) = &expect.token_use
        && claims.get("token_use").and_then(Value::as_str) != Some(token_use.as_str())
    {
        return Err(Rejection::TokenUse);
    }
    let name = claims
        .get(&expect.name_claim)
        .and_then(Value::as_str)
        .ok_or(Rejection::MissingName)?;
    if !is_valid_name(name) {
        return Err(Rejection::InvalidName);
    }
    Ok(Identity {
        name: name.to_owned(),
        subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
    })
}
