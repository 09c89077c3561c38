//! The Lambda backend part of the graph (`backend.kind = "lambda"`):
//!
//! ```text
//! dynamodb table ────────────────────────────┐
//! backend role ─► inline policy (needs api) ─┤
//!        └──────► function (needs api: callback URL) ─► function URL + permissions ─► stage
//! function log group ──┘
//! ```
//!
//! With another backend kind the same resources, if they exist, are planned for deletion.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::Value;
use tokio::sync::watch;

use super::step;
use crate::config::{Backend, Config};
use crate::ownership::{Claim, Foreign, Found};
use crate::plan::{Action, Step};
use crate::resources::{
    Ctx, api, aws_error, backend_role, function, function_url, log_groups, logs_role, table,
};

#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The AWS account id (for ARNs in the policy); read only for the Lambda backend.
    pub account_id: Option<String>,
    pub table: Option<table::Observed>,
    /// The stack's execution role: the region-scoped name, or an adopted role of an earlier
    /// chatctl that used the name without the region.
    pub role: Option<backend_role::Observed>,
    pub function: Option<function::Observed>,
    pub url: Option<function_url::Observed>,
    /// `/aws/lambda/{function}`: made by chatctl (tagged, with the retention), or by Lambda
    /// for a stack deployed before chatctl made it (untagged, without).
    pub log_group: Option<log_groups::Observed>,
    /// Resources with the backend's names that are not the stack's.
    pub foreign: Vec<Foreign>,
}

impl Observed {
    pub fn is_empty(&self) -> bool {
        self.table.is_none()
            && self.role.is_none()
            && self.function.is_none()
            && self.log_group.is_none()
    }

    /// The secret the deployed function checks, if any.
    pub fn deployed_secret(&self) -> Option<String> {
        self.function
            .as_ref()
            .and_then(|f| f.environment.get(chat_handler::ENV_SECRET).cloned())
            .filter(|s| !s.is_empty())
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_ref().and_then(|u| u.url.as_deref())
    }

    /// The execution role's name: the adopted role's, else the stack's.
    pub fn role_name<'a>(&'a self, ctx: &'a Ctx) -> &'a str {
        self.role
            .as_ref()
            .map_or(ctx.names.backend_role.as_str(), |r| r.name.as_str())
    }
}

pub async fn observe(ctx: &Ctx, lambda_backend: bool) -> Result<Observed> {
    let names = &ctx.names;
    let account = async {
        if !lambda_backend {
            return Ok(None);
        }
        let identity = ctx
            .aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("reading the AWS account id", &e))?;
        Ok::<_, anyhow::Error>(identity.account)
    };
    // The URL and permissions are part of the function: kept only when it is ours. With the
    // Lambda backend all three are read at once (all by name); otherwise the URL is read only
    // when a leftover function of ours exists.
    let function_and_url = async {
        if lambda_backend {
            let (function, url) = tokio::try_join!(
                function::observe(ctx, &names.function),
                function_url::observe(ctx)
            )?;
            let url = matches!(function, Found::Ours(_)).then_some(url);
            return Ok::<_, anyhow::Error>((function, url));
        }
        let function = function::observe(ctx, &names.function).await?;
        let url = match &function {
            Found::Ours(_) => Some(function_url::observe(ctx).await?),
            _ => None,
        };
        Ok((function, url))
    };
    // With another backend kind the group is read only when a function is left to delete
    // (below), so a no-op run of that kind does not pay for it.
    let log_group = async {
        if lambda_backend {
            log_groups::observe(ctx, &names.function_log_group).await
        } else {
            Ok(None)
        }
    };
    let (account_id, table, role, (function, url), log_group) = tokio::try_join!(
        account,
        table::observe(ctx),
        backend_role::observe(ctx, &names.backend_role, lambda_backend),
        function_and_url,
        log_group,
    )?;
    let mut foreign = Vec::new();
    let table = table.sort(&mut foreign);
    let function = function.sort(&mut foreign);
    let mut role = role.sort(&mut foreign);
    if role.is_none()
        && let Some(legacy) = legacy_role(ctx, function.as_ref()).await?
    {
        role = Some(legacy);
    }
    let log_group = match log_group {
        Some(found) => Some(found),
        None if !lambda_backend && function.is_some() => {
            log_groups::observe(ctx, &names.function_log_group).await?
        }
        None => None,
    };
    let log_group = log_group.and_then(|(group, claim)| {
        // Lambda created this group, untagged, for a function deployed before chatctl made
        // it itself: it is ours when our function is there.
        let legacy = claim == Claim::Untagged && function.is_some();
        if claim.is_ours_regional() || legacy {
            Some(group)
        } else {
            foreign.push(Foreign::new(
                log_groups::KIND,
                &names.function_log_group,
                &group.arn,
                &claim,
            ));
            None
        }
    });
    Ok(Observed {
        account_id,
        table,
        role,
        function,
        url,
        log_group,
        foreign,
    })
}

/// The role of a stack deployed before role names carried the region: the stack's function
/// uses `{stack}-backend`, tagged for the stack without a region. It is adopted (kept and
/// used, never renamed) when its inline policy serves this region; when it serves another
/// region (an earlier chatctl run there rewrote it), this region's stack gets a role of its
/// own and leaves that one to the other region.
async fn legacy_role(
    ctx: &Ctx,
    function: Option<&function::Observed>,
) -> Result<Option<backend_role::Observed>> {
    let names = &ctx.names;
    let uses_legacy = function
        .and_then(|f| logs_role::role_name_of(&f.role))
        .is_some_and(|name| name == names.legacy_backend_role && name != names.backend_role);
    if !uses_legacy {
        return Ok(None);
    }
    Ok(
        match backend_role::observe(ctx, &names.legacy_backend_role, true).await? {
            Found::Ours(role)
                if role
                    .policy_region()
                    .is_none_or(|region| region == names.region) =>
            {
                Some(role)
            }
            _ => None,
        },
    )
}

/// What the Lambda backend should look like.
#[derive(Debug, Clone)]
pub struct Desired {
    pub secret: String,
    pub code: function::Code,
}

/// The function's desired state given the API (whose callback URL it posts to).
fn function_desired(
    ctx: &Ctx,
    config: &Config,
    desired: &Desired,
    callback_url: &str,
) -> Result<function::Desired> {
    let Backend::Lambda(settings) = &config.backend else {
        anyhow::bail!("the function is deployed only with backend.kind = \"lambda\"");
    };
    Ok(function::Desired {
        name: ctx.names.function.clone(),
        description: "chatctl chat backend",
        settings: settings.clone(),
        environment: BTreeMap::from([
            (chat_handler::ENV_SECRET.to_owned(), desired.secret.clone()),
            (
                chat_handler::ENV_CALLBACK_URL.to_owned(),
                callback_url.to_owned(),
            ),
            (chat_handler::ENV_TABLE.to_owned(), ctx.names.table.clone()),
        ]),
        code: desired.code.clone(),
    })
}

fn policy(ctx: &Ctx, config: &Config, account: &str, api_id: &str) -> Result<Value> {
    backend_role::render_policy(&backend_role::PolicyInputs {
        partition: config.partition()?,
        region: &config.region,
        account,
        table: &ctx.names.table,
        function: &ctx.names.function,
        api_id,
        stage: &config.stage,
        authorizer: config
            .auth
            .verifies_names()
            .then_some(ctx.names.authorizer_function.as_str()),
    })
}

const CALLBACK_AFTER_APPLY: &str = "(known after apply)";

pub fn plan(
    ctx: &Ctx,
    config: &Config,
    observed: &Observed,
    desired: Option<&Desired>,
    api: Option<&api::Observed>,
) -> Result<Vec<Step>> {
    let Some(desired) = desired else {
        return Ok(teardown_steps(ctx, observed));
    };
    let mut steps = vec![table::plan(ctx, observed.table.as_ref())];
    let wanted_policy = match (observed.account_id.as_deref(), api) {
        (Some(account), Some(api)) => Some(policy(ctx, config, account, &api.id)?),
        _ => None,
    };
    steps.extend(backend_role::plan(
        ctx,
        observed.role.as_ref(),
        wanted_policy.as_ref(),
    ));
    steps.push(log_groups::plan(
        &ctx.names.function_log_group,
        observed.log_group.as_ref(),
        config.api.log_retention_days,
    ));
    let callback = api.map_or_else(
        || CALLBACK_AFTER_APPLY.to_owned(),
        |a| api::callback_url(a, &config.region, &config.stage),
    );
    let wanted_function = function_desired(ctx, config, desired, &callback)?;
    // A function whose role is not (or no longer) the stack's moves to the stack's role.
    let role_arn = observed.role.as_ref().map_or_else(
        || format!("(role {}, known after apply)", ctx.names.backend_role),
        |r| r.arn.clone(),
    );
    steps.push(function::plan(
        observed.function.as_ref(),
        &wanted_function,
        Some(&role_arn),
    ));
    steps.extend(function_url::plan(ctx, observed.url.as_ref()));
    Ok(steps)
}

/// Creates or updates the backend; returns the function URL for the stage variable.
/// `api` delivers the stack's API once it exists (created concurrently).
pub async fn apply(
    ctx: &Ctx,
    config: &Config,
    observed: &Observed,
    desired: &Desired,
    plan: &[Step],
    mut api: watch::Receiver<Option<api::Observed>>,
    role_ready: watch::Sender<Option<String>>,
) -> Result<String> {
    let role_name = observed.role_name(ctx);
    let log_group = &ctx.names.function_log_group;
    let find = |kind: &str, name: &str| plan.iter().find(|s| s.kind == kind && s.name == name);
    let changed = |kind: &str, name: &str| find(kind, name).is_some_and(Step::is_change);
    let label = |kind: &str, name: &str| {
        find(kind, name).map_or_else(|| format!("{kind} {name}"), Step::label)
    };
    let table_chain = async {
        if changed(table::KIND, &ctx.names.table) {
            step(
                ctx,
                label(table::KIND, &ctx.names.table),
                table::apply(ctx, observed.table.as_ref()),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let role_chain = async {
        if changed(backend_role::ROLE_KIND, role_name) {
            step(
                ctx,
                label(backend_role::ROLE_KIND, role_name),
                backend_role::apply_role(ctx, observed.role.as_ref()),
            )
            .await
        } else {
            observed
                .role
                .as_ref()
                .map(|r| r.arn.clone())
                .context("the backend role has no ARN")
        }
    };
    // The function logs into its group from its first invocation: the group comes first.
    let log_group_chain = async {
        if changed(log_groups::KIND, log_group) {
            step(
                ctx,
                label(log_groups::KIND, log_group),
                log_groups::ensure(
                    ctx,
                    log_group,
                    observed.log_group.as_ref(),
                    config.api.log_retention_days,
                ),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let role_and_function = async {
        let (role_arn, ()) = tokio::try_join!(role_chain, log_group_chain)?;
        // The authorizer function runs under the same role.
        role_ready.send_replace(Some(role_arn.clone()));
        let api = super::api_when_ready(&mut api).await?;
        let account = observed
            .account_id
            .as_deref()
            .context("the AWS account id is unknown")?;
        let wanted_policy = policy(ctx, config, account, &api.id)?;
        let policy_chain = async {
            let current = observed.role.as_ref().and_then(|r| r.policy.as_ref());
            if current != Some(&wanted_policy) {
                step(
                    ctx,
                    label(backend_role::POLICY_KIND, &ctx.names.backend_policy),
                    backend_role::apply_policy(ctx, role_name, &wanted_policy),
                )
                .await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        let function_chain = async {
            let callback = api::callback_url(&api, &config.region, &config.stage);
            let wanted = function_desired(ctx, config, desired, &callback)?;
            super::ensure_function(ctx, observed.function.as_ref(), &wanted, &role_arn).await?;
            let url_steps = function_url::plan(ctx, observed.url.as_ref());
            // A new function has no URL, whatever was observed before.
            let url_observed = observed
                .url
                .as_ref()
                .filter(|_| observed.function.is_some());
            if url_steps.iter().any(Step::is_change) || url_observed.is_none() {
                let label = url_steps.iter().find(|s| s.is_change()).map_or_else(
                    || label(function_url::URL_KIND, &ctx.names.function),
                    Step::label,
                );
                step(ctx, label, function_url::apply(ctx, url_observed)).await
            } else {
                url_observed
                    .and_then(|u| u.url.clone())
                    .context("the function URL is unknown")
            }
        };
        let ((), url) = tokio::try_join!(policy_chain, function_chain)?;
        Ok::<_, anyhow::Error>(url)
    };
    let ((), url) = tokio::try_join!(table_chain, role_and_function)?;
    Ok(url)
}

/// Deletion steps for whatever of the backend is the stack's.
pub fn teardown_steps(ctx: &Ctx, observed: &Observed) -> Vec<Step> {
    let mut steps = Vec::new();
    if observed.function.is_some() {
        steps.push(
            Step::new(function::KIND, ctx.names.function.clone(), Action::Delete)
                .with_note("with its URL and permissions"),
        );
    }
    if observed.log_group.is_some() {
        steps.push(Step::new(
            log_groups::KIND,
            ctx.names.function_log_group.clone(),
            Action::Delete,
        ));
    }
    if observed.table.is_some() {
        steps.push(
            Step::new(table::KIND, ctx.names.table.clone(), Action::Delete)
                .losing_data(table::DATA),
        );
    }
    if let Some(role) = &observed.role {
        steps.push(Step::new(
            backend_role::ROLE_KIND,
            role.name.clone(),
            Action::Delete,
        ));
    }
    steps
}

/// Deletes the backend: function and table concurrently, then the role the function used.
/// Only what observation found to be the stack's.
pub async fn destroy(ctx: &Ctx, observed: &Observed) -> Result<()> {
    let log_group = &ctx.names.function_log_group;
    let foreign_log_group = observed
        .foreign
        .iter()
        .any(|f| f.kind == log_groups::KIND && f.name == *log_group);
    let function_chain = async {
        if observed.function.is_some() {
            let name = &ctx.names.function;
            step(
                ctx,
                format!("- delete  lambda function {name}"),
                function::delete(ctx, name),
            )
            .await?;
        }
        // After the function, its log group and its role together. The group: an invocation
        // in between would have Lambda create it again; one that appeared since observation
        // belongs to our function.
        let logs = async {
            if observed.log_group.is_some() || (observed.function.is_some() && !foreign_log_group) {
                step(
                    ctx,
                    format!("- delete  log group {log_group}"),
                    log_groups::delete(ctx, log_group),
                )
                .await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        let role = async {
            if let Some(role) = &observed.role {
                step(
                    ctx,
                    format!("- delete  iam role {}", role.name),
                    backend_role::delete(ctx, &role.name),
                )
                .await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        tokio::try_join!(logs, role)?;
        Ok::<_, anyhow::Error>(())
    };
    let table_chain = async {
        if observed.table.is_some() {
            step(
                ctx,
                format!("- delete  dynamodb table {}", ctx.names.table),
                table::delete(ctx),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    tokio::try_join!(function_chain, table_chain)?;
    Ok(())
}

/// A new random secret: 32 bytes as hex (stage variables allow only a few characters).
pub fn new_secret() -> String {
    use std::fmt::Write as _;
    let bytes: [u8; 32] = rand::random();
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_64_hex_characters_and_differ() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
