//! Routes and their `$default` route responses. A route is two-way only with a route
//! response; without one API Gateway sends nothing back, whatever the integration returns.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::{AuthorizationType, ParameterConstraints};

use super::{Ctx, absent_if, aws_error, collect_pages, integrations};
use crate::chat_api::{DEFAULT_RESPONSE_KEY, RouteSpec, Scheme};
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy};

pub const KIND: &str = "route";
pub const RESPONSE_KIND: &str = "route response";
const NO_AUTHORIZATION: &str = "NONE";
const CUSTOM_AUTHORIZATION: &str = "CUSTOM";

/// The authorizer a route should have: (authorization type, authorizer id). `authorizer` is
/// the stack's authorizer id, `None` while it is to be created.
fn wanted_authorization<'a>(
    spec: &RouteSpec,
    authorizer: Option<&'a str>,
) -> (&'static str, Option<&'a str>) {
    if spec.authorizer.is_some() {
        (
            CUSTOM_AUTHORIZATION,
            Some(authorizer.unwrap_or("(new authorizer)")),
        )
    } else {
        (NO_AUTHORIZATION, None)
    }
}

fn authorization_matches(route: &Observed, spec: &RouteSpec, authorizer: Option<&str>) -> bool {
    let (kind, id) = wanted_authorization(spec, authorizer);
    route.authorization_type == kind && route.authorizer_id.as_deref() == id
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub key: String,
    pub target: String,
    pub route_response_selection_expression: Option<String>,
    /// Declared route request parameters → required.
    pub request_parameters: BTreeMap<String, bool>,
    /// (route response id, key)
    pub responses: Vec<(String, String)>,
    /// `NONE` or `CUSTOM` (a Lambda authorizer, `$connect` only).
    pub authorization_type: String,
    pub authorizer_id: Option<String>,
}

impl Observed {
    /// The integration id from a target of the form `integrations/{id}`.
    pub fn integration_id(&self) -> Option<&str> {
        self.target.strip_prefix("integrations/")
    }
}

pub async fn observe(ctx: &Ctx, api_id: &str) -> Result<Vec<Observed>> {
    let client = &ctx.aws.apigatewayv2;
    let mut found = collect_pages(|token| async move {
        let page = client
            .get_routes()
            .api_id(api_id)
            .set_next_token(token)
            .max_results("500")
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing routes of API {api_id}"), &e))?;
        let items = page.items().iter().map(|r| Observed {
            id: r.route_id().unwrap_or_default().to_owned(),
            key: r.route_key().unwrap_or_default().to_owned(),
            target: r.target().unwrap_or_default().to_owned(),
            route_response_selection_expression: r
                .route_response_selection_expression()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            request_parameters: r
                .request_parameters()
                .map(|p| {
                    p.iter()
                        .map(|(k, c)| (k.clone(), c.required().unwrap_or(false)))
                        .collect()
                })
                .unwrap_or_default(),
            responses: Vec::new(),
            authorization_type: r
                .authorization_type()
                .map_or_else(|| NO_AUTHORIZATION.to_owned(), |t| t.as_str().to_owned()),
            authorizer_id: r
                .authorizer_id()
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        });
        Ok((items.collect(), page.next_token().map(str::to_owned)))
    })
    .await?;
    let responses = futures::future::try_join_all(found.iter().map(|route| async move {
        let out = client
            .get_route_responses()
            .api_id(api_id)
            .route_id(&route.id)
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing responses of route {}", route.key), &e))?;
        Ok::<_, anyhow::Error>(
            out.items()
                .iter()
                .map(|r| {
                    (
                        r.route_response_id().unwrap_or_default().to_owned(),
                        r.route_response_key().unwrap_or_default().to_owned(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }))
    .await?;
    for (route, responses) in found.iter_mut().zip(responses) {
        route.responses = responses;
    }
    Ok(found)
}

/// What exists for one desired route: its route and the integration it should use.
#[derive(Debug, Clone, Default)]
pub struct Binding<'a> {
    pub route: Option<&'a Observed>,
    pub integration: Option<&'a integrations::Observed>,
}

/// Pairs each desired route with what exists. A route's integration is the one its target
/// names; an integration left without a route (a run killed between the two creates) is
/// adopted by URI so the next run does not create a second one.
pub fn bind<'a>(
    desired: &[RouteSpec],
    scheme: Scheme,
    routes: &'a [Observed],
    integrations: &'a [integrations::Observed],
) -> Vec<Binding<'a>> {
    let mut claimed: Vec<&str> = Vec::new();
    let mut bindings: Vec<Binding<'a>> = desired
        .iter()
        .map(|spec| {
            let route = routes.iter().find(|r| r.key == spec.route_key);
            let integration = route
                .and_then(Observed::integration_id)
                .and_then(|id| integrations.iter().find(|i| i.id == id));
            if let Some(i) = integration {
                claimed.push(&i.id);
            }
            Binding { route, integration }
        })
        .collect();
    for (spec, binding) in desired.iter().zip(bindings.iter_mut()) {
        if binding.integration.is_none() {
            let uri = spec.integration_uri(scheme);
            binding.integration = integrations
                .iter()
                .find(|i| i.uri == uri && !claimed.contains(&i.id.as_str()));
            if let Some(i) = binding.integration {
                claimed.push(&i.id);
            }
        }
    }
    bindings
}

/// Routes whose key is not desired, and integrations no desired route uses.
pub fn strays<'a>(
    desired: &[RouteSpec],
    bindings: &[Binding<'a>],
    routes: &'a [Observed],
    integrations: &'a [integrations::Observed],
) -> (Vec<&'a Observed>, Vec<&'a integrations::Observed>) {
    let stray_routes = routes
        .iter()
        .filter(|r| !desired.iter().any(|d| d.route_key == r.key))
        .collect();
    let used: Vec<&str> = bindings
        .iter()
        .filter_map(|b| b.integration.map(|i| i.id.as_str()))
        .collect();
    let stray_integrations = integrations
        .iter()
        .filter(|i| !used.contains(&i.id.as_str()))
        .collect();
    (stray_routes, stray_integrations)
}

/// The route step; `integration_replaced` when its integration will get a new id.
pub fn plan(
    spec: &RouteSpec,
    binding: &Binding<'_>,
    integration_replaced: bool,
    authorizer: Option<&str>,
) -> Step {
    let name = spec.route_key.clone();
    let Some(route) = binding.route else {
        return Step::new(KIND, name, Action::Create);
    };
    let mut changes = Vec::new();
    let wanted_target = binding
        .integration
        .filter(|_| !integration_replaced)
        .map(|i| format!("integrations/{}", i.id));
    if wanted_target.as_deref() != Some(route.target.as_str()) {
        changes.push(FieldChange::new(
            "target",
            if route.target.is_empty() {
                "(none)"
            } else {
                &route.target
            },
            wanted_target.as_deref().unwrap_or("(new integration)"),
        ));
    }
    let wanted_rrse = spec.route_response_selection_expression();
    if route.route_response_selection_expression.as_deref() != wanted_rrse {
        changes.push(FieldChange::new(
            "route_response_selection_expression",
            route
                .route_response_selection_expression
                .as_deref()
                .unwrap_or("(none)"),
            wanted_rrse.unwrap_or("(none)"),
        ));
    }
    if route.request_parameters != spec.route_parameters {
        changes.push(FieldChange::new(
            "request_parameters",
            render_parameters(&route.request_parameters),
            render_parameters(&spec.route_parameters),
        ));
    }
    if !authorization_matches(route, spec, authorizer) {
        let (kind, id) = wanted_authorization(spec, authorizer);
        let show = |kind: &str, id: Option<&str>| match id {
            Some(id) => format!("{kind} ({id})"),
            None => kind.to_owned(),
        };
        changes.push(FieldChange::new(
            "authorization",
            show(&route.authorization_type, route.authorizer_id.as_deref()),
            show(kind, id),
        ));
    }
    Step::update_or_keep(KIND, name, changes)
}

fn render_parameters(parameters: &BTreeMap<String, bool>) -> String {
    if parameters.is_empty() {
        return "{}".to_owned();
    }
    let items: Vec<String> = parameters
        .iter()
        .map(|(k, required)| format!("{k} (required: {required})"))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// The route's declared parameters in the SDK's shape.
fn sdk_parameters(spec: &RouteSpec) -> Option<HashMap<String, ParameterConstraints>> {
    (!spec.route_parameters.is_empty()).then(|| {
        spec.route_parameters
            .iter()
            .map(|(k, required)| {
                (
                    k.clone(),
                    ParameterConstraints::builder().required(*required).build(),
                )
            })
            .collect()
    })
}

/// Route-response steps: `$default` on two-way routes, none on the others.
pub fn plan_responses(spec: &RouteSpec, route: Option<&Observed>) -> Vec<Step> {
    let name = |key: &str| format!("{} {key}", spec.route_key);
    let responses = route.map(|r| r.responses.as_slice()).unwrap_or_default();
    let mut steps = Vec::new();
    if spec.two_way {
        let present = responses.iter().any(|(_, k)| k == DEFAULT_RESPONSE_KEY);
        steps.push(Step::new(
            RESPONSE_KIND,
            name(DEFAULT_RESPONSE_KEY),
            if present {
                Action::Keep
            } else {
                Action::Create
            },
        ));
    }
    steps.extend(
        responses
            .iter()
            .filter(|(_, k)| !(spec.two_way && k == DEFAULT_RESPONSE_KEY))
            .map(|(_, k)| Step::new(RESPONSE_KIND, name(k), Action::Delete)),
    );
    steps
}

/// Creates or updates the route; returns its id.
pub async fn apply(
    ctx: &Ctx,
    api_id: &str,
    spec: &RouteSpec,
    route: Option<&Observed>,
    integration_id: &str,
    authorizer: Option<&str>,
) -> Result<String> {
    let client = &ctx.aws.apigatewayv2;
    let target = format!("integrations/{integration_id}");
    let rrse = spec.route_response_selection_expression();
    let parameters = sdk_parameters(spec);
    let (kind, authorizer_id) = wanted_authorization(spec, authorizer);
    let kind = AuthorizationType::from(kind);
    match route {
        Some(existing) => {
            let parameters_changed = existing.request_parameters != spec.route_parameters;
            let unchanged = existing.target == target
                && existing.route_response_selection_expression.as_deref() == rrse
                && !parameters_changed
                && authorization_matches(existing, spec, authorizer);
            if !unchanged {
                retry::retry(
                    Policy::conflict(),
                    None,
                    retry::apigatewayv2_conflict,
                    || {
                        client
                            .update_route()
                            .api_id(api_id)
                            .route_id(&existing.id)
                            .target(&target)
                            // An empty expression removes it: the route becomes one-way.
                            .route_response_selection_expression(rrse.unwrap_or(""))
                            // Detaching sends NONE and an empty id, which removes it.
                            .authorization_type(kind.clone())
                            .authorizer_id(authorizer_id.unwrap_or(""))
                            // UpdateRoute adds and changes the parameters it names...
                            .set_request_parameters(
                                parameters.clone().filter(|_| parameters_changed),
                            )
                            .send()
                    },
                )
                .await
                .map_err(|e| aws_error(&format!("updating route {}", spec.route_key), &e))?;
            }
            // ...and keeps the others: a parameter no longer declared is deleted on its own
            // (as Terraform's aws_apigatewayv2_route does).
            for stale in existing
                .request_parameters
                .keys()
                .filter(|k| !spec.route_parameters.contains_key(*k))
            {
                let result = retry::retry(
                    Policy::conflict(),
                    None,
                    retry::apigatewayv2_conflict,
                    || {
                        client
                            .delete_route_request_parameter()
                            .api_id(api_id)
                            .route_id(&existing.id)
                            .request_parameter_key(stale)
                            .send()
                    },
                )
                .await;
                absent_if(result, |e| e.is_not_found_exception()).map_err(|e| {
                    aws_error(
                        &format!(
                            "removing request parameter {stale} of route {}",
                            spec.route_key
                        ),
                        &e,
                    )
                })?;
            }
            Ok(existing.id.clone())
        }
        None => {
            let created = retry::retry(
                Policy::conflict(),
                None,
                retry::apigatewayv2_conflict,
                || {
                    client
                        .create_route()
                        .api_id(api_id)
                        .route_key(&spec.route_key)
                        .target(&target)
                        .set_route_response_selection_expression(rrse.map(str::to_owned))
                        .authorization_type(kind.clone())
                        .set_authorizer_id(authorizer_id.map(str::to_owned))
                        .set_request_parameters(parameters.clone())
                        .send()
                },
            )
            .await
            .map_err(|e| aws_error(&format!("creating route {}", spec.route_key), &e))?;
            created
                .route_id()
                .map(str::to_owned)
                .context("CreateRoute returned no id")
        }
    }
}

pub async fn apply_responses(
    ctx: &Ctx,
    api_id: &str,
    spec: &RouteSpec,
    route_id: &str,
    observed: &[(String, String)],
) -> Result<()> {
    let client = &ctx.aws.apigatewayv2;
    let has_default = observed.iter().any(|(_, k)| k == DEFAULT_RESPONSE_KEY);
    if spec.two_way && !has_default {
        retry::retry(
            Policy::conflict(),
            None,
            retry::apigatewayv2_conflict,
            || {
                client
                    .create_route_response()
                    .api_id(api_id)
                    .route_id(route_id)
                    .route_response_key(DEFAULT_RESPONSE_KEY)
                    .send()
            },
        )
        .await
        .map_err(|e| {
            aws_error(
                &format!("creating the route response of {}", spec.route_key),
                &e,
            )
        })?;
    }
    for (id, _) in observed
        .iter()
        .filter(|(_, k)| !(spec.two_way && k == DEFAULT_RESPONSE_KEY))
    {
        let result = retry::retry(
            Policy::conflict(),
            None,
            retry::apigatewayv2_conflict,
            || {
                client
                    .delete_route_response()
                    .api_id(api_id)
                    .route_id(route_id)
                    .route_response_id(id)
                    .send()
            },
        )
        .await;
        absent_if(result, |e| e.is_not_found_exception()).map_err(|e| {
            aws_error(
                &format!("deleting a route response of {}", spec.route_key),
                &e,
            )
        })?;
    }
    Ok(())
}

pub async fn delete(ctx: &Ctx, api_id: &str, route: &Observed) -> Result<()> {
    let client = &ctx.aws.apigatewayv2;
    let result = retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || {
            client
                .delete_route()
                .api_id(api_id)
                .route_id(&route.id)
                .send()
        },
    )
    .await;
    absent_if(result, |e| e.is_not_found_exception())
        .map_err(|e| aws_error(&format!("deleting route {}", route.key), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat_api::routes;

    fn route(key: &str, target: &str) -> Observed {
        Observed {
            id: format!("r-{key}"),
            key: key.into(),
            target: target.into(),
            route_response_selection_expression: None,
            request_parameters: BTreeMap::new(),
            responses: vec![],
            authorization_type: NO_AUTHORIZATION.into(),
            authorizer_id: None,
        }
    }

    fn integration(id: &str, uri: &str) -> integrations::Observed {
        integrations::Observed {
            id: id.into(),
            integration_type: "HTTP".into(),
            method: "POST".into(),
            uri: uri.into(),
            passthrough: "WHEN_NO_MATCH".into(),
            timeout_ms: 29_000,
            request_parameters: std::collections::BTreeMap::default(),
            responses: vec![],
        }
    }

    #[test]
    fn an_orphan_integration_is_adopted_by_uri_not_duplicated() {
        let desired = routes();
        let orphans = vec![integration(
            "i-who",
            &desired[4].integration_uri(Scheme::Https),
        )];
        let bindings = bind(&desired, Scheme::Https, &[], &orphans);
        assert_eq!(
            bindings[4].integration.map(|i| i.id.as_str()),
            Some("i-who")
        );
        assert!(bindings[..4].iter().all(|b| b.integration.is_none()));
        let (_, stray) = strays(&desired, &bindings, &[], &orphans);
        assert!(stray.is_empty());
    }

    #[test]
    fn undesired_routes_and_unused_integrations_are_strays() {
        let desired = routes();
        let all_routes = [route("broadcast", "integrations/i-old")];
        let all_integrations = [integration(
            "i-old",
            "https://${stageVariables.backendHost}/broadcast",
        )];
        let bindings = bind(&desired, Scheme::Https, &all_routes, &all_integrations);
        let (r, i) = strays(&desired, &bindings, &all_routes, &all_integrations);
        assert_eq!(r.len(), 1);
        assert_eq!(i.len(), 1);
    }

    #[test]
    fn one_way_route_with_a_response_loses_it() {
        let spec = &routes()[0];
        let route = Observed {
            responses: vec![("rr".into(), "$default".into())],
            ..route("$connect", "integrations/i")
        };
        let steps = plan_responses(spec, Some(&route));
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, Action::Delete);
    }

    #[test]
    fn connect_without_its_declared_query_string_is_an_update() {
        let spec = &routes()[0];
        let integrations = [integration("i", &spec.integration_uri(Scheme::Https))];
        let undeclared = [route("$connect", "integrations/i")];
        let bindings = bind(
            std::slice::from_ref(spec),
            Scheme::Https,
            &undeclared,
            &integrations,
        );
        let step = plan(spec, &bindings[0], false, None);
        assert_eq!(step.action, Action::Update);
        assert_eq!(step.changes[0].field, "request_parameters");
        assert_eq!(
            step.changes[0].new,
            "{route.request.querystring.name (required: false)}"
        );
        let declared = [Observed {
            request_parameters: spec.route_parameters.clone(),
            ..route("$connect", "integrations/i")
        }];
        let bindings = bind(
            std::slice::from_ref(spec),
            Scheme::Https,
            &declared,
            &integrations,
        );
        assert_eq!(plan(spec, &bindings[0], false, None).action, Action::Keep);
        assert_eq!(
            sdk_parameters(spec).unwrap()["route.request.querystring.name"].required(),
            Some(false)
        );
    }

    #[test]
    fn connect_with_verified_names_needs_the_authorizer() {
        let spec = &crate::chat_api::routes_for(crate::chat_api::Identity::Authorizer)[0];
        let integrations = [integration("i", &spec.integration_uri(Scheme::Https))];
        let open = [route("$connect", "integrations/i")];
        let bindings = bind(
            std::slice::from_ref(spec),
            Scheme::Https,
            &open,
            &integrations,
        );
        let step = plan(spec, &bindings[0], false, Some("auth1"));
        assert_eq!(step.action, Action::Update);
        assert_eq!(step.changes[0].field, "authorization");
        assert_eq!(step.changes[0].old, "NONE");
        assert_eq!(step.changes[0].new, "CUSTOM (auth1)");
        let guarded = [Observed {
            authorization_type: CUSTOM_AUTHORIZATION.into(),
            authorizer_id: Some("auth1".into()),
            ..route("$connect", "integrations/i")
        }];
        let bindings = bind(
            std::slice::from_ref(spec),
            Scheme::Https,
            &guarded,
            &integrations,
        );
        assert_eq!(
            plan(spec, &bindings[0], false, Some("auth1")).action,
            Action::Keep
        );
        // Back to names from the client: the authorizer is detached.
        let open_spec = &routes()[0];
        let bindings = bind(
            std::slice::from_ref(open_spec),
            Scheme::Https,
            &guarded,
            &integrations,
        );
        let step = plan(open_spec, &bindings[0], false, None);
        assert!(
            step.changes
                .iter()
                .any(|c| c.field == "authorization" && c.new == "NONE")
        );
    }

    #[test]
    fn two_way_route_without_response_gets_one() {
        let spec = &routes()[3];
        let steps = plan_responses(spec, None);
        assert_eq!(steps[0].action, Action::Create);
    }
}
