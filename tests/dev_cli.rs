//! `chatctl dev` as a user runs it: the binary, its printed URLs, `status --probe --url`
//! against it, its use of chatctl.toml, and a clean stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `chatctl dev --port 0` in `dir` and returns it with its frontend URL.
async fn start_dev(dir: &std::path::Path) -> (Child, String) {
    start_dev_with(dir, &[]).await.0
}

/// The same with extra arguments; also returns the lines printed after the first.
async fn start_dev_with(dir: &std::path::Path, extra: &[&str]) -> ((Child, String), Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(["dev", "--port", "0"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("chatctl dev printed nothing in 30 s")
        .unwrap()
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(lines.next_line().await.unwrap().unwrap_or_default());
    }
    assert!(rest.iter().any(|l| l.contains("websocket")), "{rest:?}");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    ((child, url), rest)
}

async fn probe(dir: &std::path::Path, websocket: &str) -> serde_json::Value {
    let probe = Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(["status", "--probe", "--url", websocket, "--output", "json"])
        .current_dir(dir)
        .output()
        .await
        .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    serde_json::from_slice(&probe.stdout).unwrap()
}

async fn stop(mut child: Child) {
    let pid = child.id().unwrap();
    // SIGTERM, as a service manager or Ctrl-C would stop it.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("chatctl dev did not stop within 5 s of SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn status_probe_passes_against_chatctl_dev() {
    let dir = tempfile::tempdir().unwrap();
    let ((child, frontend), printed) = start_dev_with(dir.path(), &[]).await;
    // Sign-in is on by default, and the output says how scripts get a token.
    assert!(
        printed.iter().any(|l| l.contains("?token=ID_TOKEN")),
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.contains("/oidc/dev-token?name=alice")),
        "{printed:?}"
    );
    let websocket = format!("{}dev", frontend.replace("http://", "ws://"));
    let report = probe(dir.path(), &websocket).await;
    assert!(report["delivery_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(report["url"], websocket);
    // The probe signed its two clients in through the local provider.
    assert_eq!(report["joined_with"], "token");
    stop(child).await;
}

#[tokio::test]
async fn no_auth_or_provider_none_lets_clients_pick_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let ((child, frontend), printed) = start_dev_with(dir.path(), &["--no-auth"]).await;
    assert!(
        printed.iter().any(|l| l.contains("?name=NAME")),
        "{printed:?}"
    );
    let websocket = format!("{}dev", frontend.replace("http://", "ws://"));
    assert_eq!(probe(dir.path(), &websocket).await["joined_with"], "name");
    stop(child).await;

    std::fs::write(
        dir.path().join("chatctl.toml"),
        "[app]\nname = \"chat\"\nregion = \"eu-west-1\"\n[auth]\nprovider = \"none\"\n",
    )
    .unwrap();
    let (child, frontend) = start_dev(dir.path()).await;
    let websocket = format!("{}dev", frontend.replace("http://", "ws://"));
    assert_eq!(probe(dir.path(), &websocket).await["joined_with"], "name");
    stop(child).await;
}

#[tokio::test]
async fn a_probe_of_nothing_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let probe = Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args([
            "status",
            "--probe",
            "--url",
            &format!("ws://127.0.0.1:{port}/dev"),
            "--probe-timeout",
            "5",
        ])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(probe.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&probe.stderr).contains(&port.to_string()));
}

#[tokio::test]
async fn dev_uses_the_stage_of_chatctl_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chatctl.toml"),
        "[app]\nname = \"chat\"\nstage = \"prod\"\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    let (child, frontend) = start_dev(dir.path()).await;
    let config = reqwest::get(format!("{frontend}config.js"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(config.contains("/prod\""), "{config}");
    stop(child).await;
}

/// Runs `chatctl logs` with `args` in `dir` and returns its stdout.
async fn logs(dir: &std::path::Path, args: &[&str]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(env!("CARGO_BIN_EXE_chatctl"))
            .arg("logs")
            .args(args)
            .current_dir(dir)
            .output(),
    )
    .await
    .expect("chatctl logs took more than 30 s")
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn chatctl_logs_reads_the_access_log_of_chatctl_dev() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let (child, frontend) = start_dev(dir.path()).await;
    // Sign-in is on by default: a token for alice from the local provider.
    let token = reqwest::get(format!("{frontend}oidc/dev-token?name=alice"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let websocket = format!("{}dev?token={token}", frontend.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(&websocket).await.unwrap();
    socket
        .send(Message::text(r#"{"action":"who"}"#))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("no reply to who")
        .unwrap()
        .unwrap();
    assert!(reply.to_text().unwrap().contains("alice"), "{reply:?}");
    socket.close(None).await.unwrap();
    // $disconnect runs after the close.
    let mut text = String::new();
    for _ in 0..50 {
        text = logs(dir.path(), &["--dev"]).await;
        if text.contains("DISCONNECT") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(child).await;

    // The lines the deployed stage writes, read back as on AWS: one connection's connect,
    // message and disconnect.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let connection = lines[0].split_whitespace().nth(2).unwrap().to_owned();
    for (line, expected) in
        lines
            .iter()
            .zip(["CONNECT $connect", "MESSAGE who", "DISCONNECT $disconnect"])
    {
        assert!(
            line.contains(&format!(" access    {connection} {expected} ")),
            "{line}"
        );
        assert!(line.contains("ip=127.0.0.1"), "{line}");
    }
    let file = std::fs::read_to_string(dir.path().join(".chatctl/logs/dev/access.log")).unwrap();
    // The ID token travelled in the query string; no log line carries it.
    assert!(
        !file.contains(token.trim()) && !text.contains(token.trim()),
        "{file}"
    );
    let (_, first) = file.lines().next().unwrap().split_once(' ').unwrap();
    let record: serde_json::Value = serde_json::from_str(first).unwrap();
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let format: serde_json::Value =
        serde_json::from_str(chatctl::chat_api::ACCESS_LOG_FORMAT).unwrap();
    let mut wanted: Vec<&str> = format
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    wanted.sort_unstable();
    assert_eq!(keys, wanted, "the deployed stage's format: {first}");
    assert_eq!(record["connectionId"], connection.as_str());

    // Filtered and as JSON lines, like the deployed stack's.
    let json = logs(
        dir.path(),
        &[
            "--dev",
            "--connection",
            &connection,
            "--output",
            "json",
            "--since",
            "1h",
        ],
    )
    .await;
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events
            .iter()
            .map(|e| e["fields"]["eventType"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["CONNECT", "MESSAGE", "DISCONNECT"]
    );
    assert!(events.iter().all(|e| e["source"] == "access"));
    assert_eq!(
        logs(dir.path(), &["--dev", "--connection", "nobody"]).await,
        ""
    );
}
