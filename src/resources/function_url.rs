//! The backend's public function URL (AuthType NONE) and the resource-policy statements that
//! let anyone invoke it. Public is safe only because the backend refuses every request
//! without the shared secret (constant-time compare), which API Gateway adds from a stage
//! variable; since October 2025 a new URL needs both InvokeFunctionUrl and InvokeFunction.

use anyhow::{Context, Result};
use aws_sdk_lambda::types::FunctionUrlAuthType;

use super::{Ctx, absent_if, aws_error};
use crate::plan::{Action, FieldChange, Step};

pub const URL_KIND: &str = "lambda function url";
pub const PERMISSION_KIND: &str = "lambda permission";
pub const URL_STATEMENT: &str = "chatctl-public-function-url";
pub const INVOKE_STATEMENT: &str = "chatctl-invoke-via-function-url";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Without the trailing slash AWS adds: the form stage variables carry.
    pub url: Option<String>,
    pub auth_type: Option<String>,
    pub statements: Vec<String>,
}

impl Observed {
    fn permissions_complete(&self) -> bool {
        [URL_STATEMENT, INVOKE_STATEMENT]
            .iter()
            .all(|sid| self.statements.iter().any(|s| s == sid))
    }
}

pub async fn observe(ctx: &Ctx) -> Result<Observed> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.names.function;
    let (url, statements) = tokio::join!(
        lambda.get_function_url_config().function_name(name).send(),
        super::function::policy_statements(ctx, name)
    );
    let url = absent_if(url, |e| e.is_resource_not_found_exception())
        .map_err(|e| aws_error(&format!("reading the URL of {name}"), &e))?;
    let statements = statements?
        .iter()
        .filter_map(|s| s["Sid"].as_str().map(str::to_owned))
        .collect();
    Ok(Observed {
        url: url
            .as_ref()
            .map(|u| u.function_url().trim_end_matches('/').to_owned()),
        auth_type: url.map(|u| u.auth_type().as_str().to_owned()),
        statements,
    })
}

pub fn plan(ctx: &Ctx, observed: Option<&Observed>) -> Vec<Step> {
    let name = ctx.names.function.clone();
    let url_step = match observed.and_then(|o| o.auth_type.as_deref()) {
        None => Step::new(URL_KIND, name.clone(), Action::Create),
        Some("NONE") => Step::new(URL_KIND, name.clone(), Action::Keep),
        Some(other) => Step::update_or_keep(
            URL_KIND,
            name.clone(),
            vec![FieldChange::new("auth_type", other, "NONE")],
        ),
    };
    let permission = if observed.is_some_and(Observed::permissions_complete) {
        Action::Keep
    } else {
        Action::Create
    };
    vec![
        url_step,
        Step::new(PERMISSION_KIND, format!("{name} public invoke"), permission),
    ]
}

/// Creates the URL and its permissions as needed; returns the URL without trailing slash.
pub async fn apply(ctx: &Ctx, observed: Option<&Observed>) -> Result<String> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.names.function;
    // The URL and the two permissions need only the function: all three at once.
    let url = async {
        Ok::<_, anyhow::Error>(match observed.and_then(|o| o.auth_type.as_deref()) {
            Some("NONE") => observed.and_then(|o| o.url.clone()),
            Some(_) => lambda
                .update_function_url_config()
                .function_name(name)
                .auth_type(FunctionUrlAuthType::None)
                .send()
                .await
                .map(|o| Some(o.function_url))
                .map_err(|e| aws_error(&format!("updating the URL of {name}"), &e))?,
            None => {
                let created = lambda
                    .create_function_url_config()
                    .function_name(name)
                    .auth_type(FunctionUrlAuthType::None)
                    .send()
                    .await;
                match created {
                    Ok(out) => Some(out.function_url),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_conflict_exception()) =>
                    {
                        lambda
                            .get_function_url_config()
                            .function_name(name)
                            .send()
                            .await
                            .map(|o| Some(o.function_url))
                            .map_err(|e| aws_error(&format!("reading the URL of {name}"), &e))?
                    }
                    Err(e) => return Err(aws_error(&format!("creating the URL of {name}"), &e)),
                }
            }
        })
    };
    let existing: &[String] = observed
        .map(|o| o.statements.as_slice())
        .unwrap_or_default();
    let add_url = async {
        if !existing.iter().any(|s| s == URL_STATEMENT) {
            super::function::add_permission(
                lambda
                    .add_permission()
                    .function_name(name)
                    .statement_id(URL_STATEMENT)
                    .action("lambda:InvokeFunctionUrl")
                    .principal("*")
                    .function_url_auth_type(FunctionUrlAuthType::None),
                &format!("allowing public calls to the URL of {name}"),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let add_invoke = async {
        if !existing.iter().any(|s| s == INVOKE_STATEMENT) {
            super::function::add_permission(
                lambda
                    .add_permission()
                    .function_name(name)
                    .statement_id(INVOKE_STATEMENT)
                    .action("lambda:InvokeFunction")
                    .principal("*")
                    .invoked_via_function_url(true),
                &format!("allowing public calls to the URL of {name}"),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let (url, (), ()) = tokio::try_join!(url, add_url, add_invoke)?;
    url.map(|u| u.trim_end_matches('/').to_owned())
        .context("Lambda returned no function URL")
}
