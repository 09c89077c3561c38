//! End to end: `up`, `status`, `plan`, `down` against the cloud emulator, read back through
//! the AWS SDK (never through chatctl's own status).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::{Emulator, HTTP_BACKEND_TOML, Project, REGION, SECRET, TRUST_APIGW, foreign_role};

const LOGS_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs";

async fn account_role(emulator: &Emulator) -> Option<String> {
    emulator
        .apigateway()
        .get_account()
        .send()
        .await
        .unwrap()
        .cloudwatch_role_arn
        .filter(|a| !a.is_empty())
}

/// Checks every setting of a converged stack through the SDK.
async fn assert_stack_complete(emulator: &Emulator) {
    let iam = emulator.iam();
    let role = iam
        .get_role()
        .role_name("chat-dev-eu-west-1-apigw-logs")
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let attached = iam
        .list_attached_role_policies()
        .role_name("chat-dev-eu-west-1-apigw-logs")
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_arn() == Some(LOGS_POLICY))
    );
    assert_eq!(account_role(emulator).await.as_deref(), Some(role.arn()));

    let v2 = emulator.apigatewayv2();
    let api_id = emulator.the_api_id("chat-dev").await;
    let api = v2.get_api().api_id(&api_id).send().await.unwrap();
    assert_eq!(
        api.route_selection_expression(),
        Some("$request.body.action")
    );
    assert!(api.api_endpoint().unwrap().starts_with("wss://"));

    let integrations = v2.get_integrations().api_id(&api_id).send().await.unwrap();
    assert_eq!(integrations.items().len(), 5);
    let mut by_id = HashMap::new();
    for integration in integrations.items() {
        assert_eq!(integration.integration_type().unwrap().as_str(), "HTTP");
        assert_eq!(integration.integration_method(), Some("POST"));
        let uri = integration.integration_uri().unwrap();
        // The scheme literal, the host from the stage variable (AWS's documented form).
        assert!(
            uri.starts_with("https://${stageVariables.backendHost}/"),
            "{uri}"
        );
        let params = integration.request_parameters().unwrap();
        assert_eq!(
            params["integration.request.header.x-connection-id"],
            "context.connectionId"
        );
        assert_eq!(
            params["integration.request.header.x-route-key"],
            "context.routeKey"
        );
        assert_eq!(
            params["integration.request.header.x-chat-secret"],
            "stageVariables.backendSecret"
        );
        let id = integration.integration_id().unwrap();
        let responses = v2
            .get_integration_responses()
            .api_id(&api_id)
            .integration_id(id)
            .send()
            .await
            .unwrap();
        let keys: Vec<_> = responses
            .items()
            .iter()
            .map(|r| r.integration_response_key().unwrap())
            .collect();
        assert_eq!(keys, ["$default"], "integration {uri}");
        by_id.insert(id.to_owned(), integration.clone());
    }

    let routes = v2.get_routes().api_id(&api_id).send().await.unwrap();
    let mut keys: Vec<_> = routes
        .items()
        .iter()
        .map(|r| r.route_key().unwrap().to_owned())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["$connect", "$default", "$disconnect", "sendmessage", "who"]
    );
    for route in routes.items() {
        let key = route.route_key().unwrap();
        let target = route
            .target()
            .unwrap()
            .strip_prefix("integrations/")
            .unwrap();
        let integration = &by_id[target];
        let params = integration.request_parameters().unwrap();
        assert_eq!(
            params
                .get("integration.request.header.x-chat-name")
                .map(String::as_str),
            (key == "$connect").then_some("route.request.querystring.name"),
            "name mapping on {key}"
        );
        // The route declares what its integration maps from the request (optional).
        let declared: Vec<(String, Option<bool>)> = route
            .request_parameters()
            .map(|p| p.iter().map(|(k, c)| (k.clone(), c.required())).collect())
            .unwrap_or_default();
        assert_eq!(
            declared,
            if key == "$connect" {
                vec![("route.request.querystring.name".to_owned(), Some(false))]
            } else {
                vec![]
            },
            "declared parameters of {key}"
        );
        let responses = v2
            .get_route_responses()
            .api_id(&api_id)
            .route_id(route.route_id().unwrap())
            .send()
            .await
            .unwrap();
        let response_keys: Vec<_> = responses
            .items()
            .iter()
            .map(|r| r.route_response_key().unwrap())
            .collect();
        let two_way = matches!(key, "$default" | "sendmessage" | "who");
        assert_eq!(
            response_keys,
            if two_way { vec!["$default"] } else { vec![] },
            "route responses of {key}"
        );
    }

    let stage = v2
        .get_stage()
        .api_id(&api_id)
        .stage_name("dev")
        .send()
        .await
        .unwrap();
    assert_eq!(stage.auto_deploy(), Some(true));
    let settings = stage.default_route_settings().unwrap();
    assert_eq!(settings.throttling_burst_limit(), Some(100));
    assert_eq!(settings.throttling_rate_limit(), Some(50.0));
    assert_eq!(settings.logging_level().unwrap().as_str(), "INFO");
    let variables = stage.stage_variables().unwrap();
    let mut names: Vec<&str> = variables.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["backendHost", "backendSecret"],
        "no stale stage variable"
    );
    assert_eq!(variables["backendHost"], "chat-backend.example.com");
    assert_eq!(variables["backendSecret"], SECRET);
    // API Gateway deployed the stack: the stage serves the newest deployment.
    let deployment = stage.deployment_id().expect("a deployment");
    assert_eq!(
        stage.last_deployment_status_message(),
        Some(format!("Successfully deployed stage with deployment ID '{deployment}'").as_str())
    );
    let execution_logs = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix(format!("API-Gateway-Execution-Logs_{api_id}/dev"))
        .send()
        .await
        .unwrap();
    let groups = execution_logs.log_groups();
    assert_eq!(groups.len(), 1, "the execution-log group exists");
    assert_eq!(groups[0].retention_in_days(), Some(30));
    let access = stage.access_log_settings().unwrap();
    assert!(
        access
            .destination_arn()
            .unwrap()
            .ends_with("log-group:/chatctl/chat-dev/access")
    );
    let access_group = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/chatctl/chat-dev/access")
        .send()
        .await
        .unwrap();
    assert_eq!(access_group.log_groups()[0].retention_in_days(), Some(30));
}

#[tokio::test]
async fn fresh_up_creates_everything_and_a_second_up_writes_nothing() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);

    let run = project.run(&["up", "--output", "json"]).await;
    run.assert_code(0);
    let result = run.json();
    let api_id = emulator.the_api_id("chat-dev").await;
    assert_eq!(
        result["outputs"]["websocket_url"],
        format!("wss://{api_id}.execute-api.{REGION}.amazonaws.com/dev")
    );
    assert_eq!(
        result["outputs"]["callback_url"],
        format!("https://{api_id}.execute-api.{REGION}.amazonaws.com/dev")
    );
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "the secret leaked"
    );
    assert_stack_complete(&emulator).await;
    // The lock is released.
    let groups = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/chatctl/chat-dev/lock")
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty());

    emulator.clear_calls().await;
    let second = project.run(&["up"]).await;
    second.assert_code(0);
    assert!(second.stdout.contains("up to date"), "{}", second.stdout);
    assert_eq!(emulator.writes().await, Vec::<String>::new());
    let reads = emulator.calls().await.len();
    // 25 resources (role, attachment, account, api, 5×integration, 5×integration response,
    // 5×route, 3×route response, access and execution log groups, stage): at most one read
    // each.
    assert!(reads <= 25, "{reads} reads for a no-op up");

    let status = project.run(&["status"]).await;
    status.assert_code(0);
    assert!(status.stdout.contains(&format!(
        "wss://{api_id}.execute-api.{REGION}.amazonaws.com/dev"
    )));
    assert!(status.stdout.contains(&format!(
        "https://{api_id}.execute-api.{REGION}.amazonaws.com/dev"
    )));
    project.run(&["plan"]).await.assert_code(0);
}

#[tokio::test]
async fn drift_is_reported_by_status_and_plan_and_repaired_by_up() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    let v2 = emulator.apigatewayv2();
    let api_id = emulator.the_api_id("chat-dev").await;

    // Behind chatctl's back: a zero burst limit and a deleted route.
    v2.update_stage()
        .api_id(&api_id)
        .stage_name("dev")
        .default_route_settings(
            aws_sdk_apigatewayv2::types::RouteSettings::builder()
                .throttling_burst_limit(0)
                .throttling_rate_limit(50.0)
                .logging_level(aws_sdk_apigatewayv2::types::LoggingLevel::Info)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let routes = v2.get_routes().api_id(&api_id).send().await.unwrap();
    let who = routes
        .items()
        .iter()
        .find(|r| r.route_key() == Some("who"))
        .unwrap();
    v2.delete_route()
        .api_id(&api_id)
        .route_id(who.route_id().unwrap())
        .send()
        .await
        .unwrap();

    let status = project.run(&["status"]).await;
    status.assert_code(2);
    assert!(
        status.stdout.contains("missing  route who"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("drifted  stage dev"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("throttling_burst_limit: 0 → 100"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("zero throttling limit"),
        "{}",
        status.stdout
    );

    let plan = project.run(&["plan"]).await;
    plan.assert_code(2);
    assert!(
        plan.stdout.contains("+ create  route who"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("~ update  stage dev"),
        "{}",
        plan.stdout
    );

    let json_status = project.run(&["status", "--output", "json"]).await;
    json_status.assert_code(2);
    let resources = json_status.json()["resources"].as_array().unwrap().clone();
    assert!(
        resources
            .iter()
            .any(|r| r["kind"] == "route" && r["name"] == "who" && r["state"] == "missing")
    );

    project.run(&["up"]).await.assert_code(0);
    project.run(&["status"]).await.assert_code(0);
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn down_removes_everything_and_is_a_no_op_afterwards() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);

    let refused = project.run(&["down"]).await;
    refused.assert_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        emulator.stack_apis("chat-dev").await.len(),
        1,
        "nothing deleted without --yes"
    );

    project.run(&["down", "--yes"]).await.assert_code(0);
    assert!(emulator.stack_apis("chat-dev").await.is_empty());
    assert!(
        emulator
            .iam()
            .get_role()
            .role_name("chat-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        account_role(&emulator).await,
        None,
        "the setting named our role: cleared"
    );
    // No log group of the stack remains, the one API Gateway made for the stage included.
    let groups = emulator.logs().describe_log_groups().send().await.unwrap();
    assert!(groups.log_groups().is_empty(), "{:?}", groups.log_groups());

    emulator.clear_calls().await;
    let again = project.run(&["down", "--yes"]).await;
    again.assert_code(0);
    assert!(
        again.stdout.contains("nothing to delete"),
        "{}",
        again.stdout
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());
    project.run(&["status"]).await.assert_code(2);
}

/// Points the account's CloudWatch Logs setting at `arn`, as another tool would.
async fn set_account_role(emulator: &Emulator, arn: &str) {
    emulator
        .apigateway()
        .update_account()
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/cloudwatchRoleArn")
                .value(arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_working_foreign_account_role_is_kept_and_left_alone_by_down() {
    let emulator = Emulator::start().await;
    let iam = emulator.iam();
    let theirs = foreign_role(&emulator, "team-apigw-logs", TRUST_APIGW).await;
    set_account_role(&emulator, &theirs).await;

    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    let up = project.run(&["up"]).await;
    up.assert_code(0);
    assert_eq!(
        account_role(&emulator).await.as_deref(),
        Some(theirs.as_str())
    );
    assert!(
        iam.get_role()
            .role_name("chat-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_err(),
        "no role of ours needed"
    );

    project.run(&["down", "--yes"]).await.assert_code(0);
    assert_eq!(
        account_role(&emulator).await.as_deref(),
        Some(theirs.as_str())
    );
    assert!(
        iam.get_role()
            .role_name("team-apigw-logs")
            .send()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_broken_foreign_role_is_replaced_and_restored_by_down_once_it_works() {
    let emulator = Emulator::start().await;
    let iam = emulator.iam();
    let theirs = foreign_role(&emulator, "old-apigw-logs", TRUST_APIGW).await;
    set_account_role(&emulator, &theirs).await;
    // The owner changes the trust policy so API Gateway can no longer assume it.
    iam.update_assume_role_policy()
        .role_name("old-apigw-logs")
        .policy_document(TRUST_APIGW.replace("apigateway", "lambda"))
        .send()
        .await
        .unwrap();

    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    let ours = account_role(&emulator).await.unwrap();
    assert!(
        ours.ends_with("role/chat-dev-eu-west-1-apigw-logs"),
        "{ours}"
    );

    // The owner repairs their role; down points the setting back at it.
    iam.update_assume_role_policy()
        .role_name("old-apigw-logs")
        .policy_document(TRUST_APIGW)
        .send()
        .await
        .unwrap();
    project.run(&["down", "--yes"]).await.assert_code(0);
    assert_eq!(
        account_role(&emulator).await.as_deref(),
        Some(theirs.as_str())
    );
    assert!(
        iam.get_role()
            .role_name("chat-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_replaced_role_that_is_still_broken_is_not_restored() {
    let emulator = Emulator::start().await;
    let iam = emulator.iam();
    let theirs = foreign_role(
        &emulator,
        "old-apigw-logs",
        &TRUST_APIGW.replace("apigateway", "lambda"),
    )
    .await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    // Record it as the setting chatctl replaced, as a first `up` would have.
    project.run(&["up"]).await.assert_code(0);
    iam.tag_role()
        .role_name("chat-dev-eu-west-1-apigw-logs")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("chatctl:previous-cloudwatch-role")
                .value(&theirs)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    project.run(&["down", "--yes"]).await.assert_code(0);
    assert_eq!(account_role(&emulator).await, None);
}

#[tokio::test]
async fn transient_faults_are_ridden_out() {
    let emulator = Emulator::start().await;
    emulator
        .fault(json!([
            {"operation": "UpdateAccount", "count": 4, "status": 400, "code": "BadRequestException",
             "message": "The role ARN does not have required permissions set to API Gateway"},
            {"operation": "CreateRoute", "count": 2, "status": 429, "code": "TooManyRequestsException", "message": "Too Many Requests"},
            {"operation": "CreateIntegration", "count": 1, "status": 500, "code": "InternalServerError", "message": "boom"},
            {"operation": "CreateStage", "count": 1, "status": 409, "code": "ConflictException",
             "message": "Unable to complete operation due to concurrent modification. Please try again later."}
        ]))
        .await;
    emulator.fault(json!({"role_propagation_s": 1})).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    let run = project.run(&["up"]).await;
    run.assert_code(0);
    assert!(run.stderr.contains("retrying"), "{}", run.stderr);
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn a_fault_that_never_clears_fails_clearly_and_the_next_up_finishes() {
    let emulator = Emulator::start().await;
    emulator
        .fault(json!({"operation": "UpdateAccount", "count": -1, "status": 400, "code": "BadRequestException",
                      "message": "The role ARN does not have required permissions set to API Gateway"}))
        .await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    let failed = project.run(&["up"]).await;
    failed.assert_code(1);
    // 2 minutes of propagation retries, scaled by CHATCTL_RETRY_SCALE=0.05.
    assert!(
        failed.elapsed < Duration::from_secs(30),
        "{:?}",
        failed.elapsed
    );
    assert!(
        failed
            .stderr
            .contains("setting the API Gateway CloudWatch Logs role")
            && failed
                .stderr
                .contains("The role ARN does not have required permissions"),
        "{}",
        failed.stderr
    );
    // The lock was released despite the failure.
    let groups = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/chatctl/chat-dev/lock")
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty());

    emulator.clear_faults().await;
    project.run(&["up"]).await.assert_code(0);
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn a_run_killed_mid_up_is_finished_by_the_next() {
    let emulator = Emulator::start().await;
    emulator.fault(json!({"latency_ms": 40})).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    // Kill at several points of the apply: each time the next run must converge.
    for kill_after_ms in [350, 500, 650] {
        let mut child = project.command(&["up"]).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        child.start_kill().unwrap(); // SIGKILL
        let _ = child.wait().await;
    }
    let run = project.run(&["up"]).await;
    run.assert_code(0);
    emulator.clear_faults().await;
    assert_stack_complete(&emulator).await;
    project.run(&["status"]).await.assert_code(0);
}

#[tokio::test]
async fn concurrent_ups_create_one_api() {
    let emulator = Emulator::start().await;
    emulator.fault(json!({"latency_ms": 20})).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    let (a, b) = tokio::join!(project.run(&["up"]), project.run(&["up"]));
    a.assert_code(0);
    b.assert_code(0);
    assert_eq!(emulator.stack_apis("chat-dev").await.len(), 1);
    emulator.clear_faults().await;
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn down_removes_duplicates_tagged_for_the_stack() {
    let emulator = Emulator::start().await;
    // One API per page: the stack's APIs are found across GetApis pages.
    emulator.fault(json!({"page_size": 1})).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    // What a run killed right after CreateApi's response was lost would leave behind.
    emulator
        .apigatewayv2()
        .create_api()
        .name("chat-dev")
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Websocket)
        .route_selection_expression("$request.body.action")
        .tags("chatctl:stack", "chat-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(emulator.stack_apis("chat-dev").await.len(), 2);
    let plan = project.run(&["plan"]).await;
    plan.assert_code(2);
    assert!(plan.stdout.contains("duplicate"), "{}", plan.stdout);
    project.run(&["down", "--yes"]).await.assert_code(0);
    assert!(emulator.stack_apis("chat-dev").await.is_empty());
}

#[tokio::test]
async fn two_stacks_share_the_account_role_and_the_last_one_down_removes_it() {
    let emulator = Emulator::start().await;
    let first = Project::new(&emulator, HTTP_BACKEND_TOML);
    let second = Project::new(
        &emulator,
        &HTTP_BACKEND_TOML.replace("name = \"chat\"", "name = \"other\""),
    );
    first.run(&["up"]).await.assert_code(0);
    let role = account_role(&emulator).await.unwrap();
    assert!(
        role.ends_with("role/chat-dev-eu-west-1-apigw-logs"),
        "{role}"
    );
    // The second stack logs through the first stack's working role: it creates none.
    second.run(&["up"]).await.assert_code(0);
    assert_eq!(
        account_role(&emulator).await.as_deref(),
        Some(role.as_str())
    );
    let iam = emulator.iam();
    assert!(
        iam.get_role()
            .role_name("other-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_err()
    );

    // The first stack goes; its role and the setting stay for the second.
    let down = first.run(&["down", "--yes"]).await;
    down.assert_code(0);
    assert!(down.stderr.contains("other-dev"), "{}", down.stderr);
    assert_eq!(
        account_role(&emulator).await.as_deref(),
        Some(role.as_str())
    );
    assert!(
        iam.get_role()
            .role_name("chat-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_ok()
    );

    // The last stack in the region releases the setting and deletes the role left for it.
    second.run(&["down", "--yes"]).await.assert_code(0);
    assert_eq!(account_role(&emulator).await, None);
    assert!(
        iam.get_role()
            .role_name("chat-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_err()
    );
}

/// The `$connect` route of the stack's API.
async fn connect_route(emulator: &Emulator, api_id: &str) -> aws_sdk_apigatewayv2::types::Route {
    let routes = emulator
        .apigatewayv2()
        .get_routes()
        .api_id(api_id)
        .send()
        .await
        .unwrap();
    routes
        .items()
        .iter()
        .find(|r| r.route_key() == Some("$connect"))
        .unwrap()
        .clone()
}

async fn stage_of(
    emulator: &Emulator,
    api_id: &str,
) -> aws_sdk_apigatewayv2::operation::get_stage::GetStageOutput {
    emulator
        .apigatewayv2()
        .get_stage()
        .api_id(api_id)
        .stage_name("dev")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failing_auto_deployment_fails_up_shows_in_status_and_the_next_up_deploys() {
    let emulator = Emulator::start().await;
    // API Gateway cannot deploy anything (an AWS-side failure): every change is accepted,
    // yet the stage never gets a deployment.
    let reason = "Execution failed due to configuration error: Invalid endpoint address";
    emulator.fault(json!({"deployment_failure": reason})).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    let up = project.run(&["up"]).await;
    up.assert_code(1);
    assert!(
        up.stderr.contains(&format!(
            "stage dev did not deploy: Deployment attempt failed: {reason}"
        )),
        "{}",
        up.stderr
    );

    let status = project.run(&["status"]).await;
    status.assert_code(2);
    assert!(
        status.stdout.contains("drifted  deployment dev")
            && status.stdout.contains(&format!(
                "last_deployment: Deployment attempt failed: {reason} → deployed"
            )),
        "{}",
        status.stdout
    );

    // The cause is fixed: the next up deploys the stage again.
    emulator.clear_faults().await;
    let again = project.run(&["up"]).await;
    again.assert_code(0);
    assert!(
        again.stderr.contains("deploy  stage dev"),
        "{}",
        again.stderr
    );
    project.run(&["status"]).await.assert_code(0);
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn an_undeclared_route_parameter_fails_the_deployment_until_up_declares_it() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    let api_id = emulator.the_api_id("chat-dev").await;
    // Behind chatctl's back, the old definition: $connect maps the name it does not declare.
    let connect = connect_route(&emulator, &api_id).await;
    emulator
        .apigatewayv2()
        .delete_route_request_parameter()
        .api_id(&api_id)
        .route_id(connect.route_id().unwrap())
        .request_parameter_key("route.request.querystring.name")
        .send()
        .await
        .unwrap();
    let failed = stage_of(&emulator, &api_id).await;
    let message = failed.last_deployment_status_message().unwrap().to_owned();
    assert!(
        message.starts_with("Deployment attempt failed: ")
            && message.contains("route.request.querystring.name"),
        "{message}"
    );

    let status = project.run(&["status"]).await;
    status.assert_code(2);
    assert!(
        status.stdout.contains("drifted  route $connect"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains(&message), "{}", status.stdout);

    project.run(&["up"]).await.assert_code(0);
    let repaired = stage_of(&emulator, &api_id).await;
    assert!(
        repaired
            .last_deployment_status_message()
            .unwrap()
            .starts_with("Successfully deployed stage"),
        "{repaired:?}"
    );
    assert_ne!(repaired.deployment_id(), failed.deployment_id());
    project.run(&["status"]).await.assert_code(0);
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn stale_stage_variables_and_request_parameters_are_removed_and_the_next_plan_is_empty() {
    let emulator = Emulator::start().await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    let api_id = emulator.the_api_id("chat-dev").await;
    let v2 = emulator.apigatewayv2();
    // What an earlier definition deployed: a variable, a mapping and a route parameter
    // today's definition no longer has.
    v2.update_stage()
        .api_id(&api_id)
        .stage_name("dev")
        .stage_variables("backendUrl", "https://chat-backend.example.com")
        .send()
        .await
        .unwrap();
    let connect = connect_route(&emulator, &api_id).await;
    let integration_id = connect
        .target()
        .unwrap()
        .strip_prefix("integrations/")
        .unwrap()
        .to_owned();
    v2.update_integration()
        .api_id(&api_id)
        .integration_id(&integration_id)
        .request_parameters(
            "integration.request.header.x-old-token",
            "route.request.querystring.token",
        )
        .send()
        .await
        .unwrap();
    v2.update_route()
        .api_id(&api_id)
        .route_id(connect.route_id().unwrap())
        .request_parameters(
            "route.request.querystring.token",
            aws_sdk_apigatewayv2::types::ParameterConstraints::builder()
                .required(false)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let plan = project.run(&["plan"]).await;
    plan.assert_code(2);
    for stale in [
        "stage_variables.backendUrl: https://chat-backend.example.com → (none)",
        "integration.request.header.x-old-token",
        "route.request.querystring.token",
    ] {
        assert!(plan.stdout.contains(stale), "{stale}: {}", plan.stdout);
    }

    project.run(&["up"]).await.assert_code(0);
    let variables = stage_of(&emulator, &api_id).await.stage_variables.unwrap();
    assert!(!variables.contains_key("backendUrl"), "{variables:?}");
    let integration = v2
        .get_integration()
        .api_id(&api_id)
        .integration_id(&integration_id)
        .send()
        .await
        .unwrap();
    assert!(
        !integration
            .request_parameters()
            .unwrap()
            .contains_key("integration.request.header.x-old-token"),
        "{integration:?}"
    );
    let declared = connect_route(&emulator, &api_id).await;
    assert_eq!(
        declared
            .request_parameters()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["route.request.querystring.name"]
    );
    emulator.clear_calls().await;
    project.run(&["plan"]).await.assert_code(0);
    assert_stack_complete(&emulator).await;
}

#[tokio::test]
async fn the_execution_log_group_api_gateway_made_gets_the_retention_and_down_removes_it() {
    let emulator = Emulator::start().await;
    let project = Project::new(
        &emulator,
        &HTTP_BACKEND_TOML.replace(
            "logging_level = \"INFO\"",
            "logging_level = \"INFO\"\nlog_retention_days = 7",
        ),
    );
    project.run(&["up"]).await.assert_code(0);
    let api_id = emulator.the_api_id("chat-dev").await;
    let group = format!("API-Gateway-Execution-Logs_{api_id}/dev");
    let logs = emulator.logs();
    // As on an account where API Gateway made the group before chatctl did: no retention.
    logs.delete_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    emulator
        .apigatewayv2()
        .create_deployment()
        .api_id(&api_id)
        .stage_name("dev")
        .send()
        .await
        .unwrap();
    let made = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(made.log_groups()[0].retention_in_days(), None);

    let status = project.run(&["status"]).await;
    status.assert_code(2);
    assert!(
        status
            .stdout
            .contains(&format!("drifted  log group {group}"))
            && status.stdout.contains("retention_days: never expire → 7"),
        "{}",
        status.stdout
    );
    project.run(&["up"]).await.assert_code(0);
    let fixed = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.log_groups()[0].retention_in_days(), Some(7));

    let down = project.run(&["down", "--yes", "--output", "json"]).await;
    down.assert_code(0);
    assert!(down.stdout.contains(&group), "{}", down.stdout);
    let left = logs.describe_log_groups().send().await.unwrap();
    assert!(left.log_groups().is_empty(), "{:?}", left.log_groups());
}

#[tokio::test]
async fn a_stack_in_china_writes_aws_cn_arns_and_other_partitions_are_refused() {
    let emulator = Emulator::start().await;
    let project = Project::new(
        &emulator,
        &HTTP_BACKEND_TOML.replace("eu-west-1", "cn-north-1"),
    );
    let up = project.run(&["up", "--output", "json"]).await;
    up.assert_code(0);
    let china = emulator
        .sdk_config()
        .into_builder()
        .region(aws_config::Region::new("cn-north-1"))
        .build();
    let role = aws_sdk_apigateway::Client::new(&china)
        .get_account()
        .send()
        .await
        .unwrap()
        .cloudwatch_role_arn
        .unwrap();
    assert!(role.starts_with("arn:aws-cn:iam::"), "{role}");
    let attached = aws_sdk_iam::Client::new(&china)
        .list_attached_role_policies()
        .role_name("chat-dev-cn-north-1-apigw-logs")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect::<Vec<_>>(),
        ["arn:aws-cn:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]
    );
    let url = up.json()["outputs"]["websocket_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("wss://") && url.ends_with(".execute-api.cn-north-1.amazonaws.com.cn/dev"),
        "{url}"
    );
    project.run(&["down", "--yes"]).await.assert_code(0);

    let isolated = Project::new(
        &emulator,
        &HTTP_BACKEND_TOML.replace("eu-west-1", "us-iso-east-1"),
    );
    let refused = isolated.run(&["plan"]).await;
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains("region \"us-iso-east-1\" is in the AWS partition aws-iso"),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn up_waits_while_the_deployment_is_pending() {
    let emulator = Emulator::start().await;
    // Each deployment stays PENDING for 5 s after the change that triggered it.
    emulator.fault(json!({"deployment_pending_s": 5})).await;
    let project = Project::new(&emulator, HTTP_BACKEND_TOML);
    project.run(&["up"]).await.assert_code(0);
    // up returned only once API Gateway had deployed the last change.
    let api_id = emulator.the_api_id("chat-dev").await;
    let deployments = emulator
        .apigatewayv2()
        .get_deployments()
        .api_id(&api_id)
        .send()
        .await
        .unwrap();
    assert!(
        deployments.items().iter().all(|d| d.deployment_status()
            != Some(&aws_sdk_apigatewayv2::types::DeploymentStatus::Pending)),
        "{deployments:?}"
    );
    emulator.clear_faults().await;
    assert_stack_complete(&emulator).await;
}
