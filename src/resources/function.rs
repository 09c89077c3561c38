//! The stack's Lambda functions (provided.al2023, one package): the backend
//! (`{stack}-backend`) and, with verified names, the `$connect` authorizer
//! (`{stack}-authorizer`). Code is uploaded only when the package's SHA-256 differs from the
//! deployed CodeSha256.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_lambda::client::Waiters as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture as SdkArchitecture, Environment, FunctionCode, Runtime};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{Ctx, absent_if, aws_error};
use crate::config::{Architecture, LambdaBackend};
use crate::ownership::{Claim, Found};
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy, Verdict, scaled};

pub const KIND: &str = "lambda function";
pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";
const READY_WAIT: Duration = Duration::from_mins(5);

/// Environment variables whose values are never shown.
const SENSITIVE: &[&str] = &[chat_handler::ENV_SECRET];

/// IAM → Lambda propagation: AWS says so only in the message of these errors.
const ROLE_NOT_READY: &[&str] = &[
    "The role defined for the function cannot be assumed by Lambda",
    "The provided execution role does not have permissions",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub arn: String,
    pub code_sha256: String,
    pub runtime: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_s: i32,
    pub role: String,
    pub environment: BTreeMap<String, String>,
}

/// The code to deploy: the zip and its base64 SHA-256 (Lambda's CodeSha256). Cloning shares
/// the bytes (the embedded package is never copied unless uploaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub zip: bytes::Bytes,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The function's name.
    pub name: String,
    /// What the function is, for the console.
    pub description: &'static str,
    pub settings: LambdaBackend,
    pub environment: BTreeMap<String, String>,
    pub code: Code,
}

/// Reads the function; GetFunction returns its tags too, so ownership costs no extra read.
pub async fn observe(ctx: &Ctx, name: &str) -> Result<Found<Observed>> {
    let out = absent_if(
        ctx.aws
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("reading function {name}"), &e))?;
    let Some(out) = out else {
        return Ok(Found::Absent);
    };
    let claim = Claim::of(&ctx.names, out.tags().into_iter().flatten());
    let Some(c) = out.configuration else {
        return Ok(Found::Absent);
    };
    let observed = Observed {
        arn: c.function_arn().unwrap_or_default().to_owned(),
        code_sha256: c.code_sha256().unwrap_or_default().to_owned(),
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        architecture: c
            .architectures()
            .first()
            .map_or_else(|| "x86_64".to_owned(), |a| a.as_str().to_owned()),
        memory_mb: c.memory_size().unwrap_or_default(),
        timeout_s: c.timeout().unwrap_or_default(),
        role: c.role().unwrap_or_default().to_owned(),
        environment: c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    };
    let arn = observed.arn.clone();
    Ok(Found::regional(&claim, observed, KIND, name, &arn))
}

/// Configuration differences (not code), secrets masked.
fn config_changes(
    observed: &Observed,
    desired: &Desired,
    role_arn: Option<&str>,
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let s = &desired.settings;
    if observed.runtime != RUNTIME {
        changes.push(FieldChange::new("runtime", &observed.runtime, RUNTIME));
    }
    if observed.memory_mb != s.memory_mb {
        changes.push(FieldChange::new(
            "memory_mb",
            observed.memory_mb,
            s.memory_mb,
        ));
    }
    if observed.timeout_s != s.timeout_s {
        changes.push(FieldChange::new(
            "timeout_s",
            observed.timeout_s,
            s.timeout_s,
        ));
    }
    if let Some(role) = role_arn.filter(|r| *r != observed.role) {
        changes.push(FieldChange::new("role", &observed.role, role));
    }
    let keys: std::collections::BTreeSet<&String> = observed
        .environment
        .keys()
        .chain(desired.environment.keys())
        .collect();
    for key in keys {
        let (old, new) = (observed.environment.get(key), desired.environment.get(key));
        if old == new {
            continue;
        }
        let field = format!("environment.{key}");
        if SENSITIVE.contains(&key.as_str()) {
            changes.push(FieldChange::secret(field));
        } else {
            let show = |v: Option<&String>| v.map_or_else(|| "(none)".to_owned(), Clone::clone);
            changes.push(FieldChange::new(field, show(old), show(new)));
        }
    }
    changes
}

pub fn plan(observed: Option<&Observed>, desired: &Desired, role_arn: Option<&str>) -> Step {
    let name = desired.name.clone();
    let Some(function) = observed else {
        return Step::new(KIND, name, Action::Create);
    };
    // The architecture of a function's code cannot change without new code; treat it as
    // part of the code update.
    let mut changes = Vec::new();
    if function.code_sha256 != desired.code.sha256 {
        changes.push(FieldChange::new(
            "code_sha256",
            &function.code_sha256,
            &desired.code.sha256,
        ));
    }
    if function.architecture != desired.settings.architecture.as_str() {
        changes.push(FieldChange::new(
            "architecture",
            &function.architecture,
            desired.settings.architecture.as_str(),
        ));
    }
    changes.extend(config_changes(function, desired, role_arn));
    Step::update_or_keep(KIND, name, changes)
}

fn architecture(arch: Architecture) -> SdkArchitecture {
    match arch {
        Architecture::X86_64 => SdkArchitecture::X8664,
        Architecture::Arm64 => SdkArchitecture::Arm64,
    }
}

fn classify_lambda<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Verdict {
    let code = retry::code(error);
    let message = retry::message(error).unwrap_or_default();
    let role_not_ready = code == Some("InvalidParameterValueException")
        && ROLE_NOT_READY.iter().any(|m| message.starts_with(m));
    // 409 while a previous update of the function is still in progress.
    if role_not_ready || code == Some("ResourceConflictException") {
        Verdict::Backoff
    } else {
        Verdict::Fail
    }
}

fn environment(desired: &Desired) -> Environment {
    Environment::builder()
        .set_variables(Some(desired.environment.clone().into_iter().collect()))
        .build()
}

/// Creates the function or brings it to `desired`; waits until it is ready. Returns its ARN.
pub async fn apply(
    ctx: &Ctx,
    observed: Option<&Observed>,
    desired: &Desired,
    role_arn: &str,
    task: Option<&crate::ui::Task>,
) -> Result<String> {
    let lambda = &ctx.aws.lambda;
    let name = &desired.name;
    let Some(function) = observed else {
        let tags: std::collections::HashMap<String, String> =
            ctx.names.tags().into_iter().collect();
        let created = retry::retry(Policy::lambda(), task, classify_lambda, || {
            lambda
                .create_function()
                .function_name(name)
                .runtime(Runtime::from(RUNTIME))
                .handler(HANDLER)
                .role(role_arn)
                .architectures(architecture(desired.settings.architecture))
                .memory_size(desired.settings.memory_mb)
                .timeout(desired.settings.timeout_s)
                .environment(environment(desired))
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(desired.code.zip.to_vec()))
                        .build(),
                )
                .description(desired.description)
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await;
        let arn = match created {
            Ok(out) => out.function_arn().unwrap_or_default().to_owned(),
            // Created by an interrupted run since we looked: converge it like an update.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_conflict_exception()) =>
            {
                let existing = match observe(ctx, name).await? {
                    crate::ownership::Found::Ours(existing) => existing,
                    crate::ownership::Found::Absent => anyhow::bail!("function {name} vanished"),
                    // Someone else created a function of this name since chatctl looked.
                    crate::ownership::Found::Foreign(foreign) => {
                        anyhow::bail!("{foreign}: not changing it")
                    }
                };
                return Box::pin(apply(ctx, Some(&existing), desired, role_arn, task)).await;
            }
            Err(e) => return Err(aws_error(&format!("creating function {name}"), &e)),
        };
        wait_active(ctx, name, task).await?;
        return Ok(arn);
    };
    if !config_changes(function, desired, Some(role_arn)).is_empty() {
        retry::retry(Policy::lambda(), task, classify_lambda, || {
            lambda
                .update_function_configuration()
                .function_name(name)
                .runtime(Runtime::from(RUNTIME))
                .handler(HANDLER)
                .role(role_arn)
                .memory_size(desired.settings.memory_mb)
                .timeout(desired.settings.timeout_s)
                .environment(environment(desired))
                .send()
        })
        .await
        .map_err(|e| aws_error(&format!("updating the configuration of {name}"), &e))?;
        wait_updated(ctx, name, task).await?;
    }
    let arch = desired.settings.architecture.as_str();
    if function.code_sha256 != desired.code.sha256 || function.architecture != arch {
        retry::retry(Policy::lambda(), task, classify_lambda, || {
            lambda
                .update_function_code()
                .function_name(name)
                .architectures(architecture(desired.settings.architecture))
                .zip_file(Blob::new(desired.code.zip.to_vec()))
                .send()
        })
        .await
        .map_err(|e| aws_error(&format!("uploading the code of {name}"), &e))?;
        wait_updated(ctx, name, task).await?;
    }
    Ok(function.arn.clone())
}

async fn wait_active(ctx: &Ctx, name: &str, task: Option<&crate::ui::Task>) -> Result<()> {
    if let Some(task) = task {
        task.waiting("waiting for the function to become Active");
    }
    ctx.aws
        .lambda
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(scaled(READY_WAIT))
        .await
        .map_err(|e| anyhow::anyhow!("function {name} did not become Active: {e}"))?;
    Ok(())
}

async fn wait_updated(ctx: &Ctx, name: &str, task: Option<&crate::ui::Task>) -> Result<()> {
    if let Some(task) = task {
        task.waiting("waiting for the update to finish");
    }
    ctx.aws
        .lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(scaled(READY_WAIT))
        .await
        .map_err(|e| anyhow::anyhow!("the update of function {name} did not finish: {e}"))?;
    Ok(())
}

/// The statements of a function's resource policy (none when it has no policy).
pub async fn policy_statements(ctx: &Ctx, name: &str) -> Result<Vec<serde_json::Value>> {
    let policy = absent_if(
        ctx.aws.lambda.get_policy().function_name(name).send().await,
        |e| e.is_resource_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("reading the resource policy of {name}"), &e))?;
    Ok(policy
        .and_then(|p| p.policy)
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|doc| doc["Statement"].as_array().cloned())
        .unwrap_or_default())
}

/// Adds a statement to a function's resource policy; one that exists already (added by an
/// interrupted run since chatctl looked) is success.
pub async fn add_permission(
    request: aws_sdk_lambda::operation::add_permission::builders::AddPermissionFluentBuilder,
    what: &str,
) -> Result<()> {
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(what, &e)),
    }
}

pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    absent_if(
        ctx.aws
            .lambda
            .delete_function()
            .function_name(name)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("deleting function {name}"), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            name: "chat-dev-backend".into(),
            description: "chatctl chat backend",
            settings: LambdaBackend {
                architecture: Architecture::X86_64,
                memory_mb: 128,
                timeout_s: 10,
                zip: None,
            },
            environment: BTreeMap::from([
                (chat_handler::ENV_SECRET.to_owned(), "new-secret".to_owned()),
                (
                    chat_handler::ENV_TABLE.to_owned(),
                    "chat-dev-connections".to_owned(),
                ),
            ]),
            code: Code {
                zip: bytes::Bytes::from_static(&[1, 2, 3]),
                sha256: "abc=".into(),
            },
        }
    }

    fn deployed() -> Observed {
        let d = desired();
        Observed {
            arn: "arn:aws:lambda:eu-west-1:1:function:chat-dev-backend".into(),
            code_sha256: "abc=".into(),
            runtime: RUNTIME.into(),
            architecture: "x86_64".into(),
            memory_mb: 128,
            timeout_s: 10,
            role: "arn:aws:iam::1:role/chat-dev-backend".into(),
            environment: d.environment,
        }
    }

    #[test]
    fn unchanged_function_has_no_config_changes() {
        assert!(
            config_changes(
                &deployed(),
                &desired(),
                Some("arn:aws:iam::1:role/chat-dev-backend")
            )
            .is_empty()
        );
    }

    #[test]
    fn a_rotated_secret_is_a_masked_change() {
        let mut function = deployed();
        function
            .environment
            .insert(chat_handler::ENV_SECRET.to_owned(), "old-secret".to_owned());
        let changes = config_changes(&function, &desired(), None);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].old, "(sensitive)");
        assert!(!format!("{changes:?}").contains("secret\""));
    }

    #[test]
    fn role_propagation_and_conflicts_are_retried_other_errors_not() {
        use aws_sdk_lambda::operation::create_function::CreateFunctionError;
        use aws_smithy_types::error::ErrorMetadata;
        let error = |code: &str, message: &str| {
            let meta = ErrorMetadata::builder().code(code).message(message).build();
            SdkError::<CreateFunctionError, ()>::service_error(
                CreateFunctionError::generic(meta),
                (),
            )
        };
        assert_eq!(
            classify_lambda(&error(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda."
            )),
            Verdict::Backoff
        );
        assert_eq!(
            classify_lambda(&error("ResourceConflictException", "update in progress")),
            Verdict::Backoff
        );
        assert_eq!(
            classify_lambda(&error(
                "InvalidParameterValueException",
                "Unzipped size must be smaller"
            )),
            Verdict::Fail
        );
    }
}
