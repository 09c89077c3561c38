//! End to end with the default backend: DynamoDB table, execution role and policy, function,
//! function URL and permissions, stage variables — against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Emulator, LAMBDA_TOML, Project, REGION, handler_binary, write_zip};

#[tokio::test]
async fn the_lambda_backend_is_created_checked_updated_once_and_removed() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, LAMBDA_TOML);
    project.remove_env("CHATCTL_BACKEND_SECRET");
    let first_sha = write_zip(&project, &binary);

    let up = project.run(&["up", "-vv"]).await;
    up.assert_code(0);
    let config = emulator.sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let iam = emulator.iam();
    let v2 = emulator.apigatewayv2();
    let api = emulator.the_api_id("chat-dev").await;

    // Table: on demand, keyed by connection id, with the name index the registry queries.
    let table = dynamodb
        .describe_table()
        .table_name("chat-dev-connections")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        table
            .billing_mode_summary()
            .unwrap()
            .billing_mode()
            .unwrap()
            .as_str(),
        "PAY_PER_REQUEST"
    );
    assert_eq!(table.key_schema()[0].attribute_name(), "connectionId");
    assert_eq!(
        table.global_secondary_indexes()[0].index_name(),
        Some("byName")
    );

    // Role and policy: no wildcard action; ManageConnections on this API and stage only.
    let role = iam
        .get_role()
        .role_name("chat-dev-eu-west-1-backend")
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let policy = iam
        .get_role_policy()
        .role_name("chat-dev-eu-west-1-backend")
        .policy_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value = serde_json::from_str(&chatctl::resources::percent_decode(
        policy.policy_document(),
    ))
    .unwrap();
    for statement in document["Statement"].as_array().unwrap() {
        let actions = match &statement["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|v| v.as_str().unwrap().to_owned()).collect()
            }
            other => panic!("{other}"),
        };
        assert!(
            actions.iter().all(|a| !a.contains('*')),
            "wildcard action in {actions:?}"
        );
        if actions == ["execute-api:ManageConnections"] {
            let scope = format!("arn:aws:execute-api:{REGION}:123456789012:{api}/dev/");
            for resource in statement["Resource"].as_array().unwrap() {
                let resource = resource.as_str().unwrap();
                assert!(
                    resource.starts_with(&scope) && resource.ends_with("/@connections/*"),
                    "{resource}"
                );
            }
        }
    }

    // Function: runtime, sizes, role, environment, code.
    let function = lambda
        .get_function()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    let configuration = function.configuration().unwrap();
    assert_eq!(configuration.runtime().unwrap().as_str(), "provided.al2023");
    assert_eq!(configuration.handler(), Some("bootstrap"));
    assert_eq!(configuration.memory_size(), Some(256));
    assert_eq!(configuration.timeout(), Some(12));
    assert_eq!(configuration.role(), Some(role.arn()));
    assert_eq!(configuration.code_sha256(), Some(first_sha.as_str()));
    let env = configuration.environment().unwrap().variables().unwrap();
    assert_eq!(env["CHAT_TABLE"], "chat-dev-connections");
    assert_eq!(
        env["CHAT_CALLBACK_URL"],
        format!("https://{api}.execute-api.{REGION}.amazonaws.com/dev")
    );

    // Function URL, public, with both permissions; the stage points at it with the secret.
    let url = lambda
        .get_function_url_config()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    assert_eq!(url.auth_type().as_str(), "NONE");
    let permissions = lambda
        .get_policy()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(
        permissions.contains("lambda:InvokeFunctionUrl")
            && permissions.contains("lambda:InvokeFunction\""),
        "{permissions}"
    );
    let stage = v2
        .get_stage()
        .api_id(&api)
        .stage_name("dev")
        .send()
        .await
        .unwrap();
    let variables = stage.stage_variables().unwrap();
    // The function URL without its scheme, which the integration URIs write literally.
    assert_eq!(
        format!("https://{}/", variables["backendHost"]),
        url.function_url()
    );
    let secret = variables["backendSecret"].clone();
    assert_eq!(secret.len(), 64);
    assert_eq!(env["CHAT_SECRET"], secret);
    assert!(
        !up.stdout.contains(&secret) && !up.stderr.contains(&secret),
        "the secret leaked at -vv"
    );

    // Unchanged: no write at all, UpdateFunctionCode included.
    emulator.clear_calls().await;
    project.run(&["up"]).await.assert_code(0);
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    // A handler change: exactly one code update and nothing else.
    let mut changed = binary.clone();
    changed.extend_from_slice(b"\0changed");
    let second_sha = write_zip(&project, &changed);
    emulator.clear_calls().await;
    let update = project.run(&["up"]).await;
    update.assert_code(0);
    let writes: Vec<String> = emulator
        .writes()
        .await
        .into_iter()
        .filter(|w| !w.starts_with("logs:"))
        .collect();
    assert_eq!(writes, ["lambda:UpdateFunctionCode"], "{}", update.stderr);
    assert_eq!(
        emulator.deployed_code_sha("chat-dev-backend").await,
        Some(second_sha)
    );

    // Rotation: function and stage get the same new secret, which is never printed.
    let rotated = project.run(&["up", "--rotate-secret", "-vv"]).await;
    rotated.assert_code(0);
    let stage = v2
        .get_stage()
        .api_id(&api)
        .stage_name("dev")
        .send()
        .await
        .unwrap();
    let new_secret = stage.stage_variables().unwrap()["backendSecret"].clone();
    assert_ne!(new_secret, secret);
    let env = lambda
        .get_function_configuration()
        .function_name("chat-dev-backend")
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.environment().unwrap().variables().unwrap()["CHAT_SECRET"],
        new_secret
    );
    assert!(!rotated.stdout.contains(&new_secret) && !rotated.stderr.contains(&new_secret));

    // Down: nothing of the stack is left.
    project.run(&["down", "--yes"]).await.assert_code(0);
    assert!(
        dynamodb
            .describe_table()
            .table_name("chat-dev-connections")
            .send()
            .await
            .is_err()
    );
    assert!(
        lambda
            .get_function()
            .function_name("chat-dev-backend")
            .send()
            .await
            .is_err()
    );
    assert!(
        iam.get_role()
            .role_name("chat-dev-eu-west-1-backend")
            .send()
            .await
            .is_err()
    );
    assert!(
        iam.get_role()
            .role_name("chat-dev-eu-west-1-apigw-logs")
            .send()
            .await
            .is_err()
    );
    let apis = v2.get_apis().send().await.unwrap();
    assert!(apis.items().is_empty());
    // No log group is left: access, execution (API Gateway's) and function logs.
    let groups = emulator.logs().describe_log_groups().send().await.unwrap();
    assert!(groups.log_groups().is_empty(), "{:?}", groups.log_groups());
    emulator.clear_calls().await;
    project.run(&["down", "--yes"]).await.assert_code(0);
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_function_waits_out_iam_propagation() {
    let binary = handler_binary();
    let emulator = Emulator::start().await;
    emulator
        // Longer than it takes to send CreateFunction: a debug build encodes and signs the
        // ~10 MB zip of the debug handler in seconds (measured up to 6 s while the whole suite
        // runs on two cores), and a role older than the window at arrival is usable.
        .fault(serde_json::json!({"role_propagation_s": 15}))
        .await;
    let mut project = Project::new(&emulator, LAMBDA_TOML);
    project.remove_env("CHATCTL_BACKEND_SECRET");
    // Real propagation windows: the test needs the retries to outlast 15 s.
    project.set_env("CHATCTL_RETRY_SCALE", "0.2");
    write_zip(&project, &binary);
    let up = project.run(&["up"]).await;
    up.assert_code(0);
    assert!(
        up.stderr.contains("cannot be assumed by Lambda"),
        "{}",
        up.stderr
    );
    project.run(&["status"]).await.assert_code(0);
}
