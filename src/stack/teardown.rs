//! `down`: what it will delete, whether the account setting's role goes with it, and the
//! deletes themselves in dependency order.

use super::{
    Action, Config, Ctx, Observed, Plan, Result, Step, access_log_group, account, amplify, api,
    auth, backend, finish, log_groups, logs_role, step,
};

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
    if let (Some(api), Some(_)) = (observed.apis.primary(), &observed.execution_log_group) {
        steps.push(
            Step::new(
                log_groups::KIND,
                log_groups::execution_log_group(&api.id, &ctx.stage),
                Action::Delete,
            )
            .with_note("API Gateway's execution logs"),
        );
    }
    steps.extend(backend::teardown_steps(ctx, &observed.backend));
    // The API Gateway authorizer goes with its API.
    steps.extend(auth::teardown_steps(ctx, &observed.auth, &[]));
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
        if Some(role.as_str()) != observed.logs_role_name.as_deref() {
            steps.push(
                Step::new(logs_role::ROLE_KIND, role.clone(), Action::Delete)
                    .with_note("left by a deleted chatctl stack for this one"),
            );
        }
    }
    if let Some(role) = &observed.logs_role
        && !matches!(release, Release::KeepForOthers(_))
    {
        steps.push(Step::new(
            logs_role::ROLE_KIND,
            role.name.clone(),
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
    if let Some(our_role) = observed
        .logs_role_name
        .as_deref()
        .filter(|name| account.names_role(Some(name)))
    {
        if !observed.apis.other_stacks.is_empty() {
            return Release::KeepForOthers(observed.apis.other_stacks.iter().cloned().collect());
        }
        return Release::Release {
            role: our_role.to_owned(),
            previous: observed
                .logs_role
                .as_ref()
                .and_then(|r| r.tag(logs_role::PREVIOUS_ROLE_TAG))
                .map(str::to_owned),
        };
    }
    // A chatctl stack that was deleted while others (this one) still logged through its
    // role kept the role and the setting; the last chatctl stack in the region to go
    // releases them, so nothing is left behind. Only a role of this region: IAM is global,
    // and a role tagged for another region serves that region's stack.
    let orphan = observed.foreign_role.as_ref().filter(|role| {
        let of_this_region = role
            .tag(crate::config::REGION_TAG)
            .is_none_or(|region| region == ctx.names.region);
        role.tag(crate::config::STACK_TAG).is_some_and(|stack| {
            stack != ctx.names.stack && !observed.apis.other_stacks.contains(stack)
        }) && of_this_region
            && observed.apis.other_stacks.is_empty()
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
    // DeleteApi removes the API's routes, integrations, responses and stage with it, but not
    // the execution-log group API Gateway made for the stage: that goes first, while the API
    // id that names it is still known (a run killed in between finds the API again).
    let apis = futures::future::try_join_all(observed.apis.ours.iter().map(|a| async move {
        let execution_logs = log_groups::execution_log_group(&a.id, &ctx.stage);
        let primary = observed.apis.primary().is_some_and(|p| p.id == a.id);
        if !primary || observed.execution_log_group.is_some() {
            step(
                ctx,
                format!("- delete  log group {execution_logs}"),
                log_groups::delete(ctx, &execution_logs),
            )
            .await?;
        }
        step(
            ctx,
            format!("- delete  websocket api {} ({})", a.name, a.id),
            api::delete(ctx, &a.id),
        )
        .await
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
    let sign_in = auth::destroy(ctx, &observed.auth, None);
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
                if Some(role.as_str()) != observed.logs_role_name.as_deref() {
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
                observed.logs_role_label(ctx),
                stacks.join(", ")
            )),
            Release::NotOurs => {}
        }
        if let Some(role) = &observed.logs_role
            && !matches!(release, Release::KeepForOthers(_))
        {
            let name = &role.name;
            step(
                ctx,
                format!("- delete  iam role {name}"),
                logs_role::delete(ctx, name),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let (teardown, ..) = tokio::try_join!(
        frontend,
        apis,
        log_group,
        backend,
        sign_in,
        account_and_role
    )?;
    Ok(teardown)
}
