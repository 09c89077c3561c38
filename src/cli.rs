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
    /// Answer yes to confirmations (required by `down` when stdin is not a terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Deploy this prebuilt handler zip (e.g. from `cargo lambda build`) instead of building
    /// handler/ (overrides backend.zip).
    #[arg(long, global = true, env = "CHATCTL_HANDLER_ZIP", value_name = "ZIP")]
    pub handler_zip: Option<PathBuf>,
    /// More logging on stderr: -v for each AWS step, -vv for SDK details. RUST_LOG also works.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
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
    /// next one.
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
    /// Build the chat backend's Lambda zip without deploying it, and print its size and SHA-256.
    ///
    /// Builds handler/ in release mode for [backend].architecture of chatctl.toml (x86_64
    /// without the file), or checks the prebuilt zip of --handler-zip or backend.zip, and
    /// refuses a bootstrap that Lambda's provided.al2023 runtime could not start (wrong
    /// architecture, glibc newer than 2.34, no executable bootstrap). The zip is reproducible:
    /// the same binary always gives the same bytes and the same hash, which is the CodeSha256
    /// that `up` compares with the deployed function. No AWS access.
    Package(PackageArgs),
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
    /// Write the zip to PATH (--out, because --output chooses text or JSON). Without it, a
    /// built zip stays at target/chatctl/bootstrap.zip in the source tree and a prebuilt zip
    /// is only checked.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
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
    /// Close connections idle this many seconds (API Gateway: 600).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Close connections older than this many seconds (API Gateway: 7200).
    #[arg(long, default_value_t = 7200, value_name = "SECONDS")]
    pub max_connection: u64,
    /// No sign-in: clients pick their name with ?name=, which proves nothing (like [auth]
    /// provider = "none").
    #[arg(long)]
    pub no_auth: bool,
    /// Lifetime of the ID tokens the local sign-in issues (Cognito's default: 3600).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub token_lifetime: u64,
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
    /// Give up on the probe after this many seconds.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub probe_timeout: u64,
}
