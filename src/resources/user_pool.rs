//! The Cognito user pool of `[auth] provider = "cognito"` and its hosted sign-in domain.
//!
//! Pool names are not unique in an account, so the stack's pool is the one of its name that
//! carries its tags (DescribeUserPool returns `UserPoolTags` and `Domain`, so ownership and the
//! domain cost no extra read). A pool of the name without the tags is someone else's: it is
//! never changed, and the stack gets a pool of its own. The pool holds the users: deleting it
//! loses them, so `down` and a plan that removes it say so (like the table's items).

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use aws_sdk_cognitoidentityprovider::types::{
    AdminCreateUserConfigType, DeletionProtectionType, UsernameConfigurationType,
    VerifiedAttributeType,
};

use super::{Ctx, absent_if, aws_error, collect_pages};
use crate::ownership::Claim;
use crate::plan::{Action, FieldChange, Step};

pub const KIND: &str = "cognito user pool";
pub const DOMAIN_KIND: &str = "cognito domain";
/// What a deleted pool takes with it.
pub const DATA: &str = "its users (everyone who signed up to the chat)";

/// Cognito's reserved words: a domain prefix may not contain them ("Configuring a user pool
/// domain", Amazon Cognito developer guide: "You can't use the text aws, amazon, or cognito in
/// the domain prefix").
const RESERVED: &[&str] = &["aws", "amazon", "cognito"];
/// A domain prefix is at most 63 characters of lowercase letters, digits and hyphens.
const DOMAIN_MAX: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub arn: String,
    /// The hosted sign-in domain prefix, if the pool has one.
    pub domain: Option<String>,
    /// For choosing among duplicates: the oldest pool is the stack's.
    pub created: i64,
}

/// The stack's pools: `ours` (oldest first) and how many of the name were someone else's.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub ours: Vec<Observed>,
}

impl Inventory {
    pub fn primary(&self) -> Option<&Observed> {
        self.ours.first()
    }

    /// Pools of the stack beyond the first (a run killed while CreateUserPool answered).
    pub fn duplicates(&self) -> &[Observed] {
        self.ours.get(1..).unwrap_or_default()
    }
}

/// The domain prefix of the stack's hosted sign-in: `{stack}-{hash}`. Prefixes are unique per
/// region across all of AWS, so the stack name alone would collide with other accounts'; the
/// hash of account, region and stack keeps it stable for this stack and unlikely to be taken.
pub fn domain_prefix(stack: &str, region: &str, account: &str) -> String {
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(
        format!("{account}/{region}/{stack}").as_bytes(),
    ));
    let stack = stack.to_ascii_lowercase();
    let base = if RESERVED.iter().any(|word| stack.contains(word)) {
        "chatctl".to_owned()
    } else {
        stack
    };
    let keep = DOMAIN_MAX - 9;
    let base = base.get(..keep.min(base.len())).unwrap_or(&base);
    format!("{}-{}", base.trim_end_matches('-'), &hash[..8])
}

/// The hosted sign-in's base URL (`https://{prefix}.auth.{region}.amazoncognito.com`).
pub fn hosted_ui_url(prefix: &str, region: &str) -> String {
    format!("https://{prefix}.auth.{region}.amazoncognito.com")
}

/// The pool's issuer, exactly as its ID tokens carry it in `iss`.
pub fn issuer(pool_id: &str, region: &str, dns_suffix: &str) -> String {
    format!("https://cognito-idp.{region}.{dns_suffix}/{pool_id}")
}

/// The ids of the pools named after the stack (anyone's: names are not unique).
pub async fn named(ctx: &Ctx) -> Result<Vec<String>> {
    let client = &ctx.aws.cognito;
    let name = &ctx.names.user_pool;
    collect_pages(|token| async move {
        let page = client
            .list_user_pools()
            .max_results(60)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error("listing Cognito user pools", &e))?;
        let ids: Vec<String> = page
            .user_pools()
            .iter()
            .filter(|p| p.name() == Some(name.as_str()))
            .filter_map(|p| p.id().map(str::to_owned))
            .collect();
        Ok((ids, page.next_token().map(str::to_owned)))
    })
    .await
}

/// Which of the pools `ids` are the stack's (by their tags).
pub async fn describe(ctx: &Ctx, ids: &[String]) -> Result<Inventory> {
    let client = &ctx.aws.cognito;
    let described = futures::future::try_join_all(ids.iter().map(|id| async move {
        let out = absent_if(
            client.describe_user_pool().user_pool_id(id).send().await,
            aws_sdk_cognitoidentityprovider::operation::describe_user_pool::DescribeUserPoolError::is_resource_not_found_exception,
        )
        .map_err(|e| aws_error(&format!("reading user pool {id}"), &e))?;
        Ok::<_, anyhow::Error>(out.and_then(|o| o.user_pool))
    }))
    .await?;
    let mut ours: Vec<Observed> = described
        .into_iter()
        .flatten()
        .filter(|pool| {
            let tags = pool.user_pool_tags().into_iter().flatten();
            Claim::of(&ctx.names, tags).is_ours_regional()
        })
        .map(|pool| Observed {
            id: pool.id().unwrap_or_default().to_owned(),
            arn: pool.arn().unwrap_or_default().to_owned(),
            domain: pool.domain().filter(|d| !d.is_empty()).map(str::to_owned),
            created: pool
                .creation_date()
                .map_or(0, aws_smithy_types::DateTime::secs),
        })
        .collect();
    ours.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    Ok(Inventory { ours })
}

/// The pool's and the domain's steps. `prefix` is `None` while the account id is unknown.
pub fn plan(ctx: &Ctx, pools: &Inventory, prefix: Option<&str>) -> Vec<Step> {
    let name = ctx.names.user_pool.clone();
    let wanted = prefix.unwrap_or("(known after apply)");
    let Some(pool) = pools.primary() else {
        return vec![
            Step::new(KIND, name, Action::Create),
            Step::new(DOMAIN_KIND, wanted.to_owned(), Action::Create),
        ];
    };
    let mut steps = vec![Step::new(KIND, name.clone(), Action::Keep).with_note(pool.id.clone())];
    steps.push(match pool.domain.as_deref() {
        None => Step::new(DOMAIN_KIND, wanted.to_owned(), Action::Create),
        Some(current) if prefix.is_none_or(|p| p == current) => {
            Step::new(DOMAIN_KIND, current.to_owned(), Action::Keep)
        }
        // A domain prefix cannot be renamed: the old one goes, the new one is made.
        Some(current) => Step {
            changes: vec![FieldChange::new("domain", current, wanted)],
            ..Step::new(DOMAIN_KIND, wanted.to_owned(), Action::Replace)
        },
    });
    steps.extend(pools.duplicates().iter().map(|dup| {
        Step::new(KIND, format!("{name} ({})", dup.id), Action::Delete)
            .with_note("duplicate tagged for this stack")
            .losing_data(DATA)
    }));
    steps
}

/// Creates the pool; returns it.
pub async fn create(ctx: &Ctx) -> Result<Observed> {
    let name = &ctx.names.user_pool;
    let tags: HashMap<String, String> = ctx.names.tags().into_iter().collect();
    let out = ctx
        .aws
        .cognito
        .create_user_pool()
        .pool_name(name)
        .set_user_pool_tags(Some(tags))
        // The chat name is the username: case-insensitive, so "Alice" cannot sign up beside
        // "alice" (the protocol's names are case-sensitive; Cognito then keeps the casing the
        // user signed up with).
        .username_configuration(
            UsernameConfigurationType::builder()
                .case_sensitive(false)
                .build()
                .map_err(|e| anyhow::anyhow!("building the username configuration: {e}"))?,
        )
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(false)
                .build(),
        )
        // `down` deletes the pool after its confirmation; deletion protection would make it
        // fail instead.
        .deletion_protection(DeletionProtectionType::Inactive)
        .send()
        .await
        .map_err(|e| aws_error(&format!("creating user pool {name}"), &e))?;
    let pool = out.user_pool.context("CreateUserPool returned no pool")?;
    Ok(Observed {
        id: pool.id().unwrap_or_default().to_owned(),
        arn: pool.arn().unwrap_or_default().to_owned(),
        domain: None,
        created: pool
            .creation_date()
            .map_or(0, aws_smithy_types::DateTime::secs),
    })
}

/// Gives the pool the domain `prefix`, replacing another one of the pool's.
pub async fn ensure_domain(ctx: &Ctx, pool: &Observed, prefix: &str) -> Result<()> {
    if pool.domain.as_deref() == Some(prefix) {
        return Ok(());
    }
    if let Some(old) = &pool.domain {
        delete_domain(ctx, &pool.id, old).await?;
    }
    ctx.aws
        .cognito
        .create_user_pool_domain()
        .domain(prefix)
        .user_pool_id(&pool.id)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{}; the prefix is derived from the stack name and the account, so another stack name ([app].name or --stage) gives another one",
                aws_error(&format!("creating the sign-in domain {prefix}"), &e)
            )
        })?;
    Ok(())
}

async fn delete_domain(ctx: &Ctx, pool_id: &str, prefix: &str) -> Result<()> {
    ctx.aws
        .cognito
        .delete_user_pool_domain()
        .domain(prefix)
        .user_pool_id(pool_id)
        .send()
        .await
        .map_err(|e| aws_error(&format!("deleting the sign-in domain {prefix}"), &e))?;
    Ok(())
}

/// Deletes the pool with its users and clients; its domain first (Cognito refuses to delete
/// a pool that still has one).
pub async fn delete(ctx: &Ctx, pool: &Observed) -> Result<()> {
    if let Some(prefix) = &pool.domain {
        delete_domain(ctx, &pool.id, prefix).await?;
    }
    absent_if(
        ctx.aws
            .cognito
            .delete_user_pool()
            .user_pool_id(&pool.id)
            .send()
            .await,
        aws_sdk_cognitoidentityprovider::operation::delete_user_pool::DeleteUserPoolError::is_resource_not_found_exception,
    )
    .map_err(|e| aws_error(&format!("deleting user pool {}", pool.id), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_prefixes_are_stable_valid_and_distinct() {
        let a = domain_prefix("chat-dev", "eu-west-1", "123456789012");
        assert_eq!(a, domain_prefix("chat-dev", "eu-west-1", "123456789012"));
        assert!(
            a.starts_with("chat-dev-") && a.len() == "chat-dev-".len() + 8,
            "{a}"
        );
        assert_ne!(a, domain_prefix("chat-dev", "us-east-1", "123456789012"));
        assert_ne!(a, domain_prefix("chat-dev", "eu-west-1", "210987654321"));
        let reserved = domain_prefix("aws-chat-dev", "eu-west-1", "1");
        assert!(reserved.starts_with("chatctl-"), "{reserved}");
        let long = domain_prefix(&format!("{}-{}", "a".repeat(20), "s".repeat(40)), "r", "1");
        assert!(long.len() <= DOMAIN_MAX, "{long}");
        for prefix in [a, reserved, long] {
            assert!(
                prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
    }

    #[test]
    fn urls_of_the_pool() {
        assert_eq!(
            hosted_ui_url("chat-dev-1a2b3c4d", "eu-west-1"),
            "https://chat-dev-1a2b3c4d.auth.eu-west-1.amazoncognito.com"
        );
        assert_eq!(
            issuer("eu-west-1_abc", "eu-west-1", "amazonaws.com"),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
    }
}
