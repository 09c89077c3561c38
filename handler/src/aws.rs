//! Settings shared by every AWS client the backend builds.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

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
