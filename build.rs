//! Builds the chat backend (handler/) for Lambda and embeds its package in chatctl, so that a
//! chatctl binary deploys without a source tree, a toolchain or a child process.
//!
//! For every binary of the handler crate (today `bootstrap`): a nested cargo builds it for
//! x86_64-unknown-linux-gnu in a target directory of its own (see `src/package/nested.rs`),
//! this script checks it as Lambda's provided.al2023 would run it (glibc ≤ 2.34, the right
//! loader and machine), zips it reproducibly and computes its SHA-256, and writes the zip and a
//! Rust file describing it to `OUT_DIR` (`src/package/embedded.rs` includes both).
//!
//! A release chatctl embeds a release handler; a debug chatctl (tests, `cargo run`) a stripped
//! dev-profile one, which builds in a fraction of the time; `CHATCTL_HANDLER_PROFILE=release|dev`
//! chooses otherwise. The script runs again only when something under handler/src,
//! handler/Cargo.toml, Cargo.toml or Cargo.lock changes.
//!
//! When the package cannot be built here — handler/ is not next to this manifest (a packaged
//! crate), the host cannot build x86_64 Linux binaries, or the binary would not run on Lambda —
//! chatctl is still built, without a package; it then says why and asks for `--handler-zip`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[allow(dead_code)] // build.rs uses only part of the shared files
#[path = "src/package/arch.rs"]
mod arch;
#[allow(dead_code)]
#[path = "src/package/archive.rs"]
mod archive;
#[allow(dead_code)]
#[path = "src/package/check.rs"]
mod check;
#[allow(dead_code)]
#[path = "src/package/nested.rs"]
mod nested;

use nested::HandlerProfile;

/// What the generated file says about one embedded package.
struct Embedded {
    bin: String,
    zip_file: String,
    sha256_hex: String,
    sha256_base64: String,
    info: check::BinaryInfo,
}

fn main() {
    for path in [
        "handler/src",
        "handler/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    for var in ["CHATCTL_HANDLER_PROFILE", "CARGO_NET_OFFLINE", "CARGO_HOME"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let outer_profile = std::env::var("PROFILE").unwrap_or_default();
    let chosen = std::env::var("CHATCTL_HANDLER_PROFILE").ok();
    let generated = match HandlerProfile::pick(&outer_profile, chosen.as_deref()) {
        Err(message) => {
            // A misspelt choice must not silently embed something else.
            eprintln!("error: {message}");
            std::process::exit(1);
        }
        Ok(profile) => match embed(&out_dir, profile) {
            Ok(packages) => render(profile, &packages, None),
            Err(Skip::Fatal(message)) => {
                eprintln!("error: {message}");
                std::process::exit(1);
            }
            Err(Skip::Missing(reason)) => {
                println!(
                    "cargo:warning=chatctl is built without the chat backend's Lambda package: {reason}"
                );
                render(profile, &[], Some(&reason))
            }
        },
    };
    if let Err(err) = std::fs::write(out_dir.join("embedded_handler.rs"), generated) {
        eprintln!("error: cannot write the embedded package description: {err}");
        std::process::exit(1);
    }
}

enum Skip {
    /// No package, for a reason the user can act on later (`--handler-zip`).
    Missing(String),
    /// A broken build of the handler on a machine that can build it: stop, as for any
    /// compile error.
    Fatal(String),
}

fn embed(out_dir: &Path, profile: HandlerProfile) -> Result<Vec<Embedded>, Skip> {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let manifest = root.join("Cargo.toml");
    if !root.join("handler").join("Cargo.toml").is_file() {
        return Err(Skip::Missing(format!(
            "its source (handler/) was not next to {} when chatctl was built",
            manifest.display()
        )));
    }
    let host_builds_it = cfg!(all(
        target_os = "linux",
        target_env = "gnu",
        target_arch = "x86_64"
    )) && std::env::var("HOST")
        .is_ok_and(|host| host == nested::LAMBDA_X86_64);
    let target_dir = nested::target_dir(out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut command = Command::new(&cargo);
    command
        .current_dir(&root)
        .args(nested::cargo_args(
            &manifest,
            &target_dir,
            profile,
            outer_offline(),
        ))
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            nested::rustflags(&root, cargo_home.as_deref(), &target_dir),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // The compiler's messages: cargo shows them when this script fails (or with -vv).
        .stderr(Stdio::inherit());
    for var in nested::REMOVED_ENV {
        command.env_remove(var);
    }
    let output = command.output().map_err(|err| {
        Skip::Fatal(format!(
            "cannot run {} to build the chat backend: {err}",
            Path::new(&cargo).display()
        ))
    })?;
    if !output.status.success() {
        let message = format!(
            "building the chat backend for {} failed (cargo {}); the compiler's messages are above",
            nested::LAMBDA_X86_64,
            output.status
        );
        // Elsewhere than on x86_64 Linux a failure is usually the missing cross toolchain.
        return Err(if host_builds_it {
            Skip::Fatal(message)
        } else {
            Skip::Missing(format!(
                "{message}; on this host, build the package with cargo-lambda (`cargo lambda build --release --x86-64 --output-format zip -p chat-handler`) and deploy it with --handler-zip"
            ))
        });
    }
    let artifacts = nested::bin_artifacts(&String::from_utf8_lossy(&output.stdout));
    if artifacts.is_empty() {
        return Err(Skip::Fatal(
            "cargo built the chat backend but named no binary of it".to_owned(),
        ));
    }
    artifacts
        .iter()
        .map(|artifact| package(out_dir, artifact))
        .collect()
}

/// Whether the outer cargo was asked to stay offline (`--offline`, `--frozen`): cargo passes its
/// flags to no build script, but its command line is the parent process's.
#[cfg(target_os = "linux")]
fn outer_offline() -> bool {
    let parent = std::os::unix::process::parent_id();
    let Ok(cmdline) = std::fs::read(format!("/proc/{parent}/cmdline")) else {
        return false;
    };
    nested::outer_is_offline(
        cmdline
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned()),
    )
}

#[cfg(not(target_os = "linux"))]
fn outer_offline() -> bool {
    false
}

fn package(out_dir: &Path, artifact: &nested::Artifact) -> Result<Embedded, Skip> {
    let binary = std::fs::read(&artifact.executable).map_err(|err| {
        Skip::Fatal(format!(
            "cannot read the built {} ({}): {err}",
            artifact.name,
            artifact.executable.display()
        ))
    })?;
    let info = check::check_binary(&binary, arch::Architecture::X86_64).map_err(|unfit| {
        Skip::Missing(format!(
            "the {} built on this machine cannot run on Lambda: {unfit}",
            artifact.name
        ))
    })?;
    let zip = archive::zip_bootstrap(&binary)
        .map_err(|err| Skip::Fatal(format!("cannot zip {}: {err:#}", artifact.name)))?;
    let zip_file = format!("{}.zip", artifact.name);
    std::fs::write(out_dir.join(&zip_file), &zip)
        .map_err(|err| Skip::Fatal(format!("cannot write {zip_file}: {err}")))?;
    let (sha256_hex, sha256_base64) = archive::digests(&zip);
    Ok(Embedded {
        bin: artifact.name.clone(),
        zip_file,
        sha256_hex,
        sha256_base64,
        info,
    })
}

/// `20670336` as `20_670_336`, as the lints want literals.
fn grouped(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(digit);
    }
    out
}

/// The Rust source `src/package/embedded.rs` includes.
fn render(profile: HandlerProfile, packages: &[Embedded], missing: Option<&str>) -> String {
    let mut out =
        String::from("// Generated by build.rs: the chat backend packages built into chatctl.\n");
    let _ = writeln!(out, "const PROFILE: &str = {:?};", profile.as_str());
    let _ = writeln!(out, "const MISSING: Option<&str> = {missing:?};");
    out.push_str("const PACKAGES: &[EmbeddedZip] = &[\n");
    for package in packages {
        let info = &package.info;
        let linkage = match info.linkage {
            check::Linkage::Static => "Linkage::Static",
            check::Linkage::Dynamic => "Linkage::Dynamic",
        };
        let _ = writeln!(
            out,
            "    EmbeddedZip {{\n        bin: {:?},\n        zip: include_bytes!(concat!(env!(\"OUT_DIR\"), {:?})),\n        sha256_hex: {:?},\n        sha256_base64: {:?},\n        binary_size: {},\n        linkage: {linkage},\n        interpreter: {:?},\n        needed: &{:?},\n        glibc: {:?},\n    }},",
            package.bin,
            format!("/{}", package.zip_file),
            package.sha256_hex,
            package.sha256_base64,
            grouped(info.size),
            info.interpreter.as_deref(),
            info.needed,
            info.glibc.as_deref(),
        );
    }
    out.push_str("];\n");
    out
}
