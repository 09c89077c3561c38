//! A small GitHub REST client for what `down` must clean up after Amplify: the webhooks and
//! deploy keys of one repository (list, delete) and the repository itself.
//!
//! - What a token needs: Amplify's GitHub App flow (what chatctl uses) installs a webhook
//!   with the token, so a classic token needs `admin:repo_hook` (AWS's user guide, "Setting
//!   up the Amplify GitHub App for AWS CloudFormation, CLI, and SDK deployments"), which
//!   also lets chatctl list and delete that hook; a fine-grained token needs "Webhooks: read
//!   and write" (GitHub's REST reference for repository webhooks). Deploy keys — only when
//!   Amplify clones over SSH — take `repo` or "Administration: read and write".
//!
//! - Works against `https://api.github.com`, GitHub Enterprise Server (`https://HOST/api/v3`)
//!   or any base URL with the same paths (the test emulator's `/github`).
//! - Lists follow the `Link: rel="next"` header (never built page URLs), and only on the
//!   base URL's origin: the token is never sent to another host.
//! - The token travels only in a sensitive `Authorization` header; [`Token`] redacts itself
//!   in `Debug`, has no `Display`, and is scrubbed from every message GitHub sends back.
//! - Errors say what to do: a bad token (401), a missing permission (403, in classic-scope
//!   and fine-grained terms), a repository that doesn't exist or can't be seen (404).
//! - Rate limits: over the primary limit (403/429 with `x-ratelimit-remaining: 0`) it waits
//!   for `x-ratelimit-reset` if that is near; over a secondary limit it honours
//!   `retry-after`, else waits at least 60 s and doubles, for a bounded number of attempts
//!   (GitHub's documented advice; carrying on while limited risks a ban). Waits are scaled by
//!   `CHATCTL_RETRY_SCALE` like every other chatctl wait.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::ui::Ui;

/// The environment variable holding the token: never a flag (argv is visible to every
/// local user through `ps` and `/proc`), never printed.
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";
const API_VERSION: &str = "2022-11-28";
/// GitHub's maximum page size for hooks and keys.
pub const MAX_PER_PAGE: u32 = 100;
/// Attempts of one request while GitHub reports a secondary rate limit.
const RATE_LIMIT_ATTEMPTS: u32 = 4;
/// GitHub: "wait at least one minute" after a secondary limit without `retry-after`.
const SECONDARY_MIN_WAIT: Duration = Duration::from_mins(1);
/// Longest wait for a primary limit to reset before giving up with a clear error.
const MAX_RESET_WAIT: Duration = Duration::from_mins(15);
/// What the token needs for Amplify's webhook (creating it through Amplify, then listing and
/// deleting it), for messages.
pub const NEEDED_PERMISSIONS: &str = "a classic token with the `admin:repo_hook` scope, or a fine-grained token with \"Webhooks: read and write\" on the repository";
/// What the token needs besides when Amplify clones over SSH and adds a deploy key.
pub const DEPLOY_KEY_PERMISSIONS: &str =
    "the `repo` scope (classic token) or \"Administration: read and write\" (fine-grained token)";

/// The Amplify GitHub App of a region, installed before an app is connected (AWS user guide:
/// `https://github.com/apps/aws-amplify-REGION/installations/new`).
pub fn amplify_app_install_url(region: &str) -> String {
    format!("https://github.com/apps/aws-amplify-{region}/installations/new")
}

/// Everything connecting an Amplify app in `region` to a repository takes, for messages.
pub fn connect_requirements(region: &str) -> String {
    format!(
        "the Amplify GitHub App installed on the repository ({}) and {NEEDED_PERMISSIONS}",
        amplify_app_install_url(region)
    )
}

/// A GitHub token. `Debug` shows `Token(***)`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Trims surrounding whitespace (a pasted token often ends in a newline).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into().trim().to_owned())
    }

    /// `GITHUB_TOKEN`, if set and not empty.
    pub fn from_env() -> Option<Self> {
        std::env::var(TOKEN_ENV)
            .ok()
            .map(Self::new)
            .filter(|t| !t.0.is_empty())
    }

    /// The secret itself, for the one place that must send it elsewhere (Amplify's
    /// `accessToken`). Never format it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the token in `text` (a message from a server).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// What a request needed, to explain a 403 in terms of token permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    ReadRepository,
    ListHooks,
    DeleteHook,
    ListKeys,
    DeleteKey,
}

impl Operation {
    /// The classic OAuth scopes that allow the operation.
    pub fn classic_scopes(self) -> &'static str {
        match self {
            Self::ReadRepository => "`repo` (for a private repository)",
            Self::ListHooks => "`admin:repo_hook` or `read:repo_hook` (or `repo`)",
            Self::DeleteHook => "`admin:repo_hook` (or `repo`; `write:repo_hook` cannot delete)",
            Self::ListKeys | Self::DeleteKey => "`repo`",
        }
    }

    /// The fine-grained permission that allows the operation.
    pub fn fine_grained(self) -> &'static str {
        match self {
            Self::ReadRepository => "\"Metadata: read\"",
            Self::ListHooks => "\"Webhooks: read\"",
            Self::DeleteHook => "\"Webhooks: read and write\"",
            Self::ListKeys => "\"Administration: read\"",
            Self::DeleteKey => "\"Administration: read and write\"",
        }
    }

    /// What chatctl asks for overall, given that this operation was refused.
    fn needed(self) -> &'static str {
        match self {
            Self::ListKeys | Self::DeleteKey => DEPLOY_KEY_PERMISSIONS,
            _ => NEEDED_PERMISSIONS,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::ReadRepository => "reading",
            Self::ListHooks => "listing the webhooks of",
            Self::DeleteHook => "deleting a webhook of",
            Self::ListKeys => "listing the deploy keys of",
            Self::DeleteKey => "deleting a deploy key of",
        }
    }
}

/// A failed GitHub call, explained for a person. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubError {
    /// 401: the token is wrong, expired or revoked.
    Unauthorized { action: String, message: String },
    /// 403 that is not a rate limit: the token lacks a scope or permission.
    Forbidden {
        action: String,
        operation: Operation,
        message: String,
        /// `X-Accepted-OAuth-Scopes`: what GitHub would have accepted.
        accepted_scopes: Option<String>,
        /// `X-OAuth-Scopes`: what the (classic) token has.
        token_scopes: Option<String>,
        /// `X-Accepted-GitHub-Permissions`: what a fine-grained token would need.
        accepted_permissions: Option<String>,
    },
    /// 404 on the repository or a list: it doesn't exist or the token can't see it.
    NotFound { action: String, repository: String },
    /// The rate limit did not clear within chatctl's bounds.
    RateLimited { action: String, detail: String },
    /// Any other unexpected status.
    Status {
        action: String,
        status: u16,
        message: String,
    },
    /// GitHub could not be reached, or answered something unreadable.
    Transport { action: String, detail: String },
    /// The client itself is misconfigured (base URL, token characters).
    Setup(String),
}

impl GitHubError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Forbidden { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::RateLimited { .. })
    }
}

impl fmt::Display for GitHubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized { action, message } => write!(
                f,
                "GitHub rejected the token while {action} (401 {message}): {TOKEN_ENV} is wrong, expired or revoked; create a new one ({NEEDED_PERMISSIONS}) and set it in {TOKEN_ENV}"
            ),
            Self::Forbidden {
                action,
                operation,
                message,
                accepted_scopes,
                token_scopes,
                accepted_permissions,
            } => {
                write!(
                    f,
                    "GitHub refused {action} (403 {message}): the token lacks a permission. A classic token needs {}; a fine-grained token needs {} on the repository",
                    operation.classic_scopes(),
                    operation.fine_grained()
                )?;
                match (accepted_scopes, token_scopes) {
                    (Some(accepted), Some(has)) => write!(
                        f,
                        " (GitHub accepts the scopes: {}; this token has: {})",
                        or_none(accepted),
                        or_none(has)
                    )?,
                    (Some(accepted), None) => {
                        write!(f, " (GitHub accepts the scopes: {})", or_none(accepted))?;
                    }
                    (None, Some(has)) => write!(f, " (this token has: {})", or_none(has))?,
                    (None, None) => {}
                }
                if let Some(permissions) = accepted_permissions {
                    write!(f, " (GitHub accepts the permissions: {permissions})")?;
                }
                write!(
                    f,
                    ". chatctl needs {} for this, and the token's user must be an admin of the repository",
                    operation.needed()
                )
            }
            Self::NotFound { action, repository } => write!(
                f,
                "GitHub answered 404 Not Found while {action}: the repository {repository} does not exist, or the token cannot see it (a private repository needs a classic token with the `repo` scope, or a fine-grained token granted access to {repository})"
            ),
            Self::RateLimited { action, detail } => {
                write!(f, "GitHub rate limit while {action}: {detail}")
            }
            Self::Status {
                action,
                status,
                message,
            } => write!(f, "GitHub answered {status} while {action}: {message}"),
            Self::Transport { action, detail } => {
                write!(f, "could not reach GitHub while {action}: {detail}")
            }
            Self::Setup(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for GitHubError {}

fn or_none(scopes: &str) -> &str {
    if scopes.trim().is_empty() {
        "(none)"
    } else {
        scopes
    }
}

/// A repository webhook, as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Hook {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub config: HookConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct HookConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
}

impl Hook {
    /// The delivery URL ("" for hooks without one, e.g. GitHub Apps' legacy services).
    pub fn url(&self) -> &str {
        self.config.url.as_deref().unwrap_or_default()
    }
}

/// A repository deploy key, as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DeployKey {
    pub id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub added_by: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Repository {
    pub id: u64,
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub default_branch: String,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Permissions {
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub pull: bool,
}

/// What a delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deletion {
    Deleted,
    /// 404: someone (or an earlier run) removed it already; counts as success.
    AlreadyGone,
}

/// A GitHub REST client for one base URL and token.
#[derive(Clone)]
pub struct GitHub {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    token: Token,
    per_page: u32,
    wait_scale: f64,
    ui: Option<Ui>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .field("per_page", &self.per_page)
            .finish_non_exhaustive()
    }
}

/// Server replies are small JSON documents: read whole, then interpreted.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl GitHub {
    /// `api_url`: `https://api.github.com`, `https://HOST/api/v3`, or a test server.
    pub fn new(api_url: &str, token: &Token) -> Result<Self, GitHubError> {
        let trimmed = api_url.trim_end_matches('/');
        let base = Url::parse(trimmed)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .ok_or_else(|| {
                GitHubError::Setup(format!(
                    "github.api_url = \"{api_url}\" is not a URL such as https://api.github.com or https://HOST/api/v3"
                ))
            })?;
        if token.0.is_empty() {
            return Err(GitHubError::Setup(format!("{TOKEN_ENV} is empty")));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.0))
            .map_err(|_| {
                GitHubError::Setup(format!(
                    "{TOKEN_ENV} contains characters that cannot be sent in an HTTP header (spaces or control characters inside the token?)"
                ))
            })?;
        // Keeps the value out of hyper's and h2's Debug output and HPACK tables.
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static(API_VERSION),
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!("chatctl/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            // reqwest drops Authorization when a redirect leaves the host; renamed
            // repositories answer 301 on GitHub, which is worth following.
            .redirect(reqwest::redirect::Policy::limited(5))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| GitHubError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            authorization,
            token: token.clone(),
            per_page: MAX_PER_PAGE,
            wait_scale: crate::retry::scaled(Duration::from_secs(1)).as_secs_f64(),
            ui: None,
        })
    }

    /// Page size of lists (1..=100); smaller pages exercise pagination in tests.
    #[must_use]
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        self.per_page = per_page.clamp(1, MAX_PER_PAGE);
        self
    }

    /// Multiplies every rate-limit wait (default: `CHATCTL_RETRY_SCALE`, else 1).
    #[must_use]
    pub fn with_wait_scale(mut self, scale: f64) -> Self {
        if scale.is_finite() && scale > 0.0 {
            self.wait_scale = scale;
        }
        self
    }

    /// Announces rate-limit waits on `ui` (they can last minutes).
    #[must_use]
    pub fn with_ui(mut self, ui: Ui) -> Self {
        self.ui = Some(ui);
        self
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    pub async fn repository(&self, owner: &str, repo: &str) -> Result<Repository, GitHubError> {
        let op = Operation::ReadRepository;
        let action = action(op, owner, repo);
        let url = self.url(&format!("repos/{}/{}", segment(owner)?, segment(repo)?))?;
        let reply = self.send(Method::GET, url, &action).await?;
        self.expect_ok(reply, op, &action, owner, repo)
            .and_then(|r| Self::decode(&r.body, &action))
    }

    /// Every webhook of the repository, across pages.
    pub async fn hooks(&self, owner: &str, repo: &str) -> Result<Vec<Hook>, GitHubError> {
        self.list(owner, repo, "hooks", Operation::ListHooks).await
    }

    /// Every deploy key of the repository, across pages.
    pub async fn deploy_keys(
        &self,
        owner: &str,
        repo: &str,
    ) -> Result<Vec<DeployKey>, GitHubError> {
        self.list(owner, repo, "keys", Operation::ListKeys).await
    }

    pub async fn delete_hook(
        &self,
        owner: &str,
        repo: &str,
        id: u64,
    ) -> Result<Deletion, GitHubError> {
        self.delete(owner, repo, "hooks", id, Operation::DeleteHook)
            .await
    }

    pub async fn delete_deploy_key(
        &self,
        owner: &str,
        repo: &str,
        id: u64,
    ) -> Result<Deletion, GitHubError> {
        self.delete(owner, repo, "keys", id, Operation::DeleteKey)
            .await
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        owner: &str,
        repo: &str,
        collection: &str,
        op: Operation,
    ) -> Result<Vec<T>, GitHubError> {
        let action = action(op, owner, repo);
        let mut url = self.url(&format!(
            "repos/{}/{}/{collection}?per_page={}",
            segment(owner)?,
            segment(repo)?,
            self.per_page
        ))?;
        let mut items = Vec::new();
        // A runaway Link chain (a server bug) must not loop forever: GitHub caps a
        // repository at 20 hooks, and deploy keys are few.
        for _ in 0..1000 {
            let reply = self.send(Method::GET, url, &action).await?;
            let next = reply
                .headers
                .get_all("link")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link);
            let reply = self.expect_ok(reply, op, &action, owner, repo)?;
            let page: Vec<T> = Self::decode(&reply.body, &action)?;
            items.extend(page);
            match next {
                Some(next) => url = self.same_origin(&next, &action)?,
                None => return Ok(items),
            }
        }
        Err(GitHubError::Transport {
            action,
            detail: "more than 1000 pages: GitHub's pagination does not end".to_owned(),
        })
    }

    async fn delete(
        &self,
        owner: &str,
        repo: &str,
        collection: &str,
        id: u64,
        op: Operation,
    ) -> Result<Deletion, GitHubError> {
        let action = format!("{} {owner}/{repo} (id {id})", op.verb());
        let url = self.url(&format!(
            "repos/{}/{}/{collection}/{id}",
            segment(owner)?,
            segment(repo)?
        ))?;
        let reply = self.send(Method::DELETE, url, &action).await?;
        match reply.status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(Deletion::Deleted),
            StatusCode::NOT_FOUND => Ok(Deletion::AlreadyGone),
            _ => Err(self.failure(&reply, op, &action, owner, repo)),
        }
    }

    fn url(&self, path: &str) -> Result<Url, GitHubError> {
        let text = format!("{}/{path}", self.base_url());
        Url::parse(&text).map_err(|e| GitHubError::Setup(format!("bad GitHub URL {text}: {e}")))
    }

    /// Pagination links must stay on the API's origin, or the token would follow them.
    fn same_origin(&self, link: &str, action: &str) -> Result<Url, GitHubError> {
        let url = Url::parse(link).map_err(|e| GitHubError::Transport {
            action: action.to_owned(),
            detail: format!("GitHub sent an unreadable pagination link ({e})"),
        })?;
        if url.origin() != self.base.origin() {
            return Err(GitHubError::Transport {
                action: action.to_owned(),
                detail: format!(
                    "the pagination link points to {}, not to {}: not sending the token there",
                    url.origin().ascii_serialization(),
                    self.base.origin().ascii_serialization()
                ),
            });
        }
        Ok(url)
    }

    fn decode<T: serde::de::DeserializeOwned>(body: &str, action: &str) -> Result<T, GitHubError> {
        serde_json::from_str(body).map_err(|e| GitHubError::Transport {
            action: action.to_owned(),
            detail: format!("unexpected answer from GitHub ({e})"),
        })
    }

    fn expect_ok(
        &self,
        reply: Reply,
        op: Operation,
        action: &str,
        owner: &str,
        repo: &str,
    ) -> Result<Reply, GitHubError> {
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(self.failure(&reply, op, action, owner, repo))
        }
    }

    fn failure(
        &self,
        reply: &Reply,
        op: Operation,
        action: &str,
        owner: &str,
        repo: &str,
    ) -> GitHubError {
        let message = self.token.scrub(&server_message(&reply.body, reply.status));
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| self.token.scrub(v))
        };
        let action = action.to_owned();
        match reply.status {
            StatusCode::UNAUTHORIZED => GitHubError::Unauthorized { action, message },
            StatusCode::FORBIDDEN => GitHubError::Forbidden {
                action,
                operation: op,
                message,
                accepted_scopes: header("x-accepted-oauth-scopes"),
                token_scopes: header("x-oauth-scopes"),
                accepted_permissions: header("x-accepted-github-permissions"),
            },
            StatusCode::NOT_FOUND => GitHubError::NotFound {
                action,
                repository: format!("{owner}/{repo}"),
            },
            StatusCode::TOO_MANY_REQUESTS => GitHubError::RateLimited {
                action,
                detail: message,
            },
            status => GitHubError::Status {
                action,
                status: status.as_u16(),
                message,
            },
        }
    }

    /// One request, waiting out rate limits within bounds.
    async fn send(&self, method: Method, url: Url, action: &str) -> Result<Reply, GitHubError> {
        let mut attempt = 1;
        loop {
            let response = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, self.authorization.clone())
                .send()
                .await
                .map_err(|e| self.transport(action, &e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .text()
                .await
                .map_err(|e| self.transport(action, &e))?;
            let reply = Reply {
                status,
                headers,
                body,
            };
            let limit = classify_limit(reply.status, &reply.headers, &reply.body);
            let wait = match limit {
                Limit::None => return Ok(reply),
                Limit::Primary { reset } => {
                    let until = reset.saturating_sub(now_epoch());
                    // A second of slack: the reset is a whole second and clocks differ.
                    let wait = Duration::from_secs(until + 1);
                    if wait > MAX_RESET_WAIT || attempt >= RATE_LIMIT_ATTEMPTS {
                        return Err(GitHubError::RateLimited {
                            action: action.to_owned(),
                            detail: format!(
                                "the API rate limit of this token is used up until {} ({} from now); run the command again then",
                                clock(reset),
                                minutes(wait)
                            ),
                        });
                    }
                    wait
                }
                Limit::Secondary { retry_after } => {
                    if attempt >= RATE_LIMIT_ATTEMPTS {
                        return Err(GitHubError::RateLimited {
                            action: action.to_owned(),
                            detail: format!(
                                "GitHub's secondary rate limit still applied after {attempt} attempts ({}); wait a few minutes and run the command again",
                                self.token.scrub(&server_message(&reply.body, reply.status))
                            ),
                        });
                    }
                    retry_after.map_or_else(
                        || SECONDARY_MIN_WAIT * 2u32.pow(attempt - 1),
                        Duration::from_secs,
                    )
                }
            };
            let scaled = wait.mul_f64(self.wait_scale);
            let note = format!(
                "GitHub rate limit while {action}: waiting {} before trying again (attempt {} of {RATE_LIMIT_ATTEMPTS})",
                minutes(scaled),
                attempt + 1
            );
            match &self.ui {
                Some(ui) => ui.note(&note),
                None => tracing::info!("{note}"),
            }
            tokio::time::sleep(scaled).await;
            attempt += 1;
        }
    }

    fn transport(&self, action: &str, error: &reqwest::Error) -> GitHubError {
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(err) = source {
            detail.push_str(": ");
            detail.push_str(&err.to_string());
            source = err.source();
        }
        GitHubError::Transport {
            action: action.to_owned(),
            detail: self.token.scrub(&detail),
        }
    }
}

fn action(op: Operation, owner: &str, repo: &str) -> String {
    format!("{} {owner}/{repo}", op.verb())
}

/// Owner and repository names go into the path unescaped, so they are checked first.
fn segment(name: &str) -> Result<&str, GitHubError> {
    let valid = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(name)
    } else {
        Err(GitHubError::Setup(format!(
            "\"{name}\" is not a GitHub owner or repository name"
        )))
    }
}

/// GitHub's `{"message": …}`, or the status text.
fn server_message(body: &str, status: StatusCode) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    None,
    /// Primary limit used up: wait until this epoch second.
    Primary {
        reset: u64,
    },
    /// Secondary limit: `retry-after` seconds when given.
    Secondary {
        retry_after: Option<u64>,
    },
}

/// GitHub's rules: 403 or 429 with `x-ratelimit-remaining: 0` is the primary limit (wait
/// for `x-ratelimit-reset`); with `retry-after`, or a 429, or a 403 whose message speaks
/// of a secondary rate limit, it is a secondary limit. Any other 403 is a permission error.
fn classify_limit(status: StatusCode, headers: &HeaderMap, body: &str) -> Limit {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return Limit::None;
    }
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let retry_after = number("retry-after");
    if retry_after.is_none()
        && number("x-ratelimit-remaining") == Some(0)
        && let Some(reset) = number("x-ratelimit-reset")
    {
        return Limit::Primary { reset };
    }
    let message = server_message(body, status).to_ascii_lowercase();
    if retry_after.is_some()
        || status == StatusCode::TOO_MANY_REQUESTS
        || message.contains("rate limit")
    {
        return Limit::Secondary { retry_after };
    }
    Limit::None
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn clock(epoch: u64) -> String {
    i64::try_from(epoch)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("epoch {epoch}"))
}

fn minutes(wait: Duration) -> String {
    let secs = wait.as_secs_f64();
    if secs >= 90.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{secs:.1} s")
    }
}

/// The `rel="next"` target of a `Link` header, if any. URLs are inside `<…>`, which may
/// themselves contain commas, so the header is scanned rather than split.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let params_start = &after[close + 1..];
        let params_end = params_start.find('<').unwrap_or(params_start.len());
        let params = &params_start[..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=").is_some_and(|v| {
                v.trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(url.to_owned());
        }
        rest = &params_start[params_end..];
    }
    None
}

/// The web address of a GitHub API base: `https://api.github.com` → `https://github.com`;
/// Enterprise Server `https://HOST/api/v3` → `https://HOST`.
pub fn web_url(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    if trimmed == "https://api.github.com" {
        return "https://github.com".to_owned();
    }
    if let Some(host) = trimmed.strip_suffix("/api/v3") {
        return host.to_owned();
    }
    Url::parse(trimmed).map_or_else(|_| trimmed.to_owned(), |u| u.origin().ascii_serialization())
}

/// `gh api` arguments naming the host for Enterprise Server (`--hostname HOST `).
pub fn gh_hostname_flag(api_url: &str) -> String {
    let web = web_url(api_url);
    match Url::parse(&web)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        Some(host) if host != "github.com" => format!("--hostname {host} "),
        _ => String::new(),
    }
}

/// A hook URL fit for messages: without its query string, where tokens live.
pub fn display_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_shows_in_debug() {
        let token = Token::new("ghp_supersecret123\n");
        assert_eq!(format!("{token:?}"), "Token(***)");
        let client = GitHub::new("https://api.github.com", &token).unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("supersecret"), "{debug}");
        assert!(debug.contains("Token(***)"));
        assert_eq!(token.scrub("echo ghp_supersecret123!"), "echo ***!");
    }

    #[test]
    fn next_link_is_found_among_others() {
        let header = r#"<https://api.github.com/repositories/1/hooks?per_page=2&page=1>; rel="prev", <https://api.github.com/repositories/1/hooks?per_page=2&page=3>; rel="next", <https://api.github.com/repositories/1/hooks?per_page=2&page=5>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/hooks?per_page=2&page=3")
        );
        assert_eq!(
            next_link(r#"<https://x/a?page=1>; rel="first", <https://x/a?page=1>; rel="prev""#),
            None
        );
        // Commas inside the URL and several relation types.
        assert_eq!(
            next_link(r#"<https://x/a?q=a,b&after=Y2>; rel="next last""#).as_deref(),
            Some("https://x/a?q=a,b&after=Y2")
        );
        assert_eq!(next_link(""), None);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn rate_limits_are_told_from_permission_errors() {
        let forbidden = r#"{"message":"Resource not accessible by personal access token"}"#;
        assert_eq!(
            classify_limit(StatusCode::FORBIDDEN, &headers(&[]), forbidden),
            Limit::None
        );
        assert_eq!(
            classify_limit(
                StatusCode::FORBIDDEN,
                &headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1700000000")
                ]),
                r#"{"message":"API rate limit exceeded"}"#
            ),
            Limit::Primary {
                reset: 1_700_000_000
            }
        );
        assert_eq!(
            classify_limit(
                StatusCode::FORBIDDEN,
                &headers(&[("retry-after", "30"), ("x-ratelimit-remaining", "12")]),
                r#"{"message":"You have exceeded a secondary rate limit"}"#
            ),
            Limit::Secondary {
                retry_after: Some(30)
            }
        );
        assert_eq!(
            classify_limit(
                StatusCode::FORBIDDEN,
                &headers(&[]),
                r#"{"message":"You have exceeded a secondary rate limit."}"#
            ),
            Limit::Secondary { retry_after: None }
        );
        assert_eq!(
            classify_limit(StatusCode::TOO_MANY_REQUESTS, &headers(&[]), ""),
            Limit::Secondary { retry_after: None }
        );
        assert_eq!(
            classify_limit(StatusCode::NOT_FOUND, &headers(&[("retry-after", "1")]), ""),
            Limit::None
        );
    }

    #[test]
    fn web_urls_of_api_bases() {
        assert_eq!(web_url("https://api.github.com/"), "https://github.com");
        assert_eq!(
            web_url("https://ghe.example.com/api/v3"),
            "https://ghe.example.com"
        );
        assert_eq!(gh_hostname_flag("https://api.github.com"), "");
        assert_eq!(
            gh_hostname_flag("https://ghe.example.com/api/v3"),
            "--hostname ghe.example.com "
        );
        assert_eq!(
            display_url("https://h.example/hook?token=abc"),
            "https://h.example/hook?…"
        );
    }

    #[test]
    fn names_are_checked_before_they_reach_a_path() {
        assert!(segment("acme").is_ok());
        assert!(segment("chat-web.v2_x").is_ok());
        assert!(segment("..").is_err());
        assert!(segment("a/b").is_err());
        assert!(segment("a?b").is_err());
    }

    #[test]
    fn bad_base_urls_and_tokens_are_setup_errors() {
        let token = Token::new("ghp_x");
        assert!(matches!(
            GitHub::new("api.github.com", &token),
            Err(GitHubError::Setup(_))
        ));
        let err = GitHub::new("https://api.github.com", &Token::new("ghp a\u{7}b")).unwrap_err();
        assert!(!err.to_string().contains("ghp a"), "{err}");
    }
}
