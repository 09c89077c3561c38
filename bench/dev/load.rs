//! Load generator for `chatctl dev`, optionally side by side with serverless-offline.
//!
//! Two workloads, each against a freshly started server in its own process:
//! 1. idle connections: opens N WebSocket connections (default 10 000), holds them, checks
//!    they are all still open and registered, and reads the server's memory (VmRSS of its
//!    process tree) before and after;
//! 2. one-to-one messaging: C clients (default 1 000) each send one message per C/R seconds
//!    to the next client (R = 1 000 msg/s in total) for D seconds; reports the delivery
//!    latency (send → addressee) and acknowledgement latency percentiles and the throughput.
//!
//! Run (release, for meaningful numbers; both processes need ~N file descriptors):
//!     ulimit -n 20000
//!     cargo run --release --example dev-load -- --target both
//! `--target serverless-offline` needs `npm ci` in bench/dev/serverless first.
//! Only loopback is used; every server started here is stopped at the end.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use futures::stream::{self, StreamExt as _};
use futures_util::SinkExt as _;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Parser)]
#[command(about = "Load generator for chatctl dev (and serverless-offline, for comparison)")]
struct Args {
    #[command(subcommand)]
    command: Option<Internal>,
    /// Which server(s) to measure.
    #[arg(long, value_enum, default_value_t = Target::Dev)]
    target: Target,
    /// Idle connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Clients of the messaging workload.
    #[arg(long, default_value_t = 1_000)]
    clients: usize,
    /// Total messages per second of the messaging workload.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Seconds of measured messaging (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Connections opened at once while ramping up.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
}

#[derive(Subcommand)]
enum Internal {
    /// Runs `chatctl dev` on 127.0.0.1:PORT (the measured server process).
    Serve {
        #[arg(long)]
        port: u16,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Dev,
    ServerlessOffline,
    Both,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Internal::Serve { port }) = args.command {
        return serve(port).await;
    }
    let mut columns = Vec::new();
    if matches!(args.target, Target::Dev | Target::Both) {
        columns.push(measure(ServerKind::Dev, &args).await?);
    }
    if matches!(args.target, Target::ServerlessOffline | Target::Both) {
        columns.push(measure(ServerKind::ServerlessOffline, &args).await?);
    }
    print_table(&columns);
    Ok(())
}

/// The measured `chatctl dev`: the real gateway and in-process backend, with throttling raised
/// so that the limits measured are the implementation's, not the configured token bucket's.
async fn serve(port: u16) -> Result<()> {
    let options = chatctl::dev::DevOptions {
        port,
        api: chatctl::config::ApiSettings {
            throttling_burst_limit: 1_000_000,
            throttling_rate_limit: 1_000_000.0,
            ..chatctl::config::ApiSettings::default()
        },
        ..chatctl::dev::DevOptions::default()
    };
    let server = chatctl::dev::start(options).await?;
    server.run_until_signal().await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Dev,
    ServerlessOffline,
}

impl ServerKind {
    fn label(self) -> &'static str {
        match self {
            Self::Dev => "chatctl dev",
            Self::ServerlessOffline => "serverless-offline",
        }
    }
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(kind: ServerKind) -> Result<Self> {
        let port = free_port().await?;
        let (mut command, url) = match kind {
            ServerKind::Dev => {
                let mut command = Command::new(std::env::current_exe()?);
                command.args(["serve", "--port", &port.to_string()]);
                (command, format!("ws://127.0.0.1:{port}/dev"))
            }
            ServerKind::ServerlessOffline => {
                let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/dev/serverless");
                let cli = dir.join("node_modules/serverless/bin/serverless.js");
                if !cli.exists() {
                    bail!(
                        "{} is missing: run `npm ci` in {}",
                        cli.display(),
                        dir.display()
                    );
                }
                let mut command = Command::new("node");
                command
                    .arg(cli)
                    .arg("offline")
                    .current_dir(&dir)
                    .env("WS_PORT", port.to_string())
                    .env("HTTP_PORT", free_port().await?.to_string())
                    .env("LAMBDA_PORT", free_port().await?.to_string())
                    .env("SLS_TELEMETRY_DISABLED", "1")
                    .env("SLS_NOTIFICATIONS_MODE", "off");
                (command, format!("ws://127.0.0.1:{port}/"))
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", kind.label()))?;
        let server = Self { child, url };
        server.wait_ready(port).await?;
        Ok(server)
    }

    async fn wait_ready(&self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_mins(1);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not listen on port {port} within 60 s")
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn stop(mut self) {
        if let Some(pid) = self.pid() {
            // SIGTERM first, so `chatctl dev` closes its connections as it would for a user.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn free_port() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}

/// Resident memory of `pid` and all its descendants, in KiB (Linux /proc).
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut pending = vec![pid];
    let mut seen = std::collections::HashSet::new();
    while let Some(pid) = pending.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            pending.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    total
}

#[derive(Default)]
struct Column {
    label: &'static str,
    requested: usize,
    held: usize,
    registered: usize,
    open_secs: f64,
    rss_before_mib: f64,
    rss_held_mib: f64,
    rss_per_connection_kib: f64,
    sent: u64,
    delivered: u64,
    acked: u64,
    errors: u64,
    throughput: f64,
    delivery: Percentiles,
    ack: Percentiles,
    /// What failed, if anything (the table still shows what was measured).
    notes: Vec<String>,
}

#[derive(Default, Clone, Copy)]
struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
}

fn percentiles(mut samples: Vec<f64>) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index]
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        max: samples[samples.len() - 1],
    }
}

async fn connect(url: &str, name: &str) -> Result<Socket> {
    let (socket, _) = tokio::time::timeout(
        Duration::from_secs(30),
        connect_async(format!("{url}?name={name}")),
    )
    .await
    .with_context(|| format!("{name}: connect timed out"))??;
    Ok(socket)
}

async fn open_many(
    url: &str,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<Socket>> {
    let results: Vec<Result<Socket>> = stream::iter(0..count)
        .map(|i| {
            let url = url.to_owned();
            let name = format!("{prefix}{i}");
            async move { connect(&url, &name).await }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut sockets = Vec::with_capacity(count);
    let mut failures = 0;
    let mut first_error = None;
    for result in results {
        match result {
            Ok(socket) => sockets.push(socket),
            Err(err) => {
                failures += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    if let Some(err) = first_error {
        eprintln!("  {failures} of {count} connections failed; first error: {err:#}");
    }
    Ok(sockets)
}

/// Asks the service who is online (names with `prefix`) through one more connection.
async fn registered(url: &str, prefix: &str) -> Result<usize> {
    let mut socket = connect(url, "bench-observer").await?;
    socket.send(Message::text(r#"{"action":"who"}"#)).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(30), socket.next()).await
        else {
            break;
        };
        if let Message::Text(text) = message? {
            let frame: Value = serde_json::from_str(text.as_str())?;
            if frame["type"] == "who" {
                let users = frame["users"].as_array().map_or(0, |users| {
                    users
                        .iter()
                        .filter(|u| u.as_str().is_some_and(|u| u.starts_with(prefix)))
                        .count()
                });
                let _ = socket.close(None).await;
                return Ok(users);
            }
        }
    }
    bail!("no answer to who")
}

/// A socket is still open if reading it now yields neither a close, an error nor its end.
fn still_open(socket: &mut Socket) -> bool {
    use futures::FutureExt as _;
    loop {
        match socket.next().now_or_never() {
            None => return true,
            Some(Some(Ok(Message::Close(_)) | Err(_)) | None) => return false,
            Some(Some(Ok(_))) => {}
        }
    }
}

async fn measure(kind: ServerKind, args: &Args) -> Result<Column> {
    let mut column = Column {
        label: kind.label(),
        requested: args.connections,
        ..Column::default()
    };

    eprintln!("{}: {} idle connections…", kind.label(), args.connections);
    let server = Server::start(kind).await?;
    let pid = server.pid().context("the server exited")?;
    // Warm the server up (first connection, JIT for Node) before the baseline.
    drop(open_many(&server.url, "warm", 10, 10).await?);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = tree_rss_kib(pid);
    let started = Instant::now();
    let mut sockets = open_many(&server.url, "idle", args.connections, args.concurrency).await?;
    column.open_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = tree_rss_kib(pid);
    column.held = sockets
        .iter_mut()
        .map(still_open)
        .filter(|open| *open)
        .count();
    column.registered = registered(&server.url, "idle").await.unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    {
        column.rss_before_mib = before as f64 / 1024.0;
        column.rss_held_mib = held as f64 / 1024.0;
        column.rss_per_connection_kib =
            held.saturating_sub(before) as f64 / (column.held.max(1)) as f64;
    }
    drop(sockets);
    server.stop().await;

    eprintln!(
        "{}: {} clients, {} msg/s for {} s…",
        kind.label(),
        args.clients,
        args.rate,
        args.duration
    );
    let server = Server::start(kind).await?;
    if let Err(err) = messaging(&server.url, args, &mut column).await {
        eprintln!("  {}: {err:#}", kind.label());
        column.notes.push(format!("{err:#}"));
    }
    server.stop().await;
    Ok(column)
}

struct Stats {
    sent: AtomicU64,
    delivered: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
}

async fn messaging(url: &str, args: &Args, column: &mut Column) -> Result<()> {
    let clients = args.clients.max(2);
    let sockets = open_many(url, "c", clients, args.concurrency).await?;
    if sockets.len() != clients {
        bail!("only {} of {clients} clients connected", sockets.len());
    }
    let stats = Arc::new(Stats {
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    // Everyone shares one clock: the text carries the send time in µs since `epoch`.
    let epoch = Instant::now();
    let warmup = Duration::from_secs(1);
    let measured = Duration::from_secs(args.duration);
    #[allow(clippy::cast_precision_loss)] // a few thousand clients
    let period = Duration::from_secs_f64(clients as f64 / f64::from(args.rate));
    let send_until = epoch + warmup + measured;
    let drain_until = send_until + Duration::from_secs(3);

    let mut tasks = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let (mut sink, mut stream) = socket.split();
        let to = format!("c{}", (i + 1) % clients);
        let writer_stats = Arc::clone(&stats);
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let offset = period.mul_f64(i as f64 / clients as f64);
        let writer = tokio::spawn(async move {
            let stats = writer_stats;
            let mut ticks = tokio::time::interval_at((epoch + offset).into(), period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let tick = ticks.tick().await;
                if tick.into_std() >= send_until {
                    break;
                }
                let micros = epoch.elapsed().as_micros();
                let frame = json!({"action": "sendmessage", "to": to, "text": micros.to_string()});
                if sink.send(Message::text(frame.to_string())).await.is_err() {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if tick.into_std() >= epoch + warmup {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            sink
        });
        let reader_stats = Arc::clone(&stats);
        let reader = tokio::spawn(async move {
            let stats = reader_stats;
            let mut delivery = Vec::new();
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout_at(drain_until.into(), stream.next()).await
            {
                let Message::Text(text) = message else {
                    continue;
                };
                let now = epoch.elapsed();
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match frame["type"].as_str() {
                    Some("message") => {
                        let sent: u128 = frame["text"]
                            .as_str()
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(0);
                        #[allow(clippy::cast_precision_loss)]
                        let latency = (now.as_micros().saturating_sub(sent)) as f64 / 1000.0;
                        if Duration::from_micros(u64::try_from(sent).unwrap_or(0)) >= warmup {
                            delivery.push(latency);
                            stats.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some("sent") => {
                        stats.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            delivery
        });
        tasks.push((writer, reader));
    }
    // Acks carry no send time of their own (they include the warm-up's); their latency is
    // measured afterwards by `ack_latency`, one message at a time.
    let mut delivery_all = Vec::new();
    for (writer, reader) in tasks {
        let sink = writer.await?;
        delivery_all.extend(reader.await?);
        drop(sink);
    }
    column.sent = stats.sent.load(Ordering::Relaxed);
    column.delivered = stats.delivered.load(Ordering::Relaxed);
    column.acked = stats.acked.load(Ordering::Relaxed);
    column.errors = stats.errors.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)]
    {
        column.throughput = column.delivered as f64 / measured.as_secs_f64();
    }
    column.delivery = percentiles(delivery_all);
    // Let a backlog drain before measuring round trips on an idle server.
    tokio::time::sleep(Duration::from_secs(2)).await;
    column.ack = ack_latency(url).await.context("ack round trips")?;
    Ok(())
}

/// Round trip of `sendmessage` → `sent` on an otherwise idle server: 200 sequential messages.
async fn ack_latency(url: &str) -> Result<Percentiles> {
    let mut a = connect(url, "ack-a").await?;
    let _b = connect(url, "ack-b").await?;
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        a.send(Message::text(
            r#"{"action":"sendmessage","to":"ack-b","text":"x"}"#,
        ))
        .await?;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), a.next())
                .await
                .context("no ack within 10 s")?
                .context("connection ended")??;
            if let Message::Text(text) = message
                && text.as_str().contains(r#""type":"sent""#)
            {
                break;
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(percentiles(samples))
}

/// A table row: label, the value shown, the number the ratio compares (0 = no ratio).
type Row<'a> = (
    &'a str,
    Box<dyn Fn(&Column) -> String + 'a>,
    Box<dyn Fn(&Column) -> f64 + 'a>,
);

fn print_table(columns: &[Column]) {
    let ratio = |f: &dyn Fn(&Column) -> f64| -> String {
        match columns {
            [dev, other] if f(dev) > 0.0 => format!("{:.1}×", f(other) / f(dev)),
            _ => String::new(),
        }
    };
    let rows: Vec<Row<'_>> = vec![
        (
            "idle connections held / requested",
            Box::new(|c| format!("{}/{}", c.held, c.requested)),
            Box::new(|_| 0.0),
        ),
        (
            "  registered by the backend",
            Box::new(|c| c.registered.to_string()),
            Box::new(|_| 0.0),
        ),
        (
            "  time to open (s)",
            Box::new(|c| format!("{:.2}", c.open_secs)),
            Box::new(|c| c.open_secs),
        ),
        (
            "  server RSS before (MiB)",
            Box::new(|c| format!("{:.1}", c.rss_before_mib)),
            Box::new(|c| c.rss_before_mib),
        ),
        (
            "  server RSS holding them (MiB)",
            Box::new(|c| format!("{:.1}", c.rss_held_mib)),
            Box::new(|c| c.rss_held_mib),
        ),
        (
            "  RSS per connection (KiB)",
            Box::new(|c| format!("{:.1}", c.rss_per_connection_kib)),
            Box::new(|c| c.rss_per_connection_kib),
        ),
        (
            "messages sent / delivered",
            Box::new(|c| format!("{}/{}", c.sent, c.delivered)),
            Box::new(|_| 0.0),
        ),
        (
            "  acks received / errors",
            Box::new(|c| format!("{}/{}", c.acked, c.errors)),
            Box::new(|_| 0.0),
        ),
        (
            "  throughput (msg/s)",
            Box::new(|c| format!("{:.0}", c.throughput)),
            Box::new(|c| c.throughput),
        ),
        (
            "  delivery p50 (ms)",
            Box::new(|c| format!("{:.2}", c.delivery.p50)),
            Box::new(|c| c.delivery.p50),
        ),
        (
            "  delivery p99 (ms)",
            Box::new(|c| format!("{:.2}", c.delivery.p99)),
            Box::new(|c| c.delivery.p99),
        ),
        (
            "  delivery max (ms)",
            Box::new(|c| format!("{:.2}", c.delivery.max)),
            Box::new(|c| c.delivery.max),
        ),
        (
            "ack round trip p50 (ms, idle)",
            Box::new(|c| format!("{:.2}", c.ack.p50)),
            Box::new(|c| c.ack.p50),
        ),
        (
            "ack round trip p99 (ms, idle)",
            Box::new(|c| format!("{:.2}", c.ack.p99)),
            Box::new(|c| c.ack.p99),
        ),
    ];
    print!("{:<36}", "");
    for column in columns {
        print!("{:>20}", column.label);
    }
    if columns.len() == 2 {
        print!("{:>10}", "ratio");
    }
    println!();
    for (name, value, number) in &rows {
        print!("{name:<36}");
        for column in columns {
            print!("{:>20}", value(column));
        }
        if columns.len() == 2 {
            print!("{:>10}", ratio(number.as_ref()));
        }
        println!();
    }
    for column in columns {
        for note in &column.notes {
            println!("{}: {note}", column.label);
        }
    }
}
