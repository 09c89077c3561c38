//! The deployment the stage serves. With auto-deploy, API Gateway deploys every change to the
//! API by itself, and a change it cannot deploy fails only there: the write calls succeed,
//! the stage keeps serving the previous deployment, and the verdict shows in the stage's
//! `LastDeploymentStatusMessage` ("Describes the status of the last deployment of a stage.
//! Supported only for stages with autoDeploy enabled", API reference, GetStage) and in the
//! deployment's `DeploymentStatus` (`PENDING | FAILED | DEPLOYED`, GetDeployments).
//!
//! After every change `up` reads that verdict: it waits while a deployment is pending and
//! fails with AWS's message if the last one failed. A failed deployment left by an earlier
//! run is drift (`status` exit 2); `up` then deploys the stage again (CreateDeployment).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_apigatewayv2::types::{Deployment, DeploymentStatus};

use super::{Ctx, aws_error, collect_pages};
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy};

pub const KIND: &str = "deployment";

/// How GetStage reports a deployment that failed, e.g. "Deployment attempt failed: Unable
/// to deploy API because no routes exist in this API" (users' scripts and AWS CLI output).
pub const FAILED_PREFIX: &str = "Deployment attempt failed";

pub fn is_failure(message: &str) -> bool {
    message.starts_with(FAILED_PREFIX)
}

/// The deployment step: present only when the stage's last deployment failed.
pub fn plan(stage: &str, failed: Option<&str>) -> Option<Step> {
    failed.map(|message| Step {
        changes: vec![FieldChange::new("last_deployment", message, "deployed")],
        ..Step::new(KIND, stage, Action::Update)
    })
}

/// How long a deployment may stay pending, and how often it is read meanwhile.
fn wait_policy() -> (Duration, Duration) {
    (
        retry::scaled(Duration::from_mins(5)),
        retry::scaled(Duration::from_millis(500)),
    )
}

/// Deploys the stage again (the last auto-deployment failed and nothing in this run changes
/// the API, which would have redeployed it).
pub async fn redeploy(ctx: &Ctx, api_id: &str, stage: &str) -> Result<()> {
    retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || {
            ctx.aws
                .apigatewayv2
                .create_deployment()
                .api_id(api_id)
                .stage_name(stage)
                .description("chatctl: redeploy after a failed deployment")
                .send()
        },
    )
    .await
    .map_err(|e| aws_error(&format!("deploying stage {stage}"), &e))?;
    Ok(())
}

/// Waits until no deployment of the API is pending, then fails with AWS's message if the
/// stage's last deployment failed.
pub async fn settle(ctx: &Ctx, api_id: &str, stage: &str) -> Result<()> {
    let (deadline, interval) = wait_policy();
    let started = Instant::now();
    let client = &ctx.aws.apigatewayv2;
    loop {
        let (current, deployments) = tokio::try_join!(
            async {
                client
                    .get_stage()
                    .api_id(api_id)
                    .stage_name(stage)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading stage {stage}"), &e))
            },
            collect_pages(|token| async move {
                let page = client
                    .get_deployments()
                    .api_id(api_id)
                    .set_next_token(token)
                    .max_results("500")
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("listing deployments of API {api_id}"), &e))?;
                Ok((page.items().to_vec(), page.next_token().map(str::to_owned)))
            }),
        )?;
        let pending = deployments
            .iter()
            .any(|d| d.deployment_status() == Some(&DeploymentStatus::Pending));
        if !pending {
            // A failed deployment counts only when it is strictly newer than the one the
            // stage serves: creation dates have a resolution of one second, so deployments
            // made in the same second (auto-deploy makes one per change) are not ordered, and
            // then the stage's own verdict is the answer.
            let created =
                |d: &Deployment| d.created_date().map(aws_smithy_types::DateTime::as_nanos);
            let serving = deployments
                .iter()
                .find(|d| {
                    d.deployment_id().is_some() && d.deployment_id() == current.deployment_id()
                })
                .and_then(created);
            let newest = deployments
                .iter()
                .filter(|d| created(d) > serving)
                .max_by_key(|d| created(d));
            let message = current.last_deployment_status_message().unwrap_or_default();
            if is_failure(message) {
                bail!("stage {stage} did not deploy: {message}");
            }
            if let Some(failed) =
                newest.filter(|d| d.deployment_status() == Some(&DeploymentStatus::Failed))
            {
                bail!(
                    "stage {stage} did not deploy: {}",
                    failed
                        .deployment_status_message()
                        .unwrap_or("the last deployment failed")
                );
            }
            if current.deployment_id().is_some() {
                return Ok(());
            }
        }
        if started.elapsed() >= deadline {
            bail!(
                "stage {stage} has no finished deployment after {deadline:?}: see its deployments with `aws apigatewayv2 get-deployments --api-id {api_id}`"
            );
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_deployment_is_a_step() {
        assert!(plan("dev", None).is_none());
        let step = plan(
            "dev",
            Some("Deployment attempt failed: Unable to deploy API because no routes exist in this API"),
        )
        .unwrap();
        assert_eq!(step.action, Action::Update);
        assert_eq!(step.kind, KIND);
        assert!(step.changes[0].old.contains("no routes exist"));
        assert!(is_failure("Deployment attempt failed: x"));
        assert!(!is_failure(
            "Successfully deployed stage with deployment ID 'abc123'"
        ));
    }
}
