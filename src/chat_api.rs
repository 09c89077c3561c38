//! The chat API definition: routes, integration request mappings, responses and stage variables.
//!
//! This is the single source that both `chatctl up` (which deploys it to API Gateway) and
//! `chatctl dev` (which serves it locally) read, so a route added here exists in both places.
//! docs/integration-contract.md describes the same contract in prose.

use std::collections::BTreeMap;

/// API Gateway evaluates this on every incoming frame to pick a route.
pub const ROUTE_SELECTION_EXPRESSION: &str = "$request.body.action";

/// Stage variable holding the backend's `host[:port][/base-path]`. API Gateway wants the
/// scheme written literally in the integration URI and a stage variable only after it
/// ("A full URI without protocol – `http://${stageVariables.<variable_name>}`", developer
/// guide, "Create stages for WebSocket APIs", stage variables reference), so the scheme
/// comes from the backend URL into the URI and the rest goes here.
pub const BACKEND_HOST_VARIABLE: &str = "backendHost";
/// Stage variable holding the shared secret the backend checks.
pub const BACKEND_SECRET_VARIABLE: &str = "backendSecret";

/// The only route-response key and the catch-all integration-response key API Gateway allows.
pub const DEFAULT_RESPONSE_KEY: &str = "$default";

/// API Gateway allows 50 ms to 29 s for a WebSocket integration.
pub const INTEGRATION_TIMEOUT_MS: i32 = 29_000;

pub const CONNECT_ROUTE: &str = "$connect";
/// The `$connect` authorizer's identity source: the ID token in the query string (browsers
/// cannot set headers on a WebSocket handshake).
pub const TOKEN_IDENTITY_SOURCE: &str = "route.request.querystring.token";
pub const DISCONNECT_ROUTE: &str = "$disconnect";
pub const DEFAULT_ROUTE: &str = "$default";

/// How the API learns who connects ([`crate::config::Auth`] decides; docs/auth.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Identity {
    /// `?name=` is mapped to the backend as it is, and the backend secret comes from a stage
    /// variable (`[auth] provider = "none"`).
    #[default]
    ClientName,
    /// A Lambda REQUEST authorizer on `$connect` verifies `?token=`; the verified name and the
    /// backend secret come from its context (`context.authorizer.*`), which API Gateway hands
    /// to the integrations of every later route of the connection as well.
    Authorizer,
}

/// The authorizer a route requires (`$connect` only: API Gateway allows none elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAuthorizer {
    /// `route.request.querystring.token`. A handshake without it is refused with 401 before
    /// the authorizer runs.
    pub identity_source: String,
}

impl RouteAuthorizer {
    /// The query string parameter of the identity source.
    pub fn query_parameter(&self) -> Option<&str> {
        self.identity_source
            .strip_prefix("route.request.querystring.")
    }
}

/// The scheme of the backend, written literally before the stage variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Where the integrations go: the scheme (part of each integration URI) and what the
/// [`BACKEND_HOST_VARIABLE`] stage variable holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendEndpoint {
    pub scheme: Scheme,
    /// `host[:port][/base-path]`, no trailing slash.
    pub host: String,
}

impl BackendEndpoint {
    /// Splits `http(s)://host[:port][/path]`; the rest must fit in a stage variable.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            anyhow::bail!("backend URL {url} is not an http:// or https:// URL");
        };
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.starts_with('/') {
            anyhow::bail!("backend URL {url} has no host");
        }
        if host.contains(['?', '#']) {
            anyhow::bail!(
                "backend URL {url} has a query or fragment: the route paths are appended to it, so give a base URL"
            );
        }
        if let Some(bad) = host.chars().find(|c| !stage_variable_char(*c)) {
            anyhow::bail!(
                "backend URL {url} contains '{bad}', which an API Gateway stage variable cannot carry (allowed: letters, digits and -._~:/?#&=,)"
            );
        }
        Ok(Self {
            scheme,
            host: host.to_owned(),
        })
    }
}

/// API Gateway's stage variable values: `[A-Za-z0-9-._~:/?#&=,]+` (API reference,
/// CreateStage `StageVariables`). Names are `[A-Za-z0-9_]+`.
pub fn stage_variable_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c)
}

/// One WebSocket route and its non-proxy HTTP integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub route_key: String,
    /// Path appended to `{scheme}://${stageVariables.backendHost}`.
    pub backend_path: String,
    /// A two-way route has a `$default` route response, so the integration response body
    /// reaches the sender; without it API Gateway sends nothing back.
    pub two_way: bool,
    /// Integration request parameters: target (`integration.request.header.X`) → source
    /// (`context.X` — `context.authorizer.KEY` included —, `stageVariables.X`,
    /// `route.request.querystring.X`).
    pub request_parameters: BTreeMap<String, String>,
    /// `Some` on `$connect` with [`Identity::Authorizer`].
    pub authorizer: Option<RouteAuthorizer>,
    /// Route request parameters the route declares (`route.request.querystring.X` → whether
    /// it is required). "Integration request parameters can be mapped from any *defined*
    /// route request parameters" (developer guide, "Set up data mapping for WebSocket
    /// APIs"): every `route.request.*` source above must be declared here.
    pub route_parameters: BTreeMap<String, bool>,
}

impl RouteSpec {
    fn new(route_key: &str, backend_path: &str, two_way: bool, identity: Identity) -> Self {
        let mut request_parameters = BTreeMap::new();
        let mut route_parameters = BTreeMap::new();
        let mut map = |header: &str, source: String| {
            request_parameters.insert(format!("integration.request.header.{header}"), source);
        };
        let connect = route_key == CONNECT_ROUTE;
        match identity {
            Identity::ClientName => {
                map(
                    "x-chat-secret",
                    format!("stageVariables.{BACKEND_SECRET_VARIABLE}"),
                );
                // Headers and query strings of the upgrade request exist only on $connect,
                // and the route declares what its integration maps. The name is optional
                // for API Gateway (Required: false): the backend refuses a missing one with
                // its own 400, which the client sees.
                if connect {
                    map("x-chat-name", "route.request.querystring.name".to_owned());
                    route_parameters.insert("route.request.querystring.name".to_owned(), false);
                }
            }
            Identity::Authorizer => {
                let secret = chat_handler::auth::CONTEXT_SECRET;
                map("x-chat-secret", format!("context.authorizer.{secret}"));
                if connect {
                    let name = chat_handler::auth::CONTEXT_NAME;
                    map("x-chat-name", format!("context.authorizer.{name}"));
                }
            }
        }
        map("x-connection-id", "context.connectionId".to_owned());
        map("x-route-key", "context.routeKey".to_owned());
        map("x-request-id", "context.requestId".to_owned());
        let authorizer = (connect && identity == Identity::Authorizer).then(|| RouteAuthorizer {
            identity_source: TOKEN_IDENTITY_SOURCE.to_owned(),
        });
        Self {
            route_key: route_key.to_owned(),
            backend_path: backend_path.to_owned(),
            two_way,
            request_parameters,
            authorizer,
            route_parameters,
        }
    }

    /// The integration URI as deployed: the scheme literal, the host from the stage variable.
    pub fn integration_uri(&self, scheme: Scheme) -> String {
        format!(
            "{}://${{stageVariables.{BACKEND_HOST_VARIABLE}}}/{}",
            scheme.as_str(),
            self.backend_path
        )
    }

    /// The route response selection expression: set only on two-way routes.
    pub fn route_response_selection_expression(&self) -> Option<&'static str> {
        self.two_way.then_some(DEFAULT_RESPONSE_KEY)
    }
}

/// Substitutes `${stageVariables.NAME}` in an integration URI as API Gateway does; a
/// variable the stage does not define (or defines empty) is an error naming it.
pub fn resolve_uri(
    template: &str,
    stage_variables: &BTreeMap<String, String>,
) -> Result<String, String> {
    const OPEN: &str = "${stageVariables.";
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated stage variable in {template}"))?;
        let name = &after[..end];
        match stage_variables.get(name).filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(value),
            None => return Err(format!("stage variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The chat service's routes, in the order they are created and shown, with names from the
/// client (`[auth] provider = "none"`).
pub fn routes() -> Vec<RouteSpec> {
    routes_for(Identity::ClientName)
}

/// The chat service's routes for `identity`.
pub fn routes_for(identity: Identity) -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(CONNECT_ROUTE, "connect", false, identity),
        RouteSpec::new(DISCONNECT_ROUTE, "disconnect", false, identity),
        RouteSpec::new(DEFAULT_ROUTE, "default", true, identity),
        RouteSpec::new("sendmessage", "sendmessage", true, identity),
        RouteSpec::new("who", "who", true, identity),
    ]
}

/// Stage variables that point the integrations at the backend.
pub fn stage_variables(backend: &BackendEndpoint, secret: &str) -> BTreeMap<String, String> {
    stage_variables_for(Identity::ClientName, backend, secret)
}

/// Stage variables for `identity`: with an authorizer the secret travels in its context, so
/// the stage holds the backend host only (AWS: "Stage variables are not intended to be used
/// for sensitive data, such as credentials. To pass sensitive data to integrations, use an AWS
/// Lambda authorizer", websocket-api-stages.html).
pub fn stage_variables_for(
    identity: Identity,
    backend: &BackendEndpoint,
    secret: &str,
) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::from([(BACKEND_HOST_VARIABLE.to_owned(), backend.host.clone())]);
    if identity == Identity::ClientName {
        variables.insert(BACKEND_SECRET_VARIABLE.to_owned(), secret.to_owned());
    }
    variables
}

/// Access-log format. WebSocket stages reject some REST variables (e.g. `$context.status`),
/// so only variables documented for WebSocket APIs appear here.
pub const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","eventType":"$context.eventType","routeKey":"$context.routeKey","connectionId":"$context.connectionId","integrationLatency":"$context.integrationLatency","error":"$context.error.message"}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connect_maps_the_name_query_string() {
        for route in routes() {
            let has_name = route
                .request_parameters
                .contains_key("integration.request.header.x-chat-name");
            assert_eq!(
                has_name,
                route.route_key == CONNECT_ROUTE,
                "{}",
                route.route_key
            );
        }
    }

    #[test]
    fn every_route_carries_secret_connection_id_and_route_key() {
        for route in routes() {
            let p = &route.request_parameters;
            assert_eq!(
                p["integration.request.header.x-chat-secret"],
                "stageVariables.backendSecret"
            );
            assert_eq!(
                p["integration.request.header.x-connection-id"],
                "context.connectionId"
            );
            assert_eq!(
                p["integration.request.header.x-route-key"],
                "context.routeKey"
            );
        }
    }

    #[test]
    fn two_way_routes_are_default_sendmessage_and_who() {
        let two_way: Vec<String> = routes()
            .into_iter()
            .filter(|r| r.two_way)
            .map(|r| r.route_key)
            .collect();
        assert_eq!(two_way, ["$default", "sendmessage", "who"]);
    }

    #[test]
    fn with_an_authorizer_name_and_secret_come_from_its_context() {
        for route in routes_for(Identity::Authorizer) {
            let p = &route.request_parameters;
            assert_eq!(
                p["integration.request.header.x-chat-secret"], "context.authorizer.backendSecret",
                "{}",
                route.route_key
            );
            let connect = route.route_key == CONNECT_ROUTE;
            assert_eq!(
                p.get("integration.request.header.x-chat-name")
                    .map(String::as_str),
                connect.then_some("context.authorizer.name")
            );
            // Nothing of the query string reaches the backend: `?name=` is ignored.
            assert!(!p.values().any(|source| source.starts_with("route.request")));
            assert_eq!(
                route
                    .authorizer
                    .as_ref()
                    .and_then(RouteAuthorizer::query_parameter),
                connect.then_some("token")
            );
        }
        assert!(routes().iter().all(|route| route.authorizer.is_none()));
        for route in routes_for(Identity::Authorizer) {
            assert!(route.route_parameters.is_empty(), "{}", route.route_key);
        }
        let backend = BackendEndpoint::parse("https://b.example/").unwrap();
        let vars = stage_variables_for(Identity::Authorizer, &backend, "s3cret");
        assert_eq!(
            vars,
            BTreeMap::from([("backendHost".to_owned(), "b.example".to_owned())])
        );
    }

    #[test]
    fn integration_uri_writes_the_scheme_and_resolves_the_host() {
        let route = &routes()[3];
        assert_eq!(
            route.integration_uri(Scheme::Https),
            "https://${stageVariables.backendHost}/sendmessage"
        );
        let backend = BackendEndpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(backend.scheme, Scheme::Http);
        let vars = stage_variables(&backend, "s3cret");
        assert_eq!(vars["backendHost"], "127.0.0.1:9000");
        assert_eq!(
            resolve_uri(&route.integration_uri(backend.scheme), &vars).as_deref(),
            Ok("http://127.0.0.1:9000/sendmessage")
        );
        assert_eq!(
            resolve_uri(&route.integration_uri(Scheme::Https), &BTreeMap::new()),
            Err("stage variable backendHost is not set".to_owned())
        );
    }

    #[test]
    fn backend_urls_split_into_scheme_and_stage_variable() {
        let lambda = BackendEndpoint::parse("https://abc123.lambda-url.eu-west-1.on.aws/").unwrap();
        assert_eq!(
            lambda,
            BackendEndpoint {
                scheme: Scheme::Https,
                host: "abc123.lambda-url.eu-west-1.on.aws".into()
            }
        );
        let with_path = BackendEndpoint::parse("https://chat.example.com:8443/api/").unwrap();
        assert_eq!(with_path.host, "chat.example.com:8443/api");
        for (bad, why) in [
            ("chat.example.com", "not an http:// or https:// URL"),
            ("https://", "has no host"),
            ("https://chat.example.com/a?b=1", "query or fragment"),
            ("https://user@chat.example.com", "contains '@'"),
            ("https://chat.example.com/%20", "contains '%'"),
        ] {
            let err = BackendEndpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn connect_declares_every_route_parameter_it_maps() {
        for route in routes() {
            let mapped: Vec<&String> = route
                .request_parameters
                .values()
                .filter(|source| source.starts_with("route.request."))
                .collect();
            let declared: Vec<&String> = route.route_parameters.keys().collect();
            assert_eq!(mapped, declared, "{}", route.route_key);
        }
        assert_eq!(
            routes()[0].route_parameters,
            BTreeMap::from([("route.request.querystring.name".to_owned(), false)])
        );
    }
}
