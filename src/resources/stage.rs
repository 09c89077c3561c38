//! The stage: auto-deploy, default route settings (BOTH throttling limits, logging), stage
//! variables that carry the backend host and secret, and access logging.
//!
//! UpdateStage merges `StageVariables` into what exists; a variable the definition no
//! longer has is removed by sending it with an empty value (as Terraform's
//! aws_apigatewayv2_stage does). With auto-deploy the verdict of the last deployment shows
//! only in the stage's `LastDeploymentStatusMessage` ([`super::deployment`]).
//!
//! Default route settings apply to every route; a throttling limit left out means 0, and a
//! zero limit answers every request with 429 — so both are always sent, and `status` flags
//! a deployed zero.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use aws_sdk_apigatewayv2::types::{
    AccessLogSettings, LoggingLevel as SdkLoggingLevel, RouteSettings,
};

use super::{Ctx, absent_if, aws_error};
use crate::chat_api::{ACCESS_LOG_FORMAT, BACKEND_SECRET_VARIABLE};
use crate::config::ApiSettings;
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy};

pub const KIND: &str = "stage";

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub name: String,
    pub auto_deploy: bool,
    pub throttling_burst_limit: Option<i32>,
    pub throttling_rate_limit: Option<f64>,
    pub logging_level: Option<String>,
    pub data_trace: bool,
    pub detailed_metrics: bool,
    pub variables: BTreeMap<String, String>,
    pub access_log_arn: Option<String>,
    pub access_log_format: Option<String>,
    /// The deployment the stage serves.
    pub deployment_id: Option<String>,
    /// `LastDeploymentStatusMessage` (stages with auto-deploy only).
    pub last_deployment_message: Option<String>,
}

impl Observed {
    /// The message of a failed last deployment: the stage serves an older one (or none).
    pub fn failed_deployment(&self) -> Option<&str> {
        self.last_deployment_message
            .as_deref()
            .filter(|m| super::deployment::is_failure(m))
    }

    /// A deployed limit of zero (or a missing one, which API Gateway treats as zero).
    pub fn zero_throttling(&self) -> Option<String> {
        let burst = self.throttling_burst_limit.unwrap_or(0);
        let rate = self.throttling_rate_limit.unwrap_or(0.0);
        (burst == 0 || rate <= 0.0).then(|| {
            format!(
                "stage {} has a zero throttling limit (burst {burst}, rate {rate}): API Gateway answers every request with 429 Too Many Requests; run `chatctl up` to set both limits",
                self.name
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub name: String,
    pub settings: ApiSettings,
    pub variables: BTreeMap<String, String>,
    /// `None` while the log group does not exist yet (known after apply).
    pub access_log_arn: Option<String>,
}

pub async fn observe(ctx: &Ctx, api_id: &str, name: &str) -> Result<Option<Observed>> {
    let out = absent_if(
        ctx.aws
            .apigatewayv2
            .get_stage()
            .api_id(api_id)
            .stage_name(name)
            .send()
            .await,
        |e| e.is_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("reading stage {name}"), &e))?;
    Ok(out.map(|stage| {
        let defaults = stage.default_route_settings();
        Observed {
            name: stage.stage_name().unwrap_or(name).to_owned(),
            auto_deploy: stage.auto_deploy().unwrap_or(false),
            throttling_burst_limit: defaults.and_then(RouteSettings::throttling_burst_limit),
            throttling_rate_limit: defaults.and_then(RouteSettings::throttling_rate_limit),
            logging_level: defaults
                .and_then(RouteSettings::logging_level)
                .map(|l| l.as_str().to_owned()),
            data_trace: defaults
                .and_then(RouteSettings::data_trace_enabled)
                .unwrap_or(false),
            detailed_metrics: defaults
                .and_then(RouteSettings::detailed_metrics_enabled)
                .unwrap_or(false),
            variables: stage
                .stage_variables()
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            access_log_arn: stage
                .access_log_settings()
                .and_then(AccessLogSettings::destination_arn)
                .map(str::to_owned),
            access_log_format: stage
                .access_log_settings()
                .and_then(AccessLogSettings::format)
                .map(str::to_owned),
            deployment_id: stage.deployment_id().map(str::to_owned),
            last_deployment_message: stage
                .last_deployment_status_message()
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
        }
    }))
}

fn show<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
}

/// Field-level differences; secret values are never rendered.
pub fn changes(observed: &Observed, desired: &Desired) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let s = &desired.settings;
    if !observed.auto_deploy {
        changes.push(FieldChange::new("auto_deploy", false, true));
    }
    if observed.throttling_burst_limit != Some(s.throttling_burst_limit) {
        changes.push(FieldChange::new(
            "throttling_burst_limit",
            show(observed.throttling_burst_limit),
            s.throttling_burst_limit,
        ));
    }
    if observed
        .throttling_rate_limit
        .is_none_or(|r| (r - s.throttling_rate_limit).abs() > f64::EPSILON)
    {
        changes.push(FieldChange::new(
            "throttling_rate_limit",
            show(observed.throttling_rate_limit),
            s.throttling_rate_limit,
        ));
    }
    if observed.logging_level.as_deref() != Some(s.logging_level.as_str()) {
        changes.push(FieldChange::new(
            "logging_level",
            show(observed.logging_level.as_deref()),
            s.logging_level,
        ));
    }
    if observed.data_trace != s.data_trace {
        changes.push(FieldChange::new(
            "data_trace",
            observed.data_trace,
            s.data_trace,
        ));
    }
    if observed.detailed_metrics != s.detailed_metrics {
        changes.push(FieldChange::new(
            "detailed_metrics",
            observed.detailed_metrics,
            s.detailed_metrics,
        ));
    }
    let keys: std::collections::BTreeSet<&String> = observed
        .variables
        .keys()
        .chain(desired.variables.keys())
        .collect();
    for key in keys {
        let (old, new) = (observed.variables.get(key), desired.variables.get(key));
        if old == new {
            continue;
        }
        let field = format!("stage_variables.{key}");
        if key == BACKEND_SECRET_VARIABLE {
            changes.push(FieldChange::secret(field));
        } else {
            changes.push(FieldChange::new(field, show(old), show(new)));
        }
    }
    let wanted_arn = desired.access_log_arn.as_deref();
    if wanted_arn.is_none() || observed.access_log_arn.as_deref() != wanted_arn {
        changes.push(FieldChange::new(
            "access_log_destination",
            show(observed.access_log_arn.as_deref()),
            wanted_arn.unwrap_or("(log group, known after apply)"),
        ));
    }
    if observed.access_log_format.as_deref() != Some(ACCESS_LOG_FORMAT) {
        changes.push(FieldChange::new(
            "access_log_format",
            if observed.access_log_format.is_some() {
                "(other)"
            } else {
                "(none)"
            },
            "(chatctl JSON format)",
        ));
    }
    changes
}

pub fn plan(observed: Option<&Observed>, desired: &Desired) -> Step {
    match observed {
        None => Step::new(KIND, desired.name.clone(), Action::Create),
        Some(stage) => Step::update_or_keep(KIND, desired.name.clone(), changes(stage, desired)),
    }
}

/// Creates or updates the stage to `desired` (whose access-log ARN is now known).
pub async fn apply(
    ctx: &Ctx,
    api_id: &str,
    observed: Option<&Observed>,
    desired: &Desired,
    access_log_arn: &str,
) -> Result<()> {
    let client = &ctx.aws.apigatewayv2;
    let s = &desired.settings;
    let route_settings = RouteSettings::builder()
        .throttling_burst_limit(s.throttling_burst_limit)
        .throttling_rate_limit(s.throttling_rate_limit)
        .logging_level(SdkLoggingLevel::from(s.logging_level.as_str()))
        .data_trace_enabled(s.data_trace)
        .detailed_metrics_enabled(s.detailed_metrics)
        .build();
    let access_logs = AccessLogSettings::builder()
        .destination_arn(access_log_arn)
        .format(ACCESS_LOG_FORMAT)
        .build();
    let mut variables: HashMap<String, String> = desired
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let name = &desired.name;
    if let Some(existing) = observed {
        for stale in existing
            .variables
            .keys()
            .filter(|k| !desired.variables.contains_key(*k))
        {
            variables.insert(stale.clone(), String::new());
        }
        retry::retry(
            Policy::conflict(),
            None,
            retry::apigatewayv2_conflict,
            || {
                client
                    .update_stage()
                    .api_id(api_id)
                    .stage_name(name)
                    .auto_deploy(true)
                    .default_route_settings(route_settings.clone())
                    .set_stage_variables(Some(variables.clone()))
                    .access_log_settings(access_logs.clone())
                    .send()
            },
        )
        .await
        .map_err(|e| aws_error(&format!("updating stage {name}"), &e))?;
    } else {
        let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
        retry::retry(
            Policy::conflict(),
            None,
            retry::apigatewayv2_conflict,
            || {
                client
                    .create_stage()
                    .api_id(api_id)
                    .stage_name(name)
                    .auto_deploy(true)
                    .default_route_settings(route_settings.clone())
                    .set_stage_variables(Some(variables.clone()))
                    .access_log_settings(access_logs.clone())
                    .set_tags(Some(tags.clone()))
                    .send()
            },
        )
        .await
        .map_err(|e| aws_error(&format!("creating stage {name}"), &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat_api::stage_variables;

    fn desired() -> Desired {
        Desired {
            name: "dev".into(),
            settings: ApiSettings::default(),
            variables: stage_variables(
                &crate::chat_api::BackendEndpoint::parse("https://b.example").unwrap(),
                "s3cret",
            ),
            access_log_arn: Some(
                "arn:aws:logs:eu-west-1:1:log-group:/chatctl/chat-dev/access".into(),
            ),
        }
    }

    fn deployed() -> Observed {
        let d = desired();
        Observed {
            name: "dev".into(),
            auto_deploy: true,
            throttling_burst_limit: Some(100),
            throttling_rate_limit: Some(50.0),
            logging_level: Some("INFO".into()),
            data_trace: false,
            detailed_metrics: false,
            variables: d.variables,
            access_log_arn: d.access_log_arn,
            access_log_format: Some(ACCESS_LOG_FORMAT.into()),
            deployment_id: Some("d1".into()),
            last_deployment_message: Some(
                "Successfully deployed stage with deployment ID 'd1'".into(),
            ),
        }
    }

    #[test]
    fn matching_stage_has_no_changes() {
        assert!(changes(&deployed(), &desired()).is_empty());
        assert!(deployed().zero_throttling().is_none());
    }

    #[test]
    fn zero_throttling_is_flagged_and_planned() {
        let mut stage = deployed();
        stage.throttling_rate_limit = None;
        assert!(stage.zero_throttling().unwrap().contains("429"));
        let fields: Vec<String> = changes(&stage, &desired())
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(fields, ["throttling_rate_limit"]);
    }

    #[test]
    fn a_variable_the_definition_dropped_is_a_change_to_none() {
        let mut stage = deployed();
        stage
            .variables
            .insert("backendUrl".into(), "https://old.example".into());
        let change = changes(&stage, &desired()).remove(0);
        assert_eq!(
            (
                change.field.as_str(),
                change.old.as_str(),
                change.new.as_str()
            ),
            (
                "stage_variables.backendUrl",
                "https://old.example",
                "(none)"
            )
        );
    }

    #[test]
    fn a_failed_last_deployment_is_reported() {
        let mut stage = deployed();
        assert_eq!(stage.failed_deployment(), None);
        stage.last_deployment_message = Some(
            "Deployment attempt failed: Unable to deploy API because no routes exist in this API"
                .into(),
        );
        assert!(
            stage
                .failed_deployment()
                .unwrap()
                .ends_with("no routes exist in this API")
        );
    }

    #[test]
    fn a_changed_secret_is_reported_without_its_value() {
        let mut stage = deployed();
        stage
            .variables
            .insert(BACKEND_SECRET_VARIABLE.into(), "old-secret".into());
        let change = changes(&stage, &desired()).remove(0);
        assert_eq!(change.field, "stage_variables.backendSecret");
        assert!(!format!("{change:?}").contains("old-secret"));
        assert!(!format!("{change:?}").contains("s3cret"));
    }
}
