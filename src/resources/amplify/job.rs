//! Builds of the branch: the newest one is observed, a RELEASE build starts when what the
//! build bakes into the site changed (or the branch never built), and `up --wait` follows it.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_amplify::types::{JobStatus, JobType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use super::app::repository_changed;
use super::environment::{WEBSOCKET_URL_VARIABLE, auth_differences};
use super::{Desired, Observed, branch};
use crate::plan::{Action, Step};
use crate::resources::{Ctx, absent_if, aws_error};

pub const KIND: &str = "amplify build";
/// Wait between GetJob calls while following a build.
pub const POLL: Duration = Duration::from_secs(5);
/// How long `up --wait` follows a build before giving up (Amplify's own build timeout
/// defaults to 30 minutes).
pub const TIMEOUT: Duration = Duration::from_mins(30);

/// [`POLL`] scaled by `CHATCTL_RETRY_SCALE`, so end-to-end tests follow builds quickly.
pub fn poll() -> Duration {
    crate::retry::scaled(POLL)
}

/// The last build of the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobInfo {
    pub id: String,
    pub status: String,
    pub job_type: String,
    pub commit_id: String,
    /// Epoch seconds.
    pub started: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<i64>,
}

impl JobInfo {
    fn from_summary(job: &aws_sdk_amplify::types::JobSummary) -> Self {
        Self {
            id: job.job_id().to_owned(),
            status: job.status().as_str().to_owned(),
            job_type: job.job_type().as_str().to_owned(),
            commit_id: job.commit_id().to_owned(),
            started: job.start_time().secs(),
            ended: job.end_time().map(aws_smithy_types::DateTime::secs),
        }
    }

    pub fn is_finished(&self) -> bool {
        is_final(&self.status)
    }

    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "CANCELLED")
    }
}

fn is_final(status: &str) -> bool {
    matches!(status, "SUCCEED" | "FAILED" | "CANCELLED")
}

/// The newest job of a branch, if any.
pub async fn observe(ctx: &Ctx, app_id: &str, branch: &str) -> Result<Option<JobInfo>> {
    let out = absent_if(
        ctx.aws
            .amplify
            .list_jobs()
            .app_id(app_id)
            .branch_name(branch)
            .max_results(1)
            .send()
            .await,
        // ListJobs models no NotFoundException, but a missing branch answers one.
        |e| e.code() == Some("NotFoundException"),
    )
    .map_err(|e| aws_error(&format!("listing builds of {app_id}/{branch}"), &e))?;
    Ok(out.and_then(|o| o.job_summaries().first().map(JobInfo::from_summary)))
}

/// Why a build must start, if it must: the branch is new, it never built, or what the build
/// bakes into the site (the WebSocket URL, the sign-in settings, the build spec) changed.
pub fn build_reason(observed: &Observed, desired: &Desired) -> Option<&'static str> {
    let Some(app) = observed.primary() else {
        return Some("first build");
    };
    if repository_changed(app, desired) {
        return Some("first build");
    }
    if observed.branch.is_none() {
        return Some("first build of the new branch");
    }
    if observed.last_job.is_none() {
        return Some("the branch has never been built");
    }
    let deployed_url = app.environment.get(WEBSOCKET_URL_VARIABLE);
    if desired.websocket_url.as_ref() != deployed_url {
        return Some("the WebSocket URL changed");
    }
    if !auth_differences(&app.environment, desired.auth.as_ref()).is_empty() {
        return Some("the sign-in settings changed");
    }
    if let Some(spec) = &desired.build_spec
        && app.build_spec.as_ref() != Some(spec)
    {
        return Some("the build spec changed");
    }
    None
}

pub fn plan(observed: &Observed, desired: &Desired) -> Step {
    let name = branch::label(desired, &desired.branch);
    match build_reason(observed, desired) {
        Some(reason) => {
            Step::new(KIND, name, Action::Create).with_note(format!("RELEASE: {reason}"))
        }
        None => {
            let step = Step::new(KIND, name, Action::Keep);
            match &observed.last_job {
                Some(job) => step.with_note(format!("last build {}: {}", job.id, job.status)),
                None => step,
            }
        }
    }
}

/// Where a started build can be followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRef {
    pub app_id: String,
    pub branch: String,
    pub job_id: String,
}

/// Starts a RELEASE build of the branch's latest commit.
pub async fn start(ctx: &Ctx, app_id: &str, branch: &str) -> Result<JobRef> {
    let out = ctx
        .aws
        .amplify
        .start_job()
        .app_id(app_id)
        .branch_name(branch)
        .job_type(JobType::Release)
        .job_reason("chatctl up")
        .send()
        .await
        .map_err(|e| aws_error(&format!("starting a build of {app_id}/{branch}"), &e))?;
    let job_id = out
        .job_summary()
        .map(|s| s.job_id().to_owned())
        .ok_or_else(|| anyhow::anyhow!("StartJob answered without a job"))?;
    Ok(JobRef {
        app_id: app_id.to_owned(),
        branch: branch.to_owned(),
        job_id,
    })
}

/// The end of a build, as [`wait`] saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    pub app_id: String,
    pub branch: String,
    pub job_id: String,
    pub status: String,
    pub steps: Vec<JobStep>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStep {
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl JobReport {
    pub fn succeeded(&self) -> bool {
        self.status == JobStatus::Succeed.as_str()
    }

    /// An error naming the failed step and its log when the build did not succeed.
    pub fn into_result(self) -> Result<Self> {
        if self.succeeded() {
            return Ok(self);
        }
        bail!("{self}")
    }
}

impl fmt::Display for JobReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Amplify build {} of {}/{}: {} after {:.0} s",
            self.job_id, self.app_id, self.branch, self.status, self.seconds
        )?;
        if !self.succeeded() {
            for step in self.steps.iter().filter(|s| s.status != "SUCCEED") {
                write!(f, "\n  step {}: {}", step.name, step.status)?;
                if let Some(reason) = &step.reason {
                    write!(f, " ({reason})")?;
                }
                if let Some(url) = &step.log_url {
                    write!(f, " — log: {url}")?;
                }
            }
        }
        Ok(())
    }
}

/// Follows a build to its end (for `up --wait`), polling every `poll` up to `timeout`.
pub async fn wait(ctx: &Ctx, job: &JobRef, poll: Duration, timeout: Duration) -> Result<JobReport> {
    let started = Instant::now();
    let task = ctx.ui.task(format!(
        "  wait    {KIND} {} of {}/{}",
        job.job_id, job.app_id, job.branch
    ));
    let mut last_status = String::new();
    loop {
        let out = ctx
            .aws
            .amplify
            .get_job()
            .app_id(&job.app_id)
            .branch_name(&job.branch)
            .job_id(&job.job_id)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &format!(
                        "reading build {} of {}/{}",
                        job.job_id, job.app_id, job.branch
                    ),
                    &e,
                )
            });
        let out = match out {
            Ok(out) => out,
            Err(err) => {
                task.failed(&format!("{err:#}"));
                return Err(err);
            }
        };
        let details = out.job();
        let status = details
            .and_then(|j| j.summary())
            .map_or("PENDING", |s| s.status().as_str())
            .to_owned();
        let steps: Vec<JobStep> = details
            .map(|j| {
                j.steps()
                    .iter()
                    .map(|s| JobStep {
                        name: s.step_name().to_owned(),
                        status: s.status().as_str().to_owned(),
                        log_url: s.log_url().map(str::to_owned),
                        reason: s.status_reason().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if status != last_status {
            task.waiting(&status);
            last_status.clone_from(&status);
        }
        if is_final(&status) {
            let report = JobReport {
                app_id: job.app_id.clone(),
                branch: job.branch.clone(),
                job_id: job.job_id.clone(),
                status,
                steps,
                seconds: started.elapsed().as_secs_f64(),
            };
            if report.succeeded() {
                task.done();
            } else {
                task.failed(&report.status);
            }
            return Ok(report);
        }
        if started.elapsed() + poll > timeout {
            task.failed("timed out");
            bail!(
                "Amplify build {} of {}/{} is still {status} after {} s; follow it in the Amplify console",
                job.job_id,
                job.app_id,
                job.branch,
                timeout.as_secs()
            );
        }
        tokio::time::sleep(poll).await;
    }
}
