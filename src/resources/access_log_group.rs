//! The CloudWatch Logs log group that receives the stage's access logs.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::{Ctx, absent_if, aws_error};
use crate::plan::{Action, FieldChange, Step};

pub const KIND: &str = "log group";
/// Access logs are operational data; two weeks keeps costs bounded.
pub const RETENTION_DAYS: i32 = 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Without the `:*` suffix DescribeLogGroups adds: the form stages accept.
    pub arn: String,
    pub retention_days: Option<i32>,
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
        }))
}

pub async fn observe(ctx: &Ctx) -> Result<Option<Observed>> {
    find(ctx, &ctx.names.access_log_group).await
}

pub fn plan(ctx: &Ctx, observed: Option<&Observed>) -> Step {
    let name = ctx.names.access_log_group.clone();
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
            Step::update_or_keep(KIND, name, changes)
        }
    }
}

/// Creates the group or fixes its retention; returns its ARN.
pub async fn apply(ctx: &Ctx, observed: Option<&Observed>) -> Result<String> {
    let logs = &ctx.aws.logs;
    let name = &ctx.names.access_log_group;
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
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
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
