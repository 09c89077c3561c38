//! The API Gateway account setting `cloudwatchRoleArn`: one per region, shared by every API
//! in the account. Policy (docs/decisions.md): `up` keeps a role that is already set and
//! works unless `--own-cloudwatch-role`; `down` restores or clears the setting only while it
//! still names chatctl's role.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_apigateway::types::{Op, PatchOperation};

use super::{Ctx, aws_error, logs_role};
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy, Verdict};
use crate::ui::Task;

pub const KIND: &str = "apigateway account";
pub const NAME: &str = "cloudwatchRoleArn";

/// AWS distinguishes "the role is not usable yet" only by message (BadRequestException);
/// these prefixes are what Terraform and CloudFormation users see while IAM propagates.
pub const PROPAGATION_MESSAGES: &[&str] = &[
    "The role ARN does not have required permissions",
    "API Gateway could not successfully write to CloudWatch Logs using the ARN specified",
];

/// UpdateAccount is limited to one call per 20 s per account, and the quota is fixed.
pub const UPDATE_ACCOUNT_INTERVAL: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub role_arn: Option<String>,
}

impl Observed {
    /// Whether the setting names the stack's role; `None` when the stack has no usable role
    /// name (a foreign role has it), so the setting can never be the stack's.
    pub fn names_role(&self, role_name: Option<&str>) -> bool {
        self.role_arn
            .as_deref()
            .and_then(logs_role::role_name_of)
            .is_some_and(|name| Some(name) == role_name)
    }

    /// A role that is set and is not chatctl's role for this stack.
    pub fn foreign_role(&self, our_role: Option<&str>) -> Option<&str> {
        self.role_arn
            .as_deref()
            .filter(|arn| !arn.is_empty() && !self.names_role(our_role))
    }
}

pub async fn observe(ctx: &Ctx) -> Result<Observed> {
    let account = ctx
        .aws
        .apigateway
        .get_account()
        .send()
        .await
        .map_err(|e| aws_error("reading the API Gateway account settings", &e))?;
    Ok(Observed {
        role_arn: account.cloudwatch_role_arn.filter(|arn| !arn.is_empty()),
    })
}

/// What `up` does with the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Already names chatctl's role.
    Ours,
    /// Names another role that exists and trusts API Gateway: leave it.
    KeepForeign(String),
    /// Point it at chatctl's role (creating the role first if needed).
    Set { previous: Option<String> },
}

/// `foreign_works`: whether the foreign role the setting names exists and trusts API
/// Gateway (`None` when there is no foreign role).
pub fn decide(
    observed: &Observed,
    our_role: Option<&str>,
    foreign_works: Option<bool>,
    take_over: bool,
) -> Decision {
    if observed.names_role(our_role) {
        return Decision::Ours;
    }
    match observed.foreign_role(our_role) {
        Some(arn) if foreign_works == Some(true) && !take_over => {
            Decision::KeepForeign(arn.to_owned())
        }
        previous => Decision::Set {
            previous: previous.map(str::to_owned),
        },
    }
}

pub fn plan(decision: &Decision, observed: &Observed, our_role: &str) -> Step {
    match decision {
        Decision::Ours => Step::new(KIND, NAME, Action::Keep),
        Decision::KeepForeign(arn) => Step::new(KIND, NAME, Action::Keep)
            .with_note(format!("uses {arn}, which works; left as is")),
        Decision::Set { .. } => Step::update_or_keep(
            KIND,
            NAME,
            vec![FieldChange::new(
                NAME,
                observed.role_arn.as_deref().unwrap_or("(none)"),
                format!("role {our_role}"),
            )],
        ),
    }
}

/// Points the setting at `role_arn`, riding out IAM propagation and the 20-second quota.
pub async fn set(ctx: &Ctx, role_arn: &str, task: Option<&Task>) -> Result<()> {
    update(ctx, role_arn, task).await.map_err(|e| {
        e.context(format!(
            "setting the API Gateway CloudWatch Logs role to {role_arn}"
        ))
    })
}

/// Clears the setting (no role). AWS rejects some forms of an empty ARN; chatctl sends the
/// empty `replace` that current Terraform sends.
pub async fn clear(ctx: &Ctx, task: Option<&Task>) -> Result<()> {
    update(ctx, "", task)
        .await
        .map_err(|e| e.context("clearing the API Gateway CloudWatch Logs role"))
}

async fn update(ctx: &Ctx, value: &str, task: Option<&Task>) -> Result<()> {
    let client = &ctx.aws.apigateway;
    let patch = PatchOperation::builder()
        .op(Op::Replace)
        .path("/cloudwatchRoleArn")
        .value(value)
        .build();
    retry::retry(Policy::propagation(), task, classify_update_account, || {
        client
            .update_account()
            .patch_operations(patch.clone())
            .customize()
            // chatctl's loop below knows the 20-second quota; the SDK's quick
            // retries would only burn it.
            .config_override(
                aws_sdk_apigateway::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
    })
    .await
    .map(|_| ())
    .map_err(|e| aws_error("UpdateAccount", &e))
}

fn classify_update_account<R>(
    error: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_apigateway::operation::update_account::UpdateAccountError,
        R,
    >,
) -> Verdict {
    match error.as_service_error() {
        Some(e) if e.is_too_many_requests_exception() => Verdict::AtLeast(UPDATE_ACCOUNT_INTERVAL),
        Some(e) if e.is_bad_request_exception() => {
            if retry::message(error).is_some_and(is_propagation_message) {
                Verdict::Backoff
            } else {
                Verdict::Fail
            }
        }
        // 5xx and transient network errors: the SDK retry is disabled for this call.
        Some(_) => Verdict::Fail,
        None => Verdict::Backoff,
    }
}

pub fn is_propagation_message(message: &str) -> bool {
    PROPAGATION_MESSAGES.iter().any(|p| message.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "arn:aws:iam::123456789012:role/chat-dev-apigw-logs";
    const THEIRS: &str = "arn:aws:iam::123456789012:role/team-apigw-logs";

    fn observed(arn: Option<&str>) -> Observed {
        Observed {
            role_arn: arn.map(str::to_owned),
        }
    }

    #[test]
    fn our_role_is_kept() {
        assert_eq!(
            decide(
                &observed(Some(OURS)),
                Some("chat-dev-apigw-logs"),
                None,
                false
            ),
            Decision::Ours
        );
    }

    #[test]
    fn a_working_foreign_role_is_kept_unless_taken_over() {
        let account = observed(Some(THEIRS));
        assert_eq!(
            decide(&account, Some("chat-dev-apigw-logs"), Some(true), false),
            Decision::KeepForeign(THEIRS.into())
        );
        assert_eq!(
            decide(&account, Some("chat-dev-apigw-logs"), Some(true), true),
            Decision::Set {
                previous: Some(THEIRS.into())
            }
        );
    }

    #[test]
    fn a_broken_foreign_role_is_replaced_and_remembered() {
        assert_eq!(
            decide(
                &observed(Some(THEIRS)),
                Some("chat-dev-apigw-logs"),
                Some(false),
                false
            ),
            Decision::Set {
                previous: Some(THEIRS.into())
            }
        );
    }

    #[test]
    fn an_empty_setting_is_set() {
        let account = observed(None);
        let decision = decide(&account, Some("chat-dev-apigw-logs"), None, false);
        assert_eq!(decision, Decision::Set { previous: None });
        let step = plan(&decision, &account, "chat-dev-apigw-logs");
        assert_eq!(step.action, Action::Update);
        assert_eq!(step.changes[0].old, "(none)");
    }

    #[test]
    fn a_setting_is_never_ours_when_a_foreign_role_has_our_name() {
        let account = observed(Some(OURS));
        assert!(!account.names_role(None));
        assert_eq!(account.foreign_role(None), Some(OURS));
        assert_eq!(
            decide(&account, None, Some(true), false),
            Decision::KeepForeign(OURS.into())
        );
    }

    #[test]
    fn propagation_messages_are_recognised_by_prefix() {
        assert!(is_propagation_message(
            "The role ARN does not have required permissions set to API Gateway"
        ));
        assert!(is_propagation_message(
            "The role ARN does not have required permissions configured. Please grant trust permission for API Gateway and add the required role policy."
        ));
        assert!(!is_propagation_message("The role ARN is not well formed"));
    }
}
