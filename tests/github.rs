//! The GitHub client against the emulator's GitHub fake (and, for the wire details, a
//! one-shot local server): pagination through `Link`, idempotent deletes, the 401/403/404
//! explanations, rate-limit waits, and a token that never leaks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chatctl::github::{Deletion, GitHub, GitHubError, Token};
use serde_json::{Value, json};
use support::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const OWNER: &str = "acme";
const REPO: &str = "chat-web";
const TOKEN: &str = "ghp_emulatorFullAccess0123456789";
const READ_ONLY: &str = "ghp_emulatorReadOnly0123456789ab";

/// GitHub fixtures through the emulator's control API and the fake's own REST API.
struct Fixtures {
    http: reqwest::Client,
    url: String,
}

impl Fixtures {
    fn new(emulator: &Emulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: emulator.url.clone(),
        }
    }

    fn api(&self) -> String {
        format!("{}/github", self.url)
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

    async fn repo(&self, owner: &str, name: &str) {
        self.control("repos", json!({"owner": owner, "name": name}))
            .await;
    }

    async fn token(&self, token: &str, scopes: &[&str]) {
        self.control("tokens", json!({"token": token, "scopes": scopes}))
            .await;
    }

    async fn state(&self, owner: &str, name: &str) -> Value {
        self.http
            .get(format!(
                "{}/_emulator/github/repos/{owner}/{name}",
                self.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
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

    /// A repository and a full-access token.
    async fn standard(emulator: &Emulator) -> Self {
        let fixtures = Self::new(emulator);
        fixtures.repo(OWNER, REPO).await;
        fixtures.token(TOKEN, &["repo", "admin:repo_hook"]).await;
        fixtures
    }

    fn client(&self, token: &str) -> GitHub {
        GitHub::new(&self.api(), &Token::new(token)).unwrap()
    }
}

async fn count_calls(emulator: &Emulator, operation: &str) -> usize {
    emulator
        .calls()
        .await
        .iter()
        .filter(|c| c["service"] == "github" && c["operation"] == operation)
        .count()
}

fn assert_no_token(text: &str, token: &str) {
    assert!(!text.contains(token), "the token leaked into: {text}");
}

#[tokio::test]
async fn lists_follow_link_headers_across_pages() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let mut hook_ids = Vec::new();
    let mut key_ids = Vec::new();
    // GitHub caps a repository at 20 hooks.
    for n in 0..20 {
        hook_ids.push(gh.hook(&format!("https://ci{n}.example.com/hook")).await);
        key_ids.push(gh.key(&format!("deploy {n}"), n).await);
    }
    emulator.clear_calls().await;
    let client = gh.client(TOKEN).with_per_page(7);
    let hooks = client.hooks(OWNER, REPO).await.unwrap();
    let keys = client.deploy_keys(OWNER, REPO).await.unwrap();
    let mut listed: Vec<u64> = hooks.iter().map(|h| h.id).collect();
    listed.sort_unstable();
    hook_ids.sort_unstable();
    assert_eq!(listed, hook_ids);
    let mut listed: Vec<u64> = keys.iter().map(|k| k.id).collect();
    listed.sort_unstable();
    key_ids.sort_unstable();
    assert_eq!(listed, key_ids);
    assert_eq!(hooks[3].url(), "https://ci3.example.com/hook");
    assert_eq!(keys[3].title, "deploy 3");
    // 7 + 7 + 6: three pages each, reached only through rel="next".
    assert_eq!(
        count_calls(&emulator, "GET /repos/{owner}/{repo}/hooks").await,
        3
    );
    assert_eq!(
        count_calls(&emulator, "GET /repos/{owner}/{repo}/keys").await,
        3
    );

    // The default page size fetches everything at once.
    emulator.clear_calls().await;
    assert_eq!(gh.client(TOKEN).hooks(OWNER, REPO).await.unwrap().len(), 20);
    assert_eq!(
        count_calls(&emulator, "GET /repos/{owner}/{repo}/hooks").await,
        1
    );
}

#[tokio::test]
async fn deletes_are_idempotent() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let hook = gh.hook("https://ci.example.com/hook").await;
    let keep = gh.hook("https://other.example.com/hook").await;
    let key = gh.key("deploy", 1).await;
    let client = gh.client(TOKEN);
    assert_eq!(
        client.delete_hook(OWNER, REPO, hook).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        client.delete_hook(OWNER, REPO, hook).await.unwrap(),
        Deletion::AlreadyGone
    );
    assert_eq!(
        client.delete_deploy_key(OWNER, REPO, key).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        client.delete_deploy_key(OWNER, REPO, key).await.unwrap(),
        Deletion::AlreadyGone
    );
    let state = gh.state(OWNER, REPO).await;
    let hooks: Vec<u64> = state["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_u64().unwrap())
        .collect();
    assert_eq!(hooks, [keep]);
    assert!(state["keys"].as_array().unwrap().is_empty());
    let repo = client.repository(OWNER, REPO).await.unwrap();
    assert_eq!(repo.full_name, "acme/chat-web");
    assert_eq!(repo.default_branch, "main");
    assert!(repo.permissions.unwrap().admin);
}

#[tokio::test]
async fn a_bad_token_is_explained_without_showing_it() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let secret = "ghp_revokedOrMistyped987654321";
    let client = gh.client(secret);
    let err = client.hooks(OWNER, REPO).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401 Bad credentials"), "{text}");
    assert!(
        text.contains("GITHUB_TOKEN is wrong, expired or revoked"),
        "{text}"
    );
    assert!(text.contains("admin:repo_hook"), "{text}");
    assert_no_token(&text, secret);
    assert_no_token(&format!("{err:?}"), secret);
    assert_no_token(&format!("{client:?}"), secret);
    assert_no_token(&format!("{:?}", Token::new(secret)), secret);
}

#[tokio::test]
async fn a_read_only_token_gets_scope_advice() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    gh.token(READ_ONLY, &["read:repo_hook"]).await;
    let hook = gh.hook("https://ci.example.com/hook").await;
    let key = gh.key("deploy", 1).await;
    let client = gh.client(READ_ONLY);
    // `read:repo_hook` lists hooks; deleting one takes `admin:repo_hook`.
    assert_eq!(client.hooks(OWNER, REPO).await.unwrap().len(), 1);
    let err = client.delete_hook(OWNER, REPO, hook).await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("403 Resource not accessible by personal access token"),
        "{text}"
    );
    assert!(text.contains("`admin:repo_hook` (or `repo`"), "{text}");
    assert!(text.contains("\"Webhooks: read and write\""), "{text}");
    // The scopes GitHub accepts and the ones the token has, from the response headers.
    assert!(
        text.contains(
            "GitHub accepts the scopes: admin:repo_hook, repo; this token has: read:repo_hook"
        ),
        "{text}"
    );
    assert_no_token(&text, READ_ONLY);

    let err = client
        .delete_deploy_key(OWNER, REPO, key)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(err.is_forbidden(), "{err:?}");
    assert!(text.contains("needs `repo`"), "{text}");
    assert!(
        text.contains("\"Administration: read and write\""),
        "{text}"
    );
    // Listing deploy keys takes `repo` too (the Amplify GitHub App flow adds none).
    let err = client.deploy_keys(OWNER, REPO).await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    // Nothing was deleted.
    let state = gh.state(OWNER, REPO).await;
    assert_eq!(state["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(state["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_fine_grained_token_is_told_the_permission_github_accepts() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let fine = "github_pat_readsWebhooksOnly000000000";
    gh.control(
        "tokens",
        json!({"token": fine, "permissions": {"webhooks": "read"}, "repos": ["acme/chat-web"]}),
    )
    .await;
    let hook = gh.hook("https://ci.example.com/hook").await;
    let client = gh.client(fine);
    assert_eq!(client.hooks(OWNER, REPO).await.unwrap().len(), 1);
    let err = client.delete_hook(OWNER, REPO, hook).await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("GitHub accepts the permissions: webhooks=write"),
        "{text}"
    );
    assert!(!text.contains("this token has"), "{text}");
    assert_no_token(&text, fine);
}

#[tokio::test]
async fn a_missing_or_invisible_repository_is_explained() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    gh.repo(OWNER, "secret-web").await;
    let narrow = "ghp_onlySeesChatWeb00000000000000";
    gh.control(
        "tokens",
        json!({"token": narrow, "scopes": ["repo"], "repos": ["acme/chat-web"]}),
    )
    .await;
    let client = gh.client(TOKEN);
    let err = client.hooks(OWNER, "no-such-repo").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(
            "the repository acme/no-such-repo does not exist, or the token cannot see it"
        ),
        "{text}"
    );
    let err = gh
        .client(narrow)
        .deploy_keys(OWNER, "secret-web")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.to_string()
            .contains("granted access to acme/secret-web")
    );
    let err = gh
        .client(narrow)
        .repository(OWNER, "secret-web")
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn the_primary_rate_limit_is_waited_out_until_reset() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    gh.hook("https://ci.example.com/hook").await;
    emulator
        .fault(json!({
            "operation": "GET /repos/{owner}/{repo}/hooks",
            "count": 1,
            "status": 403,
            "message": "API rate limit exceeded for user ID 1.",
            "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": (epoch_now() + 2).to_string()}
        }))
        .await;
    emulator.clear_calls().await;
    let started = Instant::now();
    // A 1/20 time scale: the ~2-3 s until the reset become ~0.15 s.
    let hooks = gh
        .client(TOKEN)
        .with_wait_scale(0.05)
        .hooks(OWNER, REPO)
        .await
        .unwrap();
    assert_eq!(hooks.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "did not wait"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        count_calls(&emulator, "GET /repos/{owner}/{repo}/hooks").await,
        2
    );
}

#[tokio::test]
async fn a_far_away_reset_fails_at_once_with_the_time() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    emulator
        .fault(json!({
            "operation": "GET /repos/{owner}/{repo}/keys",
            "count": -1,
            "status": 429,
            "message": "API rate limit exceeded",
            "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": (epoch_now() + 3000).to_string()}
        }))
        .await;
    let started = Instant::now();
    let err = gh.client(TOKEN).deploy_keys(OWNER, REPO).await.unwrap_err();
    assert!(err.is_rate_limited(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let text = err.to_string();
    assert!(text.contains("used up until"), "{text}");
    assert!(text.contains("run the command again then"), "{text}");
}

#[tokio::test]
async fn a_secondary_limit_honours_retry_after_and_is_bounded() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    let hook = gh.hook("https://ci.example.com/hook").await;
    // Clears after two refusals: the third attempt deletes.
    emulator
        .fault(json!({
            "operation": "DELETE /repos/{owner}/{repo}/hooks/{hook_id}",
            "count": 2,
            "status": 403,
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "headers": {"retry-after": "2"}
        }))
        .await;
    let client = gh.client(TOKEN).with_wait_scale(0.05);
    let started = Instant::now();
    assert_eq!(
        client.delete_hook(OWNER, REPO, hook).await.unwrap(),
        Deletion::Deleted
    );
    // Two waits of retry-after (2 s) at 1/20 scale.
    assert!(started.elapsed() >= Duration::from_millis(190));

    // Never clearing, without retry-after: ≥ 60 s, doubling, then a clear error.
    emulator.clear_faults().await;
    emulator
        .fault(json!({
            "operation": "GET /repos/{owner}/{repo}/hooks",
            "count": -1,
            "status": 403,
            "message": "You have exceeded a secondary rate limit."
        }))
        .await;
    emulator.clear_calls().await;
    let started = Instant::now();
    let err = gh
        .client(TOKEN)
        .with_wait_scale(0.001)
        .hooks(OWNER, REPO)
        .await
        .unwrap_err();
    // 60 + 120 + 240 s at 1/1000.
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(err.is_rate_limited(), "{err:?}");
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
    assert_eq!(
        count_calls(&emulator, "GET /repos/{owner}/{repo}/hooks").await,
        4
    );
}

#[tokio::test]
async fn a_token_echoed_by_the_server_is_scrubbed() {
    let emulator = Emulator::start().await;
    let gh = Fixtures::standard(&emulator).await;
    emulator
        .fault(json!({
            "operation": "GET /repos/{owner}/{repo}/hooks",
            "status": 500,
            "message": format!("internal error handling token {TOKEN}")
        }))
        .await;
    let err = gh.client(TOKEN).hooks(OWNER, REPO).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("GitHub answered 500"), "{text}");
    assert!(text.contains("handling token ***"), "{text}");
    assert_no_token(&text, TOKEN);
    assert_no_token(&format!("{err:?}"), TOKEN);
    assert!(matches!(err, GitHubError::Status { status: 500, .. }));
}

/// Serves one canned answer per connection on `listener`; returns the raw requests.
fn serve(listener: TcpListener, answers: Vec<String>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut requests = Vec::new();
        for answer in answers {
            let Ok(Ok((mut socket, _))) =
                tokio::time::timeout(Duration::from_secs(5), listener.accept()).await
            else {
                break;
            };
            let mut buffer = vec![0u8; 16 * 1024];
            let mut received = Vec::new();
            while !received.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buffer[..n]);
            }
            requests.push(String::from_utf8_lossy(&received).into_owned());
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
        requests
    })
}

async fn local_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn answer(extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn requests_carry_github_headers_and_links_stay_on_the_api_host() {
    // Page 1 links to page 2 on the same server; page 2 links to another host.
    let (foreign, foreign_url) = local_listener().await;
    let (listener, base) = local_listener().await;
    let server = serve(
        listener,
        vec![
            answer(
                &format!(
                    "link: <{base}/repos/acme/chat-web/hooks?per_page=1&page=2>; rel=\"next\"\r\n"
                ),
                r#"[{"id":1,"name":"web","active":true,"events":["push"],"config":{"url":"https://a.example/h"}}]"#,
            ),
            answer(
                &format!("link: <{foreign_url}/steal?page=3>; rel=\"next\"\r\n"),
                r#"[{"id":2,"name":"web","active":true,"events":["push"],"config":{"url":"https://b.example/h"}}]"#,
            ),
        ],
    );
    let client = GitHub::new(&base, &Token::new(TOKEN)).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), client.hooks("acme", "chat-web"))
        .await
        .unwrap()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not sending the token there"), "{text}");
    assert_no_token(&text, TOKEN);
    let requests = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(requests.len(), 2);
    let first = requests[0].to_ascii_lowercase();
    assert!(
        first.starts_with("get /repos/acme/chat-web/hooks?per_page=100 http/1.1"),
        "{first}"
    );
    assert!(
        first.contains("accept: application/vnd.github+json"),
        "{first}"
    );
    assert!(
        first.contains("x-github-api-version: 2022-11-28"),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "user-agent: chatctl/{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{first}"
    );
    assert!(
        requests[0].contains(&format!("authorization: Bearer {TOKEN}")),
        "{}",
        requests[0]
    );
    // The second page was fetched from the link, verbatim.
    assert!(requests[1].starts_with("GET /repos/acme/chat-web/hooks?per_page=1&page=2 "));
    // Nothing ever reached the foreign host.
    let stolen = tokio::time::timeout(Duration::from_millis(300), foreign.accept()).await;
    assert!(
        stolen.is_err(),
        "the client followed a link to another host"
    );

    // An Enterprise Server base URL keeps its path.
    let (listener, url) = local_listener().await;
    let server = serve(
        listener,
        vec![answer(
            "",
            r#"{"id":7,"full_name":"acme/chat-web","private":true,"default_branch":"trunk"}"#,
        )],
    );
    let repo = GitHub::new(&format!("{url}/api/v3/"), &Token::new(TOKEN))
        .unwrap()
        .repository("acme", "chat-web")
        .await
        .unwrap();
    assert_eq!(repo.default_branch, "trunk");
    assert!(repo.private);
    let requests = server.await.unwrap();
    assert!(
        requests[0].starts_with("GET /api/v3/repos/acme/chat-web HTTP/1.1"),
        "{}",
        requests[0]
    );
}
