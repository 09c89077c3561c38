//! Command-line definitions. The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Deploy a real-time one-to-one WebSocket chat service on AWS, tear it down, or run it locally.
///
/// chatctl reads ./chatctl.toml (see `chatctl init`), observes what exists in your AWS
/// account, and changes only what differs. Every command can be run again safely.
///
/// Quick start without AWS:   chatctl dev      (then open the printed URL in two windows)
/// Deploy:                    chatctl plan  →  chatctl up  →  chatctl status
/// Remove everything:         chatctl down
///
/// Exit codes: 0 success, 1 error, 2 `plan`/`status` found changes or drift.
#[derive(Debug, Parser)]
#[command(
    name = "chatctl",
    version,
    propagate_version = true,
    max_term_width = 100,
    verbatim_doc_comment
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "CHATCTL_CONFIG",
        default_value = "chatctl.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Stage to act on (overrides [app].stage); each stage is a separate stack.
    #[arg(long, global = true, env = "CHATCTL_STAGE", value_name = "NAME")]
    pub stage: Option<String>,
    /// AWS region (overrides [app].region, which overrides AWS_REGION).
    #[arg(long, global = true, env = "CHATCTL_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// Result format on stdout; progress and logs always go to stderr.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Answer yes to confirmations (required when stdin is not a terminal by `down`, and by an
    /// `up` that deletes or replaces something).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Deploy this prebuilt handler zip (e.g. from `cargo lambda build`) instead of the chat
    /// backend built into chatctl (overrides backend.zip).
    #[arg(long, global = true, env = "CHATCTL_HANDLER_ZIP", value_name = "ZIP")]
    pub handler_zip: Option<PathBuf>,
    /// More logging on stderr: -v for each AWS step, -vv for SDK details. RUST_LOG also works.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Upper bounds of the second counts a user gives: a day for `dev`'s connection limits (API
/// Gateway's are 10 minutes and 2 hours), an hour for a probe.
pub const MAX_DEV_SECONDS: u64 = 86_400;
pub const MAX_PROBE_SECONDS: u64 = 3_600;

/// A whole number of seconds from 1 to `max`; clap names the flag and the range when
/// another value is given.
fn seconds(max: u64) -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=max)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the stack so it matches chatctl.toml (idempotent).
    ///
    /// Observes what exists, prints the plan, and applies only the differences. A second
    /// `up` with nothing changed makes no write call. An interrupted `up` is finished by the
    /// next one. A plan that deletes or replaces something is confirmed on a terminal and needs
    /// --yes elsewhere. Resources with the stack's names that chatctl did not create stop it.
    Up(UpArgs),
    /// Delete everything chatctl created for the stack, in reverse dependency order.
    ///
    /// Asks for confirmation on a terminal; elsewhere requires --yes. Running it when nothing
    /// is left succeeds. Shared settings that belong to someone else are left alone.
    Down,
    /// Show every resource (present / missing / drifted) and the stack's URLs.
    ///
    /// Exits 2 when something is missing or drifted, 0 when everything matches.
    Status(StatusArgs),
    /// Print what `up` would change, without changing anything.
    ///
    /// Exits 2 when there are changes, 0 when the stack is up to date.
    Plan,
    /// Run the whole chat service on this machine: no AWS account needed.
    ///
    /// Serves a local WebSocket gateway that behaves like API Gateway (same routes, mappings,
    /// responses and throttling as `chatctl up` deploys), the @connections API, the chat
    /// backend with an in-memory registry, and the reference web app. Sign-in is on: a local
    /// OpenID provider at /oidc signs people in by name (no password), and the $connect
    /// authorizer verifies their ID token, as on AWS; `--no-auth` (or [auth] provider =
    /// "none") lets clients pick a name with ?name= instead. Uses chatctl.toml's stage and
    /// [api] throttling when the file exists, defaults otherwise. Ctrl-C stops it.
    Dev(DevArgs),
    /// Show (or write out) the chat backend's Lambda zip that `up` deploys: its size and SHA-256.
    ///
    /// chatctl carries the chat backend for x86_64, built from handler/ when chatctl itself was
    /// compiled (release chatctl: release build; debug chatctl: dev build), checked for
    /// Lambda's provided.al2023 runtime and zipped reproducibly: the same sources, Cargo.lock and
    /// toolchain always give the same bytes and the same CodeSha256, which `up` compares with
    /// the deployed function. A prebuilt zip (--handler-zip or backend.zip; arm64 needs one) is
    /// checked instead, and refused when provided.al2023 could not start its bootstrap (wrong
    /// architecture, glibc newer than 2.34, no executable bootstrap). No AWS access.
    Package(PackageArgs),
    /// Show the stack's logs: access log, API Gateway execution log and backend, merged by time.
    ///
    /// One line per event: time (UTC), source, the connection id (or request id) and the
    /// message, with the backend's structured fields as key=value; --output json prints one
    /// JSON object per line instead. Secrets (the backend secret, tokens) are masked. With
    /// --dev, reads what `chatctl dev` wrote instead of CloudWatch Logs (no AWS access).
    ///
    /// Examples:  chatctl logs --since 1h
    ///            chatctl logs --follow --source access,backend
    ///            chatctl logs --connection LQ1bJc3kliACFZQ= --output json
    #[command(verbatim_doc_comment)]
    Logs(LogsArgs),
    /// Write a commented chatctl.toml and a copy of the reference web app, ready to push to GitHub.
    ///
    /// Writes chatctl.toml (every setting with its default; [frontend] and [github] commented
    /// out), the web app (index.html, app.js, …) and amplify.yml, the Amplify build that writes
    /// config.js from the deployed stage's URL. --region and --stage are written into the file
    /// when given. When any of these files exists it writes nothing at all, unless --force
    /// replaces them. No AWS access.
    Init(InitArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct PackageArgs {
    /// Write the zip to PATH (--out, because --output chooses text or JSON): the exact bytes
    /// `up` uploads. Without it, the package is only described (and a prebuilt zip checked).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct LogsArgs {
    /// How far back to start: 30s, 10m, 2h, 1d, 1h30m.
    #[arg(long, default_value = "10m", value_parser = crate::logs::parse_duration, value_name = "DURATION")]
    pub since: std::time::Duration,
    /// Keep printing events as they arrive, new log streams included, until Ctrl-C (exit 0).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the events of this connection, across all sources.
    #[arg(long, value_name = "ID")]
    pub connection: Option<String>,
    /// Only these sources (comma-separated or repeated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SOURCE")]
    pub source: Vec<crate::logs::Source>,
    /// Read the logs `chatctl dev` writes (in --log-dir) instead of CloudWatch Logs.
    #[arg(long)]
    pub dev: bool,
    /// Where `chatctl dev` writes its logs.
    #[arg(long, value_name = "DIR", default_value = crate::logs::local::DEFAULT_DIR, requires = "dev")]
    pub log_dir: PathBuf,
}

#[derive(Debug, Args, Clone, Default)]
pub struct InitArgs {
    /// Directory to write into (created if missing).
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DevArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Send the integrations to a chat backend you run yourself instead of the built-in one;
    /// its shared secret comes from CHATCTL_BACKEND_SECRET.
    #[arg(long, value_name = "URL")]
    pub backend_url: Option<String>,
    /// Serve the web app from this directory instead of the built-in reference app.
    #[arg(long, value_name = "DIR")]
    pub frontend_dir: Option<PathBuf>,
    /// Close connections idle this many seconds (API Gateway: 600; 1 to 86400).
    #[arg(long, default_value_t = 600, value_name = "SECONDS", value_parser = seconds(MAX_DEV_SECONDS))]
    pub idle_timeout: u64,
    /// Close connections older than this many seconds (API Gateway: 7200; 1 to 86400).
    #[arg(long, default_value_t = 7200, value_name = "SECONDS", value_parser = seconds(MAX_DEV_SECONDS))]
    pub max_connection: u64,
    /// No sign-in: clients pick their name with ?name=, which proves nothing (like [auth]
    /// provider = "none").
    #[arg(long)]
    pub no_auth: bool,
    /// Lifetime of the ID tokens the local sign-in issues (Cognito's default: 3600; 1 to
    /// 86400).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS", value_parser = seconds(MAX_DEV_SECONDS))]
    pub token_lifetime: u64,
    /// Write the access log (the lines the deployed stage logs) under DIR/{stage}/, for
    /// `chatctl logs --dev`.
    #[arg(long, value_name = "DIR", default_value = crate::logs::local::DEFAULT_DIR)]
    pub log_dir: PathBuf,
    /// Write no log files.
    #[arg(long, conflicts_with = "log_dir")]
    pub no_log_files: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct UpArgs {
    /// Point the account-wide API Gateway CloudWatch Logs setting at this stack's role even
    /// when it already names another working role.
    #[arg(long)]
    pub own_cloudwatch_role: bool,
    /// Generate a new backend secret and deploy it to the function and the stage together.
    #[arg(long)]
    pub rotate_secret: bool,
    /// With [frontend]: follow the Amplify build this run started to its end and report it
    /// (exit 1 if it fails).
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct StatusArgs {
    /// Also prove the service works: two WebSocket clients exchange a message, and the
    /// round-trip latency is reported. Fails (exit 1) if delivery is wrong.
    #[arg(long)]
    pub probe: bool,
    /// Probe this WebSocket URL (e.g. ws://127.0.0.1:8080/dev for `chatctl dev`) instead of
    /// the deployed stack; no AWS access is needed.
    #[arg(long, value_name = "URL", requires = "probe")]
    pub url: Option<String>,
    /// Give up on the probe after this many seconds (1 to 3600).
    #[arg(long, default_value_t = 15, value_name = "SECONDS", value_parser = seconds(MAX_PROBE_SECONDS))]
    pub probe_timeout: u64,
}
