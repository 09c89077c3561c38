//! The commands: configuration → clients → observe → plan → apply, and their results.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::aws::Clients;
use crate::cli::{Cli, Command, GlobalArgs, UpArgs};
use crate::config::{Config, Overrides};
use crate::lock::StackLock;
use crate::plan::Plan;
use crate::resources::Ctx;
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
    match cli.command {
        Command::Up(args) => up(&cli.global, &args, ui).await,
        Command::Down => down(&cli.global, ui).await,
        Command::Status(_) => status(&cli.global, ui).await,
        Command::Plan => plan(&cli.global, ui).await,
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
    take_over: bool,
    require_secret: bool,
) -> Result<(Observed, Desired, Plan)> {
    let observed = stack::observe(ctx).await?;
    let desired = stack::desired(config, &observed, take_over, require_secret)?;
    let plan = stack::plan(ctx, config, &observed, &desired);
    Ok((observed, desired, plan))
}

#[derive(Serialize)]
struct UpResult<'a> {
    stack: &'a str,
    region: &'a str,
    changed: bool,
    plan: &'a Plan,
    outputs: Option<&'a Outputs>,
}

async fn up(global: &GlobalArgs, args: &UpArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let (observed, _, first_plan) =
        observe_and_plan(&ctx, &config, args.own_cloudwatch_role, true).await?;
    if !first_plan.has_changes() {
        // A no-op run takes no lock and makes no write.
        let outputs = observed
            .apis
            .primary()
            .map(|api| stack::outputs(&config, api));
        report_up(ui, &config, &first_plan, outputs.as_ref(), false);
        return Ok(Outcome::Success);
    }
    let lock = StackLock::acquire(&ctx).await?;
    let result = async {
        // Observe again under the lock: another run may have done part of the work.
        let (observed, desired, plan) =
            observe_and_plan(&ctx, &config, args.own_cloudwatch_role, true).await?;
        if !plan.has_changes() {
            let outputs = observed
                .apis
                .primary()
                .map(|api| stack::outputs(&config, api));
            return Ok((plan, outputs, false));
        }
        ui.note(&plan.to_string());
        let outputs = stack::apply(&ctx, &config, &observed, &desired, &plan).await?;
        Ok::<_, anyhow::Error>((plan, Some(outputs), true))
    }
    .await;
    let released = lock.release().await;
    let (plan, outputs, changed) = result?;
    released?;
    report_up(ui, &config, &plan, outputs.as_ref(), changed);
    Ok(Outcome::Success)
}

fn report_up(ui: &Ui, config: &Config, plan: &Plan, outputs: Option<&Outputs>, changed: bool) {
    let stack = config.stack_name();
    let mut text = if changed {
        let (create, update, delete) = plan.summary();
        format!("stack {stack} is up ({create} created, {update} updated, {delete} deleted)")
    } else {
        format!("stack {stack} is up to date")
    };
    if let Some(outputs) = outputs {
        text.push_str(&format!(
            "\n  websocket url  {}\n  callback url   {}",
            outputs.websocket_url, outputs.callback_url
        ));
    }
    ui.result(
        &text,
        &UpResult {
            stack: &stack,
            region: &config.region,
            changed,
            plan,
            outputs,
        },
    );
}

async fn plan(global: &GlobalArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let (_, _, plan) = observe_and_plan(&ctx, &config, false, false).await?;
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
}

async fn status(global: &GlobalArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let (observed, _, plan) = observe_and_plan(&ctx, &config, false, false).await?;
    let resources = stack::statuses(&plan);
    let outputs = observed
        .apis
        .primary()
        .map(|api| stack::outputs(&config, api));
    let warnings: Vec<String> = observed
        .stage
        .as_ref()
        .and_then(crate::resources::stage::Observed::zero_throttling)
        .into_iter()
        .collect();
    let in_sync = !plan.has_changes() && warnings.is_empty();
    let mut text = format!("stack {} in {}", plan.stack, plan.region);
    for resource in &resources {
        text.push_str(&format!(
            "\n  {:<8} {} {}",
            resource.state, resource.kind, resource.name
        ));
        if let Some(note) = &resource.note {
            text.push_str(&format!("  ({note})"));
        }
        for change in &resource.changes {
            text.push_str(&format!(
                "\n             {}: {} → {}",
                change.field, change.old, change.new
            ));
        }
    }
    match &outputs {
        Some(o) => text.push_str(&format!(
            "\n  websocket url  {}\n  callback url   {}",
            o.websocket_url, o.callback_url
        )),
        None => text.push_str("\n  (not deployed: run `chatctl up`)"),
    }
    for warning in &warnings {
        text.push_str(&format!("\nwarning: {warning}"));
    }
    ui.result(
        &text,
        &StatusResult {
            stack: &plan.stack,
            region: &plan.region,
            in_sync,
            resources,
            outputs,
            warnings,
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
}

async fn down(global: &GlobalArgs, ui: &Ui) -> Result<Outcome> {
    let (config, ctx) = context(global, ui).await?;
    let observed = stack::observe(&ctx).await?;
    if observed.is_empty(&ctx) {
        let empty = Plan {
            stack: config.stack_name(),
            region: config.region.clone(),
            steps: Vec::new(),
        };
        ui.result(
            &format!(
                "nothing to delete: stack {} has no resources in {}",
                empty.stack, empty.region
            ),
            &DownResult {
                stack: &empty.stack,
                region: &empty.region,
                deleted: &empty,
            },
        );
        return Ok(Outcome::Success);
    }
    let preview = stack::teardown_plan(&ctx, &config, &observed);
    confirm_down(global, ui, &preview)?;
    let lock = StackLock::acquire(&ctx).await?;
    let result = async {
        let observed = stack::observe(&ctx).await?;
        let teardown = stack::teardown_plan(&ctx, &config, &observed);
        stack::destroy(&ctx, &observed).await?;
        Ok::<_, anyhow::Error>(teardown)
    }
    .await;
    let released = lock.release().await;
    let teardown = result?;
    released?;
    ui.result(
        &format!(
            "stack {} is down ({} resources deleted or restored)",
            teardown.stack,
            teardown.steps.len()
        ),
        &DownResult {
            stack: &teardown.stack,
            region: &teardown.region,
            deleted: &teardown,
        },
    );
    Ok(Outcome::Success)
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
