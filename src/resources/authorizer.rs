//! The `$connect` authorizer: API Gateway's REQUEST authorizer (a child of the API, found by
//! name like routes) and the Lambda permission that lets API Gateway invoke the authorizer
//! function, scoped to this API's authorizers.
//!
//! WebSocket APIs take only REQUEST (Lambda) authorizers, and only on `$connect` ("Controlling
//! access to WebSocket APIs with AWS Lambda REQUEST authorizers", API Gateway developer guide);
//! the identity source is the token's query-string parameter, so a handshake without it is
//! refused with 401 before the function runs.

use anyhow::{Context as _, Result};
use aws_sdk_apigatewayv2::types::AuthorizerType;

use super::{Ctx, absent_if, aws_error};
use crate::chat_api::TOKEN_IDENTITY_SOURCE;
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy};

pub const KIND: &str = "apigateway authorizer";
pub const PERMISSION_KIND: &str = "lambda permission";
/// The statement on the authorizer function that lets API Gateway invoke it.
pub const INVOKE_STATEMENT: &str = "chatctl-invoke-authorizer";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub authorizer_type: String,
    pub uri: String,
    pub identity_source: Vec<String>,
}

/// The URI API Gateway invokes a Lambda authorizer through.
pub fn invocation_uri(partition: &str, region: &str, function_arn: &str) -> String {
    format!(
        "arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )
}

/// The source ARN of the invoke permission: this API's authorizers and nothing else.
pub fn source_arn(
    partition: &crate::partition::Partition,
    region: &str,
    account: &str,
    api_id: &str,
) -> String {
    partition.arn(
        "execute-api",
        region,
        account,
        &format!("{api_id}/authorizers/*"),
    )
}

/// The API's authorizers.
pub async fn observe(ctx: &Ctx, api_id: &str) -> Result<Vec<Observed>> {
    let out = ctx
        .aws
        .apigatewayv2
        .get_authorizers()
        .api_id(api_id)
        .max_results("500")
        .send()
        .await
        .map_err(|e| aws_error(&format!("listing the authorizers of API {api_id}"), &e))?;
    Ok(out
        .items()
        .iter()
        .map(|a| Observed {
            id: a.authorizer_id().unwrap_or_default().to_owned(),
            name: a.name().unwrap_or_default().to_owned(),
            authorizer_type: a
                .authorizer_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            uri: a.authorizer_uri().unwrap_or_default().to_owned(),
            identity_source: a.identity_source().to_vec(),
        })
        .collect())
}

/// The stack's authorizer among the API's.
pub fn ours<'a>(ctx: &Ctx, authorizers: &'a [Observed]) -> Option<&'a Observed> {
    authorizers
        .iter()
        .find(|a| a.name == ctx.names.api_authorizer)
}

/// `uri` is `None` while the function's ARN is unknown (it is created by this run).
pub fn plan(ctx: &Ctx, observed: Option<&Observed>, uri: Option<&str>) -> Step {
    let name = ctx.names.api_authorizer.clone();
    let Some(current) = observed else {
        return Step::new(KIND, name, Action::Create);
    };
    let mut changes = Vec::new();
    if current.authorizer_type != "REQUEST" {
        changes.push(FieldChange::new(
            "authorizer_type",
            &current.authorizer_type,
            "REQUEST",
        ));
    }
    if let Some(uri) = uri.filter(|u| *u != current.uri) {
        changes.push(FieldChange::new("authorizer_uri", &current.uri, uri));
    }
    if current.identity_source != [TOKEN_IDENTITY_SOURCE] {
        changes.push(FieldChange::new(
            "identity_source",
            current.identity_source.join(","),
            TOKEN_IDENTITY_SOURCE,
        ));
    }
    Step::update_or_keep(KIND, name, changes)
}

/// Creates the authorizer or brings it to `uri`; returns its id.
pub async fn apply(
    ctx: &Ctx,
    api_id: &str,
    observed: Option<&Observed>,
    uri: &str,
) -> Result<String> {
    let client = &ctx.aws.apigatewayv2;
    let name = &ctx.names.api_authorizer;
    if let Some(current) = observed {
        if plan(ctx, Some(current), Some(uri)).is_change() {
            retry::retry(
                Policy::conflict(),
                None,
                retry::apigatewayv2_conflict,
                || {
                    client
                        .update_authorizer()
                        .api_id(api_id)
                        .authorizer_id(&current.id)
                        .authorizer_type(AuthorizerType::Request)
                        .authorizer_uri(uri)
                        .identity_source(TOKEN_IDENTITY_SOURCE)
                        .send()
                },
            )
            .await
            .map_err(|e| aws_error(&format!("updating authorizer {name}"), &e))?;
        }
        return Ok(current.id.clone());
    }
    let out = retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || {
            client
                .create_authorizer()
                .api_id(api_id)
                .name(name)
                .authorizer_type(AuthorizerType::Request)
                .authorizer_uri(uri)
                .identity_source(TOKEN_IDENTITY_SOURCE)
                .send()
        },
    )
    .await
    .map_err(|e| aws_error(&format!("creating authorizer {name}"), &e))?;
    out.authorizer_id()
        .map(str::to_owned)
        .context("CreateAuthorizer returned no id")
}

/// Deletes the authorizer once no route uses it.
pub async fn delete(ctx: &Ctx, api_id: &str, id: &str) -> Result<()> {
    let result = retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || {
            ctx.aws
                .apigatewayv2
                .delete_authorizer()
                .api_id(api_id)
                .authorizer_id(id)
                .send()
        },
    )
    .await;
    absent_if(result, |e| e.is_not_found_exception())
        .map_err(|e| aws_error(&format!("deleting authorizer {id}"), &e))?;
    Ok(())
}

/// The source ARN of the invoke statement on `function`, if there is one.
pub async fn observe_permission(ctx: &Ctx, function: &str) -> Result<Option<String>> {
    let statements = super::function::policy_statements(ctx, function).await?;
    Ok(statements
        .iter()
        .find(|s| s["Sid"] == INVOKE_STATEMENT)
        .map(|s| {
            s["Condition"]["ArnLike"]["AWS:SourceArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }))
}

/// `source` is `None` while the API's id is unknown.
pub fn plan_permission(function: &str, observed: Option<&str>, source: Option<&str>) -> Step {
    let name = format!("{function} invoke by API Gateway");
    match (observed, source) {
        (None, _) => Step::new(PERMISSION_KIND, name, Action::Create),
        (Some(current), Some(wanted)) if current != wanted => Step {
            changes: vec![FieldChange::new("source_arn", current, wanted)],
            ..Step::new(PERMISSION_KIND, name, Action::Update)
        },
        _ => Step::new(PERMISSION_KIND, name, Action::Keep),
    }
}

/// Lets API Gateway invoke `function` for this API's authorizers (replacing a statement for
/// another API, left by a stack whose API was recreated).
pub async fn apply_permission(
    ctx: &Ctx,
    function: &str,
    observed: Option<&str>,
    source: &str,
) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    if observed == Some(source) {
        return Ok(());
    }
    if observed.is_some() {
        let removed = lambda
            .remove_permission()
            .function_name(function)
            .statement_id(INVOKE_STATEMENT)
            .send()
            .await;
        absent_if(removed, |e| e.is_resource_not_found_exception()).map_err(|e| {
            aws_error(
                &format!("replacing the invoke permission of {function}"),
                &e,
            )
        })?;
    }
    super::function::add_permission(
        lambda
            .add_permission()
            .function_name(function)
            .statement_id(INVOKE_STATEMENT)
            .action("lambda:InvokeFunction")
            .principal("apigateway.amazonaws.com")
            .source_arn(source),
        &format!("allowing API Gateway to invoke {function}"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_source_arns() {
        assert_eq!(
            invocation_uri("aws", "eu-west-1", "arn:aws:lambda:eu-west-1:1:function:f"),
            "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:f/invocations"
        );
        let partition = crate::partition::Partition::of_region("cn-north-1").unwrap();
        assert_eq!(
            source_arn(&partition, "cn-north-1", "1", "abc"),
            "arn:aws-cn:execute-api:cn-north-1:1:abc/authorizers/*"
        );
    }

    #[test]
    fn a_permission_for_another_api_is_replaced() {
        let step = plan_permission("f", Some("arn:old"), Some("arn:new"));
        assert_eq!(step.action, Action::Update);
        assert_eq!(
            plan_permission("f", Some("arn:new"), Some("arn:new")).action,
            Action::Keep
        );
        assert_eq!(plan_permission("f", None, None).action, Action::Create);
        assert_eq!(
            plan_permission("f", Some("arn:x"), None).action,
            Action::Keep
        );
    }
}
