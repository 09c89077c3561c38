//! The handler package: built with cargo and zipped reproducibly, prebuilt zips checked, and
//! binaries that Lambda's provided.al2023 runtime could not start refused with advice. Real
//! binaries come from cargo (the handler, dev profile) and from the system C compiler (small
//! programs linked against glibc 2.36 symbols, or statically); tests that need gcc say so and
//! skip when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use chatctl::config::Architecture;
use chatctl::package::{self, BuildProfile, Linkage, Package, PackageSource, Unfit};
use tokio::sync::OnceCell;

const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

/// The handler built once per test run with the dev profile: a release build takes minutes.
async fn dev_handler() -> &'static Package {
    static HANDLER: OnceCell<Package> = OnceCell::const_new();
    HANDLER
        .get_or_init(|| async {
            tokio::time::timeout(
                Duration::from_mins(15),
                package::build(
                    Path::new(WORKSPACE),
                    Architecture::X86_64,
                    None,
                    BuildProfile::Dev,
                ),
            )
            .await
            .expect("cargo build of the handler took more than 15 minutes")
            .expect("the dev handler builds and passes the checks")
        })
        .await
}

/// `2.34` → `[2, 34]`, which compares as versions do.
fn version(text: &str) -> Vec<u32> {
    text.split('.').map(|n| n.parse().unwrap()).collect()
}

fn built_binary(package: &Package) -> &Path {
    match &package.source {
        PackageSource::Built { binary } => binary,
        PackageSource::Prebuilt { .. } => panic!("expected a built package: {package:?}"),
    }
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
async fn the_handler_builds_with_cargo_and_zips_reproducibly() {
    let built = dev_handler().await;
    let binary_path = built_binary(built);
    assert!(
        binary_path.ends_with("debug/bootstrap"),
        "{}",
        binary_path.display()
    );
    assert_eq!(built.path, package::default_zip_path(Path::new(WORKSPACE)));
    assert_eq!(std::fs::read(&built.path).unwrap(), built.bytes);

    // What Lambda will see: glibc within provided.al2023's 2.34, its loader, its machine.
    assert_eq!(built.binary.linkage, Linkage::Dynamic);
    assert_eq!(
        built.binary.interpreter.as_deref(),
        Some("/lib64/ld-linux-x86-64.so.2")
    );
    let glibc = built.binary.glibc.as_deref().unwrap();
    assert!(version(glibc) <= version("2.34"), "glibc {glibc}");
    assert!(built.binary.needed.contains(&"libc.so.6".to_owned()));

    // The same binary packaged again, elsewhere: the same bytes and hash.
    let binary = std::fs::read(binary_path).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let again = package::build(
        elsewhere.path(),
        Architecture::X86_64,
        None,
        BuildProfile::Existing(binary_path.to_path_buf()),
    )
    .await
    .unwrap();
    assert!(again.bytes == built.bytes, "two zips of one binary differ");
    assert_eq!(again.sha256_base64, built.sha256_base64);
    assert_eq!(again.size, built.bytes.len() as u64);

    // The hash is Lambda's CodeSha256: base64 of the raw SHA-256, the same digest as the hex.
    assert_eq!(package::code_sha256(&built.bytes), built.sha256_base64);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&built.sha256_base64)
            .unwrap(),
        hex::decode(&built.sha256_hex).unwrap()
    );

    // One entry, bootstrap, executable by everyone, holding the binary.
    let mut archive = zip::ZipArchive::new(Cursor::new(&built.bytes)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_name("bootstrap").unwrap();
    assert_eq!(entry.unix_mode(), Some(0o100_755));
    assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
    let mut content = Vec::with_capacity(binary.len());
    entry.read_to_end(&mut content).unwrap();
    assert!(content == binary, "the zipped bootstrap is not the binary");
}

#[tokio::test]
async fn chatctl_package_checks_a_prebuilt_zip_and_writes_it_out() {
    let built = dev_handler().await;
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
    let err = package::build(
        dir.path(),
        Architecture::X86_64,
        None,
        BuildProfile::Existing(binary.clone()),
    )
    .await
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("cannot run on Lambda: bootstrap needs GLIBC_2.36 but Lambda's provided.al2023 has glibc 2.34: build with `cargo lambda build --release --output-format zip`"),
        "{message}"
    );
    assert!(
        !package::default_zip_path(dir.path()).exists(),
        "no zip is written for a refused binary"
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
    let package = package::build(
        dir.path(),
        Architecture::X86_64,
        None,
        BuildProfile::Existing(dynamic),
    )
    .await
    .unwrap();
    assert_eq!(package.binary.linkage, Linkage::Dynamic);
    // Any glibc program needs some version (with glibc ≥ 2.34: __libc_start_main@GLIBC_2.34).
    let glibc = package.binary.glibc.as_deref().unwrap();
    assert!(version(glibc) <= version("2.34"), "glibc {glibc}");
    assert_eq!(
        std::fs::read(package::default_zip_path(dir.path())).unwrap(),
        package.bytes
    );

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

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[tokio::test]
async fn an_arm64_build_without_a_cross_toolchain_points_at_a_prebuilt_zip() {
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    if Path::new(&sysroot)
        .join("lib/rustlib/aarch64-unknown-linux-gnu/lib")
        .is_dir()
    {
        eprintln!("skipping: the aarch64 Rust target is installed, so the build would be tried");
        return;
    }
    let err = package::build(
        Path::new(WORKSPACE),
        Architecture::Arm64,
        None,
        BuildProfile::Release,
    )
    .await
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.starts_with("cannot build the chat backend for arm64 here: the Rust target aarch64-unknown-linux-gnu is not installed"),
        "{message}"
    );
    assert!(
        message.contains("cargo lambda build --release --arm64 --output-format zip")
            && message.contains("backend.zip"),
        "{message}"
    );
}
