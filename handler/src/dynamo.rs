//! The DynamoDB connection registry used on Lambda, where concurrent instances share nothing.
//!
//! Table layout (created by the deployer; see [`schema`]):
//! - hash key `connectionId` (S); attributes `name` (S), `connectedAt` (S, RFC 3339) and
//!   `expiresAt` (N, epoch seconds);
//! - global secondary index `byName`: hash key `name`, projection ALL.
//!
//! Lookups by name go through the `byName` index with `Query` rather than a `Scan` with a filter:
//! every `sendmessage` looks up its addressee, and a Scan reads (and bills) the whole table each
//! time, while a Query reads only the addressee's few items. The index is eventually consistent,
//! which matters only for a message sent in the instant after the addressee connected. `who`
//! needs every name anyway, so it scans (projecting only the name).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use time::OffsetDateTime;

use crate::protocol::format_rfc3339;
use crate::registry::Registry;

/// Names the deployer needs to create the table this registry reads and writes.
pub mod schema {
    /// Table hash key (type S).
    pub const CONNECTION_ID: &str = "connectionId";
    /// The user name (type S); hash key of [`BY_NAME_INDEX`].
    pub const NAME: &str = "name";
    /// When the connection joined (type S, RFC 3339 UTC).
    pub const CONNECTED_AT: &str = "connectedAt";
    /// Epoch seconds after which the item is stale (type N); the table's TTL attribute.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// Global secondary index on [`NAME`], projection ALL.
    pub const BY_NAME_INDEX: &str = "byName";
}

/// API Gateway closes every WebSocket connection after two hours, and `$disconnect` is only
/// best effort: an item older than that (plus slack for clock skew) belongs to a connection
/// that no longer exists, so reads ignore it and DynamoDB's TTL eventually deletes it.
const CONNECTION_LIFETIME: Duration = Duration::from_mins(2 * 60 + 5);

/// `name` is a DynamoDB reserved word, so expressions refer to it through this placeholder.
const NAME_PLACEHOLDER: &str = "#n";

/// A registry in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoRegistry {
    client: Client,
    table: String,
}

impl DynamoRegistry {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn string_attr<'a>(item: &'a HashMap<String, AttributeValue>, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

/// Whether the item still describes a possibly-open connection. Items without `expiresAt`
/// (written by something else) count as live.
fn is_live(item: &HashMap<String, AttributeValue>, now: i64) -> bool {
    item.get(schema::EXPIRES_AT)
        .and_then(|value| value.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .is_none_or(|expires_at| expires_at > now)
}

fn now_epoch() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait]
impl Registry for DynamoRegistry {
    async fn put(&self, connection_id: &str, name: &str) -> anyhow::Result<()> {
        let now = OffsetDateTime::now_utc();
        let expires_at = now + CONNECTION_LIFETIME;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(
                schema::CONNECTION_ID,
                AttributeValue::S(connection_id.to_owned()),
            )
            .item(schema::NAME, AttributeValue::S(name.to_owned()))
            .item(schema::CONNECTED_AT, AttributeValue::S(format_rfc3339(now)))
            .item(
                schema::EXPIRES_AT,
                AttributeValue::N(expires_at.unix_timestamp().to_string()),
            )
            .send()
            .await
            .with_context(|| {
                format!("registering a connection in DynamoDB table {}", self.table)
            })?;
        Ok(())
    }

    async fn remove(&self, connection_id: &str) -> anyhow::Result<Option<String>> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(
                schema::CONNECTION_ID,
                AttributeValue::S(connection_id.to_owned()),
            )
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .with_context(|| format!("removing a connection from DynamoDB table {}", self.table))?;
        Ok(output
            .attributes()
            .and_then(|item| string_attr(item, schema::NAME))
            .map(str::to_owned))
    }

    async fn name_of(&self, connection_id: &str) -> anyhow::Result<Option<String>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(
                schema::CONNECTION_ID,
                AttributeValue::S(connection_id.to_owned()),
            )
            // A client's first message can follow its $connect within milliseconds.
            .consistent_read(true)
            .projection_expression(format!("{NAME_PLACEHOLDER}, {}", schema::EXPIRES_AT))
            .expression_attribute_names(NAME_PLACEHOLDER, schema::NAME)
            .send()
            .await
            .with_context(|| format!("looking up a connection in DynamoDB table {}", self.table))?;
        let now = now_epoch();
        Ok(output
            .item()
            .filter(|item| is_live(item, now))
            .and_then(|item| string_attr(item, schema::NAME))
            .map(str::to_owned))
    }

    async fn connections_of(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(schema::BY_NAME_INDEX)
            .key_condition_expression(format!("{NAME_PLACEHOLDER} = :name"))
            .expression_attribute_names(NAME_PLACEHOLDER, schema::NAME)
            .expression_attribute_values(":name", AttributeValue::S(name.to_owned()))
            .into_paginator()
            .send();
        let now = now_epoch();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.with_context(|| {
                format!(
                    "querying index {} of DynamoDB table {}",
                    schema::BY_NAME_INDEX,
                    self.table
                )
            })?;
            ids.extend(
                page.items()
                    .iter()
                    .filter(|item| is_live(item, now))
                    .filter_map(|item| string_attr(item, schema::CONNECTION_ID))
                    .map(str::to_owned),
            );
        }
        Ok(ids)
    }

    async fn names(&self) -> anyhow::Result<Vec<String>> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression(format!("{NAME_PLACEHOLDER}, {}", schema::EXPIRES_AT))
            .expression_attribute_names(NAME_PLACEHOLDER, schema::NAME)
            .into_paginator()
            .send();
        let now = now_epoch();
        let mut names = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.with_context(|| format!("scanning DynamoDB table {}", self.table))?;
            names.extend(
                page.items()
                    .iter()
                    .filter(|item| is_live(item, now))
                    .filter_map(|item| string_attr(item, schema::NAME))
                    .map(str::to_owned),
            );
        }
        Ok(names.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn expired_items_are_not_live() {
        let now = 1_000;
        assert!(is_live(
            &item(&[(schema::NAME, AttributeValue::S("a".into()))]),
            now
        ));
        assert!(is_live(
            &item(&[(schema::EXPIRES_AT, AttributeValue::N("1001".into()))]),
            now
        ));
        assert!(!is_live(
            &item(&[(schema::EXPIRES_AT, AttributeValue::N("1000".into()))]),
            now
        ));
        assert!(!is_live(
            &item(&[(schema::EXPIRES_AT, AttributeValue::N("5".into()))]),
            now
        ));
    }
}
