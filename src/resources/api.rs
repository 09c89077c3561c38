//! The WebSocket API. API names are not unique, so the stack's API is the one tagged
//! `chatctl:stack={stack}` (tags are given at create time, so there is no untagged window).
//! Extra APIs with the same tag — left by a run killed after CreateApi — are duplicates:
//! `up` and `down` delete them.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::ProtocolType;

use super::{Ctx, absent_if, aws_error, collect_pages};
use crate::chat_api::ROUTE_SELECTION_EXPRESSION;
use crate::config::STACK_TAG;
use crate::partition::Partition;
use crate::plan::{Action, FieldChange, Step};
use crate::retry::{self, Policy};

pub const KIND: &str = "websocket api";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub route_selection_expression: String,
    pub created: Option<i64>,
}

/// Every WebSocket API chatctl created in the region, grouped by the stack tag.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// This stack's APIs, oldest first: the first is the stack's API, the rest duplicates.
    pub ours: Vec<Observed>,
    /// Names of other chatctl stacks in the region.
    pub other_stacks: BTreeSet<String>,
}

impl Inventory {
    pub fn primary(&self) -> Option<&Observed> {
        self.ours.first()
    }

    pub fn duplicates(&self) -> &[Observed] {
        self.ours.get(1..).unwrap_or_default()
    }
}

pub async fn observe(ctx: &Ctx) -> Result<Inventory> {
    let client = &ctx.aws.apigatewayv2;
    let apis = collect_pages(|token| async move {
        let page = client
            .get_apis()
            .set_next_token(token)
            .max_results("500")
            .send()
            .await
            .map_err(|e| aws_error("listing API Gateway APIs", &e))?;
        Ok((page.items().to_vec(), page.next_token().map(str::to_owned)))
    })
    .await?;
    let mut inventory = Inventory::default();
    for api in &apis {
        if api.protocol_type() != Some(&ProtocolType::Websocket) {
            continue;
        }
        let Some(stack) = api.tags().and_then(|t| t.get(STACK_TAG)) else {
            continue;
        };
        if *stack == ctx.names.stack {
            inventory.ours.push(Observed {
                id: api.api_id().unwrap_or_default().to_owned(),
                name: api.name().unwrap_or_default().to_owned(),
                endpoint: api.api_endpoint().unwrap_or_default().to_owned(),
                route_selection_expression: api
                    .route_selection_expression()
                    .unwrap_or_default()
                    .to_owned(),
                created: api.created_date().map(aws_smithy_types::DateTime::secs),
            });
        } else {
            inventory.other_stacks.insert(stack.clone());
        }
    }
    // Oldest first, id as tie-breaker, so concurrent observers agree on the primary.
    inventory
        .ours
        .sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(inventory)
}

pub fn plan(ctx: &Ctx, inventory: &Inventory) -> Vec<Step> {
    let name = &ctx.names.api;
    let mut steps = vec![match inventory.primary() {
        None => Step::new(KIND, name.clone(), Action::Create),
        Some(api) => {
            let mut changes = Vec::new();
            if api.name != *name {
                changes.push(FieldChange::new("name", &api.name, name));
            }
            if api.route_selection_expression != ROUTE_SELECTION_EXPRESSION {
                changes.push(FieldChange::new(
                    "route_selection_expression",
                    &api.route_selection_expression,
                    ROUTE_SELECTION_EXPRESSION,
                ));
            }
            Step::update_or_keep(KIND, name.clone(), changes)
        }
    }];
    steps.extend(inventory.duplicates().iter().map(|dup| {
        Step::new(KIND, format!("{} ({})", dup.name, dup.id), Action::Delete)
            .with_note("duplicate tagged for this stack")
            .as_leftover()
    }));
    steps
}

/// Creates or updates the stack's API; returns (id, endpoint).
pub async fn apply(ctx: &Ctx, primary: Option<&Observed>) -> Result<Observed> {
    let client = &ctx.aws.apigatewayv2;
    let name = &ctx.names.api;
    if let Some(api) = primary {
        if api.name != *name || api.route_selection_expression != ROUTE_SELECTION_EXPRESSION {
            retry::retry(
                Policy::conflict(),
                None,
                retry::apigatewayv2_conflict,
                || {
                    client
                        .update_api()
                        .api_id(&api.id)
                        .name(name)
                        .route_selection_expression(ROUTE_SELECTION_EXPRESSION)
                        .send()
                },
            )
            .await
            .map_err(|e| aws_error(&format!("updating API {}", api.id), &e))?;
        }
        return Ok(Observed {
            name: name.clone(),
            route_selection_expression: ROUTE_SELECTION_EXPRESSION.to_owned(),
            ..api.clone()
        });
    }
    let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
    let created = retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || {
            client
                .create_api()
                .name(name)
                .protocol_type(ProtocolType::Websocket)
                .route_selection_expression(ROUTE_SELECTION_EXPRESSION)
                .description(format!("chatctl stack {}", ctx.names.stack))
                .set_tags(Some(tags.clone()))
                .send()
        },
    )
    .await
    .map_err(|e| aws_error(&format!("creating WebSocket API {name}"), &e))?;
    Ok(Observed {
        id: created
            .api_id()
            .context("CreateApi returned no id")?
            .to_owned(),
        name: name.clone(),
        endpoint: created.api_endpoint().unwrap_or_default().to_owned(),
        route_selection_expression: ROUTE_SELECTION_EXPRESSION.to_owned(),
        created: created.created_date().map(aws_smithy_types::DateTime::secs),
    })
}

/// Deletes an API with everything in it; already gone is success.
pub async fn delete(ctx: &Ctx, id: &str) -> Result<()> {
    let client = &ctx.aws.apigatewayv2;
    let result = retry::retry(
        Policy::conflict(),
        None,
        retry::apigatewayv2_conflict,
        || client.delete_api().api_id(id).send(),
    )
    .await;
    absent_if(result, |e| e.is_not_found_exception())
        .map_err(|e| aws_error(&format!("deleting API {id}"), &e))?;
    Ok(())
}

/// `wss://{id}.execute-api.{region}.amazonaws.com/{stage}`: what clients connect to (the
/// domain is the partition's: `amazonaws.com.cn` in China).
pub fn websocket_url(api: &Observed, region: &str, stage: &str) -> String {
    let endpoint = if api.endpoint.is_empty() {
        // The region was validated with its partition when the configuration was read.
        let domain = Partition::of_region(region).map_or("amazonaws.com", Partition::dns_suffix);
        format!("wss://{}.execute-api.{region}.{domain}", api.id)
    } else {
        api.endpoint.trim_end_matches('/').to_owned()
    };
    format!("{endpoint}/{stage}")
}

/// `https://{id}.execute-api.{region}.amazonaws.com/{stage}`: the @connections callback URL.
/// Same host and stage as the client URL but https — the wss form does not work here.
pub fn callback_url(api: &Observed, region: &str, stage: &str) -> String {
    let url = websocket_url(api, region, stage);
    match url.strip_prefix("wss://") {
        Some(rest) => format!("https://{rest}"),
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(endpoint: &str) -> Observed {
        Observed {
            id: "abc123".into(),
            name: "chat-dev".into(),
            endpoint: endpoint.into(),
            route_selection_expression: ROUTE_SELECTION_EXPRESSION.into(),
            created: None,
        }
    }

    #[test]
    fn urls_keep_the_stage_once_and_swap_the_scheme() {
        let api = api("wss://abc123.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(
            websocket_url(&api, "eu-west-1", "dev"),
            "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev"
        );
        assert_eq!(
            callback_url(&api, "eu-west-1", "dev"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
        );
    }

    #[test]
    fn urls_are_derived_when_the_endpoint_is_missing() {
        assert_eq!(
            callback_url(&api(""), "us-east-1", "prod"),
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
        );
        assert_eq!(
            websocket_url(&api(""), "cn-north-1", "prod"),
            "wss://abc123.execute-api.cn-north-1.amazonaws.com.cn/prod"
        );
    }
}
