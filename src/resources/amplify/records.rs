//! The GitHub bookkeeping of `up`: what Amplify adds to the repository when the app is
//! created, recorded as tags on the app so that `down` removes exactly that.
//!
//! - observe: [`snapshot`] lists the repository's webhooks (and deploy keys, when the token
//!   may list them) before CreateApp and again after it;
//! - plan: [`additions`] is the difference, pure: new webhooks on an AWS endpoint, and new
//!   read-only deploy keys unless Amplify clones through the Amplify GitHub App (then it adds
//!   none);
//! - apply: [`record`] writes the ids as [`HOOKS_TAG`] and [`KEYS_TAG`].
//!
//! AWS sets the repository up during CreateApp: that is the call that answers "There was an
//! issue setting up your repository" (hashicorp/terraform-provider-aws#36071), and no branch
//! call touches GitHub.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use super::app::App;
use crate::github::{self, DeployKey, GitHub, GitHubError, Hook, Token};
use crate::resources::{Ctx, aws_error};
use crate::ui::Ui;

/// Tag on the app: ids of the webhooks Amplify added, separated by spaces (AWS tag values
/// allow letters, digits, spaces and `_.:/=+-@`, not commas). Present and empty: nothing
/// was added (the repository already had the region's shared webhook).
pub const HOOKS_TAG: &str = "chatctl:github-hooks";
/// Tag on the app: ids of the deploy keys Amplify added, separated by spaces. Present and
/// empty: none (the Amplify GitHub App needs no deploy key).
pub const KEYS_TAG: &str = "chatctl:github-keys";

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

impl App {
    /// The webhook ids recorded on the app; `None` when the tag is missing.
    pub fn recorded_hooks(&self) -> Option<Vec<u64>> {
        self.tags.get(HOOKS_TAG).map(|v| parse_ids(v))
    }

    /// The deploy key ids recorded on the app; `None` when the tag is missing.
    pub fn recorded_keys(&self) -> Option<Vec<u64>> {
        self.tags.get(KEYS_TAG).map(|v| parse_ids(v))
    }
}

/// The repository's hooks and deploy keys at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hooks: Vec<Hook>,
    /// `None`: not looked at, or the token may not list deploy keys (that takes `repo` or
    /// "Administration: read", which the Amplify GitHub App flow does not need).
    pub keys: Option<Vec<DeployKey>>,
}

/// Whether a listing of deploy keys was refused for want of a permission, which is no
/// error while no deploy key is expected.
pub fn is_refusal(err: &GitHubError) -> bool {
    err.is_forbidden() || err.is_not_found()
}

/// The repository's hooks, and its deploy keys when `keys` (a refused key listing gives
/// `None`; any other failure is an error).
pub async fn snapshot(client: &GitHub, owner: &str, repo: &str, keys: bool) -> Result<Snapshot> {
    let list_keys = async {
        if !keys {
            return Ok(None);
        }
        match client.deploy_keys(owner, repo).await {
            Ok(keys) => Ok(Some(keys)),
            Err(err) if is_refusal(&err) => {
                tracing::debug!(error = %err, "deploy keys not listed");
                Ok(None)
            }
            Err(err) => Err(err),
        }
    };
    let (hooks, keys) = tokio::try_join!(client.hooks(owner, repo), list_keys)?;
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

/// The fallback when the app carries no records: the region's unified webhook (AWS
/// documents "a single webhook per Region"; users saw it at
/// `https://{id}.execute-api.{region}.amazonaws.com/prod/github`), or an AWS hook whose URL
/// carries the app id (older per-app hooks, as AWS support describes them in
/// aws-amplify/amplify-hosting#824). Another region's unified hook never matches.
pub fn matches_amplify_hook(url: &str, app_id: &str, region: &str) -> bool {
    if !is_aws_hook(url) {
        return false;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let unified = host.ends_with(&format!(".execute-api.{region}.amazonaws.com"))
        && parsed.path().trim_end_matches('/') == "/prod/github";
    unified || (!app_id.is_empty() && url.contains(app_id))
}

/// A key titled for this app. AWS documents no title; this only serves as the fallback
/// when the app carries no records.
pub fn matches_amplify_key(key: &DeployKey, app_id: &str) -> bool {
    !app_id.is_empty()
        && key.title.contains(app_id)
        && key.title.to_ascii_lowercase().contains("amplify")
}

/// What Amplify added, as chatctl records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub hooks: Vec<u64>,
    /// `None`: Amplify clones over SSH but the token could not list deploy keys.
    pub keys: Option<Vec<u64>>,
}

/// What `app`'s creation added: the new AWS hooks, and, unless Amplify clones through the
/// GitHub App, the new read-only deploy keys (Amplify's is "a read-only deploy key"). Keys
/// listed only afterwards are matched by title, as no difference can be made.
pub fn additions(before: &Snapshot, after: &Snapshot, app: &App) -> Recorded {
    let old_hooks: BTreeSet<u64> = before.hooks.iter().map(|h| h.id).collect();
    let hooks = after
        .hooks
        .iter()
        .filter(|h| !old_hooks.contains(&h.id) && is_aws_hook(h.url()))
        .map(|h| h.id)
        .collect();
    let keys = if app.clones_through_github_app() {
        Some(Vec::new())
    } else {
        match (&before.keys, &after.keys) {
            (Some(old), Some(new)) => Some(
                new.iter()
                    .filter(|k| k.read_only && !old.iter().any(|o| o.id == k.id))
                    .map(|k| k.id)
                    .collect(),
            ),
            (None, Some(new)) => Some(
                new.iter()
                    .filter(|k| matches_amplify_key(k, &app.id))
                    .map(|k| k.id)
                    .collect(),
            ),
            (_, None) => None,
        }
    };
    Recorded { hooks, keys }
}

pub fn join_ids(ids: &BTreeSet<u64>) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}

pub fn parse_ids(text: &str) -> Vec<u64> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '+')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Tags the app with what Amplify added, merged with what was recorded before, without
/// ids no longer on the repository.
pub async fn record(ctx: &Ctx, app: &App, before: &Snapshot, after: &Snapshot) -> Result<Recorded> {
    let added = additions(before, after, app);
    let present_hooks: BTreeSet<u64> = after.hooks.iter().map(|h| h.id).collect();
    let mut hooks: BTreeSet<u64> = app
        .recorded_hooks()
        .unwrap_or_default()
        .into_iter()
        .collect();
    hooks.extend(&added.hooks);
    hooks.retain(|id| present_hooks.contains(id));
    let keys = match (&added.keys, &after.keys) {
        (Some(new), Some(listed)) => {
            let mut keys: BTreeSet<u64> = app
                .recorded_keys()
                .unwrap_or_default()
                .into_iter()
                .collect();
            keys.extend(new);
            keys.retain(|id| listed.iter().any(|k| k.id == *id));
            Some(keys)
        }
        (Some(new), None) => Some(new.iter().copied().collect()),
        (None, _) => None,
    };
    tag(&ctx.aws.amplify, &app.arn, &hooks, keys.as_ref()).await?;
    Ok(Recorded {
        hooks: hooks.into_iter().collect(),
        keys: keys.map(|k| k.into_iter().collect()),
    })
}

/// Writes the records (TagResource adds to the app's tags; a key record left out stays as
/// it was).
pub async fn tag(
    client: &aws_sdk_amplify::Client,
    arn: &str,
    hooks: &BTreeSet<u64>,
    keys: Option<&BTreeSet<u64>>,
) -> Result<()> {
    let mut request = client
        .tag_resource()
        .resource_arn(arn)
        .tags(HOOKS_TAG, join_ids(hooks));
    if let Some(keys) = keys {
        request = request.tags(KEYS_TAG, join_ids(keys));
    }
    request
        .send()
        .await
        .map_err(|e| aws_error(&format!("recording GitHub ids on {arn}"), &e))?;
    Ok(())
}
