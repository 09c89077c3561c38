//! `chatctl init [DIR] [--force]`: a commented `chatctl.toml` and a copy of the reference web
//! app, with Amplify's build spec as `amplify.yml` at the root (where Amplify looks for it),
//! so the directory can be pushed to GitHub as it is and named in `[frontend].repository`.
//!
//! It never overwrites a file unless `--force`: every target is checked before the first one
//! is written, so a refusal leaves the directory untouched.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::ui::Ui;

/// The reference web app (templates/frontend), embedded so the binary is all users need.
pub const FRONTEND_FILES: &[(&str, &str)] = &[
    (
        "index.html",
        include_str!("../templates/frontend/index.html"),
    ),
    ("app.js", include_str!("../templates/frontend/app.js")),
    ("client.js", include_str!("../templates/frontend/client.js")),
    ("auth.js", include_str!("../templates/frontend/auth.js")),
    (
        "protocol.js",
        include_str!("../templates/frontend/protocol.js"),
    ),
    ("config.js", include_str!("../templates/frontend/config.js")),
    (
        "styles.css",
        include_str!("../templates/frontend/styles.css"),
    ),
    (
        "favicon.svg",
        include_str!("../templates/frontend/favicon.svg"),
    ),
];

/// Amplify reads `amplify.yml` from the repository root.
pub const AMPLIFY_YML: (&str, &str) = (
    "amplify.yml",
    include_str!("../templates/amplify/buildspec.yml"),
);

pub const CONFIG_FILE: &str = "chatctl.toml";

#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub force: bool,
    /// Written as `[app].region` when given (`--region`); otherwise left commented out,
    /// because chatctl never picks a region for anyone.
    pub region: Option<String>,
    /// Written as `[app].stage` when given (`--stage`).
    pub stage: Option<String>,
}

/// What `init` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub dir: PathBuf,
    /// Paths relative to `dir`, in the order written.
    pub files: Vec<String>,
    /// Those that existed and were replaced (`--force`).
    pub overwritten: Vec<String>,
}

/// The commented configuration: every key of the schema with its default and meaning;
/// `[frontend]` and `[github]` commented out (without them no Amplify resources exist).
pub fn config_template(region: Option<&str>, stage: Option<&str>) -> String {
    let region_line = match region {
        Some(region) => format!("region = \"{region}\"              # or AWS_REGION / --region"),
        None => "# region = \"eu-west-1\"           # REQUIRED: uncomment and pick yours, or set AWS_REGION / --region\n                                 # (chatctl never picks a region for you)".to_owned(),
    };
    let stage = stage.unwrap_or("dev");
    format!(
        r#"# chatctl configuration. Precedence: this file < CHATCTL_* environment variables < flags
# (--stage, --region, --config). Secrets never go here: the GitHub token comes from
# GITHUB_TOKEN and an http backend's shared secret from CHATCTL_BACKEND_SECRET.

[app]
name = "chat"                    # [a-z][a-z0-9-]{{0,19}}: prefix of every AWS resource name
stage = "{stage}"                    # API Gateway stage; each stage is its own stack ({{name}}-{{stage}})
{region_line}

[api]
throttling_burst_limit = 100     # requests; both limits are always sent and must be > 0
throttling_rate_limit = 50.0     # requests per second (a zero limit answers everything with 429)
logging_level = "INFO"           # execution logs: OFF | ERROR | INFO
data_trace = false               # log full request and response data (may contain messages)
detailed_metrics = false         # per-route CloudWatch metrics (billed)
log_retention_days = 30          # every log group of the stack: 1, 3, 5, 7, 14, 30, 60, 90, … 3653

[backend]
kind = "lambda"                  # lambda: chatctl deploys the chat backend (Lambda + DynamoDB)
                                 # http: a backend you run yourself, at url below
# url = "https://chat.example.com"   # kind = "http" only; its secret comes from CHATCTL_BACKEND_SECRET
architecture = "x86_64"          # lambda: x86_64 | arm64 (arm64 needs a prebuilt zip)
memory_mb = 128                  # lambda: 128 to 10240
timeout_s = 10                   # lambda: 1 to 29 seconds (API Gateway waits at most 29 s)
# zip = "dist/bootstrap.zip"     # lambda: a prebuilt package (e.g. from cargo-lambda) instead of building

# Who may use a name (docs/auth.md). The web app signs people in; the $connect authorizer
# verifies their ID token, and the chat name comes from it (`?name=` is then ignored).
[auth]
provider = "cognito"             # cognito: chatctl creates a user pool with a hosted sign-in page
                                 # oidc: your own OpenID Connect provider (issuer, audience below)
                                 # none: a name is a label anyone can pick (plan and status warn)
# name_claim = "cognito:username"      # the ID token claim holding the chat name (oidc: preferred_username)
# issuer = "https://id.example.com/"   # oidc: exactly the `iss` of the provider's ID tokens
# audience = "chat-web"                # oidc: the client id the tokens are issued for

# The web app on Amplify Hosting, built from a GitHub repository: push this directory to
# GitHub (amplify.yml and the app are at its root), install the Amplify GitHub App of your
# region on it (https://github.com/apps/aws-amplify-REGION/installations/new), uncomment
# the section, export GITHUB_TOKEN (a classic token with `admin:repo_hook`, or a
# fine-grained one with "Webhooks: read and write"), then run `chatctl up`.
# `chatctl down` removes the webhook Amplify adds to the repository.
# [frontend]
# repository = "https://github.com/me/chat-web"
# branch = "main"                # built on every push
# platform = "WEB"               # WEB (static) | WEB_COMPUTE (Next.js SSR)
# framework = "static"           # static (this app) | nextjs

# GitHub Enterprise Server instead of github.com:
# [github]
# api_url = "https://api.github.com"   # GHES: https://HOST/api/v3
"#
    )
}

/// Every file `init` writes, relative to the target directory.
pub fn files(region: Option<&str>, stage: Option<&str>) -> Vec<(&'static str, String)> {
    let mut files = vec![(CONFIG_FILE, config_template(region, stage))];
    files.push((AMPLIFY_YML.0, AMPLIFY_YML.1.to_owned()));
    files.extend(
        FRONTEND_FILES
            .iter()
            .map(|(name, text)| (*name, (*text).to_owned())),
    );
    files
}

/// Writes the project into `options.dir` (created if missing).
pub fn write(options: &Options) -> Result<Written> {
    let files = files(options.region.as_deref(), options.stage.as_deref());
    let dir = &options.dir;
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    // Check every target before writing anything.
    let mut existing = Vec::new();
    for (name, _) in &files {
        let path = dir.join(name);
        if path.is_dir() {
            bail!(
                "{} is a directory: chatctl init needs that name for a file; nothing was written",
                path.display()
            );
        }
        if path.exists() {
            existing.push((*name).to_owned());
        }
    }
    if !existing.is_empty() && !options.force {
        bail!(
            "refusing to overwrite {} in {}: pass --force to replace them; nothing was written",
            existing.join(", "),
            display_dir(dir)
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push((*name).to_owned());
    }
    Ok(Written {
        dir: dir.clone(),
        files: written,
        overwritten: existing,
    })
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        "the current directory".to_owned()
    } else {
        dir.display().to_string()
    }
}

/// `chatctl init`: writes, then reports what it wrote and what to do next.
pub fn run(options: &Options, ui: &Ui) -> Result<Written> {
    let written = write(options)?;
    let mut text = format!(
        "wrote {} files to {}:",
        written.files.len(),
        display_dir(&written.dir)
    );
    for file in &written.files {
        let replaced = if written.overwritten.contains(file) {
            "  (replaced)"
        } else {
            ""
        };
        let _ = write!(text, "\n  {file}{replaced}");
    }
    let mut step = 1;
    text.push_str("\nnext:");
    if options.region.is_none() {
        let _ = write!(
            text,
            "\n  {step}. set region in {CONFIG_FILE} (or export AWS_REGION)"
        );
        step += 1;
    }
    let _ = write!(
        text,
        "\n  {step}. try it on this machine: chatctl dev\n  {}. deploy the chat API: chatctl plan, then chatctl up\n  {}. for the web app on Amplify: push this directory to a GitHub repository, uncomment [frontend] with its URL, export GITHUB_TOKEN, and run chatctl up again",
        step + 1,
        step + 2
    );
    ui.result(&text, &written);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EnvRegion, Overrides};

    fn parse(text: &str) -> Result<Config> {
        Config::parse(
            text,
            Path::new(CONFIG_FILE),
            &Overrides::default(),
            &EnvRegion {
                aws_region: Some("eu-west-1".to_owned()),
            },
        )
    }

    /// The schema as the parser itself states it: its error messages for an unknown
    /// section and for an unknown key list the valid ones.
    fn schema() -> Vec<(String, Vec<String>)> {
        let message = format!("{:#}", parse("[zzzz]\n").unwrap_err());
        let sections: Vec<String> = message
            .split("the sections are ")
            .nth(1)
            .unwrap()
            .split(", ")
            .map(|s| s.trim_matches(|c| c == '[' || c == ']').to_owned())
            .collect();
        sections
            .into_iter()
            .map(|section| {
                let message = format!(
                    "{:#}",
                    parse(&format!("[{section}]\nzzzz = 1\n")).unwrap_err()
                );
                let keys = message
                    .split("valid keys: ")
                    .nth(1)
                    .unwrap()
                    .split(", ")
                    .map(str::to_owned)
                    .collect();
                (section, keys)
            })
            .collect()
    }

    #[test]
    fn the_template_parses_with_the_documented_defaults() {
        let config = parse(&config_template(None, None)).unwrap();
        assert_eq!(config.app, "chat");
        assert_eq!(config.stage, "dev");
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.api, crate::config::ApiSettings::default());
        assert!(matches!(config.backend, crate::config::Backend::Lambda(_)));
        assert!(config.frontend.is_none());
        // New projects verify names.
        assert_eq!(
            config.auth,
            crate::config::Auth::Cognito {
                name_claim: "cognito:username".into()
            }
        );
        let pinned = Config::parse(
            &config_template(Some("ap-southeast-2"), Some("prod")),
            Path::new(CONFIG_FILE),
            &Overrides::default(),
            &EnvRegion::default(),
        )
        .unwrap();
        assert_eq!(pinned.region, "ap-southeast-2");
        assert_eq!(pinned.stack_name(), "chat-prod");
        // Without a region anywhere, the template does not invent one.
        let err = Config::parse(
            &config_template(None, None),
            Path::new(CONFIG_FILE),
            &Overrides::default(),
            &EnvRegion::default(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").starts_with("no AWS region"));
    }

    #[test]
    fn the_template_mentions_every_key_of_the_schema() {
        let template = config_template(None, None);
        let schema = schema();
        assert!(schema.len() >= 5, "{schema:?}");
        for (section, keys) in schema {
            assert!(
                template.contains(&format!("[{section}]")),
                "[{section}] is missing from the template"
            );
            for key in keys {
                let present = template
                    .lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")));
                assert!(present, "{section}.{key} is missing from the template");
            }
        }
    }

    #[test]
    fn the_commented_frontend_and_github_sections_are_valid_when_uncommented() {
        let uncommented: String = config_template(Some("eu-west-1"), None)
            .lines()
            .map(|line| {
                let body = line.strip_prefix("# ").unwrap_or(line);
                let is_setting = body.starts_with('[')
                    || ["repository", "branch", "platform", "framework", "api_url"]
                        .iter()
                        .any(|k| body.starts_with(&format!("{k} = ")));
                if line.starts_with("# ") && is_setting {
                    format!("{body}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let config = parse(&uncommented).unwrap();
        let frontend = config.frontend.unwrap();
        assert_eq!(frontend.owner, "me");
        assert_eq!(frontend.repo, "chat-web");
        assert_eq!(config.github_api_url, "https://api.github.com");
    }

    #[test]
    fn every_file_of_the_reference_app_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/frontend");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = FRONTEND_FILES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn refuses_to_overwrite_and_writes_nothing_then_force_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("site");
        let options = Options {
            dir: target.clone(),
            force: false,
            region: None,
            stage: None,
        };
        let written = write(&options).unwrap();
        assert_eq!(written.files.len(), FRONTEND_FILES.len() + 2);
        assert!(written.overwritten.is_empty());
        assert_eq!(
            std::fs::read_to_string(target.join("amplify.yml")).unwrap(),
            AMPLIFY_YML.1
        );
        assert_eq!(
            std::fs::read_to_string(target.join("index.html")).unwrap(),
            FRONTEND_FILES[0].1
        );

        // One existing file blocks everything, and nothing else is (re)written.
        let fresh = tempfile::tempdir().unwrap();
        std::fs::write(fresh.path().join("app.js"), "mine").unwrap();
        let err = write(&Options {
            dir: fresh.path().to_path_buf(),
            ..options.clone()
        })
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("refusing to overwrite app.js"), "{text}");
        assert!(text.contains("--force"), "{text}");
        let left: Vec<_> = std::fs::read_dir(fresh.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
        assert_eq!(
            std::fs::read_to_string(fresh.path().join("app.js")).unwrap(),
            "mine"
        );

        let forced = write(&Options {
            dir: fresh.path().to_path_buf(),
            force: true,
            ..options
        })
        .unwrap();
        assert_eq!(forced.overwritten, ["app.js"]);
        assert_ne!(
            std::fs::read_to_string(fresh.path().join("app.js")).unwrap(),
            "mine"
        );
    }
}
