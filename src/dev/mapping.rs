//! Route selection and integration request parameter mapping, evaluated the way API Gateway
//! evaluates a WebSocket API's `routeSelectionExpression` and an integration's
//! `requestParameters`.
//!
//! The mappings come from [`crate::chat_api::RouteSpec::request_parameters`]; they are parsed
//! once when the gateway starts, so a definition API Gateway would refuse to deploy (an unknown
//! source, a header or query string outside `$connect`, a route request parameter the route
//! does not declare in [`crate::chat_api::RouteSpec::route_parameters`]) stops `chatctl dev`
//! at start-up too.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use axum::http::{HeaderMap, HeaderName};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::chat_api::{self, CONNECT_ROUTE, DISCONNECT_ROUTE, RouteSpec};

/// The route a message selects, following `$request.body.action`.
///
/// The JSONPath result is stringified and must equal a route key exactly. A frame that is not
/// JSON, not an object, or whose `action` is missing, `null`, an object or an array selects
/// nothing. `$connect` and `$disconnect` are lifecycle events, never message routes, so a
/// message naming them selects nothing either. `None` means "use `$default` if it exists".
pub fn select_route<'r>(routes: &'r BTreeMap<String, Route>, body: &[u8]) -> Option<&'r Route> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let key = match value.as_object()?.get("action")? {
        Value::String(s) => s.clone(),
        scalar @ (Value::Number(_) | Value::Bool(_)) => scalar.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    if key == CONNECT_ROUTE || key == DISCONNECT_ROUTE {
        return None;
    }
    routes.get(&key)
}

/// One route with its parsed mappings.
#[derive(Debug, Clone)]
pub struct Route {
    pub spec: RouteSpec,
    pub parameters: Vec<(Target, Source)>,
}

impl Route {
    pub fn parse(spec: &RouteSpec) -> Result<Self> {
        let mut parameters = Vec::with_capacity(spec.request_parameters.len());
        for (target, source) in &spec.request_parameters {
            let target = Target::parse(target).map_err(|err| {
                anyhow::anyhow!(
                    "route {}: request parameter {target}: {err}",
                    spec.route_key
                )
            })?;
            let parsed = Source::parse(source, &spec.route_key).map_err(|err| {
                anyhow::anyhow!(
                    "route {}: request parameter {source}: {err}",
                    spec.route_key
                )
            })?;
            // "Integration request parameters can be mapped from any defined route request
            // parameters" (API Gateway developer guide, "Set up data mapping for WebSocket
            // APIs"): a deployment mapping an undeclared one fails.
            if matches!(parsed, Source::QueryString(_) | Source::Header(_))
                && !spec.route_parameters.contains_key(source)
            {
                bail!(
                    "route {}: request parameter {source} is not declared by the route: add it to the route's route_parameters (API Gateway maps only defined route request parameters)",
                    spec.route_key
                );
            }
            let source = parsed;
            parameters.push((target, source));
        }
        Ok(Self {
            spec: spec.clone(),
            parameters,
        })
    }

    /// Evaluates every mapping; a source without a value (a missing query string, stage
    /// variable or body field) leaves its target out rather than sending an empty value.
    pub fn evaluate(&self, request: &RequestContext<'_>) -> Mapped {
        let mut mapped = Mapped::default();
        for (target, source) in &self.parameters {
            let Some(value) = source.evaluate(request) else {
                continue;
            };
            match target {
                Target::Header(name) => mapped.headers.push((name.clone(), value)),
                Target::QueryString(name) => mapped.query.push((name.clone(), value)),
            }
        }
        mapped
    }
}

/// Where a mapped value goes in the integration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Header(HeaderName),
    QueryString(String),
}

impl Target {
    fn parse(target: &str) -> Result<Self> {
        if let Some(name) = target.strip_prefix("integration.request.header.") {
            let name = HeaderName::try_from(name)
                .map_err(|_| anyhow::anyhow!("`{name}` is not a valid HTTP header name"))?;
            return Ok(Self::Header(name));
        }
        if let Some(name) = target.strip_prefix("integration.request.querystring.") {
            if name.is_empty() {
                bail!("the query string name is empty");
            }
            return Ok(Self::QueryString(name.to_owned()));
        }
        bail!(
            "unsupported target: use integration.request.header.NAME or integration.request.querystring.NAME"
        )
    }
}

/// `context.*` variables of a WebSocket request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextVariable {
    ConnectionId,
    RouteKey,
    RequestId,
    EventType,
    ConnectedAt,
    Stage,
    ApiId,
    DomainName,
    MessageId,
    RequestTime,
    RequestTimeEpoch,
    SourceIp,
    UserAgent,
}

impl ContextVariable {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "connectionId" => Self::ConnectionId,
            "routeKey" => Self::RouteKey,
            "requestId" => Self::RequestId,
            "eventType" => Self::EventType,
            "connectedAt" => Self::ConnectedAt,
            "stage" => Self::Stage,
            "apiId" => Self::ApiId,
            "domainName" => Self::DomainName,
            "messageId" => Self::MessageId,
            "requestTime" => Self::RequestTime,
            "requestTimeEpoch" => Self::RequestTimeEpoch,
            "identity.sourceIp" => Self::SourceIp,
            "identity.userAgent" => Self::UserAgent,
            _ => return None,
        })
    }
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Context(ContextVariable),
    /// `context.authorizer.KEY` (and `context.authorizer.principalId`): the `$connect`
    /// authorizer's output, on every route of the connection.
    Authorizer(String),
    StageVariable(String),
    QueryString(String),
    Header(String),
    /// `route.request.body.a.b` as the path `["a", "b"]`.
    Body(Vec<String>),
    Static(String),
}

impl Source {
    fn parse(source: &str, route_key: &str) -> Result<Self> {
        if let Some(value) = source
            .strip_prefix('\'')
            .and_then(|rest| rest.strip_suffix('\''))
        {
            return Ok(Self::Static(value.to_owned()));
        }
        if let Some(key) = source.strip_prefix("context.authorizer.") {
            if key.is_empty() {
                bail!("the authorizer context key is empty");
            }
            return Ok(Self::Authorizer(key.to_owned()));
        }
        if let Some(name) = source.strip_prefix("context.") {
            return ContextVariable::parse(name)
                .map(Self::Context)
                .ok_or_else(|| {
                    anyhow::anyhow!("`context.{name}` is not a context variable of WebSocket APIs")
                });
        }
        if let Some(name) = source.strip_prefix("stageVariables.") {
            return Ok(Self::StageVariable(name.to_owned()));
        }
        // The upgrade request's query string and headers exist only while connecting, so
        // API Gateway accepts these sources on `$connect` alone.
        let connect_only = |kind: &str| {
            if route_key == CONNECT_ROUTE {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "route.request.{kind} is available on the $connect route only"
                ))
            }
        };
        if let Some(name) = source.strip_prefix("route.request.querystring.") {
            connect_only("querystring")?;
            return Ok(Self::QueryString(name.to_owned()));
        }
        if let Some(name) = source.strip_prefix("route.request.header.") {
            connect_only("header")?;
            return Ok(Self::Header(name.to_owned()));
        }
        if let Some(path) = source.strip_prefix("route.request.body.") {
            let path: Vec<String> = path
                .trim_start_matches("$.")
                .split('.')
                .map(str::to_owned)
                .collect();
            if path.iter().any(String::is_empty) {
                bail!("the body path is empty");
            }
            return Ok(Self::Body(path));
        }
        bail!(
            "unsupported source: use context.NAME, stageVariables.NAME, route.request.querystring.NAME, route.request.header.NAME, route.request.body.PATH or a 'static' value"
        )
    }

    fn evaluate(&self, request: &RequestContext<'_>) -> Option<String> {
        match self {
            Self::Static(value) => Some(value.clone()),
            Self::Context(variable) => request.context(*variable),
            Self::Authorizer(key) => request.authorizer?.get(key).cloned(),
            Self::StageVariable(name) => request.stage_variables.get(name).cloned(),
            Self::QueryString(name) => request
                .query
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone()),
            Self::Header(name) => request
                .headers
                .and_then(|headers| headers.get(name.as_str()))
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            Self::Body(path) => {
                let mut value = request.body?;
                for key in path {
                    value = value.as_object()?.get(key)?;
                }
                Some(match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            }
        }
    }
}

/// The lifecycle event a request belongs to (`$context.eventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Connect,
    Message,
    Disconnect,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::Message => "MESSAGE",
            Self::Disconnect => "DISCONNECT",
        }
    }
}

/// Everything a mapping may read for one request.
#[derive(Debug)]
pub struct RequestContext<'a> {
    pub connection_id: &'a str,
    pub route_key: &'a str,
    pub request_id: &'a str,
    pub event_type: EventType,
    pub connected_at: OffsetDateTime,
    pub request_time: OffsetDateTime,
    pub stage: &'a str,
    pub api_id: &'a str,
    pub domain_name: &'a str,
    pub message_id: Option<&'a str>,
    pub source_ip: &'a str,
    pub user_agent: &'a str,
    pub stage_variables: &'a BTreeMap<String, String>,
    /// The upgrade request's query string (`$connect` only; empty otherwise).
    pub query: &'a [(String, String)],
    /// The upgrade request's headers (`$connect` only).
    pub headers: Option<&'a HeaderMap>,
    /// The message parsed as JSON, when it is JSON.
    pub body: Option<&'a Value>,
    /// What the connection's `$connect` authorizer allowed it with (`context.authorizer.*`).
    pub authorizer: Option<&'a super::authorizer::AuthorizerContext>,
}

impl RequestContext<'_> {
    fn context(&self, variable: ContextVariable) -> Option<String> {
        Some(match variable {
            ContextVariable::ConnectionId => self.connection_id.to_owned(),
            ContextVariable::RouteKey => self.route_key.to_owned(),
            ContextVariable::RequestId => self.request_id.to_owned(),
            ContextVariable::EventType => self.event_type.as_str().to_owned(),
            // API Gateway gives both as epoch milliseconds.
            ContextVariable::ConnectedAt => epoch_millis(self.connected_at).to_string(),
            ContextVariable::RequestTimeEpoch => epoch_millis(self.request_time).to_string(),
            ContextVariable::RequestTime => clf_time(self.request_time)?,
            ContextVariable::Stage => self.stage.to_owned(),
            ContextVariable::ApiId => self.api_id.to_owned(),
            ContextVariable::DomainName => self.domain_name.to_owned(),
            ContextVariable::MessageId => self.message_id?.to_owned(),
            ContextVariable::SourceIp => self.source_ip.to_owned(),
            ContextVariable::UserAgent => self.user_agent.to_owned(),
        })
    }
}

/// The evaluated mappings of one request.
#[derive(Debug, Default)]
pub struct Mapped {
    pub headers: Vec<(HeaderName, String)>,
    pub query: Vec<(String, String)>,
}

pub fn epoch_millis(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000_000
}

/// `$context.requestTime` uses the CLF format: `09/Apr/2015:12:34:56 +0000`.
pub(crate) fn clf_time(at: OffsetDateTime) -> Option<String> {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    at.to_offset(time::UtcOffset::UTC).format(&format).ok()
}

/// RFC 3339 in UTC with millisecond precision, as the @connections API returns times.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let truncated = at
        .replace_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(at);
    truncated.format(&Rfc3339).unwrap_or_default()
}

/// Parses every route of a definition, keyed by route key.
pub fn parse_routes(specs: &[RouteSpec]) -> Result<BTreeMap<String, Route>> {
    let mut routes = BTreeMap::new();
    for spec in specs {
        let route = Route::parse(spec)?;
        if routes.insert(spec.route_key.clone(), route).is_some() {
            bail!("route {} is defined twice", spec.route_key);
        }
    }
    Ok(routes)
}

/// The chat definition's routes, parsed; used by tests and as the default of `chatctl dev`.
pub fn chat_routes() -> Result<BTreeMap<String, Route>> {
    parse_routes(&chat_api::routes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn context<'a>(
        vars: &'a BTreeMap<String, String>,
        query: &'a [(String, String)],
        headers: Option<&'a HeaderMap>,
        body: Option<&'a Value>,
    ) -> RequestContext<'a> {
        RequestContext {
            connection_id: "L0SM9cOFvHcCIhw=",
            route_key: "$connect",
            request_id: "req-1",
            event_type: EventType::Connect,
            connected_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            request_time: OffsetDateTime::from_unix_timestamp(1_700_000_001).unwrap(),
            stage: "dev",
            api_id: "abcdef1234",
            domain_name: "127.0.0.1:9000",
            message_id: None,
            source_ip: "127.0.0.1",
            user_agent: "test",
            stage_variables: vars,
            query,
            headers,
            body,
            authorizer: None,
        }
    }

    #[test]
    fn route_selection_follows_the_action_field() {
        let routes = chat_routes().unwrap();
        let key =
            |body: &str| select_route(&routes, body.as_bytes()).map(|r| r.spec.route_key.as_str());
        assert_eq!(key(r#"{"action":"who"}"#), Some("who"));
        assert_eq!(
            key(r#"{"action":"sendmessage","to":"b"}"#),
            Some("sendmessage")
        );
        assert_eq!(key(r#"{"action":"$default"}"#), Some("$default"));
        for unmatched in [
            "hello",
            "",
            "[1,2]",
            "\"who\"",
            "{}",
            r#"{"action":null}"#,
            r#"{"action":5}"#,
            r#"{"action":["who"]}"#,
            r#"{"action":"WHO"}"#,
            r#"{"action":"$connect"}"#,
            r#"{"action":"$disconnect"}"#,
        ] {
            assert_eq!(key(unmatched), None, "{unmatched}");
        }
    }

    #[test]
    fn chat_mappings_evaluate_to_the_contract_headers() {
        let routes = chat_routes().unwrap();
        let vars = chat_api::stage_variables(
            &chat_api::BackendEndpoint::parse("http://127.0.0.1:1").unwrap(),
            "s3cret",
        );
        let query = [("name".to_owned(), "alice".to_owned())];
        let mapped = routes["$connect"].evaluate(&context(&vars, &query, None, None));
        let headers: BTreeMap<&str, &str> = mapped
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            headers,
            BTreeMap::from([
                ("x-chat-name", "alice"),
                ("x-chat-secret", "s3cret"),
                ("x-connection-id", "L0SM9cOFvHcCIhw="),
                ("x-request-id", "req-1"),
                ("x-route-key", "$connect"),
            ])
        );
    }

    #[test]
    fn authorizer_mappings_read_the_connection_context() {
        let routes = parse_routes(&chat_api::routes_for(chat_api::Identity::Authorizer)).unwrap();
        let vars = chat_api::stage_variables_for(
            chat_api::Identity::Authorizer,
            &chat_api::BackendEndpoint::parse("http://127.0.0.1:1").unwrap(),
            "unused",
        );
        let query = [("name".to_owned(), "mallory".to_owned())];
        let context = super::super::authorizer::AuthorizerContext::from(BTreeMap::from([
            ("name".to_owned(), "alice".to_owned()),
            ("backendSecret".to_owned(), "s3cret".to_owned()),
            ("principalId".to_owned(), "sub-1".to_owned()),
        ]));
        let mut request = context_for(&vars, &query);
        request.authorizer = Some(&context);
        let headers = |mapped: Mapped| -> BTreeMap<String, String> {
            mapped
                .headers
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect()
        };
        let connect = headers(routes["$connect"].evaluate(&request));
        assert_eq!(connect["x-chat-name"], "alice");
        assert_eq!(connect["x-chat-secret"], "s3cret");
        request.route_key = "who";
        let who = headers(routes["who"].evaluate(&request));
        assert_eq!(who["x-chat-secret"], "s3cret");
        assert!(!who.contains_key("x-chat-name"));
        // Without an authorizer context the targets are left out, as for any missing source.
        request.authorizer = None;
        let bare = headers(routes["$connect"].evaluate(&request));
        assert!(!bare.contains_key("x-chat-name") && !bare.contains_key("x-chat-secret"));
    }

    fn context_for<'a>(
        vars: &'a BTreeMap<String, String>,
        query: &'a [(String, String)],
    ) -> RequestContext<'a> {
        context(vars, query, None, None)
    }

    #[test]
    fn missing_sources_leave_the_target_out() {
        let routes = chat_routes().unwrap();
        let vars = BTreeMap::new();
        let mapped = routes["$connect"].evaluate(&context(&vars, &[], None, None));
        let names: Vec<&str> = mapped.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-connection-id", "x-request-id", "x-route-key"]);
    }

    #[test]
    fn every_source_kind_evaluates() {
        let spec = RouteSpec {
            route_key: "$connect".into(),
            backend_path: "connect".into(),
            two_way: false,
            authorizer: None,
            request_parameters: BTreeMap::from([
                ("integration.request.header.a".into(), "'fixed'".into()),
                (
                    "integration.request.header.b".into(),
                    "context.connectedAt".into(),
                ),
                (
                    "integration.request.header.c".into(),
                    "context.eventType".into(),
                ),
                (
                    "integration.request.header.d".into(),
                    "route.request.header.user-agent".into(),
                ),
                (
                    "integration.request.header.e".into(),
                    "route.request.body.user.id".into(),
                ),
                (
                    "integration.request.querystring.q".into(),
                    "route.request.querystring.name".into(),
                ),
                (
                    "integration.request.header.f".into(),
                    "context.requestTime".into(),
                ),
                (
                    "integration.request.header.g".into(),
                    "context.messageId".into(),
                ),
                (
                    "integration.request.header.h".into(),
                    "context.authorizer.name".into(),
                ),
            ]),
            route_parameters: BTreeMap::from([
                ("route.request.header.user-agent".into(), false),
                ("route.request.querystring.name".into(), false),
            ]),
        };
        let route = Route::parse(&spec).unwrap();
        let vars = BTreeMap::new();
        let query = [
            ("name".to_owned(), "first".to_owned()),
            ("name".to_owned(), "last".to_owned()),
        ];
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", HeaderValue::from_static("probe/1"));
        let body = serde_json::json!({"user": {"id": 42}});
        let authorizer = super::super::authorizer::AuthorizerContext::from(BTreeMap::from([(
            "name".to_owned(),
            "alice".to_owned(),
        )]));
        let mapped = route.evaluate(&RequestContext {
            authorizer: Some(&authorizer),
            ..context(&vars, &query, Some(&headers), Some(&body))
        });
        let got: BTreeMap<&str, &str> = mapped
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            got,
            BTreeMap::from([
                ("a", "fixed"),
                ("b", "1700000000000"),
                ("c", "CONNECT"),
                ("d", "probe/1"),
                ("e", "42"),
                ("f", "14/Nov/2023:22:13:21 +0000"),
                ("h", "alice"),
            ])
        );
        assert_eq!(mapped.query, [("q".to_owned(), "last".to_owned())]);
    }

    #[test]
    fn definitions_api_gateway_would_refuse_are_refused() {
        let mut spec = chat_api::routes()[3].clone();
        spec.request_parameters.insert(
            "integration.request.header.x-name".into(),
            "route.request.querystring.name".into(),
        );
        let err = format!("{:#}", Route::parse(&spec).unwrap_err());
        assert_eq!(
            err,
            "route sendmessage: request parameter route.request.querystring.name: route.request.querystring is available on the $connect route only"
        );
        let mut spec = chat_api::routes()[3].clone();
        spec.request_parameters
            .insert("integration.request.header.x".into(), "context.nope".into());
        assert!(
            format!("{:#}", Route::parse(&spec).unwrap_err())
                .contains("`context.nope` is not a context variable")
        );
        let mut spec = chat_api::routes()[0].clone();
        spec.request_parameters.insert(
            "integration.request.header.x-token".into(),
            "route.request.querystring.token".into(),
        );
        assert_eq!(
            format!("{:#}", Route::parse(&spec).unwrap_err()),
            "route $connect: request parameter route.request.querystring.token is not declared by the route: add it to the route's route_parameters (API Gateway maps only defined route request parameters)"
        );
        spec.route_parameters
            .insert("route.request.querystring.token".into(), false);
        assert!(Route::parse(&spec).is_ok());
        let mut spec = chat_api::routes()[3].clone();
        spec.request_parameters
            .insert("integration.request.path.x".into(), "'v'".into());
        assert!(format!("{:#}", Route::parse(&spec).unwrap_err()).contains("unsupported target"));
    }

    #[test]
    fn times_are_formatted_like_aws() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20.123Z");
        assert_eq!(epoch_millis(at), 1_700_000_000_123);
    }
}
