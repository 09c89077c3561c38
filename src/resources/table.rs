//! The DynamoDB table of the connection registry (`{stack}-connections`): on-demand billing,
//! the key schema and `byName` index the backend's registry reads (`chat_handler::schema`,
//! the single definition), and TTL on `expiresAt` so connections whose `$disconnect` never
//! came are deleted eventually.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, Tag, TimeToLiveSpecification,
};
use chat_handler::schema;

use super::{Ctx, absent_if, aws_error};
use crate::ownership::{Claim, Found};
use crate::plan::{Action, FieldChange, Step};
use crate::retry::scaled;

pub const KIND: &str = "dynamodb table";
const ACTIVE_WAIT: Duration = Duration::from_mins(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    pub status: String,
    pub on_demand: bool,
    pub has_name_index: bool,
}

/// Reads the table and, when it exists, its tags (DescribeTable does not return them; the
/// tag read runs only for a table that exists).
pub async fn observe(ctx: &Ctx) -> Result<Found<Observed>> {
    let name = &ctx.names.table;
    let out = absent_if(
        ctx.aws
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("reading table {name}"), &e))?;
    let Some(table) = out.and_then(|o| o.table) else {
        return Ok(Found::Absent);
    };
    let observed = Observed {
        arn: table.table_arn().unwrap_or_default().to_owned(),
        status: table
            .table_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        on_demand: table.billing_mode_summary().and_then(|b| b.billing_mode())
            == Some(&BillingMode::PayPerRequest),
        has_name_index: table
            .global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some(schema::BY_NAME_INDEX)),
    };
    let tags = ctx
        .aws
        .dynamodb
        .list_tags_of_resource()
        .resource_arn(&observed.arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the tags of table {name}"), &e))?;
    let claim = Claim::of(&ctx.names, tags.tags().iter().map(|t| (t.key(), t.value())));
    let arn = observed.arn.clone();
    Ok(Found::regional(&claim, observed, KIND, name, &arn))
}

pub fn plan(ctx: &Ctx, observed: Option<&Observed>) -> Step {
    let name = ctx.names.table.clone();
    let Some(table) = observed else {
        return Step::new(KIND, name, Action::Create);
    };
    let mut changes = Vec::new();
    if !table.on_demand {
        changes.push(FieldChange::new(
            "billing_mode",
            "PROVISIONED",
            "PAY_PER_REQUEST",
        ));
    }
    if !table.has_name_index {
        changes.push(FieldChange::new(
            "global_secondary_index",
            "(none)",
            schema::BY_NAME_INDEX,
        ));
    }
    // The registry's data is worth nothing once its connections are gone, so a table with
    // the wrong shape is replaced rather than migrated — but a replace still deletes its
    // items, which the plan says (and `up` asks before doing).
    if changes.is_empty() {
        Step::new(KIND, name, Action::Keep)
    } else {
        Step {
            changes,
            ..Step::new(KIND, name, Action::Replace)
        }
        .losing_data(DATA)
    }
}

/// What deleting the table loses.
pub const DATA: &str = "its items (the connection registry)";

fn attribute(name: &str) -> Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

fn hash_key(name: &str) -> Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(KeyType::Hash)
        .build()?)
}

/// Creates (or replaces) the table and waits until it is ACTIVE; returns its ARN.
pub async fn apply(ctx: &Ctx, observed: Option<&Observed>) -> Result<String> {
    let dynamodb = &ctx.aws.dynamodb;
    let name = &ctx.names.table;
    if let Some(existing) = observed {
        if plan(ctx, observed).action == Action::Keep {
            return Ok(existing.arn.clone());
        }
        delete(ctx).await?;
    }
    let index = GlobalSecondaryIndex::builder()
        .index_name(schema::BY_NAME_INDEX)
        .key_schema(hash_key(schema::NAME)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()?;
    let created = dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(schema::CONNECTION_ID)?)
        .attribute_definitions(attribute(schema::NAME)?)
        .key_schema(hash_key(schema::CONNECTION_ID)?)
        .global_secondary_indexes(index)
        .set_tags(Some(
            ctx.names
                .tags()
                .into_iter()
                .map(|(key, value)| Tag::builder().key(key).value(value).build())
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .send()
        .await;
    match created {
        Ok(_) => {}
        // A concurrent or interrupted run created it: wait for it like for ours.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(aws_error(&format!("creating table {name}"), &e)),
    }
    dynamodb
        .wait_until_table_exists()
        .table_name(name)
        .wait(scaled(ACTIVE_WAIT))
        .await
        .map_err(|e| anyhow::anyhow!("waiting for table {name} to become ACTIVE: {e}"))?;
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(schema::EXPIRES_AT)
                .enabled(true)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("enabling TTL on {name}"), &e))?;
    Ok(observe(ctx)
        .await?
        .ours()
        .map(|t| t.arn.clone())
        .unwrap_or_default())
}

pub async fn delete(ctx: &Ctx) -> Result<()> {
    let name = &ctx.names.table;
    let deleted = absent_if(
        ctx.aws
            .dynamodb
            .delete_table()
            .table_name(name)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("deleting table {name}"), &e))?;
    if deleted.is_some() {
        ctx.aws
            .dynamodb
            .wait_until_table_not_exists()
            .table_name(name)
            .wait(scaled(Duration::from_mins(10)))
            .await
            .map_err(|e| anyhow::anyhow!("waiting for table {name} to be deleted: {e}"))?;
    }
    Ok(())
}
