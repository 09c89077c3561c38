//! How build.rs builds the chat backend with a nested cargo: the command line, the environment
//! it inherits, where its artifacts go, and which binaries it produced.
//!
//! Shared with build.rs (which runs it) and compiled into chatctl's unit tests only (which check
//! it); it names nothing else of chatctl.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Lambda's x86_64 target. The nested build always names it, so the host's own flags
/// (`RUSTFLAGS`, `build.target`) never leak into the package and build scripts of the handler's
/// dependencies still run on the host.
pub const LAMBDA_X86_64: &str = "x86_64-unknown-linux-gnu";

/// The handler's package name (handler/Cargo.toml).
pub const HANDLER_PACKAGE: &str = "chat-handler";

/// Variables the outer cargo sets for build scripts (or for `cargo clippy`) that would change
/// what the nested cargo builds; they are removed from its environment.
///
/// - `CARGO_ENCODED_RUSTFLAGS`/`RUSTFLAGS`: the outer target's flags (`-C target-cpu=native`
///   must not reach a Lambda binary); the nested build gets its own, see [`rustflags`].
/// - `RUSTC_WORKSPACE_WRAPPER`, `CLIPPY_ARGS`: `cargo clippy` runs clippy-driver on workspace
///   members; the package is built by rustc alone, so clippy and test builds share it.
/// - `CARGO_TARGET_DIR`, `CARGO_BUILD_TARGET`: replaced by explicit flags.
/// - `CARGO_PRIMARY_PACKAGE`, `CARGO_MAKEFLAGS` stay: the jobserver is shared on purpose, so
///   the nested build never runs more jobs than the outer one allows.
pub const REMOVED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
];

/// The cargo profile the embedded handler is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerProfile {
    /// Release: what a release chatctl (`cargo build --release`, `cargo install`) embeds.
    Release,
    /// The dev profile, stripped: what a debug chatctl embeds, so that test builds stay quick.
    Dev,
}

impl HandlerProfile {
    /// The profile for an outer build whose `PROFILE` is `outer`, unless `chosen`
    /// (`CHATCTL_HANDLER_PROFILE`) says otherwise.
    pub fn pick(outer: &str, chosen: Option<&str>) -> Result<Self, String> {
        match chosen.map(str::trim).filter(|c| !c.is_empty()) {
            Some("release") => Ok(Self::Release),
            Some("dev" | "debug") => Ok(Self::Dev),
            Some(other) => Err(format!(
                "CHATCTL_HANDLER_PROFILE={other} is not a profile: use release or dev"
            )),
            None if outer == "release" => Ok(Self::Release),
            None => Ok(Self::Dev),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Dev => "dev",
        }
    }

    /// Cargo's directory name for the profile's artifacts.
    fn dir(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Dev => "debug",
        }
    }
}

/// Where the nested build puts its artifacts: a directory of its own (sharing the outer one
/// would deadlock on cargo's build lock), next to the outer profile directories so that every
/// outer build of the workspace (dev, release, clippy) shares it and `cargo clean` removes it.
/// `out_dir` is the build script's `OUT_DIR`: `{target}/[{triple}/]{profile}/build/{pkg}/out`.
pub fn target_dir(out_dir: &Path) -> PathBuf {
    let mut ancestors = out_dir.ancestors();
    let build = ancestors.nth(2);
    match (build, ancestors.nth(1)) {
        (Some(build), Some(target)) if build.file_name() == Some(OsStr::new("build")) => {
            target.join("chatctl-handler")
        }
        _ => out_dir.join("handler-target"),
    }
}

/// Where cargo leaves binary `bin` of a build with `profile`, in `target_dir`.
pub fn artifact_path(target_dir: &Path, profile: HandlerProfile, bin: &str) -> PathBuf {
    target_dir.join(LAMBDA_X86_64).join(profile.dir()).join(bin)
}

/// The arguments of the nested `cargo build` (after the cargo executable).
pub fn cargo_args(
    manifest: &Path,
    target_dir: &Path,
    profile: HandlerProfile,
    offline: bool,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["build", "--manifest-path"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(manifest.into());
    args.extend(
        [
            "--package",
            HANDLER_PACKAGE,
            "--bins",
            // Lambda puts credentials and region in the environment: the package leaves out the
            // full credential chain (handler/Cargo.toml, feature `credential-chain`).
            "--no-default-features",
            "--target",
            LAMBDA_X86_64,
            // The handler is built from the committed Cargo.lock, which the build must never
            // rewrite (it is part of the source tree), whatever the outer build resolved.
            "--locked",
            "--message-format=json-render-diagnostics",
        ]
        .iter()
        .map(OsString::from),
    );
    args.push("--target-dir".into());
    args.push(target_dir.into());
    match profile {
        HandlerProfile::Release => args.push("--release".into()),
        // Symbols and line tables are of no use on Lambda and triple the zip.
        HandlerProfile::Dev => {
            args.push("--config".into());
            args.push("profile.dev.strip=true".into());
            args.push("--config".into());
            args.push("profile.dev.debug=false".into());
        }
    }
    if offline {
        args.push("--offline".into());
    }
    args
}

/// The nested build's rustflags, `\x1f`-separated as `CARGO_ENCODED_RUSTFLAGS` wants: paths of
/// this machine (the source tree, `CARGO_HOME`, the target directory) are rewritten, so the same
/// sources, Cargo.lock and toolchain give the same bytes wherever they are built.
pub fn rustflags(workspace: &Path, cargo_home: Option<&Path>, target_dir: &Path) -> OsString {
    let mut flags = OsString::new();
    let mut remap = |from: &Path, to: &str| {
        if !flags.is_empty() {
            flags.push("\u{1f}");
        }
        flags.push("--remap-path-prefix=");
        flags.push(from);
        flags.push("=");
        flags.push(to);
    };
    // Longest prefixes last: rustc applies the last matching remapping.
    remap(workspace, "/chatctl");
    if let Some(home) = cargo_home {
        remap(home, "/cargo");
    }
    remap(target_dir, "/target");
    flags
}

/// Whether the outer cargo runs offline, from its command line (`--offline`, `--frozen`,
/// `--config net.offline=true`); the environment (`CARGO_NET_OFFLINE`) and config files reach
/// the nested cargo by themselves. `args` are the outer cargo's arguments.
pub fn outer_is_offline<I, S>(args: I) -> bool
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    args.into_iter().any(|arg| {
        let arg = arg.as_ref();
        arg == "--offline" || arg == "--frozen" || arg.replace(' ', "").contains("net.offline=true")
    })
}

/// One binary of the handler that cargo reported building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    pub executable: PathBuf,
}

/// The binaries of the handler package among cargo's JSON messages (one per line).
pub fn bin_artifacts(messages: &str) -> Vec<Artifact> {
    messages
        .lines()
        .filter_map(|line| {
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
            let from_handler = message
                .get("package_id")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|id| id.contains(HANDLER_PACKAGE));
            if !is_bin || !from_handler {
                return None;
            }
            Some(Artifact {
                name: target.get("name")?.as_str()?.to_owned(),
                executable: PathBuf::from(message.get("executable")?.as_str()?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_follows_the_outer_build_unless_chosen() {
        assert_eq!(
            HandlerProfile::pick("release", None),
            Ok(HandlerProfile::Release)
        );
        assert_eq!(HandlerProfile::pick("debug", None), Ok(HandlerProfile::Dev));
        assert_eq!(
            HandlerProfile::pick("debug", Some("release")),
            Ok(HandlerProfile::Release)
        );
        assert_eq!(
            HandlerProfile::pick("release", Some("dev")),
            Ok(HandlerProfile::Dev)
        );
        assert_eq!(
            HandlerProfile::pick("release", Some(" ")),
            Ok(HandlerProfile::Release)
        );
        assert_eq!(
            HandlerProfile::pick("debug", Some("fast")),
            Err("CHATCTL_HANDLER_PROFILE=fast is not a profile: use release or dev".to_owned())
        );
    }

    #[test]
    fn the_nested_target_directory_sits_beside_the_outer_profiles() {
        assert_eq!(
            target_dir(Path::new("/w/target/debug/build/chatctl-0123abcd/out")),
            Path::new("/w/target/chatctl-handler")
        );
        assert_eq!(
            target_dir(Path::new(
                "/w/target/x86_64-unknown-linux-gnu/release/build/chatctl-0123abcd/out"
            )),
            Path::new("/w/target/x86_64-unknown-linux-gnu/chatctl-handler")
        );
        // An unknown layout keeps everything inside OUT_DIR.
        assert_eq!(
            target_dir(Path::new("/tmp/out")),
            Path::new("/tmp/out/handler-target")
        );
        assert_eq!(
            artifact_path(Path::new("/t"), HandlerProfile::Dev, "bootstrap"),
            Path::new("/t/x86_64-unknown-linux-gnu/debug/bootstrap")
        );
    }

    #[test]
    fn the_nested_build_is_locked_explicit_and_offline_when_the_outer_is() {
        let args = |profile, offline| -> Vec<String> {
            cargo_args(
                Path::new("/w/Cargo.toml"),
                Path::new("/w/target/chatctl-handler"),
                profile,
                offline,
            )
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
        };
        let release = args(HandlerProfile::Release, false);
        for expected in [
            "--locked",
            "--no-default-features",
            "--bins",
            "--release",
            LAMBDA_X86_64,
            HANDLER_PACKAGE,
            "/w/target/chatctl-handler",
        ] {
            assert!(
                release.iter().any(|a| a == expected),
                "{expected}: {release:?}"
            );
        }
        assert!(!release.iter().any(|a| a == "--offline"));
        let dev = args(HandlerProfile::Dev, true);
        assert!(dev.iter().any(|a| a == "--offline"));
        assert!(dev.iter().any(|a| a == "profile.dev.strip=true"));
        assert!(!dev.iter().any(|a| a == "--release"));

        assert!(outer_is_offline(["build", "--release", "--offline"]));
        assert!(outer_is_offline(["test", "--frozen"]));
        assert!(outer_is_offline([
            "build",
            "--config",
            "net.offline = true"
        ]));
        assert!(!outer_is_offline(["build", "--locked"]));
    }

    #[test]
    fn machine_paths_are_remapped_for_reproducible_bytes() {
        let flags = rustflags(
            Path::new("/home/me/chatctl"),
            Some(Path::new("/home/me/.cargo")),
            Path::new("/home/me/chatctl/target/chatctl-handler"),
        );
        let flags: Vec<String> = flags
            .to_string_lossy()
            .split('\u{1f}')
            .map(str::to_owned)
            .collect();
        assert_eq!(
            flags,
            [
                "--remap-path-prefix=/home/me/chatctl=/chatctl",
                "--remap-path-prefix=/home/me/.cargo=/cargo",
                "--remap-path-prefix=/home/me/chatctl/target/chatctl-handler=/target",
            ]
        );
    }

    #[test]
    fn cargo_messages_name_the_handler_binaries() {
        let messages = [
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/handler#chat-handler@0.1.0","target":{"kind":["bin"],"name":"bootstrap"},"executable":"/t/release/bootstrap"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/handler#chat-handler@0.1.0","target":{"kind":["lib"],"name":"chat_handler"},"executable":null}"#,
            r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#tool@1.0.0","target":{"kind":["bin"],"name":"tool"},"executable":"/t/release/tool"}"#,
            r#"{"reason":"build-finished","success":true}"#,
            "Compiling chat-handler",
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/handler#chat-handler@0.1.0","target":{"kind":["bin"],"name":"authorizer"},"executable":"/t/release/authorizer"}"#,
        ]
        .join("\n");
        assert_eq!(
            bin_artifacts(&messages),
            [
                Artifact {
                    name: "bootstrap".to_owned(),
                    executable: PathBuf::from("/t/release/bootstrap"),
                },
                Artifact {
                    name: "authorizer".to_owned(),
                    executable: PathBuf::from("/t/release/authorizer"),
                },
            ]
        );
    }
}
