//! The Amplify app, branch and build against the emulator's Amplify and GitHub fakes, read
//! back through the AWS SDK and the GitHub fake's state (never through chatctl itself).
//!
//! Per token kind, what Amplify leaves in the repository and what `down` removes:
//! - `accessToken` (the Amplify GitHub App, what chatctl sends): the region's webhook, no
//!   deploy key; a classic token with `admin:repo_hook` alone (or a fine-grained one with
//!   "Webhooks: read and write") is enough for `up` and `down`;
//! - `oauthToken` (legacy OAuth): the webhook and a read-only deploy key;
//! - `accessToken` answered over SSH (what users report for classic tokens): both, recorded.
//!
//! The region's webhook is shared by the region's Amplify apps on the repository: it stays
//! while one of them remains, whatever other regions hold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use chatctl::config::{Framework, Frontend, Platform, STACK_TAG};
use chatctl::github::Token;
use chatctl::plan::Action;
use chatctl::resources::Ctx;
use chatctl::resources::amplify::{
    self, BUILD_SPEC, GitHubAccess, HOOKS_TAG, KEYS_TAG, Observed, SPA_REWRITE_SOURCE,
    WEBSOCKET_URL_VARIABLE,
};
use serde_json::{Value, json};
use support::{Emulator, REGION, ctx};

const OWNER: &str = "acme";
const REPO: &str = "chat-web";
const REPO_URL: &str = "https://github.com/acme/chat-web";
/// What AWS's user guide asks for with the Amplify GitHub App: `admin:repo_hook` only.
const TOKEN: &str = "ghp_emulatorHookAdmin0123456789ab";
/// A classic token that also reaches deploy keys.
const FULL: &str = "ghp_emulatorFullAccess0123456789";
const READ_ONLY: &str = "ghp_emulatorReadOnly0123456789ab";
const WSS: &str = "wss://abc123defg.execute-api.eu-west-1.amazonaws.com/dev";
const OTHER_REGION: &str = "us-west-2";

struct Fixtures<'a> {
    emulator: &'a Emulator,
    http: reqwest::Client,
}

impl<'a> Fixtures<'a> {
    /// acme/chat-web with the Amplify GitHub App of the test region installed, and tokens.
    async fn standard(emulator: &'a Emulator) -> Self {
        let fixtures = Self::without_app(emulator).await;
        fixtures.install(REGION).await;
        fixtures
    }

    async fn without_app(emulator: &'a Emulator) -> Self {
        emulator
            .post("github/repos", json!({"owner": OWNER, "name": REPO}))
            .await;
        for (token, scopes) in [
            (TOKEN, json!(["admin:repo_hook"])),
            (FULL, json!(["repo", "admin:repo_hook"])),
            (READ_ONLY, json!([])),
        ] {
            emulator
                .post("github/tokens", json!({"token": token, "scopes": scopes}))
                .await;
        }
        Self {
            emulator,
            http: reqwest::Client::new(),
        }
    }

    async fn install(&self, region: &str) {
        self.emulator
            .post(
                "github/installations",
                json!({"app": format!("aws-amplify-{region}"), "owner": OWNER, "repos": [REPO]}),
            )
            .await;
    }

    fn api(&self) -> String {
        format!("{}/github", self.emulator.url)
    }

    /// (id, url) of every hook, and (id, title) of every key.
    async fn inventory(&self) -> (Vec<(u64, String)>, Vec<(u64, String)>) {
        let state = self
            .emulator
            .get(&format!("github/repos/{OWNER}/{REPO}"))
            .await;
        let hooks = state["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["id"].as_u64().unwrap(),
                    h["config"]["url"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let keys = state["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["id"].as_u64().unwrap(),
                    k["title"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (hooks, keys)
    }

    async fn hook_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.inventory().await.0.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids
    }

    async fn post(&self, path: &str, body: Value) -> u64 {
        let response = self
            .http
            .post(format!("{}/repos/{OWNER}/{REPO}/{path}", self.api()))
            .bearer_auth(FULL)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    async fn hook(&self, url: &str) -> u64 {
        self.post(
            "hooks",
            json!({"name": "web", "config": {"url": url, "content_type": "json"}}),
        )
        .await
    }

    async fn key(&self, title: &str, n: u32) -> u64 {
        self.post(
            "keys",
            json!({"title": title, "key": format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{n:040}"), "read_only": true}),
        )
        .await
    }

    async fn delete(&self, path: &str) {
        let response = self
            .http
            .delete(format!("{}/repos/{OWNER}/{REPO}/{path}", self.api()))
            .bearer_auth(FULL)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    fn access(&self, token: Option<&str>) -> GitHubAccess {
        let mut access = GitHubAccess::new(&self.api(), token.map(Token::new));
        access.wait_scale = Some(0.01);
        access
    }
}

fn amplify_client(emulator: &Emulator) -> aws_sdk_amplify::Client {
    aws_sdk_amplify::Client::new(&emulator.sdk_config())
}

fn client_in(emulator: &Emulator, region: &str) -> aws_sdk_amplify::Client {
    aws_sdk_amplify::Client::from_conf(
        amplify_client(emulator)
            .config()
            .to_builder()
            .region(aws_sdk_amplify::config::Region::new(region.to_owned()))
            .build(),
    )
}

fn frontend(framework: Framework) -> Frontend {
    Frontend {
        repository: REPO_URL.to_owned(),
        owner: OWNER.to_owned(),
        repo: REPO.to_owned(),
        branch: "main".to_owned(),
        platform: Platform::Web,
        framework,
    }
}

/// observe → desired → apply, as `up` does once the stage's URL is known.
async fn up(ctx: &Ctx, access: &GitHubAccess, frontend: &Frontend, url: &str) -> amplify::Applied {
    let observed = amplify::observe(ctx, Some(frontend)).await.unwrap();
    let desired = amplify::desired(&ctx.names, frontend, Some(url), None);
    amplify::apply(ctx, access, &observed, Some(&desired))
        .await
        .unwrap()
}

/// An `up` that must fail: its error, with the causes.
async fn failed_up(ctx: &Ctx, access: &GitHubAccess, frontend: &Frontend) -> String {
    let observed = amplify::observe(ctx, Some(frontend)).await.unwrap();
    let desired = amplify::desired(&ctx.names, frontend, Some(WSS), None);
    let err = amplify::apply(ctx, access, &observed, Some(&desired))
        .await
        .unwrap_err();
    format!("{err:#}")
}

async fn observe(ctx: &Ctx) -> Observed {
    amplify::observe(ctx, Some(&frontend(Framework::Static)))
        .await
        .unwrap()
}

async fn down(ctx: &Ctx, access: &GitHubAccess) -> amplify::Teardown {
    amplify::destroy(ctx, access, &observe(ctx).await)
        .await
        .unwrap()
}

fn is_region_hook(url: &str, region: &str) -> bool {
    url.starts_with("https://")
        && url.ends_with(&format!(".execute-api.{region}.amazonaws.com/prod/github"))
}

/// GitHub operations chatctl called since the last clear.
async fn github_calls(emulator: &Emulator) -> Vec<String> {
    emulator
        .calls()
        .await
        .into_iter()
        .filter(|c| c["service"] == "github")
        .map(|c| c["operation"].as_str().unwrap().to_owned())
        .collect()
}

/// An app made the way another tool (or an older chatctl) leaves it: tagged for the stack,
/// connected with `token_field`, with a branch, and no records.
async fn unrecorded_app(
    emulator: &Emulator,
    stack: &str,
    token_field: &str,
    token: &str,
) -> String {
    let client = amplify_client(emulator);
    let request = client
        .create_app()
        .name(stack)
        .repository(REPO_URL)
        .tags(STACK_TAG, stack);
    let request = if token_field == "oauthToken" {
        request.oauth_token(token)
    } else {
        request.access_token(token)
    };
    let app_id = request
        .send()
        .await
        .unwrap()
        .app()
        .unwrap()
        .app_id()
        .to_owned();
    client
        .create_branch()
        .app_id(&app_id)
        .branch_name("main")
        .send()
        .await
        .unwrap();
    app_id
}

#[tokio::test]
async fn up_creates_the_app_branch_and_build_and_a_second_up_writes_nothing() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let foreign_hook = gh.hook("https://ci.example.com/github").await;
    let ctx = ctx(&emulator, "chat-dev");
    let access = gh.access(Some(TOKEN));
    let site = frontend(Framework::Static);

    // The plan before anything exists (the API's URL not known yet).
    let observed = observe(&ctx).await;
    let steps = amplify::plan(
        &observed,
        Some(&amplify::desired(&ctx.names, &site, None, None)),
    );
    let actions: Vec<(&str, Action)> = steps.iter().map(|s| (s.kind, s.action)).collect();
    assert_eq!(
        actions,
        [
            (amplify::APP_KIND, Action::Create),
            (amplify::BRANCH_KIND, Action::Create),
            (amplify::JOB_KIND, Action::Create),
        ]
    );
    let rendered: Vec<String> = steps.iter().map(ToString::to_string).collect();
    assert!(!rendered.join("\n").contains(TOKEN));

    let applied = up(&ctx, &access, &site, WSS).await;
    let app_id = applied.app_id.clone().unwrap();

    // Read back through the SDK.
    let client = amplify_client(&emulator);
    let app = client.get_app().app_id(&app_id).send().await.unwrap();
    let app = app.app().unwrap();
    assert_eq!(app.name(), "chat-dev");
    assert_eq!(app.repository(), REPO_URL);
    assert_eq!(app.platform().as_str(), "WEB");
    assert_eq!(
        app.repository_clone_method().map(|m| m.as_str()),
        Some("TOKEN"),
        "accessToken connects through the Amplify GitHub App"
    );
    assert_eq!(
        app.environment_variables()
            .get(WEBSOCKET_URL_VARIABLE)
            .map(String::as_str),
        Some(WSS)
    );
    assert_eq!(app.build_spec(), Some(BUILD_SPEC));
    assert!(app.enable_branch_auto_build());
    let rules = app.custom_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].source(), SPA_REWRITE_SOURCE);
    assert_eq!(rules[0].target(), "/index.html");
    assert_eq!(rules[0].status(), Some("200"));
    let tags = app.tags().unwrap();
    assert_eq!(tags.get(STACK_TAG).map(String::as_str), Some("chat-dev"));

    // Exactly what Amplify added is recorded: the region's hook, and no deploy key.
    let (hooks, keys) = gh.inventory().await;
    let amplify_hook = hooks
        .iter()
        .find(|(_, url)| is_region_hook(url, REGION))
        .unwrap()
        .0;
    assert!(hooks.iter().any(|(id, _)| *id == foreign_hook));
    assert!(
        keys.is_empty(),
        "the GitHub App flow adds no deploy key: {keys:?}"
    );
    assert_eq!(tags.get(HOOKS_TAG), Some(&amplify_hook.to_string()));
    assert_eq!(tags.get(KEYS_TAG).map(String::as_str), Some(""));
    let recorded = applied.recorded.clone().unwrap();
    assert_eq!(recorded.hooks, [amplify_hook]);
    assert_eq!(recorded.keys, Some(Vec::new()));

    let branch = client
        .get_branch()
        .app_id(&app_id)
        .branch_name("main")
        .send()
        .await
        .unwrap();
    let branch = branch.branch().unwrap();
    assert_eq!(branch.stage().as_str(), "PRODUCTION");
    assert_eq!(branch.framework(), "Web");
    assert!(branch.enable_auto_build());
    assert_eq!(
        branch.tags().unwrap().get(STACK_TAG).map(String::as_str),
        Some("chat-dev")
    );

    let jobs = client
        .list_jobs()
        .app_id(&app_id)
        .branch_name("main")
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.job_summaries().len(), 1);
    assert_eq!(jobs.job_summaries()[0].job_type().as_str(), "RELEASE");
    let job = applied.job.clone().unwrap();
    assert_eq!(job.job_id, jobs.job_summaries()[0].job_id());
    assert_eq!(
        applied.site_url.as_deref(),
        Some(format!("https://main.{app_id}.amplifyapp.com").as_str())
    );

    // `up --wait` follows the build to its end.
    let report = amplify::wait_for_job(
        &ctx,
        &job,
        Duration::from_millis(100),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report}");
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["BUILD", "DEPLOY", "VERIFY"]
    );

    // Converged: nothing to plan, nothing written, no token needed.
    let observed = observe(&ctx).await;
    let desired = amplify::desired(&ctx.names, &site, Some(WSS), None);
    let steps = amplify::plan(&observed, Some(&desired));
    assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
    assert!(!amplify::needs_token(&observed, Some(&desired)));
    let status = amplify::status(&observed).unwrap();
    assert_eq!(status.site_url, applied.site_url);
    assert_eq!(status.last_build.as_ref().unwrap().status, "SUCCEED");
    assert_eq!(status.clone_method.as_deref(), Some("TOKEN"));
    assert!(amplify::warnings(&observed).is_empty());
    emulator.clear_calls().await;
    let again = amplify::apply(&ctx, &gh.access(None), &observed, Some(&desired))
        .await
        .unwrap();
    assert!(again.job.is_none());
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn down_removes_exactly_amplifys_hook_and_never_looks_at_deploy_keys() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let foreign_hook = gh.hook("https://ci.example.com/github").await;
    // A foreign hook on AWS too (someone's API Gateway), present before Amplify came.
    let foreign_aws_hook = gh
        .hook("https://qqqqqqqqqq.execute-api.eu-west-1.amazonaws.com/prod/deploy")
        .await;
    let foreign_key = gh.key("deploy bot", 1).await;
    let ctx = ctx(&emulator, "chat-dev");
    let access = gh.access(Some(TOKEN));
    let applied = up(&ctx, &access, &frontend(Framework::Static), WSS).await;
    let app_id = applied.app_id.unwrap();
    let recorded = applied.recorded.unwrap();

    let observed = observe(&ctx).await;
    let plan = amplify::teardown_plan(&observed);
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].action, Action::Delete);
    assert!(
        plan[0]
            .note
            .as_deref()
            .unwrap()
            .contains("1 webhook(s) and 0 deploy key(s)"),
        "{plan:?}"
    );
    emulator.clear_calls().await;
    let teardown = amplify::destroy(&ctx, &access, &observed).await.unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks, recorded.hooks);
    assert!(teardown.apps[0].deleted_keys.is_empty());
    // The records say Amplify added no key: `down` needs no deploy-key permission.
    let calls = github_calls(&emulator).await;
    assert!(
        calls.iter().all(|c| !c.contains("/keys")),
        "deploy keys were looked at: {calls:?}"
    );

    let gone = amplify_client(&emulator)
        .get_app()
        .app_id(&app_id)
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_not_found_exception());
    let mut expected = vec![foreign_hook, foreign_aws_hook];
    expected.sort_unstable();
    assert_eq!(gh.hook_ids().await, expected);
    let (_, keys) = gh.inventory().await;
    assert_eq!(
        keys.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [foreign_key]
    );

    // Nothing left: a second `down` observes no app and does nothing.
    let observed = observe(&ctx).await;
    assert!(observed.is_empty());
    let teardown = amplify::destroy(&ctx, &access, &observed).await.unwrap();
    assert!(teardown.apps.is_empty());
}

#[tokio::test]
async fn a_fine_grained_token_with_webhook_permission_is_enough() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let fine = "github_pat_emulatorWebhooksOnly0123456789";
    emulator
        .post(
            "github/tokens",
            json!({"token": fine, "permissions": {"webhooks": "write"}, "repos": ["acme/chat-web"]}),
        )
        .await;
    let ctx = ctx(&emulator, "chat-dev");
    let access = gh.access(Some(fine));
    let recorded = up(&ctx, &access, &frontend(Framework::Static), WSS)
        .await
        .recorded
        .unwrap();
    assert_eq!(recorded.hooks.len(), 1);
    assert_eq!(recorded.keys, Some(Vec::new()));
    let teardown = down(&ctx, &access).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks, recorded.hooks);
    assert!(gh.hook_ids().await.is_empty());
}

#[tokio::test]
async fn an_oauth_connected_app_loses_its_hook_and_deploy_key() {
    let emulator = Emulator::start().await;
    // The legacy OAuth flow needs no GitHub App.
    let gh = Fixtures::without_app(&emulator).await;
    let foreign_key = gh.key("deploy bot", 1).await;
    let app_id = unrecorded_app(&emulator, "chat-dev", "oauthToken", FULL).await;
    let (hooks, keys) = gh.inventory().await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        keys.len(),
        2,
        "Amplify added a read-only deploy key: {keys:?}"
    );
    let ctx = ctx(&emulator, "chat-dev");
    let observed = observe(&ctx).await;
    assert_eq!(observed.apps[0].clone_method.as_deref(), Some("SSH"));
    assert_eq!(
        amplify::warnings(&observed).len(),
        2,
        "no records of hook or key"
    );

    let teardown = down(&ctx, &gh.access(Some(FULL))).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks.len(), 1);
    assert_eq!(teardown.apps[0].deleted_keys.len(), 1);
    let (hooks, keys) = gh.inventory().await;
    assert!(hooks.is_empty());
    assert_eq!(keys, [(foreign_key, "deploy bot".to_owned())]);
    assert!(!keys.iter().any(|(_, title)| title.contains(&app_id)));
}

#[tokio::test]
async fn a_webhook_only_token_reports_the_deploy_key_it_cannot_remove() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::without_app(&emulator).await;
    unrecorded_app(&emulator, "chat-dev", "oauthToken", FULL).await;
    let ctx = ctx(&emulator, "chat-dev");
    let teardown = down(&ctx, &gh.access(Some(TOKEN))).await;
    // The hook goes; the key, which takes `repo`, is listed for the user.
    assert_eq!(teardown.apps[0].deleted_hooks.len(), 1);
    let remaining = teardown.remaining();
    assert_eq!(remaining.len(), 1, "{teardown}");
    assert_eq!(remaining[0].kind, "deploy key");
    assert!(
        remaining[0].reason.contains("`repo`"),
        "{}",
        remaining[0].reason
    );
    assert!(
        remaining[0]
            .settings_url
            .ends_with("/acme/chat-web/settings/keys")
    );
    let (hooks, keys) = gh.inventory().await;
    assert!(hooks.is_empty());
    assert_eq!(keys.len(), 1);
}

#[tokio::test]
async fn an_access_token_answered_over_ssh_records_and_removes_the_deploy_key() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    // What users report for classic tokens (amplify-hosting#4103): a deploy key after all.
    emulator
        .fault(json!({"amplify_access_token_clone": "SSH"}))
        .await;
    let ctx = ctx(&emulator, "chat-dev");
    let site = frontend(Framework::Static);

    // A webhook-only token cannot let Amplify add the key: refused before anything exists.
    let text = failed_up(&ctx, &gh.access(Some(TOKEN)), &site).await;
    assert!(text.contains("create-a-deploy-key"), "{text}");
    assert!(text.contains("Administration: read and write"), "{text}");
    assert!(observe(&ctx).await.is_empty());
    assert!(gh.inventory().await.0.is_empty());

    let applied = up(&ctx, &gh.access(Some(FULL)), &site, WSS).await;
    let recorded = applied.recorded.unwrap();
    let (hooks, keys) = gh.inventory().await;
    assert_eq!(recorded.hooks, [hooks[0].0]);
    assert_eq!(recorded.keys, Some(vec![keys[0].0]));
    let teardown = down(&ctx, &gh.access(Some(FULL))).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_keys, [keys[0].0]);
    let (hooks, keys) = gh.inventory().await;
    assert!(hooks.is_empty() && keys.is_empty());
}

#[tokio::test]
async fn a_shared_hook_survives_while_another_app_of_the_region_uses_the_repository() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    // Small pages: the stacks are found across ListApps pages.
    emulator.fault(json!({"page_size": 1})).await;
    let access = gh.access(Some(TOKEN));
    let site = frontend(Framework::Static);
    let dev = ctx(&emulator, "chat-dev");
    let prod = ctx(&emulator, "chat-prod");
    let dev_up = up(&dev, &access, &site, WSS).await;
    let prod_up = up(&prod, &access, &site, WSS).await;
    // One webhook per repository and region: the second app adds nothing.
    let dev_records = dev_up.recorded.unwrap();
    let prod_records = prod_up.recorded.unwrap();
    assert_eq!(dev_records.hooks.len(), 1);
    assert!(prod_records.hooks.is_empty());
    let shared = dev_records.hooks[0];

    let teardown = down(&dev, &access).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert!(teardown.apps[0].deleted_hooks.is_empty());
    let kept = &teardown.apps[0].kept_hooks;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].id, shared);
    let prod_id = prod_up.app_id.clone().unwrap();
    assert!(kept[0].reason.contains(&prod_id), "{}", kept[0].reason);
    assert!(teardown.to_string().contains("kept webhook"), "{teardown}");
    assert_eq!(gh.hook_ids().await, [shared]);

    // The hook was handed over to the remaining stack, which removes it last.
    let prod_app = amplify_client(&emulator)
        .get_app()
        .app_id(&prod_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        prod_app.app().unwrap().tags().unwrap().get(HOOKS_TAG),
        Some(&shared.to_string())
    );
    let teardown = down(&prod, &access).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks, [shared]);
    let (hooks, keys) = gh.inventory().await;
    assert!(hooks.is_empty(), "{hooks:?}");
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn an_app_that_added_nothing_goes_without_calling_github() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let site = frontend(Framework::Static);
    let dev = ctx(&emulator, "chat-dev");
    let prod = ctx(&emulator, "chat-prod");
    let shared = up(&dev, &gh.access(Some(TOKEN)), &site, WSS)
        .await
        .recorded
        .unwrap()
        .hooks;
    up(&prod, &gh.access(Some(TOKEN)), &site, WSS).await;
    emulator.clear_calls().await;
    // chat-prod recorded that Amplify added nothing for it: no token, no GitHub call.
    let teardown = down(&prod, &gh.access(None)).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert!(github_calls(&emulator).await.is_empty());
    assert_eq!(gh.hook_ids().await, shared);
    // chat-dev is now the region's last app on the repository: its hook goes.
    let teardown = down(&dev, &gh.access(Some(TOKEN))).await;
    assert_eq!(teardown.apps[0].deleted_hooks, shared);
    assert!(gh.hook_ids().await.is_empty());
}

#[tokio::test]
async fn an_app_in_another_region_keeps_its_own_hook_and_holds_nothing_back() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    gh.install(OTHER_REGION).await;
    // Someone's own Amplify app on the same repository, in another region, connected first.
    let west = client_in(&emulator, OTHER_REGION);
    west.create_app()
        .name("marketing-site")
        .repository(REPO_URL)
        .access_token(TOKEN)
        .send()
        .await
        .unwrap();
    let (hooks, _) = gh.inventory().await;
    assert_eq!(hooks.len(), 1);
    assert!(is_region_hook(&hooks[0].1, OTHER_REGION));
    let theirs = hooks[0].0;

    let ctx = ctx(&emulator, "chat-dev");
    let access = gh.access(Some(TOKEN));
    let recorded = up(&ctx, &access, &frontend(Framework::Static), WSS)
        .await
        .recorded
        .unwrap();
    assert_eq!(recorded.hooks.len(), 1, "this region's own webhook");
    let teardown = down(&ctx, &access).await;
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks, recorded.hooks);
    assert!(teardown.apps[0].kept_hooks.is_empty());
    assert_eq!(gh.hook_ids().await, [theirs]);
}

#[tokio::test]
async fn an_app_chatctl_does_not_manage_keeps_the_shared_hook() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let access = gh.access(Some(TOKEN));
    // Someone's own Amplify app of the same region on the same repository, connected first.
    let theirs = amplify_client(&emulator)
        .create_app()
        .name("marketing-site")
        .repository(REPO_URL)
        .access_token(TOKEN)
        .send()
        .await
        .unwrap();
    let theirs_id = theirs.app().unwrap().app_id().to_owned();
    let hooks_before = gh.inventory().await.0;
    assert_eq!(hooks_before.len(), 1);
    let ctx = ctx(&emulator, "chat-dev");
    let applied = up(&ctx, &access, &frontend(Framework::Static), WSS).await;
    assert!(applied.recorded.unwrap().hooks.is_empty());

    // Even when the records say nothing, the fallback must not take the shared hook.
    let observed = observe(&ctx).await;
    amplify_client(&emulator)
        .untag_resource()
        .resource_arn(&observed.apps[0].arn)
        .tag_keys(HOOKS_TAG)
        .tag_keys(KEYS_TAG)
        .send()
        .await
        .unwrap();
    let observed = observe(&ctx).await;
    assert_eq!(observed.apps[0].recorded_hooks(), None);
    assert_eq!(amplify::warnings(&observed).len(), 1);
    let teardown = amplify::destroy(&ctx, &access, &observed).await.unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert!(teardown.apps[0].deleted_hooks.is_empty());
    assert_eq!(teardown.apps[0].kept_hooks.len(), 1);
    let reason = &teardown.apps[0].kept_hooks[0].reason;
    assert!(
        reason.contains(&theirs_id) && reason.contains(REGION),
        "{reason}"
    );
    assert_eq!(gh.inventory().await.0, hooks_before);
}

#[tokio::test]
async fn without_records_the_fallback_matches_only_this_regions_amplify_hook() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let foreign = gh.hook("https://ci.example.com/prod/github").await;
    let lookalike = gh
        .hook("https://pppppppppp.execute-api.eu-west-1.amazonaws.com/prod/gitlab")
        .await;
    let other_region = gh
        .hook("https://wwwwwwwwww.execute-api.us-west-2.amazonaws.com/prod/github")
        .await;
    gh.key("AWS Amplify deploy key for app dsomeoneelse00", 7)
        .await;
    // An app created the way a run killed before the bookkeeping leaves it: stack tag only.
    unrecorded_app(&emulator, "chat-dev", "accessToken", TOKEN).await;
    let ctx = ctx(&emulator, "chat-dev");
    let observed = observe(&ctx).await;
    assert_eq!(observed.apps.len(), 1);
    assert!(observed.last_job.is_none());
    emulator.clear_calls().await;
    let teardown = amplify::destroy(&ctx, &gh.access(Some(TOKEN)), &observed)
        .await
        .unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks.len(), 1);
    assert!(teardown.apps[0].deleted_keys.is_empty());
    let mut expected = vec![foreign, lookalike, other_region];
    expected.sort_unstable();
    assert_eq!(gh.hook_ids().await, expected);
    // The app clones through the GitHub App: no key to look for.
    assert!(
        github_calls(&emulator)
            .await
            .iter()
            .all(|c| !c.contains("/keys"))
    );
    assert_eq!(gh.inventory().await.1.len(), 1);
}

#[tokio::test]
async fn up_without_the_amplify_github_app_fails_with_the_install_link() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::without_app(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    let site = frontend(Framework::Static);
    let text = failed_up(&ctx, &gh.access(Some(TOKEN)), &site).await;
    assert!(
        text.contains("https://github.com/apps/aws-amplify-eu-west-1/installations/new"),
        "{text}"
    );
    assert!(
        text.contains("There was an issue setting up your repository"),
        "{text}"
    );
    assert!(!text.contains(TOKEN));
    assert!(observe(&ctx).await.is_empty());
    assert!(gh.inventory().await.0.is_empty());
    // Installed, the same run goes through.
    gh.install(REGION).await;
    assert!(
        up(&ctx, &gh.access(Some(TOKEN)), &site, WSS)
            .await
            .job
            .is_some()
    );
}

#[tokio::test]
async fn a_new_websocket_url_updates_the_app_and_rebuilds() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    let site = frontend(Framework::Static);
    let first = up(&ctx, &gh.access(Some(TOKEN)), &site, WSS).await;
    let app_id = first.app_id.unwrap();
    // Someone's own variable on the app survives chatctl's update.
    amplify_client(&emulator)
        .update_app()
        .app_id(&app_id)
        .environment_variables(WEBSOCKET_URL_VARIABLE, WSS)
        .environment_variables("ANALYTICS_ID", "xyz")
        .send()
        .await
        .unwrap();

    let new_url = "wss://zzz999yyyy.execute-api.eu-west-1.amazonaws.com/dev";
    let observed = observe(&ctx).await;
    let desired = amplify::desired(&ctx.names, &site, Some(new_url), None);
    let steps = amplify::plan(&observed, Some(&desired));
    assert_eq!(steps[0].action, Action::Update);
    assert_eq!(steps[0].changes.len(), 1);
    assert_eq!(steps[0].changes[0].old, WSS);
    assert_eq!(steps[0].changes[0].new, new_url);
    assert_eq!(steps[1].action, Action::Keep);
    assert_eq!(steps[2].action, Action::Create);
    emulator.clear_calls().await;
    // No token needed for an update.
    let applied = amplify::apply(&ctx, &gh.access(None), &observed, Some(&desired))
        .await
        .unwrap();
    assert_eq!(applied.job.unwrap().job_id, "2");
    assert_eq!(
        emulator.writes().await,
        ["amplify:UpdateApp", "amplify:StartJob"]
    );
    let app = amplify_client(&emulator)
        .get_app()
        .app_id(&app_id)
        .send()
        .await
        .unwrap();
    let env = app.app().unwrap().environment_variables();
    assert_eq!(
        env.get(WEBSOCKET_URL_VARIABLE).map(String::as_str),
        Some(new_url)
    );
    assert_eq!(env.get("ANALYTICS_ID").map(String::as_str), Some("xyz"));
}

#[tokio::test]
async fn a_partial_up_is_finished_by_the_next_one_without_a_token() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    // The branch step fails once (as if the run was killed after CreateApp).
    emulator
        .fault(json!({"operation": "CreateBranch", "service": "amplify", "status": 400, "code": "BadRequestException", "count": 1}))
        .await;
    let ctx = ctx(&emulator, "chat-dev");
    let site = frontend(Framework::Static);
    let text = failed_up(&ctx, &gh.access(Some(TOKEN)), &site).await;
    assert!(text.contains("creating branch main"), "{text}");
    emulator.clear_faults().await;
    let desired = amplify::desired(&ctx.names, &site, Some(WSS), None);

    // Amplify set the repository up with the app, and chatctl recorded it right then.
    let observed = observe(&ctx).await;
    assert_eq!(observed.apps.len(), 1);
    assert!(observed.branch.is_none());
    assert_eq!(observed.apps[0].recorded_hooks().unwrap().len(), 1);
    let steps = amplify::plan(&observed, Some(&desired));
    assert_eq!(steps[1].action, Action::Create);
    assert!(!amplify::needs_token(&observed, Some(&desired)));
    emulator.clear_calls().await;
    let applied = amplify::apply(&ctx, &gh.access(None), &observed, Some(&desired))
        .await
        .unwrap();
    assert!(applied.job.is_some());
    assert_eq!(
        emulator.writes().await,
        ["amplify:CreateBranch", "amplify:StartJob"]
    );
    let observed = observe(&ctx).await;
    assert!(
        amplify::plan(&observed, Some(&desired))
            .iter()
            .all(|s| !s.is_change())
    );
}

#[tokio::test]
async fn down_without_a_token_deletes_the_app_and_lists_what_remains() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    let recorded = up(
        &ctx,
        &gh.access(Some(TOKEN)),
        &frontend(Framework::Static),
        WSS,
    )
    .await
    .recorded
    .unwrap();
    // Without a token GitHub is never called, so the default API URL is safe to name.
    let teardown = down(&ctx, &GitHubAccess::new("https://api.github.com", None)).await;
    assert!(!teardown.is_clean());
    let remaining = teardown.remaining();
    assert_eq!(remaining.len(), 1, "the hook; no deploy key was added");
    let hook = recorded.hooks[0];
    assert_eq!(remaining[0].kind, "webhook");
    assert_eq!(remaining[0].id, Some(hook));
    assert_eq!(
        remaining[0].delete_command.as_deref(),
        Some(format!("gh api -X DELETE repos/acme/chat-web/hooks/{hook}").as_str())
    );
    assert!(
        remaining[0]
            .settings_url
            .ends_with("/acme/chat-web/settings/hooks")
    );
    let report = teardown.remaining_report().unwrap();
    assert!(report.contains("GITHUB_TOKEN is not set"), "{report}");
    // The AWS side is gone; GitHub still has the hook.
    assert!(observe(&ctx).await.is_empty());
    assert_eq!(gh.hook_ids().await, [hook]);
}

#[tokio::test]
async fn a_read_only_token_deletes_the_app_and_reports_the_refusal() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    up(
        &ctx,
        &gh.access(Some(TOKEN)),
        &frontend(Framework::Static),
        WSS,
    )
    .await;
    let teardown = down(&ctx, &gh.access(Some(READ_ONLY))).await;
    let remaining = teardown.remaining();
    assert_eq!(remaining.len(), 1);
    assert!(
        remaining[0].reason.contains("admin:repo_hook"),
        "{}",
        remaining[0].reason
    );
    let report = teardown.remaining_report().unwrap();
    assert!(!report.contains(READ_ONLY));
    assert!(!format!("{teardown:?}").contains(READ_ONLY));
    assert!(observe(&ctx).await.is_empty());
}

#[tokio::test]
async fn already_deleted_hooks_and_keys_count_as_success() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    emulator
        .fault(json!({"amplify_access_token_clone": "SSH"}))
        .await;
    let ctx = ctx(&emulator, "chat-dev");
    let recorded = up(
        &ctx,
        &gh.access(Some(FULL)),
        &frontend(Framework::Static),
        WSS,
    )
    .await
    .recorded
    .unwrap();
    let key = recorded.keys.unwrap()[0];
    gh.delete(&format!("hooks/{}", recorded.hooks[0])).await;
    gh.delete(&format!("keys/{key}")).await;
    let teardown = down(&ctx, &gh.access(Some(FULL))).await;
    assert!(teardown.is_clean(), "{teardown}");
    let mut gone = teardown.apps[0].already_gone.clone();
    gone.sort_unstable();
    let mut expected = vec![recorded.hooks[0], key];
    expected.sort_unstable();
    assert_eq!(gone, expected);
}

#[tokio::test]
async fn up_without_a_token_fails_clearly_before_any_write() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    let site = frontend(Framework::Static);
    let observed = observe(&ctx).await;
    let desired = amplify::desired(&ctx.names, &site, Some(WSS), None);
    assert!(amplify::needs_token(&observed, Some(&desired)));
    emulator.clear_calls().await;
    let text = failed_up(&ctx, &gh.access(None), &site).await;
    assert!(text.starts_with("GITHUB_TOKEN is not set"), "{text}");
    assert!(text.contains("acme/chat-web"), "{text}");
    assert!(text.contains("`admin:repo_hook`"), "{text}");
    assert!(text.contains("aws-amplify-eu-west-1"), "{text}");
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    // A token that cannot list webhooks is refused by GitHub before anything is created.
    let text = failed_up(&ctx, &gh.access(Some(READ_ONLY)), &site).await;
    assert!(
        text.contains("403") && text.contains("admin:repo_hook"),
        "{text}"
    );
    assert!(!text.contains(READ_ONLY));
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn removing_the_frontend_section_removes_the_app() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    let access = gh.access(Some(TOKEN));
    up(&ctx, &access, &frontend(Framework::Static), WSS).await;
    // `[frontend]` gone from the file: observed without it, planned and applied as removal.
    let observed = amplify::observe(&ctx, None).await.unwrap();
    assert_eq!(observed.apps.len(), 1);
    let steps = amplify::plan(&observed, None);
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].action, Action::Delete);
    let applied = amplify::apply(&ctx, &access, &observed, None)
        .await
        .unwrap();
    assert!(applied.removed.is_clean());
    assert_eq!(applied.removed.apps.len(), 1);
    assert!(observe(&ctx).await.is_empty());
    let (hooks, keys) = gh.inventory().await;
    assert!(hooks.is_empty() && keys.is_empty());
}

#[tokio::test]
async fn nextjs_gets_its_framework_and_rewrites_and_a_failed_build_is_reported() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    emulator
        .fault(json!({"amplify_job_status": "FAILED", "amplify_job_s": 0.3}))
        .await;
    let ctx = ctx(&emulator, "chat-dev");
    let applied = up(
        &ctx,
        &gh.access(Some(TOKEN)),
        &frontend(Framework::Nextjs),
        WSS,
    )
    .await;
    let app_id = applied.app_id.clone().unwrap();
    let client = amplify_client(&emulator);
    let app = client.get_app().app_id(&app_id).send().await.unwrap();
    let app = app.app().unwrap();
    // A Next.js app keeps its own build spec.
    assert_eq!(app.build_spec(), None);
    assert_eq!(app.custom_rules()[0].source(), "/chat/<peer>");
    assert_eq!(app.custom_rules()[0].target(), "/chat/[peer].html");
    let branch = client
        .get_branch()
        .app_id(&app_id)
        .branch_name("main")
        .send()
        .await
        .unwrap();
    assert_eq!(branch.branch().unwrap().framework(), "Next.js - SSG");

    let report = amplify::wait_for_job(
        &ctx,
        applied.job.as_ref().unwrap(),
        Duration::from_millis(100),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert!(!report.succeeded());
    let err = report.into_result().unwrap_err().to_string();
    assert!(err.contains("FAILED"), "{err}");
    assert!(err.contains("step VERIFY: FAILED"), "{err}");
    assert!(err.contains("log: https://"), "{err}");
    let observed = amplify::observe(&ctx, Some(&frontend(Framework::Nextjs)))
        .await
        .unwrap();
    let warnings = amplify::warnings(&observed);
    assert!(warnings[0].contains("failed"), "{warnings:?}");
}

#[tokio::test]
async fn a_bad_token_on_down_never_advises_deleting_a_shared_hook() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let access = gh.access(Some(TOKEN));
    let site = frontend(Framework::Static);
    let dev = ctx(&emulator, "chat-dev");
    let prod = ctx(&emulator, "chat-prod");
    let dev_records = up(&dev, &access, &site, WSS).await.recorded.unwrap();
    up(&prod, &access, &site, WSS).await;
    let teardown = down(&dev, &gh.access(Some("ghp_expiredToken000000000000000000"))).await;
    // Nothing is left to delete by hand: the hook serves chat-prod, and no key was added.
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].kept_hooks[0].id, dev_records.hooks[0]);
    assert!(observe(&dev).await.is_empty());
    assert_eq!(gh.hook_ids().await, dev_records.hooks);
}

fn pool_sign_in(client_id: &str) -> amplify::FrontendAuth {
    amplify::FrontendAuth::cognito(
        REGION,
        "eu-west-1_Pr0bePool",
        "chat-dev-a1b2",
        client_id,
        "cognito:username",
    )
}

/// The app's environment, read back through the SDK.
async fn app_environment(
    emulator: &Emulator,
    app_id: &str,
) -> std::collections::BTreeMap<String, String> {
    amplify_client(emulator)
        .get_app()
        .app_id(app_id)
        .send()
        .await
        .unwrap()
        .app()
        .unwrap()
        .environment_variables()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// observe → desired (with `auth`) → plan → apply.
async fn up_signing_in(
    ctx: &Ctx,
    access: &GitHubAccess,
    site: &Frontend,
    auth: Option<&amplify::FrontendAuth>,
) -> (Vec<chatctl::plan::Step>, amplify::Applied) {
    let observed = amplify::observe(ctx, Some(site)).await.unwrap();
    let desired = amplify::desired(&ctx.names, site, Some(WSS), auth);
    let steps = amplify::plan(&observed, Some(&desired));
    let applied = amplify::apply(ctx, access, &observed, Some(&desired))
        .await
        .unwrap();
    (steps, applied)
}

#[tokio::test]
async fn the_sign_in_settings_reach_the_app_and_rebuild_the_site_when_they_change() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let ctx = ctx(&emulator, "chat-dev");
    let site = frontend(Framework::Static);
    let auth = pool_sign_in("1example23456789");

    // Created signing in: CreateApp carries every variable the build spec reads.
    let (_, first) = up_signing_in(&ctx, &gh.access(Some(TOKEN)), &site, Some(&auth)).await;
    let app_id = first.app_id.unwrap();
    assert_eq!(first.job.unwrap().job_id, "1");
    let env = app_environment(&emulator, &app_id).await;
    let expected: std::collections::BTreeMap<String, String> = auth
        .variables()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain([(WEBSOCKET_URL_VARIABLE.to_owned(), WSS.to_owned())])
        .collect();
    assert_eq!(env, expected);
    assert_eq!(
        env["CHAT_AUTH_AUTHORIZE_URL"],
        "https://chat-dev-a1b2.auth.eu-west-1.amazoncognito.com/oauth2/authorize"
    );
    assert_eq!(
        env["CHAT_AUTH_ISSUER"],
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pr0bePool"
    );

    // Nothing changed: no write.
    emulator.clear_calls().await;
    let (steps, again) = up_signing_in(&ctx, &gh.access(None), &site, Some(&auth)).await;
    assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
    assert!(again.job.is_none());
    assert!(emulator.writes().await.is_empty());

    // Someone's own variable, then a new app client: one variable changes, the site rebuilds.
    amplify_client(&emulator)
        .update_app()
        .app_id(&app_id)
        .set_environment_variables(Some(
            env.clone()
                .into_iter()
                .chain([("ANALYTICS_ID".to_owned(), "xyz".to_owned())])
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    let renewed = pool_sign_in("9newclient87654321");
    emulator.clear_calls().await;
    let (steps, applied) = up_signing_in(&ctx, &gh.access(None), &site, Some(&renewed)).await;
    let fields: Vec<&str> = steps[0].changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["environment.CHAT_AUTH_CLIENT_ID"]);
    assert_eq!(applied.job.unwrap().job_id, "2");
    assert_eq!(
        emulator.writes().await,
        ["amplify:UpdateApp", "amplify:StartJob"]
    );
    let env = app_environment(&emulator, &app_id).await;
    assert_eq!(env["CHAT_AUTH_CLIENT_ID"], "9newclient87654321");
    assert_eq!(env["ANALYTICS_ID"], "xyz");

    // Signing in turned off: chatctl's sign-in variables leave, the user's stays, and the
    // site is built again with the name form.
    emulator.clear_calls().await;
    let (_, applied) = up_signing_in(&ctx, &gh.access(None), &site, None).await;
    assert_eq!(applied.job.unwrap().job_id, "3");
    let env = app_environment(&emulator, &app_id).await;
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(names, ["ANALYTICS_ID", WEBSOCKET_URL_VARIABLE]);
    let (steps, applied) = up_signing_in(&ctx, &gh.access(None), &site, None).await;
    assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
    assert!(applied.job.is_none());
}
