//! `chatctl.toml` + environment + flags → a validated [`Config`]; resource names are derived here.
//!
//! Precedence, lowest first: built-in defaults, the file, `CHATCTL_*` environment variables,
//! command-line flags. The region is the exception worth knowing: `--region` >
//! `CHATCTL_REGION` > `[app].region` > `AWS_REGION` > `AWS_DEFAULT_REGION`, so an ambient
//! `AWS_REGION` in a shell never silently moves a stack whose file names its region
//! (docs/decisions.md).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use toml::Value;

mod auth;
pub use auth::{Auth, NO_AUTH_WARNING};

pub const DEFAULT_CONFIG_PATH: &str = "chatctl.toml";
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

/// Keys of every section, in the order they are documented. Anything else is an error.
const SCHEMA: &[(&str, &[&str])] = &[
    ("app", &["name", "stage", "region"]),
    (
        "api",
        &[
            "throttling_burst_limit",
            "throttling_rate_limit",
            "logging_level",
            "data_trace",
            "detailed_metrics",
        ],
    ),
    (
        "backend",
        &[
            "kind",
            "url",
            "architecture",
            "memory_mb",
            "timeout_s",
            "zip",
        ],
    ),
    (
        "frontend",
        &["repository", "branch", "platform", "framework"],
    ),
    ("github", &["api_url"]),
    ("auth", auth::KEYS),
];

/// Values that override the file: from `CHATCTL_*` variables and flags, already merged
/// (flags win) by the caller.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub stage: Option<String>,
    pub region: Option<String>,
    pub backend_url: Option<String>,
    pub github_api_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub app: String,
    pub stage: String,
    pub region: String,
    pub api: ApiSettings,
    pub backend: Backend,
    pub frontend: Option<Frontend>,
    pub github_api_url: String,
    /// `[auth]`: who may use a name.
    pub auth: Auth,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiSettings {
    pub throttling_burst_limit: i32,
    pub throttling_rate_limit: f64,
    pub logging_level: LoggingLevel,
    pub data_trace: bool,
    pub detailed_metrics: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            throttling_burst_limit: 100,
            throttling_rate_limit: 50.0,
            logging_level: LoggingLevel::Info,
            data_trace: false,
            detailed_metrics: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoggingLevel {
    #[serde(rename = "OFF")]
    Off,
    #[serde(rename = "ERROR")]
    Error,
    #[serde(rename = "INFO")]
    Info,
}

impl LoggingLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Error => "ERROR",
            Self::Info => "INFO",
        }
    }
}

impl fmt::Display for LoggingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Backend {
    Lambda(LambdaBackend),
    Http { url: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LambdaBackend {
    pub architecture: Architecture,
    pub memory_mb: i32,
    pub timeout_s: i32,
    pub zip: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frontend {
    pub repository: String,
    /// `owner` and `name` parsed from `repository`.
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub platform: Platform,
    pub framework: Framework,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Platform {
    #[serde(rename = "WEB")]
    Web,
    #[serde(rename = "WEB_COMPUTE")]
    WebCompute,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "WEB",
            Self::WebCompute => "WEB_COMPUTE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Static,
    Nextjs,
}

impl Config {
    /// Reads and validates the file at `path`, then applies `overrides`.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "no configuration file at {}: run `chatctl init` to write one, or pass --config PATH",
                    path.display()
                )
            } else {
                anyhow::anyhow!("cannot read {}: {err}", path.display())
            }
        })?;
        Self::parse(&text, path, overrides, &EnvRegion::from_process())
    }

    /// Parses `text` (named `origin` in messages).
    pub fn parse(
        text: &str,
        origin: &Path,
        overrides: &Overrides,
        env_region: &EnvRegion,
    ) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", origin.display()))?;
        check_known_keys(&table)?;
        let doc = Document { table: &table };

        let app = doc.string("app", "name")?.ok_or_else(|| {
            anyhow::anyhow!("[app].name is missing: add `name = \"chat\"` under [app] (lowercase letters, digits and dashes, starting with a letter, at most 20 characters)")
        })?;
        validate_app_name(&app)?;

        let stage = match overrides.stage.clone() {
            Some(stage) => stage,
            None => doc
                .string("app", "stage")?
                .unwrap_or_else(|| "dev".to_owned()),
        };
        validate_stage(&stage)?;

        let region = overrides
            .region
            .clone()
            .or(doc.string("app", "region")?)
            .or_else(|| env_region.aws_region.clone())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no AWS region: set `region = \"eu-west-1\"` under [app], or AWS_REGION, or pass --region (chatctl never picks a region for you)"
                )
            })?;
        validate_region(&region)?;

        let api = parse_api(&doc)?;
        let backend = parse_backend(&doc, overrides, origin)?;
        let frontend = parse_frontend(&doc)?;
        let github_api_url = overrides
            .github_api_url
            .clone()
            .or(doc.string("github", "api_url")?)
            .unwrap_or_else(|| DEFAULT_GITHUB_API_URL.to_owned());
        validate_url("github.api_url", &github_api_url)?;
        let auth = auth::parse(&doc)?;

        Ok(Self {
            app,
            stage,
            region,
            api,
            backend,
            frontend,
            github_api_url: github_api_url.trim_end_matches('/').to_owned(),
            auth,
        })
    }

    /// `{app}-{stage}`: the prefix of every resource and the value of the stack tag.
    pub fn stack_name(&self) -> String {
        format!("{}-{}", self.app, self.stage)
    }

    pub fn names(&self) -> Names {
        Names::new(&self.stack_name())
    }
}

/// Names of every resource of a stack, derived from `{app}-{stage}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    pub stack: String,
    pub logs_role: String,
    pub api: String,
    pub access_log_group: String,
    pub lock_log_group: String,
    pub backend_role: String,
    pub backend_policy: String,
    pub table: String,
    pub function: String,
    pub amplify_app: String,
}

/// Tag key that marks everything chatctl creates for a stack; names alone are not unique
/// for API Gateway APIs, so lookups go by this tag.
pub const STACK_TAG: &str = "chatctl:stack";

impl Names {
    pub fn new(stack: &str) -> Self {
        Self {
            stack: stack.to_owned(),
            logs_role: format!("{stack}-apigw-logs"),
            api: stack.to_owned(),
            access_log_group: format!("/chatctl/{stack}/access"),
            lock_log_group: format!("/chatctl/{stack}/lock"),
            backend_role: format!("{stack}-backend"),
            backend_policy: format!("{stack}-backend"),
            table: format!("{stack}-connections"),
            function: format!("{stack}-backend"),
            amplify_app: stack.to_owned(),
        }
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(STACK_TAG.to_owned(), self.stack.clone())])
    }
}

/// The region from the standard AWS variables, which rank below the file.
#[derive(Debug, Default, Clone)]
pub struct EnvRegion {
    pub aws_region: Option<String>,
}

impl EnvRegion {
    pub fn from_process() -> Self {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            aws_region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        }
    }
}

fn check_known_keys(table: &toml::Table) -> Result<()> {
    for (section, value) in table {
        let Some((_, keys)) = SCHEMA.iter().find(|(name, _)| name == section) else {
            let sections: Vec<&str> = SCHEMA.iter().map(|(name, _)| *name).collect();
            bail!(
                "unknown section [{section}]{}; the sections are {}",
                did_you_mean(section, &sections),
                sections
                    .iter()
                    .map(|s| format!("[{s}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let Value::Table(entries) = value else {
            bail!(
                "`{section}` must be a section ([{section}]), found {}",
                describe(value)
            );
        };
        for key in entries.keys() {
            if !keys.contains(&key.as_str()) {
                bail!(
                    "unknown key `{key}` in [{section}]{}; valid keys: {}",
                    did_you_mean(key, keys),
                    keys.join(", ")
                );
            }
        }
    }
    Ok(())
}

fn did_you_mean(given: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(given, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// Typed access to `[section].key` with messages that name the key.
struct Document<'a> {
    table: &'a toml::Table,
}

impl Document<'_> {
    fn get(&self, section: &str, key: &str) -> Option<&Value> {
        self.table.get(section)?.get(key)
    }

    fn has_section(&self, section: &str) -> bool {
        self.table.contains_key(section)
    }

    fn string(&self, section: &str, key: &str) -> Result<Option<String>> {
        match self.get(section, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => bail!(
                "{section}.{key} must be a string, found {}: write it in quotes, e.g. {key} = \"…\"",
                describe(other)
            ),
        }
    }

    fn integer(&self, section: &str, key: &str) -> Result<Option<i64>> {
        match self.get(section, key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(other) => bail!(
                "{section}.{key} must be a whole number, found {}",
                describe(other)
            ),
        }
    }

    fn number(&self, section: &str, key: &str) -> Result<Option<f64>> {
        match self.get(section, key) {
            None => Ok(None),
            #[allow(clippy::cast_precision_loss)] // TOML integers here are small limits
            Some(Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(other) => bail!(
                "{section}.{key} must be a number, found {}",
                describe(other)
            ),
        }
    }

    fn boolean(&self, section: &str, key: &str) -> Result<Option<bool>> {
        match self.get(section, key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => bail!(
                "{section}.{key} must be true or false, found {}",
                describe(other)
            ),
        }
    }

    /// A string restricted to `choices`.
    fn choice(&self, section: &str, key: &str, choices: &[&str]) -> Result<Option<String>> {
        let Some(value) = self.string(section, key)? else {
            return Ok(None);
        };
        if choices.contains(&value.as_str()) {
            return Ok(Some(value));
        }
        let hint = choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(&value))
            .map_or_else(
                || did_you_mean(&value, choices),
                |c| format!(" (did you mean \"{c}\"?)"),
            );
        bail!(
            "{section}.{key} = \"{value}\" is not valid{hint}; use one of: {}",
            choices.join(", ")
        )
    }
}

fn validate_app_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = name.len() <= 20
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "app.name = \"{name}\" is not valid: use 1 to 20 lowercase letters, digits and dashes, starting with a letter (it prefixes every AWS resource name), e.g. name = \"chat\""
        );
    }
    Ok(())
}

fn validate_stage(stage: &str) -> Result<()> {
    let valid = !stage.is_empty()
        && stage.len() <= 32
        && stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "stage \"{stage}\" is not valid: use 1 to 32 letters, digits, dashes or underscores (it becomes the API Gateway stage and part of resource names), e.g. stage = \"dev\""
        );
    }
    Ok(())
}

fn validate_region(region: &str) -> Result<()> {
    // Shape check only: `eu-west-1`, `us-gov-west-1`, `ap-southeast-2`…
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !valid {
        bail!("region \"{region}\" is not an AWS region name such as \"eu-west-1\"");
    }
    Ok(())
}

fn validate_url(key: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => bail!("{key} = \"{url}\" is not a URL: write it as https://host[/path]"),
    }
}

fn parse_api(doc: &Document<'_>) -> Result<ApiSettings> {
    let defaults = ApiSettings::default();
    let burst = doc
        .integer("api", "throttling_burst_limit")?
        .unwrap_or(i64::from(defaults.throttling_burst_limit));
    let throttling_burst_limit = i32::try_from(burst)
        .ok()
        .filter(|b| *b > 0)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "api.throttling_burst_limit = {burst} is not valid: it must be a whole number above 0 (a zero limit makes API Gateway answer every request with 429 Too Many Requests)"
            )
        })?;
    let throttling_rate_limit = doc
        .number("api", "throttling_rate_limit")?
        .unwrap_or(defaults.throttling_rate_limit);
    if !(throttling_rate_limit.is_finite() && throttling_rate_limit > 0.0) {
        bail!(
            "api.throttling_rate_limit = {throttling_rate_limit} is not valid: it must be a number of requests per second above 0 (a zero limit makes API Gateway answer every request with 429 Too Many Requests)"
        );
    }
    let logging_level = match doc
        .choice("api", "logging_level", &["OFF", "ERROR", "INFO"])?
        .as_deref()
    {
        Some("OFF") => LoggingLevel::Off,
        Some("ERROR") => LoggingLevel::Error,
        _ => LoggingLevel::Info,
    };
    Ok(ApiSettings {
        throttling_burst_limit,
        throttling_rate_limit,
        logging_level,
        data_trace: doc.boolean("api", "data_trace")?.unwrap_or(false),
        detailed_metrics: doc.boolean("api", "detailed_metrics")?.unwrap_or(false),
    })
}

fn parse_backend(doc: &Document<'_>, overrides: &Overrides, origin: &Path) -> Result<Backend> {
    let kind = doc
        .choice("backend", "kind", &["lambda", "http"])?
        .unwrap_or_else(|| {
            if overrides.backend_url.is_some() {
                "http".to_owned()
            } else {
                "lambda".to_owned()
            }
        });
    if kind == "http" {
        let url = overrides
            .backend_url
            .clone()
            .or(doc.string("backend", "url")?)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "backend.kind = \"http\" needs backend.url: the base URL of the chat backend you run, e.g. url = \"https://chat.example.com\""
                )
            })?;
        validate_url("backend.url", &url)?;
        for key in ["architecture", "memory_mb", "timeout_s", "zip"] {
            if doc.get("backend", key).is_some() {
                bail!(
                    "backend.{key} applies to kind = \"lambda\" only; remove it or set kind = \"lambda\""
                );
            }
        }
        return Ok(Backend::Http {
            url: url.trim_end_matches('/').to_owned(),
        });
    }
    if doc.get("backend", "url").is_some() {
        bail!(
            "backend.url is used only with kind = \"http\"; remove it to deploy the backend on Lambda, or add kind = \"http\""
        );
    }
    let architecture = match doc
        .choice("backend", "architecture", &["x86_64", "arm64"])?
        .as_deref()
    {
        Some("arm64") => Architecture::Arm64,
        _ => Architecture::X86_64,
    };
    let memory = doc.integer("backend", "memory_mb")?.unwrap_or(128);
    let memory_mb = i32::try_from(memory)
        .ok()
        .filter(|m| (128..=10_240).contains(m))
        .ok_or_else(|| {
            anyhow::anyhow!("backend.memory_mb = {memory} is not valid: Lambda allows 128 to 10240")
        })?;
    let timeout = doc.integer("backend", "timeout_s")?.unwrap_or(10);
    let timeout_s = i32::try_from(timeout)
        .ok()
        .filter(|t| (1..=29).contains(t))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "backend.timeout_s = {timeout} is not valid: use 1 to 29 seconds (API Gateway stops waiting for an integration after 29 s)"
            )
        })?;
    let zip = doc.string("backend", "zip")?.map(|z| {
        // Relative to the configuration file, like paths in Cargo.toml.
        let path = PathBuf::from(z);
        if path.is_absolute() {
            path
        } else {
            origin.parent().unwrap_or(Path::new(".")).join(path)
        }
    });
    Ok(Backend::Lambda(LambdaBackend {
        architecture,
        memory_mb,
        timeout_s,
        zip,
    }))
}

fn parse_frontend(doc: &Document<'_>) -> Result<Option<Frontend>> {
    if !doc.has_section("frontend") {
        return Ok(None);
    }
    let repository = doc.string("frontend", "repository")?.ok_or_else(|| {
        anyhow::anyhow!(
            "[frontend] needs repository, e.g. repository = \"https://github.com/me/chat-web\" (or remove the [frontend] section)"
        )
    })?;
    let (owner, repo) = parse_github_repository(&repository)?;
    let branch = doc
        .string("frontend", "branch")?
        .unwrap_or_else(|| "main".to_owned());
    if branch.is_empty() || branch.contains(char::is_whitespace) {
        bail!("frontend.branch = \"{branch}\" is not a branch name");
    }
    let platform = match doc
        .choice("frontend", "platform", &["WEB", "WEB_COMPUTE"])?
        .as_deref()
    {
        Some("WEB_COMPUTE") => Platform::WebCompute,
        _ => Platform::Web,
    };
    let framework = match doc
        .choice("frontend", "framework", &["static", "nextjs"])?
        .as_deref()
    {
        Some("nextjs") => Framework::Nextjs,
        _ => Framework::Static,
    };
    Ok(Some(Frontend {
        repository: format!("https://github.com/{owner}/{repo}"),
        owner,
        repo,
        branch,
        platform,
        framework,
    }))
}

/// `https://github.com/owner/repo[.git]` → (owner, repo).
fn parse_github_repository(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("https://github.com/")
        .map(|r| r.trim_end_matches('/').trim_end_matches(".git"));
    let parts: Vec<&str> = rest.map(|r| r.split('/').collect()).unwrap_or_default();
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match parts.as_slice() {
        [owner, repo] if valid_part(owner) && valid_part(repo) => {
            Ok(((*owner).to_owned(), (*repo).to_owned()))
        }
        _ => bail!(
            "frontend.repository = \"{url}\" is not a GitHub repository URL: write it as https://github.com/OWNER/REPO"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[app]\nname = \"chat\"\nregion = \"eu-west-1\"\n";

    fn parse(text: &str) -> Result<Config> {
        Config::parse(
            text,
            Path::new("chatctl.toml"),
            &Overrides::default(),
            &EnvRegion::default(),
        )
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("config should be rejected"))
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.stage, "dev");
        assert_eq!(config.stack_name(), "chat-dev");
        assert_eq!(config.api, ApiSettings::default());
        assert!(matches!(config.backend, Backend::Lambda(_)));
        assert_eq!(config.github_api_url, DEFAULT_GITHUB_API_URL);
        assert!(config.frontend.is_none());
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let text = format!("{MINIMAL}[api]\nthrottling_burst_limt = 5\n");
        assert_eq!(
            error(&text),
            "unknown key `throttling_burst_limt` in [api] (did you mean `throttling_burst_limit`?); valid keys: throttling_burst_limit, throttling_rate_limit, logging_level, data_trace, detailed_metrics"
        );
    }

    #[test]
    fn unknown_section_is_named() {
        let text = format!("{MINIMAL}[backnd]\nkind = \"http\"\n");
        assert!(error(&text).starts_with("unknown section [backnd] (did you mean `backend`?)"));
    }

    #[test]
    fn malformed_toml_names_the_file() {
        assert!(error("[app\nname=").starts_with("chatctl.toml is not valid TOML"));
    }

    #[test]
    fn bad_app_name_explains_the_rule() {
        let msg = error("[app]\nname = \"Chat_App\"\nregion = \"eu-west-1\"\n");
        assert!(
            msg.starts_with("app.name = \"Chat_App\" is not valid"),
            "{msg}"
        );
    }

    #[test]
    fn missing_region_is_an_error_not_a_default() {
        let msg = error("[app]\nname = \"chat\"\n");
        assert!(msg.starts_with("no AWS region"), "{msg}");
    }

    #[test]
    fn region_precedence_flag_then_file_then_aws_region() {
        let env = EnvRegion {
            aws_region: Some("us-east-1".into()),
        };
        let path = Path::new("chatctl.toml");
        let from_file = Config::parse(MINIMAL, path, &Overrides::default(), &env).unwrap();
        assert_eq!(from_file.region, "eu-west-1");
        let no_region = "[app]\nname = \"chat\"\n";
        let from_env = Config::parse(no_region, path, &Overrides::default(), &env).unwrap();
        assert_eq!(from_env.region, "us-east-1");
        let flag = Overrides {
            region: Some("ap-southeast-2".into()),
            ..Overrides::default()
        };
        let from_flag = Config::parse(MINIMAL, path, &flag, &env).unwrap();
        assert_eq!(from_flag.region, "ap-southeast-2");
    }

    #[test]
    fn zero_throttling_is_rejected_with_the_reason() {
        let msg = error(&format!("{MINIMAL}[api]\nthrottling_rate_limit = 0\n"));
        assert!(msg.contains("429 Too Many Requests"), "{msg}");
        let msg = error(&format!("{MINIMAL}[api]\nthrottling_burst_limit = 0\n"));
        assert!(
            msg.starts_with("api.throttling_burst_limit = 0 is not valid"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_key_and_value() {
        let msg = error(&format!(
            "{MINIMAL}[api]\nthrottling_burst_limit = \"100\"\n"
        ));
        assert_eq!(
            msg,
            "api.throttling_burst_limit must be a whole number, found the string \"100\""
        );
    }

    #[test]
    fn logging_level_is_case_checked_with_a_hint() {
        let msg = error(&format!("{MINIMAL}[api]\nlogging_level = \"info\"\n"));
        assert_eq!(
            msg,
            "api.logging_level = \"info\" is not valid (did you mean \"INFO\"?); use one of: OFF, ERROR, INFO"
        );
    }

    #[test]
    fn http_backend_needs_a_url_and_env_can_supply_it() {
        let text = format!("{MINIMAL}[backend]\nkind = \"http\"\n");
        assert!(error(&text).contains("needs backend.url"));
        let overrides = Overrides {
            backend_url: Some("http://127.0.0.1:9000/".into()),
            ..Overrides::default()
        };
        let config = Config::parse(
            &text,
            Path::new("c.toml"),
            &overrides,
            &EnvRegion::default(),
        )
        .unwrap();
        assert_eq!(
            config.backend,
            Backend::Http {
                url: "http://127.0.0.1:9000".into()
            }
        );
    }

    #[test]
    fn stage_override_changes_every_name() {
        let overrides = Overrides {
            stage: Some("prod".into()),
            ..Overrides::default()
        };
        let config = Config::parse(
            MINIMAL,
            Path::new("c.toml"),
            &overrides,
            &EnvRegion::default(),
        )
        .unwrap();
        let names = config.names();
        assert_eq!(names.logs_role, "chat-prod-apigw-logs");
        assert_eq!(names.table, "chat-prod-connections");
        assert_eq!(names.function, "chat-prod-backend");
    }

    #[test]
    fn frontend_repository_is_parsed() {
        let text =
            format!("{MINIMAL}[frontend]\nrepository = \"https://github.com/acme/chat-web.git\"\n");
        let frontend = parse(&text).unwrap().frontend.unwrap();
        assert_eq!(
            (frontend.owner.as_str(), frontend.repo.as_str()),
            ("acme", "chat-web")
        );
        assert_eq!(frontend.branch, "main");
        assert_eq!(frontend.platform, Platform::Web);
        let msg = error(&format!(
            "{MINIMAL}[frontend]\nrepository = \"git@github.com:acme/chat-web\"\n"
        ));
        assert!(msg.contains("https://github.com/OWNER/REPO"), "{msg}");
    }

    #[test]
    fn lambda_limits_are_checked() {
        let msg = error(&format!("{MINIMAL}[backend]\ntimeout_s = 60\n"));
        assert!(msg.contains("29 s"), "{msg}");
        let msg = error(&format!(
            "{MINIMAL}[backend]\nurl = \"https://x.example\"\n"
        ));
        assert!(
            msg.starts_with("backend.url is used only with kind = \"http\""),
            "{msg}"
        );
    }
}
