//! The IAM role API Gateway assumes to write CloudWatch Logs (`{stack}-apigw-logs`), and its
//! managed-policy attachment. Two plan steps, so a no-op run reads each once.

use anyhow::{Context, Result};
use aws_sdk_iam::types::Tag;

use super::{Ctx, absent_if, aws_error, percent_decode};
use crate::config::Names;
use crate::ownership::Claim;
use crate::partition::Partition;
use crate::plan::{Action, FieldChange, Step};
use crate::ui::Task;

/// The AWS managed policy the role carries, in the stack's partition.
pub fn managed_policy_arn(partition: Partition) -> String {
    partition.arn(
        "iam",
        "",
        "aws",
        "policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    )
}
pub const TRUST_POLICY: &str = include_str!("../../templates/policies/apigateway-logs-trust.json");
/// Tag on chatctl's role recording the account setting it replaced, so `down` can restore it.
pub const PREVIOUS_ROLE_TAG: &str = "chatctl:previous-cloudwatch-role";

pub const ROLE_KIND: &str = "iam role";
pub const ATTACHMENT_KIND: &str = "iam policy attachment";

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub name: String,
    pub arn: String,
    pub trusts_apigateway: bool,
    pub tags: Vec<(String, String)>,
    /// `None` when the role does not exist yet.
    pub policy_attached: bool,
}

impl Observed {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// What the role's tags say about whose it is.
    pub fn claim(&self, names: &Names) -> Claim {
        Claim::of(names, self.tags.iter().map(|(k, v)| (k, v)))
    }
}

/// Reads a role by name; used for chatctl's own role and to check a foreign one works.
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Option<Observed>> {
    let iam = &ctx.aws.iam;
    let policy_arn = managed_policy_arn(ctx.partition()?);
    let (role, attached) = tokio::join!(
        iam.get_role().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send()
    );
    let Some(role) = absent_if(
        role,
        aws_sdk_iam::operation::get_role::GetRoleError::is_no_such_entity_exception,
    )
    .map_err(|e| aws_error(&format!("reading IAM role {name}"), &e))?
    .and_then(|r| r.role) else {
        return Ok(None);
    };
    let attached = absent_if(attached, |e| e.is_no_such_entity_exception())
        .map_err(|e| aws_error(&format!("reading policies of IAM role {name}"), &e))?;
    let policy_attached = attached.is_some_and(|a| {
        a.attached_policies()
            .iter()
            .any(|p| p.policy_arn() == Some(policy_arn.as_str()))
    });
    Ok(Some(Observed {
        name: name.to_owned(),
        arn: role.arn().to_owned(),
        trusts_apigateway: role
            .assume_role_policy_document()
            .is_some_and(trusts_apigateway),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        policy_attached,
    }))
}

/// Whether a (percent-encoded) trust policy lets API Gateway assume the role.
pub fn trusts_apigateway(document: &str) -> bool {
    let decoded = percent_decode(document);
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return false;
    };
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(items) => items.clone(),
        single @ serde_json::Value::Object(_) => vec![single.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
        let allows = s["Effect"] == "Allow";
        let service = &s["Principal"]["Service"];
        let names_apigw = match service {
            serde_json::Value::String(name) => name == "apigateway.amazonaws.com",
            serde_json::Value::Array(names) => {
                names.iter().any(|n| n == "apigateway.amazonaws.com")
            }
            _ => false,
        };
        allows && names_apigw
    })
}

/// Plan steps for the role and its attachment; `needed` is false when the account setting
/// keeps using someone else's working role (then chatctl's role is not created).
pub fn plan(name: &str, observed: Option<&Observed>, needed: bool) -> Vec<Step> {
    match (observed, needed) {
        (None, false) => Vec::new(),
        (None, true) => vec![
            Step::new(ROLE_KIND, name, Action::Create),
            Step::new(ATTACHMENT_KIND, attachment_name(name), Action::Create),
        ],
        (Some(role), _) => {
            let mut changes = Vec::new();
            if !role.trusts_apigateway {
                changes.push(FieldChange::new(
                    "trust policy",
                    "does not trust apigateway.amazonaws.com",
                    "trusts apigateway.amazonaws.com",
                ));
            }
            let attachment = if role.policy_attached {
                Action::Keep
            } else {
                Action::Create
            };
            vec![
                Step::update_or_keep(ROLE_KIND, name, changes),
                Step::new(ATTACHMENT_KIND, attachment_name(name), attachment),
            ]
        }
    }
}

fn attachment_name(role: &str) -> String {
    format!("{role} → AmazonAPIGatewayPushToCloudWatchLogs")
}

/// Creates or repairs the role per its two plan steps; returns the role ARN.
pub async fn apply(
    ctx: &Ctx,
    name: &str,
    observed: Option<&Observed>,
    previous_setting: Option<&str>,
    task: Option<&Task>,
) -> Result<String> {
    let iam = &ctx.aws.iam;
    let arn = match observed {
        Some(role) => {
            if !role.trusts_apigateway {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(TRUST_POLICY)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("updating the trust policy of {name}"), &e))?;
            }
            role.arn.clone()
        }
        None => {
            let mut request = iam
                .create_role()
                .role_name(name)
                .description(
                    "Lets API Gateway write access logs to CloudWatch Logs (created by chatctl)",
                )
                .assume_role_policy_document(TRUST_POLICY)
                .set_tags(Some(super::iam_tags(&ctx.names)?));
            if let Some(previous) = previous_setting {
                request = request.tags(tag(PREVIOUS_ROLE_TAG, previous)?);
            }
            let created = request.send().await;
            let role = match created {
                Ok(out) => out.role.map(|r| r.arn),
                // A concurrent or interrupted run created it between observe and now — or
                // someone else did: only a role with our tags is taken.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_entity_already_exists_exception()) =>
                {
                    let existing = observe(ctx, name).await?.with_context(|| {
                        format!("IAM role {name} vanished while it was created")
                    })?;
                    let claim = existing.claim(&ctx.names);
                    if claim != Claim::Ours {
                        anyhow::bail!(
                            "{}: not using it",
                            crate::ownership::Foreign::new(ROLE_KIND, name, &existing.arn, &claim)
                        );
                    }
                    Some(existing.arn)
                }
                Err(e) => return Err(aws_error(&format!("creating IAM role {name}"), &e)),
            };
            role.context("IAM returned no role")?
        }
    };
    if !observed.is_some_and(|r| r.policy_attached) {
        if let Some(task) = task {
            task.waiting("attaching AmazonAPIGatewayPushToCloudWatchLogs");
        }
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(managed_policy_arn(ctx.partition()?))
            .send()
            .await
            .map_err(|e| aws_error(&format!("attaching the logs policy to {name}"), &e))?;
    }
    Ok(arn)
}

/// Detaches the policy and deletes the role; already gone is success.
pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    absent_if(
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(managed_policy_arn(ctx.partition()?))
            .send()
            .await,
        |e| e.is_no_such_entity_exception(),
    )
    .map_err(|e| aws_error(&format!("detaching the logs policy from {name}"), &e))?;
    absent_if(iam.delete_role().role_name(name).send().await, |e| {
        e.is_no_such_entity_exception()
    })
    .map_err(|e| aws_error(&format!("deleting IAM role {name}"), &e))?;
    Ok(())
}

fn tag(key: &str, value: &str) -> Result<Tag> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .context("building an IAM tag")
}

/// The role name of a role ARN (`arn:aws:iam::123:role/path/name` → `name`).
pub fn role_name_of(arn: &str) -> Option<&str> {
    arn.split_once(":role/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policy_template_trusts_apigateway() {
        assert!(trusts_apigateway(TRUST_POLICY));
        assert!(!trusts_apigateway(include_str!(
            "../../templates/policies/lambda-trust.json"
        )));
        assert!(!trusts_apigateway("not json"));
    }

    #[test]
    fn the_managed_policy_is_named_in_the_partition() {
        assert_eq!(
            managed_policy_arn(Partition::Aws),
            "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
        );
        assert_eq!(
            managed_policy_arn(Partition::AwsCn),
            "arn:aws-cn:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
        );
    }

    #[test]
    fn role_name_from_arn() {
        assert_eq!(
            role_name_of("arn:aws:iam::123456789012:role/service/chat-dev-apigw-logs"),
            Some("chat-dev-apigw-logs")
        );
        assert_eq!(role_name_of("arn:aws:iam::123456789012:user/x"), None);
    }

    #[test]
    fn missing_role_plans_role_and_attachment() {
        let steps = plan("r", None, true);
        assert_eq!(steps.len(), 2);
        assert!(steps.iter().all(|s| s.action == Action::Create));
        assert!(plan("r", None, false).is_empty());
    }

    #[test]
    fn detached_policy_is_planned_alone() {
        let role = Observed {
            name: "r".into(),
            arn: "arn:aws:iam::1:role/r".into(),
            trusts_apigateway: true,
            tags: vec![],
            policy_attached: false,
        };
        let steps = plan("r", Some(&role), true);
        assert_eq!(steps[0].action, Action::Keep);
        assert_eq!(steps[1].action, Action::Create);
    }
}
