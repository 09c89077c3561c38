//! One `SdkConfig` and every AWS client, with chatctl's retry and timeout policy.
//!
//! Endpoints come from the standard variables (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`), which is how the tests point chatctl at the emulator.

use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::provider::ProvideCredentials;

/// How long credential resolution may take before chatctl gives up. The default chain
/// would otherwise probe the EC2 instance metadata service for several seconds.
const CREDENTIALS_DEADLINE: Duration = Duration::from_millis(1800);

#[derive(Clone, Debug)]
pub struct Clients {
    pub region: String,
    pub iam: aws_sdk_iam::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub apigatewayv2: aws_sdk_apigatewayv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub amplify: aws_sdk_amplify::Client,
    pub sts: aws_sdk_sts::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
}

impl Clients {
    /// Loads configuration once and checks that credentials exist, failing fast with a
    /// message that says how to provide them.
    pub async fn connect(region: &str) -> Result<Self> {
        let config = load_config(region).await;
        check_credentials(&config).await?;
        Ok(Self::from_config(&config, region))
    }

    pub fn from_config(config: &SdkConfig, region: &str) -> Self {
        Self {
            region: region.to_owned(),
            iam: aws_sdk_iam::Client::new(config),
            apigateway: aws_sdk_apigateway::Client::new(config),
            apigatewayv2: aws_sdk_apigatewayv2::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            amplify: aws_sdk_amplify::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
        }
    }
}

async fn load_config(region: &str) -> SdkConfig {
    // A short-fused IMDS client: on EC2 it answers in milliseconds; elsewhere we do not want
    // the default 4 attempts × 1 s timeouts before reporting "no credentials".
    let imds = aws_config::imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(Duration::from_millis(300))
        .read_timeout(Duration::from_millis(600))
        .build();
    let credentials = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .region(Region::new(region.to_owned()))
        .imds_client(imds)
        .build()
        .await;
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .retry_config(
            // Standard mode retries throttling, 5xx and transient errors; chatctl adds its
            // own bounded loops for the quirks the SDK does not classify (src/retry.rs).
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_mins(2))
                .build(),
        )
        .load()
        .await
}

async fn check_credentials(config: &SdkConfig) -> Result<()> {
    let provider = config
        .credentials_provider()
        .ok_or_else(|| anyhow!("no AWS credentials provider is configured"))?;
    let how_to = "set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an IAM role is available (CI with OIDC, EC2, ECS)";
    match tokio::time::timeout(CREDENTIALS_DEADLINE, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        // The provider's message can name a profile or file but never holds a secret.
        Ok(Err(err)) => Err(anyhow!("no usable AWS credentials ({err}): {how_to}")),
        Err(_) => Err(anyhow!(
            "no AWS credentials found within {} ms: {how_to}",
            CREDENTIALS_DEADLINE.as_millis()
        )),
    }
}
