//! One contract for both registries: `MemoryRegistry` directly, `DynamoRegistry` against the
//! project's cloud emulator (moto's DynamoDB on loopback), which the test starts itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort the test

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use chat_handler::{DynamoRegistry, MemoryRegistry, Registry, Reply, Route, schema};
use common::{Chat, http1};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// The behaviour every registry must have. Ids carry `prefix` so runs never collide.
async fn registry_contract(registry: &dyn Registry, prefix: &str) {
    let id = |n: &str| format!("{prefix}{n}");
    assert_eq!(registry.name_of(&id("a1")).await.unwrap(), None);
    assert!(registry.connections_of("alice").await.unwrap().is_empty());
    assert!(registry.names().await.unwrap().is_empty());

    registry.put(&id("a1"), "alice").await.unwrap();
    registry.put(&id("b1"), "bob").await.unwrap();
    registry.put(&id("a2"), "alice").await.unwrap();
    registry.put(&id("z1"), "Zed").await.unwrap();
    registry.put(&id("m1"), "mike_2-x").await.unwrap();

    assert_eq!(
        registry.name_of(&id("a1")).await.unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(
        registry.name_of(&id("b1")).await.unwrap().as_deref(),
        Some("bob")
    );
    let mut alice = registry.connections_of("alice").await.unwrap();
    alice.sort();
    assert_eq!(alice, [id("a1"), id("a2")]);
    assert_eq!(registry.connections_of("bob").await.unwrap(), [id("b1")]);
    // Names are exact: no case folding, no prefix matching.
    assert!(registry.connections_of("Alice").await.unwrap().is_empty());
    assert!(registry.connections_of("ali").await.unwrap().is_empty());
    assert_eq!(
        registry.names().await.unwrap(),
        ["Zed", "alice", "bob", "mike_2-x"],
        "sorted (byte order) and distinct"
    );

    // Putting an id again moves it to the new name.
    registry.put(&id("m1"), "bob").await.unwrap();
    assert_eq!(
        registry.name_of(&id("m1")).await.unwrap().as_deref(),
        Some("bob")
    );
    assert!(
        registry
            .connections_of("mike_2-x")
            .await
            .unwrap()
            .is_empty()
    );
    let mut bob = registry.connections_of("bob").await.unwrap();
    bob.sort();
    assert_eq!(bob, [id("b1"), id("m1")]);
    assert_eq!(registry.names().await.unwrap(), ["Zed", "alice", "bob"]);

    assert_eq!(
        registry.remove(&id("a1")).await.unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(registry.remove(&id("a1")).await.unwrap(), None);
    assert_eq!(registry.remove(&id("never")).await.unwrap(), None);
    assert_eq!(registry.name_of(&id("a1")).await.unwrap(), None);
    assert_eq!(registry.connections_of("alice").await.unwrap(), [id("a2")]);
    assert_eq!(registry.names().await.unwrap(), ["Zed", "alice", "bob"]);

    for n in ["a2", "b1", "m1", "z1"] {
        assert!(registry.remove(&id(n)).await.unwrap().is_some(), "{n}");
    }
    assert!(registry.names().await.unwrap().is_empty());
    assert!(registry.connections_of("bob").await.unwrap().is_empty());
}

/// The chat protocol's registry-dependent rules, on top of a given registry.
async fn chat_scenario(registry: Arc<dyn Registry>) {
    let chat = Chat::with_registry(registry);
    chat.join("A1", "alice").await;
    chat.join("B1", "bob").await;
    chat.join("B2", "bob").await;
    chat.join("C1", "carol").await;

    let reply = chat
        .send(
            "A1",
            &json!({"action": "sendmessage", "to": "bob", "text": "hi", "from": "carol"}),
        )
        .await;
    assert_eq!(reply["type"], "sent");
    for tab in ["B1", "B2"] {
        let frames = chat.notifier.delivered_to(tab);
        assert_eq!(frames.len(), 1, "{tab}");
        assert_eq!(frames[0]["from"], "alice");
        assert_eq!(frames[0]["id"], reply["id"]);
    }
    assert!(chat.notifier.delivered_to("C1").is_empty());
    assert_eq!(
        chat.who("C1").await,
        json!({"type": "who", "users": ["alice", "bob", "carol"]})
    );

    // Both of bob's connections vanished without a $disconnect.
    chat.notifier.mark_gone("B1");
    chat.notifier.mark_gone("B2");
    let reply = chat
        .send(
            "A1",
            &json!({"action": "sendmessage", "to": "bob", "text": "there?"}),
        )
        .await;
    assert_eq!(reply["code"], "peer_offline");
    assert!(
        chat.registry
            .connections_of("bob")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(chat.who("A1").await["users"], json!(["alice", "carol"]));

    assert_eq!(
        chat.frame(Route::Who, "ghost", "{}").await["message"],
        chat_handler::NOT_JOINED_MESSAGE
    );
    assert_eq!(chat.disconnect("C1").await, Reply::NoContent);
    assert_eq!(chat.disconnect("A1").await, Reply::NoContent);
    assert!(chat.registry.names().await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_registry_follows_the_contract() {
    registry_contract(&MemoryRegistry::new(), "").await;
}

#[tokio::test]
async fn memory_registry_serves_the_chat() {
    chat_scenario(Arc::new(MemoryRegistry::new())).await;
}

#[tokio::test]
async fn memory_registry_records_when_a_connection_joined() {
    let registry = MemoryRegistry::new();
    let before = time::OffsetDateTime::now_utc();
    registry.put("c1", "alice").await.unwrap();
    let at = registry.connected_at("c1").unwrap();
    assert!(at >= before && at <= time::OffsetDateTime::now_utc());
    assert_eq!(registry.len(), 1);
    registry.remove("c1").await.unwrap();
    assert!(registry.connected_at("c1").is_none());
    assert!(registry.is_empty());
}

/// The cloud emulator, stopped when dropped (it `exec`s, so the child is the server itself;
/// `--exit-with-stdin` also stops it if this process dies without dropping it).
struct Emulator {
    _child: Child,
    url: String,
}

async fn start_emulator() -> Emulator {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/emulator/start");
    assert!(
        std::path::Path::new(script).exists(),
        "the cloud emulator is missing at {script}"
    );
    let mut child = Command::new(script)
        .args(["0", "--exit-with-stdin"])
        .env_remove("PYTHONPATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting tests/emulator/start");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first run creates the emulator's virtualenv (~35 s); later starts take ~1 s.
    let url = tokio::time::timeout(Duration::from_mins(2), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(url) = line.trim().strip_prefix("emulator listening on ") {
                return url.to_owned();
            }
        }
        panic!("the emulator exited before it was ready");
    })
    .await
    .expect("the emulator did not become ready within 120 s");
    // Keep draining stdout so the emulator never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    Emulator { _child: child, url }
}

fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .http_client(chat_handler::https_client())
        .credentials_provider(Credentials::new(
            "AKIDEMULATOR",
            "emulator-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The table as the deployer creates it (the schema `DynamoRegistry` documents).
async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    let key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(schema::CONNECTION_ID))
        .attribute_definitions(attribute(schema::NAME))
        .key_schema(key(schema::CONNECTION_ID))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(schema::BY_NAME_INDEX)
                .key_schema(key(schema::NAME))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn dynamo_registry_follows_the_contract_against_the_emulator() {
    let emulator = start_emulator().await;
    let client = dynamodb_client(&emulator.url);
    let host = emulator.url.trim_start_matches("http://");
    let reset = http1::post(host, "/_emulator/reset", &[], b"")
        .await
        .unwrap();
    assert_eq!(reset.status, 200);
    create_table(&client, "chat-test-connections").await;
    let registry = DynamoRegistry::new(client.clone(), "chat-test-connections");

    registry_contract(&registry, "conn-").await;
    // Connection ids as API Gateway makes them (base64 with `=`).
    registry_contract(&registry, "L0SM9cOFvHcCIhw=").await;
    chat_scenario(Arc::new(registry.clone())).await;

    // The item the registry writes: what the deployer's table and IAM policy must allow.
    registry.put("item-1", "alice").await.unwrap();
    let item = client
        .get_item()
        .table_name("chat-test-connections")
        .key(schema::CONNECTION_ID, AttributeValue::S("item-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item[schema::NAME].as_s().unwrap(), "alice");
    let connected_at = item[schema::CONNECTED_AT].as_s().unwrap();
    let connected_at =
        time::OffsetDateTime::parse(connected_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let expires_at: i64 = item[schema::EXPIRES_AT].as_n().unwrap().parse().unwrap();
    assert_eq!(expires_at - connected_at.unix_timestamp(), 2 * 3600 + 300);
    registry.remove("item-1").await.unwrap();

    // An item whose connection must be long gone (API Gateway's 2 h limit), left behind by a
    // lost $disconnect and not yet deleted by TTL, is ignored by every read.
    client
        .put_item()
        .table_name("chat-test-connections")
        .item(schema::CONNECTION_ID, AttributeValue::S("old-1".into()))
        .item(schema::NAME, AttributeValue::S("ghost".into()))
        .item(
            schema::CONNECTED_AT,
            AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
        )
        .item(schema::EXPIRES_AT, AttributeValue::N("1577844300".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(registry.name_of("old-1").await.unwrap(), None);
    assert!(registry.connections_of("ghost").await.unwrap().is_empty());
    assert!(registry.names().await.unwrap().is_empty());

    // Many connections under fewer names.
    for n in 0..120 {
        registry
            .put(&format!("many-{n:03}"), &format!("user{}", n % 40))
            .await
            .unwrap();
    }
    assert_eq!(registry.names().await.unwrap().len(), 40);
    assert_eq!(registry.connections_of("user7").await.unwrap().len(), 3);

    // A registry failure is a backend error (5xx), never a wrong answer to the sender.
    let missing = DynamoRegistry::new(client.clone(), "no-such-table");
    let chat = Chat::with_registry(Arc::new(missing));
    assert_eq!(chat.connect("x1", Some("alice")).await, Reply::Internal);
    assert_eq!(
        chat.call(Route::Who, Chat::request("x1", "{}")).await,
        Reply::Internal
    );
    drop(emulator);
}

/// A local @connections endpoint that accepts every post and records the paths.
async fn connections_sink() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = log.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let recorder = recorder.clone();
        async move {
            recorder.lock().unwrap().push(uri.path().to_owned());
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/dev"), log)
}

#[tokio::test]
async fn bootstrap_uses_the_table_named_by_chat_table() {
    let emulator = start_emulator().await;
    let client = dynamodb_client(&emulator.url);
    create_table(&client, "chat-e2e-connections").await;
    let (callback, posts) = connections_sink().await;

    // The environment a deployed function has, pointed at the emulator: credentials and region
    // from the standard variables, no config files, no instance metadata.
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .args(["--listen", "127.0.0.1:0"])
        .env_clear()
        .env("CHAT_SECRET", common::SECRET)
        .env("CHAT_CALLBACK_URL", &callback)
        .env("CHAT_TABLE", "chat-e2e-connections")
        .env("AWS_ENDPOINT_URL", &emulator.url)
        .env("AWS_ACCESS_KEY_ID", "AKIDEMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr_line(&mut stderr).await {
            if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                return addr.to_owned();
            }
        }
        panic!("bootstrap exited before listening");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while stderr_line(&mut stderr).await.is_some() {} });

    let post = async |path: &str, id: &str, name: Option<&str>, body: &str| {
        let mut headers = vec![("x-chat-secret", common::SECRET), ("x-connection-id", id)];
        headers.extend(name.map(|name| ("x-chat-name", name)));
        http1::post(&addr, path, &headers, body.as_bytes())
            .await
            .unwrap()
    };
    assert_eq!(post("/connect", "A1=", Some("alice"), "").await.status, 204);
    assert_eq!(post("/connect", "B1=", Some("bob"), "").await.status, 204);
    let item = client
        .get_item()
        .table_name("chat-e2e-connections")
        .key(schema::CONNECTION_ID, AttributeValue::S("B1=".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("bootstrap wrote the connection to the table");
    assert_eq!(item[schema::NAME].as_s().unwrap(), "bob");

    let reply = post(
        "/sendmessage",
        "A1=",
        None,
        r#"{"action":"sendmessage","to":"bob","text":"via DynamoDB"}"#,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["type"], "sent");
    assert_eq!(*posts.lock().unwrap(), ["/dev/@connections/B1%3D"]);
    assert_eq!(
        post("/who", "B1=", None, "{}").await.json(),
        json!({"type": "who", "users": ["alice", "bob"]})
    );
    assert_eq!(post("/disconnect", "B1=", None, "").await.status, 204);
    let gone = client
        .get_item()
        .table_name("chat-e2e-connections")
        .key(schema::CONNECTION_ID, AttributeValue::S("B1=".into()))
        .send()
        .await
        .unwrap();
    assert!(gone.item.is_none());
    drop(child);
    drop(emulator);
}

async fn stderr_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
) -> Option<String> {
    lines.next_line().await.ok().flatten()
}
