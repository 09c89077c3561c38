//! Bad input gets a clear error, exit 1, and no AWS write; credentials fail fast.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Emulator, HTTP_BACKEND_TOML, Project, SECRET};

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

/// `args` fail with exit 1, a message containing `expected`, no panic, and no AWS call.
async fn refused(emulator: &Emulator, project: &Project, args: &[&str], expected: &str) {
    emulator.clear_calls().await;
    let run = project.run(args).await;
    run.assert_code(1);
    assert!(
        run.stderr.contains(expected),
        "{args:?}: expected `{expected}` in:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(emulator.calls().await.len(), 0, "{args:?}: no AWS call");
}

#[tokio::test]
async fn out_of_range_numbers_are_refused_with_the_flag_named() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, HTTP_BACKEND_TOML);
    for (args, expected) in [
        (
            &["dev", "--idle-timeout", "0"][..],
            "'--idle-timeout <SECONDS>'",
        ),
        (
            &["dev", "--max-connection", "18446744073709551615"],
            "'--max-connection <SECONDS>'",
        ),
        (
            &["dev", "--max-connection", "99999999999999999999999"],
            "'--max-connection <SECONDS>'",
        ),
        (
            &[
                "status",
                "--probe",
                "--url",
                "ws://127.0.0.1:9/dev",
                "--probe-timeout",
                "100000000",
            ],
            "'--probe-timeout <SECONDS>'",
        ),
        (&["plan", "--bogus"], "unexpected argument '--bogus'"),
    ] {
        refused(&emulator, &project, args, expected).await;
    }
    for scale in ["1e300", "0", "-2", "soon"] {
        project.set_env("CHATCTL_RETRY_SCALE", scale);
        refused(
            &emulator,
            &project,
            &["up"],
            &format!("CHATCTL_RETRY_SCALE = \"{scale}\" is not valid"),
        )
        .await;
    }
}

#[tokio::test]
async fn out_of_range_limits_and_plain_http_urls_in_the_configuration_are_refused() {
    let emulator = Emulator::start().await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace(
            "throttling_burst_limit = 100",
            "throttling_burst_limit = 99999999999",
        ),
        "api.throttling_burst_limit = 99999999999 is not valid: use a whole number from 1 to",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace(
            "throttling_rate_limit = 50.0",
            "throttling_rate_limit = 1e308",
        ),
        "is not valid: use a number of requests per second above 0 and at most",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace("https://chat-backend.example.com", "http://chat-backend.example.com"),
        "backend.url = \"http://chat-backend.example.com\" uses plain http, so the backend secret would travel unencrypted",
    )
    .await;
    rejected(
        &emulator,
        &format!("{HTTP_BACKEND_TOML}\n[github]\napi_url = \"http://github.example.com/api/v3\"\n"),
        "github.api_url = \"http://github.example.com/api/v3\" uses plain http, so the GitHub token would travel unencrypted",
    )
    .await;
    rejected(
        &emulator,
        &HTTP_BACKEND_TOML.replace(
            "https://chat-backend.example.com",
            "https://user:pw@chat-backend.example.com",
        ),
        "backend.url must not contain a user name or password",
    )
    .await;

    // The same rules for the variables that override the file.
    let mut project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.set_env("CHATCTL_GITHUB_API_URL", "http://github.example.com/api/v3");
    refused(
        &emulator,
        &project,
        &["plan"],
        "uses plain http, so the GitHub token",
    )
    .await;
    project.remove_env("CHATCTL_GITHUB_API_URL");
    project.set_env("CHATCTL_BACKEND_URL", "http://chat.example.com");
    refused(
        &emulator,
        &project,
        &["plan"],
        "uses plain http, so the backend secret",
    )
    .await;
    let mut lambda = Project::new(
        &emulator,
        &HTTP_BACKEND_TOML.replace(
            "kind = \"http\"\nurl = \"https://chat-backend.example.com\"",
            "kind = \"lambda\"",
        ),
    );
    lambda.set_env("CHATCTL_BACKEND_URL", "https://chat.example.com");
    refused(
        &emulator,
        &lambda,
        &["up"],
        "CHATCTL_BACKEND_URL is set, but backend.kind is \"lambda\"",
    )
    .await;
    project.remove_env("CHATCTL_BACKEND_URL");
    refused(
        &emulator,
        &project,
        &["dev", "--backend-url", "http://chat.example.com"],
        "--backend-url = \"http://chat.example.com\" uses plain http",
    )
    .await;
}

#[tokio::test]
async fn a_config_that_is_not_a_small_regular_file_is_refused() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    std::fs::write(project.path().join("big.toml"), vec![b'#'; 2 * 1024 * 1024]).unwrap();
    std::fs::create_dir(project.path().join("conf.d")).unwrap();
    for (path, expected) in [
        ("/dev/zero", "/dev/zero is not a regular file"),
        ("conf.d", "conf.d is not a regular file"),
        ("big.toml", "big.toml is larger than 1048576 bytes"),
    ] {
        refused(&emulator, &project, &["plan", "--config", path], expected).await;
    }
}

const TOKEN: &str = "ghp_traceTestToken0123456789abcdefXYZ01";

#[tokio::test]
async fn trace_logging_never_prints_the_secret_the_token_or_the_functions_environment() {
    let emulator = Emulator::start().await;
    emulator
        .post(
            "github/repos",
            serde_json::json!({"owner": "acme", "name": "chat-web"}),
        )
        .await;
    emulator
        .post(
            "github/tokens",
            serde_json::json!({"token": TOKEN, "scopes": ["repo", "admin:repo_hook"]}),
        )
        .await;
    emulator
        .post(
            "github/installations",
            serde_json::json!({"app": "aws-amplify-eu-west-1", "owner": "acme"}),
        )
        .await;
    // The http backend's secret travels in CreateStage; the token in Amplify's CreateApp
    // and GitHub's Authorization header.
    let frontend = format!(
        "{HTTP_BACKEND_TOML}\n[frontend]\nrepository = \"https://github.com/acme/chat-web\"\n\n[github]\napi_url = \"{}/github\"\n",
        emulator.url
    );
    let mut project = Project::new(&emulator, &frontend);
    project.set_env("GITHUB_TOKEN", TOKEN);
    project.set_env("RUST_LOG", "trace");
    let up = project.run(&["up"]).await;
    up.assert_code(0);
    assert!(
        up.stderr.lines().count() > 50,
        "trace logging is on:\n{}",
        up.stderr
    );
    for output in [&up.stdout, &up.stderr] {
        assert!(!output.contains(SECRET), "the backend secret leaked");
        assert!(!output.contains(TOKEN), "the GitHub token leaked");
    }
    project.set_env(
        "RUST_LOG",
        "aws_smithy_runtime=trace,aws_sdk_amplify=trace,hyper=trace,h2=trace,reqwest=trace",
    );
    let down = project.run(&["down", "--yes"]).await;
    down.assert_code(0);
    for output in [&down.stdout, &down.stderr] {
        assert!(
            !output.contains(SECRET) && !output.contains(TOKEN),
            "leaked by down"
        );
    }

    // The Lambda backend: its generated secret is in the function's environment, which
    // CreateFunction sends and GetFunction returns.
    let binary = support::handler_binary();
    let mut lambda = Project::new(&emulator, support::LAMBDA_TOML);
    lambda.remove_env("CHATCTL_BACKEND_SECRET");
    support::write_zip(&lambda, &binary);
    lambda.set_env("RUST_LOG", "trace");
    let up = lambda.run(&["up", "--rotate-secret"]).await;
    up.assert_code(0);
    let status = lambda.run(&["status"]).await;
    status.assert_code(0);
    let function = emulator
        .lambda()
        .get_function_configuration()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    let secret = function.environment().unwrap().variables().unwrap()["CHAT_SECRET"].clone();
    for output in [&up.stdout, &up.stderr, &status.stdout, &status.stderr] {
        assert!(!output.contains(&secret), "the generated secret leaked");
        assert!(
            !output.contains("CHAT_SECRET\":"),
            "the function's environment was logged"
        );
    }
}
