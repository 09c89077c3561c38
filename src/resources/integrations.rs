//! Non-proxy HTTP integrations (one per route) and their `$default` integration responses.
//! Without an integration response a non-proxy integration returns nothing to the client.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::{ConnectionType, IntegrationType, PassthroughBehavior};

use super::{Ctx, absent_if, aws_error, collect_pages};
use crate::chat_api::{DEFAULT_RESPONSE_KEY, INTEGRATION_TIMEOUT_MS, RouteSpec, Scheme};
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy};

pub const KIND: &str = "integration";
pub const RESPONSE_KIND: &str = "integration response";
const METHOD: &str = "POST";

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub integration_type: String,
    pub method: String,
    pub uri: String,
    pub passthrough: String,
    pub timeout_ms: i32,
    pub request_parameters: BTreeMap<String, String>,
    /// (response id, response key)
    pub responses: Vec<(String, String)>,
}

pub async fn observe(ctx: &Ctx, api_id: &str) -> Result<Vec<Observed>> {
    let client = &ctx.aws.apigatewayv2;
    let mut found = collect_pages(|token| async move {
        let page = client
            .get_integrations()
            .api_id(api_id)
            .set_next_token(token)
            .max_results("500")
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing integrations of API {api_id}"), &e))?;
        let items = page.items().iter().map(|i| Observed {
            id: i.integration_id().unwrap_or_default().to_owned(),
            integration_type: i
                .integration_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            method: i.integration_method().unwrap_or_default().to_owned(),
            uri: i.integration_uri().unwrap_or_default().to_owned(),
            passthrough: i
                .passthrough_behavior()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            timeout_ms: i.timeout_in_millis().unwrap_or(INTEGRATION_TIMEOUT_MS),
            request_parameters: i
                .request_parameters()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            responses: Vec::new(),
        });
        Ok((items.collect(), page.next_token().map(str::to_owned)))
    })
    .await?;
    let responses = futures::future::try_join_all(found.iter().map(|integration| async move {
        let out = client
            .get_integration_responses()
            .api_id(api_id)
            .integration_id(&integration.id)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &format!("listing responses of integration {}", integration.id),
                    &e,
                )
            })?;
        Ok::<_, anyhow::Error>(
            out.items()
                .iter()
                .map(|r| {
                    (
                        r.integration_response_id().unwrap_or_default().to_owned(),
                        r.integration_response_key().unwrap_or_default().to_owned(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }))
    .await?;
    for (integration, responses) in found.iter_mut().zip(responses) {
        integration.responses = responses;
    }
    Ok(found)
}

/// The integration step for `route` against what exists (if anything).
pub fn plan(route: &RouteSpec, scheme: Scheme, observed: Option<&Observed>) -> Step {
    let name = route.route_key.clone();
    let Some(existing) = observed else {
        return Step::new(KIND, name, Action::Create);
    };
    let mut changes = Vec::new();
    let mut compare = |field: &str, old: &str, new: &str| {
        if old != new {
            changes.push(FieldChange::new(field, old, new));
        }
    };
    compare(
        "integration_type",
        &existing.integration_type,
        IntegrationType::Http.as_str(),
    );
    compare("integration_method", &existing.method, METHOD);
    compare(
        "integration_uri",
        &existing.uri,
        &route.integration_uri(scheme),
    );
    compare(
        "passthrough_behavior",
        &existing.passthrough,
        PassthroughBehavior::WhenNoMatch.as_str(),
    );
    compare(
        "timeout_in_millis",
        &existing.timeout_ms.to_string(),
        &INTEGRATION_TIMEOUT_MS.to_string(),
    );
    if existing.request_parameters != route.request_parameters {
        changes.push(FieldChange::new(
            "request_parameters",
            render_map(&existing.request_parameters),
            render_map(&route.request_parameters),
        ));
    }
    // The type of an integration cannot change in place.
    if existing.integration_type != IntegrationType::Http.as_str() {
        return Step {
            action: Action::Replace,
            changes,
            ..Step::new(KIND, name, Action::Replace)
        };
    }
    Step::update_or_keep(KIND, name, changes)
}

/// Integration-response steps: `$default` must exist; any other key is removed.
pub fn plan_responses(route: &RouteSpec, observed: Option<&Observed>) -> Vec<Step> {
    let name = |key: &str| format!("{} {key}", route.route_key);
    let responses = observed.map(|o| o.responses.as_slice()).unwrap_or_default();
    let mut steps = vec![
        if responses.iter().any(|(_, key)| key == DEFAULT_RESPONSE_KEY) {
            Step::new(RESPONSE_KIND, name(DEFAULT_RESPONSE_KEY), Action::Keep)
        } else {
            Step::new(RESPONSE_KIND, name(DEFAULT_RESPONSE_KEY), Action::Create)
        },
    ];
    steps.extend(
        responses
            .iter()
            .filter(|(_, key)| key != DEFAULT_RESPONSE_KEY)
            .map(|(_, key)| Step::new(RESPONSE_KIND, name(key), Action::Delete)),
    );
    steps
}

fn render_map(map: &BTreeMap<String, String>) -> String {
    if map.is_empty() {
        return "{}".to_owned();
    }
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", items.join(", "))
}

/// The request parameters of an UpdateIntegration: API Gateway merges them into what
/// exists, so every mapping the definition no longer has is sent with an empty value, which
/// removes it (as Terraform's aws_apigatewayv2_integration does).
pub fn update_parameters(
    existing: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut parameters: HashMap<String, String> =
        wanted.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for stale in existing.keys().filter(|k| !wanted.contains_key(*k)) {
        parameters.insert(stale.clone(), String::new());
    }
    parameters
}

/// Creates, updates or replaces the integration of `route`; returns its id.
pub async fn apply(
    ctx: &Ctx,
    api_id: &str,
    route: &RouteSpec,
    scheme: Scheme,
    observed: Option<&Observed>,
    action: Action,
) -> Result<String> {
    let client = &ctx.aws.apigatewayv2;
    let uri = route.integration_uri(scheme);
    match (action, observed) {
        (Action::Keep, Some(existing)) => Ok(existing.id.clone()),
        (Action::Update, Some(existing)) => {
            let parameters =
                update_parameters(&existing.request_parameters, &route.request_parameters);
            retry::retry(
                Policy::conflict(),
                None,
                retry::apigatewayv2_conflict,
                || {
                    client
                        .update_integration()
                        .api_id(api_id)
                        .integration_id(&existing.id)
                        .integration_method(METHOD)
                        .integration_uri(&uri)
                        .passthrough_behavior(PassthroughBehavior::WhenNoMatch)
                        .timeout_in_millis(INTEGRATION_TIMEOUT_MS)
                        .set_request_parameters(Some(parameters.clone()))
                        .send()
                },
            )
            .await
            .map_err(|e| aws_error(&format!("updating the {} integration", route.route_key), &e))?;
            Ok(existing.id.clone())
        }
        _ => {
            let parameters: HashMap<String, String> = route
                .request_parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let created = retry::retry(
                Policy::conflict(),
                None,
                retry::apigatewayv2_conflict,
                || {
                    client
                        .create_integration()
                        .api_id(api_id)
                        .integration_type(IntegrationType::Http)
                        .connection_type(ConnectionType::Internet)
                        .integration_method(METHOD)
                        .integration_uri(&uri)
                        .passthrough_behavior(PassthroughBehavior::WhenNoMatch)
                        .timeout_in_millis(INTEGRATION_TIMEOUT_MS)
                        .set_request_parameters(Some(parameters.clone()))
                        .send()
                },
            )
            .await
            .map_err(|e| aws_error(&format!("creating the {} integration", route.route_key), &e))?;
            created
                .integration_id()
                .map(str::to_owned)
                .context("CreateIntegration returned no id")
        }
    }
}

/// Makes the integration's responses match: `$default` present, nothing else.
pub async fn apply_responses(
    ctx: &Ctx,
    api_id: &str,
    integration_id: &str,
    observed: &[(String, String)],
) -> Result<()> {
    let client = &ctx.aws.apigatewayv2;
    if !observed.iter().any(|(_, key)| key == DEFAULT_RESPONSE_KEY) {
        retry::retry(
            Policy::conflict(),
            None,
            retry::apigatewayv2_conflict,
            || {
                client
                    .create_integration_response()
                    .api_id(api_id)
                    .integration_id(integration_id)
                    .integration_response_key(DEFAULT_RESPONSE_KEY)
                    .send()
            },
        )
        .await
        .map_err(|e| aws_error("creating the $default integration response", &e))?;
    }
    for (id, _) in observed
        .iter()
        .filter(|(_, key)| key != DEFAULT_RESPONSE_KEY)
    {
        let result = retry::retry(
            Policy::conflict(),
            None,
            retry::apigatewayv2_conflict,
            || {
                client
                    .delete_integration_response()
                    .api_id(api_id)
                    .integration_id(integration_id)
                    .integration_response_id(id)
                    .send()
            },
        )
        .await;
        absent_if(result, |e| e.is_not_found_exception())
            .map_err(|e| aws_error("deleting an integration response", &e))?;
    }
    Ok(())
}

pub async fn delete(ctx: &Ctx, api_id: &str, integration_id: &str) -> Result<()> {
    let client = &ctx.aws.apigatewayv2;
    let result = retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || {
            client
                .delete_integration()
                .api_id(api_id)
                .integration_id(integration_id)
                .send()
        },
    )
    .await;
    absent_if(result, |e| e.is_not_found_exception())
        .map_err(|e| aws_error(&format!("deleting integration {integration_id}"), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat_api::routes;

    fn deployed(route: &RouteSpec) -> Observed {
        Observed {
            id: "i1".into(),
            integration_type: "HTTP".into(),
            method: "POST".into(),
            uri: route.integration_uri(Scheme::Https),
            passthrough: "WHEN_NO_MATCH".into(),
            timeout_ms: INTEGRATION_TIMEOUT_MS,
            request_parameters: route.request_parameters.clone(),
            responses: vec![("r1".into(), "$default".into())],
        }
    }

    #[test]
    fn matching_integration_is_kept() {
        let route = &routes()[0];
        assert_eq!(
            plan(route, Scheme::Https, Some(&deployed(route))).action,
            Action::Keep
        );
        assert!(
            plan_responses(route, Some(&deployed(route)))
                .iter()
                .all(|s| s.action == Action::Keep)
        );
    }

    #[test]
    fn a_lost_connection_id_mapping_is_an_update_naming_the_field() {
        let route = &routes()[3];
        let mut existing = deployed(route);
        existing
            .request_parameters
            .remove("integration.request.header.x-connection-id");
        let step = plan(route, Scheme::Https, Some(&existing));
        assert_eq!(step.action, Action::Update);
        assert_eq!(step.changes[0].field, "request_parameters");
    }

    #[test]
    fn the_old_uri_with_the_scheme_in_a_stage_variable_is_updated() {
        let route = &routes()[3];
        let existing = Observed {
            uri: "${stageVariables.backendUrl}/sendmessage".into(),
            ..deployed(route)
        };
        let step = plan(route, Scheme::Https, Some(&existing));
        assert_eq!(step.action, Action::Update);
        assert_eq!(
            step.changes[0].new,
            "https://${stageVariables.backendHost}/sendmessage"
        );
        // A backend reached over plain http (a loopback server in tests) keeps its scheme.
        assert_eq!(
            plan(route, Scheme::Http, Some(&deployed(route))).changes[0].new,
            "http://${stageVariables.backendHost}/sendmessage"
        );
    }

    #[test]
    fn stale_mappings_are_sent_empty_so_api_gateway_removes_them() {
        let route = &routes()[3];
        let mut existing = route.request_parameters.clone();
        existing.insert(
            "integration.request.header.x-old".into(),
            "context.requestId".into(),
        );
        let sent = update_parameters(&existing, &route.request_parameters);
        assert_eq!(sent["integration.request.header.x-old"], "");
        assert_eq!(
            sent["integration.request.header.x-connection-id"],
            "context.connectionId"
        );
        assert_eq!(sent.len(), route.request_parameters.len() + 1);
    }

    #[test]
    fn missing_default_response_is_created_and_extras_deleted() {
        let route = &routes()[3];
        let mut existing = deployed(route);
        existing.responses = vec![("r9".into(), "/4\\d\\d/".into())];
        let steps = plan_responses(route, Some(&existing));
        assert_eq!(steps[0].action, Action::Create);
        assert_eq!(steps[1].action, Action::Delete);
    }
}
