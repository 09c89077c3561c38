//! Acceptance against a real AWS account: `up` → `status --probe` → `down` → nothing left.
//!
//! Never run by CI. It is ignored by default and refuses to run without the explicit opt-in:
//!
//! ```sh
//! CHATCTL_ACCEPTANCE=1 AWS_PROFILE=… AWS_REGION=eu-west-1 \
//!     cargo test --test acceptance -- --ignored --nocapture
//! ```
//!
//! It deploys a stack named `acc{random}-test` with the Lambda backend built from `handler/`
//! (a release build; on a machine whose glibc is newer than Lambda's, give a cargo-lambda zip
//! with `CHATCTL_HANDLER_ZIP`), probes it end to end, deletes it, and checks with a fresh
//! observation (`status --output json`) that none of its resources is left.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn chatctl(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run chatctl");
    eprintln!(
        "$ chatctl {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
#[ignore = "deploys to a real AWS account: CHATCTL_ACCEPTANCE=1 cargo test --test acceptance -- --ignored"]
fn up_probe_down_leaves_nothing() {
    assert_eq!(
        std::env::var("CHATCTL_ACCEPTANCE").as_deref(),
        Ok("1"),
        "the acceptance test did not run: it needs a real AWS account; set CHATCTL_ACCEPTANCE=1 (and AWS credentials and AWS_REGION) to run it"
    );
    let region = std::env::var("AWS_REGION").expect("set AWS_REGION");
    let app = format!("acc{:06x}", rand::random::<u32>() & 0xff_ffff);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chatctl.toml"),
        format!("[app]\nname = \"{app}\"\nstage = \"test\"\nregion = \"{region}\"\n"),
    )
    .unwrap();

    let up = chatctl(dir.path(), &["up"]);
    let probe = up
        .status
        .success()
        .then(|| chatctl(dir.path(), &["status", "--probe", "--probe-timeout", "60"]));
    // Always tear down, whatever happened above.
    let down = chatctl(dir.path(), &["down", "--yes"]);
    assert!(up.status.success(), "up failed");
    assert!(
        probe.is_some_and(|p| p.status.success()),
        "status --probe failed"
    );
    assert!(down.status.success(), "down failed");

    let left = chatctl(dir.path(), &["status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&left.stdout).unwrap();
    let present: Vec<&serde_json::Value> = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "missing" && r["kind"] != "apigateway account")
        .collect();
    assert!(present.is_empty(), "left behind: {present:?}");
}
