//! End to end with `[frontend]`: the Amplify app, branch and build, and `down` removing
//! exactly the webhook Amplify added to the GitHub repository. chatctl connects through the
//! Amplify GitHub App (`accessToken`), so the token needs only `admin:repo_hook` and Amplify
//! adds no deploy key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Emulator, HTTP_BACKEND_TOML, Project};

const TOKEN: &str = "ghp_chatctlTestToken0123456789abcdefXYZ";
const READ_ONLY: &str = "ghp_readOnlyToken0123456789abcdefXYZ0";

fn frontend_toml(emulator: &Emulator, repo: &str) -> String {
    format!(
        "{HTTP_BACKEND_TOML}\n[frontend]\nrepository = \"https://github.com/acme/{repo}\"\nbranch = \"main\"\n\n[github]\napi_url = \"{}/github\"\n",
        emulator.url
    )
}

async fn github_fixture(emulator: &Emulator) {
    emulator
        .post("github/repos", json!({"owner": "acme", "name": "chat-web"}))
        .await;
    emulator
        .post(
            "github/tokens",
            json!({"token": TOKEN, "scopes": ["admin:repo_hook"]}),
        )
        .await;
    emulator
        .post("github/tokens", json!({"token": READ_ONLY, "scopes": []}))
        .await;
    emulator
        .post(
            "github/installations",
            json!({"app": "aws-amplify-eu-west-1", "owner": "acme"}),
        )
        .await;
}

/// A webhook that is not Amplify's, created by the repository's owner.
async fn foreign_hook(emulator: &Emulator) -> u64 {
    let response = reqwest::Client::new()
        .post(format!("{}/github/repos/acme/chat-web/hooks", emulator.url))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .json(&json!({"name": "web", "config": {"url": "https://ci.example.com/hook", "content_type": "json"}, "events": ["push"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap()
}

async fn repository(emulator: &Emulator) -> (Vec<Value>, Vec<Value>) {
    let state = emulator.get("github/repos/acme/chat-web").await;
    (
        state["hooks"].as_array().unwrap().clone(),
        state["keys"].as_array().unwrap().clone(),
    )
}

fn frontend_project(emulator: &Emulator) -> Project {
    let mut project = Project::new(emulator, &frontend_toml(emulator, "chat-web"));
    project.set_env("GITHUB_TOKEN", TOKEN);
    project
}

#[tokio::test]
async fn up_creates_the_amplify_site_and_down_removes_exactly_what_amplify_added() {
    let emulator = Emulator::start().await;
    github_fixture(&emulator).await;
    let foreign = foreign_hook(&emulator).await;
    let project = frontend_project(&emulator);

    let up = project
        .run(&["up", "--wait", "-vv", "--output", "json"])
        .await;
    up.assert_code(0);
    let result = up.json();
    let websocket_url = result["outputs"]["websocket_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        result["outputs"]["site_url"]
            .as_str()
            .unwrap()
            .starts_with("https://main.")
    );
    assert_eq!(result["build"]["status"], "SUCCEED", "{}", up.stdout);

    // Read back through the SDK.
    let amplify = aws_sdk_amplify::Client::new(&emulator.sdk_config());
    let apps = amplify.list_apps().send().await.unwrap();
    assert_eq!(apps.apps().len(), 1);
    let app = &apps.apps()[0];
    assert_eq!(app.repository(), "https://github.com/acme/chat-web");
    assert_eq!(app.platform().as_str(), "WEB");
    assert_eq!(
        app.environment_variables()["CHAT_WEBSOCKET_URL"],
        websocket_url
    );
    assert!(app.build_spec().unwrap().contains("CHAT_WEBSOCKET_URL"));
    let rules = app.custom_rules();
    assert!(
        rules
            .iter()
            .any(|r| r.target() == "/index.html" && r.status() == Some("200")),
        "{rules:?}"
    );
    let branch = amplify
        .get_branch()
        .app_id(app.app_id())
        .branch_name("main")
        .send()
        .await
        .unwrap()
        .branch
        .unwrap();
    assert!(branch.enable_auto_build());
    let jobs = amplify
        .list_jobs()
        .app_id(app.app_id())
        .branch_name("main")
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.job_summaries().len(), 1);
    assert_eq!(jobs.job_summaries()[0].job_type().as_str(), "RELEASE");

    let (hooks, keys) = repository(&emulator).await;
    assert_eq!(hooks.len(), 2, "the foreign hook and Amplify's");
    assert!(
        keys.is_empty(),
        "the Amplify GitHub App needs no deploy key"
    );

    // A second up writes nothing.
    emulator.clear_calls().await;
    project.run(&["up"]).await.assert_code(0);
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    let status = project.run(&["status", "-vv"]).await;
    status.assert_code(0);
    assert!(status.stdout.contains("site url"), "{}", status.stdout);

    let down = project.run(&["down", "--yes", "-vv"]).await;
    down.assert_code(0);
    assert!(amplify.list_apps().send().await.unwrap().apps().is_empty());
    let (hooks, keys) = repository(&emulator).await;
    let ids: Vec<u64> = hooks.iter().map(|h| h["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [foreign], "only the foreign hook survives");
    assert!(keys.is_empty());

    for run in [&up, &status, &down] {
        assert!(
            !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
            "the token leaked"
        );
    }
}

#[tokio::test]
async fn a_shared_amplify_hook_survives_while_another_app_uses_the_repository() {
    let emulator = Emulator::start().await;
    github_fixture(&emulator).await;
    let first = frontend_project(&emulator);
    first.run(&["up"]).await.assert_code(0);
    // A second stack on the same repository shares Amplify's one webhook.
    let mut second = frontend_project(&emulator);
    std::fs::write(
        second.path().join("chatctl.toml"),
        frontend_toml(&emulator, "chat-web").replace("name = \"chat\"", "name = \"other\""),
    )
    .unwrap();
    second.set_env("GITHUB_TOKEN", TOKEN);
    second.run(&["up"]).await.assert_code(0);
    let (hooks, keys) = repository(&emulator).await;
    assert_eq!(hooks.len(), 1, "one webhook per repository and region");
    assert!(keys.is_empty());

    first.run(&["down", "--yes"]).await.assert_code(0);
    let (hooks, _) = repository(&emulator).await;
    assert_eq!(hooks.len(), 1, "still used by the other app");

    second.run(&["down", "--yes"]).await.assert_code(0);
    let (hooks, keys) = repository(&emulator).await;
    assert!(hooks.is_empty() && keys.is_empty(), "{hooks:?} {keys:?}");
}

#[tokio::test]
async fn token_problems_give_clear_errors_and_down_without_a_token_lists_what_remains() {
    let emulator = Emulator::start().await;
    github_fixture(&emulator).await;

    // No token: refused before any write.
    let mut project = frontend_project(&emulator);
    project.remove_env("GITHUB_TOKEN");
    emulator.clear_calls().await;
    let missing = project.run(&["up"]).await;
    missing.assert_code(1);
    assert!(
        missing.stderr.contains("GITHUB_TOKEN"),
        "{}",
        missing.stderr
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    // A repository that does not exist.
    let mut nowhere = Project::new(&emulator, &frontend_toml(&emulator, "no-such-repo"));
    nowhere.set_env("GITHUB_TOKEN", TOKEN);
    let absent = nowhere.run(&["up"]).await;
    absent.assert_code(1);
    assert!(absent.stderr.contains("no-such-repo"), "{}", absent.stderr);
    nowhere.run(&["down", "--yes"]).await;

    // Deploy with a good token, then tear down with a read-only one: the AWS side goes, the
    // GitHub side is listed with how to remove it, and the exit code says so.
    project.set_env("GITHUB_TOKEN", TOKEN);
    project.run(&["up"]).await.assert_code(0);
    project.set_env("GITHUB_TOKEN", READ_ONLY);
    let read_only = project.run(&["down", "--yes"]).await;
    read_only.assert_code(1);
    assert!(
        read_only.stderr.contains("admin:repo_hook"),
        "{}",
        read_only.stderr
    );
    let amplify = aws_sdk_amplify::Client::new(&emulator.sdk_config());
    assert!(amplify.list_apps().send().await.unwrap().apps().is_empty());
    let (hooks, keys) = repository(&emulator).await;
    assert_eq!(
        (hooks.len(), keys.len()),
        (1, 0),
        "the hook is left for the user to remove"
    );
    for run in [&missing, &absent, &read_only] {
        assert!(!run.stderr.contains(TOKEN) && !run.stderr.contains(READ_ONLY));
    }
}
