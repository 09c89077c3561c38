//! The Amplify Hosting app and branch of a configured `[frontend]`, their builds, and the
//! GitHub webhook and deploy key Amplify adds to the repository.
//!
//! - The stack's app is the one tagged `chatctl:stack={stack}` (found through ListApps, whose
//!   apps carry their tags); more than one is a duplicate left by an interrupted run.
//! - Its branch is tagged too, so a branch chatctl created for a previous `[frontend].branch`
//!   is recognised and removed, while branches someone added by hand are left alone.
//! - Amplify, given a GitHub token, adds a webhook (one per repository, shared by all its
//!   apps) and a read-only deploy key (one per app) when a branch is connected, and never
//!   removes them. chatctl lists the repository's hooks and keys before the app or branch is
//!   created and again after, and records the ids Amplify added as tags on the app
//!   ([`HOOKS_TAG`], [`KEYS_TAG`]). `down` deletes exactly those — and, when the tags are
//!   missing (a run killed in between), only a hook shaped like Amplify's or carrying the app
//!   id and the key titled with the app id. A hook is never deleted while another Amplify app
//!   in the account uses the same repository; it is handed over to that app's records
//!   instead when that app is a chatctl stack.
//! - The GitHub token reaches Amplify only as CreateApp/UpdateApp `accessToken` (which AWS
//!   does not store, so it cannot be read back or diffed) and GitHub only in a sensitive
//!   header; it is never part of a plan, a message or a log line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_amplify::types::{CustomRule, JobStatus, JobType, Platform as SdkPlatform, Stage};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use super::{Ctx, absent_if, aws_error};
use crate::config::{Framework, Frontend, Names, Platform, STACK_TAG};
use crate::github::{self, Deletion, DeployKey, GitHub, Hook, Token};
use crate::plan::{Action, FieldChange, Step};
use crate::ui::Ui;

pub const APP_KIND: &str = "amplify app";
pub const BRANCH_KIND: &str = "amplify branch";
pub const JOB_KIND: &str = "amplify build";
/// Tag on the app: ids of the webhooks Amplify added, separated by spaces (AWS tag values
/// allow letters, digits, spaces and `_.:/=+-@`, not commas). Present and empty: nothing
/// was added (the repository already had Amplify's shared hook).
pub const HOOKS_TAG: &str = "chatctl:github-hooks";
/// Tag on the app: ids of the deploy keys Amplify added, separated by spaces.
pub const KEYS_TAG: &str = "chatctl:github-keys";
/// The branch environment the build spec turns into `config.js`.
pub const WEBSOCKET_URL_VARIABLE: &str = "CHAT_WEBSOCKET_URL";
/// The reference frontend's build: writes `config.js` from [`WEBSOCKET_URL_VARIABLE`].
pub const BUILD_SPEC: &str = include_str!("../../templates/amplify/buildspec.yml");
/// AWS's documented rewrite for single-page apps ("Redirects for single page web apps"):
/// every path without a file extension (and every extension not in the list) is served
/// `/index.html` with status 200, so `/chat/bob` deep links and reloads work, while a real
/// asset that is missing (`/app.jss`) still answers 404. The simpler `/<*>` → `/index.html`
/// `404-200` rule would answer a mistyped asset with the HTML page and a 200.
pub const SPA_REWRITE_SOURCE: &str =
    "</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|woff2|ttf|map|json|webp)$)([^.]+$)/>";
/// Wait between GetJob calls while following a build.
pub const JOB_POLL: Duration = Duration::from_secs(5);
/// How long `up --wait` follows a build before giving up (Amplify's own build timeout
/// defaults to 30 minutes).
pub const JOB_TIMEOUT: Duration = Duration::from_mins(30);

/// [`JOB_POLL`] scaled by `CHATCTL_RETRY_SCALE`, so end-to-end tests follow builds quickly.
pub fn job_poll() -> Duration {
    crate::retry::scaled(JOB_POLL)
}

/// Amplify apps list at most 50 per page.
const LIST_PAGE: i32 = 50;

/// One rewrite or redirect rule of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub source: String,
    pub target: String,
    pub status: String,
}

impl Rule {
    fn new(source: &str, target: &str, status: &str) -> Self {
        Self {
            source: source.to_owned(),
            target: target.to_owned(),
            status: status.to_owned(),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {} ({})", self.source, self.target, self.status)
    }
}

/// The rules a frontend needs on Amplify.
///
/// - static: the SPA rewrite ([`SPA_REWRITE_SOURCE`]).
/// - Next.js static export (`WEB`): `next export` writes dynamic routes as
///   `/chat/[peer].html`, and Amplify's `<*>` placeholder rules do not reach them, so each
///   dynamic route needs its own rewrite (the reference app's only one is `/chat/<peer>`).
/// - Next.js on `WEB_COMPUTE` is served by Amplify's SSR runtime and needs none.
pub fn custom_rules(frontend: &Frontend) -> Vec<Rule> {
    match (frontend.framework, frontend.platform) {
        (Framework::Static, _) => vec![Rule::new(SPA_REWRITE_SOURCE, "/index.html", "200")],
        (Framework::Nextjs, Platform::Web) => vec![
            Rule::new("/chat/<peer>", "/chat/[peer].html", "200"),
            Rule::new("/chat/<peer>/", "/chat/[peer].html", "200"),
        ],
        (Framework::Nextjs, Platform::WebCompute) => Vec::new(),
    }
}

/// The branch `framework` Amplify shows and uses to pick its build image defaults.
pub fn branch_framework(frontend: &Frontend) -> &'static str {
    match (frontend.framework, frontend.platform) {
        (Framework::Static, _) => "Web",
        (Framework::Nextjs, Platform::Web) => "Next.js - SSG",
        (Framework::Nextjs, Platform::WebCompute) => "Next.js - SSR",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub repository: String,
    pub platform: String,
    pub environment: BTreeMap<String, String>,
    pub build_spec: Option<String>,
    pub custom_rules: Vec<Rule>,
    pub enable_branch_auto_build: bool,
    pub default_domain: String,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    /// The region the app lives in.
    pub region: String,
}

impl App {
    fn from_sdk(app: &aws_sdk_amplify::types::App, region: &str) -> Self {
        Self {
            id: app.app_id().to_owned(),
            arn: app.app_arn().to_owned(),
            name: app.name().to_owned(),
            repository: app.repository().to_owned(),
            platform: app.platform().as_str().to_owned(),
            environment: app
                .environment_variables()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            build_spec: app.build_spec().map(str::to_owned),
            custom_rules: app
                .custom_rules()
                .iter()
                .map(|r| Rule {
                    source: r.source().to_owned(),
                    target: r.target().to_owned(),
                    status: r.status().unwrap_or("200").to_owned(),
                })
                .collect(),
            enable_branch_auto_build: app.enable_branch_auto_build(),
            default_domain: app.default_domain().to_owned(),
            tags: app
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            created: app.create_time().secs(),
            region: region.to_owned(),
        }
    }

    /// The webhook ids recorded on the app; `None` when the tag is missing.
    pub fn recorded_hooks(&self) -> Option<Vec<u64>> {
        self.tags.get(HOOKS_TAG).map(|v| parse_ids(v))
    }

    /// The deploy key ids recorded on the app; `None` when the tag is missing.
    pub fn recorded_keys(&self) -> Option<Vec<u64>> {
        self.tags.get(KEYS_TAG).map(|v| parse_ids(v))
    }

    pub fn stack(&self) -> Option<&str> {
        self.tags.get(STACK_TAG).map(String::as_str)
    }

    /// `owner/name` of a GitHub repository URL, lower-cased for comparisons.
    pub fn repository_key(&self) -> Option<String> {
        repository_key(&self.repository)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub name: String,
    pub arn: String,
    pub stage: String,
    pub framework: String,
    pub enable_auto_build: bool,
    pub display_name: String,
    pub tags: BTreeMap<String, String>,
}

impl Branch {
    fn from_sdk(branch: &aws_sdk_amplify::types::Branch) -> Self {
        Self {
            name: branch.branch_name().to_owned(),
            arn: branch.branch_arn().to_owned(),
            stage: branch.stage().as_str().to_owned(),
            framework: branch.framework().to_owned(),
            enable_auto_build: branch.enable_auto_build(),
            display_name: branch.display_name().to_owned(),
            tags: branch
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }
}

/// The last build of the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobInfo {
    pub id: String,
    pub status: String,
    pub job_type: String,
    pub commit_id: String,
    /// Epoch seconds.
    pub started: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<i64>,
}

impl JobInfo {
    fn from_summary(job: &aws_sdk_amplify::types::JobSummary) -> Self {
        Self {
            id: job.job_id().to_owned(),
            status: job.status().as_str().to_owned(),
            job_type: job.job_type().as_str().to_owned(),
            commit_id: job.commit_id().to_owned(),
            started: job.start_time().secs(),
            ended: job.end_time().map(aws_smithy_types::DateTime::secs),
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEED" | "FAILED" | "CANCELLED")
    }
}

/// Another Amplify app of the account (for the shared-webhook rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppRef {
    pub id: String,
    pub name: String,
    pub region: String,
    pub repository: String,
    #[serde(skip)]
    pub arn: String,
    #[serde(skip)]
    pub tags: BTreeMap<String, String>,
}

impl AppRef {
    fn of(app: &App) -> Self {
        Self {
            id: app.id.clone(),
            name: app.name.clone(),
            region: app.region.clone(),
            repository: app.repository.clone(),
            arn: app.arn.clone(),
            tags: app.tags.clone(),
        }
    }
}

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
    /// The other Amplify apps in the region.
    pub others: Vec<AppRef>,
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
}

async fn list_apps(client: &aws_sdk_amplify::Client, region: &str) -> Result<Vec<App>> {
    let mut apps = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = client
            .list_apps()
            .max_results(LIST_PAGE)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing Amplify apps in {region}"), &e))?;
        apps.extend(page.apps().iter().map(|a| App::from_sdk(a, region)));
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => return Ok(apps),
        }
    }
}

async fn list_branches(ctx: &Ctx, app_id: &str) -> Result<Vec<Branch>> {
    let mut branches = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .amplify
            .list_branches()
            .app_id(app_id)
            .max_results(LIST_PAGE)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing branches of Amplify app {app_id}"), &e))?;
        branches.extend(page.branches().iter().map(Branch::from_sdk));
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
            _ => return Ok(branches),
        }
    }
}

/// The newest job of a branch, if any.
pub async fn last_job(ctx: &Ctx, app_id: &str, branch: &str) -> Result<Option<JobInfo>> {
    let out = absent_if(
        ctx.aws
            .amplify
            .list_jobs()
            .app_id(app_id)
            .branch_name(branch)
            .max_results(1)
            .send()
            .await,
        // ListJobs models no NotFoundException, but a missing branch answers one.
        |e| e.code() == Some("NotFoundException"),
    )
    .map_err(|e| aws_error(&format!("listing builds of {app_id}/{branch}"), &e))?;
    Ok(out.and_then(|o| o.job_summaries().first().map(JobInfo::from_summary)))
}

/// Reads the stack's Amplify apps (whether or not `[frontend]` is configured, so that `down`
/// finds an app after the section was removed), the configured branch and its last build.
pub async fn observe(ctx: &Ctx, frontend: Option<&Frontend>) -> Result<Observed> {
    let region = ctx.aws.region.clone();
    let all = list_apps(&ctx.aws.amplify, &region).await?;
    let (mut apps, others): (Vec<App>, Vec<App>) = all
        .into_iter()
        .partition(|a| a.stack() == Some(ctx.names.stack.as_str()));
    // Oldest first, id as tie-breaker, so concurrent observers agree on the primary.
    apps.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let mut observed = Observed {
        apps,
        others: others.iter().map(AppRef::of).collect(),
        ..Observed::default()
    };
    let (Some(primary), Some(frontend)) = (observed.primary(), frontend) else {
        return Ok(observed);
    };
    let app_id = primary.id.clone();
    let branches = list_branches(ctx, &app_id).await?;
    for branch in branches {
        if branch.name == frontend.branch {
            observed.branch = Some(branch);
        } else if branch.tags.get(STACK_TAG) == Some(&ctx.names.stack) {
            observed.stray_branches.push(branch);
        }
    }
    if observed.branch.is_some() {
        observed.last_job = last_job(ctx, &app_id, &frontend.branch).await?;
    }
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
    /// `None`: the build spec is the repository's own (Next.js apps).
    pub build_spec: Option<String>,
    pub custom_rules: Vec<Rule>,
    pub branch_framework: &'static str,
}

pub fn desired(names: &Names, frontend: &Frontend, websocket_url: Option<&str>) -> Desired {
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
        // The reference app's build writes config.js; a Next.js app brings its own build
        // (its amplify.yml, or Amplify's detected Next.js build), which chatctl leaves alone.
        build_spec: (frontend.framework == Framework::Static).then(|| BUILD_SPEC.to_owned()),
        custom_rules: custom_rules(frontend),
        branch_framework: branch_framework(frontend),
    }
}

/// `https://github.com/Owner/Repo(.git)` → `owner/repo`, for comparisons.
pub fn repository_key(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("https://github.com/")
        .or_else(|| url.trim().strip_prefix("https://www.github.com/"))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, repo) = rest.split_once('/')?;
    if owner.is_empty() || repo.is_empty() || repo.contains('/') {
        return None;
    }
    Some(format!("{owner}/{repo}").to_ascii_lowercase())
}

/// `owner` and `repo` as written in a GitHub repository URL.
fn owner_and_repo(url: &str) -> Option<(String, String)> {
    repository_key(url)?;
    let rest = url
        .trim()
        .strip_prefix("https://github.com/")
        .or_else(|| url.trim().strip_prefix("https://www.github.com/"))?
        .trim_end_matches('/')
        .trim_end_matches(".git");
    let (owner, repo) = rest.split_once('/')?;
    Some((owner.to_owned(), repo.to_owned()))
}

fn show(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_owned(), str::to_owned)
}

fn show_rules(rules: &[Rule]) -> String {
    if rules.is_empty() {
        "(none)".to_owned()
    } else {
        rules
            .iter()
            .map(Rule::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Field-level differences of the app. The token is not compared: Amplify doesn't keep it.
pub fn app_changes(app: &App, desired: &Desired) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if app.name != desired.name {
        changes.push(FieldChange::new("name", &app.name, &desired.name));
    }
    if app.platform != desired.platform.as_str() {
        changes.push(FieldChange::new(
            "platform",
            &app.platform,
            desired.platform.as_str(),
        ));
    }
    let deployed_url = app
        .environment
        .get(WEBSOCKET_URL_VARIABLE)
        .map(String::as_str);
    match desired.websocket_url.as_deref() {
        Some(url) if deployed_url == Some(url) => {}
        Some(url) => changes.push(FieldChange::new(
            format!("environment.{WEBSOCKET_URL_VARIABLE}"),
            show(deployed_url),
            url,
        )),
        None => changes.push(FieldChange::new(
            format!("environment.{WEBSOCKET_URL_VARIABLE}"),
            show(deployed_url),
            "(the stage's wss:// URL, known after apply)",
        )),
    }
    if let Some(spec) = &desired.build_spec
        && app.build_spec.as_deref() != Some(spec.as_str())
    {
        changes.push(FieldChange::new(
            "build_spec",
            if app.build_spec.is_some() {
                "(another build spec)"
            } else {
                "(none)"
            },
            "(templates/amplify/buildspec.yml)",
        ));
    }
    if app.custom_rules != desired.custom_rules {
        changes.push(FieldChange::new(
            "custom_rules",
            show_rules(&app.custom_rules),
            show_rules(&desired.custom_rules),
        ));
    }
    if !app.enable_branch_auto_build {
        changes.push(FieldChange::new("enable_branch_auto_build", false, true));
    }
    changes
}

pub fn branch_changes(branch: &Branch, desired: &Desired) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if branch.stage != Stage::Production.as_str() {
        changes.push(FieldChange::new(
            "stage",
            &branch.stage,
            Stage::Production.as_str(),
        ));
    }
    if branch.framework != desired.branch_framework {
        changes.push(FieldChange::new(
            "framework",
            &branch.framework,
            desired.branch_framework,
        ));
    }
    if !branch.enable_auto_build {
        changes.push(FieldChange::new("enable_auto_build", false, true));
    }
    changes
}

/// Why a build must start, if it must: the branch is new, it never built, or what the build
/// bakes into the site (the WebSocket URL, the build spec) changed.
pub fn build_reason(observed: &Observed, desired: &Desired) -> Option<&'static str> {
    let Some(app) = observed.primary() else {
        return Some("first build");
    };
    if repository_key(&app.repository) != repository_key(&desired.repository) {
        return Some("first build");
    }
    if observed.branch.is_none() {
        return Some("first build of the new branch");
    }
    if observed.last_job.is_none() {
        return Some("the branch has never been built");
    }
    let deployed_url = app.environment.get(WEBSOCKET_URL_VARIABLE);
    if desired.websocket_url.as_ref() != deployed_url {
        return Some("the WebSocket URL changed");
    }
    if let Some(spec) = &desired.build_spec
        && app.build_spec.as_ref() != Some(spec)
    {
        return Some("the build spec changed");
    }
    None
}

fn app_label(app: &App) -> String {
    format!("{} ({})", app.name, app.id)
}

/// The plan for the frontend: app, branch and build steps. `desired` is `None` when
/// `[frontend]` is not configured: then every app of the stack is deleted.
pub fn plan(observed: &Observed, desired: Option<&Desired>) -> Vec<Step> {
    let Some(desired) = desired else {
        return observed
            .apps
            .iter()
            .map(|app| {
                Step::new(APP_KIND, app_label(app), Action::Delete).with_note(
                    "no [frontend] in the configuration; the GitHub webhook and deploy key Amplify added go too",
                )
            })
            .collect();
    };
    let mut steps = Vec::new();
    let branch_name = format!("{}:{}", desired.name, desired.branch);
    let replaced = observed
        .primary()
        .is_some_and(|app| repository_key(&app.repository) != repository_key(&desired.repository));
    match observed.primary() {
        None => {
            steps.push(
                Step::new(APP_KIND, desired.name.clone(), Action::Create)
                    .with_note(format!("connected to {}", desired.repository)),
            );
            steps.push(Step::new(BRANCH_KIND, branch_name.clone(), Action::Create));
        }
        Some(app) if replaced => {
            let mut step = Step::new(APP_KIND, desired.name.clone(), Action::Replace).with_note(
                format!(
                    "the repository changed; the old app's GitHub webhook and deploy key on {} are removed",
                    app.repository
                ),
            );
            step.changes.push(FieldChange::new(
                "repository",
                &app.repository,
                &desired.repository,
            ));
            steps.push(step);
            steps.push(Step::new(BRANCH_KIND, branch_name.clone(), Action::Create));
        }
        Some(app) => {
            steps.push(Step::update_or_keep(
                APP_KIND,
                desired.name.clone(),
                app_changes(app, desired),
            ));
            steps.push(match &observed.branch {
                None => Step::new(BRANCH_KIND, branch_name.clone(), Action::Create),
                Some(branch) => Step::update_or_keep(
                    BRANCH_KIND,
                    branch_name.clone(),
                    branch_changes(branch, desired),
                ),
            });
            for stray in &observed.stray_branches {
                steps.push(
                    Step::new(
                        BRANCH_KIND,
                        format!("{}:{}", desired.name, stray.name),
                        Action::Delete,
                    )
                    .with_note("no longer [frontend].branch"),
                );
            }
        }
    }
    steps.push(match build_reason(observed, desired) {
        Some(reason) => {
            Step::new(JOB_KIND, branch_name, Action::Create).with_note(format!("RELEASE: {reason}"))
        }
        None => {
            let step = Step::new(JOB_KIND, branch_name, Action::Keep);
            match &observed.last_job {
                Some(job) => step.with_note(format!("last build {}: {}", job.id, job.status)),
                None => step,
            }
        }
    });
    for duplicate in observed.duplicates() {
        steps.push(
            Step::new(APP_KIND, app_label(duplicate), Action::Delete)
                .with_note("duplicate tagged for this stack"),
        );
    }
    steps
}

/// Whether applying needs `GITHUB_TOKEN`: Amplify needs it to connect the repository
/// (creating the app or its branch), and chatctl to record what Amplify adds there.
pub fn needs_token(observed: &Observed, desired: Option<&Desired>) -> bool {
    let Some(desired) = desired else {
        return false;
    };
    match observed.primary() {
        None => true,
        Some(app) => {
            repository_key(&app.repository) != repository_key(&desired.repository)
                || observed.branch.is_none()
        }
    }
}

/// The message for a missing token, naming the repository and the permissions.
pub fn missing_token_message(desired: &Desired) -> String {
    format!(
        "{} is not set: connecting Amplify to {}/{} needs a GitHub personal access token ({}), read from the environment only (never a flag). Create one at https://github.com/settings/tokens and export {}=…",
        github::TOKEN_ENV,
        desired.owner,
        desired.repo,
        github::NEEDED_PERMISSIONS,
        github::TOKEN_ENV
    )
}

/// How chatctl reaches GitHub: the API base URL and the token, if there is one.
#[derive(Debug, Clone)]
pub struct GitHubAccess {
    pub api_url: String,
    pub token: Option<Token>,
    /// Page size of hook and key lists (GitHub's maximum unless a test asks for less).
    pub per_page: u32,
    /// Multiplies rate-limit waits (`None`: `CHATCTL_RETRY_SCALE`).
    pub wait_scale: Option<f64>,
}

impl GitHubAccess {
    pub fn new(api_url: &str, token: Option<Token>) -> Self {
        Self {
            api_url: api_url.to_owned(),
            token,
            per_page: github::MAX_PER_PAGE,
            wait_scale: None,
        }
    }

    /// `[github].api_url` and `GITHUB_TOKEN`.
    pub fn from_env(api_url: &str) -> Self {
        Self::new(api_url, Token::from_env())
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// A client, when there is a token.
    pub fn client(&self, ui: &Ui) -> Result<Option<GitHub>> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let mut client = GitHub::new(&self.api_url, token)?
            .with_per_page(self.per_page)
            .with_ui(ui.clone());
        if let Some(scale) = self.wait_scale {
            client = client.with_wait_scale(scale);
        }
        Ok(Some(client))
    }
}

/// Where a started build can be followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRef {
    pub app_id: String,
    pub branch: String,
    pub job_id: String,
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
    /// Webhook and deploy key ids recorded on the app after connecting the branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    /// Apps deleted on the way (duplicates, a replaced app, or all of them when
    /// `[frontend]` was removed), with what happened on GitHub.
    pub removed: Teardown,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub hooks: Vec<u64>,
    pub keys: Vec<u64>,
}

/// `https://{branch}.{defaultDomain}`: Amplify serves a branch there (the display name is the
/// branch name with `/` replaced).
pub fn site_url(app: &App, branch: &str) -> String {
    let domain = if app.default_domain.is_empty() {
        format!("{}.amplifyapp.com", app.id)
    } else {
        app.default_domain.clone()
    };
    format!("https://{}.{domain}", branch.replace('/', "-"))
}

fn sdk_platform(platform: Platform) -> SdkPlatform {
    match platform {
        Platform::Web => SdkPlatform::Web,
        Platform::WebCompute => SdkPlatform::WebCompute,
    }
}

fn sdk_rules(rules: &[Rule]) -> Result<Vec<CustomRule>> {
    rules
        .iter()
        .map(|r| {
            CustomRule::builder()
                .source(&r.source)
                .target(&r.target)
                .status(&r.status)
                .build()
                .context("building an Amplify rewrite rule")
        })
        .collect()
}

fn join_ids(ids: &BTreeSet<u64>) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}

fn parse_ids(text: &str) -> Vec<u64> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '+')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
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
    // Duplicates go first: their GitHub records are about the same repository.
    if !observed.duplicates().is_empty() {
        let duplicates = Observed {
            apps: observed.duplicates().to_vec(),
            others: observed.others.clone(),
            ..Observed::default()
        };
        applied
            .removed
            .merge(destroy(ctx, access, &duplicates).await?);
    }
    let mut primary = observed.primary().cloned();
    let mut branch = observed.branch.clone();
    if let Some(app) = &primary
        && repository_key(&app.repository) != repository_key(&desired.repository)
    {
        let old = Observed {
            apps: vec![app.clone()],
            others: observed.others.clone(),
            ..Observed::default()
        };
        applied.removed.merge(destroy(ctx, access, &old).await?);
        primary = None;
        branch = None;
    }
    let needs_github = primary.is_none() || branch.is_none();
    let github = if needs_github {
        let client = access.client(&ctx.ui)?;
        let Some(client) = client else {
            bail!("{}", missing_token_message(desired));
        };
        Some(client)
    } else {
        None
    };
    // What the repository holds before Amplify touches it.
    let before = match &github {
        Some(client) => Some(snapshot(client, &desired.owner, &desired.repo).await?),
        None => None,
    };
    let token = access.token.as_ref();
    let app_name = desired.name.clone();
    let app = match &primary {
        None => {
            let label = Step::new(APP_KIND, app_name, Action::Create).label();
            step(ctx, label, create_app(ctx, desired, &websocket_url, token)).await?
        }
        Some(app) => {
            if app_changes(app, desired).is_empty() {
                app.clone()
            } else {
                let label = Step::new(APP_KIND, app_name, Action::Update).label();
                step(ctx, label, update_app(ctx, app, desired, &websocket_url)).await?
            }
        }
    };
    let branch_name = format!("{}:{}", desired.name, desired.branch);
    let created_branch = match &branch {
        Some(existing) => {
            if !branch_changes(existing, desired).is_empty() {
                let label = Step::new(BRANCH_KIND, branch_name.clone(), Action::Update).label();
                step(ctx, label, update_branch(ctx, &app.id, desired)).await?;
            }
            false
        }
        None => {
            let label = Step::new(BRANCH_KIND, branch_name.clone(), Action::Create).label();
            step(ctx, label, async {
                if primary.is_some() {
                    // AWS does not store the token, and connecting a branch is when Amplify
                    // installs its webhook and key: hand it the current token first.
                    refresh_token(ctx, &app.id, token).await?;
                }
                create_branch(ctx, &app.id, desired).await
            })
            .await?;
            true
        }
    };
    if created_branch && let (Some(client), Some(before)) = (&github, &before) {
        let label = format!(
            "  record  github webhook and deploy key ids of {}/{} on {APP_KIND} {}",
            desired.owner, desired.repo, desired.name
        );
        let recorded = step(ctx, label, async {
            let after = snapshot(client, &desired.owner, &desired.repo).await?;
            record_additions(ctx, &app, before, &after).await
        })
        .await?;
        applied.recorded = Some(recorded);
    }
    if primary.as_ref().is_some_and(|p| p.id == app.id) {
        for stray in &observed.stray_branches {
            let label = Step::new(
                BRANCH_KIND,
                format!("{}:{}", desired.name, stray.name),
                Action::Delete,
            )
            .label();
            step(ctx, label, delete_branch(ctx, &app.id, &stray.name)).await?;
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
            Step::new(JOB_KIND, branch_name, Action::Create).label()
        );
        applied.job = Some(step(ctx, label, start_job(ctx, &app.id, &desired.branch)).await?);
    }
    applied.site_url = Some(site_url(&app, &desired.branch));
    applied.app_id = Some(app.id);
    Ok(applied)
}

/// Runs one resource operation as a progress line.
async fn step<T>(
    ctx: &Ctx,
    label: String,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let task = ctx.ui.task(label);
    match future.await {
        Ok(value) => {
            task.done();
            Ok(value)
        }
        Err(err) => {
            task.failed(&format!("{err:#}"));
            Err(err)
        }
    }
}

async fn create_app(
    ctx: &Ctx,
    desired: &Desired,
    websocket_url: &str,
    token: Option<&Token>,
) -> Result<App> {
    let Some(token) = token else {
        bail!("{}", missing_token_message(desired));
    };
    let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
    let environment =
        HashMap::from([(WEBSOCKET_URL_VARIABLE.to_owned(), websocket_url.to_owned())]);
    let out = ctx
        .aws
        .amplify
        .create_app()
        .name(&desired.name)
        .description(format!("chatctl stack {}: chat web app", desired.stack))
        .repository(&desired.repository)
        .access_token(token.expose())
        .platform(sdk_platform(desired.platform))
        .set_environment_variables(Some(environment))
        .set_build_spec(desired.build_spec.clone())
        .set_custom_rules(Some(sdk_rules(&desired.custom_rules)?))
        .enable_branch_auto_build(true)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| {
            let mut err = aws_error(&format!("creating Amplify app {}", desired.name), &e);
            if crate::retry::message(&e).is_some_and(|m| m.contains("setting up your repository")) {
                err = err.context(format!(
                    "Amplify could not install its webhook and deploy key on {}/{}: the token's user must be an admin of the repository, and the token needs {}",
                    desired.owner,
                    desired.repo,
                    github::NEEDED_PERMISSIONS
                ));
            }
            err
        })?;
    let app = out
        .app()
        .ok_or_else(|| anyhow::anyhow!("CreateApp answered without an app"))?;
    Ok(App::from_sdk(app, &ctx.aws.region))
}

async fn update_app(ctx: &Ctx, app: &App, desired: &Desired, websocket_url: &str) -> Result<App> {
    // Maps are replaced whole: keep variables someone else added to the app.
    let mut environment: HashMap<String, String> = app
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    environment.insert(WEBSOCKET_URL_VARIABLE.to_owned(), websocket_url.to_owned());
    let out = ctx
        .aws
        .amplify
        .update_app()
        .app_id(&app.id)
        .name(&desired.name)
        .platform(sdk_platform(desired.platform))
        .set_environment_variables(Some(environment))
        .set_build_spec(desired.build_spec.clone())
        .set_custom_rules(Some(sdk_rules(&desired.custom_rules)?))
        .enable_branch_auto_build(true)
        .send()
        .await
        .map_err(|e| aws_error(&format!("updating Amplify app {}", app.id), &e))?;
    let updated = out
        .app()
        .ok_or_else(|| anyhow::anyhow!("UpdateApp answered without an app"))?;
    Ok(App::from_sdk(updated, &ctx.aws.region))
}

async fn refresh_token(ctx: &Ctx, app_id: &str, token: Option<&Token>) -> Result<()> {
    let Some(token) = token else {
        bail!("{} is not set", github::TOKEN_ENV);
    };
    ctx.aws
        .amplify
        .update_app()
        .app_id(app_id)
        .access_token(token.expose())
        .send()
        .await
        .map_err(|e| aws_error(&format!("giving Amplify app {app_id} the GitHub token"), &e))?;
    Ok(())
}

async fn create_branch(ctx: &Ctx, app_id: &str, desired: &Desired) -> Result<()> {
    let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
    ctx.aws
        .amplify
        .create_branch()
        .app_id(app_id)
        .branch_name(&desired.branch)
        .stage(Stage::Production)
        .framework(desired.branch_framework)
        .enable_auto_build(true)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| {
            let mut err = aws_error(
                &format!("creating branch {} of Amplify app {app_id}", desired.branch),
                &e,
            );
            if crate::retry::message(&e).is_some_and(|m| m.contains("setting up your repository")) {
                err = err.context(format!(
                    "Amplify could not install its webhook and deploy key on {}/{} (GitHub allows 20 webhooks per repository; the token's user must be an admin, and the token needs {})",
                    desired.owner,
                    desired.repo,
                    github::NEEDED_PERMISSIONS
                ));
            }
            err
        })?;
    Ok(())
}

async fn update_branch(ctx: &Ctx, app_id: &str, desired: &Desired) -> Result<()> {
    ctx.aws
        .amplify
        .update_branch()
        .app_id(app_id)
        .branch_name(&desired.branch)
        .stage(Stage::Production)
        .framework(desired.branch_framework)
        .enable_auto_build(true)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                &format!("updating branch {} of Amplify app {app_id}", desired.branch),
                &e,
            )
        })?;
    Ok(())
}

async fn delete_branch(ctx: &Ctx, app_id: &str, branch: &str) -> Result<()> {
    absent_if(
        ctx.aws
            .amplify
            .delete_branch()
            .app_id(app_id)
            .branch_name(branch)
            .send()
            .await,
        |e| e.is_not_found_exception(),
    )
    .map_err(|e| {
        aws_error(
            &format!("deleting branch {branch} of Amplify app {app_id}"),
            &e,
        )
    })?;
    Ok(())
}

/// Starts a RELEASE build of the branch's latest commit.
pub async fn start_job(ctx: &Ctx, app_id: &str, branch: &str) -> Result<JobRef> {
    let out = ctx
        .aws
        .amplify
        .start_job()
        .app_id(app_id)
        .branch_name(branch)
        .job_type(JobType::Release)
        .job_reason("chatctl up")
        .send()
        .await
        .map_err(|e| aws_error(&format!("starting a build of {app_id}/{branch}"), &e))?;
    let job_id = out
        .job_summary()
        .map(|s| s.job_id().to_owned())
        .ok_or_else(|| anyhow::anyhow!("StartJob answered without a job"))?;
    Ok(JobRef {
        app_id: app_id.to_owned(),
        branch: branch.to_owned(),
        job_id,
    })
}

/// The repository's hooks and deploy keys at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hooks: Vec<Hook>,
    pub keys: Vec<DeployKey>,
}

async fn snapshot(client: &GitHub, owner: &str, repo: &str) -> Result<Snapshot> {
    let (hooks, keys) =
        tokio::try_join!(client.hooks(owner, repo), client.deploy_keys(owner, repo))?;
    Ok(Snapshot { hooks, keys })
}

/// A hook on AWS: what Amplify installs is an `https://….amazonaws.com` endpoint. Only such
/// hooks are recorded from the before/after difference (something else added by someone
/// at the same moment is not Amplify's), and only such hooks are ever deleted.
pub fn is_aws_hook(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    parsed.scheme() == "https"
        && parsed
            .host_str()
            .is_some_and(|h| h.to_ascii_lowercase().ends_with(".amazonaws.com"))
}

/// The fallback when the app carries no records: Amplify's unified webhook
/// (`https://{id}.execute-api.{region}.amazonaws.com/prod/github`), or an AWS hook whose URL
/// carries the app id (older per-app hooks, as AWS support describes them).
pub fn matches_amplify_hook(url: &str, app_id: &str) -> bool {
    if !is_aws_hook(url) {
        return false;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let unified =
        host.contains(".execute-api.") && parsed.path().trim_end_matches('/') == "/prod/github";
    unified || (!app_id.is_empty() && url.contains(app_id))
}

/// The title Amplify gives the deploy key of an app.
pub fn deploy_key_title(app_id: &str) -> String {
    format!("AWS Amplify deploy key for app {app_id}")
}

/// A key Amplify added for this app (recorded from the difference, or the fallback).
pub fn matches_amplify_key(key: &DeployKey, app_id: &str) -> bool {
    key.title == deploy_key_title(app_id)
        || (!app_id.is_empty()
            && key.title.contains(app_id)
            && key.title.to_ascii_lowercase().contains("amplify"))
}

/// Ids in `after` but not `before` that are Amplify's.
pub fn additions(before: &Snapshot, after: &Snapshot, app_id: &str) -> Recorded {
    let old_hooks: BTreeSet<u64> = before.hooks.iter().map(|h| h.id).collect();
    let old_keys: BTreeSet<u64> = before.keys.iter().map(|k| k.id).collect();
    Recorded {
        hooks: after
            .hooks
            .iter()
            .filter(|h| !old_hooks.contains(&h.id) && is_aws_hook(h.url()))
            .map(|h| h.id)
            .collect(),
        keys: after
            .keys
            .iter()
            .filter(|k| {
                !old_keys.contains(&k.id)
                    && (matches_amplify_key(k, app_id)
                        || k.title.to_ascii_lowercase().contains("amplify"))
            })
            .map(|k| k.id)
            .collect(),
    }
}

/// Tags the app with what Amplify added (merged with what was recorded before).
async fn record_additions(
    ctx: &Ctx,
    app: &App,
    before: &Snapshot,
    after: &Snapshot,
) -> Result<Recorded> {
    let added = additions(before, after, &app.id);
    let mut hooks: BTreeSet<u64> = app
        .recorded_hooks()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut keys: BTreeSet<u64> = app
        .recorded_keys()
        .unwrap_or_default()
        .into_iter()
        .collect();
    hooks.extend(&added.hooks);
    keys.extend(&added.keys);
    // Drop records of things no longer on the repository.
    let present_hooks: BTreeSet<u64> = after.hooks.iter().map(|h| h.id).collect();
    let present_keys: BTreeSet<u64> = after.keys.iter().map(|k| k.id).collect();
    hooks.retain(|id| present_hooks.contains(id));
    keys.retain(|id| present_keys.contains(id));
    tag_records(&ctx.aws.amplify, &app.arn, &hooks, &keys).await?;
    Ok(Recorded {
        hooks: hooks.into_iter().collect(),
        keys: keys.into_iter().collect(),
    })
}

async fn tag_records(
    client: &aws_sdk_amplify::Client,
    arn: &str,
    hooks: &BTreeSet<u64>,
    keys: &BTreeSet<u64>,
) -> Result<()> {
    client
        .tag_resource()
        .resource_arn(arn)
        .tags(HOOKS_TAG, join_ids(hooks))
        .tags(KEYS_TAG, join_ids(keys))
        .send()
        .await
        .map_err(|e| aws_error(&format!("recording GitHub ids on {arn}"), &e))?;
    Ok(())
}

/// Something Amplify added to GitHub that is still there after `down`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remaining {
    /// `webhook` or `deploy key`.
    pub kind: &'static str,
    /// `owner/repo`.
    pub repository: String,
    /// `None` when the id is unknown (no token to look, and no record).
    pub id: Option<u64>,
    /// The hook URL (without query) or the key title, or how to recognise it.
    pub what: String,
    /// Why it is still there.
    pub reason: String,
    /// The page where it can be deleted by hand.
    pub settings_url: String,
    /// A command that deletes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_command: Option<String>,
}

/// A hook left in place on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub repository: String,
    pub id: u64,
    pub url: String,
    pub reason: String,
}

/// What happened to one app on `down`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppTeardown {
    pub app_id: String,
    pub name: String,
    pub repository: String,
    pub deleted_hooks: Vec<u64>,
    pub deleted_keys: Vec<u64>,
    /// Recorded ids GitHub no longer had (404): already gone, which is success.
    pub already_gone: Vec<u64>,
    pub kept_hooks: Vec<Kept>,
    pub remaining: Vec<Remaining>,
}

/// What `destroy` did, app by app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Teardown {
    pub apps: Vec<AppTeardown>,
}

impl Teardown {
    fn merge(&mut self, other: Self) {
        self.apps.extend(other.apps);
    }

    /// Everything still on GitHub that should not be.
    pub fn remaining(&self) -> Vec<&Remaining> {
        self.apps.iter().flat_map(|a| &a.remaining).collect()
    }

    pub fn is_clean(&self) -> bool {
        self.remaining().is_empty()
    }

    /// Notes about hooks kept because another app uses them.
    pub fn notes(&self) -> Vec<String> {
        self.apps
            .iter()
            .flat_map(|a| &a.kept_hooks)
            .map(|k| {
                format!(
                    "kept webhook {} on {} ({}): {}",
                    k.id, k.repository, k.url, k.reason
                )
            })
            .collect()
    }

    /// A human report of what is left on GitHub and how to delete it; `None` when clean.
    pub fn remaining_report(&self) -> Option<String> {
        let remaining = self.remaining();
        if remaining.is_empty() {
            return None;
        }
        let mut text = String::from(
            "Amplify's additions to GitHub are still there (the Amplify app itself is deleted):",
        );
        for item in &remaining {
            let id = item
                .id
                .map_or_else(|| "(id unknown)".to_owned(), |id| id.to_string());
            let _ = write!(
                text,
                "\n  {} {id} on {}: {}\n      why: {}\n      delete it at {}",
                item.kind, item.repository, item.what, item.reason, item.settings_url
            );
            if let Some(command) = &item.delete_command {
                let _ = write!(text, "\n      or run: {command}");
            }
        }
        Some(text)
    }
}

impl fmt::Display for Teardown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for app in &self.apps {
            writeln!(
                f,
                "Amplify app {} ({}) deleted; on {}: {} webhook(s) and {} deploy key(s) removed",
                app.name,
                app.app_id,
                app.repository,
                app.deleted_hooks.len(),
                app.deleted_keys.len()
            )?;
        }
        for note in self.notes() {
            writeln!(f, "{note}")?;
        }
        if let Some(report) = self.remaining_report() {
            write!(f, "{report}")?;
        }
        Ok(())
    }
}

/// What `down` will delete, for confirmation and `--output json`.
pub fn teardown_plan(observed: &Observed) -> Vec<Step> {
    observed
        .apps
        .iter()
        .map(|app| {
            let note = match (app.recorded_hooks(), app.recorded_keys()) {
                (Some(hooks), Some(keys)) => format!(
                    "with its branches; on GitHub: the {} webhook(s) and {} deploy key(s) Amplify added, unless another Amplify app still uses the repository's webhook",
                    hooks.len(),
                    keys.len()
                ),
                _ => "with its branches; on GitHub: Amplify's webhook (if no other Amplify app uses the repository) and this app's deploy key".to_owned(),
            };
            Step::new(APP_KIND, app_label(app), Action::Delete).with_note(note)
        })
        .collect()
}

/// Regions where Amplify Hosting runs, in the partition of `region`; apps in any of them may
/// share the repository's webhook.
fn amplify_regions(region: &str) -> Vec<String> {
    const COMMERCIAL: &[&str] = &[
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "me-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
    ];
    let mut regions = vec![region.to_owned()];
    if !region.starts_with("cn-") && !region.starts_with("us-gov-") {
        regions.extend(
            COMMERCIAL
                .iter()
                .filter(|r| **r != region)
                .map(|r| (*r).to_owned()),
        );
    }
    regions
}

/// Other Amplify apps of the account connected to `owner/repo`, across regions.
#[derive(Debug, Clone, Default)]
struct RepositoryUsers {
    apps: Vec<AppRef>,
    /// Regions that could not be checked, with the reason.
    unchecked: Vec<(String, String)>,
}

async fn repository_users(
    ctx: &Ctx,
    repository: &str,
    exclude: &BTreeSet<String>,
) -> Result<RepositoryUsers> {
    let key = repository_key(repository);
    let regions = amplify_regions(&ctx.aws.region);
    let lookups = regions.iter().map(|region| async move {
        let client = if *region == ctx.aws.region {
            ctx.aws.amplify.clone()
        } else {
            aws_sdk_amplify::Client::from_conf(
                ctx.aws
                    .amplify
                    .config()
                    .to_builder()
                    .region(aws_types::region::Region::new(region.clone()))
                    .build(),
            )
        };
        (region.clone(), list_apps(&client, region).await)
    });
    let results = futures::future::join_all(lookups).await;
    let mut users = RepositoryUsers::default();
    for (region, result) in results {
        match result {
            Ok(apps) => users.apps.extend(
                apps.iter()
                    .filter(|a| !exclude.contains(&a.id))
                    .filter(|a| key.is_some() && a.repository_key() == key)
                    .map(AppRef::of),
            ),
            // Our own region must answer: it is where the app was.
            Err(err) if region == ctx.aws.region => return Err(err),
            Err(err) => {
                let text = format!("{err:#}");
                // A region not enabled for the account (opt-in) has no apps.
                let not_enabled = text.contains("UnrecognizedClientException")
                    || text.contains("security token included in the request is invalid")
                    || text.contains("could not reach AWS");
                if not_enabled {
                    tracing::debug!(region, error = %text, "skipping Amplify region");
                } else {
                    users.unchecked.push((region, text));
                }
            }
        }
    }
    Ok(users)
}

/// Deletes the stack's Amplify apps (all of `observed.apps`) and what Amplify added to
/// GitHub for them. Without a token, or when GitHub refuses, the AWS side is still deleted
/// and the result lists what remains on GitHub ([`Teardown::remaining_report`]).
pub async fn destroy(ctx: &Ctx, access: &GitHubAccess, observed: &Observed) -> Result<Teardown> {
    let exclude: BTreeSet<String> = observed.apps.iter().map(|a| a.id.clone()).collect();
    let client = access.client(&ctx.ui)?;
    let mut teardown = Teardown::default();
    for app in &observed.apps {
        let report = destroy_app(ctx, access, client.as_ref(), app, &exclude).await?;
        teardown.apps.push(report);
    }
    Ok(teardown)
}

async fn delete_app(ctx: &Ctx, app: &App) -> Result<()> {
    absent_if(
        ctx.aws.amplify.delete_app().app_id(&app.id).send().await,
        |e| e.is_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("deleting Amplify app {}", app.id), &e))?;
    Ok(())
}

struct Manual<'a> {
    access: &'a GitHubAccess,
    owner: &'a str,
    repo: &'a str,
}

impl Manual<'_> {
    fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    fn hook(&self, id: Option<u64>, what: String, reason: String) -> Remaining {
        self.item("webhook", "hooks", id, what, reason)
    }

    fn key(&self, id: Option<u64>, what: String, reason: String) -> Remaining {
        self.item("deploy key", "keys", id, what, reason)
    }

    fn item(
        &self,
        kind: &'static str,
        collection: &str,
        id: Option<u64>,
        what: String,
        reason: String,
    ) -> Remaining {
        let web = github::web_url(&self.access.api_url);
        Remaining {
            kind,
            repository: self.repository(),
            id,
            what,
            reason,
            settings_url: format!("{web}/{}/{}/settings/{collection}", self.owner, self.repo),
            delete_command: id.map(|id| {
                format!(
                    "gh api {}-X DELETE repos/{}/{}/{collection}/{id}",
                    github::gh_hostname_flag(&self.access.api_url),
                    self.owner,
                    self.repo
                )
            }),
        }
    }
}

/// Which hooks and keys of the repository belong to `app`, given what GitHub lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    pub hooks: Vec<Hook>,
    pub keys: Vec<DeployKey>,
    /// Recorded ids GitHub no longer lists.
    pub gone: Vec<u64>,
    /// Recorded hooks that are not on AWS: never deleted.
    pub refused: Vec<Hook>,
}

/// The records when present, else the fallback matchers.
pub fn candidates(app: &App, snapshot: &Snapshot) -> Candidates {
    let mut out = Candidates::default();
    match app.recorded_hooks() {
        Some(ids) => {
            for id in ids {
                match snapshot.hooks.iter().find(|h| h.id == id) {
                    Some(hook) if is_aws_hook(hook.url()) => out.hooks.push(hook.clone()),
                    Some(hook) => out.refused.push(hook.clone()),
                    None => out.gone.push(id),
                }
            }
        }
        None => out.hooks.extend(
            snapshot
                .hooks
                .iter()
                .filter(|h| matches_amplify_hook(h.url(), &app.id))
                .cloned(),
        ),
    }
    match app.recorded_keys() {
        Some(ids) => {
            for id in ids {
                match snapshot.keys.iter().find(|k| k.id == id) {
                    Some(key) => out.keys.push(key.clone()),
                    None => out.gone.push(id),
                }
            }
        }
        None => out.keys.extend(
            snapshot
                .keys
                .iter()
                .filter(|k| matches_amplify_key(k, &app.id))
                .cloned(),
        ),
    }
    out
}

async fn destroy_app(
    ctx: &Ctx,
    access: &GitHubAccess,
    client: Option<&GitHub>,
    app: &App,
    exclude: &BTreeSet<String>,
) -> Result<AppTeardown> {
    let mut report = AppTeardown {
        app_id: app.id.clone(),
        name: app.name.clone(),
        repository: app.repository.clone(),
        ..AppTeardown::default()
    };
    let Some((owner, repo)) = owner_and_repo(&app.repository) else {
        // Not a GitHub repository (or none): nothing of chatctl's to clean there.
        delete_app(ctx, app).await?;
        return Ok(report);
    };
    report.repository = format!("{owner}/{repo}");
    let manual = Manual {
        access,
        owner: &owner,
        repo: &repo,
    };
    // Look first, so a bad token is known before anything is deleted; the AWS side goes
    // regardless (the records survive in the report).
    let listing = match client {
        Some(client) => Some(snapshot(client, &owner, &repo).await),
        None => None,
    };
    let task = ctx
        .ui
        .task(Step::new(APP_KIND, app_label(app), Action::Delete).label());
    match delete_app(ctx, app).await {
        Ok(()) => task.done(),
        Err(err) => {
            task.failed(&format!("{err:#}"));
            return Err(err);
        }
    }
    let snapshot = match listing {
        Some(Ok(snapshot)) => snapshot,
        unlooked => {
            let reason = match unlooked {
                Some(Err(err)) => format!("{err:#}"),
                _ => format!(
                    "{} is not set, so chatctl could not delete it",
                    github::TOKEN_ENV
                ),
            };
            let mut remaining = unverified(app, &manual, &reason);
            // Even unseen, a webhook another Amplify app uses is not to be deleted by hand.
            if remaining.iter().any(|r| r.kind == "webhook") {
                let users = repository_users(ctx, &app.repository, exclude).await?;
                if let Some(user) = users.apps.first() {
                    remaining.retain(|r| r.kind != "webhook");
                    report.kept_hooks.extend(
                        app.recorded_hooks()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|id| Kept {
                                repository: manual.repository(),
                                id,
                                url: "(not looked up)".to_owned(),
                                reason: format!(
                                    "Amplify app {} ({}) in {} still uses the repository",
                                    user.name, user.id, user.region
                                ),
                            }),
                    );
                }
            }
            report.remaining = remaining;
            return Ok(report);
        }
    };
    let Some(client) = client else {
        return Ok(report);
    };
    let found = candidates(app, &snapshot);
    report.already_gone.extend(&found.gone);
    for hook in &found.refused {
        report.kept_hooks.push(Kept {
            repository: manual.repository(),
            id: hook.id,
            url: github::display_url(hook.url()),
            reason: "recorded for this app but not an AWS endpoint: chatctl never deletes a webhook that is not Amplify's".to_owned(),
        });
    }
    let mut hooks = found.hooks.clone();
    if !hooks.is_empty() {
        let users = repository_users(ctx, &app.repository, exclude).await?;
        let blocker = users.apps.first().map(|user| {
            format!(
                "Amplify app {} ({}) in {} still uses the repository, and Amplify shares one webhook per repository",
                user.name, user.id, user.region
            )
        });
        let blocker = blocker.or_else(|| {
            (!users.unchecked.is_empty()).then(|| {
                format!(
                    "could not check Amplify apps in {} for the same repository, so the shared webhook stays: {}",
                    users
                        .unchecked
                        .iter()
                        .map(|(r, _)| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    users
                        .unchecked
                        .first()
                        .map(|(_, e)| e.as_str())
                        .unwrap_or_default()
                )
            })
        });
        if let Some(reason) = blocker {
            for hook in hooks.drain(..) {
                report.kept_hooks.push(Kept {
                    repository: manual.repository(),
                    id: hook.id,
                    url: github::display_url(hook.url()),
                    reason: reason.clone(),
                });
            }
            if let Some(user) = users.apps.first() {
                hand_over(ctx, user, &report.kept_hooks).await;
            }
        }
    }
    let repository = manual.repository();
    for hook in hooks {
        let task = ctx.ui.task(format!(
            "- delete  github webhook {} of {repository} ({})",
            hook.id,
            github::display_url(hook.url())
        ));
        match client.delete_hook(&owner, &repo, hook.id).await {
            Ok(Deletion::Deleted) => {
                task.done();
                report.deleted_hooks.push(hook.id);
            }
            Ok(Deletion::AlreadyGone) => {
                task.done();
                report.already_gone.push(hook.id);
            }
            Err(err) => {
                task.failed(&err.to_string());
                report.remaining.push(manual.hook(
                    Some(hook.id),
                    github::display_url(hook.url()),
                    err.to_string(),
                ));
            }
        }
    }
    for key in &found.keys {
        let task = ctx.ui.task(format!(
            "- delete  github deploy key {} of {repository} (\"{}\")",
            key.id, key.title
        ));
        match client.delete_deploy_key(&owner, &repo, key.id).await {
            Ok(Deletion::Deleted) => {
                task.done();
                report.deleted_keys.push(key.id);
            }
            Ok(Deletion::AlreadyGone) => {
                task.done();
                report.already_gone.push(key.id);
            }
            Err(err) => {
                task.failed(&err.to_string());
                report.remaining.push(manual.key(
                    Some(key.id),
                    format!("\"{}\"", key.title),
                    err.to_string(),
                ));
            }
        }
    }
    Ok(report)
}

/// What remains when GitHub could not be looked at: the records, or what to look for.
fn unverified(app: &App, manual: &Manual<'_>, reason: &str) -> Vec<Remaining> {
    let mut remaining = Vec::new();
    match app.recorded_hooks() {
        Some(ids) => remaining.extend(ids.into_iter().map(|id| {
            manual.hook(
                Some(id),
                "the webhook Amplify added (an https://….amazonaws.com URL)".to_owned(),
                reason.to_owned(),
            )
        })),
        None => remaining.push(manual.hook(
            None,
            "a webhook whose URL is https://….execute-api.….amazonaws.com/prod/github, unless another Amplify app uses this repository".to_owned(),
            reason.to_owned(),
        )),
    }
    match app.recorded_keys() {
        Some(ids) => remaining.extend(ids.into_iter().map(|id| {
            manual.key(
                Some(id),
                format!("\"{}\"", deploy_key_title(&app.id)),
                reason.to_owned(),
            )
        })),
        None => remaining.push(manual.key(
            None,
            format!("the key titled \"{}\"", deploy_key_title(&app.id)),
            reason.to_owned(),
        )),
    }
    remaining
}

/// A hook kept for another chatctl stack's app becomes that app's to delete: added to its
/// records, so the last stack to go removes it. Best effort: a failure only means that
/// stack's `down` falls back to matching the hook's URL.
async fn hand_over(ctx: &Ctx, user: &AppRef, kept: &[Kept]) {
    let Some(hooks_tag) = user.tags.get(HOOKS_TAG) else {
        // Without records that stack's `down` matches Amplify's hook by URL anyway.
        return;
    };
    if !user.tags.contains_key(STACK_TAG) {
        return;
    }
    let mut hooks: BTreeSet<u64> = parse_ids(hooks_tag).into_iter().collect();
    hooks.extend(kept.iter().map(|k| k.id));
    let keys: BTreeSet<u64> = user
        .tags
        .get(KEYS_TAG)
        .map(|v| parse_ids(v))
        .unwrap_or_default()
        .into_iter()
        .collect();
    let client = if user.region == ctx.aws.region {
        ctx.aws.amplify.clone()
    } else {
        aws_sdk_amplify::Client::from_conf(
            ctx.aws
                .amplify
                .config()
                .to_builder()
                .region(aws_types::region::Region::new(user.region.clone()))
                .build(),
        )
    };
    if let Err(err) = tag_records(&client, &user.arn, &hooks, &keys).await {
        tracing::warn!(app = %user.id, error = %format!("{err:#}"), "could not hand the shared webhook over");
    }
}

/// The end of a build, as [`wait_for_job`] saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    pub app_id: String,
    pub branch: String,
    pub job_id: String,
    pub status: String,
    pub steps: Vec<JobStep>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStep {
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl JobReport {
    pub fn succeeded(&self) -> bool {
        self.status == JobStatus::Succeed.as_str()
    }

    /// An error naming the failed step and its log when the build did not succeed.
    pub fn into_result(self) -> Result<Self> {
        if self.succeeded() {
            return Ok(self);
        }
        bail!("{self}")
    }
}

impl fmt::Display for JobReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Amplify build {} of {}/{}: {} after {:.0} s",
            self.job_id, self.app_id, self.branch, self.status, self.seconds
        )?;
        if !self.succeeded() {
            for step in self.steps.iter().filter(|s| s.status != "SUCCEED") {
                write!(f, "\n  step {}: {}", step.name, step.status)?;
                if let Some(reason) = &step.reason {
                    write!(f, " ({reason})")?;
                }
                if let Some(url) = &step.log_url {
                    write!(f, " — log: {url}")?;
                }
            }
        }
        Ok(())
    }
}

/// Follows a build to its end (for `up --wait`), polling every `poll` up to `timeout`.
pub async fn wait_for_job(
    ctx: &Ctx,
    job: &JobRef,
    poll: Duration,
    timeout: Duration,
) -> Result<JobReport> {
    let started = Instant::now();
    let task = ctx.ui.task(format!(
        "  wait    {JOB_KIND} {} of {}/{}",
        job.job_id, job.app_id, job.branch
    ));
    let mut last_status = String::new();
    loop {
        let out = ctx
            .aws
            .amplify
            .get_job()
            .app_id(&job.app_id)
            .branch_name(&job.branch)
            .job_id(&job.job_id)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &format!(
                        "reading build {} of {}/{}",
                        job.job_id, job.app_id, job.branch
                    ),
                    &e,
                )
            });
        let out = match out {
            Ok(out) => out,
            Err(err) => {
                task.failed(&format!("{err:#}"));
                return Err(err);
            }
        };
        let details = out.job();
        let status = details
            .and_then(|j| j.summary())
            .map_or("PENDING", |s| s.status().as_str())
            .to_owned();
        let steps: Vec<JobStep> = details
            .map(|j| {
                j.steps()
                    .iter()
                    .map(|s| JobStep {
                        name: s.step_name().to_owned(),
                        status: s.status().as_str().to_owned(),
                        log_url: s.log_url().map(str::to_owned),
                        reason: s.status_reason().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if status != last_status {
            task.waiting(&status);
            last_status.clone_from(&status);
        }
        if matches!(status.as_str(), "SUCCEED" | "FAILED" | "CANCELLED") {
            let report = JobReport {
                app_id: job.app_id.clone(),
                branch: job.branch.clone(),
                job_id: job.job_id.clone(),
                status,
                steps,
                seconds: started.elapsed().as_secs_f64(),
            };
            if report.succeeded() {
                task.done();
            } else {
                task.failed(&report.status);
            }
            return Ok(report);
        }
        if started.elapsed() + poll > timeout {
            task.failed("timed out");
            bail!(
                "Amplify build {} of {}/{} is still {status} after {} s; follow it in the Amplify console",
                job.job_id,
                job.app_id,
                job.branch,
                timeout.as_secs()
            );
        }
        tokio::time::sleep(poll).await;
    }
}

/// The frontend's part of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrontendStatus {
    pub app_id: String,
    pub name: String,
    pub repository: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_build: Option<JobInfo>,
    /// Webhook and deploy key ids recorded on the app (`None`: not recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_hooks: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_keys: Option<Vec<u64>>,
}

impl FrontendStatus {
    /// One line per fact, for `status`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(url) = &self.site_url {
            lines.push(format!("site url       {url}"));
        }
        match &self.last_build {
            Some(job) => lines.push(format!("last build     {} {}", job.id, job.status)),
            None if self.branch.is_some() => lines.push("last build     (none)".to_owned()),
            None => {}
        }
        lines
    }
}

pub fn status(observed: &Observed) -> Option<FrontendStatus> {
    let app = observed.primary()?;
    Some(FrontendStatus {
        app_id: app.id.clone(),
        name: app.name.clone(),
        repository: app.repository.clone(),
        branch: observed.branch.as_ref().map(|b| b.name.clone()),
        site_url: observed.branch.as_ref().map(|b| {
            let name = if b.display_name.is_empty() {
                b.name.as_str()
            } else {
                b.display_name.as_str()
            };
            site_url(app, name)
        }),
        last_build: observed.last_job.clone(),
        github_hooks: app.recorded_hooks(),
        github_keys: app.recorded_keys(),
    })
}

/// Things `status` should flag about the frontend.
pub fn warnings(observed: &Observed) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(app) = observed.primary() else {
        return warnings;
    };
    if let Some(job) = &observed.last_job
        && matches!(job.status.as_str(), "FAILED" | "CANCELLED")
    {
        warnings.push(format!(
            "the last Amplify build ({}) of {} {}: see the Amplify console for its log",
            job.id,
            app.id,
            job.status.to_ascii_lowercase()
        ));
    }
    if observed.branch.is_some()
        && (app.recorded_hooks().is_none() || app.recorded_keys().is_none())
    {
        warnings.push(format!(
            "Amplify app {} has no record of the GitHub webhook and deploy key it added; `down` will match them by URL and title",
            app.id
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Names;

    fn frontend(framework: Framework, platform: Platform) -> Frontend {
        Frontend {
            repository: "https://github.com/acme/chat-web".into(),
            owner: "acme".into(),
            repo: "chat-web".into(),
            branch: "main".into(),
            platform,
            framework,
        }
    }

    const URL: &str = "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev";

    fn deployed(desired: &Desired) -> App {
        App {
            id: "d1234567890abc".into(),
            arn: "arn:aws:amplify:eu-west-1:123456789012:apps/d1234567890abc".into(),
            name: desired.name.clone(),
            repository: desired.repository.clone(),
            platform: "WEB".into(),
            environment: BTreeMap::from([(WEBSOCKET_URL_VARIABLE.into(), URL.into())]),
            build_spec: desired.build_spec.clone(),
            custom_rules: desired.custom_rules.clone(),
            enable_branch_auto_build: true,
            default_domain: "d1234567890abc.amplifyapp.com".into(),
            tags: BTreeMap::from([
                (STACK_TAG.into(), "chat-dev".into()),
                (HOOKS_TAG.into(), "400000001".into()),
                (KEYS_TAG.into(), "90000002".into()),
            ]),
            created: 1,
            region: "eu-west-1".into(),
        }
    }

    fn converged(desired: &Desired) -> Observed {
        Observed {
            apps: vec![deployed(desired)],
            branch: Some(Branch {
                name: "main".into(),
                arn: "arn:…/branches/main".into(),
                stage: "PRODUCTION".into(),
                framework: "Web".into(),
                enable_auto_build: true,
                display_name: "main".into(),
                tags: BTreeMap::new(),
            }),
            stray_branches: Vec::new(),
            last_job: Some(JobInfo {
                id: "1".into(),
                status: "SUCCEED".into(),
                job_type: "RELEASE".into(),
                commit_id: "abc".into(),
                started: 1,
                ended: Some(2),
            }),
            others: Vec::new(),
        }
    }

    fn static_desired() -> Desired {
        desired(
            &Names::new("chat-dev", "eu-west-1"),
            &frontend(Framework::Static, Platform::Web),
            Some(URL),
        )
    }

    #[test]
    fn rules_per_framework() {
        let spa = custom_rules(&frontend(Framework::Static, Platform::Web));
        assert_eq!(spa.len(), 1);
        assert_eq!(spa[0].target, "/index.html");
        assert_eq!(spa[0].status, "200");
        assert!(spa[0].source.starts_with("</^[^.]+$|"));
        let next = custom_rules(&frontend(Framework::Nextjs, Platform::Web));
        assert_eq!(next[0].target, "/chat/[peer].html");
        assert!(custom_rules(&frontend(Framework::Nextjs, Platform::WebCompute)).is_empty());
        assert_eq!(
            branch_framework(&frontend(Framework::Nextjs, Platform::Web)),
            "Next.js - SSG"
        );
        assert_eq!(
            branch_framework(&frontend(Framework::Static, Platform::Web)),
            "Web"
        );
    }

    #[test]
    fn a_converged_frontend_plans_nothing() {
        let desired = static_desired();
        let steps = plan(&converged(&desired), Some(&desired));
        assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
        assert!(!needs_token(&converged(&desired), Some(&desired)));
    }

    #[test]
    fn a_fresh_stack_creates_app_branch_and_build() {
        let desired = desired(
            &Names::new("chat-dev", "eu-west-1"),
            &frontend(Framework::Static, Platform::Web),
            None,
        );
        let steps = plan(&Observed::default(), Some(&desired));
        let actions: Vec<(&str, Action)> = steps.iter().map(|s| (s.kind, s.action)).collect();
        assert_eq!(
            actions,
            [
                (APP_KIND, Action::Create),
                (BRANCH_KIND, Action::Create),
                (JOB_KIND, Action::Create)
            ]
        );
        assert!(needs_token(&Observed::default(), Some(&desired)));
    }

    #[test]
    fn a_new_websocket_url_updates_the_app_and_rebuilds() {
        let desired = static_desired();
        let mut observed = converged(&desired);
        observed.apps[0].environment.insert(
            WEBSOCKET_URL_VARIABLE.into(),
            "wss://old.example/dev".into(),
        );
        let steps = plan(&observed, Some(&desired));
        assert_eq!(steps[0].action, Action::Update);
        assert_eq!(steps[0].changes[0].field, "environment.CHAT_WEBSOCKET_URL");
        assert_eq!(steps[0].changes[0].old, "wss://old.example/dev");
        assert_eq!(steps[2].kind, JOB_KIND);
        assert_eq!(steps[2].action, Action::Create);
        assert_eq!(
            build_reason(&observed, &desired),
            Some("the WebSocket URL changed")
        );
    }

    #[test]
    fn a_new_repository_replaces_the_app() {
        let desired = static_desired();
        let mut observed = converged(&desired);
        observed.apps[0].repository = "https://github.com/acme/old-web".into();
        let steps = plan(&observed, Some(&desired));
        assert_eq!(steps[0].action, Action::Replace);
        assert!(needs_token(&observed, Some(&desired)));
    }

    #[test]
    fn without_frontend_every_app_is_deleted() {
        let desired = static_desired();
        let steps = plan(&converged(&desired), None);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, Action::Delete);
    }

    #[test]
    fn branch_drift_is_field_level() {
        let desired = static_desired();
        let mut observed = converged(&desired);
        if let Some(branch) = observed.branch.as_mut() {
            branch.stage = "NONE".into();
            branch.framework = String::new();
        }
        let fields: Vec<String> = plan(&observed, Some(&desired))[1]
            .changes
            .iter()
            .map(|c| c.field.clone())
            .collect();
        assert_eq!(fields, ["stage", "framework"]);
    }

    #[test]
    fn fallback_matchers() {
        let app = "d1234567890abc";
        assert!(matches_amplify_hook(
            "https://ab12cd34ef.execute-api.eu-west-1.amazonaws.com/prod/github",
            app
        ));
        assert!(matches_amplify_hook(
            "https://hooks.eu-west-1.amazonaws.com/github?appId=d1234567890abc",
            app
        ));
        // Not AWS, a foreign path, or http: never.
        assert!(!matches_amplify_hook(
            "https://ci.example.com/prod/github",
            app
        ));
        assert!(!matches_amplify_hook(
            "https://ab12cd34ef.execute-api.eu-west-1.amazonaws.com/prod/jenkins",
            app
        ));
        assert!(!matches_amplify_hook(
            "http://ab12cd34ef.execute-api.eu-west-1.amazonaws.com/prod/github",
            app
        ));
        assert!(!matches_amplify_hook(
            "https://ci.example.com/hook?app=d1234567890abc",
            app
        ));
        assert!(!matches_amplify_hook(
            "https://evil.amazonaws.com.example.net/prod/github",
            app
        ));
        let key = |title: &str| DeployKey {
            id: 1,
            title: title.into(),
            read_only: true,
            added_by: None,
            created_at: None,
        };
        assert!(matches_amplify_key(
            &key("AWS Amplify deploy key for app d1234567890abc"),
            app
        ));
        assert!(!matches_amplify_key(
            &key("AWS Amplify deploy key for app dother"),
            app
        ));
        assert!(!matches_amplify_key(&key("deploy bot"), app));
    }

    #[test]
    fn ids_round_trip_through_tags() {
        let ids = BTreeSet::from([400_000_001, 400_000_002]);
        assert_eq!(join_ids(&ids), "400000001 400000002");
        assert_eq!(parse_ids("400000001 400000002"), [400_000_001, 400_000_002]);
        assert_eq!(parse_ids("1,2"), [1, 2]);
        assert!(parse_ids("").is_empty());
    }

    #[test]
    fn repository_keys_ignore_case_and_suffixes() {
        assert_eq!(
            repository_key("https://github.com/Acme/Chat-Web.git/").as_deref(),
            Some("acme/chat-web")
        );
        assert_eq!(repository_key("https://gitlab.com/acme/chat-web"), None);
        assert_eq!(repository_key(""), None);
    }

    #[test]
    fn site_url_uses_the_default_domain() {
        let desired = static_desired();
        let app = deployed(&desired);
        assert_eq!(
            site_url(&app, "feature/x"),
            "https://feature-x.d1234567890abc.amplifyapp.com"
        );
    }
}
