//! `bootstrap`: the chat backend executable. On AWS Lambda (behind a function URL) it answers
//! invocations; elsewhere it is a plain HTTP server: `bootstrap --listen 127.0.0.1:9000`.
//! With `CHAT_ROLE=authorizer` it is the `$connect` authorizer function instead: one package
//! for both functions.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use chat_handler::{Deps, router, serve};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

const USAGE: &str = "\
Usage: bootstrap [--listen ADDR]

The chatctl chat backend. Under AWS Lambda it serves the function's invocations; otherwise it
listens for HTTP on ADDR (default 127.0.0.1:9000; port 0 picks a free port).

Environment:
  CHAT_ROLE          backend (default) or authorizer (the $connect authorizer; Lambda only)
  CHAT_SECRET        shared secret every request must carry in x-chat-secret (required)
  CHAT_CALLBACK_URL  the @connections URL, https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
  CHAT_TABLE         DynamoDB table of the connection registry (unset: in memory)
  RUST_LOG           log filter (default: info)

Authorizer (CHAT_ROLE=authorizer):
  CHAT_AUTH_PROVIDER   cognito or oidc
  CHAT_AUTH_ISSUER     the token issuer, exactly as in the tokens' `iss`
  CHAT_AUTH_AUDIENCE   the app client id the tokens are issued for
  CHAT_AUTH_NAME_CLAIM the claim holding the chat name (cognito:username / preferred_username)
  CHAT_AUTH_JWKS_URL   the issuer's key set (default: Cognito's, or from OpenID discovery)
  CHAT_SECRET          handed to the integrations in the authorizer's context (optional)";

/// `CHAT_ROLE`: which function this process is.
use chat_handler::auth::ENV_ROLE;

#[derive(Debug)]
enum Command {
    Serve(SocketAddr),
    Help,
}

fn parse_args(args: impl Iterator<Item = String>) -> anyhow::Result<Command> {
    let mut listen = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => args
                .next()
                .context("--listen needs an address, e.g. 127.0.0.1:9000")?,
            other => match other.strip_prefix("--listen=") {
                Some(value) => value.to_owned(),
                None => anyhow::bail!("unexpected argument {other:?}\n\n{USAGE}"),
            },
        };
        listen = Some(value);
    }
    let listen = listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let addr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address like 127.0.0.1:9000"))?;
    Ok(Command::Serve(addr))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn run() -> anyhow::Result<()> {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    match std::env::var(ENV_ROLE).ok().as_deref() {
        None | Some("" | "backend") => {}
        Some("authorizer") if on_lambda => return chat_handler::auth::lambda::run().await,
        Some("authorizer") => anyhow::bail!(
            "{ENV_ROLE}=authorizer runs under AWS Lambda only (chatctl dev runs the same \
             authorizer in-process)"
        ),
        Some(other) => anyhow::bail!("{ENV_ROLE}={other:?} is not backend or authorizer"),
    }
    if on_lambda {
        let deps = Deps::from_env().await?;
        // Function URL events (payload 2.0) become HTTP requests for the same router.
        return lambda_http::run(router(deps))
            .await
            .map_err(|err| anyhow::anyhow!("the Lambda runtime failed: {err}"));
    }
    let addr = match parse_args(std::env::args().skip(1))? {
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Command::Serve(addr) => addr,
    };
    let deps = Deps::from_env().await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    // One fixed line on stderr whatever RUST_LOG says: scripts wait for it.
    eprintln!("listening on http://{local}");
    serve(listener, deps, shutdown_signal()).await
}

/// The log filter from `RUST_LOG` (`info`, `chat_handler=debug,warn`, …; default `info`).
/// `Targets` rather than `EnvFilter`: the same directives without per-span field matching,
/// whose regex engine would add about a megabyte to the Lambda package.
fn log_filter() -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        // One JSON object per event in CloudWatch Logs, with every span's fields (the
        // connection and request ids of `chat`, Lambda's request id of its invocation span):
        // what `chatctl logs` reads.
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .finish()
            .with(log_filter())
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .finish()
            .with(log_filter())
            .init();
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Command> {
        parse_args(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn listen_address_forms() {
        let addr = |args: &[&str]| match parse(args).unwrap() {
            Command::Serve(addr) => addr.to_string(),
            Command::Help => "help".to_owned(),
        };
        assert_eq!(addr(&[]), "127.0.0.1:9000");
        assert_eq!(addr(&["--listen", "127.0.0.1:0"]), "127.0.0.1:0");
        assert_eq!(addr(&["--listen=0.0.0.0:8080"]), "0.0.0.0:8080");
        assert_eq!(addr(&["--help"]), "help");
        assert!(
            parse(&["--listen"])
                .unwrap_err()
                .to_string()
                .contains("needs an address")
        );
        assert!(
            parse(&["--port", "1"])
                .unwrap_err()
                .to_string()
                .contains("unexpected argument")
        );
        assert!(
            parse(&["--listen", "localhost"])
                .unwrap_err()
                .to_string()
                .contains("is not an address")
        );
    }
}
