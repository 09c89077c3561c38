//! The chat API definition: routes, integration request mappings, responses and stage variables.
//!
//! This is the single source that both `chatctl up` (which deploys it to API Gateway) and
//! `chatctl dev` (which serves it locally) read, so a route added here exists in both places.
//! docs/integration-contract.md describes the same contract in prose.

use std::collections::BTreeMap;

/// API Gateway evaluates this on every incoming frame to pick a route.
pub const ROUTE_SELECTION_EXPRESSION: &str = "$request.body.action";

/// Stage variable holding the backend base URL (no trailing slash).
pub const BACKEND_URL_VARIABLE: &str = "backendUrl";
/// Stage variable holding the shared secret the backend checks.
pub const BACKEND_SECRET_VARIABLE: &str = "backendSecret";

/// The only route-response key and the catch-all integration-response key API Gateway allows.
pub const DEFAULT_RESPONSE_KEY: &str = "$default";

/// API Gateway allows 50 ms to 29 s for an integration.
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

/// One WebSocket route and its non-proxy HTTP integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub route_key: String,
    /// Path appended to `${stageVariables.backendUrl}`.
    pub backend_path: String,
    /// A two-way route has a `$default` route response, so the integration response body
    /// reaches the sender; without it API Gateway sends nothing back.
    pub two_way: bool,
    /// Integration request parameters: target (`integration.request.header.X`) → source
    /// (`context.X`, `stageVariables.X`, `route.request.querystring.X`).
    pub request_parameters: BTreeMap<String, String>,
    /// `Some` on `$connect` with [`Identity::Authorizer`].
    pub authorizer: Option<RouteAuthorizer>,
}

impl RouteSpec {
    fn new(route_key: &str, backend_path: &str, two_way: bool, identity: Identity) -> Self {
        let mut request_parameters = BTreeMap::new();
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
                // Headers and query strings of the upgrade request exist only on $connect.
                if connect {
                    map("x-chat-name", "route.request.querystring.name".to_owned());
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
        }
    }

    /// The integration URI as deployed: resolved per stage from the stage variable.
    pub fn integration_uri(&self) -> String {
        format!(
            "${{stageVariables.{BACKEND_URL_VARIABLE}}}/{}",
            self.backend_path
        )
    }

    /// The integration URI with stage variables substituted (what `chatctl dev` calls).
    pub fn resolved_uri(&self, stage_variables: &BTreeMap<String, String>) -> Option<String> {
        let base = stage_variables.get(BACKEND_URL_VARIABLE)?;
        Some(format!(
            "{}/{}",
            base.trim_end_matches('/'),
            self.backend_path
        ))
    }

    /// The route response selection expression: set only on two-way routes.
    pub fn route_response_selection_expression(&self) -> Option<&'static str> {
        self.two_way.then_some(DEFAULT_RESPONSE_KEY)
    }
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
pub fn stage_variables(backend_url: &str, secret: &str) -> BTreeMap<String, String> {
    stage_variables_for(Identity::ClientName, backend_url, secret)
}

/// Stage variables for `identity`: with an authorizer the secret travels in its context, so
/// the stage holds the backend URL only (AWS: "Stage variables are not intended to be used for
/// sensitive data, such as credentials. To pass sensitive data to integrations, use an AWS
/// Lambda authorizer", websocket-api-stages.html).
pub fn stage_variables_for(
    identity: Identity,
    backend_url: &str,
    secret: &str,
) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::from([(
        BACKEND_URL_VARIABLE.to_owned(),
        backend_url.trim_end_matches('/').to_owned(),
    )]);
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
        let vars = stage_variables_for(Identity::Authorizer, "https://b.example/", "s3cret");
        assert_eq!(
            vars,
            BTreeMap::from([("backendUrl".to_owned(), "https://b.example".to_owned())])
        );
    }

    #[test]
    fn integration_uri_uses_the_stage_variable_and_resolves() {
        let route = &routes()[3];
        assert_eq!(
            route.integration_uri(),
            "${stageVariables.backendUrl}/sendmessage"
        );
        let vars = stage_variables("http://127.0.0.1:9000/", "s3cret");
        assert_eq!(
            route.resolved_uri(&vars).as_deref(),
            Some("http://127.0.0.1:9000/sendmessage")
        );
    }
}
