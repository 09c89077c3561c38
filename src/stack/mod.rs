//! The resource graph of one stack: what is observed, the plan, and the order of apply and
//! delete.
//!
//! Dependencies (apply runs independent chains concurrently; `down` walks it backwards):
//!
//! ```text
//! logs role ─► policy attachment ─► account setting ─┐
//! websocket api ─► integration ─► integration response│
//!    │                   └──────► route ─► route resp.├─► stage ─┐
//!    └─► execution log group ─────────────────────────┤          ├─► deployment verdict
//! access log group ───────────────────────────────────┤          │
//! Lambda backend (backend.rs; needs the API id) ──────┘          │
//! $connect authorizer (auth.rs; the backend role, the API) ─► $connect route
//! (everything above) ────────────────────────────────────────────┘
//! ```
//!
//! `apply.rs` runs these chains; `teardown.rs` is `down`.
//!
//! On an existing stage whose settings change, integrations and routes wait for the stage:
//! auto-deploy snapshots the API with the stage variables of the moment.

mod apply;
pub mod auth;
pub mod backend;
mod teardown;

pub use apply::{Applied, apply};
pub(crate) use apply::{ensure_function, finish, step};
pub use teardown::{Release, destroy, release_decision, teardown_plan};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::chat_api::{self, BACKEND_SECRET_VARIABLE, BackendEndpoint, RouteSpec, Scheme};
use crate::config::{Backend, Config, LoggingLevel};
use crate::ownership::{Claim, Foreign};
use crate::plan::{Action, Plan, Step};
use crate::resources::authorizer;
use crate::resources::{
    Ctx, access_log_group, account, amplify, api, deployment, function, integrations, log_groups,
    logs_role, routes, stage,
};

/// Everything that exists for the stack (and the shared account setting).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub account: Option<account::Observed>,
    pub logs_role: Option<logs_role::Observed>,
    /// The name of the stack's logs role: its region-scoped name, or the name of an adopted
    /// role an earlier chatctl made without the region. `None` when a foreign role holds
    /// the stack's name (then no setting naming it is ever the stack's).
    pub logs_role_name: Option<String>,
    /// Whether the foreign role the account setting names works (None: no foreign role).
    pub foreign_role_works: Option<bool>,
    /// That foreign role, if it exists (its tags tell whether another chatctl stack made it).
    pub foreign_role: Option<logs_role::Observed>,
    pub apis: api::Inventory,
    pub integrations: Vec<integrations::Observed>,
    pub routes: Vec<routes::Observed>,
    pub stage: Option<stage::Observed>,
    pub access_log_group: Option<access_log_group::Observed>,
    /// The log group API Gateway writes the stage's execution logs to (named after the API).
    pub execution_log_group: Option<log_groups::Observed>,
    pub backend: backend::Observed,
    /// The `$connect` authorizer's resources (user pool, function, …).
    pub auth: auth::Observed,
    /// The API's authorizers (read with its routes).
    pub authorizers: Vec<authorizer::Observed>,
    /// The OpenID provider's endpoints, for the web app's sign-in (`oidc` with `[frontend]`).
    pub oidc_endpoints: Option<auth::ProviderEndpoints>,
    /// The frontend's Amplify app(s), found by tag even when `[frontend]` is gone.
    pub amplify: amplify::Observed,
    /// Resources with the stack's names that are not the stack's (the backend's are in
    /// `backend.foreign`): never changed or deleted.
    pub foreign: Vec<Foreign>,
}

impl Observed {
    /// Whether anything chatctl creates for this stack exists.
    pub fn is_empty(&self) -> bool {
        let account_is_ours = self
            .account
            .as_ref()
            .is_some_and(|a| a.names_role(self.logs_role_name.as_deref()));
        self.logs_role.is_none()
            && self.backend.is_empty()
            && self.auth.is_empty()
            && self.amplify.is_empty()
            && self.apis.ours.is_empty()
            && self.access_log_group.is_none()
            && !account_is_ours
    }

    /// Every resource found under the stack's names that is not the stack's.
    pub fn all_foreign(&self) -> impl Iterator<Item = &Foreign> {
        self.foreign
            .iter()
            .chain(&self.backend.foreign)
            .chain(&self.auth.foreign)
    }

    /// The logs role's name for plans and messages.
    pub fn logs_role_label<'a>(&'a self, ctx: &'a Ctx) -> &'a str {
        self.logs_role_name
            .as_deref()
            .unwrap_or(ctx.names.logs_role.as_str())
    }
}

/// Reads everything of the stack. Each read starts as soon as what it needs is known: the
/// API's children right after GetApis, the role the account setting names right after
/// GetAccount and the logs role, everything else at once, so the longest chain is GetApis →
/// GetRoutes → GetRouteResponses.
pub async fn observe(ctx: &Ctx, config: &Config) -> Result<Observed> {
    observe_scoped(ctx, config, config.auth.verifies_names(), true).await
}

/// [`observe`] for `down`: the authorizer's resources are read whatever `[auth]` says, and the
/// OpenID provider is not asked for anything (removing a stack does not need it).
pub async fn observe_everything(ctx: &Ctx, config: &Config) -> Result<Observed> {
    observe_scoped(ctx, config, true, false).await
}

async fn observe_scoped(
    ctx: &Ctx,
    config: &Config,
    all_auth: bool,
    provider_endpoints: bool,
) -> Result<Observed> {
    let names = &ctx.names;
    let lambda_backend = matches!(config.backend, Backend::Lambda(_));
    // The logs role by its name and the account setting at once; a role the setting names
    // instead is read right after both.
    let logs_roles = async {
        let (account, logs_role) = tokio::try_join!(
            account::observe(ctx),
            logs_role::observe(ctx, &names.logs_role),
        )?;
        let mut foreign = Vec::new();
        // IAM is global, but the name carries the region: a role there tagged for this stack
        // (with or without the region tag) is this region's.
        let (logs_role, logs_role_name) = match logs_role {
            None => (None, Some(names.logs_role.clone())),
            Some(role) => match role.claim(names) {
                Claim::Ours | Claim::Unscoped => (Some(role), Some(names.logs_role.clone())),
                claim => {
                    foreign.push(Foreign::new(
                        logs_role::ROLE_KIND,
                        &names.logs_role,
                        &role.arn,
                        &claim,
                    ));
                    (None, None)
                }
            },
        };
        let named = match account
            .foreign_role(logs_role_name.as_deref())
            .and_then(logs_role::role_name_of)
        {
            Some(name) => logs_role::observe(ctx, name).await?,
            None => None,
        };
        Ok::<_, anyhow::Error>((account, logs_role, logs_role_name, named, foreign))
    };
    let apis_and_children = async {
        let apis = api::observe(ctx).await?;
        let children = match apis.primary() {
            Some(primary) => {
                let execution_logs = log_groups::execution_log_group(&primary.id, &ctx.stage);
                let authorizers = async {
                    if all_auth {
                        authorizer::observe(ctx, &primary.id).await
                    } else {
                        Ok(Vec::new())
                    }
                };
                let (integrations, routes, stage, logs, mut authorizers) = tokio::try_join!(
                    integrations::observe(ctx, &primary.id),
                    routes::observe(ctx, &primary.id),
                    stage::observe(ctx, &primary.id, &ctx.stage),
                    log_groups::find(ctx, &execution_logs),
                    authorizers,
                )?;
                // Without sign-in they are read only when a route still uses one (left by
                // an earlier configuration), so such a stack pays no read for them.
                if !all_auth && routes.iter().any(|r| r.authorizer_id.is_some()) {
                    authorizers = authorizer::observe(ctx, &primary.id).await?;
                }
                (integrations, routes, stage, logs, authorizers)
            }
            None => (Vec::new(), Vec::new(), None, None, Vec::new()),
        };
        Ok::<_, anyhow::Error>((apis, children))
    };
    let (
        (account, mut logs_role, mut logs_role_name, mut named, mut foreign),
        (apis, (integrations, routes, stage, execution_log_group, authorizers)),
        access_log_group,
        backend,
        auth,
        amplify,
        oidc_endpoints,
    ) = tokio::try_join!(
        logs_roles,
        apis_and_children,
        access_log_group::observe(ctx),
        // The authorizer's pool needs the account id for its domain: the Lambda backend's
        // read provides it (verified names need that backend).
        backend::observe(ctx, lambda_backend),
        auth::observe(ctx, all_auth),
        amplify::observe(ctx, config.frontend.as_ref()),
        async {
            match (&config.auth, &config.frontend) {
                (crate::config::Auth::Oidc { issuer, .. }, Some(_)) if provider_endpoints => {
                    auth::discover(issuer).await.map(Some)
                }
                _ => Ok(None),
            }
        },
    )?;
    let access_log_group = access_log_group.sort(&mut foreign);
    // A stack deployed before role names carried the region set the account setting to
    // `{stack}-apigw-logs`, tagged for the stack alone: that role is adopted as the stack's.
    if logs_role.is_none()
        && logs_role_name.is_some()
        && let Some(role) = named.take_if(|role| {
            role.name == names.legacy_logs_role && role.claim(names) == Claim::Unscoped
        })
    {
        logs_role_name = Some(role.name.clone());
        logs_role = Some(role);
    }
    let foreign_role_works = account
        .foreign_role(logs_role_name.as_deref())
        .map(|_| named.as_ref().is_some_and(|r| r.trusts_apigateway));
    Ok(Observed {
        account: Some(account),
        logs_role,
        logs_role_name,
        foreign_role_works,
        foreign_role: named,
        apis,
        integrations,
        routes,
        stage,
        access_log_group,
        execution_log_group,
        backend,
        auth,
        authorizers,
        oidc_endpoints,
        amplify,
        foreign,
    })
}

/// What the configuration asks for.
#[derive(Debug, Clone)]
pub struct Desired {
    pub routes: Vec<RouteSpec>,
    /// Written literally in every integration URI (the host is a stage variable).
    pub backend_scheme: Scheme,
    pub stage: stage::Desired,
    pub take_over_cloudwatch_role: bool,
    /// The Lambda backend; `None` with another backend kind.
    pub backend: Option<backend::Desired>,
    /// The `$connect` authorizer; `None` when names are not verified.
    pub auth: Option<auth::Desired>,
    /// The Amplify frontend; `None` without `[frontend]`.
    pub frontend: Option<amplify::Desired>,
}

/// How `desired` is computed for a command.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `up --own-cloudwatch-role`.
    pub take_over_cloudwatch_role: bool,
    /// `up --rotate-secret`: a new backend secret for function and stage together.
    pub rotate_secret: bool,
    /// `up` needs the real secret; `plan` and `status` can do without it (a missing secret
    /// then shows as a change of the sensitive stage variable).
    pub require_secret: bool,
    /// The handler package for the Lambda backend.
    pub code: Option<function::Code>,
}

/// Environment variable holding the shared backend secret for `backend.kind = "http"`:
/// the user's own backend must check the same value.
pub const BACKEND_SECRET_ENV: &str = "CHATCTL_BACKEND_SECRET";

pub fn desired(config: &Config, observed: &Observed, options: &Options) -> Result<Desired> {
    let identity = crate::auth::identity(&config.auth);
    let deployed_secret = observed
        .stage
        .as_ref()
        .and_then(|s| s.variables.get(BACKEND_SECRET_VARIABLE).cloned())
        .filter(|s| !s.is_empty())
        // With verified names the secret lives in the authorizer's environment, not the stage.
        .or_else(|| observed.auth.deployed_secret());
    let (backend, secret, lambda) = match &config.backend {
        Backend::Http { url } => {
            let secret = std::env::var(BACKEND_SECRET_ENV)
                .ok()
                .filter(|s| !s.is_empty())
                .or(deployed_secret);
            let secret = match secret {
                Some(secret) => {
                    validate_secret(&secret)?;
                    secret
                }
                None if !options.require_secret => String::new(),
                None => bail!(
                    "backend.kind = \"http\" needs the shared secret your backend checks: set {BACKEND_SECRET_ENV} (letters and digits, at least 32 characters)"
                ),
            };
            (BackendEndpoint::parse(url)?, secret, None)
        }
        Backend::Lambda(_) => {
            // Stateless: the secret lives in the deployed stage and function.
            let secret = if options.rotate_secret {
                backend::new_secret()
            } else {
                deployed_secret
                    .or_else(|| observed.backend.deployed_secret())
                    .unwrap_or_else(backend::new_secret)
            };
            let code = options
                .code
                .clone()
                .context("the Lambda backend needs the handler package")?;
            // A function URL is always https.
            let endpoint = match observed.backend.url() {
                Some(url) => BackendEndpoint::parse(url)?,
                None => BackendEndpoint {
                    scheme: Scheme::Https,
                    host: BACKEND_HOST_AFTER_APPLY.to_owned(),
                },
            };
            (
                endpoint,
                secret.clone(),
                Some(backend::Desired { secret, code }),
            )
        }
    };
    let auth = auth::Desired::of(
        config,
        &secret,
        options.code.as_ref(),
        frontend_site(observed, config),
    )?;
    Ok(Desired {
        routes: chat_api::routes_for(identity),
        backend_scheme: backend.scheme,
        auth,
        stage: stage::Desired {
            name: config.stage.clone(),
            settings: config.api.clone(),
            variables: chat_api::stage_variables_for(identity, &backend, &secret),
            access_log_arn: observed.access_log_group.as_ref().map(|g| g.arn.clone()),
        },
        take_over_cloudwatch_role: options.take_over_cloudwatch_role,
        backend: lambda,
        frontend: config.frontend.as_ref().map(|f| {
            let websocket_url = observed
                .apis
                .primary()
                .map(|api| outputs(config, api).websocket_url);
            let sign_in = frontend_sign_in(config, observed, None);
            amplify::desired(
                &config.names(),
                f,
                websocket_url.as_deref(),
                sign_in.as_ref(),
            )
        }),
    })
}

/// Shown in plans until the function URL exists.
const BACKEND_HOST_AFTER_APPLY: &str = "(function URL host, known after apply)";

/// Stage variable values allow only `[A-Za-z0-9-._~:/?#&=,]`.
fn validate_secret(secret: &str) -> Result<()> {
    if secret.len() < 32 || !secret.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!(
            "{BACKEND_SECRET_ENV} must be at least 32 letters and digits (it travels as an API Gateway stage variable)"
        );
    }
    Ok(())
}

fn account_decision(observed: &Observed, desired: &Desired) -> account::Decision {
    let current = observed
        .account
        .clone()
        .unwrap_or(account::Observed { role_arn: None });
    account::decide(
        &current,
        observed.logs_role_name.as_deref(),
        observed.foreign_role_works,
        desired.take_over_cloudwatch_role,
    )
}

/// The foreign resources the configuration needs: ones that hold a name the stack would
/// create, update or use. `plan` and `up` stop on them; others (say, a table of that name
/// while the backend is not on Lambda) are left alone and do not matter.
pub fn conflicts<'a>(ctx: &Ctx, observed: &'a Observed, desired: &Desired) -> Vec<&'a Foreign> {
    let names = &ctx.names;
    let mut wanted = vec![names.access_log_group.as_str()];
    if !matches!(
        account_decision(observed, desired),
        account::Decision::KeepForeign(_)
    ) {
        wanted.push(names.logs_role.as_str());
    }
    if desired.backend.is_some() {
        wanted.extend([
            names.table.as_str(),
            names.function.as_str(),
            names.function_log_group.as_str(),
            // An adopted role of an earlier chatctl stands in for the stack's name.
            observed.backend.role_name(ctx),
        ]);
    }
    if desired.auth.is_some() {
        wanted.extend([
            names.authorizer_function.as_str(),
            names.authorizer_log_group.as_str(),
        ]);
    }
    observed
        .all_foreign()
        .filter(|f| wanted.contains(&f.name.as_str()))
        .collect()
}

/// The plan: one step per resource, in dependency order.
pub fn plan(ctx: &Ctx, config: &Config, observed: &Observed, desired: &Desired) -> Result<Plan> {
    let mut steps = Vec::new();
    let decision = account_decision(observed, desired);
    let role_needed = !matches!(decision, account::Decision::KeepForeign(_));
    let role_name = observed.logs_role_label(ctx);
    steps.extend(logs_role::plan(
        role_name,
        observed.logs_role.as_ref(),
        role_needed,
    ));
    let current = observed
        .account
        .clone()
        .unwrap_or(account::Observed { role_arn: None });
    steps.push(account::plan(&decision, &current, role_name));
    steps.extend(api::plan(ctx, &observed.apis));

    let bindings = routes::bind(
        &desired.routes,
        desired.backend_scheme,
        &observed.routes,
        &observed.integrations,
    );
    for (spec, binding) in desired.routes.iter().zip(&bindings) {
        let integration_step =
            integrations::plan(spec, desired.backend_scheme, binding.integration);
        let replaced = integration_step.action == Action::Replace;
        steps.push(integration_step);
        steps.extend(integrations::plan_responses(
            spec,
            binding.integration.filter(|_| !replaced),
        ));
        steps.push(routes::plan(
            spec,
            binding,
            replaced,
            authorizer::ours(ctx, &observed.authorizers).map(|a| a.id.as_str()),
        ));
        steps.extend(routes::plan_responses(spec, binding.route));
    }
    let (stray_routes, stray_integrations) = routes::strays(
        &desired.routes,
        &bindings,
        &observed.routes,
        &observed.integrations,
    );
    steps.extend(stray_routes.iter().map(|r| {
        Step::new(routes::KIND, r.key.clone(), Action::Delete).with_note("not in the chat API")
    }));
    // An integration no route uses is what a run killed while re-pointing a route leaves:
    // removing it is repair.
    steps.extend(stray_integrations.iter().map(|i| {
        Step::new(integrations::KIND, i.id.clone(), Action::Delete)
            .with_note("used by no route")
            .as_leftover()
    }));
    steps.extend(backend::plan(
        ctx,
        config,
        &observed.backend,
        desired.backend.as_ref(),
        observed.apis.primary(),
    )?);
    let retention = config.api.log_retention_days;
    steps.extend(auth::plan(
        ctx,
        &observed.auth,
        desired.auth.as_ref(),
        &auth::Around {
            account: observed.backend.account_id.as_deref(),
            api: observed.apis.primary(),
            authorizers: &observed.authorizers,
            role_arn: observed.backend.role.as_ref().map(|r| r.arn.as_str()),
            retention_days: retention,
        },
    )?);
    steps.push(access_log_group::plan(
        ctx,
        observed.access_log_group.as_ref(),
        retention,
    ));
    steps.extend(execution_log_group_step(ctx, config, observed));
    steps.push(stage::plan(observed.stage.as_ref(), &desired.stage));
    steps.extend(deployment::plan(
        &ctx.stage,
        observed
            .stage
            .as_ref()
            .and_then(stage::Observed::failed_deployment),
    ));
    steps.extend(amplify::plan(&observed.amplify, desired.frontend.as_ref()));
    Ok(Plan {
        stack: ctx.names.stack.clone(),
        region: config.region.clone(),
        steps,
    })
}

/// The execution-log group's step: API Gateway makes the group when logging is on, so
/// chatctl makes it first (with the retention) and keeps one that exists.
fn execution_log_group_step(ctx: &Ctx, config: &Config, observed: &Observed) -> Option<Step> {
    let logging = config.api.logging_level != LoggingLevel::Off;
    if !logging && observed.execution_log_group.is_none() {
        return None;
    }
    let api_id = observed
        .apis
        .primary()
        .map_or("{new api id}", |api| api.id.as_str());
    Some(log_groups::plan(
        &log_groups::execution_log_group(api_id, &ctx.stage),
        observed.execution_log_group.as_ref(),
        config.api.log_retention_days,
    ))
}

/// Whether the plan changes the API itself (what an auto-deploy stage redeploys on).
fn changes_the_api(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| {
        s.is_change()
            && matches!(
                s.kind,
                integrations::KIND
                    | integrations::RESPONSE_KIND
                    | routes::KIND
                    | routes::RESPONSE_KIND
                    | api::KIND
            )
    })
}

/// Stack outputs: where clients connect and where the backend posts replies.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outputs {
    pub websocket_url: String,
    pub callback_url: String,
    /// The Amplify site, with `[frontend]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    /// The hosted sign-in page, with `[auth] provider = "cognito"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_url: Option<String>,
}

pub fn outputs(config: &Config, api: &api::Observed) -> Outputs {
    Outputs {
        websocket_url: api::websocket_url(api, &config.region, &config.stage),
        callback_url: api::callback_url(api, &config.region, &config.stage),
        site_url: None,
        sign_in_url: None,
    }
}

/// How the web app signs in: from the pool this run made (`applied`), else from what was
/// observed.
fn frontend_sign_in(
    config: &Config,
    observed: &Observed,
    applied: Option<&auth::Cognito>,
) -> Option<amplify::FrontendAuth> {
    let names = config.names();
    let cognito = applied.cloned().or_else(|| {
        auth::observed_cognito(
            &names,
            &observed.auth,
            observed.backend.account_id.as_deref(),
        )
    });
    auth::frontend_auth(
        &names,
        &config.auth,
        cognito.as_ref(),
        observed.oidc_endpoints.as_ref(),
    )
}

/// The stack's URLs as deployed, if its API exists.
pub fn current_outputs(ctx: &Ctx, config: &Config, observed: &Observed) -> Option<Outputs> {
    let site_url = frontend_site(observed, config);
    let sign_in_url = auth::observed_cognito(
        &ctx.names,
        &observed.auth,
        observed.backend.account_id.as_deref(),
    )
    .filter(|_| matches!(config.auth, crate::config::Auth::Cognito { .. }))
    .map(|cognito| auth::sign_in_url(ctx, &cognito, site_url.as_deref()));
    observed.apis.primary().map(|api| Outputs {
        site_url,
        sign_in_url,
        ..outputs(config, api)
    })
}

/// The stack's API once the API chain has created or found it.
pub(crate) async fn api_when_ready(
    ready: &mut tokio::sync::watch::Receiver<Option<api::Observed>>,
) -> Result<api::Observed> {
    ready
        .wait_for(Option::is_some)
        .await
        .map_err(|_| anyhow::anyhow!("the WebSocket API was not created"))?
        .clone()
        .context("the WebSocket API was not created")
}

/// The deployed site's URL, with `[frontend]`.
pub fn frontend_site(observed: &Observed, config: &Config) -> Option<String> {
    let frontend = config.frontend.as_ref()?;
    observed
        .amplify
        .primary()
        .map(|app| amplify::site_url(app, &frontend.branch))
}

/// Per-resource state for `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResourceStatus {
    pub kind: &'static str,
    pub name: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::plan::FieldChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `status`'s state of a resource that blocks `up` (see [`conflicts`]).
pub const FOREIGN_STATE: &str = "foreign";

pub fn foreign_status(foreign: &Foreign) -> ResourceStatus {
    ResourceStatus {
        kind: foreign.kind,
        name: foreign.name.clone(),
        state: FOREIGN_STATE,
        changes: Vec::new(),
        note: Some(format!(
            "{}; {}; `chatctl up` stops until it is gone or the stack has other names",
            foreign.arn, foreign.reason
        )),
    }
}

pub fn statuses(plan: &Plan) -> Vec<ResourceStatus> {
    plan.steps
        .iter()
        .map(|s| ResourceStatus {
            kind: s.kind,
            name: s.name.clone(),
            state: match s.action {
                Action::Keep => "present",
                Action::Create => "missing",
                Action::Update | Action::Replace => "drifted",
                Action::Delete => "extra",
            },
            changes: s.changes.clone(),
            note: s.note.clone(),
        })
        .collect()
}
