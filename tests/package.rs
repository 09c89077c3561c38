//! The handler package: the one built into chatctl (checked and zipped reproducibly at build
//! time, written out by `chatctl package --out`), prebuilt zips checked, and binaries that
//! Lambda's provided.al2023 runtime could not start refused with advice. Real binaries come
//! from the embedded package and from the system C compiler (small programs linked against
//! glibc 2.36 symbols, or statically); tests that need gcc say so and skip when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use chatctl::config::Architecture;
use chatctl::package::{self, Linkage, Package, PackageSource, Unfit};

/// The package built into the chatctl under test (the library and the binary share it).
fn embedded() -> Package {
    package::embedded_package(Architecture::X86_64).expect("chatctl carries the chat backend")
}

/// The `bootstrap` inside a zip.
fn unzip_bootstrap(zip: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut entry = archive.by_name("bootstrap").unwrap();
    let mut binary = Vec::new();
    entry.read_to_end(&mut binary).unwrap();
    binary
}

/// `2.34` → `[2, 34]`, which compares as versions do.
fn version(text: &str) -> Vec<u32> {
    text.split('.').map(|n| n.parse().unwrap()).collect()
}

/// Compiles `source` with the system C compiler; `None` (after saying why) without gcc.
fn gcc(dir: &Path, name: &str, source: &str, flags: &[&str]) -> Option<PathBuf> {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    let out = dir.join(name);
    match std::process::Command::new("gcc")
        .arg("-O2")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&c)
        .output()
    {
        Ok(result) if result.status.success() => Some(out),
        Ok(result) => {
            eprintln!(
                "skipping: gcc {flags:?} failed: {}",
                String::from_utf8_lossy(&result.stderr)
            );
            None
        }
        Err(err) => {
            eprintln!("skipping: no C compiler (gcc: {err})");
            None
        }
    }
}

const HELLO: &str = "int main(void) { return 0; }\n";
/// arc4random appeared in glibc 2.36.
const ARC4RANDOM: &str =
    "#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n";

fn zip_of(name: &str, mode: u32, content: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
    writer.start_file(name, options).unwrap();
    writer.write_all(content).unwrap();
    writer.finish().unwrap().into_inner()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the chatctl binary in `dir` with nothing inherited that would change its behaviour.
async fn chatctl(dir: &Path, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatctl"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CHATCTL_CONFIG")
        .env_remove("CHATCTL_HANDLER_ZIP")
        .env_remove("CHATCTL_STAGE")
        .env_remove("CHATCTL_REGION")
        .env_remove("CHATCTL_BACKEND_URL")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_mins(2), command.output())
        .await
        .expect("chatctl package finished within 2 minutes")
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn chatctl_package_writes_the_embedded_package_it_deploys() {
    let carried = embedded();
    let dir = tempfile::tempdir().unwrap();
    // No chatctl.toml, no source tree around: the package comes from the binary itself.
    let run = chatctl(
        dir.path(),
        &["package", "--out", "dist/bootstrap.zip", "--output", "json"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let written = std::fs::read(dir.path().join("dist/bootstrap.zip")).unwrap();
    assert!(
        written == carried.bytes,
        "--out wrote other bytes than the carried package"
    );
    assert_eq!(json["path"], "dist/bootstrap.zip");
    assert_eq!(json["size"], written.len());
    assert_eq!(
        json["sha256_base64"],
        package::code_sha256(&written).as_str()
    );
    assert_eq!(json["sha256_base64"], carried.sha256_base64.as_str());
    assert_eq!(json["sha256_hex"], carried.sha256_hex.as_str());
    assert_eq!(json["architecture"], "x86_64");
    assert_eq!(json["source"]["kind"], "embedded");
    assert_eq!(
        json["source"]["profile"],
        package::embedded::profile(),
        "the profile the package was built with is reported"
    );

    // The hash is Lambda's CodeSha256: base64 of the raw SHA-256, the same digest as the hex.
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&carried.sha256_base64)
            .unwrap(),
        hex::decode(&carried.sha256_hex).unwrap()
    );

    // What Lambda will see: glibc within provided.al2023's 2.34, its loader, its machine —
    // checked again now on the bytes, not only trusted from build time.
    let info = package::check_zip(&written, Architecture::X86_64).unwrap();
    assert_eq!(info, carried.binary);
    assert_eq!(info.linkage, Linkage::Dynamic);
    assert_eq!(
        info.interpreter.as_deref(),
        Some("/lib64/ld-linux-x86-64.so.2")
    );
    let glibc = info.glibc.as_deref().unwrap();
    assert!(version(glibc) <= version("2.34"), "glibc {glibc}");
    assert!(info.needed.contains(&"libc.so.6".to_owned()));
    assert_eq!(json["binary"]["glibc"], glibc);

    // One entry, bootstrap, executable by everyone; zipping the same binary again gives the
    // same bytes (the zip step is reproducible).
    let mut archive = zip::ZipArchive::new(Cursor::new(&written)).unwrap();
    assert_eq!(archive.len(), 1);
    let entry = archive.by_name("bootstrap").unwrap();
    assert_eq!(entry.unix_mode(), Some(0o100_755));
    assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
    drop(entry);
    let binary = unzip_bootstrap(&written);
    assert_eq!(binary.len() as u64, info.size);
    let again =
        package::from_binary(&binary, Architecture::X86_64, Path::new("bootstrap")).unwrap();
    assert!(again.bytes == written, "two zips of one binary differ");
    assert_eq!(again.sha256_base64, carried.sha256_base64);

    // The text result says where the package comes from and what it is.
    let run = chatctl(dir.path(), &["package"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for expected in [
        format!(
            "bootstrap for x86_64, built into chatctl ({} profile)\n",
            package::embedded::profile()
        ),
        format!("sha256      {}", carried.sha256_hex),
        format!("CodeSha256  {}", carried.sha256_base64),
        format!("linking     dynamic, needs glibc {glibc}; provided.al2023 has 2.34"),
    ] {
        assert!(
            run.stdout.contains(&expected),
            "{expected} in:\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("zip  "),
        "no file without --out: {}",
        run.stdout
    );
}

#[tokio::test]
async fn chatctl_package_checks_a_prebuilt_zip_and_writes_it_out() {
    let built = embedded();
    let dir = tempfile::tempdir().unwrap();
    let prebuilt = dir.path().join("handler.zip");
    std::fs::write(&prebuilt, &built.bytes).unwrap();

    let run = chatctl(
        dir.path(),
        &[
            "package",
            "--handler-zip",
            "handler.zip",
            "--out",
            "dist/bootstrap.zip",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["path"], "dist/bootstrap.zip");
    assert_eq!(json["size"], built.bytes.len());
    assert_eq!(json["sha256_base64"], built.sha256_base64.as_str());
    assert_eq!(json["sha256_hex"], built.sha256_hex.as_str());
    assert_eq!(json["architecture"], "x86_64");
    assert_eq!(json["source"]["kind"], "prebuilt");
    assert_eq!(json["source"]["zip"], "handler.zip");
    assert_eq!(json["binary"]["linkage"], "dynamic");
    // A prebuilt zip is deployed as it is, so its copy is byte-identical.
    assert!(std::fs::read(dir.path().join("dist/bootstrap.zip")).unwrap() == built.bytes);

    let run = chatctl(dir.path(), &["package", "--handler-zip", "handler.zip"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for expected in [
        "bootstrap for x86_64, prebuilt handler.zip\n",
        &format!(
            "linking     dynamic, needs glibc {}; provided.al2023 has 2.34",
            built.binary.glibc.as_deref().unwrap()
        ),
        &format!("sha256      {}", built.sha256_hex),
        &format!("CodeSha256  {}", built.sha256_base64),
        &format!("({} bytes)", built.bytes.len()),
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected} in:\n{}",
            run.stdout
        );
    }
}

#[tokio::test]
async fn chatctl_package_refuses_zips_lambda_could_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hello) = gcc(dir.path(), "hello", HELLO, &[]) else {
        return;
    };
    let hello = std::fs::read(hello).unwrap();
    std::fs::write(
        dir.path().join("good.zip"),
        zip_of("bootstrap", 0o755, &hello),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nobootstrap.zip"),
        zip_of("main", 0o755, &hello),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("script.zip"),
        zip_of("bootstrap", 0o755, b"#!/bin/sh\nexec ./chat\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("private.zip"),
        zip_of("bootstrap", 0o700, &hello),
    )
    .unwrap();

    for (zip, expected) in [
        (
            "nobootstrap.zip",
            "the handler zip nobootstrap.zip cannot be deployed: it has no `bootstrap` entry (found: main)",
        ),
        (
            "script.zip",
            "bootstrap is not a Linux executable: it is a script",
        ),
        ("private.zip", "its bootstrap has mode 700"),
        ("missing.zip", "cannot read the handler zip missing.zip"),
    ] {
        let run = chatctl(dir.path(), &["package", "--handler-zip", zip]).await;
        assert_eq!(run.code, Some(1), "{zip}: {}", run.stdout);
        assert!(
            run.stderr.contains(expected),
            "{zip}: expected `{expected}` in:\n{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{zip}: {}", run.stdout);
    }

    // The architecture and backend.zip come from chatctl.toml.
    std::fs::write(
        dir.path().join("chatctl.toml"),
        "[app]\nname = \"chat\"\n\n[backend]\narchitecture = \"arm64\"\nzip = \"good.zip\"\n",
    )
    .unwrap();
    let run = chatctl(dir.path(), &["package"]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("good.zip cannot be deployed: bootstrap is built for x86_64, but the function's architecture is arm64"),
        "{}",
        run.stderr
    );
    // --handler-zip overrides backend.zip.
    let run = chatctl(dir.path(), &["package", "--handler-zip", "nobootstrap.zip"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("nobootstrap.zip"), "{}", run.stderr);
    std::fs::write(
        dir.path().join("chatctl.toml"),
        "[app]\nname = \"chat\"\n\n[backend]\narchitecture = \"x86_64\"\nzip = \"good.zip\"\n",
    )
    .unwrap();
    let run = chatctl(dir.path(), &["--output", "json", "package"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["source"]["zip"], "good.zip");
}

#[tokio::test]
async fn binaries_needing_glibc_newer_than_2_34_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(binary) = gcc(dir.path(), "arc4random", ARC4RANDOM, &[]) else {
        return;
    };
    let content = std::fs::read(&binary).unwrap();
    assert_eq!(
        package::check_binary(&content, Architecture::X86_64),
        Err(Unfit::GlibcTooNew {
            needed: "GLIBC_2.36".to_owned()
        })
    );
    let err = package::from_binary(&content, Architecture::X86_64, &binary).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("cannot run on Lambda: bootstrap needs GLIBC_2.36 but Lambda's provided.al2023 has glibc 2.34: build with `cargo lambda build --release --output-format zip`"),
        "{message}"
    );

    // The same through a prebuilt zip and the command line.
    std::fs::write(
        dir.path().join("new.zip"),
        zip_of("bootstrap", 0o755, &content),
    )
    .unwrap();
    let run = chatctl(dir.path(), &["package", "--handler-zip", "new.zip"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("needs GLIBC_2.36"), "{}", run.stderr);

    // Packed relative relocations need the loader feature glibc 2.36 introduced.
    if let Some(relr) = gcc(dir.path(), "relr", HELLO, &["-Wl,-z,pack-relative-relocs"]) {
        let result = package::check_binary(&std::fs::read(relr).unwrap(), Architecture::X86_64);
        assert!(
            matches!(&result, Err(Unfit::GlibcTooNew { needed }) if needed == "GLIBC_ABI_DT_RELR" || needed == "GLIBC_2.36"),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn static_and_older_glibc_binaries_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let Some(dynamic) = gcc(dir.path(), "hello", HELLO, &[]) else {
        return;
    };
    let content = std::fs::read(&dynamic).unwrap();
    let package = package::from_binary(&content, Architecture::X86_64, &dynamic).unwrap();
    assert_eq!(package.binary.linkage, Linkage::Dynamic);
    // Any glibc program needs some version (with glibc ≥ 2.34: __libc_start_main@GLIBC_2.34).
    let glibc = package.binary.glibc.as_deref().unwrap();
    assert!(version(glibc) <= version("2.34"), "glibc {glibc}");
    assert_eq!(unzip_bootstrap(&package.bytes), content);
    assert!(matches!(&package.source, PackageSource::Built { binary } if *binary == dynamic));

    if let Some(fully_static) = gcc(dir.path(), "static", ARC4RANDOM, &["-static"]) {
        // Static: arc4random is inside the binary, nothing is asked of Lambda's glibc.
        let info =
            package::check_binary(&std::fs::read(fully_static).unwrap(), Architecture::X86_64)
                .unwrap();
        assert_eq!(info.linkage, Linkage::Static);
        assert_eq!(info.glibc, None);
        assert!(info.needed.is_empty());
    }
}

#[tokio::test]
async fn binaries_for_the_other_architecture_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hello) = gcc(dir.path(), "hello", HELLO, &[]) else {
        return;
    };
    let x86 = std::fs::read(hello).unwrap();
    let err = package::check_binary(&x86, Architecture::Arm64).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "bootstrap is built for x86_64, but the function's architecture is arm64: build it for arm64 (`cargo lambda build --release --arm64"
        ),
        "{err}"
    );

    // The same header claiming aarch64 (e_machine 183), checked for an x86_64 function.
    let mut arm = x86.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    let err = package::check_binary(&arm, Architecture::X86_64).unwrap_err();
    assert!(
        matches!(&err, Unfit::WrongArchitecture { found, expected: Architecture::X86_64, .. } if found == "arm64 (aarch64)"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("set architecture = \"arm64\" under [backend]")
    );

    let not_elf = package::check_binary(b"\0\0\0\0hello", Architecture::X86_64).unwrap_err();
    assert!(matches!(not_elf, Unfit::NotElf(_)), "{not_elf}");
}

#[tokio::test]
async fn arm64_points_at_a_prebuilt_zip() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chatctl.toml"),
        "[app]\nname = \"chat\"\n\n[backend]\narchitecture = \"arm64\"\n",
    )
    .unwrap();
    let run = chatctl(dir.path(), &["package"]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("backend.architecture = \"arm64\" needs a prebuilt zip: chatctl carries the chat backend for x86_64 only"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("cargo lambda build --release --arm64 --output-format zip")
            && run.stderr.contains("backend.zip"),
        "{}",
        run.stderr
    );
}
