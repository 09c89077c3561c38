//! The verified-names part of the graph (`[auth] provider = "cognito"` or `"oidc"`):
//!
//! ```text
//! user pool ─► domain                                           (cognito only)
//!     └──────► app client ───────────────┐
//! backend role (backend.rs) ─────────────┼─► authorizer function ─► apigateway authorizer ─► $connect route
//! authorizer log group ──────────────────┘            └───────────► invoke permission (needs the api)
//! ```
//!
//! The authorizer function is the backend's package started with `CHAT_ROLE=authorizer`,
//! running under the backend's role (it needs only its own log group, which the role's policy
//! names). With `provider = "none"` whatever of it exists is planned for deletion.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use tokio::sync::watch;

use super::step;
use crate::config::{Auth, Backend, Config, LambdaBackend, Names};
use crate::ownership::{Foreign, Found};
use crate::plan::{Action, Step};
use crate::resources::{Ctx, api, authorizer, function, log_groups, user_pool, user_pool_client};

/// The authorizer function's size: it verifies a signature and answers (cold start ~14 ms,
/// bench/auth), so the smallest memory setting is enough.
const MEMORY_MB: i32 = 128;
const TIMEOUT_S: i32 = 10;
const DESCRIPTION: &str = "chatctl $connect authorizer";
/// Shown until the value exists.
const AFTER_APPLY: &str = "(known after apply)";

#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pools: user_pool::Inventory,
    /// The app client of the primary pool.
    pub client: Option<user_pool_client::Observed>,
    pub function: Option<function::Observed>,
    /// The source ARN of the function's invoke statement for API Gateway.
    pub permission: Option<String>,
    pub log_group: Option<log_groups::Observed>,
    /// Resources with the authorizer's names that are not the stack's.
    pub foreign: Vec<Foreign>,
}

impl Observed {
    pub fn is_empty(&self) -> bool {
        self.pools.ours.is_empty() && self.function.is_none() && self.log_group.is_none()
    }

    pub fn pool(&self) -> Option<&user_pool::Observed> {
        self.pools.primary()
    }

    /// The backend secret the deployed authorizer hands to the integrations.
    pub fn deployed_secret(&self) -> Option<String> {
        self.function
            .as_ref()
            .and_then(|f| f.environment.get(chat_handler::ENV_SECRET).cloned())
            .filter(|s| !s.is_empty())
    }
}

/// Reads the authorizer's resources. `expected`: names are verified (or `down` wants
/// everything), so all is read at once; otherwise only the function is read, and the rest
/// only when a function of the stack's is left from an earlier configuration — a stack
/// without sign-in pays one read for it.
pub async fn observe(ctx: &Ctx, expected: bool) -> Result<Observed> {
    let names = &ctx.names;
    // Which pool of the name is the stack's takes DescribeUserPool (its tags); the client of
    // each is read at the same time, so the chain stays ListUserPools → DescribeUserPool ∥
    // ListUserPoolClients → DescribeUserPoolClient (there is normally one pool of the name).
    let user_pools = ctx.partition()?.has_user_pools();
    let pools_and_client = async {
        // Where Cognito has no user pools there is nothing to find (and no endpoint to ask).
        if !user_pools {
            return Ok::<_, anyhow::Error>((user_pool::Inventory::default(), None));
        }
        let ids = user_pool::named(ctx).await?;
        let (pools, mut clients) = tokio::try_join!(
            user_pool::describe(ctx, &ids),
            futures::future::try_join_all(ids.iter().map(|id| user_pool_client::observe(ctx, id))),
        )?;
        let client = pools
            .primary()
            .and_then(|pool| ids.iter().position(|id| *id == pool.id))
            .and_then(|index| clients.get_mut(index).and_then(Option::take));
        Ok::<_, anyhow::Error>((pools, client))
    };
    let rest = async {
        tokio::try_join!(
            pools_and_client,
            authorizer::observe_permission(ctx, &names.authorizer_function),
            log_groups::observe_owned(ctx, &names.authorizer_log_group),
        )
    };
    let mut foreign = Vec::new();
    let (function, ((pools, client), permission, log_group)) = if expected {
        tokio::try_join!(function::observe(ctx, &names.authorizer_function), rest)?
    } else {
        let function = function::observe(ctx, &names.authorizer_function).await?;
        if matches!(function, Found::Ours(_)) {
            (function, rest.await?)
        } else {
            let nothing = ((user_pool::Inventory::default(), None), None, Found::Absent);
            (function, nothing)
        }
    };
    let function = function.sort(&mut foreign);
    let log_group = log_group.sort(&mut foreign);
    Ok(Observed {
        pools,
        client,
        permission: permission.filter(|_| function.is_some()),
        function,
        log_group,
        foreign,
    })
}

/// What verifying names needs from AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub auth: Auth,
    /// The Lambda settings of the backend, whose package (and so architecture) it shares.
    pub architecture: crate::config::Architecture,
    /// The backend secret, handed to the integrations in the authorizer's context.
    pub secret: String,
    pub code: function::Code,
    /// The site's URL, a callback of the app client.
    pub site_url: Option<String>,
}

impl Desired {
    /// `None` with `provider = "none"`. Verified names need the Lambda backend: the
    /// authorizer runs from its package under its role.
    pub fn of(
        config: &Config,
        secret: &str,
        code: Option<&function::Code>,
        site_url: Option<String>,
    ) -> Result<Option<Self>> {
        if !config.auth.verifies_names() {
            return Ok(None);
        }
        let Backend::Lambda(settings) = &config.backend else {
            bail!(
                "[auth] provider = \"{}\" needs backend.kind = \"lambda\": the $connect authorizer is deployed from the Lambda backend's package and runs under its role; use the Lambda backend, or set provider = \"none\" for your own backend",
                config.auth.provider()
            );
        };
        let partition = config.partition()?;
        if matches!(config.auth, Auth::Cognito { .. }) && !partition.has_user_pools() {
            bail!(
                "[auth] provider = \"cognito\" is not available in {}: Cognito user pools are not offered in the {} partition; use provider = \"oidc\" with an OpenID provider of yours, or a region that has them",
                config.region,
                partition.id()
            );
        }
        Ok(Some(Self {
            auth: config.auth.clone(),
            architecture: settings.architecture,
            secret: secret.to_owned(),
            code: code
                .cloned()
                .context("the authorizer function needs the handler package")?,
            site_url,
        }))
    }

    fn is_cognito(&self) -> bool {
        matches!(self.auth, Auth::Cognito { .. })
    }
}

/// The issuer and audience the authorizer checks: the pool's and its client's, or the
/// configured OpenID provider's.
fn expectations(
    ctx: &Ctx,
    desired: &Desired,
    pool: Option<&str>,
    client: Option<&str>,
) -> Result<(String, String, String, &'static str)> {
    Ok(match &desired.auth {
        Auth::Cognito { name_claim } => {
            let suffix = ctx.partition()?.dns_suffix();
            (
                pool.map_or_else(
                    || AFTER_APPLY.to_owned(),
                    |id| user_pool::issuer(id, &ctx.aws.region, suffix),
                ),
                client.unwrap_or(AFTER_APPLY).to_owned(),
                name_claim.clone(),
                "cognito",
            )
        }
        Auth::Oidc {
            issuer,
            audience,
            name_claim,
        } => (issuer.clone(), audience.clone(), name_claim.clone(), "oidc"),
        Auth::None => bail!("names are not verified"),
    })
}

fn function_desired(
    ctx: &Ctx,
    desired: &Desired,
    pool: Option<&str>,
    client: Option<&str>,
) -> Result<function::Desired> {
    use chat_handler::auth as a;
    let (issuer, audience, name_claim, provider) = expectations(ctx, desired, pool, client)?;
    Ok(function::Desired {
        name: ctx.names.authorizer_function.clone(),
        description: DESCRIPTION,
        settings: LambdaBackend {
            architecture: desired.architecture,
            memory_mb: MEMORY_MB,
            timeout_s: TIMEOUT_S,
            zip: None,
        },
        environment: BTreeMap::from([
            (a::ENV_ROLE.to_owned(), a::ROLE_AUTHORIZER.to_owned()),
            (a::ENV_PROVIDER.to_owned(), provider.to_owned()),
            (a::ENV_ISSUER.to_owned(), issuer),
            (a::ENV_AUDIENCE.to_owned(), audience),
            (a::ENV_NAME_CLAIM.to_owned(), name_claim),
            (chat_handler::ENV_SECRET.to_owned(), desired.secret.clone()),
        ]),
        code: desired.code.clone(),
    })
}

/// The domain prefix, once the account is known.
fn prefix(names: &Names, account: Option<&str>) -> Option<String> {
    account.map(|a| user_pool::domain_prefix(&names.stack, &names.region, a))
}

/// What the plan and `apply` need from the rest of the stack.
pub struct Around<'a> {
    pub account: Option<&'a str>,
    pub api: Option<&'a api::Observed>,
    /// The API's authorizers.
    pub authorizers: &'a [authorizer::Observed],
    /// The backend role's ARN, if it exists.
    pub role_arn: Option<&'a str>,
    pub retention_days: i32,
}

pub fn plan(
    ctx: &Ctx,
    observed: &Observed,
    desired: Option<&Desired>,
    around: &Around<'_>,
) -> Result<Vec<Step>> {
    let Some(desired) = desired else {
        return Ok(teardown_steps(ctx, observed, around.authorizers));
    };
    let mut steps = Vec::new();
    if desired.is_cognito() {
        steps.extend(user_pool::plan(
            ctx,
            &observed.pools,
            prefix(&ctx.names, around.account).as_deref(),
        ));
        let settings = user_pool_client::Settings::desired(desired.site_url.as_deref());
        steps.push(user_pool_client::plan(
            ctx,
            observed
                .client
                .as_ref()
                .filter(|_| observed.pool().is_some()),
            &settings,
        ));
    } else {
        steps.extend(cognito_removal(ctx, observed));
    }
    steps.push(log_groups::plan(
        &ctx.names.authorizer_log_group,
        observed.log_group.as_ref(),
        around.retention_days,
    ));
    let wanted = function_desired(
        ctx,
        desired,
        observed.pool().map(|p| p.id.as_str()),
        observed.client.as_ref().map(|c| c.id.as_str()),
    )?;
    let role = around.role_arn.map_or_else(
        || format!("(role {}, known after apply)", ctx.names.backend_role),
        str::to_owned,
    );
    steps.push(function::plan(
        observed.function.as_ref(),
        &wanted,
        Some(&role),
    ));
    let partition = ctx.partition()?;
    let source = match (around.account, around.api) {
        (Some(account), Some(api)) => Some(authorizer::source_arn(
            &partition,
            &ctx.aws.region,
            account,
            &api.id,
        )),
        _ => None,
    };
    steps.push(authorizer::plan_permission(
        &ctx.names.authorizer_function,
        observed.permission.as_deref(),
        source.as_deref(),
    ));
    let uri = observed
        .function
        .as_ref()
        .map(|f| authorizer::invocation_uri(partition.id(), &ctx.aws.region, &f.arn));
    steps.push(authorizer::plan(
        ctx,
        authorizer::ours(ctx, around.authorizers),
        uri.as_deref(),
    ));
    Ok(steps)
}

/// With an OpenID provider of the user's, a pool of the stack's from an earlier
/// `provider = "cognito"` goes (with its users).
fn cognito_removal(ctx: &Ctx, observed: &Observed) -> Vec<Step> {
    observed
        .pools
        .ours
        .iter()
        .map(|pool| {
            Step::new(user_pool::KIND, ctx.names.user_pool.clone(), Action::Delete)
                .with_note(format!("{}, with its domain and app client", pool.id))
                .losing_data(user_pool::DATA)
        })
        .collect()
}

/// Deletion steps for whatever of the authorizer is the stack's.
pub fn teardown_steps(
    ctx: &Ctx,
    observed: &Observed,
    authorizers: &[authorizer::Observed],
) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(found) = authorizer::ours(ctx, authorizers) {
        steps.push(
            Step::new(authorizer::KIND, found.name.clone(), Action::Delete)
                .with_note("after $connect no longer uses it"),
        );
    }
    if observed.function.is_some() {
        steps.push(
            Step::new(
                function::KIND,
                ctx.names.authorizer_function.clone(),
                Action::Delete,
            )
            .with_note("with its invoke permission"),
        );
    }
    if observed.log_group.is_some() {
        steps.push(Step::new(
            log_groups::KIND,
            ctx.names.authorizer_log_group.clone(),
            Action::Delete,
        ));
    }
    steps.extend(cognito_removal(ctx, observed));
    steps
}

/// What `apply` made, for the outputs and the frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub authorizer_id: String,
    /// With Cognito: the pool, its client and domain prefix.
    pub cognito: Option<Cognito>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cognito {
    pub pool_id: String,
    pub client_id: String,
    pub domain: String,
}

/// Creates or updates the authorizer's resources. `role` delivers the backend role's ARN and
/// `api` the API once they exist; the authorizer's id goes out on `ready` for `$connect`.
pub async fn apply(
    ctx: &Ctx,
    observed: &Observed,
    desired: &Desired,
    around: &Around<'_>,
    mut role: watch::Receiver<Option<String>>,
    mut api: watch::Receiver<Option<api::Observed>>,
    ready: watch::Sender<Option<String>>,
) -> Result<Applied> {
    let names = &ctx.names;
    let account = around.account.context("the AWS account id is unknown")?;
    let cognito_chain = async {
        if !desired.is_cognito() {
            // A pool of an earlier `provider = "cognito"` goes once nothing verifies its
            // tokens any more (after the function's update, below).
            return Ok::<_, anyhow::Error>(None);
        }
        let pool = match observed.pool() {
            Some(pool) => pool.clone(),
            None => {
                step(
                    ctx,
                    format!("+ create  {} {}", user_pool::KIND, names.user_pool),
                    user_pool::create(ctx),
                )
                .await?
            }
        };
        let prefix = user_pool::domain_prefix(&names.stack, &ctx.aws.region, account);
        let domain = async {
            if pool.domain.as_deref() != Some(prefix.as_str()) {
                step(
                    ctx,
                    format!("+ create  {} {prefix}", user_pool::DOMAIN_KIND),
                    user_pool::ensure_domain(ctx, &pool, &prefix),
                )
                .await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        let client = async {
            let existing = observed
                .client
                .as_ref()
                .filter(|_| observed.pool().is_some());
            let settings = user_pool_client::Settings::desired(desired.site_url.as_deref());
            let client_step = user_pool_client::plan(ctx, existing, &settings);
            if client_step.is_change() {
                step(
                    ctx,
                    client_step.label(),
                    user_pool_client::apply(ctx, &pool.id, existing, &settings),
                )
                .await
            } else {
                existing
                    .map(|c| c.id.clone())
                    .context("the app client has no id")
            }
        };
        // Pools a killed run left beside the stack's (the plan lists them).
        let duplicates = async {
            futures::future::try_join_all(observed.pools.duplicates().iter().map(|dup| {
                step(
                    ctx,
                    format!(
                        "- delete  {} {} ({}, duplicate)",
                        user_pool::KIND,
                        names.user_pool,
                        dup.id
                    ),
                    user_pool::delete(ctx, dup),
                )
            }))
            .await?;
            Ok::<_, anyhow::Error>(())
        };
        let ((), client_id, ()) = tokio::try_join!(domain, client, duplicates)?;
        Ok(Some(Cognito {
            pool_id: pool.id,
            client_id,
            domain: prefix,
        }))
    };
    let log_group_chain = async {
        let group = log_groups::plan(
            &names.authorizer_log_group,
            observed.log_group.as_ref(),
            around.retention_days,
        );
        if group.is_change() {
            step(
                ctx,
                group.label(),
                log_groups::ensure(
                    ctx,
                    &names.authorizer_log_group,
                    observed.log_group.as_ref(),
                    around.retention_days,
                ),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let role_arn = async {
        role.wait_for(Option::is_some)
            .await
            .map_err(|_| anyhow::anyhow!("the backend role was not created"))?
            .clone()
            .context("the backend role was not created")
    };
    let (cognito, (), role_arn) = tokio::try_join!(cognito_chain, log_group_chain, role_arn)?;
    let wanted = function_desired(
        ctx,
        desired,
        cognito.as_ref().map(|c| c.pool_id.as_str()),
        cognito.as_ref().map(|c| c.client_id.as_str()),
    )?;
    let function_arn =
        super::ensure_function(ctx, observed.function.as_ref(), &wanted, &role_arn).await?;
    let api = super::api_when_ready(&mut api).await?;
    let partition = ctx.partition()?;
    let source = authorizer::source_arn(&partition, &ctx.aws.region, account, &api.id);
    let permission = async {
        let fresh = observed.function.is_none();
        let current = observed.permission.as_deref().filter(|_| !fresh);
        if current != Some(source.as_str()) {
            let label =
                authorizer::plan_permission(&names.authorizer_function, current, Some(&source))
                    .label();
            step(
                ctx,
                label,
                authorizer::apply_permission(ctx, &names.authorizer_function, current, &source),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let gateway = async {
        let uri = authorizer::invocation_uri(partition.id(), &ctx.aws.region, &function_arn);
        // A new API has no authorizer, whatever was observed of an older one.
        let existing = authorizer::ours(ctx, around.authorizers)
            .filter(|_| around.api.is_some_and(|a| a.id == api.id));
        let gateway_step = authorizer::plan(ctx, existing, Some(&uri));
        let id = if gateway_step.is_change() {
            step(
                ctx,
                gateway_step.label(),
                authorizer::apply(ctx, &api.id, existing, &uri),
            )
            .await?
        } else {
            existing
                .map(|a| a.id.clone())
                .context("the authorizer has no id")?
        };
        ready.send_replace(Some(id.clone()));
        Ok::<_, anyhow::Error>(id)
    };
    let ((), authorizer_id) = tokio::try_join!(permission, gateway)?;
    // Tokens of a pool from an earlier `provider = "cognito"` are no longer accepted now.
    if !desired.is_cognito() {
        destroy_pools(ctx, observed).await?;
    }
    Ok(Applied {
        authorizer_id,
        cognito,
    })
}

async fn destroy_pools(ctx: &Ctx, observed: &Observed) -> Result<()> {
    futures::future::try_join_all(observed.pools.ours.iter().map(|pool| {
        step(
            ctx,
            format!(
                "- delete  {} {} ({})",
                user_pool::KIND,
                ctx.names.user_pool,
                pool.id
            ),
            user_pool::delete(ctx, pool),
        )
    }))
    .await?;
    Ok(())
}

/// Removes what of the authorizer is the stack's, after `$connect` stopped using it (its API
/// goes with `down`, or the route was detached by `up`): the API Gateway authorizer (when the
/// API stays), the function with its permission and log group, and the pools.
pub async fn destroy(
    ctx: &Ctx,
    observed: &Observed,
    api_authorizer: Option<(&str, &str)>,
) -> Result<()> {
    let gateway = async {
        if let Some((api_id, id)) = api_authorizer {
            step(
                ctx,
                format!(
                    "- delete  {} {}",
                    authorizer::KIND,
                    ctx.names.api_authorizer
                ),
                authorizer::delete(ctx, api_id, id),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let function_chain = async {
        let name = &ctx.names.authorizer_function;
        if observed.function.is_some() {
            step(
                ctx,
                format!("- delete  {} {name}", function::KIND),
                function::delete(ctx, name),
            )
            .await?;
        }
        let group = &ctx.names.authorizer_log_group;
        let foreign_group = observed
            .foreign
            .iter()
            .any(|f| f.kind == log_groups::KIND && f.name == *group);
        // After the function: an invocation in between would have Lambda make the group again.
        if observed.log_group.is_some() || (observed.function.is_some() && !foreign_group) {
            step(
                ctx,
                format!("- delete  {} {group}", log_groups::KIND),
                log_groups::delete(ctx, group),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    tokio::try_join!(gateway, function_chain, destroy_pools(ctx, observed))?;
    Ok(())
}

/// Adds the site's URL to the app client's callbacks (after Amplify made the site).
pub async fn add_site_callback(
    ctx: &Ctx,
    cognito: &Cognito,
    planned: Option<&str>,
    site: &str,
) -> Result<()> {
    let current = user_pool_client::Observed {
        id: cognito.client_id.clone(),
        settings: user_pool_client::Settings::desired(planned),
    };
    user_pool_client::apply(
        ctx,
        &cognito.pool_id,
        Some(&current),
        &user_pool_client::Settings::desired(Some(site)),
    )
    .await?;
    Ok(())
}

/// The hosted sign-in page of the stack's pool, for `status`: where a user signs in (or up)
/// and returns to the site (or the local dev page).
pub fn sign_in_url(ctx: &Ctx, cognito: &Cognito, site_url: Option<&str>) -> String {
    let settings = user_pool_client::Settings::desired(site_url);
    let redirect = site_url
        .map(|u| format!("{}/", u.trim_end_matches('/')))
        .or_else(|| settings.callback_urls.first().cloned())
        .unwrap_or_default();
    format!(
        "{}/login?client_id={}&response_type=code&scope=openid&redirect_uri={}",
        user_pool::hosted_ui_url(&cognito.domain, &ctx.aws.region),
        cognito.client_id,
        percent_encode(&redirect)
    )
}

fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// How the deployed web app signs in, from what exists: the pool's client and hosted domain, or
/// the OpenID provider's endpoints (its discovery document). `None` until they exist.
pub fn frontend_auth(
    names: &Names,
    auth: &Auth,
    cognito: Option<&Cognito>,
    endpoints: Option<&ProviderEndpoints>,
) -> Option<crate::resources::amplify::FrontendAuth> {
    match auth {
        Auth::Cognito { name_claim } => cognito.map(|c| {
            crate::resources::amplify::FrontendAuth::cognito(
                &names.region,
                &c.pool_id,
                &c.domain,
                &c.client_id,
                name_claim,
            )
        }),
        Auth::Oidc {
            issuer,
            audience,
            name_claim,
        } => endpoints.map(|e| crate::resources::amplify::FrontendAuth {
            provider: "oidc".to_owned(),
            issuer: issuer.clone(),
            client_id: audience.clone(),
            authorize_url: e.authorization_endpoint.clone(),
            token_url: e.token_endpoint.clone(),
            logout_url: e.end_session_endpoint.clone(),
            name_claim: name_claim.clone(),
        }),
        Auth::None => None,
    }
}

/// The endpoints of an OpenID provider the web app signs in with (OpenID Connect Discovery
/// 1.0 §3: `authorization_endpoint` and `token_endpoint` are required of a provider with the
/// code flow, `end_session_endpoint` comes from RP-Initiated Logout and may be missing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ProviderEndpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// Reads `{issuer}/.well-known/openid-configuration` (for `[frontend]` with `provider =
/// "oidc"`: the web app's build needs the endpoints). The issuer was checked to be https
/// (http on loopback only); the endpoints must be too.
pub async fn discover(issuer: &str) -> Result<ProviderEndpoints> {
    let url = chat_handler::auth::discovery_url(issuer);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .context("building an HTTP client")?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("reading the OpenID provider's discovery document {url}"))?;
    if !response.status().is_success() {
        bail!(
            "the OpenID provider's discovery document {url} answered {}: check auth.issuer (the web app's sign-in needs its endpoints)",
            response.status()
        );
    }
    let endpoints: ProviderEndpoints = response
        .json()
        .await
        .with_context(|| format!("{url} is not an OpenID discovery document"))?;
    let mut all = vec![&endpoints.authorization_endpoint, &endpoints.token_endpoint];
    all.extend(endpoints.end_session_endpoint.as_ref());
    for endpoint in all {
        chat_handler::auth::check_key_url(endpoint).with_context(|| {
            format!("{url} names the endpoint {endpoint}, which is not https (http only on a loopback host)")
        })?;
    }
    Ok(endpoints)
}

/// The Cognito resources as observed (for `status`), when complete.
pub fn observed_cognito(
    names: &Names,
    observed: &Observed,
    account: Option<&str>,
) -> Option<Cognito> {
    let pool = observed.pool()?;
    Some(Cognito {
        pool_id: pool.id.clone(),
        client_id: observed.client.as_ref()?.id.clone(),
        domain: pool.domain.clone().or_else(|| prefix(names, account))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_percent_encoded() {
        assert_eq!(
            percent_encode("https://main.d1.amplifyapp.com/"),
            "https%3A%2F%2Fmain.d1.amplifyapp.com%2F"
        );
    }
}
