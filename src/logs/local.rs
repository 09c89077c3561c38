//! The logs `chatctl dev` writes, and reading them back for `chatctl logs --dev`.
//!
//! One file per source under `{dir}/{stage}/` (`access.log`), one event per line in CloudWatch
//! Logs' export form: the event's time (RFC 3339, UTC, milliseconds), a space, then the message
//! exactly as the deployed stack writes it — for the access log, a line in
//! [`crate::chat_api::ACCESS_LOG_FORMAT`].

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use time::format_description::well_known::Rfc3339;

use super::cloudwatch::Raw;
use super::event::{Source, rfc3339_millis};

/// Where `chatctl dev` writes its logs unless told otherwise (relative to the current directory,
/// like `.terraform/` or `.sst/`).
pub const DEFAULT_DIR: &str = ".chatctl/logs";

/// The file of `source`'s events for `stage`.
pub fn file(dir: &Path, stage: &str, source: Source) -> PathBuf {
    dir.join(stage).join(format!("{}.log", source.as_str()))
}

/// One event as a line of a log file (with its newline).
pub fn record(timestamp: i64, message: &str) -> String {
    format!(
        "{} {}\n",
        rfc3339_millis(timestamp),
        message.trim_end_matches('\n')
    )
}

/// The time (ms since the epoch) and message of a line written by [`record`].
pub fn parse_record(line: &str) -> Option<(i64, &str)> {
    let (stamp, message) = line.split_once(' ')?;
    let at = time::OffsetDateTime::parse(stamp, &Rfc3339).ok()?;
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some((millis, message))
}

/// Reads one log file from where the previous read stopped: complete lines only, starting
/// over when the file was truncated or replaced (a new `chatctl dev` session rotates it).
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    offset: u64,
    /// The file read last (its inode): a different one starts over.
    file_id: Option<u64>,
}

impl Tail {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            offset: 0,
            file_id: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The events appended since the last read; `None` when the file does not exist.
    pub fn read(&mut self) -> Result<Option<Vec<Raw>>> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let metadata = file
            .metadata()
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let file_id = file_id(&metadata);
        if metadata.len() < self.offset || file_id != self.file_id {
            self.offset = 0;
        }
        self.file_id = file_id;
        file.seek(SeekFrom::Start(self.offset))
            .and_then(|_| {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map(|_| bytes)
            })
            .map(|bytes| Some(self.lines(&bytes)))
            .with_context(|| format!("cannot read {}", self.path.display()))
    }

    fn lines(&mut self, bytes: &[u8]) -> Vec<Raw> {
        let complete = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        let mut events = Vec::new();
        let mut at = self.offset;
        for line in bytes[..complete].split_inclusive(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            if let Some((timestamp, message)) = parse_record(text.trim_end_matches('\n')) {
                events.push(Raw {
                    id: format!("{}:{at}", self.path.display()),
                    timestamp,
                    message: message.to_owned(),
                });
            }
            at += line.len() as u64;
        }
        self.offset += complete as u64;
        events
    }
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // the signature of the non-Unix version
fn file_id(metadata: &std::fs::Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    Some(metadata.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let line = record(1_764_619_262_345, r#"{"requestId":"x"}"#);
        assert_eq!(line, "2025-12-01T20:01:02.345Z {\"requestId\":\"x\"}\n");
        assert_eq!(
            parse_record(line.trim_end()),
            Some((1_764_619_262_345, r#"{"requestId":"x"}"#))
        );
        assert_eq!(parse_record("not a record"), None);
        assert_eq!(
            file(Path::new(".chatctl/logs"), "dev", Source::Access),
            Path::new(".chatctl/logs/dev/access.log")
        );
    }

    #[test]
    fn a_tail_reads_complete_new_lines_and_follows_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut tail = Tail::new(path.clone());
        assert_eq!(tail.read().unwrap(), None);
        std::fs::write(
            &path,
            format!("{}{}", record(1000, "one"), "2025-12-01T20:01:02.345Z par"),
        )
        .unwrap();
        let first = tail.read().unwrap().unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(
            (first[0].timestamp, first[0].message.as_str()),
            (1000, "one")
        );
        // The partial line is read once it is complete; nothing is read twice.
        std::fs::write(
            &path,
            format!("{}{}", record(1000, "one"), record(2000, "two")),
        )
        .unwrap();
        let second = tail.read().unwrap().unwrap();
        assert_eq!(
            second
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>(),
            ["two"]
        );
        assert_ne!(first[0].id, second[0].id);
        // Truncated: reading starts over.
        std::fs::write(&path, record(3000, "three")).unwrap();
        let third = tail.read().unwrap().unwrap();
        assert_eq!(
            third.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
            ["three"]
        );
        // Replaced by a longer file (a new session rotated the old one away): starts over too.
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        let long = format!(
            "{}{}{}",
            record(4000, "four"),
            record(5000, "five"),
            record(6000, "six")
        );
        std::fs::write(&path, long).unwrap();
        let fourth = tail.read().unwrap().unwrap();
        assert_eq!(fourth.len(), 3, "{fourth:?}");
    }
}
