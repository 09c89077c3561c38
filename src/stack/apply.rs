//! `up`'s apply: the chains of the resource graph (module docs of `stack`) run concurrently,
//! each step as soon as what it needs exists.

use anyhow::{Context, Result};
use serde::Serialize;

use super::{
    Desired, Observed, Outputs, account_decision, api_when_ready, auth, backend, changes_the_api,
    execution_log_group_step, frontend_sign_in, frontend_site, outputs,
};
use crate::chat_api::{self, BackendEndpoint};
use crate::config::Config;
use crate::plan::{Action, Plan, Step};
use crate::resources::{
    Ctx, access_log_group, account, amplify, api, authorizer, deployment, function, integrations,
    log_groups, logs_role, routes, stage,
};

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
    let decision = account_decision(observed, desired);
    let role_chain = async {
        let role_name = observed.logs_role_label(ctx);
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
    // An auto-deploy stage deploys each change of the API with the stage variables it has at
    // that moment: an existing stage gets its new variables before the integrations that
    // read them change (a new stage has them from its creation).
    let (stage_ready, mut stage_done) = tokio::sync::watch::channel(false);
    // `$connect` needs the authorizer's id; the authorizer function the backend's role.
    let (authorizer_ready, authorizer_id) = tokio::sync::watch::channel(None::<String>);
    let (role_ready, role_for_auth) = tokio::sync::watch::channel(None::<String>);
    let api_for_auth = api_ready.subscribe();
    let wait_for_stage = observed.stage.is_some() && changes(plan, stage::KIND, &ctx.stage);
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
        let children = async {
            if wait_for_stage {
                stage_done
                    .wait_for(|done| *done)
                    .await
                    .map_err(|_| anyhow::anyhow!("the stage was not updated"))?;
            }
            apply_children(ctx, observed, desired, &api.id, authorizer_id).await
        };
        tokio::try_join!(duplicates, children)?;
        Ok::<_, anyhow::Error>(api)
    };
    let backend_chain = async {
        match &desired.backend {
            Some(wanted) => Ok::<_, anyhow::Error>(Some(
                Box::pin(backend::apply(
                    ctx,
                    config,
                    &observed.backend,
                    wanted,
                    &plan.steps,
                    api_for_backend,
                    role_ready,
                ))
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
                access_log_group::apply(
                    ctx,
                    observed.access_log_group.as_ref(),
                    config.api.log_retention_days,
                ),
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

    // API Gateway creates the execution-log group on its own (without retention) once logging
    // is on; made first, it has the stack's tags and retention from the start.
    let mut api_for_logs = api_ready.subscribe();
    let execution_log_chain = async {
        if let Some(group) = execution_log_group_step(ctx, config, observed)
            && group.is_change()
        {
            let api = api_when_ready(&mut api_for_logs).await?;
            let name = log_groups::execution_log_group(&api.id, &ctx.stage);
            step(
                ctx,
                Step {
                    name: name.clone(),
                    ..group
                }
                .label(),
                log_groups::ensure(
                    ctx,
                    &name,
                    observed.execution_log_group.as_ref(),
                    config.api.log_retention_days,
                ),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };

    // The stage needs the API, the account setting (logging), the log groups and the backend
    // URL — but not the routes: with auto-deploy, routes created after it still go live.
    let mut api_for_stage = api_ready.subscribe();
    let stage_chain = async {
        let ((), log_arn, function_url, ()) =
            tokio::try_join!(role_chain, log_chain, backend_chain, execution_log_chain)?;
        let api = api_when_ready(&mut api_for_stage).await?;
        let mut stage_desired = stage::Desired {
            access_log_arn: Some(log_arn.clone()),
            ..desired.stage.clone()
        };
        if let Some(url) = function_url {
            stage_desired.variables.insert(
                chat_api::BACKEND_HOST_VARIABLE.to_owned(),
                BackendEndpoint::parse(&url)?.host,
            );
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
        stage_ready.send_replace(true);
        Ok::<_, anyhow::Error>(())
    };
    let auth_chain = async {
        let Some(wanted) = &desired.auth else {
            return Ok::<_, anyhow::Error>(None);
        };
        let around = auth::Around {
            account: observed.backend.account_id.as_deref(),
            api: observed.apis.primary(),
            authorizers: &observed.authorizers,
            role_arn: None,
            retention_days: config.api.log_retention_days,
        };
        Box::pin(auth::apply(
            ctx,
            &observed.auth,
            wanted,
            &around,
            role_for_auth,
            api_for_auth,
            authorizer_ready,
        ))
        .await
        .map(Some)
    };
    let (api, (), signed_in) = tokio::try_join!(api_chain, stage_chain, auth_chain)?;
    // The deployment's verdict: a change API Gateway could not deploy fails only there.
    let redeploy = plan
        .steps
        .iter()
        .any(|s| s.kind == deployment::KIND && s.is_change())
        && !changes_the_api(plan);
    if redeploy {
        step(
            ctx,
            format!("~ deploy  stage {}", ctx.stage),
            deployment::redeploy(ctx, &api.id, &ctx.stage),
        )
        .await?;
    }
    step(
        ctx,
        format!("  check   deployment of stage {}", ctx.stage),
        deployment::settle(ctx, &api.id, &ctx.stage),
    )
    .await?;
    // A backend of another kind left from an earlier configuration goes once the stage no
    // longer points at it.
    if desired.backend.is_none() && !observed.backend.is_empty() {
        backend::destroy(ctx, &observed.backend).await?;
    }
    // Sign-in of an earlier configuration goes once `$connect` no longer uses it.
    let stale_authorizer = authorizer::ours(ctx, &observed.authorizers)
        .filter(|_| observed.apis.primary().is_some_and(|p| p.id == api.id));
    if desired.auth.is_none() && (!observed.auth.is_empty() || stale_authorizer.is_some()) {
        auth::destroy(
            ctx,
            &observed.auth,
            stale_authorizer.map(|a| (api.id.as_str(), a.id.as_str())),
        )
        .await?;
    }
    let mut outputs = outputs(config, &api);
    // The web app's sign-in with what this run made (a new pool's ids are known only now).
    let sign_in = frontend_sign_in(
        config,
        observed,
        signed_in.as_ref().and_then(|a| a.cognito.as_ref()),
    );
    let planned_sign_in = desired.frontend.as_ref().and_then(|f| f.auth.as_ref());
    // The frontend builds with the WebSocket URL, known now.
    let frontend_changes = plan.steps.iter().any(|s| {
        matches!(
            s.kind,
            amplify::APP_KIND | amplify::BRANCH_KIND | amplify::JOB_KIND
        ) && s.is_change()
    }) || (desired.frontend.is_some()
        && sign_in.as_ref() != planned_sign_in);
    let frontend = if frontend_changes {
        let wanted = config.frontend.as_ref().map(|f| {
            amplify::desired(
                &ctx.names,
                f,
                Some(&outputs.websocket_url),
                sign_in.as_ref(),
            )
        });
        let access = amplify::GitHubAccess::from_env(&config.github_api_url);
        let applied = amplify::apply(ctx, &access, &observed.amplify, wanted.as_ref()).await?;
        outputs.site_url.clone_from(&applied.site_url);
        Some(applied)
    } else {
        outputs.site_url = frontend_site(observed, config);
        None
    };
    if let Some(cognito) = signed_in.as_ref().and_then(|a| a.cognito.as_ref()) {
        // A new site's URL becomes a callback of the app client once Amplify made it.
        let planned = desired.auth.as_ref().and_then(|a| a.site_url.as_deref());
        if let Some(site) = outputs.site_url.as_deref().filter(|s| Some(*s) != planned) {
            step(
                ctx,
                format!(
                    "~ update  {} {} (callback {site})",
                    crate::resources::user_pool_client::KIND,
                    ctx.names.user_pool_client
                ),
                auth::add_site_callback(ctx, cognito, planned, site),
            )
            .await?;
        }
        outputs.sign_in_url = Some(auth::sign_in_url(ctx, cognito, outputs.site_url.as_deref()));
    }
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

/// Integrations, routes and their responses, one concurrent chain per route; strays last.
async fn apply_children(
    ctx: &Ctx,
    observed: &Observed,
    desired: &Desired,
    api_id: &str,
    authorizer_id: tokio::sync::watch::Receiver<Option<String>>,
) -> Result<()> {
    let fresh_api = observed.apis.primary().is_none();
    let (route_list, integration_list): (&[routes::Observed], &[integrations::Observed]) =
        if fresh_api {
            (&[], &[])
        } else {
            (&observed.routes, &observed.integrations)
        };
    let scheme = desired.backend_scheme;
    let bindings = routes::bind(&desired.routes, scheme, route_list, integration_list);
    let chains = desired.routes.iter().zip(&bindings).map(|(spec, binding)| {
        let mut authorizer_id = authorizer_id.clone();
        async move {
            let integration_step = integrations::plan(spec, scheme, binding.integration);
            let replaced = integration_step.action == Action::Replace;
            let existing = binding.integration.filter(|_| !replaced);
            let integration_id = if integration_step.is_change() {
                step(
                    ctx,
                    integration_step.label(),
                    integrations::apply(
                        ctx,
                        api_id,
                        spec,
                        scheme,
                        existing,
                        integration_step.action,
                    ),
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
                // `$connect` with verified names waits for its authorizer.
                let authorizer = if spec.authorizer.is_some() {
                    authorizer_id
                        .wait_for(Option::is_some)
                        .await
                        .map_err(|_| anyhow::anyhow!("the authorizer was not created"))?
                        .clone()
                } else {
                    None
                };
                let route_step = routes::plan(spec, binding, replaced, authorizer.as_deref());
                let route_id = if route_step.is_change() || binding.route.is_none() {
                    step(
                        ctx,
                        route_step.label(),
                        routes::apply(
                            ctx,
                            api_id,
                            spec,
                            binding.route,
                            &integration_id,
                            authorizer.as_deref(),
                        ),
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
        }
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

/// Creates or updates a function of the stack as `wanted` says, showing its step; returns its
/// ARN.
pub(crate) async fn ensure_function(
    ctx: &Ctx,
    observed: Option<&function::Observed>,
    wanted: &function::Desired,
    role_arn: &str,
) -> Result<String> {
    let function_step = function::plan(observed, wanted, Some(role_arn));
    if !function_step.is_change() {
        return observed
            .map(|f| f.arn.clone())
            .with_context(|| format!("function {} has no ARN", wanted.name));
    }
    let task = ctx.ui.task(function_step.label());
    let result = function::apply(ctx, observed, wanted, role_arn, Some(&task)).await;
    finish(task, result)
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
