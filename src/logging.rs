//! tracing setup: stderr only, `-v`/`-vv` or `RUST_LOG`.
//!
//! Whatever `RUST_LOG` asks for, the AWS SDK and the HTTP and TLS stacks under it (and under
//! the GitHub client) never log below [`SDK_LEVEL`] / [`HTTP_LEVEL`]: at trace level they
//! print request and response bodies and headers — the backend secret in UpdateStage and in
//! the function's environment, the GitHub token in Amplify's CreateApp and in
//! `Authorization`. The tests run the binary with `RUST_LOG=trace` and look for both.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The most the AWS SDK crates may log.
pub const SDK_LEVEL: LevelFilter = LevelFilter::DEBUG;
/// The most the HTTP, HTTP/2 and TLS crates may log.
pub const HTTP_LEVEL: LevelFilter = LevelFilter::INFO;

const SDK_TARGETS: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sigv4",
    "aws_smithy_async",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_json",
    "aws_smithy_query",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "aws_smithy_xml",
    "aws_types",
    "aws_sdk_amplify",
    "aws_sdk_apigateway",
    "aws_sdk_apigatewaymanagement",
    "aws_sdk_apigatewayv2",
    "aws_sdk_cloudwatchlogs",
    "aws_sdk_cognitoidentityprovider",
    "aws_sdk_dynamodb",
    "aws_sdk_iam",
    "aws_sdk_lambda",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_sdk_sts",
];

const HTTP_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_rustls",
    "hyper_util",
    "reqwest",
    "rustls",
    "tokio_tungstenite",
    "tower",
    "tungstenite",
];

/// The caps above, as a filter every event must also pass.
pub fn secret_safe_targets() -> Targets {
    let sdk = SDK_TARGETS.iter().map(|t| (*t, SDK_LEVEL));
    let http = HTTP_TARGETS.iter().map(|t| (*t, HTTP_LEVEL));
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(sdk.chain(http))
}

pub fn init(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "chatctl=debug,chat_handler=debug,info",
        _ => "debug,hyper=info,h2=info,rustls=info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter)
        .with_filter(secret_safe_targets());
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn sdk_and_http_traces_are_capped_and_chatctl_is_not() {
        let targets = secret_safe_targets();
        assert!(!targets.would_enable("aws_smithy_runtime::client::orchestrator", &Level::TRACE));
        assert!(targets.would_enable("aws_smithy_runtime::client::orchestrator", &Level::DEBUG));
        assert!(!targets.would_enable("hyper_util::client", &Level::DEBUG));
        assert!(!targets.would_enable("aws_sdk_lambda::operation", &Level::TRACE));
        assert!(targets.would_enable("chatctl::lock", &Level::TRACE));
    }
}
