//! The chat backend's Lambda packages built into this chatctl by build.rs: the zips themselves
//! and what was learnt about them at build time (SHA-256, linkage, glibc), so that using one
//! costs nothing at run time — no file, no cargo, no compression, no hashing.

use super::check::Linkage;

/// One zip built into chatctl: handler binary `bin`, zipped as `bootstrap`, for x86_64.
#[derive(Debug)]
pub struct EmbeddedZip {
    /// The handler crate's binary the zip holds (as `bootstrap`).
    pub bin: &'static str,
    pub zip: &'static [u8],
    pub sha256_hex: &'static str,
    /// Lambda's `CodeSha256`.
    pub sha256_base64: &'static str,
    pub binary_size: u64,
    pub linkage: Linkage,
    pub interpreter: Option<&'static str>,
    pub needed: &'static [&'static str],
    pub glibc: Option<&'static str>,
}

// PROFILE, MISSING and PACKAGES.
include!(concat!(env!("OUT_DIR"), "/embedded_handler.rs"));

/// The handler binary of the chat backend's function.
pub const BACKEND_BIN: &str = "bootstrap";

/// The cargo profile the embedded binaries were built with (`release` or `dev`).
pub fn profile() -> &'static str {
    PROFILE
}

/// Every embedded package.
pub fn all() -> &'static [EmbeddedZip] {
    PACKAGES
}

/// The package of handler binary `bin`, or why this chatctl has none.
pub fn find(bin: &str) -> Result<&'static EmbeddedZip, String> {
    if let Some(package) = PACKAGES.iter().find(|p| p.bin == bin) {
        return Ok(package);
    }
    Err(match MISSING {
        Some(reason) => {
            format!("this chatctl was built without the chat backend's Lambda package ({reason})")
        }
        None => format!("this chatctl carries no package for the handler binary `{bin}`"),
    })
}
