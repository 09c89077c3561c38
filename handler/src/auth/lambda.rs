//! The authorizer as a Lambda function: the same `bootstrap` as the backend, started with
//! `CHAT_ROLE=authorizer` (one zip serves both functions).
//!
//! Lambda passes the REQUEST-authorizer event as the invocation payload and returns the
//! handler's answer to API Gateway: the policy document on success; on failure an error whose
//! message API Gateway reads — exactly `Unauthorized` for a 401, anything else for a 500.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Authorizer, AuthorizerConfig, AuthorizerError, AuthorizerRequest, AuthorizerResponse};

/// The error type Lambda reports for a refused token. API Gateway only reads the message.
const UNAUTHORIZED_TYPE: &str = "Unauthorized";
const FAILED_TYPE: &str = "AuthorizerFailure";

impl From<AuthorizerError> for Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        match error {
            AuthorizerError::Unauthorized(_) => Self {
                error_type: UNAUTHORIZED_TYPE.to_owned(),
                error_message: super::apigw::UNAUTHORIZED.to_owned(),
            },
            // The cause went to the function's log; API Gateway and the client get nothing of
            // it.
            AuthorizerError::Failed(_) => Self {
                error_type: FAILED_TYPE.to_owned(),
                error_message: "the authorizer could not verify the token".to_owned(),
            },
        }
    }
}

/// The error document of a failed invocation, as Lambda hands it to the caller (API Gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

/// One invocation the way Lambda performs it, without Lambda: the event as JSON in, the
/// function's JSON result or its error document out. `chatctl dev` calls the authorizer
/// through this, so it crosses the same contract as on AWS.
pub async fn invoke(authorizer: &Authorizer, event: Value) -> Result<Value, FunctionError> {
    let request: AuthorizerRequest =
        serde_json::from_value(event).map_err(|err| FunctionError {
            error_type: "DeserializeError".to_owned(),
            error_message: format!("the event is not a REQUEST-authorizer event: {err}"),
        })?;
    match authorizer.authorize(&request).await {
        Ok(response) => serde_json::to_value(&response).map_err(|err| FunctionError {
            error_type: FAILED_TYPE.to_owned(),
            error_message: err.to_string(),
        }),
        Err(error) => {
            let diagnostic = Diagnostic::from(error);
            Err(FunctionError {
                error_type: diagnostic.error_type,
                error_message: diagnostic.error_message,
            })
        }
    }
}

/// Serves authorizer invocations until the runtime stops.
pub async fn run() -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let authorizer = Authorizer::new(AuthorizerConfig::from_env(&env)?)?;
    // During the init phase: the keys are usually in hand before the first connect arrives.
    authorizer.prefetch().await;
    let handler = service_fn(move |event: LambdaEvent<AuthorizerRequest>| {
        let authorizer = authorizer.clone();
        async move {
            let response: Result<AuthorizerResponse, AuthorizerError> =
                authorizer.authorize(&event.payload).await;
            response
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|err| anyhow::anyhow!("the Lambda runtime failed: {err}"))
}
