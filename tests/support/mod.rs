//! Shared harness for end-to-end tests: the cloud emulator, a project directory with a
//! `chatctl.toml`, and running the real `chatctl` binary against both.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const REGION: &str = "eu-west-1";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// The emulator, one per test: started on a free port, stopped when dropped.
pub struct Emulator {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Emulator {
    pub async fn start() -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/start");
        let mut child = Command::new(script)
            .args(["0", "--exit-with-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut lines = BufReader::new(stdout).lines();
        // First use creates the virtualenv, which can take a minute.
        let url = tokio::time::timeout(Duration::from_secs(240), async {
            while let Some(line) = lines.next_line().await.expect("read emulator stdout") {
                if let Some(url) = line.strip_prefix("emulator listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("the emulator exited before listening");
        })
        .await
        .expect("the emulator did not start in time");
        // Keep draining stdout so the emulator never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            url,
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/_emulator/{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("emulator control call");
        assert!(
            response.status().is_success(),
            "control {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    pub async fn calls(&self) -> Vec<Value> {
        match self.control(reqwest::Method::GET, "calls", None).await {
            Value::Array(calls) => calls,
            other => panic!("calls: {other}"),
        }
    }

    pub async fn writes(&self) -> Vec<String> {
        self.calls()
            .await
            .into_iter()
            .filter(|c| c["write"] == true)
            .map(|c| {
                format!(
                    "{}:{}",
                    c["service"].as_str().unwrap_or(""),
                    c["operation"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    pub async fn clear_calls(&self) {
        self.control(reqwest::Method::DELETE, "calls", None).await;
    }

    pub async fn fault(&self, fault: Value) {
        self.control(reqwest::Method::POST, "faults", Some(fault))
            .await;
    }

    /// Any other control call, e.g. `github/repos`.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.control(reqwest::Method::GET, path, None).await
    }

    pub async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "faults", None).await;
    }

    /// SDK configuration for reading back what chatctl did, independently of chatctl.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        self.sdk_config_in(REGION)
    }

    /// [`Self::sdk_config`] for another region.
    pub fn sdk_config_in(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .endpoint_url(&self.url)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIDTEST",
                        "test-secret",
                        None,
                        None,
                        "test",
                    ),
                ),
            )
            .build()
    }

    pub fn apigatewayv2(&self) -> aws_sdk_apigatewayv2::Client {
        aws_sdk_apigatewayv2::Client::new(&self.sdk_config())
    }

    pub fn apigateway(&self) -> aws_sdk_apigateway::Client {
        aws_sdk_apigateway::Client::new(&self.sdk_config())
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config())
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.sdk_config())
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config())
    }

    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        aws_sdk_cognitoidentityprovider::Client::new(&self.sdk_config())
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk_config())
    }

    /// How many calls of `operation` the emulator received since the log was cleared.
    pub async fn count(&self, operation: &str) -> usize {
        self.calls()
            .await
            .iter()
            .filter(|c| c["operation"] == operation)
            .count()
    }

    /// The APIs tagged for `stack`, found by tag as chatctl finds them.
    pub async fn stack_apis(&self, stack: &str) -> Vec<aws_sdk_apigatewayv2::types::Api> {
        let client = self.apigatewayv2();
        let mut apis = Vec::new();
        let mut token = None;
        loop {
            let page = client
                .get_apis()
                .set_next_token(token)
                .send()
                .await
                .expect("GetApis");
            apis.extend(page.items().iter().cloned());
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        apis.retain(|a| {
            a.tags()
                .and_then(|t| t.get("chatctl:stack"))
                .map(String::as_str)
                == Some(stack)
        });
        apis
    }

    /// The id of the one API of `stack`; fails if there is not exactly one.
    pub async fn the_api_id(&self, stack: &str) -> String {
        let apis = self.stack_apis(stack).await;
        assert_eq!(apis.len(), 1, "exactly one API for stack {stack}");
        apis[0].api_id().expect("api id").to_owned()
    }

    /// The environment that points an AWS client (chatctl) at the emulator, and at nothing
    /// of this machine's AWS configuration.
    pub fn client_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The CodeSha256 Lambda reports for `function`.
    pub async fn deployed_code_sha(&self, function: &str) -> Option<String> {
        aws_sdk_lambda::Client::new(&self.sdk_config())
            .get_function()
            .function_name(function)
            .send()
            .await
            .expect("GetFunction")
            .configuration()
            .and_then(|c| c.code_sha256())
            .map(str::to_owned)
    }

    pub fn stop_on_drop(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// What one chatctl run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Trust policies of roles made outside chatctl in tests.
pub const TRUST_APIGW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
pub const TRUST_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Someone else's role: created outside chatctl with the given trust policy; returns its ARN.
pub async fn foreign_role(emulator: &Emulator, name: &str, trust: &str) -> String {
    emulator
        .iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn
}

/// What chatctl's library calls need, pointed at the emulator, for `stack` in [`REGION`].
pub fn ctx(emulator: &Emulator, stack: &str) -> chatctl::resources::Ctx {
    chatctl::resources::Ctx {
        aws: chatctl::aws::Clients::from_config(&emulator.sdk_config(), REGION),
        ui: chatctl::ui::Ui::plain(chatctl::cli::OutputFormat::Text),
        names: chatctl::config::Names::new(stack, REGION),
        stage: "dev".to_owned(),
    }
}

/// The default backend, with a prebuilt package (see [`write_zip`]).
pub const LAMBDA_TOML: &str = r#"
[app]
name = "chat"
stage = "dev"
region = "eu-west-1"

[backend]
kind = "lambda"
memory_mb = 256
timeout_s = 12
zip = "handler.zip"
"#;

/// The `bootstrap` binary of the package built into chatctl.
pub fn handler_binary() -> Vec<u8> {
    let package =
        chatctl::package::embedded_package(chatctl::config::Architecture::X86_64).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(package.bytes)).unwrap();
    let mut entry = archive.by_name("bootstrap").unwrap();
    let mut binary = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut binary).unwrap();
    binary
}

/// Writes `handler.zip` of `binary` into the project; returns its CodeSha256.
pub fn write_zip(project: &Project, binary: &[u8]) -> String {
    let zip = chatctl::package::zip_bootstrap(binary).unwrap();
    std::fs::write(project.path().join("handler.zip"), &zip).unwrap();
    chatctl::package::code_sha256(&zip)
}

/// A directory with a `chatctl.toml`, and the environment that points chatctl at the emulator.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

pub const HTTP_BACKEND_TOML: &str = r#"
[app]
name = "chat"
stage = "dev"
region = "eu-west-1"

[api]
throttling_burst_limit = 100
throttling_rate_limit = 50.0
logging_level = "INFO"

[backend]
kind = "http"
url = "https://chat-backend.example.com"
"#;

impl Project {
    pub fn new(emulator: &Emulator, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("chatctl.toml"), config).expect("write chatctl.toml");
        let mut env = emulator.client_env();
        env.extend(
            [
                ("CHATCTL_BACKEND_SECRET", SECRET),
                // Retry windows shrink 20-fold so a fault that never clears fails in seconds.
                ("CHATCTL_RETRY_SCALE", "0.05"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Self { dir, env }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chatctl"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs chatctl to its end (bounded to two minutes).
    pub async fn run(&self, args: &[&str]) -> Run {
        let started = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(120), self.command(args).output())
            .await
            .expect("chatctl did not finish in 2 minutes")
            .expect("run chatctl");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }
}
