//! The stack lock under races, with latency injected so that a lost race would show: exactly
//! one of several runs that see the same stale lock takes it over, a holder whose lease ran
//! out never extends or deletes a lock that is no longer its own, and a holder is judged
//! dead before its lease ends only on evidence stronger than a PID.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chatctl::lock::{StackLock, Timing};
use serde_json::json;
use support::{Emulator, HTTP_BACKEND_TOML, Project, REGION, ctx};

/// Rounds of each race; with latency injected, a takeover that is not exclusive shows in
/// the first round or two.
const ROUNDS: usize = 6;

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn quick() -> Timing {
    Timing {
        lease: Duration::from_secs(60),
        renew_every: Duration::from_secs(20),
        margin: Duration::from_secs(2),
        grace: Duration::from_millis(300),
        claim: Duration::from_secs(10),
        wait_limit: Duration::from_secs(90),
        poll: Duration::from_millis(50),
        request_timeout: Duration::from_secs(10),
    }
}

/// A lock as a run leaves it when it is killed: its lease (here `expires_ms`) still on it.
async fn left_lock(emulator: &Emulator, stack: &str, owner: &str, expires_ms: u64) {
    emulator
        .logs()
        .create_log_group()
        .log_group_name(format!("/chatctl/{stack}/lock"))
        .tags("chatctl:stack", stack)
        .tags("chatctl:region", REGION)
        .tags("chatctl:lock-owner", owner)
        .tags("chatctl:lock-expires", expires_ms.to_string())
        .send()
        .await
        .unwrap();
}

async fn lock_exists(emulator: &Emulator, stack: &str) -> bool {
    let name = format!("/chatctl/{stack}/lock");
    emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(name.as_str()))
}

/// The newest record of the newest lease stream: who holds the lock as others read it.
async fn newest_record(emulator: &Emulator, stack: &str) -> String {
    let logs = emulator.logs();
    let group = format!("/chatctl/{stack}/lock");
    let streams = logs
        .describe_log_streams()
        .log_group_name(&group)
        .log_stream_name_prefix("lease-")
        .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LogStreamName)
        .descending(true)
        .limit(1)
        .send()
        .await
        .unwrap();
    let stream = streams.log_streams()[0]
        .log_stream_name()
        .unwrap()
        .to_owned();
    let events = logs
        .get_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .start_from_head(false)
        .limit(1)
        .send()
        .await
        .unwrap();
    format!(
        "{stream}: {}",
        events.events().last().unwrap().message().unwrap()
    )
}

#[tokio::test]
async fn two_runs_racing_on_one_stale_lock_exactly_one_applies() {
    let emulator = Emulator::start().await;
    emulator.fault(json!({"latency_ms": 25})).await;
    for round in 0..ROUNDS {
        let stage = format!("race{round}");
        let stack = format!("chat-{stage}");
        let mut project = Project::new(&emulator, HTTP_BACKEND_TOML);
        project.set_env("CHATCTL_STAGE", &stage);
        // Left by a run on another machine whose lease ran out an hour ago.
        left_lock(
            &emulator,
            &stack,
            "elsewhere/boot/1/42/7/0",
            now_ms() - 3_600_000,
        )
        .await;
        let (a, b) = tokio::join!(
            project.run(&["up", "--output", "json"]),
            project.run(&["up", "--output", "json"])
        );
        a.assert_code(0);
        b.assert_code(0);
        let applied = [a.json(), b.json()]
            .iter()
            .filter(|r| r["changed"] == true)
            .count();
        assert_eq!(
            applied, 1,
            "round {round}:\n{}\n---\n{}",
            a.stderr, b.stderr
        );
        let took_over = [&a, &b]
            .iter()
            .filter(|r| {
                r.stderr
                    .contains("took over the stack lock from elsewhere/")
            })
            .count();
        assert_eq!(took_over, 1, "round {round}");
        assert_eq!(emulator.stack_apis(&stack).await.len(), 1, "round {round}");
        assert!(
            !lock_exists(&emulator, &stack).await,
            "released, round {round}"
        );
    }
}

#[tokio::test]
async fn racing_takers_of_a_stale_lock_hold_it_one_at_a_time() {
    let emulator = Emulator::start().await;
    emulator.fault(json!({"latency_ms": 20})).await;
    for round in 0..ROUNDS {
        let stack = format!("chat-take{round}");
        left_lock(
            &emulator,
            &stack,
            "elsewhere/boot/1/42/7/0",
            now_ms() - 3_600_000,
        )
        .await;
        let holds = Arc::new(Mutex::new(Vec::new()));
        let takers = (0..4).map(|_| {
            let ctx = ctx(&emulator, &stack);
            let holds = holds.clone();
            async move {
                let lock = StackLock::acquire_with(&ctx, quick()).await.unwrap();
                let start = Instant::now();
                tokio::time::sleep(Duration::from_millis(150)).await;
                let end = Instant::now();
                lock.release().await.unwrap();
                holds.lock().unwrap().push((start, end));
            }
        });
        futures::future::join_all(takers).await;
        let mut holds = holds.lock().unwrap().clone();
        assert_eq!(holds.len(), 4);
        holds.sort();
        for pair in holds.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "round {round}: two runs held the lock at once"
            );
        }
        assert!(!lock_exists(&emulator, &stack).await);
    }
}

fn short_lease() -> Timing {
    Timing {
        lease: Duration::from_millis(1500),
        renew_every: Duration::from_secs(3600),
        margin: Duration::from_millis(500),
        ..quick()
    }
}

/// A first holder that stops (suspended, stuck) until its lease is over for everyone, and
/// the run that took the lock over from it; with latency injected.
async fn lapsed_and_taken_over(emulator: &Emulator, stack: &str) -> (StackLock, StackLock) {
    emulator.fault(json!({"latency_ms": 20})).await;
    let first = StackLock::acquire_with(&ctx(emulator, stack), short_lease())
        .await
        .unwrap();
    first.stop_renewing();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let second = StackLock::acquire_with(&ctx(emulator, stack), quick())
        .await
        .unwrap();
    (first, second)
}

/// The lapsed holder wakes up: its renewal is refused without any write, and its release
/// writes at most a release record into its own stream — no delete — so the lock others
/// read (`held`) is unchanged.
async fn wakes_and_leaves_it(emulator: &Emulator, stack: &str, lapsed: StackLock, held: &str) {
    emulator.clear_calls().await;
    assert!(!lapsed.renew_now().await.unwrap());
    assert_eq!(emulator.writes().await, Vec::<String>::new());
    lapsed.release().await.unwrap();
    let writes = emulator.writes().await;
    assert!(
        writes.iter().all(|w| w == "logs:PutLogEvents"),
        "only a release record in its own stream: {writes:?}"
    );
    assert!(lock_exists(emulator, stack).await);
    assert_eq!(newest_record(emulator, stack).await, held);
}

#[tokio::test]
async fn a_holder_whose_lease_ran_out_never_extends_or_deletes_the_new_holders_lock() {
    let emulator = Emulator::start().await;
    let stack = "chat-lapse";
    let (first, second) = lapsed_and_taken_over(&emulator, stack).await;
    let held = newest_record(&emulator, stack).await;
    assert!(
        held.contains(second.owner()) && held.contains("-00000001: "),
        "{held}"
    );

    wakes_and_leaves_it(&emulator, stack, first, &held).await;
    second.release().await.unwrap();
    assert!(!lock_exists(&emulator, stack).await);
}

#[tokio::test]
async fn a_holder_whose_lease_ran_out_leaves_a_lock_created_again_alone() {
    let emulator = Emulator::start().await;
    let stack = "chat-again";
    let (first, second) = lapsed_and_taken_over(&emulator, stack).await;
    // Released by its new holder; then a third run creates the lock anew.
    second.release().await.unwrap();
    let third = StackLock::acquire_with(&ctx(&emulator, stack), quick())
        .await
        .unwrap();
    let held = newest_record(&emulator, stack).await;
    assert!(held.contains(third.owner()), "{held}");

    wakes_and_leaves_it(&emulator, stack, first, &held).await;
    third.release().await.unwrap();
}

/// This machine's host name and boot id, as the lock records them.
fn here() -> (String, String) {
    let read = |path: &str| std::fs::read_to_string(path).unwrap().trim().to_owned();
    (
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/random/boot_id"),
    )
}

fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[tokio::test]
async fn a_pid_alone_never_makes_a_live_lease_stale() {
    let emulator = Emulator::start().await;
    let (host, boot) = here();
    // Same host name and boot, but another PID namespace (a container): its PID says
    // nothing here, so its lease is waited for.
    let stack = "chat-container";
    let owner = format!("{host}/{boot}/1/99999999/123/0");
    left_lock(&emulator, stack, &owner, now_ms() + 600_000).await;
    let timing = Timing {
        wait_limit: Duration::from_millis(1500),
        ..quick()
    };
    let err = StackLock::acquire_with(&ctx(&emulator, stack), timing)
        .await
        .err()
        .expect("the live lease is respected");
    assert!(
        format!("{err:#}").contains("is locked by another chatctl run"),
        "{err:#}"
    );

    // The same process, in this PID namespace, that no longer exists: taken over at once.
    let stack = "chat-gone";
    let owner = format!("{host}/{boot}/{}/99999999/123/0", pid_namespace());
    left_lock(&emulator, stack, &owner, now_ms() + 600_000).await;
    let started = Instant::now();
    let lock = StackLock::acquire_with(&ctx(&emulator, stack), timing)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    lock.release().await.unwrap();
}

#[tokio::test]
async fn a_log_group_at_the_lock_name_that_is_not_a_chatctl_lock_is_left_alone() {
    let emulator = Emulator::start().await;
    emulator
        .logs()
        .create_log_group()
        .log_group_name("/chatctl/chat-dev/lock")
        .send()
        .await
        .unwrap();
    let err = StackLock::acquire_with(&ctx(&emulator, "chat-dev"), quick())
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("is not this stack's lock"),
        "{err:#}"
    );
    assert!(lock_exists(&emulator, "chat-dev").await);
}
