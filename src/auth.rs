//! What `[auth]` means for the stack: the API's identity mapping, and what `up` can deploy.
//!
//! The authorizer itself (token verification, API Gateway's REQUEST-authorizer contract) lives
//! in the handler crate, `chat_handler::auth`, so that the Lambda function and `chatctl dev`
//! run the same code.

use anyhow::{Result, bail};

use crate::chat_api::Identity;
use crate::config::Auth;

/// How the API learns who connects, for a provider.
pub fn identity(auth: &Auth) -> Identity {
    if auth.verifies_names() {
        Identity::Authorizer
    } else {
        Identity::ClientName
    }
}

/// `up`, `plan` and `status` deploy names verified by an authorizer only once the user pool,
/// the authorizer function and its wiring are part of the stack; until then they refuse rather
/// than deploy a stack whose names prove nothing while chatctl.toml says they do.
pub fn check_deployable(auth: &Auth) -> Result<()> {
    if auth.verifies_names() {
        bail!(
            "[auth] provider = \"{}\": this chatctl verifies names under `chatctl dev` (with its local sign-in) but cannot deploy the user pool and the $connect authorizer to AWS yet; to deploy now, set provider = \"none\" (names prove nothing)",
            auth.provider()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unverified_names_deploy_for_now() {
        assert!(check_deployable(&Auth::None).is_ok());
        let cognito = Auth::Cognito {
            name_claim: "cognito:username".into(),
        };
        let message = check_deployable(&cognito).unwrap_err().to_string();
        assert!(
            message.starts_with("[auth] provider = \"cognito\":"),
            "{message}"
        );
        assert!(message.contains("set provider = \"none\""), "{message}");
        assert_eq!(identity(&cognito), Identity::Authorizer);
        assert_eq!(identity(&Auth::None), Identity::ClientName);
    }
}
