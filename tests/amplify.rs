//! The Amplify app, branch and build against the emulator's Amplify and GitHub fakes, read
//! back through the AWS SDK and the GitHub fake's state (never through chatctl itself):
//! the fields of what `up` creates, a no-op second apply, and `down` removing exactly the
//! webhook and deploy key Amplify added — sparing foreign hooks and a hook another Amplify
//! app still uses, with or without records, with or without a token.
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
use support::{Emulator, ctx};

const OWNER: &str = "acme";
const REPO: &str = "chat-web";
const TOKEN: &str = "ghp_emulatorFullAccess0123456789";
const READ_ONLY: &str = "ghp_emulatorReadOnly0123456789ab";
const WSS: &str = "wss://abc123defg.execute-api.eu-west-1.amazonaws.com/dev";

struct Fixtures {
    http: reqwest::Client,
    url: String,
}

impl Fixtures {
    async fn standard(emulator: &Emulator) -> Self {
        let fixtures = Self {
            http: reqwest::Client::new(),
            url: emulator.url.clone(),
        };
        fixtures
            .control("repos", json!({"owner": OWNER, "name": REPO}))
            .await;
        fixtures
            .control(
                "tokens",
                json!({"token": TOKEN, "scopes": ["repo", "admin:repo_hook"]}),
            )
            .await;
        fixtures
            .control("tokens", json!({"token": READ_ONLY, "scopes": []}))
            .await;
        fixtures
    }

    async fn control(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/_emulator/github/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    fn api(&self) -> String {
        format!("{}/github", self.url)
    }

    async fn state(&self) -> Value {
        self.http
            .get(format!(
                "{}/_emulator/github/repos/{OWNER}/{REPO}",
                self.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// (id, url) of every hook, and (id, title) of every key.
    async fn inventory(&self) -> (Vec<(u64, String)>, Vec<(u64, String)>) {
        let state = self.state().await;
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

    async fn post(&self, path: &str, body: Value) -> u64 {
        let response = self
            .http
            .post(format!("{}/repos/{OWNER}/{REPO}/{path}", self.api()))
            .bearer_auth(TOKEN)
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
            .bearer_auth(TOKEN)
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

fn frontend(framework: Framework) -> Frontend {
    Frontend {
        repository: format!("https://github.com/{OWNER}/{REPO}"),
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
    let desired = amplify::desired(&ctx.names, frontend, Some(url));
    amplify::apply(ctx, access, &observed, Some(&desired))
        .await
        .unwrap()
}

async fn observe(ctx: &Ctx) -> Observed {
    amplify::observe(ctx, Some(&frontend(Framework::Static)))
        .await
        .unwrap()
}

fn is_amplify_hook(url: &str) -> bool {
    url.starts_with("https://") && url.ends_with(".amazonaws.com/prod/github")
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
    let steps = amplify::plan(&observed, Some(&amplify::desired(&ctx.names, &site, None)));
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
    let rendered = rendered.join("\n");
    assert!(!rendered.contains(TOKEN));

    let applied = up(&ctx, &access, &site, WSS).await;
    let app_id = applied.app_id.clone().unwrap();

    // Read back through the SDK.
    let client = amplify_client(&emulator);
    let app = client.get_app().app_id(&app_id).send().await.unwrap();
    let app = app.app().unwrap();
    assert_eq!(app.name(), "chat-dev");
    assert_eq!(app.repository(), "https://github.com/acme/chat-web");
    assert_eq!(app.platform().as_str(), "WEB");
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

    // Exactly what Amplify added is recorded: its hook and its key, not the foreign hook.
    let (hooks, keys) = gh.inventory().await;
    let amplify_hook = hooks
        .iter()
        .find(|(_, url)| is_amplify_hook(url))
        .unwrap()
        .0;
    assert!(hooks.iter().any(|(id, _)| *id == foreign_hook));
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].1,
        format!("AWS Amplify deploy key for app {app_id}")
    );
    assert_eq!(tags.get(HOOKS_TAG), Some(&amplify_hook.to_string()));
    assert_eq!(tags.get(KEYS_TAG), Some(&keys[0].0.to_string()));
    let recorded = applied.recorded.clone().unwrap();
    assert_eq!(recorded.hooks, [amplify_hook]);
    assert_eq!(recorded.keys, [keys[0].0]);

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
    let desired = amplify::desired(&ctx.names, &site, Some(WSS));
    let steps = amplify::plan(&observed, Some(&desired));
    assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
    assert!(!amplify::needs_token(&observed, Some(&desired)));
    let status = amplify::status(&observed).unwrap();
    assert_eq!(status.site_url, applied.site_url);
    assert_eq!(status.last_build.as_ref().unwrap().status, "SUCCEED");
    assert!(amplify::warnings(&observed).is_empty());
    emulator.clear_calls().await;
    let again = amplify::apply(&ctx, &gh.access(None), &observed, Some(&desired))
        .await
        .unwrap();
    assert!(again.job.is_none());
    assert_eq!(emulator.writes().await, Vec::<String>::new());
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
    let desired = amplify::desired(&ctx.names, &site, Some(new_url));
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
async fn down_removes_exactly_amplifys_hook_and_key() {
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
    let teardown = amplify::destroy(&ctx, &access, &observed).await.unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks, recorded.hooks);
    assert_eq!(teardown.apps[0].deleted_keys, recorded.keys);

    let gone = amplify_client(&emulator)
        .get_app()
        .app_id(&app_id)
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_not_found_exception());
    let (hooks, keys) = gh.inventory().await;
    let mut hook_ids: Vec<u64> = hooks.iter().map(|(id, _)| *id).collect();
    hook_ids.sort_unstable();
    assert_eq!(hook_ids, [foreign_hook, foreign_aws_hook]);
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
async fn a_shared_hook_survives_while_another_app_uses_the_repository() {
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
    // One unified hook per repository: the second app adds only its key.
    let dev_records = dev_up.recorded.unwrap();
    let prod_records = prod_up.recorded.unwrap();
    assert_eq!(dev_records.hooks.len(), 1);
    assert!(prod_records.hooks.is_empty());
    assert_eq!(prod_records.keys.len(), 1);
    let shared = dev_records.hooks[0];

    let teardown = amplify::destroy(&dev, &access, &observe(&dev).await)
        .await
        .unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert!(teardown.apps[0].deleted_hooks.is_empty());
    assert_eq!(teardown.apps[0].deleted_keys, dev_records.keys);
    let kept = &teardown.apps[0].kept_hooks;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].id, shared);
    let prod_id = prod_up.app_id.clone().unwrap();
    assert!(kept[0].reason.contains(&prod_id), "{}", kept[0].reason);
    assert!(teardown.to_string().contains("kept webhook"), "{teardown}");
    let (hooks, keys) = gh.inventory().await;
    assert_eq!(
        hooks.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [shared]
    );
    assert_eq!(
        keys.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        prod_records.keys
    );

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
    let teardown = amplify::destroy(&prod, &access, &observe(&prod).await)
        .await
        .unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks, [shared]);
    let (hooks, keys) = gh.inventory().await;
    assert!(hooks.is_empty(), "{hooks:?}");
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn an_app_chatctl_does_not_manage_keeps_the_shared_hook() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let access = gh.access(Some(TOKEN));
    let client = amplify_client(&emulator);
    // Someone's own Amplify app on the same repository, in another region, connected first.
    let elsewhere = aws_sdk_amplify::Client::from_conf(
        client
            .config()
            .to_builder()
            .region(aws_sdk_amplify::config::Region::new("us-west-2"))
            .build(),
    );
    let theirs = elsewhere
        .create_app()
        .name("marketing-site")
        .repository("https://github.com/acme/chat-web")
        .access_token(TOKEN)
        .send()
        .await
        .unwrap();
    let theirs_id = theirs.app().unwrap().app_id().to_owned();
    elsewhere
        .create_branch()
        .app_id(&theirs_id)
        .branch_name("main")
        .send()
        .await
        .unwrap();
    let (hooks_before, _) = gh.inventory().await;
    assert_eq!(hooks_before.len(), 1);
    let ctx = ctx(&emulator, "chat-dev");
    let applied = up(&ctx, &access, &frontend(Framework::Static), WSS).await;
    assert!(applied.recorded.unwrap().hooks.is_empty());

    // Even when the records say nothing, the fallback must not take the shared hook.
    let observed = observe(&ctx).await;
    let app_id = observed.apps[0].id.clone();
    client
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
    assert!(teardown.apps[0].kept_hooks[0].reason.contains("us-west-2"));
    let (hooks, keys) = gh.inventory().await;
    assert_eq!(hooks, hooks_before);
    // Our key went (found by its title); theirs stayed.
    assert_eq!(keys.len(), 1);
    assert!(keys[0].1.ends_with(&theirs_id));
    assert!(!keys[0].1.ends_with(&app_id));
}

#[tokio::test]
async fn without_records_the_fallback_matches_only_amplifys_hook_and_this_apps_key() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let foreign = gh.hook("https://ci.example.com/prod/github").await;
    let lookalike = gh
        .hook("https://pppppppppp.execute-api.eu-west-1.amazonaws.com/prod/gitlab")
        .await;
    let other_key = gh
        .key("AWS Amplify deploy key for app dsomeoneelse00", 7)
        .await;
    // An app created the way a run killed before the bookkeeping leaves it: stack tag only.
    let client = amplify_client(&emulator);
    let created = client
        .create_app()
        .name("chat-dev")
        .repository("https://github.com/acme/chat-web")
        .access_token(TOKEN)
        .tags(STACK_TAG, "chat-dev")
        .send()
        .await
        .unwrap();
    let app_id = created.app().unwrap().app_id().to_owned();
    client
        .create_branch()
        .app_id(&app_id)
        .branch_name("main")
        .send()
        .await
        .unwrap();
    let ctx = ctx(&emulator, "chat-dev");
    let observed = observe(&ctx).await;
    assert_eq!(observed.apps.len(), 1);
    assert!(observed.last_job.is_none());
    let teardown = amplify::destroy(&ctx, &gh.access(Some(TOKEN)), &observed)
        .await
        .unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    assert_eq!(teardown.apps[0].deleted_hooks.len(), 1);
    assert_eq!(teardown.apps[0].deleted_keys.len(), 1);
    let (hooks, keys) = gh.inventory().await;
    let mut ids: Vec<u64> = hooks.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [foreign, lookalike]);
    assert_eq!(
        keys.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [other_key]
    );
}

#[tokio::test]
async fn a_partial_up_is_finished_by_the_next_one() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    // The branch step fails once (as if the run was killed after CreateApp).
    emulator
        .fault(json!({"operation": "CreateBranch", "service": "amplify", "status": 400, "code": "BadRequestException", "count": 1}))
        .await;
    let ctx = ctx(&emulator, "chat-dev");
    let access = gh.access(Some(TOKEN));
    let site = frontend(Framework::Static);
    let observed = observe(&ctx).await;
    let desired = amplify::desired(&ctx.names, &site, Some(WSS));
    let err = amplify::apply(&ctx, &access, &observed, Some(&desired))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("creating branch main"),
        "{err:#}"
    );
    emulator.clear_faults().await;

    let observed = observe(&ctx).await;
    assert_eq!(observed.apps.len(), 1);
    assert!(observed.branch.is_none());
    let steps = amplify::plan(&observed, Some(&desired));
    assert_eq!(steps[1].action, Action::Create);
    assert!(amplify::needs_token(&observed, Some(&desired)));
    let applied = amplify::apply(&ctx, &access, &observed, Some(&desired))
        .await
        .unwrap();
    assert!(applied.job.is_some());
    let recorded = applied.recorded.unwrap();
    assert_eq!(recorded.hooks.len(), 1);
    assert_eq!(recorded.keys.len(), 1);
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
    let applied = up(
        &ctx,
        &gh.access(Some(TOKEN)),
        &frontend(Framework::Static),
        WSS,
    )
    .await;
    let recorded = applied.recorded.unwrap();
    let observed = observe(&ctx).await;
    // Without a token GitHub is never called, so the default API URL is safe to name.
    let teardown = amplify::destroy(
        &ctx,
        &GitHubAccess::new("https://api.github.com", None),
        &observed,
    )
    .await
    .unwrap();
    assert!(!teardown.is_clean());
    let remaining = teardown.remaining();
    assert_eq!(remaining.len(), 2);
    let hook = recorded.hooks[0];
    let key = recorded.keys[0];
    assert_eq!(remaining[0].kind, "webhook");
    assert_eq!(remaining[0].id, Some(hook));
    assert_eq!(
        remaining[0].delete_command.as_deref(),
        Some(format!("gh api -X DELETE repos/acme/chat-web/hooks/{hook}").as_str())
    );
    assert_eq!(remaining[1].kind, "deploy key");
    assert_eq!(
        remaining[1].delete_command.as_deref(),
        Some(format!("gh api -X DELETE repos/acme/chat-web/keys/{key}").as_str())
    );
    assert!(
        remaining[1]
            .settings_url
            .ends_with("/acme/chat-web/settings/keys")
    );
    let report = teardown.remaining_report().unwrap();
    assert!(report.contains("GITHUB_TOKEN is not set"), "{report}");
    // The AWS side is gone; GitHub still has both.
    assert!(observe(&ctx).await.is_empty());
    let (hooks, keys) = gh.inventory().await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(keys.len(), 1);
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
    let observed = observe(&ctx).await;
    let teardown = amplify::destroy(&ctx, &gh.access(Some(READ_ONLY)), &observed)
        .await
        .unwrap();
    let remaining = teardown.remaining();
    assert_eq!(remaining.len(), 2);
    assert!(
        remaining[0].reason.contains("admin:repo_hook"),
        "{}",
        remaining[0].reason
    );
    assert!(
        remaining[1]
            .reason
            .contains("Administration: read and write")
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
    let ctx = ctx(&emulator, "chat-dev");
    let applied = up(
        &ctx,
        &gh.access(Some(TOKEN)),
        &frontend(Framework::Static),
        WSS,
    )
    .await;
    let recorded = applied.recorded.unwrap();
    gh.delete(&format!("hooks/{}", recorded.hooks[0])).await;
    gh.delete(&format!("keys/{}", recorded.keys[0])).await;
    let teardown = amplify::destroy(&ctx, &gh.access(Some(TOKEN)), &observe(&ctx).await)
        .await
        .unwrap();
    assert!(teardown.is_clean(), "{teardown}");
    let mut gone = teardown.apps[0].already_gone.clone();
    gone.sort_unstable();
    let mut expected = vec![recorded.hooks[0], recorded.keys[0]];
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
    let desired = amplify::desired(&ctx.names, &site, Some(WSS));
    assert!(amplify::needs_token(&observed, Some(&desired)));
    emulator.clear_calls().await;
    let err = amplify::apply(&ctx, &gh.access(None), &observed, Some(&desired))
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.starts_with("GITHUB_TOKEN is not set"), "{text}");
    assert!(text.contains("acme/chat-web"), "{text}");
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    // A token Amplify cannot use on the repository: the error says what it needs.
    let err = amplify::apply(&ctx, &gh.access(Some(READ_ONLY)), &observed, Some(&desired))
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("must be an admin of the repository"),
        "{text}"
    );
    assert!(!text.contains(READ_ONLY));
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
    let bad = gh.access(Some("ghp_expiredToken000000000000000000"));
    let teardown = amplify::destroy(&dev, &bad, &observe(&dev).await)
        .await
        .unwrap();
    let remaining = teardown.remaining();
    // Only this app's key is left to delete by hand; the hook serves chat-prod.
    assert_eq!(remaining.len(), 1, "{teardown}");
    assert_eq!(remaining[0].kind, "deploy key");
    assert_eq!(remaining[0].id, Some(dev_records.keys[0]));
    assert!(
        remaining[0].reason.contains("401"),
        "{}",
        remaining[0].reason
    );
    assert!(!remaining[0].reason.contains("ghp_expired"));
    assert_eq!(teardown.apps[0].kept_hooks[0].id, dev_records.hooks[0]);
    assert!(observe(&dev).await.is_empty());
}
