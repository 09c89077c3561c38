//! Signing RS256 tokens: what `chatctl dev`'s local OpenID provider issues, and what tests and
//! benchmarks mint their tokens with. The deployed authorizer never signs anything.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use super::jwt::{ALGORITHM, RsaKey};

/// An RSA private key with its key id.
pub struct Signer {
    key: RsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A key from its unencrypted PKCS#8 DER form (`openssl pkcs8 -topk8 -nocrypt -outform DER`).
    pub fn from_pkcs8(pkcs8: &[u8], kid: &str) -> anyhow::Result<Self> {
        let key = RsaKeyPair::from_pkcs8(pkcs8)
            .map_err(|err| anyhow::anyhow!("not an RSA PKCS#8 key ring accepts: {err}"))?;
        Ok(Self {
            key,
            kid: kid.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn components(&self) -> RsaPublicKeyComponents<Vec<u8>> {
        RsaPublicKeyComponents::<Vec<u8>>::from(self.key.public())
    }

    /// The public half, as the verifier holds it.
    pub fn public_key(&self) -> RsaKey {
        let components = self.components();
        RsaKey::from_components(&components.n, &components.e)
    }

    /// The public half as a JWK (RFC 7517), for a JWKS document.
    pub fn jwk(&self) -> Value {
        let components = self.components();
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
            "n": URL_SAFE_NO_PAD.encode(&components.n),
            "e": URL_SAFE_NO_PAD.encode(&components.e),
        })
    }

    /// `claims` as a compact RS256 JWS with header `{alg, kid, typ}`.
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        self.sign_with_header(
            &json!({"alg": ALGORITHM, "kid": self.kid, "typ": "JWT"}),
            claims,
        )
    }

    /// `claims` under any `header`, signed with RS256 whatever the header says (tests use this
    /// to forge tokens that lie about their algorithm or key).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> anyhow::Result<String> {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("RSA signing failed"))
            .context("signing a token")?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}
