//! The Amplify app: the one tagged `chatctl:stack={stack}` (found through ListApps, whose apps
//! carry their tags); more than one is a duplicate left by an interrupted run.
//!
//! The GitHub token reaches Amplify only as CreateApp `accessToken`, which AWS does not store
//! ("The token is not stored"), so it cannot be read back or diffed; it is never part of a
//! plan, a message or a log line.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{Context, Result, bail};
use aws_sdk_amplify::types::{CustomRule, Platform as SdkPlatform};
use serde::Serialize;

use super::environment::{self, WEBSOCKET_URL_VARIABLE};
use super::{Desired, missing_token_message};
use crate::config::{Framework, Frontend, Platform, STACK_TAG};
use crate::github::{self, Token};
use crate::plan::{Action, FieldChange, Step};
use crate::resources::{Ctx, absent_if, aws_error, collect_pages};

pub const KIND: &str = "amplify app";
/// Amplify apps list at most 50 per page.
const LIST_PAGE: i32 = 50;
/// AWS's documented rewrite for single-page apps ("Redirects for single page web apps"):
/// every path without a file extension (and every extension not in the list) is served
/// `/index.html` with status 200, so `/chat/bob` deep links and reloads work, while a real
/// asset that is missing (`/app.jss`) still answers 404. The simpler `/<*>` → `/index.html`
/// `404-200` rule would answer a mistyped asset with the HTML page and a 200.
pub const SPA_REWRITE_SOURCE: &str =
    "</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|woff2|ttf|map|json|webp)$)([^.]+$)/>";
/// The reference frontend's build: writes `config.js` from [`WEBSOCKET_URL_VARIABLE`] and
/// the sign-in variables ([`environment::AUTH_VARIABLES`]).
pub const BUILD_SPEC: &str = include_str!("../../../templates/amplify/buildspec.yml");

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
    /// How Amplify clones the repository: `TOKEN` (the Amplify GitHub App, no deploy key)
    /// or `SSH` (a read-only deploy key). `None` when AWS does not say.
    pub clone_method: Option<String>,
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
            clone_method: app.repository_clone_method().map(|m| m.as_str().to_owned()),
            tags: app
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            created: app.create_time().secs(),
            region: region.to_owned(),
        }
    }

    pub fn stack(&self) -> Option<&str> {
        self.tags.get(STACK_TAG).map(String::as_str)
    }

    /// `owner/name` of a GitHub repository URL, lower-cased for comparisons.
    pub fn repository_key(&self) -> Option<String> {
        repository_key(&self.repository)
    }

    /// Whether Amplify reads the repository through the Amplify GitHub App, which needs no
    /// deploy key (the API reference's `repositoryCloneMethod`: "Amplify specifies TOKEN for
    /// a GitHub repository").
    pub fn clones_through_github_app(&self) -> bool {
        self.clone_method.as_deref() == Some("TOKEN")
    }

    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// Another Amplify app of the region (for the shared-webhook rule).
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
    pub fn of(app: &App) -> Self {
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

/// Every Amplify app of the region.
pub async fn list(ctx: &Ctx) -> Result<Vec<App>> {
    let region = ctx.aws.region.as_str();
    collect_pages(|token| async move {
        let page = ctx
            .aws
            .amplify
            .list_apps()
            .max_results(LIST_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing Amplify apps in {region}"), &e))?;
        let apps = page
            .apps()
            .iter()
            .map(|a| App::from_sdk(a, region))
            .collect();
        Ok((apps, page.next_token().map(str::to_owned)))
    })
    .await
}

/// The stack's apps, oldest first (id as tie-breaker, so concurrent observers agree on the
/// primary).
pub async fn observe(ctx: &Ctx) -> Result<Vec<App>> {
    let mut ours: Vec<App> = list(ctx)
        .await?
        .into_iter()
        .filter(|a| a.stack() == Some(ctx.names.stack.as_str()))
        .collect();
    ours.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(ours)
}

/// `https://github.com/Owner/Repo(.git)` → `owner/repo`, for comparisons.
pub fn repository_key(url: &str) -> Option<String> {
    let (owner, repo) = owner_and_repo(url)?;
    Some(format!("{owner}/{repo}").to_ascii_lowercase())
}

/// `owner` and `repo` as written in a GitHub repository URL.
pub fn owner_and_repo(url: &str) -> Option<(String, String)> {
    let rest = url
        .trim()
        .strip_prefix("https://github.com/")
        .or_else(|| url.trim().strip_prefix("https://www.github.com/"))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, repo) = rest.split_once('/')?;
    if owner.is_empty() || repo.is_empty() || repo.contains('/') {
        return None;
    }
    Some((owner.to_owned(), repo.to_owned()))
}

/// Whether `app` is connected to another repository than the configuration's: the app is
/// replaced (Amplify apps change repository only by reconnecting, which chatctl does as a
/// fresh app so that what Amplify adds to the new repository is recorded).
pub fn repository_changed(app: &App, desired: &Desired) -> bool {
    repository_key(&app.repository) != repository_key(&desired.repository)
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
pub fn changes(app: &App, desired: &Desired) -> Vec<FieldChange> {
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
    for (name, deployed, wanted) in
        environment::auth_differences(&app.environment, desired.auth.as_ref())
    {
        changes.push(FieldChange::new(
            format!("environment.{name}"),
            show(deployed),
            show(wanted.as_deref()),
        ));
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

/// The app's step: create, replace (another repository), update or keep.
pub fn plan(app: Option<&App>, desired: &Desired) -> Step {
    match app {
        None => Step::new(KIND, desired.name.clone(), Action::Create)
            .with_note(format!("connected to {}", desired.repository)),
        Some(app) if repository_changed(app, desired) => {
            let mut step =
                Step::new(KIND, desired.name.clone(), Action::Replace).with_note(format!(
                    "the repository changed; what Amplify added to {} for the old app is removed",
                    app.repository
                ));
            step.changes.push(FieldChange::new(
                "repository",
                &app.repository,
                &desired.repository,
            ));
            step
        }
        Some(app) => Step::update_or_keep(KIND, desired.name.clone(), changes(app, desired)),
    }
}

/// The steps that delete apps (duplicates, or every app when `[frontend]` is gone).
pub fn removal(apps: &[App], note: &str) -> Vec<Step> {
    apps.iter()
        .map(|app| Step::new(KIND, app.label(), Action::Delete).with_note(note))
        .collect()
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

/// What a refused repository setup takes, for the error message: AWS answers every
/// refusal with the same sentence (and GitHub's answer after it).
pub fn setup_advice(desired: &Desired, region: &str) -> String {
    format!(
        "Amplify could not set up {}/{}. It needs {} (and, where Amplify adds a deploy key, {}); the token's user must be an admin of the repository, and GitHub allows at most 20 webhooks per repository",
        desired.owner,
        desired.repo,
        github::connect_requirements(region),
        github::DEPLOY_KEY_PERMISSIONS,
    )
}

/// Creates the app connected to the repository with `accessToken`: Amplify authorizes the
/// Amplify GitHub App with it and installs the region's webhook (AWS's API reference and
/// user guide; the decision is in docs/decisions.md).
pub async fn create(
    ctx: &Ctx,
    desired: &Desired,
    websocket_url: &str,
    token: Option<&Token>,
) -> Result<App> {
    let Some(token) = token else {
        bail!("{}", missing_token_message(desired, &ctx.aws.region));
    };
    let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
    let environment = environment::merged([], websocket_url, desired.auth.as_ref());
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
                err = err.context(setup_advice(desired, &ctx.aws.region));
            }
            err
        })?;
    let app = out
        .app()
        .ok_or_else(|| anyhow::anyhow!("CreateApp answered without an app"))?;
    Ok(App::from_sdk(app, &ctx.aws.region))
}

/// Updates the app's fields; needs no token (the repository connection is left alone).
pub async fn update(ctx: &Ctx, app: &App, desired: &Desired, websocket_url: &str) -> Result<App> {
    // Maps are replaced whole: keep variables someone else added to the app; chatctl's own
    // sign-in variables are set anew (and dropped when signing in is off).
    let environment = environment::merged(
        app.environment.clone(),
        websocket_url,
        desired.auth.as_ref(),
    );
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

/// Deletes the app with its branches. Amplify leaves its webhook and deploy key on GitHub;
/// [`super::teardown`] removes them.
pub async fn delete(ctx: &Ctx, app: &App) -> Result<()> {
    absent_if(
        ctx.aws.amplify.delete_app().app_id(&app.id).send().await,
        |e| e.is_not_found_exception(),
    )
    .map_err(|e| aws_error(&format!("deleting Amplify app {}", app.id), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_keys_ignore_case_and_suffixes() {
        assert_eq!(
            repository_key("https://github.com/Acme/Chat-Web.git/").as_deref(),
            Some("acme/chat-web")
        );
        assert_eq!(
            owner_and_repo("https://www.github.com/Acme/Chat-Web"),
            Some(("Acme".to_owned(), "Chat-Web".to_owned()))
        );
        assert_eq!(repository_key("https://gitlab.com/acme/chat-web"), None);
        assert_eq!(
            repository_key("https://github.com/acme/chat-web/tree"),
            None
        );
        assert_eq!(repository_key(""), None);
    }
}
