//! Pure tests of the frontend's plan and of what `down` looks for on GitHub.

use std::collections::BTreeMap;

use std::collections::BTreeSet;

use super::records::{join_ids, parse_ids};
use super::teardown::needs;
use super::*;
use crate::config::{Names, STACK_TAG};
use crate::github::{DeployKey, Hook, HookConfig};

fn frontend(framework: Framework, platform: Platform) -> Frontend {
    Frontend {
        repository: "https://github.com/acme/chat-web".into(),
        owner: "acme".into(),
        repo: "chat-web".into(),
        branch: "main".into(),
        platform,
        framework,
    }
}

const URL: &str = "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev";
const UNIFIED: &str = "https://ab12cd34ef.execute-api.eu-west-1.amazonaws.com/prod/github";

fn deployed(desired: &Desired) -> App {
    App {
        id: "d1234567890abc".into(),
        arn: "arn:aws:amplify:eu-west-1:123456789012:apps/d1234567890abc".into(),
        name: desired.name.clone(),
        repository: desired.repository.clone(),
        platform: "WEB".into(),
        environment: BTreeMap::from([(WEBSOCKET_URL_VARIABLE.into(), URL.into())]),
        build_spec: desired.build_spec.clone(),
        custom_rules: desired.custom_rules.clone(),
        enable_branch_auto_build: true,
        default_domain: "d1234567890abc.amplifyapp.com".into(),
        clone_method: Some("TOKEN".into()),
        tags: BTreeMap::from([
            (STACK_TAG.into(), "chat-dev".into()),
            (HOOKS_TAG.into(), "400000001".into()),
            (KEYS_TAG.into(), String::new()),
        ]),
        created: 1,
        region: "eu-west-1".into(),
    }
}

fn converged(desired: &Desired) -> Observed {
    Observed {
        apps: vec![deployed(desired)],
        branch: Some(Branch {
            name: "main".into(),
            arn: "arn:…/branches/main".into(),
            stage: "PRODUCTION".into(),
            framework: "Web".into(),
            enable_auto_build: true,
            display_name: "main".into(),
            tags: BTreeMap::new(),
        }),
        stray_branches: Vec::new(),
        last_job: Some(JobInfo {
            id: "1".into(),
            status: "SUCCEED".into(),
            job_type: "RELEASE".into(),
            commit_id: "abc".into(),
            started: 1,
            ended: Some(2),
        }),
    }
}

fn static_desired() -> Desired {
    desired(
        &Names::new("chat-dev", "eu-west-1"),
        &frontend(Framework::Static, Platform::Web),
        Some(URL),
        None,
    )
}

fn pool_auth() -> FrontendAuth {
    FrontendAuth::cognito(
        "eu-west-1",
        "eu-west-1_AbC123",
        "chat-dev-x1y2",
        "4n0th3rcl13nt1d",
        "cognito:username",
    )
}

fn signing_in_desired() -> Desired {
    desired(
        &Names::new("chat-dev", "eu-west-1"),
        &frontend(Framework::Static, Platform::Web),
        Some(URL),
        Some(&pool_auth()),
    )
}

/// `converged` for a web app that signs in with `auth`.
fn converged_with(desired: &Desired, auth: &FrontendAuth) -> Observed {
    let mut observed = converged(desired);
    observed.apps[0]
        .environment
        .extend(auth.variables().into_iter().map(|(k, v)| (k.to_owned(), v)));
    observed
}

#[test]
fn rules_per_framework() {
    let spa = custom_rules(&frontend(Framework::Static, Platform::Web));
    assert_eq!(spa.len(), 1);
    assert_eq!(spa[0].target, "/index.html");
    assert_eq!(spa[0].status, "200");
    assert!(spa[0].source.starts_with("</^[^.]+$|"));
    let next = custom_rules(&frontend(Framework::Nextjs, Platform::Web));
    assert_eq!(next[0].target, "/chat/[peer].html");
    assert!(custom_rules(&frontend(Framework::Nextjs, Platform::WebCompute)).is_empty());
    assert_eq!(
        branch_framework(&frontend(Framework::Nextjs, Platform::Web)),
        "Next.js - SSG"
    );
    assert_eq!(
        branch_framework(&frontend(Framework::Static, Platform::Web)),
        "Web"
    );
}

#[test]
fn a_converged_frontend_plans_nothing() {
    let desired = static_desired();
    let steps = plan(&converged(&desired), Some(&desired));
    assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
    assert!(!needs_token(&converged(&desired), Some(&desired)));
}

#[test]
fn a_fresh_stack_creates_app_branch_and_build() {
    let desired = desired(
        &Names::new("chat-dev", "eu-west-1"),
        &frontend(Framework::Static, Platform::Web),
        None,
        None,
    );
    let steps = plan(&Observed::default(), Some(&desired));
    let actions: Vec<(&str, Action)> = steps.iter().map(|s| (s.kind, s.action)).collect();
    assert_eq!(
        actions,
        [
            (APP_KIND, Action::Create),
            (BRANCH_KIND, Action::Create),
            (JOB_KIND, Action::Create)
        ]
    );
    assert!(needs_token(&Observed::default(), Some(&desired)));
}

#[test]
fn a_missing_branch_needs_no_token() {
    // Amplify set the repository up with CreateApp; CreateBranch touches no repository.
    let desired = static_desired();
    let mut observed = converged(&desired);
    observed.branch = None;
    observed.last_job = None;
    let steps = plan(&observed, Some(&desired));
    assert_eq!(steps[1].action, Action::Create);
    assert_eq!(steps[2].action, Action::Create);
    assert!(!needs_token(&observed, Some(&desired)));
}

#[test]
fn a_new_websocket_url_updates_the_app_and_rebuilds() {
    let desired = static_desired();
    let mut observed = converged(&desired);
    observed.apps[0].environment.insert(
        WEBSOCKET_URL_VARIABLE.into(),
        "wss://old.example/dev".into(),
    );
    let steps = plan(&observed, Some(&desired));
    assert_eq!(steps[0].action, Action::Update);
    assert_eq!(steps[0].changes[0].field, "environment.CHAT_WEBSOCKET_URL");
    assert_eq!(steps[0].changes[0].old, "wss://old.example/dev");
    assert_eq!(steps[2].kind, JOB_KIND);
    assert_eq!(steps[2].action, Action::Create);
    assert_eq!(
        build_reason(&observed, &desired),
        Some("the WebSocket URL changed")
    );
}

#[test]
fn a_new_repository_replaces_the_app() {
    let desired = static_desired();
    let mut observed = converged(&desired);
    observed.apps[0].repository = "https://github.com/acme/old-web".into();
    observed.stray_branches.push(Branch {
        name: "old".into(),
        ..observed.branch.clone().unwrap()
    });
    let steps = plan(&observed, Some(&desired));
    let actions: Vec<Action> = steps.iter().map(|s| s.action).collect();
    // The strays go with the replaced app.
    assert_eq!(actions, [Action::Replace, Action::Create, Action::Create]);
    assert!(needs_token(&observed, Some(&desired)));
}

#[test]
fn strays_and_duplicates_are_deleted() {
    let desired = static_desired();
    let mut observed = converged(&desired);
    observed.stray_branches.push(Branch {
        name: "old".into(),
        ..observed.branch.clone().unwrap()
    });
    let mut duplicate = observed.apps[0].clone();
    duplicate.id = "d2".into();
    observed.apps.push(duplicate);
    let steps = plan(&observed, Some(&desired));
    let deleted: Vec<(&str, &str)> = steps
        .iter()
        .filter(|s| s.action == Action::Delete)
        .map(|s| (s.kind, s.name.as_str()))
        .collect();
    assert_eq!(
        deleted,
        [(BRANCH_KIND, "chat-dev:old"), (APP_KIND, "chat-dev (d2)")]
    );
}

#[test]
fn without_frontend_every_app_is_deleted() {
    let desired = static_desired();
    let steps = plan(&converged(&desired), None);
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].action, Action::Delete);
}

#[test]
fn branch_drift_is_field_level() {
    let desired = static_desired();
    let mut observed = converged(&desired);
    if let Some(branch) = observed.branch.as_mut() {
        branch.stage = "NONE".into();
        branch.framework = String::new();
    }
    let fields: Vec<String> = plan(&observed, Some(&desired))[1]
        .changes
        .iter()
        .map(|c| c.field.clone())
        .collect();
    assert_eq!(fields, ["stage", "framework"]);
}

#[test]
fn site_url_uses_the_default_domain() {
    let desired = static_desired();
    let app = deployed(&desired);
    assert_eq!(
        site_url(&app, "feature/x"),
        "https://feature-x.d1234567890abc.amplifyapp.com"
    );
}

#[test]
fn down_looks_only_for_what_amplify_may_have_added() {
    let desired = static_desired();
    let mut app = deployed(&desired);
    // The GitHub App flow, recorded: the hook; no deploy key, so no key listing (and no
    // deploy-key permission).
    let n = needs(&app);
    assert!(n.hooks && !n.keys, "{n:?}");
    // Recorded as sharing the region's hook and adding nothing: GitHub is not called.
    app.tags.insert(HOOKS_TAG.into(), String::new());
    let n = needs(&app);
    assert!(!n.hooks && !n.keys, "{n:?}");
    // No records: the hook by URL; a key only if Amplify clones over SSH.
    app.tags.remove(HOOKS_TAG);
    app.tags.remove(KEYS_TAG);
    let n = needs(&app);
    assert!(n.hooks && !n.keys, "{n:?}");
    app.clone_method = Some("SSH".into());
    assert!(needs(&app).keys);
    app.clone_method = None;
    assert!(needs(&app).keys, "unknown clone method: look");
}

fn hook(id: u64, url: &str) -> Hook {
    Hook {
        id,
        name: "web".into(),
        active: true,
        events: vec!["push".into()],
        config: HookConfig {
            url: Some(url.into()),
            content_type: None,
        },
    }
}

fn key(id: u64, title: &str) -> DeployKey {
    DeployKey {
        id,
        title: title.into(),
        read_only: true,
        added_by: None,
        created_at: None,
    }
}

fn writable_key(id: u64, title: &str) -> DeployKey {
    DeployKey {
        read_only: false,
        ..key(id, title)
    }
}

/// The deployed app, cloning as `clone_method` says.
fn cloning(clone_method: &str) -> App {
    App {
        clone_method: Some(clone_method.into()),
        ..deployed(&static_desired())
    }
}

#[test]
fn candidates_follow_the_records_then_the_fallback() {
    let desired = static_desired();
    let mut app = deployed(&desired);
    app.tags
        .insert(HOOKS_TAG.into(), "400000001 400000002 400000003".into());
    app.tags.insert(KEYS_TAG.into(), "90000001".into());
    let snapshot = Snapshot {
        hooks: vec![
            hook(400_000_001, UNIFIED),
            hook(400_000_002, "https://ci.example.com/recorded-by-mistake"),
        ],
        keys: Some(vec![key(90_000_001, "whatever")]),
    };
    let found = candidates(&app, &snapshot);
    assert_eq!(
        found.hooks.iter().map(|h| h.id).collect::<Vec<_>>(),
        [400_000_001]
    );
    assert_eq!(found.refused[0].id, 400_000_002);
    assert_eq!(found.gone, [400_000_003]);
    assert_eq!(found.keys[0].id, 90_000_001);
    // Unlisted keys are not "gone": they were not looked at.
    let blind = Snapshot {
        keys: None,
        ..snapshot.clone()
    };
    assert_eq!(candidates(&app, &blind).gone, [400_000_003]);
    // Without records: this region's unified hook, never another region's; the key by title.
    app.tags.remove(HOOKS_TAG);
    app.tags.remove(KEYS_TAG);
    let unrecorded = Snapshot {
        hooks: vec![
            hook(1, UNIFIED),
            hook(
                2,
                "https://zz.execute-api.us-west-2.amazonaws.com/prod/github",
            ),
        ],
        keys: Some(vec![
            key(3, "AWS Amplify deploy key for app d1234567890abc"),
            key(4, "AWS Amplify deploy key for app dsomeoneelse"),
        ]),
    };
    let found = candidates(&app, &unrecorded);
    assert_eq!(found.hooks.iter().map(|h| h.id).collect::<Vec<_>>(), [1]);
    assert_eq!(found.keys.iter().map(|k| k.id).collect::<Vec<_>>(), [3]);
}

#[test]
fn the_github_app_flow_records_its_hook_and_no_key() {
    let before = Snapshot {
        hooks: vec![hook(1, "https://ci.example.com/hook")],
        keys: None,
    };
    let after = Snapshot {
        hooks: vec![
            hook(1, "https://ci.example.com/hook"),
            hook(2, UNIFIED),
            hook(3, "https://someone.example.com/at-the-same-time"),
        ],
        keys: None,
    };
    let recorded = additions(&before, &after, &cloning("TOKEN"));
    assert_eq!(recorded.hooks, [2]);
    assert_eq!(recorded.keys, Some(Vec::new()));
}

#[test]
fn an_ssh_clone_records_its_read_only_key() {
    let before = Snapshot {
        hooks: Vec::new(),
        keys: Some(vec![writable_key(7, "deploy bot")]),
    };
    let after = Snapshot {
        hooks: vec![hook(2, UNIFIED)],
        keys: Some(vec![
            writable_key(7, "deploy bot"),
            key(8, "whatever Amplify calls it"),
            writable_key(9, "someone's writable key"),
        ]),
    };
    assert_eq!(
        additions(&before, &after, &cloning("SSH")).keys,
        Some(vec![8])
    );
    // Keys first seen afterwards are matched by title; none seen: not recorded.
    let unseen = Snapshot {
        keys: None,
        ..before.clone()
    };
    let titled = Snapshot {
        keys: Some(vec![
            key(8, "AWS Amplify deploy key for app d1234567890abc"),
            key(9, "other"),
        ]),
        ..after.clone()
    };
    assert_eq!(
        additions(&unseen, &titled, &cloning("SSH")).keys,
        Some(vec![8])
    );
    let blind = Snapshot {
        keys: None,
        ..after
    };
    assert_eq!(additions(&unseen, &blind, &cloning("SSH")).keys, None);
}

#[test]
fn fallback_matchers_stay_in_the_region() {
    let app = "d1234567890abc";
    assert!(matches_amplify_hook(UNIFIED, app, "eu-west-1"));
    // Another region's unified hook belongs to that region's apps.
    assert!(!matches_amplify_hook(UNIFIED, app, "us-west-2"));
    assert!(matches_amplify_hook(
        "https://hooks.eu-west-1.amazonaws.com/github?appId=d1234567890abc",
        app,
        "us-west-2"
    ));
    // Not AWS, a foreign path, or http: never.
    for url in [
        "https://ci.example.com/prod/github",
        "https://ab12cd34ef.execute-api.eu-west-1.amazonaws.com/prod/jenkins",
        "http://ab12cd34ef.execute-api.eu-west-1.amazonaws.com/prod/github",
        "https://ci.example.com/hook?app=d1234567890abc",
        "https://evil.amazonaws.com.example.net/prod/github",
    ] {
        assert!(!matches_amplify_hook(url, app, "eu-west-1"), "{url}");
    }
    assert!(matches_amplify_key(
        &key(1, "AWS Amplify deploy key for app d1234567890abc"),
        app
    ));
    assert!(!matches_amplify_key(
        &key(1, "AWS Amplify deploy key for app dother"),
        app
    ));
    assert!(!matches_amplify_key(&key(1, "deploy bot"), app));
}

#[test]
fn ids_round_trip_through_tags() {
    let ids = BTreeSet::from([400_000_001, 400_000_002]);
    assert_eq!(join_ids(&ids), "400000001 400000002");
    assert_eq!(parse_ids("400000001 400000002"), [400_000_001, 400_000_002]);
    assert_eq!(parse_ids("1,2"), [1, 2]);
    assert!(parse_ids("").is_empty());
}

#[test]
fn a_user_pool_gives_the_build_its_hosted_sign_in() {
    let vars = pool_auth().variables();
    let expected: BTreeMap<&str, &str> = BTreeMap::from([
        ("CHAT_AUTH_PROVIDER", "cognito"),
        (
            "CHAT_AUTH_ISSUER",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
        ),
        ("CHAT_AUTH_CLIENT_ID", "4n0th3rcl13nt1d"),
        (
            "CHAT_AUTH_AUTHORIZE_URL",
            "https://chat-dev-x1y2.auth.eu-west-1.amazoncognito.com/oauth2/authorize",
        ),
        (
            "CHAT_AUTH_TOKEN_URL",
            "https://chat-dev-x1y2.auth.eu-west-1.amazoncognito.com/oauth2/token",
        ),
        (
            "CHAT_AUTH_LOGOUT_URL",
            "https://chat-dev-x1y2.auth.eu-west-1.amazoncognito.com/logout",
        ),
        ("CHAT_AUTH_NAME_CLAIM", "cognito:username"),
    ]);
    let got: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(got, expected);
    // Exactly the variables the build spec reads.
    for name in AUTH_VARIABLES {
        assert!(BUILD_SPEC.contains(name), "{name} is not in the build spec");
    }
    // A provider without a logout endpoint sets no logout variable.
    let oidc = FrontendAuth {
        provider: "oidc".into(),
        logout_url: None,
        ..pool_auth()
    };
    assert!(!oidc.variables().contains_key(AUTH_LOGOUT_URL_VARIABLE));
    assert_eq!(oidc.variables().len(), 6);
}

#[test]
fn a_converged_signing_in_frontend_plans_nothing() {
    let desired = signing_in_desired();
    let observed = converged_with(&desired, &pool_auth());
    let steps = plan(&observed, Some(&desired));
    assert!(steps.iter().all(|s| !s.is_change()), "{steps:#?}");
    assert_eq!(build_reason(&observed, &desired), None);
}

#[test]
fn turning_sign_in_on_updates_the_app_and_rebuilds() {
    let desired = signing_in_desired();
    let steps = plan(&converged(&desired), Some(&desired));
    assert_eq!(steps[0].kind, APP_KIND);
    assert_eq!(steps[0].action, Action::Update);
    let fields: Vec<(&str, &str, &str)> = steps[0]
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.old.as_str(), c.new.as_str()))
        .collect();
    assert_eq!(fields.len(), 7, "{fields:#?}");
    assert_eq!(
        fields[0],
        ("environment.CHAT_AUTH_PROVIDER", "(none)", "cognito")
    );
    assert_eq!(
        fields[2],
        (
            "environment.CHAT_AUTH_CLIENT_ID",
            "(none)",
            "4n0th3rcl13nt1d"
        )
    );
    assert_eq!((steps[2].kind, steps[2].action), (JOB_KIND, Action::Create));
    assert_eq!(
        build_reason(&converged(&desired), &desired),
        Some("the sign-in settings changed")
    );
}

#[test]
fn a_new_app_client_updates_one_variable_and_rebuilds() {
    let desired = signing_in_desired();
    let old = FrontendAuth {
        client_id: "0ldcl13nt".into(),
        ..pool_auth()
    };
    let observed = converged_with(&desired, &old);
    let steps = plan(&observed, Some(&desired));
    assert_eq!(steps[0].action, Action::Update);
    assert_eq!(steps[0].changes.len(), 1);
    assert_eq!(steps[0].changes[0].field, "environment.CHAT_AUTH_CLIENT_ID");
    assert_eq!(steps[0].changes[0].old, "0ldcl13nt");
    assert_eq!(steps[0].changes[0].new, "4n0th3rcl13nt1d");
    assert_eq!(steps[2].action, Action::Create);
}

#[test]
fn turning_sign_in_off_removes_the_variables_and_rebuilds() {
    let desired = static_desired();
    let mut observed = converged_with(&desired, &pool_auth());
    observed.apps[0]
        .environment
        .insert("ANALYTICS_ID".into(), "xyz".into());
    let steps = plan(&observed, Some(&desired));
    assert_eq!(steps[0].action, Action::Update);
    assert_eq!(steps[0].changes.len(), 7);
    assert!(
        steps[0].changes.iter().all(|c| c.new == "(none)"),
        "{:#?}",
        steps[0].changes
    );
    assert_eq!(
        build_reason(&observed, &desired),
        Some("the sign-in settings changed")
    );
    // What UpdateApp sends: the user's variable kept, chatctl's sign-in variables gone.
    let sent = environment::merged(observed.apps[0].environment.clone(), URL, None);
    let mut names: Vec<&str> = sent.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["ANALYTICS_ID", "CHAT_WEBSOCKET_URL"]);
    // And the other way: a variable of someone else's named like ours is chatctl's.
    let sent = environment::merged(
        [("CHAT_AUTH_LOGOUT_URL".to_owned(), "https://old/".to_owned())],
        URL,
        Some(&FrontendAuth {
            logout_url: None,
            ..pool_auth()
        }),
    );
    assert!(!sent.contains_key(AUTH_LOGOUT_URL_VARIABLE), "{sent:?}");
    assert_eq!(sent.len(), 7);
}
