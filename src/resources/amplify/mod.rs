//! The Amplify Hosting app and branch of a configured `[frontend]`, their builds, and what
//! Amplify adds to the GitHub repository.
//!
//! One file per concern, each with the verbs of the other resources:
//! - [`app`]: the app, tagged for the stack, connected with CreateApp `accessToken`;
//! - [`environment`]: its environment variables, which the build bakes into `config.js`;
//! - [`branch`]: the configured branch (and strays a previous configuration left);
//! - [`job`]: the builds;
//! - [`records`]: what Amplify adds to GitHub when the app is created, kept as tags;
//! - [`teardown`]: `down` removing exactly that;
//! - [`status`]: the frontend's part of `status`.
//!
//! What Amplify adds, per token field (docs/aws-behaviour.md, "Amplify and GitHub"):
//! `accessToken` authorizes the Amplify GitHub App, which must be installed on the
//! repository; Amplify installs the region's webhook with the token (a classic token needs
//! only `admin:repo_hook`) and clones through the App, with no deploy key. `oauthToken` (the
//! legacy OAuth flow) adds the webhook and a read-only deploy key. chatctl sends
//! `accessToken` (docs/decisions.md) and records whatever appears either way.

mod app;
mod branch;
mod environment;
mod job;
mod records;
mod status;
mod teardown;

use anyhow::{Result, bail};
use serde::Serialize;

pub use app::{
    App, AppRef, BUILD_SPEC, KIND as APP_KIND, Rule, SPA_REWRITE_SOURCE, custom_rules,
    repository_key, site_url,
};
pub use branch::{Branch, KIND as BRANCH_KIND, framework as branch_framework};
pub use environment::{
    AUTH_AUTHORIZE_URL_VARIABLE, AUTH_CLIENT_ID_VARIABLE, AUTH_ISSUER_VARIABLE,
    AUTH_LOGOUT_URL_VARIABLE, AUTH_NAME_CLAIM_VARIABLE, AUTH_PROVIDER_VARIABLE,
    AUTH_TOKEN_URL_VARIABLE, AUTH_VARIABLES, FrontendAuth, WEBSOCKET_URL_VARIABLE,
};
pub use job::{
    JobInfo, JobRef, JobReport, JobStep, KIND as JOB_KIND, POLL as JOB_POLL,
    TIMEOUT as JOB_TIMEOUT, build_reason, poll as job_poll, start as start_job,
    wait as wait_for_job,
};
pub use records::{
    GitHubAccess, HOOKS_TAG, KEYS_TAG, Recorded, Snapshot, additions, is_aws_hook,
    matches_amplify_hook, matches_amplify_key,
};
pub use status::{FrontendStatus, status, warnings};
pub use teardown::{
    AppTeardown, Candidates, Kept, Remaining, Teardown, candidates, destroy, teardown_plan,
};

use crate::config::{Framework, Frontend, Names, Platform};
use crate::github;
use crate::plan::{Action, Step};
use crate::resources::Ctx;
use crate::stack::step;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// This stack's apps, oldest first: the first is the stack's app, the rest duplicates.
    pub apps: Vec<App>,
    /// The configured branch of the stack's app.
    pub branch: Option<Branch>,
    /// Branches of the stack's app tagged for this stack but no longer configured.
    pub stray_branches: Vec<Branch>,
    /// The newest build of the configured branch.
    pub last_job: Option<JobInfo>,
}

impl Observed {
    pub fn primary(&self) -> Option<&App> {
        self.apps.first()
    }

    pub fn duplicates(&self) -> &[App] {
        self.apps.get(1..).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }

    /// Just `apps`, for deleting them.
    fn only(apps: &[App]) -> Self {
        Self {
            apps: apps.to_vec(),
            ..Self::default()
        }
    }
}

/// Reads the stack's Amplify apps (whether or not `[frontend]` is configured, so that `down`
/// finds an app after the section was removed), the configured branch and its last build.
pub async fn observe(ctx: &Ctx, frontend: Option<&Frontend>) -> Result<Observed> {
    let mut observed = Observed {
        apps: app::observe(ctx).await?,
        ..Observed::default()
    };
    let (Some(primary), Some(frontend)) = (observed.primary(), frontend) else {
        return Ok(observed);
    };
    let app_id = primary.id.clone();
    let (configured, strays) = branch::observe(ctx, &app_id, &frontend.branch).await?;
    if configured.is_some() {
        observed.last_job = job::observe(ctx, &app_id, &frontend.branch).await?;
    }
    observed.branch = configured;
    observed.stray_branches = strays;
    Ok(observed)
}

/// What the configuration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub name: String,
    pub stack: String,
    pub repository: String,
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub platform: Platform,
    pub framework: Framework,
    /// The stage's `wss://` URL; `None` while the API does not exist yet.
    pub websocket_url: Option<String>,
    /// How the web app signs in; `None`: it asks for a name (no `CHAT_AUTH_*` variables).
    pub auth: Option<FrontendAuth>,
    /// `None`: the build spec is the repository's own (Next.js apps).
    pub build_spec: Option<String>,
    pub custom_rules: Vec<Rule>,
    pub branch_framework: &'static str,
}

pub fn desired(
    names: &Names,
    frontend: &Frontend,
    websocket_url: Option<&str>,
    auth: Option<&FrontendAuth>,
) -> Desired {
    Desired {
        name: names.amplify_app.clone(),
        stack: names.stack.clone(),
        repository: frontend.repository.clone(),
        owner: frontend.owner.clone(),
        repo: frontend.repo.clone(),
        branch: frontend.branch.clone(),
        platform: frontend.platform,
        framework: frontend.framework,
        websocket_url: websocket_url.map(str::to_owned),
        auth: auth.cloned(),
        // The reference app's build writes config.js; a Next.js app brings its own build
        // (its amplify.yml, or Amplify's detected Next.js build), which chatctl leaves alone.
        build_spec: (frontend.framework == Framework::Static).then(|| BUILD_SPEC.to_owned()),
        custom_rules: custom_rules(frontend),
        branch_framework: branch::framework(frontend),
    }
}

/// The plan for the frontend: app, branch and build steps. `desired` is `None` when
/// `[frontend]` is not configured: then every app of the stack is deleted.
pub fn plan(observed: &Observed, desired: Option<&Desired>) -> Vec<Step> {
    let Some(desired) = desired else {
        return app::removal(
            &observed.apps,
            "no [frontend] in the configuration; what Amplify added to GitHub goes too",
        );
    };
    let primary = observed.primary();
    let fresh = primary.is_none_or(|app| app::repository_changed(app, desired));
    let mut steps = vec![app::plan(primary, desired)];
    steps.extend(branch::plan(
        observed.branch.as_ref(),
        &observed.stray_branches,
        desired,
        fresh,
    ));
    steps.push(job::plan(observed, desired));
    steps.extend(app::removal(
        observed.duplicates(),
        "duplicate tagged for this stack",
    ));
    steps
}

/// Whether applying needs `GITHUB_TOKEN`: only creating the app (or its replacement) does,
/// because that is when Amplify sets the repository up.
pub fn needs_token(observed: &Observed, desired: Option<&Desired>) -> bool {
    let Some(desired) = desired else {
        return false;
    };
    observed
        .primary()
        .is_none_or(|app| app::repository_changed(app, desired))
}

/// The message for a missing token, naming the repository and what Amplify needs.
pub fn missing_token_message(desired: &Desired, region: &str) -> String {
    format!(
        "{} is not set: connecting Amplify to {}/{} needs {}. The token is read from the environment only (never a flag): create one at https://github.com/settings/tokens and export {}=…",
        github::TOKEN_ENV,
        desired.owner,
        desired.repo,
        github::connect_requirements(region),
        github::TOKEN_ENV
    )
}

/// What `apply` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    /// The build started, to follow with [`wait_for_job`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobRef>,
    /// Webhook and deploy key ids recorded on the app after creating it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    /// Apps deleted on the way (duplicates, a replaced app, or all of them when
    /// `[frontend]` was removed), with what happened on GitHub.
    pub removed: Teardown,
}

/// Creates, updates or removes the stack's Amplify app so it matches `desired` (`None`:
/// no frontend, so remove). `desired.websocket_url` must be known by now.
pub async fn apply(
    ctx: &Ctx,
    access: &GitHubAccess,
    observed: &Observed,
    desired: Option<&Desired>,
) -> Result<Applied> {
    let Some(desired) = desired else {
        let removed = destroy(ctx, access, observed).await?;
        return Ok(Applied {
            removed,
            ..Applied::default()
        });
    };
    let Some(websocket_url) = desired.websocket_url.clone() else {
        bail!("the Amplify app needs the stage's WebSocket URL, which is not known yet");
    };
    let mut applied = Applied::default();
    // Duplicates go first: their GitHub records are about the same repository, and the
    // primary (not deleted) still counts as a user of the region's webhook.
    if !observed.duplicates().is_empty() {
        let duplicates = Observed::only(observed.duplicates());
        applied
            .removed
            .merge(destroy(ctx, access, &duplicates).await?);
    }
    let mut primary = observed.primary().cloned();
    let mut configured = observed.branch.clone();
    if let Some(old) = &primary
        && app::repository_changed(old, desired)
    {
        let replaced = Observed::only(std::slice::from_ref(old));
        applied
            .removed
            .merge(destroy(ctx, access, &replaced).await?);
        primary = None;
        configured = None;
    }
    let app = match &primary {
        None => {
            let (app, recorded) = create_connected(ctx, access, desired, &websocket_url).await?;
            applied.recorded = Some(recorded);
            app
        }
        Some(app) if app::changes(app, desired).is_empty() => app.clone(),
        Some(app) => {
            let label = Step::new(APP_KIND, desired.name.clone(), Action::Update).label();
            step(ctx, label, app::update(ctx, app, desired, &websocket_url)).await?
        }
    };
    let branch_label = branch::label(desired, &desired.branch);
    let created_branch = match &configured {
        Some(existing) => {
            if !branch::changes(existing, desired).is_empty() {
                let label = Step::new(BRANCH_KIND, branch_label.clone(), Action::Update).label();
                step(ctx, label, branch::update(ctx, &app.id, desired)).await?;
            }
            false
        }
        None => {
            let label = Step::new(BRANCH_KIND, branch_label.clone(), Action::Create).label();
            step(ctx, label, branch::create(ctx, &app.id, desired)).await?;
            true
        }
    };
    if primary.as_ref().is_some_and(|p| p.id == app.id) {
        for stray in &observed.stray_branches {
            let label = Step::new(
                BRANCH_KIND,
                branch::label(desired, &stray.name),
                Action::Delete,
            )
            .label();
            step(ctx, label, branch::delete(ctx, &app.id, &stray.name)).await?;
        }
    }
    let reason = if created_branch {
        Some("first build")
    } else {
        build_reason(observed, desired)
    };
    if let Some(reason) = reason {
        let label = format!(
            "{}  (RELEASE: {reason})",
            Step::new(JOB_KIND, branch_label, Action::Create).label()
        );
        applied.job = Some(step(ctx, label, job::start(ctx, &app.id, &desired.branch)).await?);
    }
    applied.site_url = Some(site_url(&app, &desired.branch));
    applied.app_id = Some(app.id);
    Ok(applied)
}

/// CreateApp between two looks at the repository, and the difference recorded on the app.
async fn create_connected(
    ctx: &Ctx,
    access: &GitHubAccess,
    desired: &Desired,
    websocket_url: &str,
) -> Result<(App, Recorded)> {
    let Some(client) = access.client(&ctx.ui)? else {
        bail!("{}", missing_token_message(desired, &ctx.aws.region));
    };
    // What the repository holds before Amplify touches it. Deploy keys only if the token
    // may list them: the documented flow adds none.
    let before = records::snapshot(&client, &desired.owner, &desired.repo, true).await?;
    let label = Step::new(APP_KIND, desired.name.clone(), Action::Create).label();
    let app = step(
        ctx,
        label,
        app::create(ctx, desired, websocket_url, access.token.as_ref()),
    )
    .await?;
    let label = format!(
        "  record  what Amplify added to github {}/{} on {APP_KIND} {}",
        desired.owner, desired.repo, desired.name
    );
    let recorded = step(ctx, label, async {
        let keys = !app.clones_through_github_app();
        let after = records::snapshot(&client, &desired.owner, &desired.repo, keys).await?;
        records::record(ctx, &app, &before, &after).await
    })
    .await?;
    if recorded.keys.is_none() {
        ctx.ui.warn(&format!(
            "Amplify connected {}/{} over SSH with a deploy key, which the token cannot list; `down` cannot remove that key unless GITHUB_TOKEN has {}",
            desired.owner,
            desired.repo,
            github::DEPLOY_KEY_PERMISSIONS
        ));
    }
    Ok((app, recorded))
}

#[cfg(test)]
mod tests;
