//! Bad input gets a clear error, exit 1, and no AWS write; credentials fail fast.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Emulator, HTTP_BACKEND_TOML, Project};

async fn rejected(emulator: &Emulator, config: &str, expected: &str) {
    let project = Project::new(emulator, config);
    emulator.clear_calls().await;
    for command in [&["up"][..], &["plan"], &["status"], &["down", "--yes"]] {
        let run = project.run(command).await;
        run.assert_code(1);
        assert!(
            run.stderr.contains(expected),
            "{command:?}: expected `{expected}` in:\n{}",
            run.stderr
        );
    }
    assert_eq!(
        emulator.calls().await.len(),
        0,
        "no AWS call for a bad configuration"
    );
}

#[tokio::test]
async fn bad_configurations_are_refused_before_any_aws_call() {
    let emulator = Emulator::start().await;
    rejected(
        &emulator,
        "[app\nname = \"chat\"",
        "chatctl.toml is not valid TOML",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace("throttling_burst_limit", "throttling_burst"),
        "unknown key `throttling_burst` in [api] (did you mean `throttling_burst_limit`?)",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace("name = \"chat\"", "name = \"Chat App\""),
        "app.name = \"Chat App\" is not valid",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace("region = \"eu-west-1\"", ""),
        "no AWS region",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace("throttling_rate_limit = 50.0", "throttling_rate_limit = 0"),
        "api.throttling_rate_limit = 0 is not valid",
    )
    .await;
}

#[tokio::test]
async fn a_missing_config_file_points_at_init() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    let run = project.run(&["plan", "--config", "nope.toml"]).await;
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("no configuration file at nope.toml: run `chatctl init`"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_http_backend_without_a_secret_is_refused_by_up() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.remove_env("CHATCTL_BACKEND_SECRET");
    emulator.clear_calls().await;
    let run = project.run(&["up"]).await;
    run.assert_code(1);
    assert!(
        run.stderr.contains("set CHATCTL_BACKEND_SECRET"),
        "{}",
        run.stderr
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

/// A loopback port that accepts connections and never answers: what an unreachable
/// instance-metadata service looks like to a client.
async fn black_hole() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn no_credentials_fail_in_under_two_seconds_with_a_clear_message() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.remove_env("AWS_ACCESS_KEY_ID");
    project.remove_env("AWS_SECRET_ACCESS_KEY");
    project.remove_env("AWS_EC2_METADATA_DISABLED");
    // The metadata service is reachable but never answers (kept on loopback).
    let (imds, _task) = black_hole().await;
    project.set_env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("http://{imds}"),
    );
    emulator.clear_calls().await;
    let run = project.run(&["plan"]).await;
    run.assert_code(1);
    assert!(
        run.elapsed < Duration::from_secs(2),
        "took {:?}",
        run.elapsed
    );
    assert!(run.stderr.contains("AWS credentials"), "{}", run.stderr);
    assert!(run.stderr.contains("AWS_PROFILE"), "{}", run.stderr);
    assert_eq!(emulator.calls().await.len(), 0);
}

#[tokio::test]
async fn help_and_version_work_without_configuration() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, "");
    let version = project.run(&["--version"]).await;
    version.assert_code(0);
    assert!(version.stdout.starts_with("chatctl "), "{}", version.stdout);
    let help = project.run(&["--help"]).await;
    help.assert_code(0);
    for command in ["up", "down", "status", "plan", "dev"] {
        assert!(
            help.stdout.contains(command),
            "{command} missing from --help"
        );
    }
    let down_help = project.run(&["down", "--help"]).await;
    assert!(down_help.stdout.contains("--yes"), "{}", down_help.stdout);
}
