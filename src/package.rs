//! The chat backend's Lambda package: build `handler/` (or take a prebuilt zip), check that the
//! `bootstrap` inside can run on Lambda's `provided.al2023` runtime, zip it reproducibly and
//! hash it the way Lambda reports `CodeSha256`.
//!
//! Reproducible means byte-identical: one entry named `bootstrap`, Unix mode 0755, the DOS epoch
//! (1980-01-01 00:00) as its time, deflate at a fixed level and no extra fields. The same binary
//! therefore always gives the same zip and the same hash, which is what lets `up` skip the
//! upload when the deployed function's `CodeSha256` already matches.
//!
//! A binary is refused, with what to do about it, when Lambda could not start it: not a 64-bit
//! little-endian Linux ELF, built for the other architecture, loaded by an interpreter that the
//! runtime doesn't have (musl, Nix), or linked against symbols newer than the runtime's glibc
//! 2.34 (a binary built on a newer distribution fails at start with
//! "version `GLIBC_2.3x' not found").

use std::fmt::{self, Write as _};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use base64::Engine;
use object::elf;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::Architecture;

/// The file Lambda's custom runtimes execute, at the root of the zip.
pub const BOOTSTRAP: &str = "bootstrap";

/// The glibc of Lambda's `provided.al2023` runtime (Amazon Linux 2023).
pub const LAMBDA_GLIBC: (u32, u32) = (2, 34);

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

/// How the handler binary is obtained when no prebuilt zip is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildProfile {
    /// `cargo build --release -p chat-handler --bin bootstrap`: what gets deployed.
    Release,
    /// The same with the dev profile: quicker to build, larger and slower to run.
    Dev,
    /// A `bootstrap` binary that is already built; cargo is not run.
    Existing(PathBuf),
}

/// Where the package's `bootstrap` came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PackageSource {
    /// Built (or taken already built) from `binary` and zipped by chatctl.
    Built { binary: PathBuf },
    /// A zip made elsewhere (`backend.zip` / `--handler-zip`), used as it is.
    Prebuilt { zip: PathBuf },
}

/// A deployment package that passed every check.
#[derive(Clone, Serialize)]
pub struct Package {
    /// The zip file holding `bytes`: the prebuilt zip itself, or the one chatctl wrote.
    pub path: PathBuf,
    /// The zip, as uploaded to Lambda.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub size: u64,
    /// Base64 of the zip's SHA-256: what Lambda reports as `CodeSha256`.
    pub sha256_base64: String,
    pub sha256_hex: String,
    pub architecture: Architecture,
    pub source: PackageSource,
    /// What the checks found out about `bootstrap`.
    pub binary: BinaryInfo,
}

impl fmt::Debug for Package {
    // The bytes are megabytes of zip: leave them out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Package")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("sha256_base64", &self.sha256_base64)
            .field("architecture", &self.architecture)
            .field("source", &self.source)
            .field("binary", &self.binary)
            .finish_non_exhaustive()
    }
}

impl Package {
    /// Checks `zip_bytes` as a Lambda package for `arch` and describes it.
    pub fn from_zip(
        zip_bytes: Vec<u8>,
        path: PathBuf,
        arch: Architecture,
        source: PackageSource,
    ) -> Result<Self> {
        let binary = check_zip(&zip_bytes, arch)?;
        Ok(Self::new(zip_bytes, path, arch, source, binary))
    }

    fn new(
        bytes: Vec<u8>,
        path: PathBuf,
        architecture: Architecture,
        source: PackageSource,
        binary: BinaryInfo,
    ) -> Self {
        let digest = Sha256::digest(&bytes);
        Self {
            path,
            size: bytes.len() as u64,
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            sha256_hex: hex::encode(digest),
            bytes,
            architecture,
            source,
            binary,
        }
    }

    /// Writes the zip to `path` (parent directories included) without ever leaving a partial
    /// file there: a concurrent reader sees the old zip or the new one.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.bytes)
    }
}

/// Lambda's `CodeSha256` of a zip: base64 of its raw SHA-256.
pub fn code_sha256(zip_bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip_bytes))
}

/// Where chatctl writes the zip it builds: `target/chatctl/bootstrap.zip` in the source tree.
pub fn default_zip_path(workspace_root: &Path) -> PathBuf {
    workspace_root
        .join("target")
        .join("chatctl")
        .join("bootstrap.zip")
}

/// The chatctl source tree containing `start` (or `start` itself): the directory whose
/// `handler/Cargo.toml` defines the `chat-handler` crate.
pub fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| is_workspace_root(dir))
        .map(Path::to_path_buf)
}

/// The source tree for building the handler: the one around the current directory, else the
/// one chatctl itself was compiled from, if it is still there.
pub fn locate_workspace_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    if let Some(root) = find_workspace_root(&cwd) {
        return Ok(root);
    }
    let compiled_from = Path::new(env!("CARGO_MANIFEST_DIR"));
    if is_workspace_root(compiled_from) {
        return Ok(compiled_from.to_path_buf());
    }
    bail!(
        "cannot build the chat backend: its source (handler/ of the chatctl repository) is not in {} or above it; run chatctl from the chatctl source tree, or give a prebuilt zip with --handler-zip or backend.zip in chatctl.toml",
        cwd.display()
    )
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("handler").join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.contains("name = \"chat-handler\""))
        && dir.join("Cargo.toml").is_file()
}

/// Produces the package for `arch`: the prebuilt zip if there is one (checked, used as it is),
/// otherwise the handler built from `workspace_root` with `profile`, checked and zipped into
/// [`default_zip_path`].
pub async fn build(
    workspace_root: &Path,
    arch: Architecture,
    prebuilt: Option<&Path>,
    profile: BuildProfile,
) -> Result<Package> {
    if let Some(zip) = prebuilt {
        let bytes = tokio::fs::read(zip)
            .await
            .with_context(|| format!("cannot read the handler zip {}", zip.display()))?;
        let path = zip.to_path_buf();
        return tokio::task::spawn_blocking(move || {
            let source = PackageSource::Prebuilt { zip: path.clone() };
            Package::from_zip(bytes, path.clone(), arch, source)
                .with_context(|| format!("the handler zip {} cannot be deployed", path.display()))
        })
        .await
        .context("the package check stopped unexpectedly")?;
    }
    let binary = match profile {
        BuildProfile::Existing(binary) => binary,
        BuildProfile::Release => cargo_build(workspace_root, arch, true).await?,
        BuildProfile::Dev => cargo_build(workspace_root, arch, false).await?,
    };
    let content = tokio::fs::read(&binary)
        .await
        .with_context(|| format!("cannot read the handler binary {}", binary.display()))?;
    let out = default_zip_path(workspace_root);
    tokio::task::spawn_blocking(move || {
        let info = check_binary(&content, arch).map_err(|unfit| {
            anyhow::anyhow!(unfit).context(format!(
                "the handler binary {} cannot run on Lambda",
                binary.display()
            ))
        })?;
        let bytes = zip_bootstrap(&content)?;
        check_zip_size(bytes.len() as u64)?;
        write_atomically(&out, &bytes)?;
        Ok(Package::new(
            bytes,
            out,
            arch,
            PackageSource::Built { binary },
            info,
        ))
    })
    .await
    .context("packaging stopped unexpectedly")?
}

/// The Rust target triple for `arch` on Lambda.
fn lambda_triple(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// Whether a plain `cargo build` on this machine already produces Lambda's target for `arch`.
fn host_builds(arch: Architecture) -> bool {
    let linux_gnu = cfg!(all(target_os = "linux", target_env = "gnu"));
    let same_arch = match arch {
        Architecture::X86_64 => cfg!(target_arch = "x86_64"),
        Architecture::Arm64 => cfg!(target_arch = "aarch64"),
    };
    linux_gnu && same_arch
}

fn cross_build_advice(arch: Architecture) -> String {
    let flag = match arch {
        Architecture::X86_64 => "--x86-64",
        Architecture::Arm64 => "--arm64",
    };
    format!(
        "build the zip with cargo-lambda instead (`cargo lambda build --release {flag} --output-format zip -p chat-handler`, which links with zig against Lambda's glibc) and set backend.zip = \"target/lambda/bootstrap/bootstrap.zip\" in chatctl.toml, or pass it with --handler-zip"
    )
}

/// Runs cargo on the handler and returns the path of the `bootstrap` it produced. Cargo's
/// progress and diagnostics go straight to stderr; its JSON messages on stdout name the binary,
/// wherever the target directory is.
async fn cargo_build(workspace_root: &Path, arch: Architecture, release: bool) -> Result<PathBuf> {
    let target = (!host_builds(arch)).then(|| lambda_triple(arch));
    if let Some(triple) = target
        && !rust_target_installed(triple).await
    {
        bail!(
            "cannot build the chat backend for {} here: the Rust target {triple} is not installed (and cross-linking needs a matching C toolchain); {}",
            arch.as_str(),
            cross_build_advice(arch)
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = tokio::process::Command::new(&cargo);
    command
        .current_dir(workspace_root)
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace_root.join("Cargo.toml"))
        .args([
            "-p",
            "chat-handler",
            "--bin",
            BOOTSTRAP,
            // Lambda puts credentials and region in the environment: the package leaves out
            // the full credential chain (handler/Cargo.toml, feature `credential-chain`).
            "--no-default-features",
            "--message-format=json-render-diagnostics",
        ]);
    if release {
        command.arg("--release");
    }
    if let Some(triple) = target {
        command.args(["--target", triple]);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    tracing::info!(release, ?target, "building the chat backend with cargo");
    let mut child = command.spawn().with_context(|| {
        format!(
            "cannot run {} to build the chat backend (is Rust installed? https://rustup.rs)",
            Path::new(&cargo).display()
        )
    })?;
    let stdout = child
        .stdout
        .take()
        .context("cargo's output is not readable")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut executable = None;
    while let Some(line) = lines
        .next_line()
        .await
        .context("cannot read cargo's output")?
    {
        if let Some(path) = bootstrap_artifact(&line) {
            executable = Some(path);
        }
    }
    let status = child.wait().await.context("cannot wait for cargo")?;
    if !status.success() {
        let mut message = format!(
            "building the chat backend failed (cargo {status}); the compiler's messages are above"
        );
        if target.is_some() {
            message.push_str("; ");
            message.push_str(&cross_build_advice(arch));
        }
        bail!(message);
    }
    executable.context("cargo built the chat backend but did not say where the bootstrap binary is")
}

/// The executable of a cargo `compiler-artifact` message for the `bootstrap` binary.
fn bootstrap_artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = message.get("target")?;
    let is_bin = target
        .get("kind")?
        .as_array()?
        .iter()
        .any(|kind| kind.as_str() == Some("bin"));
    if !is_bin || target.get("name")?.as_str()? != BOOTSTRAP {
        return None;
    }
    message.get("executable")?.as_str().map(PathBuf::from)
}

async fn rust_target_installed(triple: &str) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = tokio::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    output.status.success()
        && Path::new(&sysroot)
            .join("lib")
            .join("rustlib")
            .join(triple)
            .join("lib")
            .is_dir()
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

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temporary = PathBuf::from(temporary);
    let written =
        std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// What the checks learned about a `bootstrap` binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinaryInfo {
    pub architecture: Architecture,
    pub size: u64,
    /// `static` (no program interpreter, no shared libraries) or `dynamic`.
    pub linkage: Linkage,
    /// The program interpreter (dynamic loader), for a dynamic binary.
    pub interpreter: Option<String>,
    /// The shared libraries it needs (`DT_NEEDED`).
    pub needed: Vec<String>,
    /// The newest glibc symbol version it needs, e.g. `2.34`; `None` when it needs none.
    pub glibc: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    Static,
    Dynamic,
}

/// Why a binary cannot run on Lambda. Every message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    #[error("bootstrap is not a Linux executable: it is {0}; {BUILD_ADVICE}")]
    NotElf(String),
    #[error(
        "bootstrap is {0}, but Lambda runs 64-bit little-endian Linux executables; {BUILD_ADVICE}"
    )]
    NotLinux64(String),
    #[error(
        "bootstrap is built for {found}, but the function's architecture is {}: {advice}",
        expected.as_str()
    )]
    WrongArchitecture {
        found: String,
        expected: Architecture,
        advice: String,
    },
    #[error(
        "bootstrap is loaded by {found}, which Lambda's provided.al2023 runtime doesn't have (it has {expected}): {advice}"
    )]
    ForeignInterpreter {
        found: String,
        expected: &'static str,
        advice: &'static str,
    },
    #[error(
        "bootstrap needs {needed} but Lambda's provided.al2023 has glibc {}.{}: build with `cargo lambda build --release --output-format zip` (zig links against an older glibc) or for a static musl target (x86_64-unknown-linux-musl / aarch64-unknown-linux-musl), then use that zip (--handler-zip or backend.zip)",
        LAMBDA_GLIBC.0, LAMBDA_GLIBC.1
    )]
    GlibcTooNew { needed: String },
    #[error("bootstrap is a damaged ELF file: {0}")]
    Malformed(String),
}

const BUILD_ADVICE: &str = "build the handler for Linux with `cargo lambda build --release --output-format zip` and use that zip";

/// Checks that `binary` can start on Lambda's `provided.al2023` runtime for `arch`.
///
/// The dynamic segment is read rather than the section headers because it is what the loader
/// uses (a binary stripped of its section headers still runs). The parsing is done here instead
/// of with `object`'s typed ELF structures because those need 8-byte-aligned input, which a
/// buffer read from a zip doesn't promise.
pub fn check_binary(binary: &[u8], arch: Architecture) -> Result<BinaryInfo, Unfit> {
    if binary.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(Unfit::NotElf(sniff(binary)));
    }
    let bytes = Bytes(binary);
    let class = bytes.u8(4)?;
    let data = bytes.u8(5)?;
    if class != elf::ELFCLASS64 {
        return Err(Unfit::NotLinux64(if class == elf::ELFCLASS32 {
            "a 32-bit executable".to_owned()
        } else {
            format!("an ELF file of unknown class {class}")
        }));
    }
    if data != elf::ELFDATA2LSB {
        return Err(Unfit::NotLinux64("a big-endian executable".to_owned()));
    }
    let os_abi = bytes.u8(7)?;
    if os_abi != elf::ELFOSABI_SYSV && os_abi != elf::ELFOSABI_GNU {
        return Err(Unfit::NotLinux64(format!(
            "an executable for another operating system (ELF OS ABI {os_abi})"
        )));
    }
    let expected = Expected::of(arch);
    let machine = bytes.u16(18)?;
    if machine != expected.machine {
        return Err(Unfit::WrongArchitecture {
            found: machine_name(machine),
            expected: arch,
            advice: wrong_architecture_advice(arch),
        });
    }
    let kind = bytes.u16(16)?;
    if kind != elf::ET_EXEC && kind != elf::ET_DYN {
        return Err(Unfit::NotElf(format!(
            "an ELF file that is not an executable (type {kind}, e.g. an object file)"
        )));
    }

    let segments = segments(&bytes)?;
    let mut interpreter = None;
    let mut dynamic = None;
    for segment in &segments {
        match segment.kind {
            elf::PT_INTERP => {
                let raw = bytes.range(segment.offset, segment.file_size)?;
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                interpreter = Some(String::from_utf8_lossy(&raw[..end]).into_owned());
            }
            elf::PT_DYNAMIC => dynamic = Some(*segment),
            _ => {}
        }
    }
    if let Some(found) = &interpreter
        && found != expected.interpreter
    {
        return Err(Unfit::ForeignInterpreter {
            found: found.clone(),
            expected: expected.interpreter,
            advice: if found.contains("musl") {
                "link it statically, as the *-unknown-linux-musl targets do by default"
            } else {
                "build it with the standard glibc toolchain or `cargo lambda build`"
            },
        });
    }
    let dynamic = match dynamic {
        Some(segment) => read_dynamic(&bytes, &segments, segment)?,
        None => Dynamic::default(),
    };
    let glibc = newest_glibc(&dynamic.versions)?;
    let linkage = if interpreter.is_some() || !dynamic.needed.is_empty() {
        Linkage::Dynamic
    } else {
        Linkage::Static
    };
    Ok(BinaryInfo {
        architecture: arch,
        size: binary.len() as u64,
        linkage,
        interpreter,
        needed: dynamic.needed,
        glibc: glibc.map(|(numbers, _)| {
            numbers
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".")
        }),
    })
}

struct Expected {
    machine: u16,
    interpreter: &'static str,
}

impl Expected {
    fn of(arch: Architecture) -> Self {
        match arch {
            Architecture::X86_64 => Self {
                machine: elf::EM_X86_64,
                interpreter: "/lib64/ld-linux-x86-64.so.2",
            },
            Architecture::Arm64 => Self {
                machine: elf::EM_AARCH64,
                interpreter: "/lib/ld-linux-aarch64.so.1",
            },
        }
    }
}

fn wrong_architecture_advice(expected: Architecture) -> String {
    match expected {
        Architecture::X86_64 => "build it for x86_64 (`cargo lambda build --release --x86-64 --output-format zip`), or set architecture = \"arm64\" under [backend] in chatctl.toml".to_owned(),
        Architecture::Arm64 => "build it for arm64 (`cargo lambda build --release --arm64 --output-format zip`), or set architecture = \"x86_64\" under [backend] in chatctl.toml".to_owned(),
    }
}

fn machine_name(machine: u16) -> String {
    match machine {
        elf::EM_X86_64 => "x86_64".to_owned(),
        elf::EM_AARCH64 => "arm64 (aarch64)".to_owned(),
        elf::EM_386 => "32-bit x86".to_owned(),
        elf::EM_ARM => "32-bit ARM".to_owned(),
        elf::EM_RISCV => "RISC-V".to_owned(),
        elf::EM_PPC64 => "PowerPC 64".to_owned(),
        elf::EM_S390 => "s390x".to_owned(),
        other => format!("ELF machine {other}"),
    }
}

/// Names what a non-ELF file looks like, so that the message points at the usual mistake.
fn sniff(binary: &[u8]) -> String {
    match binary {
        [] => "an empty file".to_owned(),
        [b'#', b'!', ..] => "a script, not the chat backend executable".to_owned(),
        [b'M', b'Z', ..] => "a Windows executable".to_owned(),
        // Mach-O, 64- and 32-bit in either byte order, and universal binaries.
        [0xcf | 0xce, 0xfa, 0xed, 0xfe, ..]
        | [0xfe, 0xed, 0xfa, 0xcf | 0xce, ..]
        | [0xca, 0xfe, 0xba, 0xbe, ..] => "a macOS executable".to_owned(),
        [b'P', b'K', 3, 4, ..] => "a zip file (a zip inside the zip)".to_owned(),
        _ => "not an ELF file".to_owned(),
    }
}

/// Bounds-checked little-endian reads over the binary.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn range(&self, offset: u64, len: u64) -> Result<&'a [u8], Unfit> {
        let start = usize::try_from(offset).ok();
        let end = offset
            .checked_add(len)
            .and_then(|end| usize::try_from(end).ok());
        match (start, end) {
            (Some(start), Some(end)) if end <= self.0.len() => Ok(&self.0[start..end]),
            _ => Err(Unfit::Malformed(format!(
                "{len} bytes at offset {offset} are past its end ({} bytes)",
                self.0.len()
            ))),
        }
    }

    fn array<const N: usize>(&self, offset: u64) -> Result<[u8; N], Unfit> {
        let slice = self.range(offset, N as u64)?;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&self, offset: u64) -> Result<u8, Unfit> {
        Ok(self.array::<1>(offset)?[0])
    }

    fn u16(&self, offset: u64) -> Result<u16, Unfit> {
        self.array(offset).map(u16::from_le_bytes)
    }

    fn u32(&self, offset: u64) -> Result<u32, Unfit> {
        self.array(offset).map(u32::from_le_bytes)
    }

    fn u64(&self, offset: u64) -> Result<u64, Unfit> {
        self.array(offset).map(u64::from_le_bytes)
    }

    /// The NUL-terminated string at `offset` of `table`.
    fn string(table: &[u8], offset: u64) -> Result<String, Unfit> {
        let tail = usize::try_from(offset)
            .ok()
            .and_then(|start| table.get(start..))
            .ok_or_else(|| {
                Unfit::Malformed(format!("string {offset} is outside the string table"))
            })?;
        let end = tail.iter().position(|&b| b == 0).ok_or_else(|| {
            Unfit::Malformed(format!(
                "string {offset} of the string table is unterminated"
            ))
        })?;
        Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
    }
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    kind: u32,
    offset: u64,
    address: u64,
    file_size: u64,
}

/// Program header table entries (ELF64: 56 bytes each).
fn segments(bytes: &Bytes<'_>) -> Result<Vec<Segment>, Unfit> {
    const ENTRY: u64 = 56;
    let table = bytes.u64(32)?;
    let entry_size = u64::from(bytes.u16(54)?);
    let count = u64::from(bytes.u16(56)?);
    if count == 0 {
        return Ok(Vec::new());
    }
    if entry_size != ENTRY {
        return Err(Unfit::Malformed(format!(
            "program header entries are {entry_size} bytes instead of {ENTRY}"
        )));
    }
    (0..count)
        .map(|index| {
            let at = table
                .checked_add(index * ENTRY)
                .ok_or_else(|| Unfit::Malformed("program header offset overflows".to_owned()))?;
            Ok(Segment {
                kind: bytes.u32(at)?,
                offset: bytes.u64(at.saturating_add(8))?,
                address: bytes.u64(at.saturating_add(16))?,
                file_size: bytes.u64(at.saturating_add(32))?,
            })
        })
        .collect()
}

/// The file offset of virtual address `address`, through the loadable segments.
fn file_offset(segments: &[Segment], address: u64) -> Result<u64, Unfit> {
    segments
        .iter()
        .filter(|s| s.kind == elf::PT_LOAD)
        .find(|s| address >= s.address && address - s.address < s.file_size)
        .map(|s| s.offset.saturating_add(address - s.address))
        .ok_or_else(|| {
            Unfit::Malformed(format!(
                "address {address:#x} is in no loaded segment of the file"
            ))
        })
}

#[derive(Debug, Default)]
struct Dynamic {
    needed: Vec<String>,
    /// Every version it needs from a shared library, e.g. `GLIBC_2.34` (from `DT_VERNEED`).
    versions: Vec<String>,
}

fn read_dynamic(
    bytes: &Bytes<'_>,
    segments: &[Segment],
    dynamic: Segment,
) -> Result<Dynamic, Unfit> {
    const ENTRY: u64 = 16;
    let mut needed_offsets = Vec::new();
    let (mut strtab, mut strsz, mut verneed, mut verneednum) = (None, None, None, None);
    for index in 0..dynamic.file_size / ENTRY {
        let at = dynamic.offset.saturating_add(index * ENTRY);
        let tag = bytes.u64(at)?;
        let value = bytes.u64(at.saturating_add(8))?;
        match u32::try_from(tag) {
            Ok(elf::DT_NULL) => break,
            Ok(elf::DT_NEEDED) => needed_offsets.push(value),
            Ok(elf::DT_STRTAB) => strtab = Some(value),
            Ok(elf::DT_STRSZ) => strsz = Some(value),
            Ok(elf::DT_VERNEED) => verneed = Some(value),
            Ok(elf::DT_VERNEEDNUM) => verneednum = Some(value),
            _ => {}
        }
    }
    if needed_offsets.is_empty() && verneed.is_none() {
        return Ok(Dynamic::default());
    }
    let (Some(strtab), Some(strsz)) = (strtab, strsz) else {
        return Err(Unfit::Malformed(
            "the dynamic section has no string table".to_owned(),
        ));
    };
    let strings = bytes.range(file_offset(segments, strtab)?, strsz)?;
    let needed = needed_offsets
        .into_iter()
        .map(|offset| Bytes::string(strings, offset))
        .collect::<Result<Vec<_>, _>>()?;

    let mut versions = Vec::new();
    if let Some(verneed) = verneed {
        // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
        // The count bounds the walk, so a looping chain can't hang it.
        let mut entry = file_offset(segments, verneed)?;
        for _ in 0..verneednum.unwrap_or(0) {
            let aux_count = bytes.u16(entry.saturating_add(2))?;
            let mut aux = entry.saturating_add(u64::from(bytes.u32(entry.saturating_add(8))?));
            for _ in 0..aux_count {
                versions.push(Bytes::string(
                    strings,
                    u64::from(bytes.u32(aux.saturating_add(8))?),
                )?);
                let next = bytes.u32(aux.saturating_add(12))?;
                if next == 0 {
                    break;
                }
                aux = aux.saturating_add(u64::from(next));
            }
            let next = bytes.u32(entry.saturating_add(12))?;
            if next == 0 {
                break;
            }
            entry = entry.saturating_add(u64::from(next));
        }
    }
    Ok(Dynamic { needed, versions })
}

/// The newest `GLIBC_x.y[.z]` among `versions`, refusing anything newer than Lambda's glibc.
fn newest_glibc(versions: &[String]) -> Result<Option<(Vec<u32>, String)>, Unfit> {
    let mut newest: Option<(Vec<u32>, String)> = None;
    for version in versions {
        let Some(rest) = version.strip_prefix("GLIBC_") else {
            continue;
        };
        if rest == "PRIVATE" {
            // glibc's internal ABI between its own libraries; never from a program.
            continue;
        }
        let numbers: Option<Vec<u32>> = rest.split('.').map(|n| n.parse().ok()).collect();
        let Some(numbers) = numbers else {
            // Markers such as GLIBC_ABI_DT_RELR (from `-z pack-relative-relocs`, glibc 2.36)
            // name loader features; glibc 2.34 has none of them.
            return Err(Unfit::GlibcTooNew {
                needed: version.clone(),
            });
        };
        if newest.as_ref().is_none_or(|(best, _)| numbers > *best) {
            newest = Some((numbers, version.clone()));
        }
    }
    if let Some((numbers, name)) = &newest
        && numbers.as_slice() > [LAMBDA_GLIBC.0, LAMBDA_GLIBC.1].as_slice()
    {
        return Err(Unfit::GlibcTooNew {
            needed: name.clone(),
        });
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 executable image: header, program headers (one PT_LOAD over the whole
    /// file, an optional PT_INTERP and PT_DYNAMIC), a string table, a version-needs table for
    /// libc.so.6 and a dynamic section. Enough for the loader-facing parts `check_binary` reads.
    #[allow(clippy::cast_possible_truncation)] // a few hundred bytes
    pub(crate) fn craft_elf(
        machine: u16,
        interpreter: Option<&str>,
        glibc_versions: &[&str],
    ) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        let dynamic_wanted = !glibc_versions.is_empty();
        let mut phdrs = vec![elf::PT_LOAD];
        if interpreter.is_some() {
            phdrs.push(elf::PT_INTERP);
        }
        if dynamic_wanted {
            phdrs.push(elf::PT_DYNAMIC);
        }
        let phoff = 64u64;
        let mut body_at = phoff + 56 * phdrs.len() as u64;

        let interp_at = body_at;
        let interp = interpreter.map(|i| {
            let mut bytes = i.as_bytes().to_vec();
            bytes.push(0);
            bytes
        });
        body_at += interp.as_ref().map_or(0, |i| i.len() as u64);

        // String table: "\0libc.so.6\0GLIBC_x\0..."
        let mut strings = vec![0u8];
        let libc = strings.len() as u32;
        strings.extend_from_slice(b"libc.so.6\0");
        let names: Vec<u32> = glibc_versions
            .iter()
            .map(|v| {
                let at = strings.len() as u32;
                strings.extend_from_slice(v.as_bytes());
                strings.push(0);
                at
            })
            .collect();
        let strtab_at = body_at;
        body_at += strings.len() as u64;

        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes());
        verneed.extend_from_slice(&(names.len() as u16).to_le_bytes());
        verneed.extend_from_slice(&libc.to_le_bytes());
        verneed.extend_from_slice(&16u32.to_le_bytes());
        verneed.extend_from_slice(&0u32.to_le_bytes());
        for (index, name) in names.iter().enumerate() {
            verneed.extend_from_slice(&0u32.to_le_bytes());
            verneed.extend_from_slice(&0u16.to_le_bytes());
            verneed.extend_from_slice(&(index as u16 + 2).to_le_bytes());
            verneed.extend_from_slice(&name.to_le_bytes());
            let next: u32 = if index + 1 == names.len() { 0 } else { 16 };
            verneed.extend_from_slice(&next.to_le_bytes());
        }
        let verneed_at = body_at;
        body_at += verneed.len() as u64;

        let mut dynamic = Vec::new();
        let mut dyn_entry = |tag: u32, value: u64| {
            dynamic.extend_from_slice(&u64::from(tag).to_le_bytes());
            dynamic.extend_from_slice(&value.to_le_bytes());
        };
        dyn_entry(elf::DT_NEEDED, u64::from(libc));
        dyn_entry(elf::DT_STRTAB, BASE + strtab_at);
        dyn_entry(elf::DT_STRSZ, strings.len() as u64);
        dyn_entry(elf::DT_VERNEED, BASE + verneed_at);
        dyn_entry(elf::DT_VERNEEDNUM, 1);
        dyn_entry(elf::DT_NULL, 0);
        let dynamic_at = body_at;
        let total = if dynamic_wanted {
            body_at + dynamic.len() as u64
        } else {
            body_at
        };

        let mut out = Vec::new();
        out.extend_from_slice(&elf::ELFMAG);
        out.extend_from_slice(&[elf::ELFCLASS64, elf::ELFDATA2LSB, 1, elf::ELFOSABI_SYSV]);
        out.resize(16, 0);
        out.extend_from_slice(&elf::ET_DYN.to_le_bytes());
        out.extend_from_slice(&machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // e_version
        out.extend_from_slice(&(BASE + 0x1000).to_le_bytes()); // e_entry
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no section headers
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out.extend_from_slice(&(phdrs.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
        assert_eq!(out.len(), 64);
        for kind in phdrs {
            let (offset, size) = match kind {
                elf::PT_LOAD => (0, total),
                elf::PT_INTERP => (interp_at, interp.as_ref().map_or(0, |i| i.len() as u64)),
                _ => (dynamic_at, dynamic.len() as u64),
            };
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(BASE + offset).to_le_bytes());
            out.extend_from_slice(&(BASE + offset).to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&0x1000u64.to_le_bytes());
        }
        if let Some(interp) = &interp {
            out.extend_from_slice(interp);
        }
        out.extend_from_slice(&strings);
        out.extend_from_slice(&verneed);
        if dynamic_wanted {
            out.extend_from_slice(&dynamic);
        }
        assert_eq!(out.len() as u64, total);
        out
    }

    const X86_INTERP: &str = "/lib64/ld-linux-x86-64.so.2";

    #[test]
    fn accepts_a_dynamic_binary_within_glibc_2_34() {
        let binary = craft_elf(
            elf::EM_X86_64,
            Some(X86_INTERP),
            &["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.3.4", "GLIBC_PRIVATE"],
        );
        let info = check_binary(&binary, Architecture::X86_64).unwrap();
        assert_eq!(info.linkage, Linkage::Dynamic);
        assert_eq!(info.glibc.as_deref(), Some("2.34"));
        assert_eq!(info.needed, vec!["libc.so.6".to_owned()]);
        assert_eq!(info.interpreter.as_deref(), Some(X86_INTERP));
    }

    #[test]
    fn accepts_a_static_binary() {
        let binary = craft_elf(elf::EM_AARCH64, None, &[]);
        let info = check_binary(&binary, Architecture::Arm64).unwrap();
        assert_eq!(info.linkage, Linkage::Static);
        assert_eq!(info.glibc, None);
        assert!(info.needed.is_empty());
    }

    #[test]
    fn refuses_glibc_newer_than_the_runtime() {
        let binary = craft_elf(
            elf::EM_X86_64,
            Some(X86_INTERP),
            &["GLIBC_2.2.5", "GLIBC_2.36", "GLIBC_2.34"],
        );
        let err = check_binary(&binary, Architecture::X86_64).unwrap_err();
        assert_eq!(
            err,
            Unfit::GlibcTooNew {
                needed: "GLIBC_2.36".to_owned()
            }
        );
        let message = err.to_string();
        assert!(
            message.starts_with(
                "bootstrap needs GLIBC_2.36 but Lambda's provided.al2023 has glibc 2.34"
            ),
            "{message}"
        );
        assert!(message.contains("cargo lambda build"), "{message}");
    }

    #[test]
    fn refuses_glibc_2_35_and_loader_feature_markers() {
        let binary = craft_elf(elf::EM_X86_64, Some(X86_INTERP), &["GLIBC_2.35"]);
        assert!(matches!(
            check_binary(&binary, Architecture::X86_64),
            Err(Unfit::GlibcTooNew { needed }) if needed == "GLIBC_2.35"
        ));
        let binary = craft_elf(
            elf::EM_X86_64,
            Some(X86_INTERP),
            &["GLIBC_2.2.5", "GLIBC_ABI_DT_RELR"],
        );
        assert!(matches!(
            check_binary(&binary, Architecture::X86_64),
            Err(Unfit::GlibcTooNew { needed }) if needed == "GLIBC_ABI_DT_RELR"
        ));
    }

    #[test]
    fn refuses_the_other_architecture() {
        let binary = craft_elf(elf::EM_AARCH64, Some("/lib/ld-linux-aarch64.so.1"), &[]);
        let err = check_binary(&binary, Architecture::X86_64).unwrap_err();
        assert!(
            matches!(&err, Unfit::WrongArchitecture { found, expected: Architecture::X86_64, .. } if found == "arm64 (aarch64)")
        );
        assert!(err.to_string().contains("architecture = \"arm64\""));
        let binary = craft_elf(elf::EM_X86_64, None, &[]);
        assert!(matches!(
            check_binary(&binary, Architecture::Arm64),
            Err(Unfit::WrongArchitecture { .. })
        ));
    }

    #[test]
    fn refuses_a_foreign_loader() {
        let binary = craft_elf(elf::EM_X86_64, Some("/lib/ld-musl-x86_64.so.1"), &[]);
        let err = check_binary(&binary, Architecture::X86_64).unwrap_err();
        assert!(err.to_string().contains("link it statically"), "{err}");
    }

    #[test]
    fn refuses_files_that_are_not_linux_executables() {
        for (bytes, what) in [
            (&b""[..], "an empty file"),
            (&b"#!/bin/sh\nexec ./chat\n"[..], "a script"),
            (&b"MZ\x90\x00"[..], "a Windows executable"),
            (
                &[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1][..],
                "a macOS executable",
            ),
            (&b"hello"[..], "not an ELF file"),
        ] {
            let err = check_binary(bytes, Architecture::X86_64).unwrap_err();
            assert!(matches!(err, Unfit::NotElf(_)), "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
        let mut bits32 = craft_elf(elf::EM_X86_64, None, &[]);
        bits32[4] = elf::ELFCLASS32;
        assert!(matches!(
            check_binary(&bits32, Architecture::X86_64),
            Err(Unfit::NotLinux64(_))
        ));
        let mut freebsd = craft_elf(elf::EM_X86_64, None, &[]);
        freebsd[7] = 9;
        assert!(matches!(
            check_binary(&freebsd, Architecture::X86_64),
            Err(Unfit::NotLinux64(_))
        ));
    }

    #[test]
    fn truncated_binaries_are_reported_not_panicked_on() {
        let binary = craft_elf(elf::EM_X86_64, Some(X86_INTERP), &["GLIBC_2.17"]);
        for len in [5, 20, 63, 64, 100, binary.len() - 1] {
            let result = check_binary(&binary[..len], Architecture::X86_64);
            assert!(
                matches!(result, Err(Unfit::Malformed(_))),
                "{len}: {result:?}"
            );
        }
    }

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
        let package = Package::new(
            b"abc".to_vec(),
            PathBuf::from("x.zip"),
            Architecture::X86_64,
            PackageSource::Prebuilt {
                zip: PathBuf::from("x.zip"),
            },
            check_binary(&craft_elf(elf::EM_X86_64, None, &[]), Architecture::X86_64).unwrap(),
        );
        assert_eq!(
            package.sha256_hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(package.sha256_base64, code_sha256(b"abc"));
        assert_eq!(package.size, 3);
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

    #[test]
    fn cargo_messages_name_the_bootstrap_executable() {
        let artifact = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"bootstrap"},"executable":"/w/target/release/bootstrap"}"#;
        assert_eq!(
            bootstrap_artifact(artifact),
            Some(PathBuf::from("/w/target/release/bootstrap"))
        );
        let library = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"chat_handler"},"executable":null}"#;
        assert_eq!(bootstrap_artifact(library), None);
        assert_eq!(
            bootstrap_artifact(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(bootstrap_artifact("Compiling chat-handler"), None);
    }

    #[test]
    fn finds_the_source_tree_from_inside_it() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            find_workspace_root(&here.join("src")),
            Some(here.to_path_buf())
        );
        assert_eq!(
            find_workspace_root(&here.join("handler").join("src")),
            Some(here.to_path_buf())
        );
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(find_workspace_root(elsewhere.path()), None);
    }
}
