//! The stack's CloudWatch Logs log groups: the one that receives the stage's access logs and
//! the Lambda function's (created before the function, so it is tagged and has a retention;
//! Lambda would otherwise create an untagged one that never expires).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};

use super::{Ctx, absent_if, aws_error};
use crate::config::STACK_TAG;
use crate::ownership::{Claim, Found};
use crate::plan::{Action, FieldChange, Step};

pub const KIND: &str = "log group";
/// Access logs are operational data; two weeks keeps costs bounded.
pub const RETENTION_DAYS: i32 = 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Without the `:*` suffix DescribeLogGroups adds: the form stages accept.
    pub arn: String,
    pub retention_days: Option<i32>,
    /// When the group was created (epoch milliseconds, AWS's clock).
    pub creation_ms: i64,
    /// The group's tags; empty from [`find`], which does not read them.
    pub tags: BTreeMap<String, String>,
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
            tags: BTreeMap::new(),
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
    group.tags = tags
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let claim = Claim::of(&ctx.names, &group.tags);
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

pub fn plan(name: &str, observed: Option<&Observed>) -> Step {
    let name = name.to_owned();
    match observed {
        None => Step::new(KIND, name, Action::Create),
        Some(group) => {
            let mut changes = Vec::new();
            if group.retention_days != Some(RETENTION_DAYS) {
                changes.push(FieldChange::new(
                    "retention_days",
                    group
                        .retention_days
                        .map_or_else(|| "never expire".to_owned(), |d| d.to_string()),
                    RETENTION_DAYS,
                ));
            }
            // The function's group, made by Lambda for a stack deployed before chatctl
            // created it itself, has no tags: it gets them with its first change.
            if !group.tags.contains_key(STACK_TAG) {
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

/// Creates the group `name` (tagged) or fixes its retention and tags; returns its ARN.
pub async fn apply(ctx: &Ctx, name: &str, observed: Option<&Observed>) -> Result<String> {
    let logs = &ctx.aws.logs;
    if let Some(group) = observed.filter(|g| !g.tags.contains_key(STACK_TAG)) {
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
            // A concurrent or interrupted run created it since we looked — or someone else
            // did: only a group with our tags is taken.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                if let Found::Foreign(foreign) = observe_owned(ctx, name).await? {
                    anyhow::bail!("{foreign}: not using it");
                }
            }
            Err(e) => return Err(aws_error(&format!("creating log group {name}"), &e)),
        }
    }
    if observed.is_none_or(|g| g.retention_days != Some(RETENTION_DAYS)) {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(RETENTION_DAYS)
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting the retention of {name}"), &e))?;
    }
    match observed {
        Some(group) if !group.arn.is_empty() => Ok(group.arn.clone()),
        _ => Ok(find(ctx, name)
            .await?
            .with_context(|| format!("log group {name} vanished right after it was created"))?
            .arn),
    }
}

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
