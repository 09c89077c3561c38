//! The AWS SDK configuration of the backend's clients (DynamoDB, and @connections on AWS).

use std::time::Duration;

use anyhow::Context as _;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::notifier::CallbackUrl;

/// The HTTPS client for AWS calls: hyper 1 with rustls and ring, trusting the system's roots.
/// Built explicitly because the SDK crates' default client (rustls with aws-lc) is disabled to
/// keep the Lambda binary small.
pub fn https_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Timeouts for every AWS call. The SDK sets none by default, and a request stuck behind a
/// dead connection would otherwise hold the Lambda invocation until the function times out.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

/// `AWS_REGION` (or `AWS_DEFAULT_REGION`), else the region in an API Gateway callback URL.
fn region(env: &dyn Fn(&str) -> Option<String>, callback: &CallbackUrl) -> Option<String> {
    env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| callback.region().map(str::to_owned))
}

/// The SDK configuration from the process environment and, with the `credential-chain`
/// feature, the rest of the standard chain.
// Async for the chain, which resolves the region before returning.
#[cfg_attr(not(feature = "credential-chain"), allow(clippy::unused_async))]
pub async fn sdk_config(callback: &CallbackUrl) -> anyhow::Result<SdkConfig> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    #[cfg(feature = "credential-chain")]
    {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .timeout_config(timeouts());
        // Only fill in a region the standard chain would not find in the environment.
        if env("AWS_REGION").is_none()
            && env("AWS_DEFAULT_REGION").is_none()
            && let Some(region) = region(&env, callback)
        {
            loader = loader.region(Region::new(region));
        }
        Ok(loader.load().await)
    }
    #[cfg(not(feature = "credential-chain"))]
    {
        environment_config(&env, callback)
    }
}

/// The SDK configuration from environment variables alone: what Lambda provides
/// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), plus
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`. Leaving out the rest of the standard
/// chain (profiles, SSO, web identity, ECS, EC2 instance metadata, and the STS client they
/// need) takes about a fifth off the Lambda package.
#[cfg_attr(feature = "credential-chain", allow(dead_code))]
pub(crate) fn environment_config(
    env: &dyn Fn(&str) -> Option<String>,
    callback: &CallbackUrl,
) -> anyhow::Result<SdkConfig> {
    let region = region(env, callback)
        .context("no AWS region: set AWS_REGION (Lambda sets it for every function)")?;
    let (Some(access_key), Some(secret_key)) =
        (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    else {
        anyhow::bail!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
             AWS_SESSION_TOKEN), as Lambda does; this build reads credentials from the \
             environment only, build it with the `credential-chain` feature for profiles, SSO \
             or ECS and EC2 roles"
        );
    };
    let credentials = Credentials::new(
        access_key,
        secret_key,
        env("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client())
        .timeout_config(timeouts());
    // The @connections client always sets its own endpoint (the callback URL), so an endpoint
    // here only ever applies to DynamoDB.
    if let Some(endpoint) = env("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| env("AWS_ENDPOINT_URL")) {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::ProvideCredentials as _;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[tokio::test]
    async fn the_environment_configures_region_credentials_and_endpoint() {
        let aws =
            CallbackUrl::parse("https://abc.execute-api.eu-central-1.amazonaws.com/dev").unwrap();
        let env = lookup(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret-key"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"),
        ]);
        let config = environment_config(&env, &aws).unwrap();
        assert_eq!(config.region().unwrap().as_ref(), "eu-central-1");
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:2"));
        let credentials = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
        assert!(!format!("{credentials:?}").contains("secret-key"));

        let env = lookup(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "B"),
        ]);
        let config = environment_config(&env, &aws).unwrap();
        assert_eq!(config.region().unwrap().as_ref(), "us-west-2");
        assert_eq!(config.endpoint_url(), None);
    }

    #[test]
    fn missing_region_or_credentials_are_explained() {
        let local = CallbackUrl::parse("http://127.0.0.1:4000/dev").unwrap();
        let err = environment_config(
            &lookup(&[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "B")]),
            &local,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("no AWS region"), "{err}");
        let err = environment_config(
            &lookup(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "A")]),
            &local,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("no AWS credentials"), "{err}");
    }
}
