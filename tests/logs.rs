//! `chatctl logs` against the emulator's CloudWatch Logs: the access log, API Gateway's
//! execution log and the backend's log of a deployed stack, merged in time order, filtered by
//! `--since`, `--connection` and `--source`, as text and as JSON lines, secrets masked; and
//! `--follow`, which shows what is written after it started and stops with status 0 on SIGINT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::Value;
use support::{Emulator, Project};
use tokio::io::{AsyncBufReadExt, BufReader};

const STACK_TOML: &str = r#"
[app]
name = "chat"
stage = "dev"
region = "eu-west-1"
"#;

const ACCESS: &str = "/chatctl/chat-dev/access";
const BACKEND: &str = "/aws/lambda/chat-dev-backend";
const LAMBDA_ID: &str = "8f5e2c1a-0000-4000-8000-00000000c1c1";

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Creates `group` (unless it exists) and `stream` in it, and puts `events` (time, message).
async fn put(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, String)],
) {
    let _ = logs.create_log_group().log_group_name(group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(
            events
                .iter()
                .map(|(at, message)| {
                    InputLogEvent::builder()
                        .timestamp(*at)
                        .message(message)
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
}

fn access(request: &str, connection: &str, event_type: &str, route: &str) -> String {
    format!(
        r#"{{"requestId":"{request}","ip":"203.0.113.9","requestTime":"01/Dec/2025:20:01:02 +0000","eventType":"{event_type}","routeKey":"{route}","connectionId":"{connection}","integrationLatency":"12","error":"-"}}"#
    )
}

fn handler(message: &str, connection: &str, request: &str, extra: &str) -> String {
    format!(
        r#"{{"timestamp":"2025-12-01T20:01:02.000Z","level":"INFO","message":"{message}"{extra},"target":"chat_handler::handle","spans":[{{"name":"Lambda runtime invoke","requestId":"{LAMBDA_ID}"}},{{"name":"chat","connection_id":"{connection}","request_id":"{request}","route":"/connect"}}]}}"#
    )
}

/// A deployed default stack and, in its three log groups, two connections' events spread over
/// several streams (plus one event 20 minutes old). Returns the project, the emulator, the
/// deployed backend secret and the execution log group.
async fn stack_with_logs() -> (Emulator, Project, String, String) {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, STACK_TOML);
    project.remove_env("CHATCTL_BACKEND_SECRET");
    project.run(&["up"]).await.assert_code(0);
    let api = emulator.the_api_id("chat-dev").await;
    let v2 = emulator.apigatewayv2();
    let stage = v2
        .get_stage()
        .api_id(&api)
        .stage_name("dev")
        .send()
        .await
        .unwrap();
    let secret = stage.stage_variables().unwrap()["backendSecret"].clone();
    let execution = chatctl::resources::log_groups::execution_log_group(&api, "dev");
    let logs = emulator.logs();
    let t = now_ms() - 60_000;
    put(
        &logs,
        ACCESS,
        "dev/2025-12-01",
        &[
            (t - 20 * 60_000, access("OLD0", "C0", "CONNECT", "$connect")),
            (t + 100, access("R1", "C1", "CONNECT", "$connect")),
            (t + 400, access("R2", "C2", "CONNECT", "$connect")),
            (t + 700, access("R3", "C1", "MESSAGE", "sendmessage")),
        ],
    )
    .await;
    put(
        &logs,
        &execution,
        "stream-a",
        &[
            (t + 10, "(R1) Extended Request Id: R1".to_owned()),
            (
                t + 20,
                format!(
                    "(R1) Endpoint request headers: {{x-chat-secret={secret}, x-connection-id=C1}}"
                ),
            ),
        ],
    )
    .await;
    put(
        &logs,
        &execution,
        "stream-b",
        &[
            (t + 300, "(R2) Received response. Status: 204".to_owned()),
            (t + 600, "(R3) Received response. Status: 200".to_owned()),
        ],
    )
    .await;
    put(
        &logs,
        BACKEND,
        "2025/12/01/[$LATEST]abc",
        &[
            (
                t + 50,
                format!("START RequestId: {LAMBDA_ID} Version: $LATEST"),
            ),
            (
                t + 60,
                handler("connected", "C1", "R1", r#","name":"alice""#),
            ),
            (
                t + 80,
                format!("REPORT RequestId: {LAMBDA_ID}\tDuration: 2.10 ms\tBilled Duration: 3 ms"),
            ),
        ],
    )
    .await;
    put(
        &logs,
        BACKEND,
        "2025/12/01/[$LATEST]def",
        &[(
            t + 350,
            r#"{"level":"INFO","message":"connected","name":"bob","spans":[{"name":"chat","connection_id":"C2","request_id":"R2"}]}"#.to_owned(),
        )],
    )
    .await;
    (emulator, project, secret, execution)
}

/// (source, id column, message) of each text line.
fn columns(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .map(|line| {
            let mut parts = line.splitn(4, ' ').filter(|p| !p.is_empty());
            let time = parts.next().unwrap();
            assert!(time.ends_with('Z') && time.contains('T'), "{line}");
            let rest = line[time.len()..].trim_start();
            let (source, rest) = rest.split_once(' ').unwrap();
            let (id, message) = rest.trim_start().split_once(' ').unwrap();
            (source.to_owned(), id.to_owned(), message.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_three_sources_come_out_merged_filtered_and_masked() {
    let (_emulator, project, secret, _execution) = stack_with_logs().await;

    let all = project.run(&["logs"]).await;
    all.assert_code(0);
    let lines = columns(&all.stdout);
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|(s, id, _)| (s.as_str(), id.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("execution", "C1"),
            ("execution", "C1"),
            ("backend", "C1"),
            ("backend", "C1"),
            ("backend", "C1"),
            ("access", "C1"),
            ("execution", "C2"),
            ("backend", "C2"),
            ("access", "C2"),
            ("execution", "C1"),
            ("access", "C1"),
        ],
        "in time order, each tied to its connection:\n{}",
        all.stdout
    );
    assert_eq!(
        lines[5].2,
        "CONNECT $connect integrationLatency=12 ip=203.0.113.9 requestTime=\"01/Dec/2025:20:01:02 +0000\""
    );
    assert_eq!(lines[3].2, "INFO connected name=alice route=/connect");
    assert!(
        lines[4].2.starts_with("REPORT RequestId: 8f5e2c1a"),
        "{}",
        lines[4].2
    );
    // The backend secret that data tracing put into the execution log is masked.
    assert_eq!(
        lines[1].2,
        "Endpoint request headers: {x-chat-secret=(sensitive), x-connection-id=C1}"
    );
    assert!(!all.stdout.contains(&secret) && !all.stderr.contains(&secret));
    // The default window is ten minutes: the old event is left out; a wider one has it.
    assert!(!all.stdout.contains("OLD0") && !all.stdout.contains(" C0 "));
    let wider = project.run(&["logs", "--since", "30m"]).await;
    wider.assert_code(0);
    assert_eq!(columns(&wider.stdout)[0].1, "C0", "{}", wider.stdout);
    assert_eq!(columns(&wider.stdout).len(), 12);

    // One connection, across the three sources (its Lambda START/REPORT through Lambda's
    // request id, its execution lines through its request ids).
    let one = project.run(&["logs", "--connection", "C1"]).await;
    one.assert_code(0);
    let sources: Vec<String> = columns(&one.stdout)
        .into_iter()
        .map(|(s, id, _)| {
            assert_eq!(id, "C1");
            s
        })
        .collect();
    assert_eq!(
        sources,
        [
            "execution",
            "execution",
            "backend",
            "backend",
            "backend",
            "access",
            "execution",
            "access"
        ],
        "{}",
        one.stdout
    );

    let only_access = project.run(&["logs", "--source", "access"]).await;
    only_access.assert_code(0);
    assert!(
        columns(&only_access.stdout)
            .iter()
            .all(|(s, _, _)| s == "access")
    );
    assert_eq!(columns(&only_access.stdout).len(), 3);
    let two = project
        .run(&["logs", "--source", "access,backend", "--connection", "C2"])
        .await;
    two.assert_code(0);
    assert_eq!(
        columns(&two.stdout)
            .iter()
            .map(|(s, _, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["backend", "access"]
    );

    // JSON: one object per line, the ids as fields, the structured fields kept.
    let json = project
        .run(&["logs", "--output", "json", "--connection", "C2"])
        .await;
    json.assert_code(0);
    let events: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 3, "{}", json.stdout);
    assert_eq!(events[0]["source"], "execution");
    assert_eq!(events[0]["request_id"], "R2");
    assert_eq!(events[0]["connection_id"], "C2");
    assert_eq!(events[1]["source"], "backend");
    assert_eq!(events[1]["fields"]["name"], "bob");
    assert_eq!(events[1]["message"], "INFO connected name=bob");
    assert_eq!(events[2]["source"], "access");
    assert_eq!(events[2]["fields"]["eventType"], "CONNECT");
    let secrets = project.run(&["logs", "--output", "json"]).await;
    assert!(!secrets.stdout.contains(&secret), "{}", secrets.stdout);
    assert!(secrets.stdout.contains("(sensitive)"));
}

#[tokio::test]
async fn follow_shows_new_events_of_new_streams_and_stops_on_sigint() {
    let (emulator, project, _secret, execution) = stack_with_logs().await;
    let mut child = project.command(&["logs", "--follow", "--source", "access,execution"]);
    let mut child = child.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // What was there before it started comes first.
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("no first line within 30 s")
        .unwrap()
        .unwrap();
    assert!(
        first.contains(" execution ") && first.contains(" C1 "),
        "{first}"
    );

    // Written after it started, in streams that did not exist then.
    let logs = emulator.logs();
    let at = now_ms();
    put(
        &logs,
        &execution,
        "stream-new",
        &[(at - 5, "(R9) Starting execution".to_owned())],
    )
    .await;
    put(
        &logs,
        ACCESS,
        "dev/new-stream",
        &[(at, access("R9", "C9", "DISCONNECT", "$disconnect"))],
    )
    .await;
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("DISCONNECT $disconnect");
            seen.push(line);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "the new event did not show within 30 s:\n{}",
        seen.join("\n")
    );
    assert!(
        seen.iter()
            .any(|l| l.contains(" execution ") && l.contains("Starting execution")),
        "{seen:?}"
    );
    // Nothing twice.
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");

    let pid = child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("chatctl logs --follow did not stop within 10 s of SIGINT")
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}

#[tokio::test]
async fn logs_of_a_stack_that_is_not_deployed_say_so() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, STACK_TOML);
    let run = project.run(&["logs"]).await;
    run.assert_code(0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("has no API in eu-west-1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("log group /chatctl/chat-dev/access does not exist yet"),
        "{}",
        run.stderr
    );
    let http = Project::new(&emulator, support::HTTP_BACKEND_TOML);
    let refused = http.run(&["logs", "--source", "backend"]).await;
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("backend.kind = \"http\""),
        "{}",
        refused.stderr
    );
    // A usage error exits 1, like every command-line error of chatctl.
    let bad = project.run(&["logs", "--since", "ten minutes"]).await;
    bad.assert_code(1);
    assert!(bad.stderr.contains("is not a duration"), "{}", bad.stderr);
}
