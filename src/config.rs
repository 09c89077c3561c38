//! `chatctl.toml` + environment + flags → a validated [`Config`]; resource names are derived here.
//!
//! Precedence, lowest first: built-in defaults, the file, `CHATCTL_*` environment variables,
//! command-line flags. The region is the exception worth knowing: `--region` >
//! `CHATCTL_REGION` > `[app].region` > `AWS_REGION` > `AWS_DEFAULT_REGION`, so an ambient
//! `AWS_REGION` in a shell never silently moves a stack whose file names its region
//! (docs/decisions.md).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use toml::Value;

mod auth;
mod names;
use crate::partition::Partition;
pub use auth::{Auth, NO_AUTH_WARNING};
pub use names::{IAM_NAME_MAX, Names, REGION_TAG, STACK_TAG, iam_name};

pub const DEFAULT_CONFIG_PATH: &str = "chatctl.toml";
/// A chatctl.toml is a few hundred bytes; a file this large is not one (and `--config
/// /dev/zero` must not read forever).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Sanity bounds of the stage throttling limits. API Gateway's account quota is 5000
/// requests burst and 10000 per second unless raised, and a stage cannot exceed it
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
pub const MAX_THROTTLING_BURST: i64 = 1_000_000;
pub const MAX_THROTTLING_RATE: f64 = 1_000_000.0;
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
            "log_retention_days",
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
    /// Retention of every log group of the stack (access, execution, function logs).
    pub log_retention_days: i32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            throttling_burst_limit: 100,
            throttling_rate_limit: 50.0,
            logging_level: LoggingLevel::Info,
            data_trace: false,
            detailed_metrics: false,
            log_retention_days: 30,
        }
    }
}

/// The retention periods CloudWatch Logs accepts (PutRetentionPolicy, `retentionInDays`).
pub const LOG_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

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

/// Lambda's instruction set; the type lives with the package checks, which build.rs shares.
pub use crate::package::Architecture;

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
        let text = read_config_file(path)?;
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
        validate_url("github.api_url", &github_api_url, "the GitHub token")?;
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
        Names::new(&self.stack_name(), &self.region)
    }

    /// The AWS partition of the region.
    pub fn partition(&self) -> Result<Partition> {
        Partition::of_region(&self.region)
    }
}

/// Reads the configuration file: a regular file of at most [`MAX_CONFIG_BYTES`].
fn read_config_file(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "no configuration file at {shown}: run `chatctl init` to write one, or pass --config PATH"
            )
        } else {
            anyhow::anyhow!("cannot read {shown}: {err}")
        }
    })?;
    if !metadata.is_file() {
        bail!(
            "{shown} is not a regular file: --config (or CHATCTL_CONFIG) must name a chatctl.toml file"
        );
    }
    let too_large = || {
        anyhow::anyhow!(
            "{shown} is larger than {MAX_CONFIG_BYTES} bytes, which no chatctl.toml is: check --config (or CHATCTL_CONFIG)"
        )
    };
    if metadata.len() > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    let file =
        std::fs::File::open(path).map_err(|err| anyhow::anyhow!("cannot read {shown}: {err}"))?;
    let mut bytes = Vec::new();
    // Bounded even if the file grows after the size check.
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| anyhow::anyhow!("cannot read {shown}: {err}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{shown} is not UTF-8 text, so it is not a chatctl.toml"))
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
    // Shape check only: `eu-west-1`, `us-gov-west-1`, `ap-southeast-2`… The longest AWS
    // region names have 14 characters; the bound keeps IAM names (which carry the region)
    // inside IAM's limit.
    let parts: Vec<&str> = region.split('-').collect();
    let valid = region.len() <= 25
        && parts.len() >= 3
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
    // ARNs and domains depend on the partition: a region of none chatctl supports is refused.
    Partition::of_region(region)?;
    Ok(())
}

/// Checks a URL chatctl sends `carries` to: `https://host[:port][/path]`, or plain
/// `http://` for a loopback host (127.0.0.0/8, ::1, localhost), where nothing crosses a
/// network — the tests' emulator and a backend on the same machine.
pub fn validate_url(key: &str, url: &str, carries: &str) -> Result<()> {
    let fix = "write it as https://host[/path]";
    let not_a_url = || anyhow::anyhow!("{key} = \"{url}\" is not a URL: {fix}");
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_a_url());
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(not_a_url)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        // The URL is not repeated: what precedes the @ may be a password.
        bail!("{key} must not contain a user name or password: {fix}");
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split_once(']').map(|(host, _)| host)
    } else {
        authority.split(':').next()
    }
    .filter(|h| !h.is_empty())
    .ok_or_else(not_a_url)?;
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => bail!(
            "{key} = \"{url}\" uses plain http, so {carries} would travel unencrypted: use https:// (plain http:// is accepted only for loopback hosts such as 127.0.0.1)"
        ),
        _ => Err(not_a_url()),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_api(doc: &Document<'_>) -> Result<ApiSettings> {
    let defaults = ApiSettings::default();
    let burst = doc
        .integer("api", "throttling_burst_limit")?
        .unwrap_or(i64::from(defaults.throttling_burst_limit));
    let throttling_burst_limit = i32::try_from(burst)
        .ok()
        .filter(|b| (1..=MAX_THROTTLING_BURST).contains(&i64::from(*b)))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "api.throttling_burst_limit = {burst} is not valid: use a whole number from 1 to {MAX_THROTTLING_BURST} (a zero limit makes API Gateway answer every request with 429 Too Many Requests; API Gateway's account quota is 5000 unless raised)"
            )
        })?;
    let throttling_rate_limit = doc
        .number("api", "throttling_rate_limit")?
        .unwrap_or(defaults.throttling_rate_limit);
    if !(throttling_rate_limit.is_finite()
        && throttling_rate_limit > 0.0
        && throttling_rate_limit <= MAX_THROTTLING_RATE)
    {
        bail!(
            "api.throttling_rate_limit = {throttling_rate_limit} is not valid: use a number of requests per second above 0 and at most {MAX_THROTTLING_RATE} (a zero limit makes API Gateway answer every request with 429 Too Many Requests; API Gateway's account quota is 10000 unless raised)"
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
    let retention = doc
        .integer("api", "log_retention_days")?
        .unwrap_or(i64::from(defaults.log_retention_days));
    let log_retention_days = i32::try_from(retention)
        .ok()
        .filter(|d| LOG_RETENTION_DAYS.contains(d))
        .ok_or_else(|| {
            let allowed: Vec<String> = LOG_RETENTION_DAYS.iter().map(i32::to_string).collect();
            anyhow::anyhow!(
                "api.log_retention_days = {retention} is not a retention CloudWatch Logs accepts: use one of {}",
                allowed.join(", ")
            )
        })?;
    Ok(ApiSettings {
        throttling_burst_limit,
        throttling_rate_limit,
        logging_level,
        data_trace: doc.boolean("api", "data_trace")?.unwrap_or(false),
        detailed_metrics: doc.boolean("api", "detailed_metrics")?.unwrap_or(false),
        log_retention_days,
    })
}

fn parse_backend(doc: &Document<'_>, overrides: &Overrides, origin: &Path) -> Result<Backend> {
    let kind = doc
        .choice("backend", "kind", &["lambda", "http"])?
        .unwrap_or_else(|| "lambda".to_owned());
    // CHATCTL_BACKEND_URL replaces backend.url of an http backend; it never chooses the
    // kind, so an environment variable cannot turn a Lambda stack into an HTTP one.
    if kind != "http" && overrides.backend_url.is_some() {
        bail!(
            "CHATCTL_BACKEND_URL is set, but backend.kind is \"{kind}\": it replaces backend.url only when chatctl.toml sets kind = \"http\" under [backend]; unset it, or set kind = \"http\""
        );
    }
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
        validate_url("backend.url", &url, "the backend secret")?;
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
            "unknown key `throttling_burst_limt` in [api] (did you mean `throttling_burst_limit`?); valid keys: throttling_burst_limit, throttling_rate_limit, logging_level, data_trace, detailed_metrics, log_retention_days"
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
        assert_eq!(names.logs_role, "chat-prod-eu-west-1-apigw-logs");
        assert_eq!(names.backend_role, "chat-prod-eu-west-1-backend");
        assert_eq!(names.table, "chat-prod-connections");
        assert_eq!(names.function, "chat-prod-backend");
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        let check = |url: &str| validate_url("backend.url", url, "the backend secret");
        assert!(check("https://chat.example.com/base").is_ok());
        assert!(check("http://127.0.0.1:9000").is_ok());
        assert!(check("http://127.8.0.1/x").is_ok());
        assert!(check("http://[::1]:8080/").is_ok());
        assert!(check("http://localhost:3000").is_ok());
        let plain = format!("{:#}", check("http://chat.example.com").unwrap_err());
        assert!(
            plain.contains("plain http") && plain.contains("the backend secret"),
            "{plain}"
        );
        assert!(check("http://127.0.0.1.example.com").is_err());
        assert!(check("ftp://x.example").is_err());
        assert!(check("https://").is_err());
        let userinfo = format!("{:#}", check("https://me:hunter2@x.example").unwrap_err());
        assert!(!userinfo.contains("hunter2"), "{userinfo}");
    }

    #[test]
    fn the_backend_url_variable_never_chooses_the_backend_kind() {
        let overrides = Overrides {
            backend_url: Some("https://elsewhere.example".into()),
            ..Overrides::default()
        };
        let err = Config::parse(
            MINIMAL,
            Path::new("c.toml"),
            &overrides,
            &EnvRegion::default(),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}")
                .starts_with("CHATCTL_BACKEND_URL is set, but backend.kind is \"lambda\""),
            "{err:#}"
        );
    }

    #[test]
    fn throttling_limits_are_bounded() {
        let msg = error(&format!(
            "{MINIMAL}[api]\nthrottling_burst_limit = 99999999999\n"
        ));
        assert!(
            msg.starts_with("api.throttling_burst_limit = 99999999999 is not valid"),
            "{msg}"
        );
        let msg = error(&format!("{MINIMAL}[api]\nthrottling_rate_limit = 1e300\n"));
        assert!(msg.contains("at most 1000000"), "{msg}");
    }

    #[test]
    fn the_config_file_must_be_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let msg = format!(
            "{:#}",
            Config::load(dir.path(), &Overrides::default()).unwrap_err()
        );
        assert!(msg.contains("is not a regular file"), "{msg}");
        let big = dir.path().join("big.toml");
        std::fs::write(
            &big,
            vec![b'#'; usize::try_from(MAX_CONFIG_BYTES).unwrap() + 1],
        )
        .unwrap();
        let msg = format!(
            "{:#}",
            Config::load(&big, &Overrides::default()).unwrap_err()
        );
        assert!(msg.contains("larger than"), "{msg}");
        let msg = format!(
            "{:#}",
            Config::load(Path::new("/dev/zero"), &Overrides::default()).unwrap_err()
        );
        assert!(msg.contains("is not a regular file"), "{msg}");
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
    fn log_retention_takes_only_values_cloudwatch_accepts() {
        assert_eq!(parse(MINIMAL).unwrap().api.log_retention_days, 30);
        let config = parse(&format!("{MINIMAL}[api]\nlog_retention_days = 731\n")).unwrap();
        assert_eq!(config.api.log_retention_days, 731);
        let msg = error(&format!("{MINIMAL}[api]\nlog_retention_days = 10\n"));
        assert!(
            msg.starts_with(
                "api.log_retention_days = 10 is not a retention CloudWatch Logs accepts: use one of 1, 3, 5, 7, 14, 30,"
            ),
            "{msg}"
        );
        assert!(error(&format!("{MINIMAL}[api]\nlog_retention_days = 0\n")).contains("3653"));
    }

    #[test]
    fn regions_outside_the_supported_partitions_are_refused() {
        let china = parse("[app]\nname = \"chat\"\nregion = \"cn-north-1\"\n").unwrap();
        assert_eq!(china.partition().unwrap(), Partition::AwsCn);
        let msg = error("[app]\nname = \"chat\"\nregion = \"us-iso-east-1\"\n");
        assert!(msg.contains("partition aws-iso"), "{msg}");
        let msg = error("[app]\nname = \"chat\"\nregion = \"xx-west-1\"\n");
        assert!(msg.contains("belongs to no AWS partition"), "{msg}");
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
