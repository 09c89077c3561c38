//! API Gateway's Lambda REQUEST-authorizer contract for WebSocket APIs, both ways.
//!
//! - The event: <https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-lambda-auth.html>
//!   (`type: "REQUEST"`, `methodArn` ending in `/$connect`, `headers`, `multiValueHeaders`,
//!   `queryStringParameters`, `multiValueQueryStringParameters`, `stageVariables`,
//!   `requestContext` with `routeKey`, `eventType: "CONNECT"`, `connectionId`, …).
//! - The answer: <https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html>
//!   (`principalId`, an IAM `policyDocument` allowing or denying `execute-api:Invoke` on the
//!   method ARN, and a `context` map of string, number or boolean values, which the
//!   integrations read as `$context.authorizer.KEY`), or the error `"Unauthorized"`.
//!
//! What API Gateway makes of it (same pages, and the REST authorizer page it refers to): an
//! `Allow` connects; a `Deny` refuses the handshake with 403; the error `Unauthorized` and a
//! missing identity source refuse it with 401; any other failure with 500.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `execute-api` action every policy statement names.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";
/// The error message that makes API Gateway answer 401 (any other error is a 500).
pub const UNAUTHORIZED: &str = "Unauthorized";

/// The input of a REQUEST authorizer on `$connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRequest {
    /// `"REQUEST"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/$connect`.
    pub method_arn: String,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub multi_value_query_string_parameters: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub stage_variables: Option<BTreeMap<String, String>>,
    /// `routeKey`, `eventType`, `connectionId`, `requestId`, `identity.sourceIp`, … (kept as
    /// JSON: the authorizer only logs the connection id).
    #[serde(default)]
    pub request_context: Option<Value>,
}

impl AuthorizerRequest {
    /// A query string parameter (the last value when it is repeated, as API Gateway's
    /// single-value map holds it).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_string_parameters
            .as_ref()
            .and_then(|query| query.get(name))
            .map(String::as_str)
    }

    pub fn connection_id(&self) -> Option<&str> {
        self.request_context
            .as_ref()
            .and_then(|context| context.get("connectionId"))
            .and_then(Value::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub action: String,
    pub effect: Effect,
    pub resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: String,
    pub statement: Vec<Statement>,
}

/// The output of the authorizer. Its `Debug` leaves out the context's values, which carry the
/// backend secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: PolicyDocument,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Value>,
}

impl fmt::Debug for AuthorizerResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizerResponse")
            .field("principal_id", &self.principal_id)
            .field("policy_document", &self.policy_document)
            .field("context_keys", &self.context.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AuthorizerResponse {
    /// A policy with one statement for `method_arn`.
    pub fn new(
        principal_id: &str,
        effect: Effect,
        method_arn: &str,
        context: BTreeMap<String, Value>,
    ) -> Self {
        Self {
            principal_id: principal_id.to_owned(),
            policy_document: PolicyDocument {
                version: "2012-10-17".to_owned(),
                statement: vec![Statement {
                    action: INVOKE_ACTION.to_owned(),
                    effect,
                    resource: method_arn.to_owned(),
                }],
            },
            context,
        }
    }
}

/// A method ARN for the local gateway or tests:
/// `arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect`.
pub fn connect_method_arn(region: &str, account: &str, api_id: &str, stage: &str) -> String {
    format!("arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect")
}
