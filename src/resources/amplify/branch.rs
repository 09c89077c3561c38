//! The app's branch: the configured `[frontend].branch`, tagged for the stack so that a branch
//! chatctl created for a previous `[frontend].branch` is recognised and removed, while
//! branches someone added by hand are left alone. A branch needs no GitHub token: Amplify
//! set the repository up when the app was created.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use aws_sdk_amplify::types::Stage;

use super::Desired;
use crate::config::{Framework, Frontend, Platform, STACK_TAG};
use crate::plan::{Action, FieldChange, Step};
use crate::resources::{Ctx, absent_if, aws_error, collect_pages};

pub const KIND: &str = "amplify branch";
/// Amplify branches list at most 50 per page.
const LIST_PAGE: i32 = 50;

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

/// The branch `framework` Amplify shows and uses to pick its build image defaults.
pub fn framework(frontend: &Frontend) -> &'static str {
    match (frontend.framework, frontend.platform) {
        (Framework::Static, _) => "Web",
        (Framework::Nextjs, Platform::Web) => "Next.js - SSG",
        (Framework::Nextjs, Platform::WebCompute) => "Next.js - SSR",
    }
}

/// The step name of a branch: `{app}:{branch}`.
pub fn label(desired: &Desired, branch: &str) -> String {
    format!("{}:{branch}", desired.name)
}

/// The configured branch of the app, and the branches tagged for this stack that are no
/// longer configured.
pub async fn observe(
    ctx: &Ctx,
    app_id: &str,
    wanted: &str,
) -> Result<(Option<Branch>, Vec<Branch>)> {
    let branches = collect_pages(|token| async move {
        let page = ctx
            .aws
            .amplify
            .list_branches()
            .app_id(app_id)
            .max_results(LIST_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing branches of Amplify app {app_id}"), &e))?;
        let branches = page.branches().iter().map(Branch::from_sdk).collect();
        Ok((branches, page.next_token().map(str::to_owned)))
    })
    .await?;
    let mut configured = None;
    let mut strays = Vec::new();
    for branch in branches {
        if branch.name == wanted {
            configured = Some(branch);
        } else if branch.tags.get(STACK_TAG) == Some(&ctx.names.stack) {
            strays.push(branch);
        }
    }
    Ok((configured, strays))
}

pub fn changes(branch: &Branch, desired: &Desired) -> Vec<FieldChange> {
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

/// The configured branch's step (create when the app is new or replaced), then the deletion
/// of strays.
pub fn plan(
    branch: Option<&Branch>,
    strays: &[Branch],
    desired: &Desired,
    fresh_app: bool,
) -> Vec<Step> {
    let name = label(desired, &desired.branch);
    let mut steps = vec![match branch {
        Some(branch) if !fresh_app => Step::update_or_keep(KIND, name, changes(branch, desired)),
        _ => Step::new(KIND, name, Action::Create),
    }];
    if !fresh_app {
        steps.extend(strays.iter().map(|stray| {
            Step::new(KIND, label(desired, &stray.name), Action::Delete)
                .with_note("no longer [frontend].branch")
        }));
    }
    steps
}

pub async fn create(ctx: &Ctx, app_id: &str, desired: &Desired) -> Result<()> {
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
            aws_error(
                &format!("creating branch {} of Amplify app {app_id}", desired.branch),
                &e,
            )
        })?;
    Ok(())
}

pub async fn update(ctx: &Ctx, app_id: &str, desired: &Desired) -> Result<()> {
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

pub async fn delete(ctx: &Ctx, app_id: &str, branch: &str) -> Result<()> {
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
