//! The only module that prints.
//!
//! Results go to stdout (human text or JSON); progress, notes and warnings go to stderr.
//! On a terminal, progress is one indicatif line per resource with a spinner while AWS is
//! being waited on; elsewhere (CI, pipes) it is plain timestamped lines.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::OutputFormat;

#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    format: OutputFormat,
    /// `None` when stderr is not a terminal: plain lines instead of spinners.
    bars: Option<MultiProgress>,
}

impl Ui {
    pub fn new(format: OutputFormat) -> Self {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            inner: Arc::new(Inner { format, bars }),
        }
    }

    /// A Ui that never draws spinners (tests, `--output json` consumers).
    pub fn plain(format: OutputFormat) -> Self {
        Self {
            inner: Arc::new(Inner { format, bars: None }),
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.inner.format
    }

    /// Starts the progress line of one resource step, e.g. `+ create  route sendmessage`.
    pub fn task(&self, label: String) -> Task {
        let bar = self.inner.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        if bar.is_none() {
            line(&format!("{label} …"));
        }
        Task { label, bar }
    }

    /// A progress note that belongs to no resource.
    pub fn note(&self, message: &str) {
        self.emit(message);
    }

    pub fn warn(&self, message: &str) {
        self.emit(&format!("warning: {message}"));
    }

    fn emit(&self, message: &str) {
        match &self.inner.bars {
            Some(bars) => {
                let _ = bars.println(message);
            }
            None => line(message),
        }
    }

    /// Prints a command's result on stdout: `text` for humans, `json` for `--output json`.
    pub fn result<T: Serialize>(&self, text: &str, json: &T) {
        let mut out = std::io::stdout().lock();
        let _ = match self.inner.format {
            OutputFormat::Text => writeln!(out, "{text}"),
            OutputFormat::Json => match serde_json::to_string_pretty(json) {
                Ok(body) => writeln!(out, "{body}"),
                Err(err) => writeln!(out, "{{\"error\":\"cannot render result: {err}\"}}"),
            },
        };
    }

    /// Prints one line of a stream on stdout (`chatctl logs`): `text`, or `json` as one compact
    /// JSON object per line. Returns false once stdout is closed (its reader went away).
    pub fn stream_line<T: Serialize>(&self, text: &str, json: &T) -> bool {
        let mut out = std::io::stdout().lock();
        let written = match self.inner.format {
            OutputFormat::Text => writeln!(out, "{text}"),
            OutputFormat::Json => match serde_json::to_string(json) {
                Ok(line) => writeln!(out, "{line}"),
                Err(err) => writeln!(out, "{{\"error\":\"cannot render event: {err}\"}}"),
            },
        };
        // Each line goes out at once: a follower piped into another program sees events as
        // they arrive.
        written.and_then(|()| out.flush()).is_ok()
    }

    /// Prints an error that ends the command (stderr; JSON on stdout too with --output json).
    pub fn error(&self, error: &anyhow::Error) {
        let message = format!("{error:#}");
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
        if self.inner.format == OutputFormat::Json {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::json!({ "error": message })
            );
        }
    }

    /// Asks a yes/no question on the terminal; anything but y/yes is no.
    pub fn confirm(&self, question: &str) -> bool {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{question} [y/N] ");
        let _ = err.flush();
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }
}

/// Progress of one resource step.
pub struct Task {
    label: String,
    bar: Option<ProgressBar>,
}

impl Task {
    /// Shown while waiting on AWS (a retry, a propagation delay, a waiter).
    pub fn waiting(&self, why: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{} — {why}", self.label)),
            None => line(&format!("{} — {why}", self.label)),
        }
    }

    pub fn done(self) {
        self.finish("done");
    }

    pub fn failed(self, why: &str) {
        self.finish(&format!("failed: {why}"));
    }

    fn finish(self, outcome: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(format!("{} … {outcome}", self.label)),
            None => line(&format!("{} … {outcome}", self.label)),
        }
    }
}

fn line(message: &str) {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default();
    let _ = writeln!(std::io::stderr().lock(), "{stamp} {message}");
}
