//! The `$connect` authorizer of the local gateway: API Gateway's side of the Lambda
//! REQUEST-authorizer contract, with the authorizer function (`chat_handler::auth`) called
//! in-process through the same JSON it receives and returns on Lambda.
//!
//! What API Gateway does, and this module with it:
//! - a handshake without the identity source (`?token=`, empty counts as missing) is refused
//!   with 401 before the authorizer runs ("If you attempt to connect without a valid identity
//!   value, you'll receive a 401 response", apigateway-websocket-api-lambda-auth.html);
//! - the event is the documented REQUEST event (`type`, `methodArn`, `headers`,
//!   `multiValueHeaders`, `queryStringParameters`, `multiValueQueryStringParameters`,
//!   `stageVariables`, `requestContext`);
//! - the function failing with the message `Unauthorized` refuses with 401; a policy that
//!   denies (or does not allow) `execute-api:Invoke` on the method ARN with 403; any other
//!   failure, or an answer that is not a valid policy, with 500
//!   (apigateway-use-lambda-authorizer.html, api-gateway-lambda-authorizer-output.html);
//! - an Allow's `context` (strings, numbers and booleans; an object or array is an invalid
//!   answer) becomes `$context.authorizer.*`, with `principalId`, for the integrations of this
//!   connection's routes, `$connect` and every later one.
//!
//! Not reproduced: authorizer result caching (chatctl's authorizer is meant to run with a TTL of
//! 0, so every connect is verified). The refusal bodies follow REST APIs' default gateway
//! responses (`{"message":"Unauthorized"}`, `{"message":"Forbidden"}`); what WebSocket APIs put
//! in the body of a refused handshake is not documented.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chat_handler::auth::Authorizer;
use chat_handler::auth::apigw::{INVOKE_ACTION, UNAUTHORIZED};
use serde_json::{Value, json};

use super::mapping::RequestContext;
use crate::chat_api::RouteAuthorizer;

/// Region and account in the method ARN of the local stage (there is no AWS account).
const REGION: &str = "local";
const ACCOUNT: &str = "000000000000";

/// The authorizer function of the local stage.
#[derive(Debug)]
pub struct LocalAuthorizer {
    function: Authorizer,
}

/// The context the integrations read as `context.authorizer.*`. Its `Debug` shows the keys
/// only: the values include the backend secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthorizerContext(BTreeMap<String, String>);

impl AuthorizerContext {
    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.get(key)
    }
}

impl From<BTreeMap<String, String>> for AuthorizerContext {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl std::fmt::Debug for AuthorizerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// What API Gateway makes of the authorizer's answer.
#[derive(Debug)]
pub enum Decision {
    Allow(AuthorizerContext),
    Refuse(StatusCode, &'static str),
}

/// A refused handshake: its status and `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: &'static str,
}

impl Refusal {
    pub fn into_response(self) -> Response {
        super::gateway::json_response(self.status, &json!({ "message": self.message }))
    }
}

impl Decision {
    pub fn into_result(self) -> Result<AuthorizerContext, Refusal> {
        match self {
            Self::Allow(context) => Ok(context),
            Self::Refuse(status, message) => Err(Refusal { status, message }),
        }
    }
}

fn refuse_unauthorized() -> Decision {
    Decision::Refuse(StatusCode::UNAUTHORIZED, "Unauthorized")
}

fn refuse_forbidden() -> Decision {
    Decision::Refuse(StatusCode::FORBIDDEN, "Forbidden")
}

fn fail() -> Decision {
    Decision::Refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

impl LocalAuthorizer {
    pub fn new(function: Authorizer) -> Self {
        Self { function }
    }

    /// Runs `route`'s authorizer for a handshake.
    pub async fn decide(
        &self,
        route: &RouteAuthorizer,
        request: &RequestContext<'_>,
        headers: &HeaderMap,
    ) -> Decision {
        let present = route.query_parameter().is_some_and(|name| {
            request
                .query
                .iter()
                .any(|(key, value)| key == name && !value.is_empty())
        });
        if !present {
            tracing::info!(
                connection_id = request.connection_id,
                "$connect without {}: 401",
                route.identity_source
            );
            return refuse_unauthorized();
        }
        let method_arn = format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT}:{}/{}/$connect",
            request.api_id, request.stage
        );
        let event = event(&method_arn, request, headers);
        let decision = match chat_handler::auth::lambda::invoke(&self.function, event).await {
            Ok(output) => evaluate(&output, &method_arn),
            Err(error) if error.error_message == UNAUTHORIZED => refuse_unauthorized(),
            Err(error) => {
                tracing::warn!(
                    connection_id = request.connection_id,
                    error_type = error.error_type,
                    "the authorizer failed: {}",
                    error.error_message
                );
                fail()
            }
        };
        if let Decision::Refuse(status, _) = &decision {
            tracing::info!(
                connection_id = request.connection_id,
                %status,
                "$connect refused by the authorizer"
            );
        }
        decision
    }
}

/// The REQUEST event for a handshake (single-value maps hold the last value of a name).
fn event(method_arn: &str, request: &RequestContext<'_>, headers: &HeaderMap) -> Value {
    let mut single_headers = serde_json::Map::new();
    let mut multi_headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single_headers.insert(name.as_str().to_owned(), json!(value));
        multi_headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(value);
    }
    let mut query = serde_json::Map::new();
    let mut multi_query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in request.query {
        query.insert(key.clone(), json!(value));
        multi_query
            .entry(key.clone())
            .or_default()
            .push(value.clone());
    }
    json!({
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": request.stage_variables,
        "requestContext": {
            "routeKey": request.route_key,
            "eventType": request.event_type.as_str(),
            "extendedRequestId": request.request_id,
            "requestTime": super::mapping::clf_time(request.request_time),
            "messageDirection": "IN",
            "stage": request.stage,
            "connectedAt": super::mapping::epoch_millis(request.connected_at),
            "requestTimeEpoch": super::mapping::epoch_millis(request.request_time),
            "identity": {"sourceIp": request.source_ip, "userAgent": request.user_agent},
            "requestId": request.request_id,
            "domainName": request.domain_name,
            "connectionId": request.connection_id,
            "apiId": request.api_id,
        },
    })
}

/// IAM-style wildcards: `*` any run of characters, `?` any one.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    let (pattern, value): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), value.chars().collect());
    let (mut p, mut v) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, v));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            v = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(one) => Some(vec![one.as_str()]),
        Value::Array(many) => many.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// API Gateway's reading of the authorizer's output: a valid policy, then explicit Deny over
/// Allow over nothing (which denies).
fn evaluate(output: &Value, method_arn: &str) -> Decision {
    let Some(principal) = output.get("principalId").and_then(Value::as_str) else {
        tracing::warn!("the authorizer's answer has no principalId");
        return fail();
    };
    let Some(statements) = output
        .pointer("/policyDocument/Statement")
        .and_then(Value::as_array)
    else {
        tracing::warn!("the authorizer's answer has no policyDocument.Statement");
        return fail();
    };
    let mut allowed = false;
    for statement in statements {
        let (Some(effect), Some(actions), Some(resources)) = (
            statement.get("Effect").and_then(Value::as_str),
            statement.get("Action").and_then(strings),
            statement.get("Resource").and_then(strings),
        ) else {
            tracing::warn!("the authorizer's policy has an invalid statement");
            return fail();
        };
        let applies = actions
            .iter()
            .any(|action| wildcard_match(action, INVOKE_ACTION))
            && resources
                .iter()
                .any(|resource| wildcard_match(resource, method_arn));
        match (effect, applies) {
            ("Deny", true) => return refuse_forbidden(),
            ("Allow", true) => allowed = true,
            ("Allow" | "Deny", false) => {}
            _ => {
                tracing::warn!("the authorizer's policy has an unknown Effect");
                return fail();
            }
        }
    }
    if !allowed {
        return refuse_forbidden();
    }
    let mut context = BTreeMap::from([("principalId".to_owned(), principal.to_owned())]);
    if let Some(entries) = output.get("context").and_then(Value::as_object) {
        for (key, value) in entries {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                Value::Null => continue,
                Value::Array(_) | Value::Object(_) => {
                    tracing::warn!(key, "the authorizer's context holds an object or array");
                    return fail();
                }
            };
            context.insert(key.clone(), text);
        }
    }
    Decision::Allow(AuthorizerContext(context))
}

/// Runs the `$connect` route's authorizer, if it has one: `Ok(None)` without an authorizer,
/// `Ok(Some(context))` when allowed, `Err(response)` to refuse the handshake.
pub async fn authorize(
    gateway: &super::gateway::Gateway,
    request: &RequestContext<'_>,
    headers: &HeaderMap,
) -> Result<Option<AuthorizerContext>, Refusal> {
    let Some(route) = gateway
        .routes
        .get(crate::chat_api::CONNECT_ROUTE)
        .and_then(|route| route.spec.authorizer.as_ref())
    else {
        return Ok(None);
    };
    // `dev::start` refuses a route with an authorizer and no authorizer function.
    let Some(function) = &gateway.authorizer else {
        return fail().into_result().map(Some);
    };
    function
        .decide(route, request, headers)
        .await
        .into_result()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:local:000000000000:abc/dev/$connect";

    fn policy(effect: &str, resource: &Value) -> Value {
        json!({
            "principalId": "p-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ]},
            "context": {"name": "alice", "n": 1, "ok": true, "gone": null}
        })
    }

    #[test]
    fn an_allow_for_the_method_passes_the_stringified_context() {
        let Decision::Allow(context) = evaluate(&policy("Allow", &json!(ARN)), ARN) else {
            panic!("must allow");
        };
        assert_eq!(
            context,
            AuthorizerContext::from(BTreeMap::from([
                ("principalId".to_owned(), "p-1".to_owned()),
                ("name".to_owned(), "alice".to_owned()),
                ("n".to_owned(), "1".to_owned()),
                ("ok".to_owned(), "true".to_owned()),
            ]))
        );
        assert_eq!(
            format!("{context:?}"),
            r#"{"n", "name", "ok", "principalId"}"#
        );
        for resource in [
            json!("arn:aws:execute-api:*"),
            json!(["x", "*/dev/$connect"]),
        ] {
            assert!(matches!(
                evaluate(&policy("Allow", &resource), ARN),
                Decision::Allow(_)
            ));
        }
    }

    #[test]
    fn deny_or_no_matching_allow_is_403_and_bad_answers_are_500() {
        let status = |decision: Decision| match decision {
            Decision::Allow(_) => 200,
            Decision::Refuse(status, _) => status.as_u16(),
        };
        assert_eq!(status(evaluate(&policy("Deny", &json!(ARN)), ARN)), 403);
        assert_eq!(
            status(evaluate(
                &policy(
                    "Allow",
                    &json!("arn:aws:execute-api:local:000000000000:other/dev/$connect")
                ),
                ARN
            )),
            403
        );
        let mut both = policy("Allow", &json!(ARN));
        both["policyDocument"]["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Action": "*", "Effect": "Deny", "Resource": "*"}));
        assert_eq!(status(evaluate(&both, ARN)), 403);
        let mut no_principal = policy("Allow", &json!(ARN));
        no_principal.as_object_mut().unwrap().remove("principalId");
        assert_eq!(status(evaluate(&no_principal, ARN)), 500);
        let mut object_context = policy("Allow", &json!(ARN));
        object_context["context"]["claims"] = json!({"sub": "x"});
        assert_eq!(status(evaluate(&object_context, ARN)), 500);
        assert_eq!(status(evaluate(&json!({"principalId": "p"}), ARN)), 500);
        assert_eq!(status(evaluate(&policy("Maybe", &json!(ARN)), ARN)), 500);
    }

    #[test]
    fn wildcards_follow_iam() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(wildcard_match("*$connect", ARN));
        assert!(!wildcard_match("*$disconnect", ARN));
        assert!(wildcard_match("execute-api:*", "execute-api:Invoke"));
        assert!(!wildcard_match(
            "execute-api:Invoke",
            "execute-api:ManageConnections"
        ));
    }
}
