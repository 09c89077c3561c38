//! End to end with verified names, against the emulator: `[auth] provider = "cognito"` (user
//! pool, app client, domain, authorizer function, its permission, the API Gateway authorizer
//! on `$connect`), `provider = "oidc"`, and switching back to `provider = "none"`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use support::{Emulator, Project, REGION};

const BASE: &str = r#"
[app]
name = "chat"
stage = "dev"
region = "eu-west-1"

[backend]
kind = "lambda"
"#;

fn config(auth: &str) -> String {
    format!("{BASE}\n[auth]\n{auth}\n")
}

const COGNITO: &str = r#"provider = "cognito""#;
const OIDC: &str = r#"provider = "oidc"
issuer = "https://id.example.com/"
audience = "chat-web"
name_claim = "nickname""#;

/// The stack's pools (by name and tags).
async fn pools(emulator: &Emulator) -> Vec<aws_sdk_cognitoidentityprovider::types::UserPoolType> {
    let cognito = emulator.cognito();
    let mut found = Vec::new();
    let list = cognito
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .unwrap();
    for pool in list.user_pools() {
        let described = cognito
            .describe_user_pool()
            .user_pool_id(pool.id().unwrap())
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap();
        if described.name() == Some("chat-dev") {
            found.push(described);
        }
    }
    found
}

/// The pool's only app client, as DescribeUserPoolClient returns it.
async fn the_client(
    emulator: &Emulator,
    pool_id: &str,
) -> aws_sdk_cognitoidentityprovider::types::UserPoolClientType {
    let cognito = emulator.cognito();
    let clients = cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(clients.user_pool_clients().len(), 1);
    cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(clients.user_pool_clients()[0].client_id().unwrap())
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
}

async fn function_env(emulator: &Emulator, name: &str) -> Option<HashMap<String, String>> {
    let out = emulator
        .lambda()
        .get_function()
        .function_name(name)
        .send()
        .await
        .ok()?;
    Some(
        out.configuration()
            .unwrap()
            .environment()
            .unwrap()
            .variables()
            .unwrap()
            .clone(),
    )
}

/// The `$connect` route's (authorization type, authorizer id) and the request parameters of
/// its integration.
async fn connect_route(
    emulator: &Emulator,
    api: &str,
) -> (String, Option<String>, HashMap<String, String>) {
    let v2 = emulator.apigatewayv2();
    let routes = v2.get_routes().api_id(api).send().await.unwrap();
    let connect = routes
        .items()
        .iter()
        .find(|r| r.route_key() == Some("$connect"))
        .unwrap();
    let integration_id = connect
        .target()
        .unwrap()
        .trim_start_matches("integrations/");
    let integration = v2
        .get_integration()
        .api_id(api)
        .integration_id(integration_id)
        .send()
        .await
        .unwrap();
    (
        connect
            .authorization_type()
            .map_or_else(|| "NONE".to_owned(), |t| t.as_str().to_owned()),
        connect.authorizer_id().map(str::to_owned),
        integration
            .request_parameters()
            .cloned()
            .unwrap_or_default(),
    )
}

async fn stage_variables(emulator: &Emulator, api: &str) -> HashMap<String, String> {
    emulator
        .apigatewayv2()
        .get_stage()
        .api_id(api)
        .stage_name("dev")
        .send()
        .await
        .unwrap()
        .stage_variables()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn cognito_sign_in_is_created_checked_once_and_removed() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, &config(COGNITO));
    project.remove_env("CHATCTL_BACKEND_SECRET");

    let plan = project.run(&["plan"]).await;
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for kind in [
        "cognito user pool chat-dev",
        "cognito domain",
        "cognito app client chat-dev-web",
        "lambda function chat-dev-authorizer",
        "apigateway authorizer token",
    ] {
        assert!(plan.stdout.contains(kind), "{kind} in\n{}", plan.stdout);
    }

    project.run(&["up"]).await.assert_code(0);
    let api = emulator.the_api_id("chat-dev").await;

    // The pool: tagged, with the hosted sign-in domain.
    let pools = pools(&emulator).await;
    assert_eq!(pools.len(), 1);
    let pool = &pools[0];
    let pool_id = pool.id().unwrap();
    let tags = pool.user_pool_tags().unwrap();
    assert_eq!(tags["chatctl:stack"], "chat-dev");
    assert_eq!(tags["chatctl:region"], REGION);
    let prefix = pool.domain().expect("the pool has a domain");
    assert!(prefix.starts_with("chat-dev-"), "{prefix}");
    let cognito = emulator.cognito();
    let domain = cognito
        .describe_user_pool_domain()
        .domain(prefix)
        .send()
        .await
        .unwrap()
        .domain_description
        .unwrap();
    assert_eq!(domain.user_pool_id(), Some(pool_id));

    // The app client: public, code + PKCE through the hosted sign-in, the dev page as callback.
    let client = the_client(&emulator, pool_id).await;
    let client_id = client.client_id().unwrap();
    assert_eq!(client.client_name(), Some("chat-dev-web"));
    assert!(
        client.client_secret().is_none(),
        "a browser client has no secret"
    );
    assert_eq!(client.callback_urls(), ["http://localhost:8080/"]);
    assert_eq!(
        client
            .allowed_o_auth_flows()
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>(),
        ["code"]
    );
    assert!(client.allowed_o_auth_scopes().iter().any(|s| s == "openid"));
    assert_eq!(client.allowed_o_auth_flows_user_pool_client(), Some(true));

    // The authorizer function: the handler package as the authorizer, checking this pool's
    // tokens for this client, with the backend secret for the integrations.
    let env = function_env(&emulator, "chat-dev-authorizer")
        .await
        .unwrap();
    assert_eq!(env["CHAT_ROLE"], "authorizer");
    assert_eq!(env["CHAT_AUTH_PROVIDER"], "cognito");
    assert_eq!(
        env["CHAT_AUTH_ISSUER"],
        format!("https://cognito-idp.{REGION}.amazonaws.com/{pool_id}")
    );
    assert_eq!(env["CHAT_AUTH_AUDIENCE"], client_id);
    assert_eq!(env["CHAT_AUTH_NAME_CLAIM"], "cognito:username");
    let backend_env = function_env(&emulator, "chat-dev-backend").await.unwrap();
    assert_eq!(env["CHAT_SECRET"], backend_env["CHAT_SECRET"]);
    let authorizer_arn = emulator
        .lambda()
        .get_function()
        .function_name("chat-dev-authorizer")
        .send()
        .await
        .unwrap()
        .configuration()
        .unwrap()
        .function_arn()
        .unwrap()
        .to_owned();

    // API Gateway may invoke it for this API's authorizers only.
    let policy = emulator
        .lambda()
        .get_policy()
        .function_name("chat-dev-authorizer")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Sid"], "chatctl-invoke-authorizer");
    assert_eq!(
        statement["Principal"]["Service"],
        "apigateway.amazonaws.com"
    );
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:execute-api:{REGION}:123456789012:{api}/authorizers/*")
    );

    // The REQUEST authorizer on $connect, reading the token from the query string.
    let authorizers = emulator
        .apigatewayv2()
        .get_authorizers()
        .api_id(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(authorizers.items().len(), 1);
    let authorizer = &authorizers.items()[0];
    assert_eq!(authorizer.authorizer_type().unwrap().as_str(), "REQUEST");
    assert_eq!(
        authorizer.identity_source(),
        ["route.request.querystring.token"]
    );
    assert_eq!(
        authorizer.authorizer_uri(),
        Some(
            format!(
                "arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{authorizer_arn}/invocations"
            )
            .as_str()
        )
    );
    let (kind, id, parameters) = connect_route(&emulator, &api).await;
    assert_eq!(kind, "CUSTOM");
    assert_eq!(id.as_deref(), authorizer.authorizer_id());
    assert_eq!(
        parameters["integration.request.header.x-chat-name"],
        "context.authorizer.name"
    );
    assert_eq!(
        parameters["integration.request.header.x-chat-secret"],
        "context.authorizer.backendSecret"
    );
    // The secret is no longer a stage variable.
    let variables = stage_variables(&emulator, &api).await;
    assert!(!variables.contains_key("backendSecret"), "{variables:?}");
    assert!(variables.contains_key("backendHost"));

    // Its log group, tagged, with the retention.
    let groups = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/aws/lambda/chat-dev-authorizer")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30));

    // status: in sync, with the resources and the sign-in URL; no warning that names prove
    // nothing.
    let status = project.run(&["status"]).await;
    status.assert_code(0);
    assert!(
        status.stdout.contains(&format!(
            "sign-in url    https://{prefix}.auth.{REGION}.amazoncognito.com/login?client_id={client_id}&response_type=code"
        )),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("present  cognito user pool chat-dev"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("present  apigateway authorizer token"),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains("names prove nothing"));

    // Drift: $connect loses its authorizer → status says so (exit 2), up puts it back.
    let connect = emulator
        .apigatewayv2()
        .get_routes()
        .api_id(&api)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .find(|r| r.route_key() == Some("$connect"))
        .unwrap()
        .route_id()
        .unwrap()
        .to_owned();
    emulator
        .apigatewayv2()
        .update_route()
        .api_id(&api)
        .route_id(&connect)
        .authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::None)
        .send()
        .await
        .unwrap();
    let drifted = project.run(&["status"]).await;
    drifted.assert_code(2);
    assert!(
        drifted.stdout.contains("drifted  route $connect"),
        "{}",
        drifted.stdout
    );
    assert!(
        drifted.stdout.contains("authorization: NONE → CUSTOM"),
        "{}",
        drifted.stdout
    );
    project.run(&["up"]).await.assert_code(0);
    let (kind, _, _) = connect_route(&emulator, &api).await;
    assert_eq!(kind, "CUSTOM");

    // A second up writes nothing.
    emulator.clear_calls().await;
    project.run(&["up"]).await.assert_code(0);
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    // down says the users go, and leaves nothing.
    let down = project.run(&["down", "--yes", "--output", "json"]).await;
    down.assert_code(0);
    let deleted = down.json();
    let pool_step = deleted["deleted"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "cognito user pool")
        .expect("down deletes the pool");
    assert!(
        pool_step["loses_data"].as_str().unwrap().contains("users"),
        "{pool_step}"
    );
    assert!(crate::pools(&emulator).await.is_empty());
    assert!(
        function_env(&emulator, "chat-dev-authorizer")
            .await
            .is_none()
    );
    let groups = emulator
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/aws/lambda/chat-dev-authorizer")
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty());
    let domain = cognito
        .describe_user_pool_domain()
        .domain(prefix)
        .send()
        .await
        .unwrap();
    assert!(
        domain
            .domain_description()
            .is_none_or(|d| d.user_pool_id().is_none()),
        "{domain:?}"
    );
    project.run(&["down", "--yes"]).await.assert_code(0);
}

#[tokio::test]
async fn an_oidc_provider_gets_the_authorizer_and_no_pool() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, &config(OIDC));
    project.remove_env("CHATCTL_BACKEND_SECRET");
    project.run(&["up"]).await.assert_code(0);
    let api = emulator.the_api_id("chat-dev").await;
    assert!(pools(&emulator).await.is_empty());
    let env = function_env(&emulator, "chat-dev-authorizer")
        .await
        .unwrap();
    assert_eq!(env["CHAT_AUTH_PROVIDER"], "oidc");
    assert_eq!(env["CHAT_AUTH_ISSUER"], "https://id.example.com/");
    assert_eq!(env["CHAT_AUTH_AUDIENCE"], "chat-web");
    assert_eq!(env["CHAT_AUTH_NAME_CLAIM"], "nickname");
    let (kind, id, _) = connect_route(&emulator, &api).await;
    assert_eq!(kind, "CUSTOM");
    assert!(id.is_some());
    let status = project.run(&["status"]).await;
    status.assert_code(0);
    assert!(!status.stdout.contains("sign-in url"), "{}", status.stdout);

    emulator.clear_calls().await;
    project.run(&["up"]).await.assert_code(0);
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    project.run(&["down", "--yes"]).await.assert_code(0);
    assert!(
        function_env(&emulator, "chat-dev-authorizer")
            .await
            .is_none()
    );
    assert!(emulator.stack_apis("chat-dev").await.is_empty());
}

#[tokio::test]
async fn switching_to_unverified_names_removes_sign_in_after_consent() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, &config(COGNITO));
    project.remove_env("CHATCTL_BACKEND_SECRET");
    project.run(&["up"]).await.assert_code(0);
    let api = emulator.the_api_id("chat-dev").await;
    std::fs::write(
        project.path().join("chatctl.toml"),
        config(r#"provider = "none""#),
    )
    .unwrap();

    // The pool holds users: without a TTY or --yes nothing happens.
    emulator.clear_calls().await;
    let refused = project.run(&["up"]).await;
    refused.assert_code(1);
    assert!(refused.stderr.contains("users"), "{}", refused.stderr);
    assert_eq!(emulator.writes().await, Vec::<String>::new());

    project.run(&["up", "--yes"]).await.assert_code(0);
    assert!(pools(&emulator).await.is_empty());
    assert!(
        function_env(&emulator, "chat-dev-authorizer")
            .await
            .is_none()
    );
    let authorizers = emulator
        .apigatewayv2()
        .get_authorizers()
        .api_id(&api)
        .send()
        .await
        .unwrap();
    assert!(authorizers.items().is_empty());
    let (kind, id, parameters) = connect_route(&emulator, &api).await;
    assert_eq!(kind, "NONE");
    assert_eq!(id, None);
    assert_eq!(
        parameters["integration.request.header.x-chat-name"],
        "route.request.querystring.name"
    );
    let variables = stage_variables(&emulator, &api).await;
    let backend_env = function_env(&emulator, "chat-dev-backend").await.unwrap();
    assert_eq!(variables["backendSecret"], backend_env["CHAT_SECRET"]);

    // In sync again, with the warning that names prove nothing.
    let status = project.run(&["status"]).await;
    status.assert_code(0);
    assert!(status.stderr.contains("names") || status.stdout.contains("a chat name is a label"));
    project.run(&["down", "--yes"]).await.assert_code(0);
}

#[tokio::test]
async fn cognito_is_refused_where_user_pools_are_not_offered() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(
        &emulator,
        &config(COGNITO).replace("eu-west-1", "cn-north-1"),
    );
    project.remove_env("CHATCTL_BACKEND_SECRET");
    emulator.clear_calls().await;
    let refused = project.run(&["up"]).await;
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains("[auth] provider = \"cognito\" is not available in cn-north-1")
            && refused.stderr.contains("provider = \"oidc\""),
        "{}",
        refused.stderr
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());
}

/// The deployed authorizer, configured exactly as `up` configured the function (its
/// environment), accepts an ID token the pool issued for the app client and hands the
/// integrations the user's name and the backend secret; a token of another pool is refused.
#[tokio::test]
async fn the_deployed_authorizer_accepts_the_pool_s_id_tokens() {
    let emulator = Emulator::start().await;
    let mut project = Project::new(&emulator, &config(COGNITO));
    project.remove_env("CHATCTL_BACKEND_SECRET");
    project.run(&["up"]).await.assert_code(0);
    let pool_id = pools(&emulator).await[0].id().unwrap().to_owned();
    let env = function_env(&emulator, "chat-dev-authorizer")
        .await
        .unwrap();
    let client_id = env["CHAT_AUTH_AUDIENCE"].clone();
    let cognito = emulator.cognito();

    // A user of the pool signs in (the admin flow stands in for the hosted page here).
    let id_token = |pool: String, client: String, user: &'static str| {
        let cognito = cognito.clone();
        async move {
            cognito
                .admin_create_user()
                .user_pool_id(&pool)
                .username(user)
                .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
                .send()
                .await
                .unwrap();
            cognito
                .admin_set_user_password()
                .user_pool_id(&pool)
                .username(user)
                .password("Correct-Horse-42!")
                .permanent(true)
                .send()
                .await
                .unwrap();
            cognito
                .admin_initiate_auth()
                .user_pool_id(&pool)
                .client_id(&client)
                .auth_flow(
                    aws_sdk_cognitoidentityprovider::types::AuthFlowType::AdminUserPasswordAuth,
                )
                .auth_parameters("USERNAME", user)
                .auth_parameters("PASSWORD", "Correct-Horse-42!")
                .send()
                .await
                .unwrap()
                .authentication_result
                .unwrap()
                .id_token
                .unwrap()
        }
    };
    let alice = id_token(pool_id.clone(), client_id.clone(), "alice").await;

    // The function's environment, with the keys fetched from the emulator instead of
    // cognito-idp.{region}.amazonaws.com (the only difference from AWS).
    let jwks = format!("{}/{pool_id}/.well-known/jwks.json", emulator.url);
    let lookup = |name: &str| {
        if name == chat_handler::auth::ENV_JWKS_URL {
            return Some(jwks.clone());
        }
        env.get(name).cloned()
    };
    let config = chat_handler::auth::AuthorizerConfig::from_env(&lookup).unwrap();
    let authorizer = chat_handler::auth::Authorizer::new(config).unwrap();
    let event = |token: &str| {
        serde_json::json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:api/dev/$connect",
            "queryStringParameters": {"token": token, "name": "mallory"},
            "requestContext": {"connectionId": "c1", "routeKey": "$connect"},
        })
    };
    let allowed = chat_handler::auth::lambda::invoke(&authorizer, event(&alice))
        .await
        .unwrap();
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(allowed["context"]["name"], "alice");
    assert_eq!(
        allowed["context"]["backendSecret"],
        env["CHAT_SECRET"].as_str()
    );

    // Another pool's token (same emulator key, other issuer and client) is refused.
    let other = cognito
        .create_user_pool()
        .pool_name("elsewhere")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let other_client = cognito
        .create_user_pool_client()
        .user_pool_id(&other)
        .client_name("elsewhere")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    let foreign = id_token(other, other_client, "alice").await;
    let refused = chat_handler::auth::lambda::invoke(&authorizer, event(&foreign))
        .await
        .unwrap_err();
    assert_eq!(refused.error_message, "Unauthorized");
    project.run(&["down", "--yes"]).await.assert_code(0);
}

const GITHUB_TOKEN: &str = "ghp_chatctlTestToken0123456789abcdefXYZ";

/// A stack with `[frontend]` (the reference app in acme/chat-web) and the given `[auth]`.
async fn site_project(emulator: &Emulator, auth: &str) -> Project {
    emulator
        .post(
            "github/repos",
            serde_json::json!({"owner": "acme", "name": "chat-web"}),
        )
        .await;
    emulator
        .post(
            "github/tokens",
            serde_json::json!({"token": GITHUB_TOKEN, "scopes": ["admin:repo_hook"]}),
        )
        .await;
    emulator
        .post(
            "github/installations",
            serde_json::json!({"app": "aws-amplify-eu-west-1", "owner": "acme"}),
        )
        .await;
    let toml = format!(
        "{}\n[frontend]\nrepository = \"https://github.com/acme/chat-web\"\nbranch = \"main\"\n\n[github]\napi_url = \"{}/github\"\n",
        config(auth),
        emulator.url
    );
    let mut project = Project::new(emulator, &toml);
    project.remove_env("CHATCTL_BACKEND_SECRET");
    project.set_env("GITHUB_TOKEN", GITHUB_TOKEN);
    project
}

/// The deployed web app signs in with the stack's pool: its build gets the hosted domain's
/// endpoints and the client, and the site's URL becomes a callback of the client.
#[tokio::test]
async fn the_site_signs_in_with_the_stack_s_pool() {
    let emulator = Emulator::start().await;
    let project = site_project(&emulator, COGNITO).await;
    let up = project.run(&["up", "--output", "json"]).await;
    up.assert_code(0);
    let outputs = &up.json()["outputs"];
    let site = outputs["site_url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert!(
        outputs["sign_in_url"].as_str().unwrap().ends_with(&format!(
            "redirect_uri=https%3A%2F%2F{}%2F",
            site.trim_start_matches("https://")
        )),
        "{outputs}"
    );

    let pool = &pools(&emulator).await[0];
    let pool_id = pool.id().unwrap();
    let prefix = pool.domain().unwrap();
    let client = the_client(&emulator, pool_id).await;
    let client_id = client.client_id().unwrap();
    let mut callbacks = client.callback_urls().to_vec();
    callbacks.sort();
    assert_eq!(
        callbacks,
        ["http://localhost:8080/".to_owned(), format!("{site}/")]
    );
    assert_eq!(client.logout_urls().len(), 2);

    let amplify = aws_sdk_amplify::Client::new(&emulator.sdk_config());
    let apps = amplify.list_apps().send().await.unwrap();
    let env = apps.apps()[0].environment_variables().clone();
    let hosted = format!("https://{prefix}.auth.{REGION}.amazoncognito.com");
    assert_eq!(env["CHAT_AUTH_PROVIDER"], "cognito");
    assert_eq!(
        env["CHAT_AUTH_ISSUER"],
        format!("https://cognito-idp.{REGION}.amazonaws.com/{pool_id}")
    );
    assert_eq!(env["CHAT_AUTH_CLIENT_ID"], client_id);
    assert_eq!(
        env["CHAT_AUTH_AUTHORIZE_URL"],
        format!("{hosted}/oauth2/authorize")
    );
    assert_eq!(env["CHAT_AUTH_TOKEN_URL"], format!("{hosted}/oauth2/token"));
    assert_eq!(env["CHAT_AUTH_LOGOUT_URL"], format!("{hosted}/logout"));
    assert_eq!(env["CHAT_AUTH_NAME_CLAIM"], "cognito:username");

    // Nothing left to do on the next run.
    emulator.clear_calls().await;
    let again = project.run(&["up"]).await;
    again.assert_code(0);
    let writes: Vec<String> = emulator
        .writes()
        .await
        .into_iter()
        .filter(|w| !w.starts_with("github:"))
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "{}", again.stdout);
    project.run(&["down", "--yes"]).await.assert_code(0);
    assert!(pools(&emulator).await.is_empty());
}

/// With your own provider, the site's build gets the endpoints of its discovery document.
#[tokio::test]
async fn an_oidc_site_gets_the_provider_s_endpoints() {
    // An OpenID provider on loopback that serves only its discovery document.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let document = serde_json::json!({
        "issuer": format!("{base}/"),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "end_session_endpoint": format!("{base}/logout"),
        "jwks_uri": format!("{base}/jwks"),
    });
    let app = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let emulator = Emulator::start().await;
    let auth = format!("provider = \"oidc\"\nissuer = \"{base}/\"\naudience = \"chat-web\"\n");
    let project = site_project(&emulator, &auth).await;
    project.run(&["up"]).await.assert_code(0);
    let amplify = aws_sdk_amplify::Client::new(&emulator.sdk_config());
    let apps = amplify.list_apps().send().await.unwrap();
    let env = apps.apps()[0].environment_variables().clone();
    assert_eq!(env["CHAT_AUTH_PROVIDER"], "oidc");
    assert_eq!(env["CHAT_AUTH_ISSUER"], format!("{base}/"));
    assert_eq!(env["CHAT_AUTH_CLIENT_ID"], "chat-web");
    assert_eq!(env["CHAT_AUTH_AUTHORIZE_URL"], format!("{base}/authorize"));
    assert_eq!(env["CHAT_AUTH_TOKEN_URL"], format!("{base}/token"));
    assert_eq!(env["CHAT_AUTH_LOGOUT_URL"], format!("{base}/logout"));
    assert_eq!(env["CHAT_AUTH_NAME_CLAIM"], "preferred_username");
    emulator.clear_calls().await;
    project.run(&["up"]).await.assert_code(0);
    let writes: Vec<String> = emulator
        .writes()
        .await
        .into_iter()
        .filter(|w| !w.starts_with("github:"))
        .collect();
    assert_eq!(writes, Vec::<String>::new());

    // A provider that cannot be reached stops `up` before any write, naming the document.
    server.abort();
    let _ = server.await;
    emulator.clear_calls().await;
    let refused = project.run(&["up"]).await;
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains(&format!("{base}/.well-known/openid-configuration")),
        "{}",
        refused.stderr
    );
    assert_eq!(emulator.writes().await, Vec::<String>::new());
    project.run(&["down", "--yes"]).await.assert_code(0);
}
