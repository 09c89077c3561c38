//! The resource graph of one stack: what is observed, the plan, and the order of apply and
//! delete.
//!
//! Dependencies (apply runs independent chains concurrently; `down` walks it backwards):
//!
//! ```text
//! logs role ─► policy attachment ─► account setting ─┐
//! websocket api ─► integration ─► integration response│
//!                        └──────► route ─► route resp.├─► stage
//! access log group ───────────────────────────────────┤
//! Lambda backend (backend.rs; needs the API id) ──────┘
//! ```

pub mod backend;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::chat_api::{self, BACKEND_SECRET_VARIABLE, RouteSpec};
use crate::config::{Backend, Config};
use crate::plan::{Action, Plan, Step};
use crate::resources::{
    Ctx, access_log_group, account, amplify, api, function, integrations, logs_role, routes, stage,
};

/// Everything that exists for the stack (and the shared account setting).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub account: Option<account::Observed>,
    pub logs_role: Option<logs_role::Observed>,
    /// Whether the foreign role the account setting names works (None: no foreign role).
    pub foreign_role_works: Option<bool>,
    /// That foreign role, if it exists (its tags tell whether another chatctl stack made it).
    pub foreign_role: Option<logs_role::Observed>,
    pub apis: api::Inventory,
    pub integrations: Vec<integrations::Observed>,
    pub routes: Vec<routes::Observed>,
    pub stage: Option<stage::Observed>,
    pub access_log_group: Option<access_log_group::Observed>,
    pub backend: backend::Observed,
    /// The frontend's Amplify app(s), found by tag even when `[frontend]` is gone.
    pub amplify: amplify::Observed,
}

impl Observed {
    /// Whether anything chatctl creates for this stack exists.
    pub fn is_empty(&self, ctx: &Ctx) -> bool {
        let account_is_ours = self
            .account
            .as_ref()
            .is_some_and(|a| a.names_role(&ctx.names.logs_role));
        self.logs_role.is_none()
            && self.backend.is_empty()
            && self.amplify.is_empty()
            && self.apis.ours.is_empty()
            && self.access_log_group.is_none()
            && !account_is_ours
    }
}

/// Reads everything of the stack.
pub async fn observe(ctx: &Ctx, config: &Config) -> Result<Observed> {
    let lambda_backend = matches!(config.backend, Backend::Lambda(_));
    let (account, logs_role, apis, access_log_group, backend, amplify) = tokio::try_join!(
        account::observe(ctx),
        logs_role::observe(ctx, &ctx.names.logs_role),
        api::observe(ctx),
        access_log_group::observe(ctx),
        backend::observe(ctx, lambda_backend),
        amplify::observe(ctx, config.frontend.as_ref()),
    )?;
    let foreign_role = account
        .foreign_role(&ctx.names.logs_role)
        .and_then(logs_role::role_name_of)
        .map(str::to_owned);
    let foreign_check = async {
        match foreign_role {
            Some(name) => Ok::<_, anyhow::Error>(logs_role::observe(ctx, &name).await?),
            None => Ok(None),
        }
    };
    let children = async {
        match apis.primary() {
            Some(primary) => {
                let (integrations, routes, stage) = tokio::try_join!(
                    integrations::observe(ctx, &primary.id),
                    routes::observe(ctx, &primary.id),
                    stage::observe(ctx, &primary.id, &ctx.stage),
                )?;
                Ok::<_, anyhow::Error>((integrations, routes, stage))
            }
            None => Ok((Vec::new(), Vec::new(), None)),
        }
    };
    let (foreign, (integrations, routes, stage)) = tokio::try_join!(foreign_check, children)?;
    let foreign_role_works = account
        .foreign_role(&ctx.names.logs_role)
        .map(|_| foreign.as_ref().is_some_and(|r| r.trusts_apigateway));
    Ok(Observed {
        account: Some(account),
        logs_role,
        foreign_role_works,
        foreign_role: foreign,
        apis,
        integrations,
        routes,
        stage,
        access_log_group,
        backend,
        amplify,
    })
}

/// What the configuration asks for.
#[derive(Debug, Clone)]
pub struct Desired {
    pub routes: Vec<RouteSpec>,
    pub stage: stage::Desired,
    pub take_over_cloudwatch_role: bool,
    /// The Lambda backend; `None` with another backend kind.
    pub backend: Option<backend::Desired>,
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
    crate::auth::check_deployable(&config.auth)?;
    let deployed_secret = observed
        .stage
        .as_ref()
        .and_then(|s| s.variables.get(BACKEND_SECRET_VARIABLE).cloned())
        .filter(|s| !s.is_empty());
    let (backend_url, secret, lambda) = match &config.backend {
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
            (url.clone(), secret, None)
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
            let url = observed
                .backend
                .url()
                .map_or_else(|| BACKEND_URL_AFTER_APPLY.to_owned(), str::to_owned);
            (url, secret.clone(), Some(backend::Desired { secret, code }))
        }
    };
    Ok(Desired {
        routes: chat_api::routes(),
        stage: stage::Desired {
            name: config.stage.clone(),
            settings: config.api.clone(),
            variables: chat_api::stage_variables(&backend_url, &secret),
            access_log_arn: observed.access_log_group.as_ref().map(|g| g.arn.clone()),
        },
        take_over_cloudwatch_role: options.take_over_cloudwatch_role,
        backend: lambda,
        frontend: config.frontend.as_ref().map(|f| {
            let websocket_url = observed
                .apis
                .primary()
                .map(|api| outputs(config, api).websocket_url);
            amplify::desired(&config.names(), f, websocket_url.as_deref())
        }),
    })
}

/// Shown in plans until the function URL exists.
const BACKEND_URL_AFTER_APPLY: &str = "(function URL, known after apply)";

/// Stage variable values allow only `[A-Za-z0-9-._~:/?#&=,]`.
fn validate_secret(secret: &str) -> Result<()> {
    if secret.len() < 32 || !secret.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!(
            "{BACKEND_SECRET_ENV} must be at least 32 letters and digits (it travels as an API Gateway stage variable)"
        );
    }
    Ok(())
}

fn account_decision(ctx: &Ctx, observed: &Observed, desired: &Desired) -> account::Decision {
    let current = observed
        .account
        .clone()
        .unwrap_or(account::Observed { role_arn: None });
    account::decide(
        &current,
        &ctx.names.logs_role,
        observed.foreign_role_works,
        desired.take_over_cloudwatch_role,
    )
}

/// The plan: one step per resource, in dependency order.
pub fn plan(ctx: &Ctx, config: &Config, observed: &Observed, desired: &Desired) -> Result<Plan> {
    let mut steps = Vec::new();
    let decision = account_decision(ctx, observed, desired);
    let role_needed = !matches!(decision, account::Decision::KeepForeign(_));
    steps.extend(logs_role::plan(
        &ctx.names.logs_role,
        observed.logs_role.as_ref(),
        role_needed,
    ));
    let current = observed
        .account
        .clone()
        .unwrap_or(account::Observed { role_arn: None });
    steps.push(account::plan(&decision, &current, &ctx.names.logs_role));
    steps.extend(api::plan(ctx, &observed.apis));

    let bindings = routes::bind(&desired.routes, &observed.routes, &observed.integrations);
    for (spec, binding) in desired.routes.iter().zip(&bindings) {
        let integration_step = integrations::plan(spec, binding.integration);
        let replaced = integration_step.action == Action::Replace;
        steps.push(integration_step);
        steps.extend(integrations::plan_responses(
            spec,
            binding.integration.filter(|_| !replaced),
        ));
        steps.push(routes::plan(spec, binding, replaced));
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
    steps.extend(stray_integrations.iter().map(|i| {
        Step::new(integrations::KIND, i.id.clone(), Action::Delete).with_note("used by no route")
    }));
    steps.extend(backend::plan(
        ctx,
        config,
        &observed.backend,
        desired.backend.as_ref(),
        observed.apis.primary(),
    )?);
    steps.push(access_log_group::plan(
        ctx,
        observed.access_log_group.as_ref(),
    ));
    steps.push(stage::plan(observed.stage.as_ref(), &desired.stage));
    steps.extend(amplify::plan(&observed.amplify, desired.frontend.as_ref()));
    Ok(Plan {
        stack: ctx.names.stack.clone(),
        region: config.region.clone(),
        steps,
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
}

pub fn outputs(config: &Config, api: &api::Observed) -> Outputs {
    Outputs {
        websocket_url: api::websocket_url(api, &config.region, &config.stage),
        callback_url: api::callback_url(api, &config.region, &config.stage),
        site_url: None,
    }
}

/// Runs `future` as the step `label`, showing progress.
pub(crate) async fn step<T>(
    ctx: &Ctx,
    label: String,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    let task = ctx.ui.task(label);
    finish(task, future.await)
}

fn find_step<'a>(plan: &'a Plan, kind: &str, name: &str) -> Option<&'a Step> {
    plan.steps.iter().find(|s| s.kind == kind && s.name == name)
}

fn changes(plan: &Plan, kind: &str, name: &str) -> bool {
    find_step(plan, kind, name).is_some_and(Step::is_change)
}

/// Applies `plan`, which was computed from `observed` under the stack lock.
pub async fn apply(
    ctx: &Ctx,
    config: &Config,
    observed: &Observed,
    desired: &Desired,
    plan: &Plan,
) -> Result<Applied> {
    let decision = account_decision(ctx, observed, desired);
    let role_chain = async {
        let role_name = &ctx.names.logs_role;
        let role_changes = changes(plan, logs_role::ROLE_KIND, role_name)
            || plan
                .steps
                .iter()
                .any(|s| s.kind == logs_role::ATTACHMENT_KIND && s.is_change());
        let previous = match &decision {
            account::Decision::Set { previous } => previous.clone(),
            _ => None,
        };
        let role_arn = if role_changes {
            let label = find_step(plan, logs_role::ROLE_KIND, role_name)
                .map_or_else(|| format!("~ update iam role {role_name}"), Step::label);
            Some(
                step(ctx, label, async {
                    logs_role::apply(
                        ctx,
                        role_name,
                        observed.logs_role.as_ref(),
                        previous.as_deref(),
                        None,
                    )
                    .await
                })
                .await?,
            )
        } else {
            observed.logs_role.as_ref().map(|r| r.arn.clone())
        };
        if let account::Decision::Set { .. } = decision {
            let arn = role_arn.ok_or_else(|| anyhow::anyhow!("the logs role has no ARN"))?;
            let label = find_step(plan, account::KIND, account::NAME)
                .map_or_else(|| "~ update apigateway account".to_owned(), Step::label);
            let task = ctx.ui.task(label);
            let result = account::set(ctx, &arn, Some(&task)).await;
            finish(task, result)?;
        }
        Ok::<_, anyhow::Error>(())
    };

    // The backend needs the API id (policy, callback URL) but not its routes: it gets the
    // API through this channel as soon as it exists.
    let (api_ready, api_for_backend) = tokio::sync::watch::channel(None::<api::Observed>);
    let api_chain = async {
        let primary = observed.apis.primary();
        let api_label = api::plan(ctx, &observed.apis)
            .first()
            .map_or_else(|| "websocket api".to_owned(), Step::label);
        let api = if changes(plan, api::KIND, &ctx.names.api) {
            step(ctx, api_label, api::apply(ctx, primary)).await?
        } else {
            match primary {
                Some(api) => api.clone(),
                None => step(ctx, api_label, api::apply(ctx, None)).await?,
            }
        };
        let duplicates =
            futures::future::try_join_all(observed.apis.duplicates().iter().map(|dup| {
                step(
                    ctx,
                    format!("- delete  websocket api {} (duplicate)", dup.id),
                    api::delete(ctx, &dup.id),
                )
            }));
        api_ready.send_replace(Some(api.clone()));
        let children = apply_children(ctx, observed, desired, &api.id);
        tokio::try_join!(duplicates, children)?;
        Ok::<_, anyhow::Error>(api)
    };
    let backend_chain = async {
        match &desired.backend {
            Some(wanted) => Ok::<_, anyhow::Error>(Some(
                backend::apply(
                    ctx,
                    config,
                    &observed.backend,
                    wanted,
                    &plan.steps,
                    api_for_backend,
                )
                .await?,
            )),
            None => Ok(None),
        }
    };

    let log_chain = async {
        let name = &ctx.names.access_log_group;
        if changes(plan, access_log_group::KIND, name) {
            let label =
                find_step(plan, access_log_group::KIND, name).map_or_else(String::new, Step::label);
            step(
                ctx,
                label,
                access_log_group::apply(ctx, observed.access_log_group.as_ref()),
            )
            .await
        } else {
            Ok(observed
                .access_log_group
                .as_ref()
                .map(|g| g.arn.clone())
                .unwrap_or_default())
        }
    };

    // The stage needs the API, the account setting (logging), the log group and the backend
    // URL — but not the routes: with auto-deploy, routes created after it still go live.
    let mut api_for_stage = api_ready.subscribe();
    let stage_chain = async {
        let ((), log_arn, function_url) = tokio::try_join!(role_chain, log_chain, backend_chain)?;
        let api = api_for_stage
            .wait_for(Option::is_some)
            .await
            .map_err(|_| anyhow::anyhow!("the WebSocket API was not created"))?
            .clone()
            .context("the WebSocket API was not created")?;
        let mut stage_desired = stage::Desired {
            access_log_arn: Some(log_arn.clone()),
            ..desired.stage.clone()
        };
        if let Some(url) = function_url {
            stage_desired
                .variables
                .insert(chat_api::BACKEND_URL_VARIABLE.to_owned(), url);
        }
        let stage_step = stage::plan(observed.stage.as_ref(), &stage_desired);
        if stage_step.is_change() {
            step(
                ctx,
                stage_step.label(),
                stage::apply(
                    ctx,
                    &api.id,
                    observed.stage.as_ref(),
                    &stage_desired,
                    &log_arn,
                ),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let (api, ()) = tokio::try_join!(api_chain, stage_chain)?;
    // A backend of another kind left from an earlier configuration goes once the stage no
    // longer points at it.
    if desired.backend.is_none() && !observed.backend.is_empty() {
        backend::destroy(ctx, &observed.backend).await?;
    }
    let mut outputs = outputs(config, &api);
    // The frontend builds with the WebSocket URL, known now.
    let frontend_changes = plan.steps.iter().any(|s| {
        matches!(
            s.kind,
            amplify::APP_KIND | amplify::BRANCH_KIND | amplify::JOB_KIND
        ) && s.is_change()
    });
    let frontend = if frontend_changes {
        let wanted = config
            .frontend
            .as_ref()
            .map(|f| amplify::desired(&ctx.names, f, Some(&outputs.websocket_url)));
        let access = amplify::GitHubAccess::from_env(&config.github_api_url);
        let applied = amplify::apply(ctx, &access, &observed.amplify, wanted.as_ref()).await?;
        outputs.site_url.clone_from(&applied.site_url);
        Some(applied)
    } else {
        outputs.site_url = frontend_site(observed, config);
        None
    };
    Ok(Applied { outputs, frontend })
}

/// What `apply` produced.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub outputs: Outputs,
    /// What happened to the Amplify frontend, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontend: Option<amplify::Applied>,
}

/// The deployed site's URL, with `[frontend]`.
pub fn frontend_site(observed: &Observed, config: &Config) -> Option<String> {
    let frontend = config.frontend.as_ref()?;
    observed
        .amplify
        .primary()
        .map(|app| amplify::site_url(app, &frontend.branch))
}

/// Integrations, routes and their responses, one concurrent chain per route; strays last.
async fn apply_children(
    ctx: &Ctx,
    observed: &Observed,
    desired: &Desired,
    api_id: &str,
) -> Result<()> {
    let fresh_api = observed.apis.primary().is_none();
    let (route_list, integration_list): (&[routes::Observed], &[integrations::Observed]) =
        if fresh_api {
            (&[], &[])
        } else {
            (&observed.routes, &observed.integrations)
        };
    let bindings = routes::bind(&desired.routes, route_list, integration_list);
    let chains = desired
        .routes
        .iter()
        .zip(&bindings)
        .map(|(spec, binding)| async move {
            let integration_step = integrations::plan(spec, binding.integration);
            let replaced = integration_step.action == Action::Replace;
            let existing = binding.integration.filter(|_| !replaced);
            let integration_id = if integration_step.is_change() {
                step(
                    ctx,
                    integration_step.label(),
                    integrations::apply(ctx, api_id, spec, existing, integration_step.action),
                )
                .await?
            } else {
                existing.map(|i| i.id.clone()).unwrap_or_default()
            };
            let responses = async {
                let steps = integrations::plan_responses(spec, existing);
                if steps.iter().any(Step::is_change) {
                    let label = steps
                        .iter()
                        .find(|s| s.is_change())
                        .map_or_else(String::new, Step::label);
                    let observed_responses =
                        existing.map(|i| i.responses.as_slice()).unwrap_or_default();
                    step(
                        ctx,
                        label,
                        integrations::apply_responses(
                            ctx,
                            api_id,
                            &integration_id,
                            observed_responses,
                        ),
                    )
                    .await?;
                }
                Ok::<_, anyhow::Error>(())
            };
            let route = async {
                let route_step = routes::plan(spec, binding, replaced);
                let route_id = if route_step.is_change() || binding.route.is_none() {
                    step(
                        ctx,
                        route_step.label(),
                        routes::apply(ctx, api_id, spec, binding.route, &integration_id),
                    )
                    .await?
                } else {
                    binding.route.map(|r| r.id.clone()).unwrap_or_default()
                };
                let steps = routes::plan_responses(spec, binding.route);
                if steps.iter().any(Step::is_change) {
                    let label = steps
                        .iter()
                        .find(|s| s.is_change())
                        .map_or_else(String::new, Step::label);
                    let observed_responses = binding
                        .route
                        .map(|r| r.responses.as_slice())
                        .unwrap_or_default();
                    step(
                        ctx,
                        label,
                        routes::apply_responses(ctx, api_id, spec, &route_id, observed_responses),
                    )
                    .await?;
                }
                Ok::<_, anyhow::Error>(())
            };
            tokio::try_join!(responses, route)?;
            Ok::<_, anyhow::Error>(())
        });
    futures::future::try_join_all(chains).await?;
    if fresh_api {
        return Ok(());
    }
    // Strays go after the routes were re-pointed, so nothing still targets them.
    let (stray_routes, stray_integrations) = routes::strays(
        &desired.routes,
        &bindings,
        &observed.routes,
        &observed.integrations,
    );
    futures::future::try_join_all(stray_routes.iter().map(|r| {
        step(
            ctx,
            format!("- delete  route {}", r.key),
            routes::delete(ctx, api_id, r),
        )
    }))
    .await?;
    futures::future::try_join_all(stray_integrations.iter().map(|i| {
        step(
            ctx,
            format!("- delete  integration {}", i.id),
            integrations::delete(ctx, api_id, &i.id),
        )
    }))
    .await?;
    Ok(())
}

/// What `down` will delete, for confirmation and `--output json`.
pub fn teardown_plan(ctx: &Ctx, config: &Config, observed: &Observed) -> Plan {
    let mut steps = Vec::new();
    for api in &observed.apis.ours {
        steps.push(
            Step::new(
                api::KIND,
                format!("{} ({})", api.name, api.id),
                Action::Delete,
            )
            .with_note("with its routes, integrations and stage"),
        );
    }
    steps.extend(backend::teardown_steps(ctx, &observed.backend));
    steps.extend(amplify::teardown_plan(&observed.amplify));
    if observed.access_log_group.is_some() {
        steps.push(Step::new(
            access_log_group::KIND,
            ctx.names.access_log_group.clone(),
            Action::Delete,
        ));
    }
    let release = release_decision(ctx, observed);
    if let Release::Release { role, previous } = &release {
        let note = match previous {
            Some(arn) => format!("restore the previous role {arn} if it still works, else clear"),
            None => format!("clear: it names {role}"),
        };
        steps.push(Step::new(account::KIND, account::NAME, Action::Update).with_note(note));
        if *role != ctx.names.logs_role {
            steps.push(
                Step::new(logs_role::ROLE_KIND, role.clone(), Action::Delete)
                    .with_note("left by a deleted chatctl stack for this one"),
            );
        }
    }
    if observed.logs_role.is_some() && !matches!(release, Release::KeepForOthers(_)) {
        steps.push(Step::new(
            logs_role::ROLE_KIND,
            ctx.names.logs_role.clone(),
            Action::Delete,
        ));
    }
    Plan {
        stack: ctx.names.stack.clone(),
        region: config.region.clone(),
        steps,
    }
}

/// What `down` does with the shared account setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// The setting names someone else's role (or none): leave it.
    NotOurs,
    /// The setting names `role` — this stack's, or one a deleted chatctl stack kept for it —
    /// and nobody else needs it: point it back to `previous` if that still works, else
    /// clear it; then delete `role`.
    Release {
        role: String,
        previous: Option<String>,
    },
    /// Names our role but other chatctl stacks in the region log through it: keep both.
    KeepForOthers(Vec<String>),
}

pub fn release_decision(ctx: &Ctx, observed: &Observed) -> Release {
    let Some(account) = observed.account.as_ref() else {
        return Release::NotOurs;
    };
    if account.names_role(&ctx.names.logs_role) {
        if !observed.apis.other_stacks.is_empty() {
            return Release::KeepForOthers(observed.apis.other_stacks.iter().cloned().collect());
        }
        return Release::Release {
            role: ctx.names.logs_role.clone(),
            previous: observed
                .logs_role
                .as_ref()
                .and_then(|r| r.tag(logs_role::PREVIOUS_ROLE_TAG))
                .map(str::to_owned),
        };
    }
    // A chatctl stack that was deleted while others (this one) still logged through its
    // role kept the role and the setting; the last chatctl stack in the region to go
    // releases them, so nothing is left behind.
    let orphan = observed.foreign_role.as_ref().filter(|role| {
        role.tag(crate::config::STACK_TAG).is_some_and(|stack| {
            stack != ctx.names.stack && !observed.apis.other_stacks.contains(stack)
        }) && observed.apis.other_stacks.is_empty()
    });
    match (
        orphan,
        account
            .role_arn
            .as_deref()
            .and_then(logs_role::role_name_of),
    ) {
        (Some(role), Some(name)) => Release::Release {
            role: name.to_owned(),
            previous: role.tag(logs_role::PREVIOUS_ROLE_TAG).map(str::to_owned),
        },
        _ => Release::NotOurs,
    }
}

/// Deletes everything of the stack, in reverse dependency order. What could not be removed
/// from GitHub (no token, no permission) is in the returned teardown report.
pub async fn destroy(ctx: &Ctx, config: &Config, observed: &Observed) -> Result<amplify::Teardown> {
    let access = amplify::GitHubAccess::from_env(&config.github_api_url);
    let frontend = amplify::destroy(ctx, &access, &observed.amplify);
    // DeleteApi removes the API's routes, integrations, responses and stage with it.
    let apis = futures::future::try_join_all(observed.apis.ours.iter().map(|a| {
        step(
            ctx,
            format!("- delete  websocket api {} ({})", a.name, a.id),
            api::delete(ctx, &a.id),
        )
    }));
    let log_group = async {
        if observed.access_log_group.is_some() {
            let name = &ctx.names.access_log_group;
            step(
                ctx,
                format!("- delete  log group {name}"),
                access_log_group::delete(ctx, name),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let backend = backend::destroy(ctx, &observed.backend);
    let account_and_role = async {
        let release = release_decision(ctx, observed);
        match &release {
            Release::Release { role, previous } => {
                // Restore only a role API Gateway can still use; otherwise clear.
                let previous_works = match previous.as_deref().and_then(logs_role::role_name_of) {
                    Some(name) => logs_role::observe(ctx, name)
                        .await?
                        .is_some_and(|r| r.trusts_apigateway),
                    None => false,
                };
                let target = match previous {
                    Some(arn) if previous_works => arn.as_str(),
                    _ => "(none)",
                };
                let task = ctx.ui.task(format!(
                    "~ update  apigateway account cloudwatchRoleArn → {target}"
                ));
                let result = match previous {
                    Some(arn) if previous_works => account::set(ctx, arn, Some(&task)).await,
                    _ => account::clear(ctx, Some(&task)).await,
                };
                finish(task, result)?;
                if *role != ctx.names.logs_role {
                    step(
                        ctx,
                        format!("- delete  iam role {role} (left for this stack)"),
                        logs_role::delete(ctx, role),
                    )
                    .await?;
                }
            }
            Release::KeepForOthers(stacks) => ctx.ui.note(&format!(
                "kept IAM role {} and the account's CloudWatch Logs setting: stack(s) {} in this region log through it",
                ctx.names.logs_role,
                stacks.join(", ")
            )),
            Release::NotOurs => {}
        }
        if observed.logs_role.is_some() && !matches!(release, Release::KeepForOthers(_)) {
            let name = &ctx.names.logs_role;
            step(
                ctx,
                format!("- delete  iam role {name}"),
                logs_role::delete(ctx, name),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let (teardown, ..) = tokio::try_join!(frontend, apis, log_group, backend, account_and_role)?;
    Ok(teardown)
}

/// Ends `task`'s progress line as done or failed, passing `result` on.
pub(crate) fn finish<T>(task: crate::ui::Task, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            task.done();
            Ok(value)
        }
        Err(err) => {
            task.failed(&format!("{err:#}"));
            Err(err)
        }
    }
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
