//! The CloudWatch Logs log group that receives the stage's access logs (the generic verbs
//! live in [`super::log_groups`], shared with the execution and function log groups). It is
//! the stack's only by its tags.

use anyhow::Result;

use super::Ctx;
use super::log_groups::{self};
pub use super::log_groups::{KIND, Observed, delete, find};
use crate::ownership::Found;
use crate::plan::Step;

pub async fn observe(ctx: &Ctx) -> Result<Found<Observed>> {
    log_groups::observe_owned(ctx, &ctx.names.access_log_group).await
}

pub fn plan(ctx: &Ctx, observed: Option<&Observed>, retention_days: i32) -> Step {
    log_groups::plan(&ctx.names.access_log_group, observed, retention_days)
}

/// Creates the group or fixes its retention; returns its ARN.
pub async fn apply(ctx: &Ctx, observed: Option<&Observed>, retention_days: i32) -> Result<String> {
    log_groups::apply(ctx, &ctx.names.access_log_group, observed, retention_days).await
}
