//! The names and ownership tags of a stack's resources, derived from `{app}-{stage}` and the
//! region.

use std::collections::BTreeMap;

use serde::Serialize;

/// Names of every resource of a stack, derived from `{app}-{stage}` and the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    pub stack: String,
    pub region: String,
    /// IAM is global while stacks are regional: the two role names carry the region
    /// ([`iam_name`]), so two regions of one stack never share a role.
    pub logs_role: String,
    pub backend_role: String,
    /// The role names of stacks deployed before roles carried the region. Such a role is
    /// adopted, never renamed (docs/decisions.md, "Regions are independent").
    pub legacy_logs_role: String,
    pub legacy_backend_role: String,
    pub api: String,
    pub access_log_group: String,
    pub lock_log_group: String,
    pub backend_policy: String,
    pub table: String,
    pub function: String,
    /// The function's log group; chatctl creates it (tagged) before the function, which
    /// would otherwise get an untagged one from Lambda on its first invocation.
    pub function_log_group: String,
    pub amplify_app: String,
    /// The Cognito user pool (`[auth] provider = "cognito"`); pool names are not unique, so
    /// pools are found by this name and the stack's tags.
    pub user_pool: String,
    /// The pool's public app client used by the web app (and by `status --probe`).
    pub user_pool_client: String,
    /// The `$connect` authorizer function and its log group.
    pub authorizer_function: String,
    pub authorizer_log_group: String,
    /// The API Gateway authorizer on `$connect` (a child of the API).
    pub api_authorizer: String,
}

/// Tag keys that mark everything chatctl creates for a stack: the stack and the region it
/// was created from. A resource found by name is chatctl's only with them
/// (`crate::ownership`); names of API Gateway APIs are not even unique, so APIs are found by
/// the stack tag alone.
pub const STACK_TAG: &str = "chatctl:stack";
pub const REGION_TAG: &str = "chatctl:region";

/// IAM role names are at most 64 characters
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
pub const IAM_NAME_MAX: usize = 64;

/// `{stack}-{region}-{suffix}`, or, when that is longer than IAM allows,
/// `{stack, shortened}-{hash}-{region}-{suffix}` where the hash (8 hex digits of SHA-256 of
/// the full name) keeps two shortened stacks apart. Region and suffix always stay whole, so
/// the name says which region's stack it belongs to.
pub fn iam_name(stack: &str, region: &str, suffix: &str) -> String {
    use sha2::Digest as _;
    let full = format!("{stack}-{region}-{suffix}");
    if full.len() <= IAM_NAME_MAX {
        return full;
    }
    let hash = hex::encode(sha2::Sha256::digest(full.as_bytes()));
    let hash = &hash[..8];
    let keep = IAM_NAME_MAX.saturating_sub(region.len() + suffix.len() + hash.len() + 3);
    // Stack names are ASCII (validated), so any byte index is a character boundary.
    let prefix = stack.get(..keep.min(stack.len())).unwrap_or(stack);
    let prefix = prefix.trim_end_matches('-');
    format!("{prefix}-{hash}-{region}-{suffix}")
}

impl Names {
    pub fn new(stack: &str, region: &str) -> Self {
        let function = format!("{stack}-backend");
        let authorizer_function = format!("{stack}-authorizer");
        Self {
            stack: stack.to_owned(),
            region: region.to_owned(),
            logs_role: iam_name(stack, region, "apigw-logs"),
            backend_role: iam_name(stack, region, "backend"),
            legacy_logs_role: format!("{stack}-apigw-logs"),
            legacy_backend_role: format!("{stack}-backend"),
            api: stack.to_owned(),
            access_log_group: format!("/chatctl/{stack}/access"),
            lock_log_group: format!("/chatctl/{stack}/lock"),
            backend_policy: format!("{stack}-backend"),
            table: format!("{stack}-connections"),
            function_log_group: crate::resources::log_groups::function_log_group(&function),
            function,
            amplify_app: stack.to_owned(),
            user_pool: stack.to_owned(),
            user_pool_client: format!("{stack}-web"),
            authorizer_log_group: crate::resources::log_groups::function_log_group(
                &authorizer_function,
            ),
            authorizer_function,
            api_authorizer: "token".to_owned(),
        }
    }

    /// The ownership tags every resource of the stack gets at creation.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (STACK_TAG.to_owned(), self.stack.clone()),
            (REGION_TAG.to_owned(), self.region.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_names_keep_regions_apart_and_stay_inside_the_limit() {
        let europe = Names::new("chat-dev", "eu-west-1");
        let america = Names::new("chat-dev", "us-east-1");
        assert_eq!(europe.logs_role, "chat-dev-eu-west-1-apigw-logs");
        assert_ne!(europe.logs_role, america.logs_role);
        assert_ne!(europe.backend_role, america.backend_role);
        assert_eq!(europe.legacy_logs_role, "chat-dev-apigw-logs");
        assert_eq!(europe.tags()[REGION_TAG], "eu-west-1");
        // The longest app and stage names with a long region.
        let app = "a".repeat(20);
        let stage = "s".repeat(32);
        let long = |stage: &str, region: &str| Names::new(&format!("{app}-{stage}"), region);
        let longest = long(&stage, "ap-southeast-5");
        for name in [&longest.logs_role, &longest.backend_role] {
            assert!(name.len() <= IAM_NAME_MAX, "{name}");
            assert!(name.contains("-ap-southeast-5-"), "{name}");
        }
        // Shortened names of different stacks, or regions, stay distinct.
        let shorter_stage = long(&"s".repeat(31), "ap-southeast-5");
        let other_region = long(&stage, "ap-southeast-4");
        assert_ne!(longest.logs_role, shorter_stage.logs_role);
        assert_ne!(longest.logs_role, other_region.logs_role);
        assert!(
            Names::new(&format!("{app}-{stage}"), &"x".repeat(25))
                .logs_role
                .len()
                <= IAM_NAME_MAX
        );
    }
}
