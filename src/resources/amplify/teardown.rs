//! The GitHub bookkeeping of `down`: deleting the stack's Amplify apps and exactly what
//! Amplify added to the repository for them.
//!
//! - plan: [`teardown_plan`] (what `down` will delete) and [`candidates`] (which of the
//!   repository's hooks and keys are the app's: its records, else the fallback matchers),
//!   both pure;
//! - delete: [`destroy`].
//!
//! Amplify keeps "a single webhook per Region for all associated apps in your repository"
//! (user guide, "Unified webhooks for Git repositories"), so the hook stays while another
//! Amplify app of the same region uses the repository — handed over to that app's records
//! when it is a chatctl stack — and apps in other regions never hold it back (they have
//! their own). A deploy key belongs to one app. Nothing is listed that the records say
//! Amplify did not add: with the Amplify GitHub App there is no deploy key, so `down` needs
//! no deploy-key permission.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use anyhow::Result;
use serde::Serialize;

use super::app::{self, App, AppRef, owner_and_repo, repository_key};
use super::records::{
    self, HOOKS_TAG, Snapshot, is_aws_hook, matches_amplify_hook, matches_amplify_key, parse_ids,
};
use super::{GitHubAccess, Observed};
use crate::config::STACK_TAG;
use crate::github::{self, Deletion, DeployKey, GitHub, Hook};
use crate::plan::{Action, Step};
use crate::resources::Ctx;

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
    pub fn merge(&mut self, other: Self) {
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

/// What to look for on GitHub for an app: hooks unless the records say Amplify added none;
/// deploy keys only where Amplify may have added one (recorded, or unrecorded and not
/// cloning through the Amplify GitHub App).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub hooks: bool,
    pub keys: bool,
}

pub fn needs(app: &App) -> Needs {
    Needs {
        hooks: app.recorded_hooks().is_none_or(|ids| !ids.is_empty()),
        keys: match app.recorded_keys() {
            Some(ids) => !ids.is_empty(),
            None => !app.clones_through_github_app(),
        },
    }
}

fn describe(needs: Needs) -> &'static str {
    match (needs.hooks, needs.keys) {
        (true, true) => {
            "Amplify's webhook (unless another Amplify app of the region uses the repository) and this app's deploy key"
        }
        (true, false) => {
            "Amplify's webhook, unless another Amplify app of the region uses the repository"
        }
        (false, true) => "this app's deploy key",
        (false, false) => "nothing (Amplify added nothing for this app)",
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
                    "with its branches; on GitHub: the {} webhook(s) and {} deploy key(s) Amplify added, unless another Amplify app of the region still uses the repository's webhook",
                    hooks.len(),
                    keys.len()
                ),
                _ => format!("with its branches; on GitHub: {}", describe(needs(app))),
            };
            Step::new(app::KIND, app.label(), Action::Delete).with_note(note)
        })
        .collect()
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
                .filter(|h| matches_amplify_hook(h.url(), &app.id, &app.region))
                .cloned(),
        ),
    }
    let listed = snapshot.keys.as_deref().unwrap_or_default();
    match app.recorded_keys() {
        Some(ids) => {
            for id in ids {
                match listed.iter().find(|k| k.id == id) {
                    Some(key) => out.keys.push(key.clone()),
                    None if snapshot.keys.is_some() => out.gone.push(id),
                    None => {}
                }
            }
        }
        None => out.keys.extend(
            listed
                .iter()
                .filter(|k| matches_amplify_key(k, &app.id))
                .cloned(),
        ),
    }
    out
}

/// Deletes the stack's Amplify apps (all of `observed.apps`) and what Amplify added to
/// GitHub for them. Without a token, or when GitHub refuses, the AWS side is still deleted
/// and the result lists what remains on GitHub ([`Teardown::remaining_report`]).
pub async fn destroy(ctx: &Ctx, access: &GitHubAccess, observed: &Observed) -> Result<Teardown> {
    let leaving: BTreeSet<String> = observed.apps.iter().map(|a| a.id.clone()).collect();
    let client = access.client(&ctx.ui)?;
    let mut teardown = Teardown::default();
    for app in &observed.apps {
        let report = destroy_app(ctx, access, client.as_ref(), app, &leaving).await?;
        teardown.apps.push(report);
    }
    Ok(teardown)
}

/// Where to delete by hand what chatctl could not.
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

/// The first other app of the region on `repository` (one whose id is not `leaving`): it
/// still receives its events through the region's webhook.
async fn region_user(
    ctx: &Ctx,
    repository: &str,
    leaving: &BTreeSet<String>,
) -> Result<Option<AppRef>> {
    let key = repository_key(repository);
    Ok(app::list(ctx)
        .await?
        .iter()
        .find(|a| !leaving.contains(&a.id) && key.is_some() && a.repository_key() == key)
        .map(AppRef::of))
}

fn sharing_reason(user: &AppRef) -> String {
    format!(
        "Amplify app {} ({}) in {} still uses the repository, and Amplify keeps one webhook per repository and region",
        user.name, user.id, user.region
    )
}

async fn destroy_app(
    ctx: &Ctx,
    access: &GitHubAccess,
    client: Option<&GitHub>,
    app: &App,
    leaving: &BTreeSet<String>,
) -> Result<AppTeardown> {
    let mut report = AppTeardown {
        app_id: app.id.clone(),
        name: app.name.clone(),
        repository: app.repository.clone(),
        ..AppTeardown::default()
    };
    let Some((owner, repo)) = owner_and_repo(&app.repository) else {
        // Not a GitHub repository (or none): nothing of chatctl's to clean there.
        crate::stack::step(
            ctx,
            Step::new(app::KIND, app.label(), Action::Delete).label(),
            app::delete(ctx, app),
        )
        .await?;
        return Ok(report);
    };
    report.repository = format!("{owner}/{repo}");
    let manual = Manual {
        access,
        owner: &owner,
        repo: &repo,
    };
    let needs = needs(app);
    // Look first, so a bad token is known before anything is deleted; the AWS side goes
    // regardless (the records survive in the report).
    let listing = match client {
        Some(client) if needs.hooks || needs.keys => {
            Some(records::snapshot(client, &owner, &repo, needs.keys).await)
        }
        _ => None,
    };
    let user = if needs.hooks {
        region_user(ctx, &app.repository, leaving).await?
    } else {
        None
    };
    crate::stack::step(
        ctx,
        Step::new(app::KIND, app.label(), Action::Delete).label(),
        app::delete(ctx, app),
    )
    .await?;
    if !needs.hooks && !needs.keys {
        return Ok(report);
    }
    let snapshot =
        match (client, listing) {
            (Some(_), Some(Ok(snapshot))) => snapshot,
            (_, unlooked) => {
                let reason = match unlooked {
                    Some(Err(err)) => format!("{err:#}"),
                    _ => format!(
                        "{} is not set, so chatctl could not delete it",
                        github::TOKEN_ENV
                    ),
                };
                // Even unseen, a webhook another Amplify app uses is not to be deleted by hand.
                let shared = user.as_ref().map(sharing_reason);
                if let Some(reason) = &shared {
                    report.kept_hooks.extend(
                        app.recorded_hooks()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|id| Kept {
                                repository: manual.repository(),
                                id,
                                url: "(not looked up)".to_owned(),
                                reason: reason.clone(),
                            }),
                    );
                }
                report.remaining = unverified(app, needs, shared.is_none(), &manual, &reason);
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
    let mut hooks = found.hooks;
    if let Some(user) = &user
        && !hooks.is_empty()
    {
        let reason = sharing_reason(user);
        let kept: Vec<Kept> = hooks
            .drain(..)
            .map(|hook| Kept {
                repository: manual.repository(),
                id: hook.id,
                url: github::display_url(hook.url()),
                reason: reason.clone(),
            })
            .collect();
        hand_over(ctx, user, &kept).await;
        report.kept_hooks.extend(kept);
    }
    if needs.keys && snapshot.keys.is_none() {
        // The token may list webhooks but not deploy keys.
        report.remaining.extend(unverified_keys(
            app,
            &manual,
            &format!(
                "the token cannot list deploy keys: that takes {}",
                github::DEPLOY_KEY_PERMISSIONS
            ),
        ));
    }
    let repository = manual.repository();
    for hook in hooks {
        let task = ctx.ui.task(format!(
            "- delete  github webhook {} of {repository} ({})",
            hook.id,
            github::display_url(hook.url())
        ));
        match client.delete_hook(&owner, &repo, hook.id).await {
            Ok(deletion) => {
                task.done();
                match deletion {
                    Deletion::Deleted => report.deleted_hooks.push(hook.id),
                    Deletion::AlreadyGone => report.already_gone.push(hook.id),
                }
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
            Ok(deletion) => {
                task.done();
                match deletion {
                    Deletion::Deleted => report.deleted_keys.push(key.id),
                    Deletion::AlreadyGone => report.already_gone.push(key.id),
                }
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
fn unverified(
    app: &App,
    needs: Needs,
    hooks_unshared: bool,
    manual: &Manual<'_>,
    reason: &str,
) -> Vec<Remaining> {
    let mut remaining = Vec::new();
    if needs.hooks && hooks_unshared {
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
                format!(
                    "a webhook whose URL is https://….execute-api.{}.amazonaws.com/prod/github, unless another Amplify app of the region uses this repository",
                    app.region
                ),
                reason.to_owned(),
            )),
        }
    }
    if needs.keys {
        remaining.extend(unverified_keys(app, manual, reason));
    }
    remaining
}

fn unverified_keys(app: &App, manual: &Manual<'_>, reason: &str) -> Vec<Remaining> {
    match app.recorded_keys() {
        Some(ids) => ids
            .into_iter()
            .map(|id| {
                manual.key(
                    Some(id),
                    format!("the read-only deploy key Amplify added for app {}", app.id),
                    reason.to_owned(),
                )
            })
            .collect(),
        None => vec![manual.key(
            None,
            format!(
                "the read-only deploy key Amplify added for app {} (its title names the app)",
                app.id
            ),
            reason.to_owned(),
        )],
    }
}

/// A hook kept for another chatctl stack's app becomes that app's to delete: added to its
/// records, so the last stack of the region to go removes it. Best effort: a failure only
/// means that stack's `down` falls back to matching the hook's URL.
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
    if let Err(err) = records::tag(&ctx.aws.amplify, &user.arn, &hooks, None).await {
        tracing::warn!(app = %user.id, error = %format!("{err:#}"), "could not hand the shared webhook over");
    }
}
