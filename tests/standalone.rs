//! chatctl on its own: the binary copied into an empty directory, run with a PATH that has no
//! cargo and a HOME with no Rust toolchain, deploys the default stack (Lambda backend) to the
//! emulator with the package it carries; the deployed CodeSha256 is that of
//! `chatctl package --out`; and `status`, `plan` and a no-op `up` afterwards start no process
//! at all (proved with strace, following every thread: no fork, vfork or non-thread clone, one
//! execve — its own).
//!
//! The binary under test is `CHATCTL_STANDALONE_BIN` (scripts/test builds and passes the
//! release binary), else the debug one this test was built with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::Emulator;

const STACK_TOML: &str = "[app]\nname = \"chat\"\nstage = \"dev\"\nregion = \"eu-west-1\"\n";

fn binary_under_test() -> PathBuf {
    match std::env::var_os("CHATCTL_STANDALONE_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_chatctl")),
    }
}

/// What a run under strace did: how many programs it executed and which calls made a process.
#[derive(Debug)]
struct Trace {
    execs: Vec<String>,
    spawns: Vec<String>,
    threads: usize,
}

fn strace() -> PathBuf {
    ["/usr/bin/strace", "/bin/strace"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect(
            "strace is needed to prove that status starts no process: install the Debian package strace (scripts/test and .ci/run do)",
        )
}

/// Runs `program args` under `strace -f` with `env` only, in `dir`; returns its output and trace.
fn traced(
    program: &Path,
    args: &[&str],
    dir: &Path,
    env: &[(String, String)],
) -> (std::process::Output, Trace) {
    let log = dir.join(format!("strace-{}.txt", rand::random::<u32>()));
    let output = Command::new(strace())
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=execve,execveat,fork,vfork,clone,clone3",
            "-o",
        ])
        .arg(&log)
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("strace wrote no trace ({e}); its output: {output:?}"));
    let mut trace = Trace {
        execs: Vec::new(),
        spawns: Vec::new(),
        threads: 0,
    };
    for line in text.lines().filter(|l| !l.contains("resumed>")) {
        if line.contains("execve(") || line.contains("execveat(") {
            trace.execs.push(line.to_owned());
        } else if line.contains("fork(") {
            trace.spawns.push(line.to_owned());
        } else if line.contains("clone(") || line.contains("clone3(") {
            if line.contains("CLONE_THREAD") {
                trace.threads += 1;
            } else {
                trace.spawns.push(line.to_owned());
            }
        }
    }
    (output, trace)
}

fn run(
    program: &Path,
    args: &[&str],
    dir: &Path,
    env: &[(String, String)],
) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn assert_ok(what: &str, output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_copied_binary_deploys_without_a_toolchain_and_then_starts_no_process() {
    let original = binary_under_test();
    eprintln!("binary under test: {}", original.display());
    let emulator = Emulator::start().await;

    // An empty directory with only the binary; an empty PATH directory; an empty HOME.
    let root = tempfile::tempdir().unwrap();
    let bin_dir = root.path().join("bin");
    let empty_path = root.path().join("empty-path");
    let home = root.path().join("home");
    let project = root.path().join("project");
    for dir in [&bin_dir, &empty_path, &home, &project] {
        std::fs::create_dir(dir).unwrap();
    }
    let chatctl = bin_dir.join("chatctl");
    std::fs::copy(&original, &chatctl).unwrap();
    std::fs::write(project.join("chatctl.toml"), STACK_TOML).unwrap();
    assert!(
        !empty_path.join("cargo").exists()
            && !home.join(".cargo").exists()
            && !home.join(".rustup").exists()
    );
    let mut env = emulator.client_env();
    env.extend(
        [
            ("PATH", empty_path.to_str().unwrap()),
            ("HOME", home.to_str().unwrap()),
            ("CHATCTL_RETRY_SCALE", "0.05"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );

    // The package it carries, written out.
    let package = run(
        &chatctl,
        &["package", "--out", "package.zip", "--output", "json"],
        &project,
        &env,
    );
    assert_ok("chatctl package", &package);
    let package: serde_json::Value = serde_json::from_slice(&package.stdout).unwrap();
    let written = std::fs::read(project.join("package.zip")).unwrap();
    assert_eq!(
        package["sha256_base64"],
        chatctl::package::code_sha256(&written).as_str()
    );
    assert_eq!(package["source"]["kind"], "embedded");
    if package["source"]["profile"] == "release" {
        // The released package is small (Lambda allows 50 MB; quick uploads and cold starts).
        assert!(written.len() < 5 * 1024 * 1024, "{} bytes", written.len());
    }

    // Deploy, with nothing but the binary.
    let up = tokio::time::timeout(
        Duration::from_mins(3),
        tokio::task::spawn_blocking({
            let (chatctl, project, env) = (chatctl.clone(), project.clone(), env.clone());
            move || run(&chatctl, &["up"], &project, &env)
        }),
    )
    .await
    .expect("up took more than 3 minutes")
    .unwrap();
    assert_ok("chatctl up", &up);
    assert_eq!(
        emulator
            .deployed_code_sha("chat-dev-backend")
            .await
            .as_deref(),
        package["sha256_base64"].as_str(),
        "the deployed code is the package `chatctl package --out` writes"
    );

    // status, plan and a second (no-op) up: in sync, and not a single process started.
    for command in ["status", "plan", "up"] {
        let (output, trace) = tokio::task::spawn_blocking({
            let (chatctl, project, env) = (chatctl.clone(), project.clone(), env.clone());
            move || traced(&chatctl, &[command], &project, &env)
        })
        .await
        .unwrap();
        assert_ok(&format!("chatctl {command}"), &output);
        assert_eq!(
            trace.execs.len(),
            1,
            "{command}: only chatctl itself is executed: {:?}",
            trace.execs
        );
        assert!(trace.execs[0].contains("chatctl"), "{:?}", trace.execs);
        assert!(
            trace.spawns.is_empty(),
            "{command} started processes: {:?}",
            trace.spawns
        );
        // strace did follow the process: its runtime's threads are in the trace.
        assert!(
            trace.threads > 0,
            "no thread of chatctl was traced: {trace:?}"
        );
    }

    // The same check catches a program that does start one.
    let (_, control) = traced(
        Path::new("/bin/sh"),
        &["-c", "/bin/true; /bin/true"],
        &project,
        &env,
    );
    assert!(
        !control.spawns.is_empty() && control.execs.len() > 1,
        "the trace would not show a started process: {control:?}"
    );
}
