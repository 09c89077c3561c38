//! `chatctl logs`: the stack's access log, API Gateway's execution log and the backend's log,
//! merged by time, one line per event; from CloudWatch Logs, or from the files `chatctl dev`
//! writes (`--dev`).
//!
//! Events are tied together by ids: an access line names its connection and request; an
//! execution line its request (`(requestId) …`); the handler's lines name the connection and
//! request of their span and Lambda's request id, which Lambda's own `START`/`REPORT` lines
//! carry. So `--connection ID` shows every event of one connection across the three sources,
//! and lines that don't name their connection show it when another line tied it to them.
//!
//! `--follow` polls (every 0.5 s, doubling up to 5 s while nothing arrives; back to 0.5 s when
//! something does), reads each group from a few seconds before its newest event (CloudWatch
//! may store an event after newer ones) and drops what it already printed. Ctrl-C or SIGTERM
//! ends it with exit status 0.

pub mod cloudwatch;
pub mod event;
pub mod local;
pub mod redact;
pub mod since;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

pub use event::{Event, Source};
pub use since::parse_duration;

use crate::chat_api::BACKEND_SECRET_VARIABLE;
use crate::config::{Backend, Config};
use crate::resources::{Ctx, api, log_groups, stage};
use crate::ui::Ui;

/// What to show.
#[derive(Debug, Clone)]
pub struct Options {
    pub since: Duration,
    pub follow: bool,
    pub connection: Option<String>,
    /// Empty: every source.
    pub sources: Vec<Source>,
}

impl Options {
    fn wants(&self, source: Source) -> bool {
        self.sources.is_empty() || self.sources.contains(&source)
    }
}

/// Polling while following: quick after activity, slower while idle.
const POLL_MIN: Duration = Duration::from_millis(500);
const POLL_MAX: Duration = Duration::from_secs(5);
/// How far before the newest event seen a group is read again.
const LOOKBACK_MS: i64 = 10_000;
/// How long an event that may still turn out to belong to `--connection` is kept.
const PENDING_MS: i64 = 30_000;

/// Where events come from: CloudWatch log groups, or `chatctl dev`'s files.
enum Origin {
    Cloud {
        logs: aws_sdk_cloudwatchlogs::Client,
        groups: Vec<cloudwatch::Group>,
    },
    Local(Vec<(Source, local::Tail)>),
}

/// Shows the deployed stack's logs.
pub async fn show(ctx: &Ctx, config: &Config, options: &Options, ui: &Ui) -> Result<()> {
    let wants_backend = options.wants(Source::Backend);
    if wants_backend && !options.sources.is_empty() && !matches!(config.backend, Backend::Lambda(_))
    {
        anyhow::bail!(
            "--source backend: backend.kind = \"http\" runs your own server, whose logs chatctl cannot read; the access and execution logs are available"
        );
    }
    // The API names the execution log's group and carries the secret to mask.
    let (api, secret) = observe_api(ctx).await?;
    let mut groups = Vec::new();
    if options.wants(Source::Access) {
        groups.push(cloudwatch::Group {
            source: Source::Access,
            name: ctx.names.access_log_group.clone(),
        });
    }
    if options.wants(Source::Execution) {
        match &api {
            Some(id) => groups.push(cloudwatch::Group {
                source: Source::Execution,
                name: log_groups::execution_log_group(id, &config.stage),
            }),
            None => ui.note(&format!(
                "stack {} has no API in {}: no execution log (run `chatctl up`)",
                ctx.names.stack, config.region
            )),
        }
    }
    if wants_backend && matches!(config.backend, Backend::Lambda(_)) {
        groups.push(cloudwatch::Group {
            source: Source::Backend,
            name: ctx.names.function_log_group.clone(),
        });
    }
    let origin = Origin::Cloud {
        logs: ctx.aws.logs.clone(),
        groups,
    };
    stream(
        origin,
        redact::Redactor::new(known_secrets(secret)),
        options,
        ui,
    )
    .await
}

/// Shows the logs `chatctl dev` wrote for `stage` under `dir`.
pub async fn show_local(dir: PathBuf, stage: &str, options: &Options, ui: &Ui) -> Result<()> {
    let tails: Vec<(Source, local::Tail)> = Source::ALL
        .into_iter()
        .filter(|s| options.wants(*s))
        .map(|s| (s, local::Tail::new(local::file(&dir, stage, s))))
        .collect();
    if !options.follow && !tails.iter().any(|(_, t)| t.path().exists()) {
        anyhow::bail!(
            "no logs of `chatctl dev` in {}: run `chatctl dev` (from this directory, or with --log-dir) first",
            dir.join(stage).display()
        );
    }
    stream(
        Origin::Local(tails),
        redact::Redactor::new(known_secrets(None)),
        options,
        ui,
    )
    .await
}

/// The primary API's id and the backend secret deployed on its stage.
async fn observe_api(ctx: &Ctx) -> Result<(Option<String>, Option<String>)> {
    let apis = api::observe(ctx).await?;
    let Some(primary) = apis.primary() else {
        return Ok((None, None));
    };
    let secret = stage::observe(ctx, &primary.id, &ctx.stage)
        .await?
        .and_then(|s| s.variables.get(BACKEND_SECRET_VARIABLE).cloned());
    Ok((Some(primary.id.clone()), secret))
}

/// Secret values to mask wherever they appear: the stack's, and those in this environment.
fn known_secrets(deployed: Option<String>) -> Vec<String> {
    let from_env = [
        crate::stack::BACKEND_SECRET_ENV,
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .into_iter()
    .filter_map(|name| std::env::var(name).ok());
    deployed.into_iter().chain(from_env).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Reads, ties together, filters and prints; with `--follow` until a signal.
async fn stream(
    mut origin: Origin,
    redactor: redact::Redactor,
    options: &Options,
    ui: &Ui,
) -> Result<()> {
    let since = i64::try_from(options.since.as_millis()).unwrap_or(i64::MAX);
    let mut reader = Reader::new(now_ms().saturating_sub(since));
    let mut links = Links::default();
    let mut pending: Vec<Event> = Vec::new();
    let mut missing_noted = HashSet::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut wait = POLL_MIN;
    loop {
        let batch = tokio::select! {
            batch = reader.poll(&mut origin) => batch?,
            () = &mut stop => return Ok(()),
        };
        for name in batch.missing {
            if missing_noted.insert(name.clone()) {
                ui.note(&format!(
                    "log group {name} does not exist yet (nothing was logged there)"
                ));
            }
        }
        let arrived = !batch.events.is_empty();
        links.learn(&batch.events);
        let mut ready: Vec<Event> = std::mem::take(&mut pending);
        ready.extend(batch.events);
        ready.sort_by(|a, b| (a.timestamp, a.source, &a.id).cmp(&(b.timestamp, b.source, &b.id)));
        let newest = reader.newest;
        for mut event in ready {
            links.fill(&mut event);
            match &options.connection {
                Some(wanted) if event.connection_id.as_deref() != Some(wanted.as_str()) => {
                    // A later line may still tie it to the connection (its access line is
                    // written when the request ends); keep it a while when following.
                    if options.follow && newest - event.timestamp < PENDING_MS {
                        pending.push(event);
                    }
                    continue;
                }
                _ => {}
            }
            event.message = redactor.text(&event.message);
            redactor.fields(&mut event.fields);
            let line = format!(
                "{} {:<9} {} {}",
                event.time,
                event.source.as_str(),
                event
                    .connection_id
                    .as_deref()
                    .or(event.request_id.as_deref())
                    .or(event.lambda_request_id.as_deref())
                    .unwrap_or("-"),
                event.message
            );
            if !ui.stream_line(&line, &event) {
                // Nobody reads stdout any more (`chatctl logs | head`).
                return Ok(());
            }
        }
        if !options.follow {
            return Ok(());
        }
        wait = if arrived {
            POLL_MIN
        } else {
            (wait * 2).min(POLL_MAX)
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut stop => return Ok(()),
        }
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One poll's new events, and the groups that do not exist.
struct Batch {
    events: Vec<Event>,
    missing: Vec<String>,
}

/// Reads every source from where it stopped, dropping events already returned.
struct Reader {
    start: i64,
    /// Per source: events returned, by id, with their time (forgotten once out of the
    /// look-back window).
    seen: BTreeMap<Source, HashMap<String, i64>>,
    /// The newest event time of any source (ms).
    newest: i64,
}

impl Reader {
    fn new(start: i64) -> Self {
        Self {
            start,
            seen: BTreeMap::new(),
            newest: start,
        }
    }

    fn from(&self, source: Source) -> i64 {
        self.seen
            .get(&source)
            .and_then(|seen| seen.values().max().copied())
            .map_or(self.start, |newest| (newest - LOOKBACK_MS).max(self.start))
    }

    async fn poll(&mut self, origin: &mut Origin) -> Result<Batch> {
        let mut raw: Vec<(Source, Vec<cloudwatch::Raw>)> = Vec::new();
        let mut missing = Vec::new();
        match origin {
            Origin::Cloud { logs, groups } => {
                let logs = &*logs;
                let reads = futures::future::try_join_all(groups.iter().map(|group| {
                    let from = self.from(group.source);
                    async move {
                        let read = cloudwatch::read(logs, group, from).await?;
                        Ok::<_, anyhow::Error>((group, read))
                    }
                }))
                .await?;
                for (group, read) in reads {
                    match read {
                        cloudwatch::Read::Events(events) => raw.push((group.source, events)),
                        cloudwatch::Read::Missing => missing.push(group.name.clone()),
                    }
                }
            }
            Origin::Local(tails) => {
                for (source, tail) in tails.iter_mut() {
                    match tail.read().context("reading the logs of chatctl dev")? {
                        Some(events) => raw.push((*source, events)),
                        None => missing.push(tail.path().display().to_string()),
                    }
                }
            }
        }
        let mut events = Vec::new();
        for (source, batch) in raw {
            let seen = self.seen.entry(source).or_default();
            for item in batch {
                if item.timestamp < self.start || seen.contains_key(&item.id) {
                    continue;
                }
                seen.insert(item.id.clone(), item.timestamp);
                self.newest = self.newest.max(item.timestamp);
                events.push(Event::parse(source, item.timestamp, item.id, &item.message));
            }
            let horizon = seen.values().max().copied().unwrap_or(self.start) - 2 * LOOKBACK_MS;
            seen.retain(|_, at| *at >= horizon);
        }
        Ok(Batch { events, missing })
    }
}

/// What the events seen so far say about which connection a request belongs to.
#[derive(Debug, Default)]
struct Links {
    /// API Gateway request id → connection id.
    requests: HashMap<String, String>,
    /// Lambda request id → connection id.
    invocations: HashMap<String, String>,
}

impl Links {
    fn learn(&mut self, events: &[Event]) {
        for event in events {
            let Some(connection) = &event.connection_id else {
                continue;
            };
            if let Some(request) = &event.request_id {
                self.requests.insert(request.clone(), connection.clone());
            }
            if let Some(invocation) = &event.lambda_request_id {
                self.invocations
                    .insert(invocation.clone(), connection.clone());
            }
        }
    }

    /// Names the connection of an event that doesn't, when another event tied it to one.
    fn fill(&self, event: &mut Event) {
        if event.connection_id.is_some() {
            return;
        }
        event.connection_id = event
            .request_id
            .as_ref()
            .and_then(|r| self.requests.get(r))
            .or_else(|| {
                event
                    .lambda_request_id
                    .as_ref()
                    .and_then(|r| self.invocations.get(r))
            })
            .cloned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: Source, at: i64, message: &str) -> Event {
        Event::parse(source, at, format!("{source:?}{at}"), message)
    }

    #[test]
    fn requests_and_invocations_are_tied_to_their_connection() {
        let access = event(
            Source::Access,
            3,
            r#"{"requestId":"R1","eventType":"MESSAGE","routeKey":"who","connectionId":"C1"}"#,
        );
        let handler = event(
            Source::Backend,
            2,
            r#"{"level":"INFO","message":"who","spans":[{"name":"Lambda runtime invoke","requestId":"L1"},{"name":"chat","connection_id":"C1","request_id":"R1"}]}"#,
        );
        let mut execution = event(Source::Execution, 1, "(R1) Received response. Status: 200");
        let mut report = event(Source::Backend, 4, "REPORT RequestId: L1\tDuration: 1 ms");
        let mut other = event(Source::Execution, 5, "(R2) Received response. Status: 200");
        let mut links = Links::default();
        links.learn(&[access.clone(), handler.clone()]);
        for e in [&mut execution, &mut report, &mut other] {
            links.fill(e);
        }
        assert_eq!(execution.connection_id.as_deref(), Some("C1"));
        assert_eq!(report.connection_id.as_deref(), Some("C1"));
        assert_eq!(other.connection_id, None);
    }
}
