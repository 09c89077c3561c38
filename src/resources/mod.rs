//! One module per resource kind. Each has the same verbs: `observe` (read what exists),
//! a pure `plan` (observed vs desired → [`crate::plan::Step`]), and `apply` / `delete`.

pub mod access_log_group;
pub mod account;
pub mod amplify;
pub mod api;
pub mod authorizer;
pub mod backend_role;
pub mod deployment;
pub mod function;
pub mod function_url;
pub mod integrations;
pub mod log_groups;
pub mod logs_role;
pub mod routes;
pub mod stage;
pub mod table;
pub mod user_pool;
pub mod user_pool_client;

use aws_smithy_runtime_api::client::result::SdkError;

use crate::aws::Clients;
use crate::config::Names;
use crate::ui::Ui;

/// What every resource operation needs.
#[derive(Clone)]
pub struct Ctx {
    pub aws: Clients,
    pub ui: Ui,
    pub names: Names,
    /// The API Gateway stage name.
    pub stage: String,
}

impl Ctx {
    /// The partition of the stack's region, for every ARN chatctl writes.
    pub fn partition(&self) -> anyhow::Result<crate::partition::Partition> {
        crate::partition::Partition::of_region(&self.aws.region)
    }
}

/// Follows `NextToken` pagination: `fetch(token)` returns one page's items and the token of
/// the next page (absent or empty on the last).
pub async fn collect_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = anyhow::Result<(Vec<T>, Option<String>)>>,
{
    let mut items = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = fetch(token.take()).await?;
        items.extend(page);
        match next {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(items),
        }
    }
}

/// Maps a "not found" service error to `None`, so observing a missing resource is not an
/// error and deleting an already-deleted one is success.
pub fn absent_if<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    is_not_found: impl Fn(&E) -> bool,
) -> Result<Option<T>, SdkError<E, R>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(SdkError::ServiceError(service)) if is_not_found(service.err()) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Renders an SDK error with its service code and message (the SDK's Display alone says
/// only "service error").
pub fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => err.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "timed out waiting for AWS".to_owned(),
        SdkError::DispatchFailure(_) => format!("could not reach AWS: {}", error_chain(error)),
        other => error_chain(other),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}

/// Wraps an SDK error into anyhow with the operation and resource named.
pub fn aws_error<E, R>(what: &str, error: &SdkError<E, R>) -> anyhow::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    anyhow::anyhow!("{what}: {}", describe(error))
}

/// The stack's ownership tags in IAM's shape.
pub fn iam_tags(names: &Names) -> anyhow::Result<Vec<aws_sdk_iam::types::Tag>> {
    names
        .tags()
        .into_iter()
        .map(|(key, value)| {
            aws_sdk_iam::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| anyhow::anyhow!("building an IAM tag: {e}"))
        })
        .collect()
}

/// Decodes the percent-encoding IAM applies to policy documents in responses.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_of_policy_documents() {
        assert_eq!(
            percent_decode("%7B%22Version%22%3A%222012-10-17%22%7D"),
            "{\"Version\":\"2012-10-17\"}"
        );
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
