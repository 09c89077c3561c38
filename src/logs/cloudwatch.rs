//! Reading a stack's log groups from CloudWatch Logs with `FilterLogEvents`, which searches
//! every stream of a group (new streams included) and returns events in time order, page by
//! page (a page may be empty while more follow).

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client;

use super::event::Source;
use crate::resources::aws_error;

/// One of the stack's log groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub source: Source,
    pub name: String,
}

/// An event as CloudWatch stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub id: String,
    pub timestamp: i64,
    pub message: String,
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Events(Vec<Raw>),
    /// The group does not exist (yet): API Gateway and Lambda create theirs on first use.
    Missing,
}

/// More events than this from one group in one read are left for a narrower `--since`.
pub const MAX_EVENTS_PER_READ: usize = 100_000;

/// Every event of `group` with a timestamp at or after `start` (ms since the epoch).
pub async fn read(logs: &Client, group: &Group, start: i64) -> Result<Read> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(&group.name)
            .start_time(start)
            .set_next_token(token.take())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(Read::Missing);
            }
            Err(err) => {
                return Err(aws_error(
                    &format!("reading log group {}", group.name),
                    &err,
                ));
            }
        };
        events.extend(page.events().iter().map(|e| Raw {
            id: e.event_id().unwrap_or_default().to_owned(),
            timestamp: e.timestamp().unwrap_or_default(),
            message: e.message().unwrap_or_default().to_owned(),
        }));
        match page.next_token() {
            Some(next) if !next.is_empty() && events.len() < MAX_EVENTS_PER_READ => {
                token = Some(next.to_owned());
            }
            _ => return Ok(Read::Events(events)),
        }
    }
}
