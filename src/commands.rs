//! The commands: configuration → clients → observe → plan → apply, and their results.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::aws::Clients;
use crate::cli::{Cli, Command, DevArgs, GlobalArgs, InitArgs, LogsArgs, StatusArgs, UpArgs};
use crate::config::{Config, Overrides};
use crate::lock::StackLock;
use crate::ownership::{self, Foreign};
use crate::plan::{Plan, Step};
use crate::resources::Ctx;
use crate::resources::amplify;
use crate::stack::{self, Desired, Observed, Outputs};
use crate::ui::Ui;

/// Exit status of a command that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `plan`/`status` found changes or drift.
    Changes,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Changes => ExitCode::from(2),
        }
    }
}

pub async fn run(cli: Cli, ui: &Ui) -> Result<Outcome> {
    crate::retry::check_scale()?;
    // Each command's future lives on the heap: in a debug build the poll frames of these
    // deeply nested futures keep a slot for every temporary, and inline they outgrow the
    // main thread's stack.
    match cli.command {
        Command::Up(args) => Box::pin(up(&cli.global, &args, ui)).await,
        Command::Down => Box::pin(down(&cli.global, ui)).await,
        Command::Status(args) => Box::pin(status(&cli.global, &args, ui)).await,
        Command::Plan => Box::pin(plan(&cli.global, ui)).await,
        Command::Dev(args) => Box::pin(dev(&cli.global, &args, ui)).await,
        Command::Package(args) => Box::pin(package(&cli.global, &args, ui)).await,
        Command::Logs(args) => Box::pin(logs(&cli.global, &args, ui)).await,
        Command::Init(args) => init(&cli.global, &args, ui),
    }
}

pub fn load_config(global: &GlobalArgs) -> Result<Config> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let overrides = Overrides {
        stage: global.stage.clone(),
        region: global.region.clone(),
        backend_url: env("CHATCTL_BACKEND_URL"),
        github_api_url: env("CHATCTL_GITHUB_API_URL"),
    };
    Config::load(&global.config, &overrides)
}

async fn context(global: &GlobalArgs, ui: &Ui) -> Result<(Config, Ctx)> {
    let config = load_config(global)?;
    let aws = Clients::connect(&config.region).await?;
    let ctx = Ctx {
        aws,
        ui: ui.clone(),
        names: config.names(),
        stage: config.stage.clone(),
    };
    Ok((config, ctx))
}

async fn observe_and_plan(
    ctx: &Ctx,
    config: &Config,
    options: &stack::Options,
) -> Result<(Observed, Desired, Plan)> {
    let observed = stack::observe(ctx, config).await?;
    plan_for(ctx, config, observed, options)
}

fn plan_for(
    ctx: &Ctx,
    config: &Config,
    observed: Observed,
    options: &stack::Options,
) -> Result<(Observed, Desired, Plan)> {
    let desired = stack::desired(config, &observed, options)?;
    let plan = stack::plan(ctx, config, &observed, &desired)?;
    Ok((observed, desired, plan))
}

/// The first observation of a command, with the handler package resolved alongside it: the
/// embedded package costs nothing, and a prebuilt zip is read and checked while AWS answers.
async fn observe_with_code(
    ctx: &Ctx,
    config: &Config,
    global: &GlobalArgs,
    options: stack::Options,
) -> Result<(Observed, Desired, Plan, stack::Options)> {
    let (observed, code) = tokio::try_join!(
        stack::observe(ctx, config),
        handler_code(config, global.handler_zip.as_deref())
    )?;
    let options = stack::Options { code, ..options };
    let (observed, desired, plan) = plan_for(ctx, config, observed, &options)?;
    Ok((observed, desired, plan, options))
}

/// The handler package (for the Lambda backend): the prebuilt zip, or the one built into
/// chatctl.
async fn handler_code(
    config: &Config,
    handler_zip: Option<&std::path::Path>,
) -> Result<Option<crate::resources::function::Code>> {
    let crate::config::Backend::Lambda(settings) = &config.backend else {
        return Ok(None);
    };
    let prebuilt = handler_zip.or(settings.zip.as_deref());
    let package = crate::package::resolve(settings.architecture, prebuilt).await?;
    Ok(Some(crate::resources::function::Code {
        sha256: package.sha256_base64,
        zip: package.bytes,
    }))
}

#[derive(Serialize)]
struct UpResult<'a> {
    stack: &'a str,
    region: &'a str,
    changed: bool,
    plan: &'a Plan,
    outputs: Option<&'a Outputs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    build: Option<&'a amplify::JobReport>,
}

async fn up(global: &GlobalArgs, args: &UpArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let options = stack::Options {
        take_over_cloudwatch_role: args.own_cloudwatch_role,
        rotate_secret: args.rotate_secret,
        require_secret: true,
        code: None,
    };
    let (observed, desired, first_plan, options) =
        observe_with_code(&ctx, &config, global, options).await?;
    stop_on_conflicts(&ctx, &observed, &desired)?;
    if !first_plan.has_changes() {
        // A no-op run takes no lock and makes no write.
        let outputs = stack::current_outputs(&ctx, &config, &observed);
        report_up(ui, &config, &first_plan, outputs.as_ref(), None, false);
        return Ok(Outcome::Success);
    }
    // Creating the Amplify app needs the GitHub token: fail before any write.
    let access = amplify::GitHubAccess::from_env(&config.github_api_url);
    if let Some(frontend) = &desired.frontend
        && amplify::needs_token(&observed.amplify, Some(frontend))
        && !access.has_token()
    {
        bail!(
            "{}",
            amplify::missing_token_message(frontend, &config.region)
        );
    }
    confirm_destruction(global, ui, &first_plan)?;
    let consented: Vec<String> = first_plan.needing_consent().map(Step::label).collect();
    let lock = StackLock::acquire(&ctx).await?;
    let result = async {
        // Observe again under the lock: another run may have done part of the work.
        let (observed, desired, plan) = observe_and_plan(&ctx, &config, &options).await?;
        stop_on_conflicts(&ctx, &observed, &desired)?;
        if !plan.has_changes() {
            let outputs = stack::current_outputs(&ctx, &config, &observed);
            return Ok((plan, outputs, None, false));
        }
        let unconfirmed: Vec<String> = plan
            .needing_consent()
            .map(Step::label)
            .filter(|label| !consented.contains(label))
            .collect();
        if !unconfirmed.is_empty() && !global.yes {
            bail!(
                "the stack changed while this run waited for the stack lock: the plan now also would\n  {}\nnothing was changed; run `chatctl up` again to review it",
                unconfirmed.join("\n  ")
            );
        }
        ui.note(&plan.to_string());
        let applied = Box::pin(stack::apply(&ctx, &config, &observed, &desired, &plan)).await?;
        Ok::<_, anyhow::Error>((plan, Some(applied.outputs), applied.frontend, true))
    }
    .await;
    let released = lock.release().await;
    let (plan, outputs, frontend, changed) = result?;
    released?;
    if let Some(report) = frontend.as_ref().and_then(|f| f.removed.remaining_report()) {
        ui.warn(&report);
    }
    // `--wait`: follow the Amplify build to its end (after the lock: it changes nothing).
    let build = match (args.wait, frontend.as_ref().and_then(|f| f.job.as_ref())) {
        (true, Some(job)) => Some(
            amplify::wait_for_job(&ctx, job, amplify::job_poll(), amplify::JOB_TIMEOUT)
                .await?
                .into_result()?,
        ),
        _ => None,
    };
    report_up(
        ui,
        &config,
        &plan,
        outputs.as_ref(),
        build.as_ref(),
        changed,
    );
    Ok(Outcome::Success)
}

fn report_up(
    ui: &Ui,
    config: &Config,
    plan: &Plan,
    outputs: Option<&Outputs>,
    build: Option<&amplify::JobReport>,
    changed: bool,
) {
    let stack = config.stack_name();
    let mut text = if changed {
        let summary = plan.summary();
        let mut text = format!(
            "stack {stack} is up ({} created, {} updated, {} deleted)",
            summary.create, summary.update, summary.delete
        );
        if summary.replace > 0 {
            let _ = write!(
                text,
                "\n  {} replaced: each counted as deleted and created",
                summary.replace
            );
        }
        for step in plan.data_losses() {
            let _ = write!(
                text,
                "\n  data deleted: {} {} ({})",
                step.kind,
                step.name,
                step.loses_data.as_deref().unwrap_or_default()
            );
        }
        text
    } else {
        format!("stack {stack} is up to date")
    };
    if let Some(outputs) = outputs {
        let _ = write!(
            text,
            "\n  websocket url  {}\n  callback url   {}",
            outputs.websocket_url, outputs.callback_url
        );
        if let Some(site) = &outputs.site_url {
            let _ = write!(text, "\n  site url       {site}");
        }
    }
    if let Some(build) = build {
        let _ = write!(text, "\n{build}");
    }
    ui.result(
        &text,
        &UpResult {
            stack: &stack,
            region: &config.region,
            changed,
            plan,
            outputs,
            build,
        },
    );
}

async fn plan(global: &GlobalArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let (observed, desired, plan, _) =
        observe_with_code(&ctx, &config, global, stack::Options::default()).await?;
    stop_on_conflicts(&ctx, &observed, &desired)?;
    if let Some(warning) = config.auth.warning() {
        ui.warn(warning);
    }
    ui.result(&plan.to_string(), &plan);
    Ok(if plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

#[derive(Serialize)]
struct StatusResult<'a> {
    stack: &'a str,
    region: &'a str,
    in_sync: bool,
    resources: Vec<stack::ResourceStatus>,
    outputs: Option<Outputs>,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frontend: Option<amplify::FrontendStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probe: Option<crate::probe::ProbeReport>,
}

/// How `status --probe` joins the deployed stack: as the pool's probe users (Cognito), with
/// tokens from the environment (your own provider), or with `?name=` (no sign-in).
async fn probe_join(
    ctx: &Ctx,
    config: &Config,
    observed: &Observed,
) -> Result<crate::probe::ProbeJoin> {
    use crate::config::Auth;
    Ok(match &config.auth {
        Auth::None => crate::probe::ProbeJoin::Names,
        Auth::Oidc { name_claim, .. } => {
            crate::probe::ProbeJoin::Tokens(crate::probe::tokens_from_env(name_claim)?)
        }
        Auth::Cognito { .. } => {
            let (Some(pool), Some(client)) = (observed.auth.pool(), observed.auth.client.as_ref())
            else {
                bail!(
                    "cannot probe stack {}: its user pool or app client is missing (run `chatctl up`)",
                    ctx.names.stack
                );
            };
            crate::probe::ProbeJoin::Tokens(
                crate::probe::cognito_tokens(&ctx.aws.cognito, &pool.id, &client.id).await?,
            )
        }
    })
}

fn probe_text(report: &crate::probe::ProbeReport) -> String {
    format!(
        "probe ok: {} → {} delivered in {:.1} ms (ack {:.1} ms, connect {:.1} ms) on {}",
        report.sender,
        report.receiver,
        report.delivery_ms,
        report.ack_ms,
        report.connect_ms,
        report.url
    )
}

/// `chatctl dev`: the stack definition served locally.
async fn dev(global: &GlobalArgs, args: &DevArgs, ui: &Ui) -> Result<Outcome> {
    use std::time::Duration;
    // The file is optional here: without it, the defaults run.
    let config = if global.config.exists() {
        Some(load_config_without_region(global)?)
    } else {
        None
    };
    let defaults = crate::dev::DevOptions::default();
    let stage = global
        .stage
        .clone()
        .or_else(|| config.as_ref().map(|c| c.stage.clone()))
        .unwrap_or(defaults.stage.clone());
    if let Some(url) = &args.backend_url {
        crate::config::validate_url("--backend-url", url, "the backend secret")?;
    }
    let backend_secret = args
        .backend_url
        .as_ref()
        .and_then(|_| std::env::var(stack::BACKEND_SECRET_ENV).ok())
        .filter(|s| !s.is_empty());
    if args.backend_url.is_some() && backend_secret.is_none() {
        bail!(
            "--backend-url needs the secret your backend checks in {}: set it in the environment",
            stack::BACKEND_SECRET_ENV
        );
    }
    // On unless turned off here or in chatctl.toml.
    let auth = if args.no_auth || config.as_ref().is_some_and(|c| !c.auth.verifies_names()) {
        crate::dev::DevAuth::Off
    } else {
        crate::dev::DevAuth::Local {
            token_lifetime: Duration::from_secs(args.token_lifetime),
        }
    };
    let options = crate::dev::DevOptions {
        port: args.port,
        stage,
        auth,
        routes: crate::chat_api::routes_for(auth.identity()),
        api: config
            .as_ref()
            .map_or(defaults.api.clone(), |c| c.api.clone()),
        backend_url: args.backend_url.clone(),
        backend_secret,
        frontend_dir: args.frontend_dir.clone(),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connection: Duration::from_secs(args.max_connection),
        log_dir: (!args.no_log_files).then(|| args.log_dir.clone()),
        ..defaults
    };
    let server = crate::dev::start(options).await?;
    let urls = server.urls();
    let identity = match &urls.dev_token_url {
        Some(tokens) => format!(
            "?token=ID_TOKEN\n  sign-in       {} (any name, no password; a token for scripts: curl -s '{tokens}?name=alice')",
            urls.sign_in_url.as_deref().unwrap_or_default()
        ),
        None => "?name=NAME (no sign-in: names prove nothing)".to_owned(),
    };
    ui.result(
        &format!(
            "chat running locally — open {} in two browser windows\n  websocket     {}{identity}\n  @connections  {}/@connections/{{id}}\n  backend       {}\npress Ctrl-C to stop",
            urls.frontend_url, urls.websocket_url, urls.connections_url, urls.backend_url
        ),
        &urls,
    );
    server.run_until_signal().await?;
    Ok(Outcome::Success)
}

/// `chatctl package`: the handler zip that `up` deploys, without AWS.
async fn package(global: &GlobalArgs, args: &crate::cli::PackageArgs, ui: &Ui) -> Result<Outcome> {
    use crate::config::{Architecture, Backend};
    use crate::package::{self, Linkage, PackageSource};
    // The file is optional: without it, the default x86_64 package is shown.
    let lambda = if global.config.exists() {
        match load_config_without_region(global)?.backend {
            Backend::Lambda(settings) => Some(settings),
            Backend::Http { .. } => {
                ui.warn("backend.kind = \"http\": `chatctl up` deploys no Lambda function; showing the x86_64 package anyway");
                None
            }
        }
    } else {
        None
    };
    let arch = lambda
        .as_ref()
        .map_or(Architecture::X86_64, |settings| settings.architecture);
    let prebuilt = global
        .handler_zip
        .clone()
        .or_else(|| lambda.and_then(|settings| settings.zip));
    let mut package = package::resolve(arch, prebuilt.as_deref()).await?;
    if let Some(out) = &args.out {
        package.write_to(out)?;
        package.path = Some(out.clone());
    }
    let origin = match &package.source {
        PackageSource::Embedded { profile } => {
            format!("built into chatctl ({profile} profile)")
        }
        PackageSource::Prebuilt { zip } => format!("prebuilt {}", zip.display()),
        PackageSource::Built { binary } => format!("built from {}", binary.display()),
    };
    let linkage = match (package.binary.linkage, &package.binary.glibc) {
        (Linkage::Static, _) => "static".to_owned(),
        (Linkage::Dynamic, Some(glibc)) => format!(
            "dynamic, needs glibc {glibc}; provided.al2023 has {}.{}",
            package::LAMBDA_GLIBC.0,
            package::LAMBDA_GLIBC.1
        ),
        (Linkage::Dynamic, None) => "dynamic".to_owned(),
    };
    #[allow(clippy::cast_precision_loss)] // a zip is at most 50 MiB
    let mib = package.size as f64 / (1024.0 * 1024.0);
    let zip_line = package
        .path
        .as_ref()
        .map(|path| format!("\n  zip         {}", path.display()))
        .unwrap_or_default();
    ui.result(
        &format!(
            "bootstrap for {}, {origin}{zip_line}\n  size        {mib:.1} MiB ({} bytes)\n  sha256      {}\n  CodeSha256  {}\n  linking     {linkage}",
            arch.as_str(),
            package.size,
            package.sha256_hex,
            package.sha256_base64
        ),
        &package,
    );
    Ok(Outcome::Success)
}

/// The configuration for `dev`, where no region is needed.
fn load_config_without_region(global: &GlobalArgs) -> Result<Config> {
    let mut global = global.clone();
    if global.region.is_none() {
        global.region = Some("us-east-1".to_owned());
    }
    load_config(&global)
}

async fn status(global: &GlobalArgs, args: &StatusArgs, ui: &Ui) -> Result<Outcome> {
    let probe_timeout = std::time::Duration::from_secs(args.probe_timeout);
    if let Some(url) = &args.url {
        let report = crate::probe::probe(url, probe_timeout).await?;
        ui.result(&probe_text(&report), &report);
        return Ok(Outcome::Success);
    }
    let (config, ctx) = context(global, ui).await?;
    let (observed, desired, plan, _) =
        observe_with_code(&ctx, &config, global, stack::Options::default()).await?;
    let mut resources = stack::statuses(&plan);
    // A resource holding one of the stack's names without being the stack's blocks `up`.
    resources.extend(
        stack::conflicts(&ctx, &observed, &desired)
            .into_iter()
            .map(stack::foreign_status),
    );
    let outputs = stack::current_outputs(&ctx, &config, &observed);
    let mut warnings: Vec<String> = observed
        .stage
        .as_ref()
        .and_then(crate::resources::stage::Observed::zero_throttling)
        .into_iter()
        .collect();
    warnings.extend(amplify::warnings(&observed.amplify));
    let frontend = amplify::status(&observed.amplify);
    let in_sync = !plan.has_changes()
        && warnings.is_empty()
        && resources.iter().all(|r| r.state != stack::FOREIGN_STATE);
    // A choice, not drift: it does not change the exit code.
    warnings.extend(config.auth.warning().map(str::to_owned));
    let mut text = format!("stack {} in {}", plan.stack, plan.region);
    for resource in &resources {
        let _ = write!(
            text,
            "\n  {:<8} {} {}",
            resource.state, resource.kind, resource.name
        );
        if let Some(note) = &resource.note {
            let _ = write!(text, "  ({note})");
        }
        for change in &resource.changes {
            let _ = write!(
                text,
                "\n             {}: {} → {}",
                change.field, change.old, change.new
            );
        }
    }
    match &outputs {
        Some(o) => {
            let _ = write!(
                text,
                "\n  websocket url  {}\n  callback url   {}",
                o.websocket_url, o.callback_url
            );
            if let Some(url) = &o.sign_in_url {
                let _ = write!(text, "\n  sign-in url    {url}");
            }
        }
        None => text.push_str("\n  (not deployed: run `chatctl up`)"),
    }
    for line in frontend.iter().flat_map(amplify::FrontendStatus::lines) {
        let _ = write!(text, "\n  {line}");
    }
    for warning in &warnings {
        let _ = write!(text, "\nwarning: {warning}");
    }
    let probe = match (args.probe, &outputs) {
        (false, _) => None,
        (true, None) => bail!(
            "cannot probe stack {}: it is not deployed (run `chatctl up`)",
            plan.stack
        ),
        (true, Some(o)) => {
            let join = probe_join(&ctx, &config, &observed).await?;
            let report = crate::probe::probe_with(&o.websocket_url, probe_timeout, join).await?;
            text.push('\n');
            text.push_str(&probe_text(&report));
            Some(report)
        }
    };
    ui.result(
        &text,
        &StatusResult {
            stack: &plan.stack,
            region: &plan.region,
            in_sync,
            resources,
            outputs,
            warnings,
            frontend,
            probe,
        },
    );
    Ok(if in_sync {
        Outcome::Success
    } else {
        Outcome::Changes
    })
}

#[derive(Serialize)]
struct DownResult<'a> {
    stack: &'a str,
    region: &'a str,
    deleted: &'a Plan,
    /// Resources with the stack's names that chatctl did not create for it: left in place.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left: Vec<&'a Foreign>,
}

async fn down(global: &GlobalArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let observed = stack::observe_everything(&ctx, &config).await?;
    if observed.is_empty() {
        let empty = Plan {
            stack: config.stack_name(),
            region: config.region.clone(),
            steps: Vec::new(),
        };
        let left: Vec<&Foreign> = observed.all_foreign().collect();
        let mut text = format!(
            "nothing to delete: stack {} has no resources in {}",
            empty.stack, empty.region
        );
        for foreign in &left {
            let _ = write!(text, "\n  {}", ownership::left_note(foreign));
        }
        ui.result(
            &text,
            &DownResult {
                stack: &empty.stack,
                region: &empty.region,
                deleted: &empty,
                left,
            },
        );
        return Ok(Outcome::Success);
    }
    let preview = stack::teardown_plan(&ctx, &config, &observed);
    confirm_down(global, ui, &preview)?;
    let lock = StackLock::acquire(&ctx).await?;
    let result = async {
        let observed = stack::observe_everything(&ctx, &config).await?;
        let teardown = stack::teardown_plan(&ctx, &config, &observed);
        let github = Box::pin(stack::destroy(&ctx, &config, &observed)).await?;
        let left: Vec<Foreign> = observed.all_foreign().cloned().collect();
        Ok::<_, anyhow::Error>((teardown, github, left))
    }
    .await;
    let released = lock.release().await;
    let (teardown, github, left) = result?;
    released?;
    for note in github.notes() {
        ui.note(&note);
    }
    if let Some(report) = github.remaining_report() {
        // The AWS side is gone; what Amplify left on GitHub is listed with how to remove it.
        ui.warn(&report);
        bail!(
            "stack {} is deleted on AWS, but GitHub webhooks or deploy keys Amplify added remain (listed above)",
            teardown.stack
        );
    }
    let mut text = format!(
        "stack {} is down ({} resources deleted or restored)",
        teardown.stack,
        teardown.steps.len()
    );
    for foreign in &left {
        let _ = write!(text, "\n  {}", ownership::left_note(foreign));
    }
    ui.result(
        &text,
        &DownResult {
            stack: &teardown.stack,
            region: &teardown.region,
            deleted: &teardown,
            left: left.iter().collect(),
        },
    );
    Ok(Outcome::Success)
}

/// `plan` and `up` stop, before any write, when the plan needs resources that have the
/// stack's names without being the stack's.
fn stop_on_conflicts(ctx: &Ctx, observed: &Observed, desired: &Desired) -> Result<()> {
    let conflicts = stack::conflicts(ctx, observed, desired);
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(ownership::conflict_error(
            &ctx.names.stack,
            &ctx.names.region,
            &conflicts,
        ))
    }
}

/// A plan that deletes or replaces something is shown and confirmed on a terminal; without
/// one, `up` needs `--yes` and names what it would destroy.
fn confirm_destruction(global: &GlobalArgs, ui: &Ui, plan: &Plan) -> Result<()> {
    let destruction = plan.destruction_text();
    if destruction.is_empty() || global.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to delete or replace without confirmation (stdin is not a terminal); this plan would{destruction}\nnothing was changed: review it with `chatctl plan`, then run `chatctl up --yes` to apply it"
        );
    }
    ui.note(&plan.to_string());
    if ui.confirm(&format!(
        "This plan deletes or replaces resources of stack {} in {}. Apply it?",
        plan.stack, plan.region
    )) {
        Ok(())
    } else {
        bail!("cancelled: nothing was changed")
    }
}

fn confirm_down(global: &GlobalArgs, ui: &Ui, preview: &Plan) -> Result<()> {
    if global.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to delete stack {} without confirmation: stdin is not a terminal; run `chatctl down --yes` to confirm",
            preview.stack
        );
    }
    ui.note(&preview.to_string());
    if ui.confirm(&format!(
        "Delete stack {} in {}?",
        preview.stack, preview.region
    )) {
        Ok(())
    } else {
        bail!("cancelled: nothing was deleted")
    }
}

/// `chatctl logs`: the stack's logs from CloudWatch Logs, or `chatctl dev`'s with `--dev`.
async fn logs(global: &GlobalArgs, args: &LogsArgs, ui: &Ui) -> Result<Outcome> {
    let options = crate::logs::Options {
        since: args.since,
        follow: args.follow,
        connection: args.connection.clone(),
        sources: args.source.clone(),
    };
    if args.dev {
        let stage = dev_stage(global)?;
        crate::logs::show_local(args.log_dir.clone(), &stage, &options, ui).await?;
    } else {
        let (config, ctx) = context(global, ui).await?;
        crate::logs::show(&ctx, &config, &options, ui).await?;
    }
    Ok(Outcome::Success)
}

/// The stage `chatctl dev` serves: --stage, else chatctl.toml's (when there is one), else dev.
fn dev_stage(global: &GlobalArgs) -> Result<String> {
    if let Some(stage) = &global.stage {
        return Ok(stage.clone());
    }
    Ok(if global.config.exists() {
        load_config_without_region(global)?.stage
    } else {
        crate::dev::DevOptions::default().stage
    })
}

/// `chatctl init`: a commented configuration and the reference web app; no AWS access.
fn init(global: &GlobalArgs, args: &InitArgs, ui: &Ui) -> Result<Outcome> {
    crate::init::run(
        &crate::init::Options {
            dir: args.dir.clone(),
            force: args.force,
            region: global.region.clone(),
            stage: global.stage.clone(),
        },
        ui,
    )?;
    Ok(Outcome::Success)
}
