//! One log event of the stack, whatever its source, and how each source's raw message becomes
//! one: the connection and request it belongs to, and a single-line message with the
//! structured fields flattened (`key=value`).
//!
//! - access (API Gateway's access log, [`crate::chat_api::ACCESS_LOG_FORMAT`]): a JSON object;
//!   `connectionId` and `requestId` become columns, `eventType routeKey` leads the message.
//! - execution (API Gateway's execution log): `(requestId) text`.
//! - backend (the function's log group): the handler's JSON lines (tracing, one object per
//!   event, its spans carrying the connection and request ids) and Lambda's own `START`/`END`/
//!   `REPORT` lines (or their JSON form, `platform.*`), which carry Lambda's request id.

use serde::Serialize;
use serde_json::{Map, Value};

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// API Gateway's access log: one line per connect, message and disconnect.
    Access,
    /// API Gateway's execution log: what the gateway did for a request.
    Execution,
    /// The chat backend (the Lambda function's log group).
    Backend,
}

impl Source {
    pub const ALL: [Self; 3] = [Self::Access, Self::Execution, Self::Backend];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Execution => "execution",
            Self::Backend => "backend",
        }
    }
}

/// One event, ready to print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Milliseconds since the Unix epoch (the event's own time, as CloudWatch stores it).
    #[serde(skip)]
    pub timestamp: i64,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// API Gateway's request id (`$context.requestId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Lambda's request id of the invocation that wrote a backend event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_request_id: Option<String>,
    /// One line: the text, then the structured fields as `key=value`.
    pub message: String,
    /// The structured fields, for `--output json`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// Identifies the event across polls (CloudWatch's event id, or the file position).
    #[serde(skip)]
    pub id: String,
}

impl Event {
    /// Parses `message` written to `source`'s log group at `timestamp`.
    pub fn parse(source: Source, timestamp: i64, id: String, message: &str) -> Self {
        let mut event = Self {
            timestamp,
            time: rfc3339_millis(timestamp),
            source,
            connection_id: None,
            request_id: None,
            lambda_request_id: None,
            message: String::new(),
            fields: Map::new(),
            id,
        };
        let message = message.trim_end_matches(['\n', '\r']);
        match source {
            Source::Access => event.parse_access(message),
            Source::Execution => event.parse_execution(message),
            Source::Backend => event.parse_backend(message),
        }
        event.message = one_line(&event.message);
        event
    }

    fn parse_access(&mut self, message: &str) {
        let Some(Value::Object(object)) = serde_json::from_str::<Value>(message).ok() else {
            message.clone_into(&mut self.message);
            return;
        };
        let mut head = Vec::new();
        for key in ["eventType", "routeKey"] {
            if let Some(value) = object.get(key).and_then(text).filter(|v| present(v)) {
                head.push(value);
            }
        }
        for (key, value) in object {
            match key.as_str() {
                "connectionId" => self.connection_id = text(&value).filter(|v| present(v)),
                "requestId" => self.request_id = text(&value).filter(|v| present(v)),
                _ => {}
            }
            self.fields.insert(key, value);
        }
        self.message = head.join(" ");
        let skip = ["eventType", "routeKey", "connectionId", "requestId"];
        append_fields(&mut self.message, &self.fields, &skip);
    }

    fn parse_execution(&mut self, message: &str) {
        // `(Lj7v0EQ9iAMF_Xw=) Received response. Status: 200, …`
        if let Some(rest) = message.strip_prefix('(')
            && let Some((id, text)) = rest.split_once(") ")
            && !id.is_empty()
            && !id.contains(char::is_whitespace)
        {
            self.request_id = Some(id.to_owned());
            text.clone_into(&mut self.message);
        } else {
            message.clone_into(&mut self.message);
        }
    }

    fn parse_backend(&mut self, message: &str) {
        match serde_json::from_str::<Value>(message) {
            Ok(Value::Object(object))
                if object.contains_key("type") && object.contains_key("record") =>
            {
                self.parse_platform_json(&object);
            }
            Ok(Value::Object(object)) => self.parse_handler_json(&object),
            _ => self.parse_platform_text(message),
        }
    }

    /// The handler's tracing JSON: `timestamp`, `level`, `target`, the event's fields
    /// (flattened, `message` among them) and `spans` (outermost first).
    fn parse_handler_json(&mut self, object: &Map<String, Value>) {
        let level = object.get("level").and_then(text);
        let text_message = object.get("message").and_then(text).unwrap_or_default();
        let mut fields = Map::new();
        // Span fields first, innermost last, so that an inner span's value wins.
        for span in object
            .get("spans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(object.get("span"))
        {
            if let Value::Object(span) = span {
                for (key, value) in span {
                    if key != "name" {
                        fields.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        for (key, value) in object {
            if !matches!(
                key.as_str(),
                "timestamp"
                    | "level"
                    | "target"
                    | "span"
                    | "spans"
                    | "message"
                    | "threadName"
                    | "threadId"
            ) {
                fields.insert(key.clone(), value.clone());
            }
        }
        self.connection_id = take_text(&mut fields, "connection_id");
        self.request_id = take_text(&mut fields, "request_id");
        // lambda_runtime's span: "Lambda runtime invoke" { requestId }.
        self.lambda_request_id = take_text(&mut fields, "requestId");
        let mut line = String::new();
        if let Some(level) = level {
            line.push_str(&level);
            line.push(' ');
        }
        line.push_str(&text_message);
        append_fields(&mut line, &fields, &[]);
        self.message = line.trim().to_owned();
        self.fields = fields;
        if let Some(level) = object.get("level") {
            self.fields.insert("level".to_owned(), level.clone());
        }
    }

    /// Lambda's own lines in its JSON log format: `{"time", "type": "platform.start",
    /// "record": {"requestId", …}}`.
    fn parse_platform_json(&mut self, object: &Map<String, Value>) {
        let kind = object.get("type").and_then(text).unwrap_or_default();
        let mut fields = match object.get("record") {
            Some(Value::Object(record)) => record.clone(),
            _ => Map::new(),
        };
        self.lambda_request_id = take_text(&mut fields, "requestId");
        let mut line = kind;
        append_fields(&mut line, &fields, &[]);
        self.message = line;
        self.fields = fields;
    }

    /// Lambda's own text lines: `START RequestId: 8f5… Version: $LATEST`, `END RequestId: …`,
    /// `REPORT RequestId: …\tDuration: 2.10 ms\t…`; anything else the function printed as is.
    fn parse_platform_text(&mut self, message: &str) {
        if let Some(at) = message.find("RequestId: ") {
            let rest = &message[at + "RequestId: ".len()..];
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !id.is_empty() {
                self.lambda_request_id = Some(id);
            }
        }
        message.clone_into(&mut self.message);
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Access logs write `-` for values a request does not have.
fn present(value: &str) -> bool {
    !value.is_empty() && value != "-"
}

fn take_text(fields: &mut Map<String, Value>, key: &str) -> Option<String> {
    fields
        .remove(key)
        .as_ref()
        .and_then(text)
        .filter(|v| present(v))
}

/// Appends ` key=value` for every field but those in `skip` and those without a value, in
/// key order (whether serde_json keeps insertion order depends on features other crates
/// enable); values with spaces are quoted.
fn append_fields(line: &mut String, fields: &Map<String, Value>, skip: &[&str]) {
    let mut sorted: Vec<(&String, &Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in sorted {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let Some(value) = text(value).filter(|v| present(v)) else {
            continue;
        };
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(key);
        line.push('=');
        if value.contains(char::is_whitespace) || value.is_empty() {
            line.push_str(&Value::String(value).to_string());
        } else {
            line.push_str(&value);
        }
    }
}

/// Control characters (a multi-line error, Lambda's tab-separated REPORT) become single
/// spaces or escapes, so an event is always exactly one line.
fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

/// `2025-12-01T20:01:02.345Z`.
pub fn rfc3339_millis(timestamp: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(timestamp) * 1_000_000)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| timestamp.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_764_619_262_345;

    #[test]
    fn access_lines_name_the_connection_and_request() {
        let event = Event::parse(
            Source::Access,
            AT,
            "1".into(),
            r#"{"requestId":"LQ1bJGp5FiAFVwg=","ip":"203.0.113.9","requestTime":"01/Dec/2025:20:01:02 +0000","eventType":"MESSAGE","routeKey":"sendmessage","connectionId":"LQ1bJc3kliACFZQ=","integrationLatency":"12","error":"-"}"#,
        );
        assert_eq!(event.time, "2025-12-01T20:01:02.345Z");
        assert_eq!(event.connection_id.as_deref(), Some("LQ1bJc3kliACFZQ="));
        assert_eq!(event.request_id.as_deref(), Some("LQ1bJGp5FiAFVwg="));
        assert_eq!(
            event.message,
            "MESSAGE sendmessage integrationLatency=12 ip=203.0.113.9 requestTime=\"01/Dec/2025:20:01:02 +0000\""
        );
        assert_eq!(event.fields["routeKey"], "sendmessage");
    }

    #[test]
    fn execution_lines_carry_the_request_id_in_parentheses() {
        let event = Event::parse(
            Source::Execution,
            AT,
            "2".into(),
            "(LQ1bJGp5FiAFVwg=) Received response. Status: 200, Integration latency: 12 ms\n",
        );
        assert_eq!(event.request_id.as_deref(), Some("LQ1bJGp5FiAFVwg="));
        assert_eq!(
            event.message,
            "Received response. Status: 200, Integration latency: 12 ms"
        );
        let plain = Event::parse(Source::Execution, AT, "3".into(), "(not an id) x");
        assert_eq!(plain.request_id, None);
        assert_eq!(plain.message, "(not an id) x");
    }

    #[test]
    fn handler_json_is_flattened_with_its_span_fields() {
        let line = r#"{"timestamp":"2025-12-01T20:01:02.345678Z","level":"INFO","message":"connected","name":"alice","target":"chat_handler::handle","span":{"connection_id":"LQ1bJc3kliACFZQ=","request_id":"LQ1bJGp5FiAFVwg=","route":"connect","name":"chat"},"spans":[{"requestId":"8f5e2c1a-0000-4000-8000-000000000001","name":"Lambda runtime invoke"},{"connection_id":"LQ1bJc3kliACFZQ=","request_id":"LQ1bJGp5FiAFVwg=","route":"connect","name":"chat"}]}"#;
        let event = Event::parse(Source::Backend, AT, "4".into(), line);
        assert_eq!(event.connection_id.as_deref(), Some("LQ1bJc3kliACFZQ="));
        assert_eq!(event.request_id.as_deref(), Some("LQ1bJGp5FiAFVwg="));
        assert_eq!(
            event.lambda_request_id.as_deref(),
            Some("8f5e2c1a-0000-4000-8000-000000000001")
        );
        // The event's own `name` (the user) is kept; the spans' names are not fields.
        assert_eq!(event.message, "INFO connected name=alice route=connect");
        assert_eq!(event.fields["level"], "INFO");
    }

    #[test]
    fn lambda_platform_lines_carry_lambdas_request_id() {
        let report = Event::parse(
            Source::Backend,
            AT,
            "5".into(),
            "REPORT RequestId: 8f5e2c1a-0000-4000-8000-000000000001\tDuration: 2.10 ms\tBilled Duration: 3 ms\n",
        );
        assert_eq!(
            report.lambda_request_id.as_deref(),
            Some("8f5e2c1a-0000-4000-8000-000000000001")
        );
        assert_eq!(
            report.message,
            "REPORT RequestId: 8f5e2c1a-0000-4000-8000-000000000001 Duration: 2.10 ms Billed Duration: 3 ms"
        );
        let json = Event::parse(
            Source::Backend,
            AT,
            "6".into(),
            r#"{"time":"2025-12-01T20:01:02.345Z","type":"platform.start","record":{"requestId":"8f5e","version":"$LATEST"}}"#,
        );
        assert_eq!(json.lambda_request_id.as_deref(), Some("8f5e"));
        assert_eq!(json.message, "platform.start version=$LATEST");
    }

    #[test]
    fn every_event_is_one_line() {
        let event = Event::parse(
            Source::Backend,
            AT,
            "7".into(),
            "thread panicked:\nline two\r\n\tand \u{7}three",
        );
        assert_eq!(
            event.message,
            "thread panicked:\\nline two\\n and \\u{7}three"
        );
        assert!(!event.message.contains('\n'));
    }
}
