//! The Lambda execution role of the backend (`{stack}-backend`) and its least-privilege
//! inline policy, rendered from `templates/policies/backend-policy.json`: its own log group,
//! the item actions the registry uses on its table and index, and
//! `execute-api:ManageConnections` on this API and stage only.

use anyhow::{Context, Result};

use super::{Ctx, absent_if, aws_error, percent_decode};
use crate::ownership::{Claim, Found};
use crate::plan::{Action, FieldChange, Step};

pub const ROLE_KIND: &str = "iam role";
pub const POLICY_KIND: &str = "iam inline policy";
pub const TRUST_POLICY: &str = include_str!("../../templates/policies/lambda-trust.json");
const POLICY_TEMPLATE: &str = include_str!("../../templates/policies/backend-policy.json");

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The role's name: the stack's region-scoped name, or the name of a role an earlier
    /// chatctl created before names carried the region (adopted, docs/decisions.md).
    pub name: String,
    pub arn: String,
    pub trusts_lambda: bool,
    /// What the role's tags say (GetRole returns them).
    pub claim: Claim,
    /// The inline policy, parsed; `None` when missing.
    pub policy: Option<serde_json::Value>,
}

impl Observed {
    /// The region the inline policy grants access in (the region of its table ARN): the
    /// region whose stack this role serves. `None` without a policy.
    pub fn policy_region(&self) -> Option<String> {
        let text = self.policy.as_ref()?.to_string();
        let start = text.find(":dynamodb:")? + ":dynamodb:".len();
        let region: String = text[start..].chars().take_while(|c| *c != ':').collect();
        (!region.is_empty()).then_some(region)
    }
}

/// What the policy is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInputs<'a> {
    pub partition: crate::partition::Partition,
    pub region: &'a str,
    pub account: &'a str,
    pub table: &'a str,
    pub function: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    /// The `$connect` authorizer function, which runs under the same role and writes only
    /// its own log group.
    pub authorizer: Option<&'a str>,
}

/// Renders the policy template; every placeholder must be filled.
pub fn render_policy(inputs: &PolicyInputs<'_>) -> Result<serde_json::Value> {
    let arn = |service: &str, resource: &str| {
        inputs
            .partition
            .arn(service, inputs.region, inputs.account, resource)
    };
    let log_group = super::log_groups::function_log_group(inputs.function);
    let text = POLICY_TEMPLATE
        .replace(
            "${log_group_arn}",
            &arn("logs", &format!("log-group:{log_group}")),
        )
        .replace(
            "${table_arn}",
            &arn("dynamodb", &format!("table/{}", inputs.table)),
        )
        .replace("${name_index}", chat_handler::schema::BY_NAME_INDEX)
        .replace(
            "${stage_arn}",
            &arn(
                "execute-api",
                &format!("{}/{}", inputs.api_id, inputs.stage),
            ),
        );
    if let Some(start) = text.find("${") {
        anyhow::bail!(
            "backend policy template has an unfilled placeholder at {}",
            &text[start..text.len().min(start + 20)]
        );
    }
    let mut policy: serde_json::Value =
        serde_json::from_str(&text).context("backend policy template is not valid JSON")?;
    if let Some(authorizer) = inputs.authorizer {
        let group = arn(
            "logs",
            &format!(
                "log-group:{}",
                super::log_groups::function_log_group(authorizer)
            ),
        );
        let own_logs = policy["Statement"]
            .as_array_mut()
            .and_then(|statements| statements.iter_mut().find(|s| s["Sid"] == "OwnLogs"))
            .and_then(|s| s["Resource"].as_array_mut())
            .context("backend policy template has no OwnLogs statement")?;
        own_logs.push(serde_json::Value::String(group.clone()));
        own_logs.push(serde_json::Value::String(format!("{group}:*")));
    }
    Ok(policy)
}

/// Reads the role `name` with its tags, and its inline policy. `expected`: the role should
/// exist (Lambda backend), so both are read at once (the policy is dropped unless the role is
/// ours); otherwise (another backend kind, where it usually doesn't) the policy is read only
/// when the role is ours, and a no-op run spends one read here, not two.
pub async fn observe(ctx: &Ctx, name: &str, expected: bool) -> Result<Found<Observed>> {
    let iam = &ctx.aws.iam;
    let read_policy = || {
        iam.get_role_policy()
            .role_name(name)
            .policy_name(&ctx.names.backend_policy)
            .send()
    };
    let (role, early_policy) = if expected {
        let (role, policy) = tokio::join!(iam.get_role().role_name(name).send(), read_policy());
        (role, Some(policy))
    } else {
        (iam.get_role().role_name(name).send().await, None)
    };
    let Some(role) = absent_if(role, |e| e.is_no_such_entity_exception())
        .map_err(|e| aws_error(&format!("reading IAM role {name}"), &e))?
        .and_then(|r| r.role)
    else {
        return Ok(Found::Absent);
    };
    let claim = Claim::of(&ctx.names, role.tags().iter().map(|t| (t.key(), t.value())));
    // IAM is global: only a role tagged for this stack *and region* is ours outright. A
    // role tagged for the stack alone was made before names carried the region; the caller
    // adopts it only for the region its function runs in (stack::backend).
    if !matches!(claim, Claim::Ours | Claim::Unscoped) {
        return Ok(Found::Foreign(crate::ownership::Foreign::new(
            ROLE_KIND,
            name,
            role.arn(),
            &claim,
        )));
    }
    let policy = match early_policy {
        Some(policy) => policy,
        None => read_policy().await,
    };
    let policy = absent_if(policy, |e| e.is_no_such_entity_exception())
        .map_err(|e| aws_error(&format!("reading the inline policy of {name}"), &e))?
        .and_then(|p| serde_json::from_str(&percent_decode(p.policy_document())).ok());
    let trust = role
        .assume_role_policy_document()
        .map(percent_decode)
        .unwrap_or_default();
    Ok(Found::Ours(Observed {
        name: name.to_owned(),
        arn: role.arn().to_owned(),
        trusts_lambda: trust.contains("lambda.amazonaws.com"),
        claim,
        policy,
    }))
}

/// Steps for the role and its policy; `wanted_policy` is `None` while the API id is unknown.
pub fn plan(
    ctx: &Ctx,
    observed: Option<&Observed>,
    wanted_policy: Option<&serde_json::Value>,
) -> Vec<Step> {
    let role = observed.map_or_else(|| ctx.names.backend_role.clone(), |r| r.name.clone());
    let policy = ctx.names.backend_policy.clone();
    let Some(existing) = observed else {
        return vec![
            Step::new(ROLE_KIND, role, Action::Create),
            Step::new(POLICY_KIND, policy, Action::Create),
        ];
    };
    let mut role_changes = Vec::new();
    if !existing.trusts_lambda {
        role_changes.push(FieldChange::new(
            "trust policy",
            "does not trust lambda.amazonaws.com",
            "trusts lambda.amazonaws.com",
        ));
    }
    let policy_step = match (&existing.policy, wanted_policy) {
        (None, _) => Step::new(POLICY_KIND, policy, Action::Create),
        (Some(_), None) => Step::update_or_keep(
            POLICY_KIND,
            policy,
            vec![FieldChange::new(
                "document",
                "(current)",
                "(scoped to the new API)",
            )],
        ),
        (Some(current), Some(wanted)) if current == wanted => {
            Step::new(POLICY_KIND, policy, Action::Keep)
        }
        (Some(_), Some(_)) => Step::update_or_keep(
            POLICY_KIND,
            policy,
            vec![FieldChange::new(
                "document",
                "(differs)",
                "(templates/policies/backend-policy.json)",
            )],
        ),
    };
    vec![
        Step::update_or_keep(ROLE_KIND, role, role_changes),
        policy_step,
    ]
}

/// Creates or repairs the role (not the policy); returns its ARN.
pub async fn apply_role(ctx: &Ctx, observed: Option<&Observed>) -> Result<String> {
    let iam = &ctx.aws.iam;
    let name = observed.map_or(&ctx.names.backend_role, |r| &r.name);
    if let Some(existing) = observed {
        if !existing.trusts_lambda {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(TRUST_POLICY)
                .send()
                .await
                .map_err(|e| aws_error(&format!("updating the trust policy of {name}"), &e))?;
        }
        return Ok(existing.arn.clone());
    }
    let created = iam
        .create_role()
        .role_name(name)
        .description("Execution role of the chat backend (created by chatctl)")
        .assume_role_policy_document(TRUST_POLICY)
        .set_tags(Some(super::iam_tags(&ctx.names)?))
        .send()
        .await;
    let arn = match created {
        Ok(out) => out.role.map(|r| r.arn),
        // A concurrent or interrupted run created it since we looked — or someone else
        // did: only a role with our tags is taken.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            match observe(ctx, name, false).await? {
                Found::Ours(role) => Some(role.arn),
                Found::Foreign(foreign) => anyhow::bail!("{foreign}: not using it"),
                Found::Absent => anyhow::bail!("IAM role {name} vanished while it was created"),
            }
        }
        Err(e) => return Err(aws_error(&format!("creating IAM role {name}"), &e)),
    };
    arn.context("IAM returned no role")
}

pub async fn apply_policy(ctx: &Ctx, role: &str, policy: &serde_json::Value) -> Result<()> {
    let name = role;
    ctx.aws
        .iam
        .put_role_policy()
        .role_name(name)
        .policy_name(&ctx.names.backend_policy)
        .policy_document(policy.to_string())
        .send()
        .await
        .map_err(|e| aws_error(&format!("writing the inline policy of {name}"), &e))?;
    Ok(())
}

pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    absent_if(
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(&ctx.names.backend_policy)
            .send()
            .await,
        |e| e.is_no_such_entity_exception(),
    )
    .map_err(|e| aws_error(&format!("deleting the inline policy of {name}"), &e))?;
    absent_if(iam.delete_role().role_name(name).send().await, |e| {
        e.is_no_such_entity_exception()
    })
    .map_err(|e| aws_error(&format!("deleting IAM role {name}"), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> PolicyInputs<'static> {
        PolicyInputs {
            partition: crate::partition::Partition::Aws,
            region: "eu-west-1",
            account: "123456789012",
            table: "chat-dev-connections",
            function: "chat-dev-backend",
            api_id: "abc123",
            stage: "dev",
            authorizer: None,
        }
    }

    #[test]
    fn the_authorizer_may_write_its_own_log_group_only() {
        let policy = render_policy(&PolicyInputs {
            authorizer: Some("chat-dev-authorizer"),
            ..inputs()
        })
        .unwrap();
        let logs = &policy["Statement"][0];
        assert_eq!(logs["Sid"], "OwnLogs");
        assert_eq!(
            logs["Resource"],
            serde_json::json!([
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chat-dev-backend",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chat-dev-backend:*",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chat-dev-authorizer",
                "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/chat-dev-authorizer:*"
            ])
        );
    }

    #[test]
    fn the_policy_has_no_wildcard_action_and_scopes_manage_connections() {
        let policy = render_policy(&inputs()).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        for statement in statements {
            let actions: Vec<&str> = match &statement["Action"] {
                serde_json::Value::String(a) => vec![a.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                _ => panic!("no action"),
            };
            assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
        }
        let manage = statements
            .iter()
            .find(|s| s["Action"] == "execute-api:ManageConnections")
            .unwrap();
        assert_eq!(
            manage["Resource"],
            serde_json::json!([
                "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/POST/@connections/*",
                "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/DELETE/@connections/*"
            ])
        );
    }

    #[test]
    fn every_arn_of_the_policy_is_in_the_region_s_partition() {
        let china = PolicyInputs {
            partition: crate::partition::Partition::AwsCn,
            region: "cn-north-1",
            ..inputs()
        };
        let policy = render_policy(&china).unwrap();
        let mut resources = Vec::new();
        for statement in policy["Statement"].as_array().unwrap() {
            match &statement["Resource"] {
                serde_json::Value::String(r) => resources.push(r.clone()),
                serde_json::Value::Array(rs) => {
                    resources.extend(rs.iter().map(|r| r.as_str().unwrap().to_owned()));
                }
                other => panic!("{other}"),
            }
        }
        assert_eq!(resources.len(), 6);
        for resource in &resources {
            assert!(
                resource.starts_with("arn:aws-cn:") && resource.contains(":cn-north-1:"),
                "{resource}"
            );
        }
        assert!(
            resources.contains(
                &"arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/lambda/chat-dev-backend:*"
                    .to_owned()
            )
        );
    }

    #[test]
    fn the_table_statement_covers_the_name_index() {
        let text = render_policy(&inputs()).unwrap().to_string();
        assert!(text.contains("table/chat-dev-connections/index/byName"));
    }
}
