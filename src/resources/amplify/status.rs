//! The frontend's part of `status`: the site, the last build, and what was recorded about
//! GitHub.

use serde::Serialize;

use super::Observed;
use super::app::site_url;
use super::job::JobInfo;

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
    /// How Amplify clones the repository (`TOKEN`: the Amplify GitHub App; `SSH`: a
    /// deploy key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clone_method: Option<String>,
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
        clone_method: app.clone_method.clone(),
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
        && job.failed()
    {
        warnings.push(format!(
            "the last Amplify build ({}) of {} {}: see the Amplify console for its log",
            job.id,
            app.id,
            job.status.to_ascii_lowercase()
        ));
    }
    if app.recorded_hooks().is_none() {
        warnings.push(format!(
            "Amplify app {} has no record of the GitHub webhook it added; `down` will match the region's Amplify webhook by URL",
            app.id
        ));
    }
    if app.recorded_keys().is_none() && !app.clones_through_github_app() {
        warnings.push(format!(
            "Amplify app {} clones {} over SSH and has no record of its deploy key; `down` will look for a key titled with the app id, which needs {}",
            app.id,
            app.repository,
            crate::github::DEPLOY_KEY_PERMISSIONS
        ));
    }
    warnings
}
