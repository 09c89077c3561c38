//! CloudWatch Logs log groups of the stack, all with `[api] log_retention_days`:
//!
//! - the stage's access logs (`/chatctl/{stack}/access`), which chatctl creates;
//! - the stage's execution logs, which API Gateway creates by itself the first time a stage
//!   with logging on is deployed — with no retention — and never deletes
//!   ([`execution_log_group`]);
//! - the function's logs (`/aws/lambda/{function}`), which Lambda creates on the first
//!   invocation, also without retention ([`function_log_group`]).
//!
//! chatctl creates each group itself (tagged for the stack) before AWS would, or sets the
//! retention of one AWS created first; `down` deletes them. The execution-log group is ours by
//! its name, which embeds the id of the stack's API (found by tag). The access log group is
//! ours only by its tags; the function's by its tags, or — made by Lambda, untagged, for a
//! stack deployed before chatctl made it — while the stack's function exists (`crate::ownership`,
//! docs/decisions.md).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};

use super::{Ctx, absent_if, aws_error};
use crate::config::STACK_TAG;
use crate::ownership::{Claim, Found};
use crate::plan::{Action, FieldChange, Step};

pub const KIND: &str = "log group";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Without the `:*` suffix DescribeLogGroups adds: the form stages accept.
    pub arn: String,
    pub retention_days: Option<i32>,
    /// When the group was created (epoch milliseconds, AWS's clock).
    pub creation_ms: i64,
    /// The group's tags; `None` from [`find`], which does not read them.
    pub tags: Option<BTreeMap<String, String>>,
}

/// The log group API Gateway writes a stage's execution logs to: "When you deploy an API,
/// API Gateway creates a log group ... named following the
/// `API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}` format" (API Gateway developer
/// guide, "Set up CloudWatch logging for REST APIs", "CloudWatch log formats for API
/// Gateway", which the WebSocket logging page refers to).
pub fn execution_log_group(api_id: &str, stage: &str) -> String {
    format!("API-Gateway-Execution-Logs_{api_id}/{stage}")
}

/// The log group Lambda writes a function's logs to.
pub fn function_log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// Finds a log group by exact name.
pub async fn find(ctx: &Ctx, name: &str) -> Result<Option<Observed>> {
    let out = ctx
        .aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading log group {name}"), &e))?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| Observed {
            arn: g
                .log_group_arn()
                .or(g.arn())
                .unwrap_or_default()
                .trim_end_matches(":*")
                .to_owned(),
            retention_days: g.retention_in_days(),
            creation_ms: g.creation_time().unwrap_or_default(),
            tags: None,
        }))
}

/// Finds the group `name` and, when it exists, reads its tags (DescribeLogGroups does not
/// return them); the claim they make is the caller's to judge.
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<(Observed, Claim)>> {
    let Some(mut group) = find(ctx, name).await? else {
        return Ok(None);
    };
    let tags = ctx
        .aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&group.arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the tags of log group {name}"), &e))?;
    let tags: BTreeMap<String, String> = tags
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let claim = Claim::of(&ctx.names, &tags);
    group.tags = Some(tags);
    Ok(Some((group, claim)))
}

/// [`observe`] for a group that is the stack's only by its tags (the access log group).
pub async fn observe_owned(ctx: &Ctx, name: &str) -> Result<Found<Observed>> {
    Ok(match observe(ctx, name).await? {
        None => Found::Absent,
        Some((group, claim)) => {
            let arn = group.arn.clone();
            Found::regional(&claim, group, KIND, name, &arn)
        }
    })
}

/// Whether the group's tags were read and lack the stack's (a group Lambda made).
fn untagged(group: &Observed) -> bool {
    group
        .tags
        .as_ref()
        .is_some_and(|tags| !tags.contains_key(STACK_TAG))
}

/// The step for one log group: create it, or fix its retention.
pub fn plan(name: &str, observed: Option<&Observed>, retention_days: i32) -> Step {
    match observed {
        None => Step::new(KIND, name, Action::Create),
        Some(group) => {
            let mut changes = Vec::new();
            if group.retention_days != Some(retention_days) {
                changes.push(FieldChange::new(
                    "retention_days",
                    group
                        .retention_days
                        .map_or_else(|| "never expire".to_owned(), |d| d.to_string()),
                    retention_days,
                ));
            }
            // The function's group, made by Lambda for a stack deployed before chatctl
            // created it itself, has no tags: it gets them with its first change.
            if untagged(group) {
                changes.push(FieldChange::new(
                    "tags",
                    "(none)",
                    "chatctl:stack, chatctl:region",
                ));
            }
            Step::update_or_keep(KIND, name, changes)
        }
    }
}

/// Creates the group (tagged for the stack) or fixes its retention; returns its ARN.
pub async fn apply(
    ctx: &Ctx,
    name: &str,
    observed: Option<&Observed>,
    retention_days: i32,
) -> Result<String> {
    ensure(ctx, name, observed, retention_days).await?;
    match observed {
        Some(group) if !group.arn.is_empty() => Ok(group.arn.clone()),
        _ => Ok(find(ctx, name)
            .await?
            .with_context(|| format!("log group {name} vanished right after it was created"))?
            .arn),
    }
}

/// [`apply`] without reading the ARN back (for groups nothing refers to by ARN).
pub async fn ensure(
    ctx: &Ctx,
    name: &str,
    observed: Option<&Observed>,
    retention_days: i32,
) -> Result<()> {
    let logs = &ctx.aws.logs;
    if let Some(group) = observed.filter(|g| untagged(g)) {
        logs.tag_resource()
            .resource_arn(&group.arn)
            .set_tags(Some(ctx.names.tags().into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("tagging log group {name}"), &e))?;
    }
    if observed.is_none() {
        let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
        let created = logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // AWS (API Gateway, Lambda) or an interrupted run made it meanwhile — or another
            // stack did: a group tagged for someone else is not taken.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                if let Some((group, claim @ Claim::Other { .. })) = observe(ctx, name).await? {
                    anyhow::bail!(
                        "{}: not using it",
                        crate::ownership::Foreign::new(KIND, name, &group.arn, &claim)
                    );
                }
            }
            Err(e) => return Err(aws_error(&format!("creating log group {name}"), &e)),
        }
    }
    if observed.is_none_or(|g| g.retention_days != Some(retention_days)) {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(retention_days)
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting the retention of {name}"), &e))?;
    }
    Ok(())
}

/// Deletes a log group; already gone is success.
pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    absent_if(
        ctx.aws
            .logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("deleting log group {name}"), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_what_aws_creates() {
        assert_eq!(
            execution_log_group("a1b2c3", "dev"),
            "API-Gateway-Execution-Logs_a1b2c3/dev"
        );
        assert_eq!(
            function_log_group("chat-dev-backend"),
            "/aws/lambda/chat-dev-backend"
        );
    }

    #[test]
    fn a_group_aws_made_without_retention_gets_one() {
        let made_by_aws = Observed {
            arn: "arn:aws:logs:eu-west-1:1:log-group:x".into(),
            retention_days: None,
            creation_ms: 0,
            tags: None,
        };
        let step = plan("x", Some(&made_by_aws), 30);
        assert_eq!(step.action, Action::Update);
        assert_eq!(step.changes[0].old, "never expire");
        assert_eq!(step.changes[0].new, "30");
        let kept = Observed {
            retention_days: Some(30),
            ..made_by_aws
        };
        assert_eq!(plan("x", Some(&kept), 30).action, Action::Keep);
        assert_eq!(plan("x", None, 30).action, Action::Create);
        let read_without_tags = Observed {
            tags: Some(BTreeMap::new()),
            ..kept
        };
        let step = plan("x", Some(&read_without_tags), 30);
        assert_eq!(step.changes[0].field, "tags");
    }
}
