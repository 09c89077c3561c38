//! The chat backend's Lambda package: the one built into chatctl (build.rs embeds handler/,
//! checked and zipped, with its SHA-256), or a prebuilt zip (`--handler-zip`, `backend.zip`),
//! checked as Lambda's `provided.al2023` runtime would run it.
//!
//! - [`check`]: whether a `bootstrap` can start on provided.al2023 (ELF, machine, loader, glibc).
//! - [`archive`]: the reproducible zip and Lambda's `CodeSha256` of it.
//! - [`embedded`]: what build.rs built into this binary.
//!
//! The three are shared with build.rs, which is why they reach each other through `super::`.

pub mod arch;
pub mod archive;
pub mod check;
pub mod embedded;
// build.rs runs it; compiled here only for its tests.
#[cfg(test)]
#[allow(dead_code)]
mod nested;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde::Serialize;

pub use arch::Architecture;
pub use archive::{
    BOOTSTRAP, MAX_UNZIPPED_BYTES, MAX_ZIP_BYTES, check_zip, code_sha256, zip_bootstrap,
};
pub use check::{BinaryInfo, LAMBDA_GLIBC, Linkage, Unfit, check_binary};

/// Where the package's `bootstrap` came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PackageSource {
    /// Built into chatctl from its handler/ when chatctl was compiled, with this cargo profile.
    Embedded { profile: &'static str },
    /// A zip made elsewhere (`backend.zip` / `--handler-zip`), used as it is.
    Prebuilt { zip: PathBuf },
    /// A binary zipped by chatctl ([`from_binary`]).
    Built { binary: PathBuf },
}

/// A deployment package that passed every check.
#[derive(Clone, Serialize)]
pub struct Package {
    /// The zip file holding `bytes`, when there is one: the prebuilt zip, or where
    /// [`Package::write_to`] wrote it.
    pub path: Option<PathBuf>,
    /// The zip, as uploaded to Lambda (the embedded bytes themselves, not a copy).
    #[serde(skip)]
    pub bytes: Bytes,
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
    fn new(
        bytes: Bytes,
        path: Option<PathBuf>,
        architecture: Architecture,
        source: PackageSource,
        binary: BinaryInfo,
    ) -> Self {
        let (sha256_hex, sha256_base64) = archive::digests(&bytes);
        Self {
            path,
            size: bytes.len() as u64,
            sha256_base64,
            sha256_hex,
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

/// The package the function deploys for `arch`: the prebuilt zip if there is one (checked,
/// used as it is), otherwise the one built into chatctl.
pub async fn resolve(arch: Architecture, prebuilt: Option<&Path>) -> Result<Package> {
    match prebuilt {
        Some(zip) => from_zip_file(zip, arch).await,
        None => embedded_package(arch),
    }
}

/// The package built into chatctl for the chat backend's function. Costs nothing: the bytes,
/// their hash and the checks' findings are constants.
pub fn embedded_package(arch: Architecture) -> Result<Package> {
    if arch != Architecture::X86_64 {
        bail!(
            "backend.architecture = \"{}\" needs a prebuilt zip: chatctl carries the chat backend for x86_64 only; build it with `cargo lambda build --release --arm64 --output-format zip -p chat-handler` and set backend.zip = \"target/lambda/bootstrap/bootstrap.zip\" in chatctl.toml, or pass it with --handler-zip",
            arch.as_str()
        );
    }
    let zip = embedded::find(embedded::BACKEND_BIN).map_err(|why| {
        anyhow::anyhow!(
            "cannot deploy the chat backend: {why}; give a prebuilt zip with --handler-zip or backend.zip in chatctl.toml (`cargo lambda build --release --output-format zip -p chat-handler` makes one)"
        )
    })?;
    Ok(Package {
        path: None,
        bytes: Bytes::from_static(zip.zip),
        size: zip.zip.len() as u64,
        sha256_base64: zip.sha256_base64.to_owned(),
        sha256_hex: zip.sha256_hex.to_owned(),
        architecture: Architecture::X86_64,
        source: PackageSource::Embedded {
            profile: embedded::profile(),
        },
        binary: BinaryInfo {
            architecture: Architecture::X86_64,
            size: zip.binary_size,
            linkage: zip.linkage,
            interpreter: zip.interpreter.map(str::to_owned),
            needed: zip.needed.iter().map(|s| (*s).to_owned()).collect(),
            glibc: zip.glibc.map(str::to_owned),
        },
    })
}

/// Reads and checks a zip made elsewhere.
pub async fn from_zip_file(zip: &Path, arch: Architecture) -> Result<Package> {
    let bytes = tokio::fs::read(zip)
        .await
        .with_context(|| format!("cannot read the handler zip {}", zip.display()))?;
    let path = zip.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let binary = check_zip(&bytes, arch)
            .with_context(|| format!("the handler zip {} cannot be deployed", path.display()))?;
        let source = PackageSource::Prebuilt { zip: path.clone() };
        Ok(Package::new(
            Bytes::from(bytes),
            Some(path),
            arch,
            source,
            binary,
        ))
    })
    .await
    .context("the package check stopped unexpectedly")?
}

/// Checks a `bootstrap` binary built elsewhere (`origin` names it in messages) and zips it the
/// way build.rs zips the embedded one.
pub fn from_binary(binary: &[u8], arch: Architecture, origin: &Path) -> Result<Package> {
    let info = check_binary(binary, arch).map_err(|unfit| {
        anyhow::anyhow!(unfit).context(format!(
            "the handler binary {} cannot run on Lambda",
            origin.display()
        ))
    })?;
    let zip = zip_bootstrap(binary)?;
    Ok(Package::new(
        Bytes::from(zip),
        None,
        arch,
        PackageSource::Built {
            binary: origin.to_path_buf(),
        },
        info,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_package_is_described_by_build_time_constants() {
        let package = embedded_package(Architecture::X86_64).unwrap();
        // The hash computed by build.rs is the hash of the bytes carried.
        assert_eq!(code_sha256(&package.bytes), package.sha256_base64);
        assert_eq!(archive::digests(&package.bytes).0, package.sha256_hex);
        // And what build.rs learnt about the binary is what the checks find now.
        let checked = check_zip(&package.bytes, Architecture::X86_64).unwrap();
        assert_eq!(checked, package.binary);
        assert!(
            matches!(package.source, PackageSource::Embedded { profile } if profile == embedded::profile())
        );
        // Every binary the handler crate builds is carried, the backend's among them.
        assert!(
            embedded::all()
                .iter()
                .any(|p| p.bin == embedded::BACKEND_BIN)
        );
    }

    #[test]
    fn arm64_needs_a_prebuilt_zip() {
        let message = embedded_package(Architecture::Arm64)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("backend.architecture = \"arm64\" needs a prebuilt zip"),
            "{message}"
        );
        assert!(message.contains("--handler-zip"), "{message}");
    }
}
