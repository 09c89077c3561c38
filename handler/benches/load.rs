//! Benchmark of the release `bootstrap` (run by `bench/handler/run.sh`): cold start, resident
//! memory with 10 000 registered connections, and sendmessage throughput and latency through
//! the HTTP interface (memory registry, @connections answered by a fast local sink).
//!
//! `cargo bench -p chat-handler --bench load -- --bootstrap target/release/bootstrap
//!  [--connections 10000] [--requests 20000] [--cold-starts 20] [--zip-bytes N]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark aborts on failure
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use tokio::process::{Child, Command};

#[path = "../tests/common/http1.rs"]
mod http1;

const SECRET: &str = "bench-secret-not-a-real-one";

struct Options {
    bootstrap: String,
    connections: usize,
    requests: usize,
    cold_starts: usize,
    zip_bytes: Option<u64>,
    binary_bytes: Option<u64>,
}

fn options() -> Options {
    let mut options = Options {
        bootstrap: "target/release/bootstrap".to_owned(),
        connections: 10_000,
        requests: 20_000,
        cold_starts: 20,
        zip_bytes: None,
        binary_bytes: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            // cargo bench passes this to every bench target.
            "--bench" => {}
            "--bootstrap" => options.bootstrap = value(),
            "--connections" => options.connections = value().parse().unwrap(),
            "--requests" => options.requests = value().parse().unwrap(),
            "--cold-starts" => options.cold_starts = value().parse().unwrap(),
            "--zip-bytes" => options.zip_bytes = Some(value().parse().unwrap()),
            "--binary-bytes" => options.binary_bytes = Some(value().parse().unwrap()),
            other => panic!("unknown argument {other}"),
        }
    }
    options
}

/// A fast local @connections endpoint: answers every post 200 and counts it.
async fn sink() -> (String, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/bench"), posts)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn spawn_bootstrap(options: &Options, callback: &str, port: u16) -> Child {
    Command::new(&options.bootstrap)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("CHAT_SECRET", SECRET)
        .env("CHAT_CALLBACK_URL", callback)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", options.bootstrap))
}

async fn stop(mut child: Child) {
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// One request of the benchmark.
struct Req {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Req {
    async fn send(&self, connection: &mut http1::Connection) -> std::io::Result<http1::Response> {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        connection
            .request("POST", self.path, &headers, &self.body)
            .await
    }
}

fn connect_request(connection_id: &str, name: &str) -> Req {
    Req {
        path: "/connect",
        headers: vec![
            ("x-chat-secret", SECRET.to_owned()),
            ("x-connection-id", connection_id.to_owned()),
            ("x-chat-name", name.to_owned()),
        ],
        body: Vec::new(),
    }
}

fn send_request(i: usize, n: usize) -> Req {
    let from = i % n;
    let to = (i + 1) % n;
    Req {
        path: "/sendmessage",
        headers: vec![
            ("x-chat-secret", SECRET.to_owned()),
            ("x-connection-id", format!("conn-{from:05}-AbCdEfGh=")),
            ("x-request-id", format!("req-{i}")),
        ],
        body: format!(
            r#"{{"action":"sendmessage","to":"user{to}","text":"hello from user{from}, message {i}"}}"#
        )
        .into_bytes(),
    }
}

/// Process start → first request answered, polling every 0.2 ms with fresh connections.
async fn cold_start(options: &Options, callback: &str) -> Duration {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let request = connect_request("cold-1", "cold");
    let started = Instant::now();
    let child = spawn_bootstrap(options, callback, port);
    loop {
        if let Ok(mut connection) = http1::Connection::open(&addr).await {
            let response = request.send(&mut connection).await.unwrap();
            assert_eq!(response.status, 204);
            let elapsed = started.elapsed();
            stop(child).await;
            return elapsed;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "bootstrap did not answer"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

async fn wait_ready(addr: &str) {
    let started = Instant::now();
    while http1::Connection::open(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "bootstrap did not answer"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs `total` requests from `concurrency` workers, each on its own keep-alive connection;
/// `make(i)` builds request `i` (outside the timed part).
async fn drive(
    addr: &str,
    total: usize,
    concurrency: usize,
    make: impl Fn(usize) -> Req + Send + Sync + 'static,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let make = make.clone();
            let addr = addr.to_owned();
            tokio::spawn(async move {
                let mut connection = http1::Connection::open(&addr).await.unwrap();
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return latencies;
                    }
                    let request = make(i);
                    let sent = Instant::now();
                    let response = request.send(&mut connection).await.unwrap();
                    latencies.push(sent.elapsed());
                    assert!(
                        (200..300).contains(&response.status),
                        "{} {:?}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                    );
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    (started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Row {
    metric: String,
    value: String,
    target: String,
    ok: Option<bool>,
}

fn row(metric: impl Into<String>, value: impl Into<String>, target: &str, ok: Option<bool>) -> Row {
    Row {
        metric: metric.into(),
        value: value.into(),
        target: target.to_owned(),
        ok,
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let (callback, posts) = sink().await;
    let mut rows = Vec::new();

    // Cold start.
    let _ = cold_start(&options, &callback).await; // warm the page cache
    let mut starts = Vec::new();
    for _ in 0..options.cold_starts {
        starts.push(cold_start(&options, &callback).await);
    }
    starts.sort();
    let median = percentile(&starts, 50.0);
    rows.push(row(
        format!(
            "cold start, process start → first answer (median of {})",
            starts.len()
        ),
        format!(
            "{:.1} ms (min {:.1}, max {:.1})",
            ms(median),
            ms(starts[0]),
            ms(starts[starts.len() - 1])
        ),
        "< 50 ms",
        Some(median < Duration::from_millis(50)),
    ));

    // Memory with N registered connections.
    let port = free_port();
    let child = spawn_bootstrap(&options, &callback, port);
    let pid = child.id().unwrap();
    let addr = format!("127.0.0.1:{port}");
    wait_ready(&addr).await;
    let idle_kib = vm_rss_kib(pid);
    let n = options.connections;
    let (took, _) = drive(&addr, n, 16, move |i| {
        connect_request(&format!("conn-{i:05}-AbCdEfGh="), &format!("user{i}"))
    })
    .await;
    let loaded_kib = vm_rss_kib(pid);
    rows.push(row(
        "resident memory (VmRSS), idle",
        format!("{:.1} MB", idle_kib as f64 / 1024.0),
        "",
        None,
    ));
    rows.push(row(
        format!("resident memory (VmRSS), {n} connections registered"),
        format!("{:.1} MB", loaded_kib as f64 / 1024.0),
        "< 30 MB",
        Some(loaded_kib < 30 * 1024),
    ));
    rows.push(row(
        format!("connect, {n} requests at concurrency 16"),
        format!("{:.0} req/s", n as f64 / took.as_secs_f64()),
        "",
        None,
    ));

    // sendmessage throughput and latency.
    let posts_before = posts.load(Ordering::Relaxed);
    for concurrency in [1, 16] {
        let make = move |i: usize| send_request(i, n);
        let _ = drive(&addr, options.requests / 10, concurrency, make).await; // warm-up
        let (took, mut latencies) = drive(&addr, options.requests, concurrency, make).await;
        latencies.sort();
        let p50 = percentile(&latencies, 50.0);
        let p99 = percentile(&latencies, 99.0);
        rows.push(row(
            format!("sendmessage at concurrency {concurrency}: throughput"),
            format!("{:.0} req/s", latencies.len() as f64 / took.as_secs_f64()),
            "",
            None,
        ));
        rows.push(row(
            format!("sendmessage at concurrency {concurrency}: latency p50 / p99"),
            format!("{:.3} ms / {:.3} ms", ms(p50), ms(p99)),
            if concurrency == 1 { "p99 < 2 ms" } else { "" },
            (concurrency == 1).then_some(p99 < Duration::from_millis(2)),
        ));
    }
    let delivered = posts.load(Ordering::Relaxed) - posts_before;
    let expected = 2 * (options.requests + options.requests / 10);
    assert_eq!(
        delivered, expected,
        "every sendmessage posts exactly one frame"
    );
    stop(child).await;

    if let Some(bytes) = options.binary_bytes {
        rows.push(row(
            "release binary (stripped, --no-default-features)",
            format!("{:.2} MB", bytes as f64 / 1e6),
            "",
            None,
        ));
    }
    if let Some(bytes) = options.zip_bytes {
        rows.push(row(
            "release binary zipped (zip -9), the Lambda package",
            format!("{:.2} MB", bytes as f64 / 1e6),
            "< 5 MB",
            Some(bytes < 5_000_000),
        ));
    }

    let width = rows
        .iter()
        .map(|r| r.metric.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|r| r.value.chars().count())
        .max()
        .unwrap_or(0);
    println!("{:width$}  {:value_width$}  target", "metric", "value");
    println!("{}", "-".repeat(width + value_width + 20));
    for r in &rows {
        let verdict = match r.ok {
            Some(true) => " ok",
            Some(false) => " MISSED",
            None => "",
        };
        println!(
            "{:width$}  {:value_width$}  {}{verdict}",
            r.metric, r.value, r.target
        );
    }
}
