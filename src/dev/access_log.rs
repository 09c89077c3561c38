//! The access log of `chatctl dev`: for every connect, message and disconnect, the line the
//! deployed stage writes to CloudWatch Logs ([`chat_api::ACCESS_LOG_FORMAT`] with the request's
//! `$context` values), appended to `{log dir}/{stage}/access.log` for `chatctl logs --dev`.
//!
//! Values are JSON-escaped (the format puts each in quotes) and a value the request does not
//! have is `-`, as in API Gateway's access logs. A new session starts a new file; the previous
//! one is kept as `access.log.1`.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use time::OffsetDateTime;

use super::mapping::{EventType, epoch_millis};
use crate::chat_api;
use crate::logs::{Source, local};

/// What one access-log line says about a request.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub request_id: &'a str,
    pub connection_id: &'a str,
    pub route_key: &'a str,
    pub event_type: EventType,
    pub source_ip: &'a str,
    pub request_time: OffsetDateTime,
    pub integration_latency_ms: Option<u128>,
    /// `$context.error.message`: set when the gateway itself answered with an error.
    pub error: Option<&'a str>,
}

impl Entry<'_> {
    fn variable(&self, name: &str) -> Option<String> {
        Some(match name {
            "requestId" => self.request_id.to_owned(),
            "connectionId" => self.connection_id.to_owned(),
            "routeKey" => self.route_key.to_owned(),
            "eventType" => self.event_type.as_str().to_owned(),
            "identity.sourceIp" => self.source_ip.to_owned(),
            "requestTime" => super::mapping::clf_time(self.request_time)?,
            "requestTimeEpoch" => epoch_millis(self.request_time).to_string(),
            "integrationLatency" => self.integration_latency_ms?.to_string(),
            "error.message" => self.error?.to_owned(),
            _ => return None,
        })
    }
}

/// Renders `format` (`$context.name` placeholders) for `entry`.
pub fn render(format: &str, entry: &Entry<'_>) -> String {
    const PREFIX: &str = "$context.";
    let mut out = String::with_capacity(format.len() + 64);
    let mut rest = format;
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let after = &rest[at + PREFIX.len()..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(after.len());
        let name = after[..len].trim_end_matches('.');
        let value = entry.variable(name).unwrap_or_else(|| "-".to_owned());
        let escaped = serde_json::to_string(&value).unwrap_or_default();
        // Without the quotes JSON puts around a string: the format has its own.
        out.push_str(
            escaped
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .unwrap_or(&escaped),
        );
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    out
}

/// Where access lines go (nowhere with `--no-log-files`).
#[derive(Debug, Default)]
pub struct AccessLog {
    file: Option<Mutex<std::fs::File>>,
}

impl AccessLog {
    /// Starts `{dir}/{stage}/access.log` afresh (keeping the previous session's as `.1`).
    pub fn create(dir: &Path, stage: &str) -> Result<Self> {
        let path = local::file(dir, stage, Source::Access);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the log directory {}", parent.display()))?;
        }
        if path.exists() {
            let mut previous = path.clone().into_os_string();
            previous.push(".1");
            std::fs::rename(&path, &previous)
                .with_context(|| format!("cannot rotate {}", path.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write the access log {}", path.display()))?;
        Ok(Self {
            file: Some(Mutex::new(file)),
        })
    }

    /// Appends the line of `entry`; a write that fails is logged, never fatal.
    pub fn write(&self, entry: &Entry<'_>) {
        let Some(file) = &self.file else {
            return;
        };
        let line = local::record(
            i64::try_from(epoch_millis(OffsetDateTime::now_utc())).unwrap_or_default(),
            &render(chat_api::ACCESS_LOG_FORMAT, entry),
        );
        let written = file
            .lock()
            .map_err(|_| std::io::Error::other("the access log's lock is poisoned"))
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(err) = written {
            tracing::warn!("cannot write the access log: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            request_id: "LQ1bJGp5FiAFVwg=",
            connection_id: "LQ1bJc3kliACFZQ=",
            route_key: "$connect",
            event_type: EventType::Connect,
            source_ip: "127.0.0.1",
            request_time: OffsetDateTime::from_unix_timestamp(1_764_619_262).unwrap(),
            integration_latency_ms: Some(12),
            error: None,
        }
    }

    #[test]
    fn the_deployed_format_is_rendered_with_the_requests_values() {
        let line = render(chat_api::ACCESS_LOG_FORMAT, &entry());
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "requestId": "LQ1bJGp5FiAFVwg=",
                "ip": "127.0.0.1",
                "requestTime": "01/Dec/2025:20:01:02 +0000",
                "eventType": "CONNECT",
                "routeKey": "$connect",
                "connectionId": "LQ1bJc3kliACFZQ=",
                "integrationLatency": "12",
                "error": "-",
            })
        );
        // What `chatctl logs` makes of the line: the same event as on AWS.
        let event = crate::logs::Event::parse(Source::Access, 0, "1".into(), &line);
        assert_eq!(event.connection_id.as_deref(), Some("LQ1bJc3kliACFZQ="));
        assert_eq!(event.request_id.as_deref(), Some("LQ1bJGp5FiAFVwg="));
    }

    #[test]
    fn values_are_escaped_and_unknown_variables_are_dashes() {
        let mut e = entry();
        e.error = Some("say \"no\"");
        e.integration_latency_ms = None;
        assert_eq!(
            render(
                r#"{"e":"$context.error.message","l":"$context.integrationLatency","x":"$context.nope"} $context.stage."#,
                &e
            ),
            r#"{"e":"say \"no\"","l":"-","x":"-"} -."#
        );
    }

    #[test]
    fn a_session_starts_a_new_file_and_keeps_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::create(dir.path(), "dev").unwrap();
        log.write(&entry());
        drop(log);
        let path = dir.path().join("dev/access.log");
        let first = std::fs::read_to_string(&path).unwrap();
        let (_, message) = local::parse_record(first.trim_end()).unwrap();
        assert_eq!(message, render(chat_api::ACCESS_LOG_FORMAT, &entry()));
        let log = AccessLog::create(dir.path(), "dev").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("dev/access.log.1")).unwrap(),
            first
        );
        log.write(&entry());
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        AccessLog::default().write(&entry());
    }
}
