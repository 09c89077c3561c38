//! Ownership end to end: chatctl changes and deletes only what it created, in the region it
//! runs in. For every resource kind found by name, a foreign resource of that name stops
//! `plan` and `up` before any write and is left by `down`; two regions of one stack share
//! nothing; stacks deployed before the region tag keep working; deletes need consent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Stdio;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ScalarAttributeType,
};
use support::{
    Emulator, HTTP_BACKEND_TOML, LAMBDA_TOML, Project, REGION, Run, TRUST_APIGW, TRUST_LAMBDA,
    foreign_role, handler_binary, write_zip,
};
use tokio::io::AsyncWriteExt as _;

const SOMEONES_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::someones-bucket/*"}]}"#;
const LOGS_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs";

fn lambda_project(emulator: &Emulator, binary: &[u8]) -> Project {
    let mut project = Project::new(emulator, LAMBDA_TOML);
    project.remove_env("CHATCTL_BACKEND_SECRET");
    write_zip(&project, binary);
    project
}

/// `plan` and `up` (even with `--yes`) stop naming the resource and its ARN and make no
/// write call; `down` exits 0, leaves it and says so.
async fn refused_and_left(emulator: &Emulator, project: &Project, resource: &str, arn: &str) {
    emulator.clear_calls().await;
    for command in [&["plan"][..], &["up"], &["up", "--yes"]] {
        let run = project.run(command).await;
        run.assert_code(1);
        assert!(
            run.stderr.contains(&format!("{resource} ({arn})"))
                && run.stderr.contains("delete or rename them yourself")
                && run.stderr.contains("--stage"),
            "{command:?}:\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert_eq!(emulator.writes().await, Vec::<String>::new());
    let status = project.run(&["status"]).await;
    status.assert_code(2);
    assert!(
        status.stdout.contains(&format!("foreign   {resource}"))
            || status.stdout.contains(&format!("foreign  {resource}")),
        "{}",
        status.stdout
    );
    let down = project.run(&["down", "--yes"]).await;
    down.assert_code(0);
    assert!(
        down.stdout.contains(&format!("left {resource} ({arn})")),
        "{}",
        down.stdout
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

/// A function someone else made with one of the stack's function names: (ARN, CodeSha256).
async fn someones_function(emulator: &Emulator, name: &str) -> (String, String) {
    let role = foreign_role(emulator, &format!("someones-{name}-role"), TRUST_LAMBDA).await;
    let zip = chatctl::package::zip_bootstrap(b"someone else's code").unwrap();
    let function = emulator
        .lambda()
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::from("provided.al2023"))
        .handler("bootstrap")
        .role(&role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                .build(),
        )
        .send()
        .await
        .unwrap();
    (
        function.function_arn().unwrap().to_owned(),
        function.code_sha256().unwrap().to_owned(),
    )
}

/// A table someone else made with the backend's table name (keyed by `id`); returns its ARN.
async fn someones_table(emulator: &Emulator) -> String {
    emulator
        .dynamodb()
        .create_table()
        .table_name("chat-dev-connections")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap()
        .table_description()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_foreign_table_with_data_is_never_replaced_or_deleted() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let dynamodb = emulator.dynamodb();
    // Someone else's table, of the wrong shape for chatctl, holding an item.
    let arn = someones_table(&emulator).await;
    dynamodb
        .put_item()
        .table_name("chat-dev-connections")
        .item("id", AttributeValue::S("precious".into()))
        .send()
        .await
        .unwrap();
    let project = lambda_project(&emulator, &binary);

    refused_and_left(
        &emulator,
        &project,
        "dynamodb table chat-dev-connections",
        &arn,
    )
    .await;

    let item = dynamodb
        .get_item()
        .table_name("chat-dev-connections")
        .key("id", AttributeValue::S("precious".into()))
        .send()
        .await
        .unwrap();
    assert!(item.item().is_some(), "the item is still there");
    let shape = dynamodb
        .describe_table()
        .table_name("chat-dev-connections")
        .send()
        .await
        .unwrap();
    assert_eq!(
        shape.table().unwrap().key_schema()[0].attribute_name(),
        "id"
    );
}

#[tokio::test]
async fn a_foreign_function_with_its_url_and_permission_is_left_alone() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let lambda = emulator.lambda();
    let (arn, sha) = someones_function(&emulator, "chat-dev-backend").await;
    lambda
        .create_function_url_config()
        .function_name("chat-dev-backend")
        .auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name("chat-dev-backend")
        .statement_id("someones-statement")
        .action("lambda:InvokeFunctionUrl")
        .principal("123456789012")
        .function_url_auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap();
    let project = lambda_project(&emulator, &binary);

    refused_and_left(
        &emulator,
        &project,
        "lambda function chat-dev-backend",
        &arn,
    )
    .await;

    let after = lambda
        .get_function()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    let configuration = after.configuration().unwrap();
    assert_eq!(configuration.code_sha256(), Some(sha.as_str()));
    assert_eq!(
        configuration.role(),
        Some("arn:aws:iam::123456789012:role/someones-chat-dev-backend-role")
    );
    let url = lambda
        .get_function_url_config()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    assert_eq!(url.auth_type().as_str(), "AWS_IAM");
    let policy = lambda
        .get_policy()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(
        policy.contains("someones-statement") && !policy.contains("chatctl"),
        "{policy}"
    );
}

#[tokio::test]
async fn a_foreign_backend_role_and_its_inline_policy_are_left_alone() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let iam = emulator.iam();
    let name = "chat-dev-eu-west-1-backend";
    let arn = foreign_role(&emulator, name, TRUST_LAMBDA).await;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("chat-dev-backend")
        .policy_document(SOMEONES_POLICY)
        .send()
        .await
        .unwrap();
    let project = lambda_project(&emulator, &binary);

    refused_and_left(&emulator, &project, &format!("iam role {name}"), &arn).await;

    let policy = iam
        .get_role_policy()
        .role_name(name)
        .policy_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    assert!(
        chatctl::resources::percent_decode(policy.policy_document()).contains("someones-bucket")
    );
}

#[tokio::test]
async fn a_foreign_logs_role_is_left_alone() {
    let emulator = Emulator::start().await;
    let name = "chat-dev-eu-west-1-apigw-logs";
    let arn = foreign_role(&emulator, name, TRUST_APIGW).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);

    refused_and_left(&emulator, &project, &format!("iam role {name}"), &arn).await;

    let attached = emulator
        .iam()
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap();
    assert!(
        attached.attached_policies().is_empty(),
        "nothing attached to it"
    );
    let account = emulator.apigateway().get_account().send().await.unwrap();
    assert_eq!(
        account.cloudwatch_role_arn().filter(|a| !a.is_empty()),
        None
    );
}

/// A log group someone else made (tagged for another stack, or not at all).
async fn someones_log_group(emulator: &Emulator, name: &str, tags: &[(&str, &str)]) -> String {
    let logs = emulator.logs();
    logs.create_log_group()
        .log_group_name(name)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .unwrap();
    groups.log_groups()[0]
        .arn()
        .unwrap()
        .trim_end_matches(":*")
        .to_owned()
}

async fn retention(emulator: &Emulator, name: &str) -> Option<i32> {
    let groups = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .unwrap();
    let group = groups
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .expect("the log group is still there");
    group.retention_in_days()
}

#[tokio::test]
async fn a_foreign_access_log_group_is_left_alone() {
    let emulator = Emulator::start().await;
    let name = "/chatctl/chat-dev/access";
    let arn = someones_log_group(&emulator, name, &[("chatctl:stack", "other-dev")]).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    refused_and_left(&emulator, &project, &format!("log group {name}"), &arn).await;
    assert_eq!(retention(&emulator, name).await, None);
}

#[tokio::test]
async fn a_foreign_function_log_group_is_left_alone() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let name = "/aws/lambda/chat-dev-backend";
    let arn = someones_log_group(&emulator, name, &[]).await;
    let project = lambda_project(&emulator, &binary);
    refused_and_left(&emulator, &project, &format!("log group {name}"), &arn).await;
    assert_eq!(retention(&emulator, name).await, None);
}

#[tokio::test]
async fn a_foreign_resource_the_configuration_does_not_need_is_only_left_alone() {
    let emulator = Emulator::start().await;
    // A table with the backend's name, while this stack's backend is not on Lambda.
    let arn = someones_table(&emulator).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    project.run(&["status"]).await.assert_code(0);
    let down = project.run(&["down", "--yes"]).await;
    down.assert_code(0);
    assert!(
        down.stdout
            .contains(&format!("left dynamodb table chat-dev-connections ({arn})")),
        "{}",
        down.stdout
    );
    assert!(
        emulator
            .dynamodb()
            .describe_table()
            .table_name("chat-dev-connections")
            .send()
            .await
            .is_ok()
    );
}

async fn account_role_in(emulator: &Emulator, region: &str) -> Option<String> {
    aws_sdk_apigateway::Client::new(&emulator.sdk_config_in(region))
        .get_account()
        .send()
        .await
        .unwrap()
        .cloudwatch_role_arn
        .filter(|a| !a.is_empty())
}

#[tokio::test]
async fn two_regions_of_one_stack_share_nothing() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let a = lambda_project(&emulator, &binary);
    let mut b = lambda_project(&emulator, &binary);
    b.set_env("CHATCTL_REGION", "us-east-1");

    a.run(&["up"]).await.assert_code(0);
    b.run(&["up"]).await.assert_code(0);
    let iam = emulator.iam();
    for region in [REGION, "us-east-1"] {
        let role = account_role_in(&emulator, region).await.unwrap();
        assert!(
            role.ends_with(&format!("role/chat-dev-{region}-apigw-logs")),
            "{role}"
        );
        let policy = iam
            .get_role_policy()
            .role_name(format!("chat-dev-{region}-backend"))
            .policy_name("chat-dev-backend")
            .send()
            .await
            .unwrap();
        let document = chatctl::resources::percent_decode(policy.policy_document());
        assert!(
            document.contains(&format!("arn:aws:dynamodb:{region}:")),
            "each region's role serves its own table: {document}"
        );
    }

    let down = b.run(&["down", "--yes"]).await;
    down.assert_code(0);
    assert_eq!(account_role_in(&emulator, "us-east-1").await, None);
    for gone in [
        "chat-dev-us-east-1-apigw-logs",
        "chat-dev-us-east-1-backend",
    ] {
        assert!(
            iam.get_role().role_name(gone).send().await.is_err(),
            "{gone}"
        );
    }

    // Region A is untouched: nothing missing or drifted, and its account setting names a
    // role that exists and trusts API Gateway.
    let status = a.run(&["status"]).await;
    status.assert_code(0);
    let role_arn = account_role_in(&emulator, REGION).await.unwrap();
    let name = role_arn.rsplit('/').next().unwrap();
    let role = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = chatctl::resources::percent_decode(role.assume_role_policy_document().unwrap());
    assert!(trust.contains("apigateway.amazonaws.com"), "{trust}");
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_arn() == Some(LOGS_POLICY))
    );
    emulator.clear_calls().await;
    a.run(&["up"]).await.assert_code(0);
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

/// Turns a stack deployed by this version into what chatctl deployed before resources
/// carried the region tag: roles named `{stack}-backend` and `{stack}-apigw-logs`, tagged
/// for the stack alone, every other resource without the region tag, and the function's log
/// group made by Lambda (no tags, no retention).
async fn as_deployed_before_region_tags(emulator: &Emulator) {
    let iam = emulator.iam();
    let lambda = emulator.lambda();
    let logs = emulator.logs();
    let stack_tag = || {
        aws_sdk_iam::types::Tag::builder()
            .key("chatctl:stack")
            .value("chat-dev")
            .build()
            .unwrap()
    };
    // The backend role, with the policy the current role has.
    let policy = iam
        .get_role_policy()
        .role_name("chat-dev-eu-west-1-backend")
        .policy_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    let document = chatctl::resources::percent_decode(policy.policy_document());
    let backend = iam
        .create_role()
        .role_name("chat-dev-backend")
        .assume_role_policy_document(TRUST_LAMBDA)
        .tags(stack_tag())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    iam.put_role_policy()
        .role_name("chat-dev-backend")
        .policy_name("chat-dev-backend")
        .policy_document(document)
        .send()
        .await
        .unwrap();
    lambda
        .update_function_configuration()
        .function_name("chat-dev-backend")
        .role(&backend)
        .send()
        .await
        .unwrap();
    // The logs role, named by the account setting.
    let logs_role = iam
        .create_role()
        .role_name("chat-dev-apigw-logs")
        .assume_role_policy_document(TRUST_APIGW)
        .tags(stack_tag())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    iam.attach_role_policy()
        .role_name("chat-dev-apigw-logs")
        .policy_arn(LOGS_POLICY)
        .send()
        .await
        .unwrap();
    emulator
        .apigateway()
        .update_account()
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/cloudwatchRoleArn")
                .value(&logs_role)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The region-scoped roles never existed.
    iam.delete_role_policy()
        .role_name("chat-dev-eu-west-1-backend")
        .policy_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    iam.delete_role()
        .role_name("chat-dev-eu-west-1-backend")
        .send()
        .await
        .unwrap();
    iam.detach_role_policy()
        .role_name("chat-dev-eu-west-1-apigw-logs")
        .policy_arn(LOGS_POLICY)
        .send()
        .await
        .unwrap();
    iam.delete_role()
        .role_name("chat-dev-eu-west-1-apigw-logs")
        .send()
        .await
        .unwrap();
    // No region tags anywhere.
    let table = emulator
        .dynamodb()
        .describe_table()
        .table_name("chat-dev-connections")
        .send()
        .await
        .unwrap();
    emulator
        .dynamodb()
        .untag_resource()
        .resource_arn(table.table().unwrap().table_arn().unwrap())
        .tag_keys("chatctl:region")
        .send()
        .await
        .unwrap();
    let function = lambda
        .get_function()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    lambda
        .untag_resource()
        .resource(function.configuration().unwrap().function_arn().unwrap())
        .tag_keys("chatctl:region")
        .send()
        .await
        .unwrap();
    for (group, keys) in [
        ("/chatctl/chat-dev/access", &["chatctl:region"][..]),
        (
            "/aws/lambda/chat-dev-backend",
            &["chatctl:region", "chatctl:stack"],
        ),
    ] {
        let described = logs
            .describe_log_groups()
            .log_group_name_prefix(group)
            .send()
            .await
            .unwrap();
        let arn = described.log_groups()[0]
            .arn()
            .unwrap()
            .trim_end_matches(":*")
            .to_owned();
        logs.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.iter().map(|k| (*k).to_owned()).collect()))
            .send()
            .await
            .unwrap();
    }
    logs.delete_retention_policy()
        .log_group_name("/aws/lambda/chat-dev-backend")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stack_deployed_before_region_tags_keeps_working_without_migration() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let project = lambda_project(&emulator, &binary);
    project.run(&["up"]).await.assert_code(0);
    as_deployed_before_region_tags(&emulator).await;

    // Only the function's log group differs: Lambda made it without tags or retention.
    let status = project.run(&["status", "--output", "json"]).await;
    status.assert_code(2);
    let drifted: Vec<String> = status.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "present")
        .map(|r| format!("{} {} {}", r["state"], r["kind"], r["name"]))
        .collect();
    assert_eq!(
        drifted,
        [r#""drifted" "log group" "/aws/lambda/chat-dev-backend""#],
        "{}",
        status.stdout
    );
    emulator.clear_calls().await;
    let up = project.run(&["up"]).await;
    up.assert_code(0);
    let writes: Vec<String> = emulator
        .writes()
        .await
        .into_iter()
        .filter(|w| !w.contains("LogStream") && !w.contains("PutLogEvents"))
        .collect();
    assert_eq!(
        writes,
        [
            "logs:CreateLogGroup",
            "logs:TagResource",
            "logs:PutRetentionPolicy",
            "logs:DeleteLogGroup"
        ],
        "the lock, then tags and retention for the function's log group; no role is renamed:\n{}",
        up.stderr
    );
    project.run(&["status"]).await.assert_code(0);
    let function = emulator
        .lambda()
        .get_function()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    assert!(
        function
            .configuration()
            .unwrap()
            .role()
            .unwrap()
            .ends_with("role/chat-dev-backend")
    );

    // `down` removes the adopted roles too, and clears the setting that named one.
    project.run(&["down", "--yes"]).await.assert_code(0);
    let iam = emulator.iam();
    for gone in ["chat-dev-backend", "chat-dev-apigw-logs"] {
        assert!(
            iam.get_role().role_name(gone).send().await.is_err(),
            "{gone}"
        );
    }
    assert_eq!(account_role_in(&emulator, REGION).await, None);
}

fn http_backend_of(project: &Project) {
    std::fs::write(project.path().join("chatctl.toml"), HTTP_BACKEND_TOML).unwrap();
}

#[tokio::test]
async fn switching_the_backend_kind_needs_consent_and_the_summary_counts_the_deletions() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let mut project = lambda_project(&emulator, &binary);
    project.run(&["up"]).await.assert_code(0);
    http_backend_of(&project);
    project.set_env("CHATCTL_BACKEND_SECRET", support::SECRET);

    let plan = project.run(&["plan"]).await;
    plan.assert_code(2);
    assert!(
        plan.stdout
            .contains("- delete  lambda function chat-dev-backend")
            && plan
                .stdout
                .contains("data lost: dynamodb table chat-dev-connections"),
        "{}",
        plan.stdout
    );

    emulator.clear_calls().await;
    let refused = project.run(&["up"]).await;
    refused.assert_code(1);
    for named in [
        "refusing to delete or replace without confirmation",
        "- delete  lambda function chat-dev-backend",
        "- delete  dynamodb table chat-dev-connections — data lost: its items",
        "- delete  iam role chat-dev-eu-west-1-backend",
        "- delete  log group /aws/lambda/chat-dev-backend",
        "chatctl up --yes",
    ] {
        assert!(
            refused.stderr.contains(named),
            "{named}:\n{}",
            refused.stderr
        );
    }
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    let applied = project.run(&["up", "--yes"]).await;
    applied.assert_code(0);
    assert!(
        applied.stdout.contains("4 deleted)")
            && applied
                .stdout
                .contains("data deleted: dynamodb table chat-dev-connections"),
        "{}",
        applied.stdout
    );
    assert!(
        emulator
            .lambda()
            .get_function()
            .function_name("chat-dev-backend")
            .send()
            .await
            .is_err()
    );
    project.run(&["status"]).await.assert_code(0);
}

/// Runs chatctl on a terminal (util-linux `script` gives it one), typing `answer`.
async fn on_a_terminal(project: &Project, args: &str, answer: &str) -> Run {
    let started = std::time::Instant::now();
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_chatctl"));
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(project.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(project.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The question comes after the plan is read: answer once it is asked.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    stdin.write_all(answer.as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        child.wait_with_output(),
    )
    .await
    .unwrap()
    .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

#[tokio::test]
async fn a_replaced_table_is_confirmed_on_a_terminal_and_counted_as_delete_and_create() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let project = lambda_project(&emulator, &binary);
    project.run(&["up"]).await.assert_code(0);
    // The table loses its name index behind chatctl's back: it must be replaced.
    emulator
        .dynamodb()
        .update_table()
        .table_name("chat-dev-connections")
        .global_secondary_index_updates(
            aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                .delete(
                    aws_sdk_dynamodb::types::DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("byName")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = project.run(&["plan"]).await;
    plan.assert_code(2);
    assert!(
        plan.stdout
            .contains("± replace dynamodb table chat-dev-connections")
            && plan
                .stdout
                .contains("1 to create, 0 to update, 1 to delete (1 replaced")
            && plan
                .stdout
                .contains("data lost: dynamodb table chat-dev-connections"),
        "{}",
        plan.stdout
    );

    emulator.clear_calls().await;
    let declined = on_a_terminal(&project, "up", "n\n").await;
    declined.assert_code(1);
    assert!(
        declined.stdout.contains("Apply it? [y/N]")
            && declined.stdout.contains("cancelled: nothing was changed"),
        "{}",
        declined.stdout
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    let accepted = on_a_terminal(&project, "up", "y\n").await;
    accepted.assert_code(0);
    assert!(
        accepted
            .stdout
            .contains("(1 created, 0 updated, 1 deleted)")
            && accepted.stdout.contains("1 replaced")
            && accepted
                .stdout
                .contains("data deleted: dynamodb table chat-dev-connections"),
        "{}",
        accepted.stdout
    );
    project.run(&["status"]).await.assert_code(0);
}

/// The default stack with sign-in: the Lambda backend and a Cognito user pool.
fn cognito_project(emulator: &Emulator, binary: &[u8]) -> Project {
    let mut project = Project::new(
        emulator,
        &format!("{LAMBDA_TOML}\n[auth]\nprovider = \"cognito\"\n"),
    );
    project.remove_env("CHATCTL_BACKEND_SECRET");
    write_zip(&project, binary);
    project
}

#[tokio::test]
async fn a_foreign_authorizer_function_is_left_alone() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let (arn, sha) = someones_function(&emulator, "chat-dev-authorizer").await;
    let project = cognito_project(&emulator, &binary);
    refused_and_left(
        &emulator,
        &project,
        "lambda function chat-dev-authorizer",
        &arn,
    )
    .await;
    assert_eq!(
        emulator
            .deployed_code_sha("chat-dev-authorizer")
            .await
            .as_deref(),
        Some(sha.as_str())
    );
}

#[tokio::test]
async fn someone_elses_user_pool_of_the_stack_s_name_is_never_touched() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let cognito = emulator.cognito();
    let theirs = cognito
        .create_user_pool()
        .pool_name("chat-dev")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let their_id = theirs.id().unwrap().to_owned();
    cognito
        .admin_create_user()
        .user_pool_id(&their_id)
        .username("their-user")
        .send()
        .await
        .unwrap();
    let project = cognito_project(&emulator, &binary);
    project.run(&["up"]).await.assert_code(0);
    // The stack made a pool of its own, with the same name and its tags.
    let pools = cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    let named: Vec<&str> = pools
        .user_pools()
        .iter()
        .filter(|p| p.name() == Some("chat-dev"))
        .map(|p| p.id().unwrap())
        .collect();
    assert_eq!(named.len(), 2, "{named:?}");
    project.run(&["down", "--yes"]).await.assert_code(0);
    // Theirs is still there, with its user, and without a domain of chatctl's.
    let left = cognito
        .describe_user_pool()
        .user_pool_id(&their_id)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    assert!(left.domain().is_none());
    let users = cognito
        .list_users()
        .user_pool_id(&their_id)
        .send()
        .await
        .unwrap();
    assert_eq!(users.users().len(), 1);
    let pools = cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    assert_eq!(pools.user_pools().len(), 1);
}
