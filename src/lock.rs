//! The stack lock, held by at most one chatctl run per stack while it writes.
//!
//! CloudWatch Logs offers two atomic "create unless it exists" operations and nothing
//! conditional besides (no conditional delete, no compare-and-set on tags; PutLogEvents'
//! sequence tokens are ignored since 2023). The lock is built on those two:
//!
//! - **The lock** is the log group `/chatctl/{stack}/lock`, created with CreateLogGroup (which
//!   fails when it exists) and tagged at creation with the stack and region, its owner and a
//!   lease. Its creation time (`C`, milliseconds, the server's clock) names this incarnation
//!   of the lock.
//! - **Leases** are log streams `lease-{C}-{generation}` in the group. The creator holds
//!   generation 0; whoever takes over a stale lease of generation `n` must create the stream
//!   of generation `n + 1`, and CreateLogStream lets exactly one of several racing takers do
//!   that. The holder is the latest generation's; its stream's newest event says who holds
//!   it and until when (`owner=… expires=…`, or `owner=… released`). A stream without an
//!   event yet is a takeover in progress, held for [`Timing::claim`] after its creation.
//! - **A holder writes only into its own generation's stream** (renewals, a release record)
//!   and deletes the group only while its own lease is valid. A holder that wakes after its
//!   lease ran out therefore cannot extend or delete a newer holder's lock: its renewals land
//!   in a generation nobody reads any more, or in a stream of an incarnation that no longer
//!   exists; it never deletes.
//! - **Time.** A holder treats its lease as over [`Timing::margin`] before it expires; others
//!   treat it as over [`Timing::grace`] after. That covers clock skew between machines and the
//!   time a request takes (lock requests have their own short timeout).
//! - **A dead holder** is recognised before its lease ends only when it ran on this machine,
//!   in this boot and in this PID namespace (a container sharing the host name does not
//!   count) and its process (PID and start time, so a reused PID does not count) is gone.
//!
//! docs/decisions.md ("The stack lock") has the reasoning and the limits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use aws_sdk_cloudwatchlogs::types::{InputLogEvent, OrderBy};
use tokio::task::JoinHandle;

use crate::ownership::Claim;
use crate::resources::{Ctx, absent_if, aws_error, log_groups};
use crate::retry::scaled;

const OWNER_TAG: &str = "chatctl:lock-owner";
const EXPIRES_TAG: &str = "chatctl:lock-expires";
const LEASE_PREFIX: &str = "lease-";

/// How long leases last and how the lock waits.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A lease's length; renewed every `renew_every` while the holder works.
    pub lease: Duration,
    pub renew_every: Duration,
    /// The holder treats its lease as over this long before it expires: it stops renewing
    /// and does not delete the lock any more.
    pub margin: Duration,
    /// Others treat a lease as over this long after it expired.
    pub grace: Duration,
    /// A takeover stream without a record yet is held this long after its creation.
    pub claim: Duration,
    /// How long a run waits for a live holder before giving up.
    pub wait_limit: Duration,
    pub poll: Duration,
    /// The timeout of each lock request: shorter than `margin`, so a request that was sent
    /// while the lease was valid cannot land after others may take it over.
    pub request_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            lease: Duration::from_mins(10),
            renew_every: Duration::from_mins(2),
            margin: Duration::from_mins(1),
            grace: Duration::from_secs(30),
            claim: Duration::from_mins(2),
            wait_limit: scaled(Duration::from_mins(15)),
            poll: Duration::from_millis(500),
            request_timeout: Duration::from_secs(20),
        }
    }
}

pub struct StackLock {
    ctx: Ctx,
    name: String,
    owner: String,
    /// The stream of our generation.
    stream: String,
    timing: Timing,
    /// Our lease's end (epoch milliseconds), advanced by the renewer.
    expires: Arc<AtomicU64>,
    /// Set when our lease ran out while we held it.
    lapsed: Arc<AtomicBool>,
    renewer: JoinHandle<()>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Who holds the lock, as read from AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    /// The lock's incarnation: the group's creation time.
    incarnation: i64,
    generation: u64,
    owner: String,
    /// End of the lease (epoch milliseconds); 0 when released.
    expires: u64,
}

impl Holder {
    /// Whether another run may take the lock over now.
    fn is_stale(&self, now: u64, timing: &Timing) -> bool {
        self.expires.saturating_add(ms(timing.grace)) <= now || identity::is_dead_here(&self.owner)
    }
}

fn stream_name(incarnation: i64, generation: u64) -> String {
    format!("{LEASE_PREFIX}{incarnation}-{generation:08}")
}

fn generation_of(stream: &str) -> Option<u64> {
    stream.rsplit('-').next()?.parse().ok()
}

fn record(owner: &str, expires: Option<u64>) -> String {
    match expires {
        Some(expires) => format!("owner={owner} expires={expires}"),
        None => format!("owner={owner} released"),
    }
}

/// (owner, lease end in epoch ms; 0 when released) of a lease record.
fn parse_record(message: &str) -> Option<(String, u64)> {
    let rest = message.strip_prefix("owner=")?;
    let (owner, tail) = rest.rsplit_once(' ')?;
    let expires = if tail == "released" {
        0
    } else {
        tail.strip_prefix("expires=")?.parse().ok()?
    };
    Some((owner.to_owned(), expires))
}

impl StackLock {
    /// Takes the lock, waiting for a live holder and taking over a stale one.
    pub async fn acquire(ctx: &Ctx) -> Result<Self> {
        Self::acquire_with(ctx, Timing::default()).await
    }

    pub async fn acquire_with(ctx: &Ctx, timing: Timing) -> Result<Self> {
        let name = ctx.names.lock_log_group.clone();
        let owner = identity::current();
        let started = Instant::now();
        let mut told = None::<String>;
        loop {
            if let Some(lock) = Self::try_create(ctx, &name, &owner, timing).await? {
                return Ok(lock);
            }
            let holder = read_holder(ctx, &name, timing).await?;
            if let Some(holder) = &holder {
                if holder.is_stale(now_ms(), &timing) {
                    if let Some(lock) =
                        Self::try_take_over(ctx, &name, &owner, holder, timing).await?
                    {
                        ctx.ui.note(&format!(
                            "took over the stack lock from {} (its run ended without releasing it)",
                            holder.owner
                        ));
                        return Ok(lock);
                    }
                } else if told.as_deref() != Some(holder.owner.as_str()) {
                    ctx.ui.note(&format!(
                        "waiting for another chatctl run on stack {} to finish (lock held by {})",
                        ctx.names.stack, holder.owner
                    ));
                    told = Some(holder.owner.clone());
                }
            }
            if started.elapsed() > timing.wait_limit {
                bail!(
                    "stack {} is locked by another chatctl run ({}); if no run is active, the lock frees itself when its lease ends, or delete the log group {name} and retry",
                    ctx.names.stack,
                    holder.map_or_else(|| "unknown owner".to_owned(), |h| h.owner)
                );
            }
            tokio::time::sleep(timing.poll).await;
        }
    }

    /// Creates the lock (generation 0); `None` when it exists.
    async fn try_create(
        ctx: &Ctx,
        name: &str,
        owner: &str,
        timing: Timing,
    ) -> Result<Option<Self>> {
        let expires = now_ms().saturating_add(ms(timing.lease));
        let mut tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
        tags.insert(OWNER_TAG.to_owned(), owner.to_owned());
        tags.insert(EXPIRES_TAG.to_owned(), expires.to_string());
        let created = ctx
            .aws
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags))
            .customize()
            .config_override(short_timeout(timing))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws_error(&format!("taking the stack lock {name}"), &e)),
        }
        // Our generation's stream, for renewals. Until it has a record the tags stand for it.
        let Some(group) = log_groups::find(ctx, name).await? else {
            // Deleted at once: by hand, since only a holder deletes it. Start over.
            return Ok(None);
        };
        let incarnation = group.creation_ms;
        let stream = stream_name(incarnation, 0);
        if !create_stream(ctx, name, &stream, timing).await? {
            // Only someone else's hands can make this fail; our lease is fresh, so the
            // lock is still ours to delete. Start over.
            log_groups::delete(ctx, name).await?;
            return Ok(None);
        }
        let lock = Self::hold(ctx, name, owner, stream, expires, timing);
        lock.write(Some(expires)).await?;
        tracing::debug!(%owner, "stack lock taken");
        Ok(Some(lock))
    }

    /// Takes over the stale lease of `stale`: exactly one taker creates the next
    /// generation's stream. `None` when another run got there first.
    async fn try_take_over(
        ctx: &Ctx,
        name: &str,
        owner: &str,
        stale: &Holder,
        timing: Timing,
    ) -> Result<Option<Self>> {
        let generation = stale.generation + 1;
        let stream = stream_name(stale.incarnation, generation);
        let started = now_ms();
        if !create_stream(ctx, name, &stream, timing).await? {
            return Ok(None);
        }
        // The stream is ours; is it in the incarnation we judged? A lock deleted and created
        // again since then has another creation time, and a stream named for the old one is
        // read by nobody.
        let same_lock = log_groups::find(ctx, name)
            .await?
            .is_some_and(|g| g.creation_ms == stale.incarnation);
        if !same_lock {
            return Ok(None);
        }
        let expires = now_ms().saturating_add(ms(timing.lease));
        let lock = Self::hold(ctx, name, owner, stream, expires, timing);
        lock.write(Some(expires)).await?;
        // Others treat a stream without a record as held for `claim` after its creation:
        // the takeover counts only if the record landed well inside that window.
        let in_time =
            now_ms() < started.saturating_add(ms(timing.claim).saturating_sub(ms(timing.margin)));
        let still_ours = read_holder(ctx, name, timing)
            .await?
            .is_some_and(|h| h.generation == generation && h.owner == owner);
        if in_time && still_ours {
            return Ok(Some(lock));
        }
        lock.renewer.abort();
        lock.write(None).await?;
        Ok(None)
    }

    fn hold(
        ctx: &Ctx,
        name: &str,
        owner: &str,
        stream: String,
        expires: u64,
        timing: Timing,
    ) -> Self {
        let expires = Arc::new(AtomicU64::new(expires));
        let lapsed = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(
            ctx.clone(),
            name.to_owned(),
            owner.to_owned(),
            stream.clone(),
            timing,
            expires.clone(),
            lapsed.clone(),
        ));
        Self {
            ctx: ctx.clone(),
            name: name.to_owned(),
            owner: owner.to_owned(),
            stream,
            timing,
            expires,
            lapsed,
            renewer,
        }
    }

    /// Writes a record into our own generation's stream: a lease until `expires`, or the
    /// release (`None`). Nobody else writes there, and only the newest generation is read,
    /// so this can never extend or free another holder's lease.
    async fn write(&self, expires: Option<u64>) -> Result<()> {
        put_record(
            &self.ctx,
            &self.name,
            &self.stream,
            &record(&self.owner, expires),
            self.timing,
        )
        .await
    }

    /// Whether our lease still holds, with the margin.
    fn valid(&self) -> bool {
        !self.lapsed.load(Ordering::SeqCst)
            && now_ms().saturating_add(ms(self.timing.margin)) < self.expires.load(Ordering::SeqCst)
    }

    /// This holder's generation and owner, for tests.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Releases the lock. While our lease holds nobody can have taken it over, so the group
    /// is deleted; after it ran out another run may hold it now, so we only record the
    /// release in our own stream and leave the group.
    pub async fn release(self) -> Result<()> {
        self.renewer.abort();
        if self.valid() {
            return log_groups::delete(&self.ctx, &self.name).await;
        }
        self.ctx.ui.warn(&format!(
            "the stack lock's lease ran out while this run worked; another run may hold the lock {} now, so it was left in place",
            self.name
        ));
        // The stream is gone with a lock that a newer holder released: nothing to record.
        let _ = self.write(None).await;
        Ok(())
    }

    /// Stops renewing without releasing, as a run that hangs or is suspended would.
    /// For tests of what happens to a lease that runs out.
    pub fn stop_renewing(&self) {
        self.renewer.abort();
    }

    /// One renewal as the renewer does it, for tests: refused (and no write made) once the
    /// lease ran out.
    pub async fn renew_now(&self) -> Result<bool> {
        renew_once(
            &self.ctx,
            &self.name,
            &self.owner,
            &self.stream,
            self.timing,
            &self.expires,
            &self.lapsed,
        )
        .await
    }
}

fn short_timeout(timing: Timing) -> aws_sdk_cloudwatchlogs::config::Builder {
    aws_sdk_cloudwatchlogs::config::Builder::default().timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(timing.request_timeout)
            .operation_attempt_timeout(timing.request_timeout)
            .build(),
    )
}

/// Creates a stream in the lock group; `false` when it exists or the group is gone.
async fn create_stream(ctx: &Ctx, group: &str, stream: &str, timing: Timing) -> Result<bool> {
    let created = ctx
        .aws
        .logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .customize()
        .config_override(short_timeout(timing))
        .send()
        .await;
    match created {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_resource_already_exists_exception() || s.is_resource_not_found_exception()
            }) =>
        {
            Ok(false)
        }
        Err(e) => Err(aws_error(
            &format!("taking over the stack lock {group}"),
            &e,
        )),
    }
}

async fn put_record(
    ctx: &Ctx,
    group: &str,
    stream: &str,
    message: &str,
    timing: Timing,
) -> Result<()> {
    let event = InputLogEvent::builder()
        .timestamp(i64::try_from(now_ms()).unwrap_or(i64::MAX))
        .message(message)
        .build()
        .map_err(|e| anyhow::anyhow!("building a lock record: {e}"))?;
    ctx.aws
        .logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .log_events(event)
        .customize()
        .config_override(short_timeout(timing))
        .send()
        .await
        .map_err(|e| aws_error(&format!("writing the stack lock {group}"), &e))?;
    Ok(())
}

/// The current holder, if the lock exists.
async fn read_holder(ctx: &Ctx, name: &str, timing: Timing) -> Result<Option<Holder>> {
    let Some(group) = log_groups::find(ctx, name).await? else {
        return Ok(None);
    };
    let logs = &ctx.aws.logs;
    let prefix = format!("{LEASE_PREFIX}{}-", group.creation_ms);
    let (tags, streams) = tokio::join!(
        logs.list_tags_for_resource()
            .resource_arn(&group.arn)
            .send(),
        logs.describe_log_streams()
            .log_group_name(name)
            .log_stream_name_prefix(&prefix)
            .order_by(OrderBy::LogStreamName)
            .descending(true)
            .limit(1)
            .send()
    );
    let reading = |e: &dyn std::fmt::Display| anyhow::anyhow!("reading the stack lock {name}: {e}");
    // Deleted between the reads: free.
    let Some(tags) = absent_if(tags, |e| e.is_resource_not_found_exception())
        .map_err(|e| reading(&crate::resources::describe(&e)))?
    else {
        return Ok(None);
    };
    let Some(streams) = absent_if(streams, |e| e.is_resource_not_found_exception())
        .map_err(|e| reading(&crate::resources::describe(&e)))?
    else {
        return Ok(None);
    };
    let tags = tags.tags().cloned().unwrap_or_default();
    let claim = Claim::of(&ctx.names, &tags);
    if !claim.is_ours_regional() {
        bail!(
            "the log group {name} is not this stack's lock ({}): chatctl leaves it alone; delete or rename it yourself, or give the stack other names",
            claim.reason()
        );
    }
    let latest = streams
        .log_streams()
        .first()
        .and_then(|s| Some((s.log_stream_name()?.to_owned(), s.creation_time())));
    let Some((stream, created)) = latest else {
        // Generation 0 before its first record (or a lock of an earlier chatctl, without
        // streams): the tags. A lock without a lease counts as expired.
        return Ok(Some(Holder {
            incarnation: group.creation_ms,
            generation: 0,
            owner: tags.get(OWNER_TAG).cloned().unwrap_or_default(),
            expires: tags
                .get(EXPIRES_TAG)
                .and_then(|e| lease_end(e))
                .unwrap_or(0),
        }));
    };
    let generation = generation_of(&stream).unwrap_or_default();
    let events = logs
        .get_log_events()
        .log_group_name(name)
        .log_stream_name(&stream)
        .start_from_head(false)
        .limit(1)
        .send()
        .await;
    let Some(events) = absent_if(events, |e| e.is_resource_not_found_exception())
        .map_err(|e| reading(&crate::resources::describe(&e)))?
    else {
        return Ok(None);
    };
    let newest = events
        .events()
        .last()
        .and_then(|e| e.message())
        .and_then(parse_record);
    Ok(Some(match newest {
        Some((owner, expires)) => Holder {
            incarnation: group.creation_ms,
            generation,
            owner,
            expires,
        },
        // A takeover in progress: its taker writes its record at once.
        None => Holder {
            incarnation: group.creation_ms,
            generation,
            owner: format!("a run taking over ({stream})"),
            expires: u64::try_from(created.unwrap_or_default())
                .unwrap_or_default()
                .saturating_add(ms(timing.claim)),
        },
    }))
}

/// A lease end from the tag: epoch milliseconds, or the epoch seconds earlier chatctl wrote.
fn lease_end(tag: &str) -> Option<u64> {
    let value: u64 = tag.parse().ok()?;
    Some(if value < 100_000_000_000 {
        value * 1000
    } else {
        value
    })
}

async fn renew(
    ctx: Ctx,
    name: String,
    owner: String,
    stream: String,
    timing: Timing,
    expires: Arc<AtomicU64>,
    lapsed: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(timing.renew_every).await;
        match renew_once(&ctx, &name, &owner, &stream, timing, &expires, &lapsed).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => tracing::warn!(error = %err, "could not renew the stack lock lease"),
        }
    }
}

/// Extends our lease if it still holds (with the margin); `false` once it ran out, and
/// then it never writes again.
async fn renew_once(
    ctx: &Ctx,
    name: &str,
    owner: &str,
    stream: &str,
    timing: Timing,
    expires: &AtomicU64,
    lapsed: &AtomicBool,
) -> Result<bool> {
    if lapsed.load(Ordering::SeqCst)
        || now_ms().saturating_add(ms(timing.margin)) >= expires.load(Ordering::SeqCst)
    {
        lapsed.store(true, Ordering::SeqCst);
        tracing::warn!("the stack lock's lease ran out; not renewing it");
        return Ok(false);
    }
    let next = now_ms().saturating_add(ms(timing.lease));
    put_record(ctx, name, stream, &record(owner, Some(next)), timing).await?;
    expires.store(next, Ordering::SeqCst);
    Ok(true)
}

/// Who a run is: enough to tell, on this machine, whether its process is gone.
mod identity {
    /// `host/boot/pidns/pid/start/nonce`, in characters CloudWatch Logs allows in tags.
    pub fn current() -> String {
        let pid = std::process::id();
        format!(
            "{}/{}/{}/{pid}/{}/{:08x}",
            host(),
            boot_id().unwrap_or_else(|| "-".to_owned()),
            pid_namespace().unwrap_or_else(|| "-".to_owned()),
            start_time(pid).unwrap_or_else(|| "-".to_owned()),
            rand::random::<u32>()
        )
    }

    /// Whether `owner` ran on this machine, in this boot and PID namespace, and its
    /// process is gone (or its PID now belongs to a process started later). A PID alone
    /// proves nothing: another host, container or boot has its own PIDs.
    pub fn is_dead_here(owner: &str) -> bool {
        let parts: Vec<&str> = owner.split('/').collect();
        let [host_part, boot, pidns, pid, start, _nonce] = parts.as_slice() else {
            return false;
        };
        let here =
            |ours: Option<String>, theirs: &str| ours.is_some_and(|o| o == theirs && theirs != "-");
        if *host_part != host()
            || !here(boot_id(), boot)
            || !here(pid_namespace(), pidns)
            || *start == "-"
        {
            return false;
        }
        let Ok(pid) = pid.parse::<u32>() else {
            return false;
        };
        start_time(pid).is_none_or(|now| now != *start)
    }

    fn host() -> String {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".to_owned());
        name.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(64)
            .collect()
    }

    fn boot_id() -> Option<String> {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
    }

    /// The PID namespace's inode (`pid:[4026531836]` → `4026531836`).
    fn pid_namespace() -> Option<String> {
        let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
        let text = link.to_string_lossy();
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    }

    /// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
    pub(super) fn start_time(pid: u32) -> Option<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
        let (_, rest) = stat.rsplit_once(')')?;
        rest.split_whitespace().nth(19).map(str::to_owned)
    }

    #[cfg(test)]
    pub(super) fn with(host_part: &str, boot: &str, pidns: &str, pid: &str, start: &str) -> String {
        format!("{host_part}/{boot}/{pidns}/{pid}/{start}/0")
    }

    #[cfg(test)]
    pub(super) fn parts() -> (String, String, String) {
        (
            host(),
            boot_id().unwrap_or_default(),
            pid_namespace().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owner_is_not_dead() {
        assert!(!identity::is_dead_here(&identity::current()));
    }

    #[test]
    fn a_dead_owner_of_this_machine_boot_and_namespace_is_dead() {
        let (host, boot, pidns) = identity::parts();
        // PIDs are bounded by pid_max (≤ 2^22); this one cannot exist.
        assert!(identity::is_dead_here(&identity::with(
            &host, &boot, &pidns, "99999999", "123"
        )));
        // Our own PID with another start time: the PID was reused by a later process.
        let me = std::process::id().to_string();
        assert!(identity::is_dead_here(&identity::with(
            &host, &boot, &pidns, &me, "1"
        )));
        let start = identity::start_time(std::process::id()).unwrap();
        assert!(!identity::is_dead_here(&identity::with(
            &host, &boot, &pidns, &me, &start
        )));
    }

    #[test]
    fn a_pid_alone_never_proves_a_holder_dead() {
        let (host, boot, pidns) = identity::parts();
        // Same host name but another PID namespace (a container), another boot, another host.
        assert!(!identity::is_dead_here(&identity::with(
            &host, &boot, "1", "99999999", "123"
        )));
        assert!(!identity::is_dead_here(&identity::with(
            &host,
            "other-boot",
            &pidns,
            "99999999",
            "123"
        )));
        assert!(!identity::is_dead_here(&identity::with(
            "other-host",
            &boot,
            &pidns,
            "99999999",
            "123"
        )));
        // Earlier chatctl's `host/pid/nonce`, and garbage.
        assert!(!identity::is_dead_here(&format!("{host}/99999999/0")));
        assert!(!identity::is_dead_here("garbage"));
    }

    #[test]
    fn lease_records_round_trip() {
        assert_eq!(
            parse_record(&record("h/b/n/1/2/x", Some(42))),
            Some(("h/b/n/1/2/x".into(), 42))
        );
        assert_eq!(
            parse_record(&record("h/b/n/1/2/x", None)),
            Some(("h/b/n/1/2/x".into(), 0))
        );
        assert_eq!(parse_record("nonsense"), None);
        assert_eq!(generation_of(&stream_name(1_700_000_000_000, 12)), Some(12));
        // Streams of one incarnation sort by generation.
        assert!(stream_name(5, 9) < stream_name(5, 10));
    }

    #[test]
    fn staleness_counts_the_grace_period() {
        let timing = Timing::default();
        let holder = Holder {
            incarnation: 1,
            generation: 0,
            owner: "remote/b/n/1/2/x".into(),
            expires: 1_000_000,
        };
        assert!(!holder.is_stale(1_000_000 + ms(timing.grace) - 1, &timing));
        assert!(holder.is_stale(1_000_000 + ms(timing.grace), &timing));
        assert_eq!(lease_end("1700000000"), Some(1_700_000_000_000));
        assert_eq!(lease_end("1700000000123"), Some(1_700_000_000_123));
    }
}
