//! The app's environment variables: what the build spec (templates/amplify/buildspec.yml)
//! bakes into `config.js`. `CHAT_WEBSOCKET_URL` always; the `CHAT_AUTH_*` variables when the
//! web app signs in (authorization code + PKCE against the provider they name).
//!
//! chatctl owns exactly these names on the app: they are set from the configuration, removed
//! when signing in is turned off, and every other variable someone put on the app is kept
//! (UpdateApp replaces the whole map, so the others are sent back unchanged).

use std::collections::BTreeMap;

/// The stage's `wss://` URL.
pub const WEBSOCKET_URL_VARIABLE: &str = "CHAT_WEBSOCKET_URL";
/// `cognito` | `oidc`; unset means no sign-in (the name form).
pub const AUTH_PROVIDER_VARIABLE: &str = "CHAT_AUTH_PROVIDER";
pub const AUTH_ISSUER_VARIABLE: &str = "CHAT_AUTH_ISSUER";
pub const AUTH_CLIENT_ID_VARIABLE: &str = "CHAT_AUTH_CLIENT_ID";
pub const AUTH_AUTHORIZE_URL_VARIABLE: &str = "CHAT_AUTH_AUTHORIZE_URL";
pub const AUTH_TOKEN_URL_VARIABLE: &str = "CHAT_AUTH_TOKEN_URL";
pub const AUTH_LOGOUT_URL_VARIABLE: &str = "CHAT_AUTH_LOGOUT_URL";
pub const AUTH_NAME_CLAIM_VARIABLE: &str = "CHAT_AUTH_NAME_CLAIM";

/// Every sign-in variable chatctl manages, in the order plans show them.
pub const AUTH_VARIABLES: [&str; 7] = [
    AUTH_PROVIDER_VARIABLE,
    AUTH_ISSUER_VARIABLE,
    AUTH_CLIENT_ID_VARIABLE,
    AUTH_AUTHORIZE_URL_VARIABLE,
    AUTH_TOKEN_URL_VARIABLE,
    AUTH_LOGOUT_URL_VARIABLE,
    AUTH_NAME_CLAIM_VARIABLE,
];

/// How the deployed web app signs in. None of it is secret: a public client (no secret), its
/// issuer and the provider's endpoints are what every browser of the site downloads anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendAuth {
    /// `cognito` or `oidc`.
    pub provider: String,
    /// Exactly the `iss` of the ID tokens.
    pub issuer: String,
    /// The public app client the tokens are issued for (`aud`).
    pub client_id: String,
    /// The provider's authorization endpoint.
    pub authorize_url: String,
    /// The provider's token endpoint.
    pub token_url: String,
    /// Where signing out ends the provider's session; `None` when it has no such endpoint.
    pub logout_url: Option<String>,
    /// The ID token claim that holds the chat name.
    pub name_claim: String,
}

impl FrontendAuth {
    /// A user pool's app client signing in through the pool's hosted domain
    /// `https://{domain_prefix}.auth.{region}.amazoncognito.com` (its `/oauth2/authorize`,
    /// `/oauth2/token` and `/logout` endpoints).
    pub fn cognito(
        region: &str,
        pool_id: &str,
        domain_prefix: &str,
        client_id: &str,
        name_claim: &str,
    ) -> Self {
        use crate::resources::user_pool;
        let domain = user_pool::hosted_ui_url(domain_prefix, region);
        Self {
            provider: "cognito".to_owned(),
            // User pools exist in the aws and aws-us-gov partitions, both under amazonaws.com.
            issuer: user_pool::issuer(pool_id, region, "amazonaws.com"),
            client_id: client_id.to_owned(),
            authorize_url: format!("{domain}/oauth2/authorize"),
            token_url: format!("{domain}/oauth2/token"),
            logout_url: Some(format!("{domain}/logout")),
            name_claim: name_claim.to_owned(),
        }
    }

    /// The app's sign-in variables (a missing logout URL is no variable at all).
    pub fn variables(&self) -> BTreeMap<&'static str, String> {
        let mut vars = BTreeMap::from([
            (AUTH_PROVIDER_VARIABLE, self.provider.clone()),
            (AUTH_ISSUER_VARIABLE, self.issuer.clone()),
            (AUTH_CLIENT_ID_VARIABLE, self.client_id.clone()),
            (AUTH_AUTHORIZE_URL_VARIABLE, self.authorize_url.clone()),
            (AUTH_TOKEN_URL_VARIABLE, self.token_url.clone()),
            (AUTH_NAME_CLAIM_VARIABLE, self.name_claim.clone()),
        ]);
        if let Some(url) = &self.logout_url {
            vars.insert(AUTH_LOGOUT_URL_VARIABLE, url.clone());
        }
        vars
    }
}

/// The sign-in variables `auth` asks for: none without sign-in.
pub fn auth_variables(auth: Option<&FrontendAuth>) -> BTreeMap<&'static str, String> {
    auth.map(FrontendAuth::variables).unwrap_or_default()
}

/// The sign-in variables whose deployed value differs from the desired one (a variable
/// that should be absent counts when it is present), each with (deployed, desired).
pub fn auth_differences<'a>(
    deployed: &'a BTreeMap<String, String>,
    auth: Option<&FrontendAuth>,
) -> Vec<(&'static str, Option<&'a str>, Option<String>)> {
    let mut wanted = auth_variables(auth);
    AUTH_VARIABLES
        .iter()
        .filter_map(|&name| {
            let have = deployed.get(name).map(String::as_str);
            let want = wanted.remove(name);
            (have != want.as_deref()).then_some((name, have, want))
        })
        .collect()
}

/// The whole map to send: `base` (what the app holds) without chatctl's variables, plus
/// the desired ones.
pub fn merged(
    base: impl IntoIterator<Item = (String, String)>,
    websocket_url: &str,
    auth: Option<&FrontendAuth>,
) -> std::collections::HashMap<String, String> {
    let mut environment: std::collections::HashMap<String, String> = base
        .into_iter()
        .filter(|(name, _)| !AUTH_VARIABLES.contains(&name.as_str()))
        .collect();
    environment.insert(WEBSOCKET_URL_VARIABLE.to_owned(), websocket_url.to_owned());
    environment.extend(
        auth_variables(auth)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    environment
}
