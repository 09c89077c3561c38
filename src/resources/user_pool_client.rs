//! The user pool's app client: public (no secret: the web app runs in the browser),
//! authorization code + PKCE through the hosted sign-in, and the admin password flow that
//! `status --probe` uses for its own probe users. Clients carry no tags: the client of the
//! stack's name in the stack's pool is the stack's.

use anyhow::{Context as _, Result};
use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes, UserPoolClientType,
};

use super::{Ctx, absent_if, aws_error, collect_pages};
use crate::plan::{Action, FieldChange, Step};

pub const KIND: &str = "cognito app client";

/// The scopes the web app asks for (`openid` is what makes Cognito issue an ID token).
pub const SCOPES: &[&str] = &["email", "openid", "profile"];
/// Refresh (the web app renews its token) and the admin password flow of the probe users.
pub const AUTH_FLOWS: &[&str] = &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
pub const IDENTITY_PROVIDERS: &[&str] = &["COGNITO"];
/// The redirect URI of `chatctl dev`'s page on its default port. Cognito accepts `http://`
/// only for localhost (CreateUserPoolClient, `CallbackURLs`).
pub const DEV_CALLBACK: &str = "http://localhost:8080/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    /// The settings chatctl manages, sorted.
    pub settings: Settings,
}

/// Everything UpdateUserPoolClient is sent: it resets what it is not given, so chatctl always
/// sends the whole set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    pub oauth_flows: Vec<String>,
    pub oauth_scopes: Vec<String>,
    pub auth_flows: Vec<String>,
    pub identity_providers: Vec<String>,
    pub oauth_client: bool,
}

impl Settings {
    /// The stack's client: the site's URL (with `[frontend]`) and the local dev page as
    /// callback and sign-out URLs. The web app returns to its root (`{origin}/`).
    pub fn desired(site_url: Option<&str>) -> Self {
        let mut urls: Vec<String> = site_url
            .map(|u| format!("{}/", u.trim_end_matches('/')))
            .into_iter()
            .collect();
        urls.push(DEV_CALLBACK.to_owned());
        urls.sort();
        let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Self {
            callback_urls: urls.clone(),
            logout_urls: urls,
            oauth_flows: vec!["code".to_owned()],
            oauth_scopes: owned(SCOPES),
            auth_flows: owned(AUTH_FLOWS),
            identity_providers: owned(IDENTITY_PROVIDERS),
            oauth_client: true,
        }
    }

    fn of(client: &UserPoolClientType) -> Self {
        let sorted = |items: Vec<String>| {
            let mut items = items;
            items.sort();
            items
        };
        Self {
            callback_urls: sorted(client.callback_urls().to_vec()),
            logout_urls: sorted(client.logout_urls().to_vec()),
            oauth_flows: sorted(
                client
                    .allowed_o_auth_flows()
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
            ),
            oauth_scopes: sorted(client.allowed_o_auth_scopes().to_vec()),
            auth_flows: sorted(
                client
                    .explicit_auth_flows()
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
            ),
            identity_providers: sorted(client.supported_identity_providers().to_vec()),
            oauth_client: client
                .allowed_o_auth_flows_user_pool_client()
                .unwrap_or(false),
        }
    }

    fn changes(&self, wanted: &Self) -> Vec<FieldChange> {
        let list = |items: &[String]| format!("[{}]", items.join(", "));
        let mut changes = Vec::new();
        for (field, old, new) in [
            ("callback_urls", &self.callback_urls, &wanted.callback_urls),
            ("logout_urls", &self.logout_urls, &wanted.logout_urls),
            (
                "allowed_oauth_flows",
                &self.oauth_flows,
                &wanted.oauth_flows,
            ),
            (
                "allowed_oauth_scopes",
                &self.oauth_scopes,
                &wanted.oauth_scopes,
            ),
            ("explicit_auth_flows", &self.auth_flows, &wanted.auth_flows),
            (
                "supported_identity_providers",
                &self.identity_providers,
                &wanted.identity_providers,
            ),
        ] {
            if old != new {
                changes.push(FieldChange::new(field, list(old), list(new)));
            }
        }
        if self.oauth_client != wanted.oauth_client {
            changes.push(FieldChange::new(
                "allowed_oauth_flows_user_pool_client",
                self.oauth_client,
                wanted.oauth_client,
            ));
        }
        changes
    }
}

/// The client of the stack's name in `pool_id`.
pub async fn observe(ctx: &Ctx, pool_id: &str) -> Result<Option<Observed>> {
    let client = &ctx.aws.cognito;
    let name = &ctx.names.user_pool_client;
    let ids = collect_pages(|token| async move {
        let page = client
            .list_user_pool_clients()
            .user_pool_id(pool_id)
            .max_results(60)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing the app clients of {pool_id}"), &e))?;
        let ids: Vec<String> = page
            .user_pool_clients()
            .iter()
            .filter(|c| c.client_name() == Some(name.as_str()))
            .filter_map(|c| c.client_id().map(str::to_owned))
            .collect();
        Ok((ids, page.next_token().map(str::to_owned)))
    })
    .await?;
    let Some(id) = ids.first() else {
        return Ok(None);
    };
    let out = absent_if(
        client
            .describe_user_pool_client()
            .user_pool_id(pool_id)
            .client_id(id)
            .send()
            .await,
        aws_sdk_cognitoidentityprovider::operation::describe_user_pool_client::DescribeUserPoolClientError::is_resource_not_found_exception,
    )
    .map_err(|e| aws_error(&format!("reading app client {name}"), &e))?;
    Ok(out.and_then(|o| o.user_pool_client).map(|c| Observed {
        id: c.client_id().unwrap_or_default().to_owned(),
        settings: Settings::of(&c),
    }))
}

pub fn plan(ctx: &Ctx, observed: Option<&Observed>, wanted: &Settings) -> Step {
    let name = ctx.names.user_pool_client.clone();
    match observed {
        None => Step::new(KIND, name, Action::Create),
        Some(client) => Step::update_or_keep(KIND, name, client.settings.changes(wanted)),
    }
}

/// Every setting chatctl manages, on a CreateUserPoolClient or UpdateUserPoolClient request
/// (two builder types with the same setters).
macro_rules! with_settings {
    ($request:expr, $name:expr, $wanted:expr, $flows:expr, $auth_flows:expr) => {
        $request
            .client_name($name)
            .set_callback_urls(Some($wanted.callback_urls.clone()))
            .set_logout_urls(Some($wanted.logout_urls.clone()))
            .set_allowed_o_auth_flows(Some($flows))
            .set_allowed_o_auth_scopes(Some($wanted.oauth_scopes.clone()))
            .set_explicit_auth_flows(Some($auth_flows))
            .set_supported_identity_providers(Some($wanted.identity_providers.clone()))
            .allowed_o_auth_flows_user_pool_client($wanted.oauth_client)
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
    };
}

/// Creates the client or brings it to `wanted`; returns its id.
pub async fn apply(
    ctx: &Ctx,
    pool_id: &str,
    observed: Option<&Observed>,
    wanted: &Settings,
) -> Result<String> {
    let client = &ctx.aws.cognito;
    let name = &ctx.names.user_pool_client;
    let flows: Vec<OAuthFlowType> = wanted
        .oauth_flows
        .iter()
        .map(|f| OAuthFlowType::from(f.as_str()))
        .collect();
    let auth_flows: Vec<ExplicitAuthFlowsType> = wanted
        .auth_flows
        .iter()
        .map(|f| ExplicitAuthFlowsType::from(f.as_str()))
        .collect();
    match observed {
        Some(existing) if existing.settings == *wanted => Ok(existing.id.clone()),
        Some(existing) => {
            with_settings!(
                client
                    .update_user_pool_client()
                    .user_pool_id(pool_id)
                    .client_id(&existing.id),
                name,
                wanted,
                flows,
                auth_flows
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating app client {name}"), &e))?;
            Ok(existing.id.clone())
        }
        None => {
            let out = with_settings!(
                client
                    .create_user_pool_client()
                    .user_pool_id(pool_id)
                    .generate_secret(false),
                name,
                wanted,
                flows,
                auth_flows
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating app client {name}"), &e))?;
            out.user_pool_client
                .and_then(|c| c.client_id)
                .context("CreateUserPoolClient returned no client id")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_and_the_dev_page_are_the_callbacks() {
        let settings = Settings::desired(Some("https://main.d1.amplifyapp.com"));
        assert_eq!(
            settings.callback_urls,
            ["http://localhost:8080/", "https://main.d1.amplifyapp.com/"]
        );
        assert_eq!(settings.logout_urls, settings.callback_urls);
        assert_eq!(Settings::desired(None).callback_urls, [DEV_CALLBACK]);
        let changes = Settings::desired(None).changes(&settings);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0].field, "callback_urls");
        assert!(settings.changes(&settings).is_empty());
    }
}
