//! The reproducible zip Lambda receives, and its hash as Lambda reports `CodeSha256`.
//!
//! Reproducible means byte-identical: one entry named `bootstrap`, Unix mode 0755, the DOS epoch
//! (1980-01-01 00:00) as its time, deflate at a fixed level and no extra fields. The same binary
//! therefore always gives the same zip and the same hash, which is what lets `up` skip the
//! upload when the deployed function's `CodeSha256` already matches.
//!
//! build.rs shares this file (it zips the package it embeds), so it names its siblings through
//! `super::` and uses no other part of chatctl.

use std::fmt::Write as _;
use std::io::{Cursor, Read, Write};

use anyhow::{Context, Result, bail};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::arch::Architecture;
use super::check::{BinaryInfo, check_binary};

/// The file Lambda's custom runtimes execute, at the root of the zip.
pub const BOOTSTRAP: &str = "bootstrap";

/// Lambda's limit for a zip uploaded directly through the API (larger ones must go through S3,
/// which chatctl doesn't use).
pub const MAX_ZIP_BYTES: u64 = 50 * 1024 * 1024;

/// Lambda's limit for the unzipped deployment package.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// Deflate level of the zip. Fixed, because the level is part of what makes the bytes stable;
/// 6 because 9 makes the release handler's zip only 0.5 % smaller for three times the work.
const DEFLATE_LEVEL: i64 = 6;

/// The zip entry's permissions: Lambda runs `bootstrap` as a user that doesn't own the file, so
/// it must be readable and executable by everyone.
const BOOTSTRAP_MODE: u32 = 0o755;

/// Lambda's `CodeSha256` of a zip: base64 of its raw SHA-256.
pub fn code_sha256(zip_bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip_bytes))
}

/// The zip's SHA-256 as hex and as Lambda's base64 `CodeSha256`.
pub fn digests(zip_bytes: &[u8]) -> (String, String) {
    let digest = Sha256::digest(zip_bytes);
    (
        hex::encode(digest),
        base64::engine::general_purpose::STANDARD.encode(digest),
    )
}

/// Zips `binary` as the single entry `bootstrap`, byte for byte the same every time.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(binary.len() / 2)));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        // 1980-01-01 00:00, the earliest time a zip can hold.
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(BOOTSTRAP_MODE)
        .large_file(false);
    writer
        .start_file(BOOTSTRAP, options)
        .context("cannot start the zip")?;
    writer
        .write_all(binary)
        .context("cannot compress the handler")?;
    let cursor = writer.finish().context("cannot finish the zip")?;
    Ok(cursor.into_inner())
}

fn check_zip_size(size: u64) -> Result<()> {
    if size > MAX_ZIP_BYTES {
        bail!(
            "the zip is {:.1} MiB but Lambda accepts at most 50 MiB uploaded directly: build in release mode (stripped) or reduce the binary",
            mib(size)
        );
    }
    Ok(())
}

#[allow(clippy::cast_precision_loss)] // sizes far below 2^52 bytes
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Checks a zip made elsewhere: within Lambda's size limits, with a `bootstrap` entry at its root
/// that everyone may read and execute and that passes [`check_binary`].
pub fn check_zip(zip_bytes: &[u8], arch: Architecture) -> Result<BinaryInfo> {
    check_zip_size(zip_bytes.len() as u64)?;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip_bytes)).context("it is not a readable zip file")?;
    let mut unzipped: u64 = 0;
    let mut names = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .with_context(|| format!("entry {index} of the zip is unreadable"))?;
        unzipped = unzipped.saturating_add(entry.size());
        names.push(entry.name().to_owned());
    }
    if unzipped > MAX_UNZIPPED_BYTES {
        bail!(
            "it unzips to {:.1} MiB but Lambda allows at most 250 MiB",
            mib(unzipped)
        );
    }
    let Some(index) = archive.index_for_name(BOOTSTRAP) else {
        let nested: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| name.rsplit('/').next() == Some(BOOTSTRAP))
            .collect();
        if nested.is_empty() {
            bail!(
                "it has no `bootstrap` entry (found: {}); Lambda's provided.al2023 runtime runs the file named bootstrap at the root of the zip: zip the handler binary under that name (`cargo lambda build --release --output-format zip` does)",
                listing(&names)
            );
        }
        bail!(
            "its bootstrap is inside a directory ({}); Lambda runs only bootstrap at the root of the zip: zip the file itself, not its directory (e.g. `zip -j`)",
            nested.join(", ")
        );
    };
    let mut entry = archive
        .by_index(index)
        .context("the bootstrap entry is unreadable")?;
    if entry.is_dir() {
        bail!("its bootstrap is a directory, not the handler executable");
    }
    let Some(mode) = entry.unix_mode() else {
        bail!(
            "its bootstrap has no Unix permissions (the zip was made on a system without them), so Lambda cannot execute it: make the zip on Linux or macOS after `chmod 755 bootstrap`, or with `cargo lambda build --output-format zip`"
        );
    };
    if mode & 0o170_000 == 0o120_000 {
        bail!(
            "its bootstrap is a symbolic link; zip the handler executable itself (`zip` without -y)"
        );
    }
    if mode & 0o005 != 0o005 {
        bail!(
            "its bootstrap has mode {:o}; Lambda runs it as a user that doesn't own it, so everyone must be able to read and execute it: `chmod 755 bootstrap` before zipping",
            mode & 0o7777
        );
    }
    let mut content = Vec::new();
    entry
        .by_ref()
        .take(MAX_UNZIPPED_BYTES + 1)
        .read_to_end(&mut content)
        .context("cannot decompress bootstrap")?;
    check_binary(&content, arch).map_err(anyhow::Error::new)
}

fn listing(names: &[String]) -> String {
    const SHOWN: usize = 5;
    if names.is_empty() {
        return "nothing, the zip is empty".to_owned();
    }
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        let _ = write!(text, " and {} more", names.len() - SHOWN);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::check::tests::craft_elf;
    use object::elf;

    const X86_INTERP: &str = "/lib64/ld-linux-x86-64.so.2";

    #[test]
    fn the_zip_is_reproducible_and_holds_an_executable_bootstrap() {
        let binary = craft_elf(elf::EM_X86_64, Some(X86_INTERP), &["GLIBC_2.17"]);
        let first = zip_bootstrap(&binary).unwrap();
        let second = zip_bootstrap(&binary).unwrap();
        assert_eq!(first, second);
        assert_eq!(code_sha256(&first), code_sha256(&second));
        let info = check_zip(&first, Architecture::X86_64).unwrap();
        assert_eq!(info.size, binary.len() as u64);

        let mut archive = zip::ZipArchive::new(Cursor::new(&first)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode(), Some(0o100_755));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
        assert!(entry.extra_data().is_none_or(<[u8]>::is_empty));
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, binary);
    }

    #[test]
    fn code_sha256_is_base64_of_the_raw_digest() {
        // SHA-256("abc"), a FIPS 180-2 test vector, in base64.
        assert_eq!(
            code_sha256(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(
            digests(b"abc"),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned(),
                code_sha256(b"abc")
            )
        );
    }

    fn zip_with(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, mode, content) in entries {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .unix_permissions(*mode);
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn prebuilt_zips_need_an_executable_bootstrap_at_the_root() {
        let good = craft_elf(elf::EM_X86_64, None, &[]);
        let message =
            |zip: &[u8]| format!("{:#}", check_zip(zip, Architecture::X86_64).unwrap_err());

        let m = message(&zip_with(&[("handler", 0o755, &good)]));
        assert!(m.contains("no `bootstrap` entry (found: handler)"), "{m}");
        let m = message(&zip_with(&[("target/lambda/chat/bootstrap", 0o755, &good)]));
        assert!(
            m.contains("inside a directory (target/lambda/chat/bootstrap)"),
            "{m}"
        );
        let m = message(&zip_with(&[("bootstrap", 0o644, &good)]));
        assert!(m.contains("mode 644") && m.contains("chmod 755"), "{m}");
        let m = message(&zip_with(&[("bootstrap", 0o700, &good)]));
        assert!(m.contains("mode 700"), "{m}");
        let m = message(&zip_with(&[("bootstrap", 0o755, b"#!/bin/sh\n")]));
        assert!(m.contains("a script"), "{m}");
        let m = message(b"not a zip at all");
        assert!(m.contains("not a readable zip"), "{m}");

        // Other files next to bootstrap are fine; bootstrap with 0755 and 0555 too.
        check_zip(
            &zip_with(&[("README", 0o644, b"hi"), ("bootstrap", 0o555, &good)]),
            Architecture::X86_64,
        )
        .unwrap();
    }
}
