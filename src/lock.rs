//! The stack lock: a CloudWatch Logs log group named after the stack. CreateLogGroup is
//! atomic and fails when the group exists, so exactly one run holds it. Its tags carry the
//! owner and a lease; a holder renews the lease while it works, so a crashed holder blocks
//! others only until the lease runs out — or not at all when it ran on this machine and its
//! process is gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use tokio::task::JoinHandle;

use crate::resources::{Ctx, access_log_group, aws_error};
use crate::retry::scaled;

const OWNER_TAG: &str = "chatctl:lock-owner";
const EXPIRES_TAG: &str = "chatctl:lock-expires";
const LEASE: Duration = Duration::from_mins(10);
const RENEW_EVERY: Duration = Duration::from_mins(2);
const WAIT_LIMIT: Duration = Duration::from_mins(15);
const POLL: Duration = Duration::from_millis(500);

pub struct StackLock {
    ctx: Ctx,
    owner: String,
    /// Our lease's expiry (epoch seconds), advanced by the renewer.
    expires: Arc<AtomicU64>,
    renewer: JoinHandle<()>,
}

/// Releasing within this margin of the lease's end re-checks ownership first.
const RELEASE_MARGIN_SECS: u64 = 60;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// `host/pid/nonce`: enough to tell a dead local holder from a live remote one.
fn new_owner() -> String {
    format!(
        "{}/{}/{:08x}",
        hostname(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Whether the owner ran on this machine and its process no longer exists.
fn owner_is_dead_here(owner: &str) -> bool {
    let mut parts = owner.split('/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    host == hostname()
        && pid.parse::<u32>().is_ok()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl StackLock {
    /// Takes the lock, waiting for a live holder and taking over a stale one.
    pub async fn acquire(ctx: &Ctx) -> Result<Self> {
        let name = ctx.names.lock_log_group.clone();
        let owner = new_owner();
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            let expires = now_secs() + LEASE.as_secs();
            let tags = HashMap::from([
                (OWNER_TAG.to_owned(), owner.clone()),
                (EXPIRES_TAG.to_owned(), expires.to_string()),
                (crate::config::STACK_TAG.to_owned(), ctx.names.stack.clone()),
            ]);
            let created = ctx
                .aws
                .logs
                .create_log_group()
                .log_group_name(&name)
                .set_tags(Some(tags))
                .send()
                .await;
            match created {
                Ok(_) => {
                    tracing::debug!(%owner, "stack lock taken");
                    let expires = Arc::new(AtomicU64::new(expires));
                    let renewer = tokio::spawn(renew(ctx.clone(), name.clone(), expires.clone()));
                    return Ok(Self {
                        ctx: ctx.clone(),
                        owner,
                        expires,
                        renewer,
                    });
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
                Err(e) => return Err(aws_error(&format!("taking the stack lock {name}"), &e)),
            }
            let holder = read_holder(ctx, &name).await?;
            if let Some((holder_owner, expires)) = &holder {
                let stale = *expires <= now_secs() || owner_is_dead_here(holder_owner);
                if stale {
                    ctx.ui.note(&format!(
                        "taking over the stack lock left by {holder_owner} (its run ended without releasing it)"
                    ));
                    access_log_group::delete(ctx, &name).await?;
                    continue;
                }
                if !told {
                    ctx.ui.note(&format!(
                        "waiting for another chatctl run on stack {} to finish (lock held by {holder_owner})",
                        ctx.names.stack
                    ));
                    told = true;
                }
            }
            if started.elapsed() > scaled(WAIT_LIMIT) {
                bail!(
                    "stack {} is locked by another chatctl run ({}); if no run is active, delete the log group {name} and retry",
                    ctx.names.stack,
                    holder.map_or_else(|| "unknown owner".to_owned(), |(o, _)| o)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Releases the lock if this run still owns it. While our lease runs nobody can have
    /// taken the lock over, so only a release near the lease's end reads the owner first.
    pub async fn release(self) -> Result<()> {
        self.renewer.abort();
        let name = &self.ctx.names.lock_log_group;
        if now_secs() + RELEASE_MARGIN_SECS < self.expires.load(Ordering::SeqCst) {
            return access_log_group::delete(&self.ctx, name).await;
        }
        match read_holder(&self.ctx, name).await? {
            Some((owner, _)) if owner == self.owner => {
                access_log_group::delete(&self.ctx, name).await
            }
            _ => Ok(()),
        }
    }
}

/// (owner, lease expiry in epoch seconds) of the current holder, if the lock exists.
async fn read_holder(ctx: &Ctx, name: &str) -> Result<Option<(String, u64)>> {
    let Some(group) = access_log_group::find(ctx, name).await? else {
        return Ok(None);
    };
    let out = ctx
        .aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&group.arn)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading the stack lock {name}"), &e))?;
    let tags = out.tags().cloned().unwrap_or_default();
    let owner = tags.get(OWNER_TAG).cloned().unwrap_or_default();
    // A lock without a lease (someone created the group by hand) counts as expired.
    let expires = tags
        .get(EXPIRES_TAG)
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    Ok(Some((owner, expires)))
}

async fn renew(ctx: Ctx, name: String, lease: Arc<AtomicU64>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let Ok(Some(group)) = access_log_group::find(&ctx, &name).await else {
            continue;
        };
        let expires = now_secs() + LEASE.as_secs();
        match ctx
            .aws
            .logs
            .tag_resource()
            .resource_arn(&group.arn)
            .tags(EXPIRES_TAG, expires.to_string())
            .send()
            .await
        {
            Ok(_) => lease.store(expires, Ordering::SeqCst),
            Err(err) => tracing::warn!(error = %err, "could not renew the stack lock lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_local_owner_is_not_stale() {
        let me = format!("{}/{}/0", hostname(), std::process::id());
        assert!(!owner_is_dead_here(&me));
    }

    #[test]
    fn a_dead_local_owner_is_stale() {
        // PIDs are bounded by pid_max (≤ 2^22); this one cannot exist.
        let ghost = format!("{}/99999999/0", hostname());
        assert!(owner_is_dead_here(&ghost));
    }

    #[test]
    fn a_remote_owner_is_judged_by_its_lease_only() {
        assert!(!owner_is_dead_here("some-other-host/1/0"));
        assert!(!owner_is_dead_here("garbage"));
    }
}
