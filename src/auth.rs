//! What `[auth]` means for the stack: the API's identity mapping.
//!
//! The authorizer itself (token verification, API Gateway's REQUEST-authorizer contract) lives
//! in the handler crate, `chat_handler::auth`, so that the Lambda function and `chatctl dev`
//! run the same code; what `up` deploys for it is `crate::stack::auth`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_providers_use_the_authorizer() {
        let cognito = Auth::Cognito {
            name_claim: "cognito:username".into(),
        };
        assert_eq!(identity(&cognito), Identity::Authorizer);
        assert_eq!(identity(&Auth::None), Identity::ClientName);
    }
}
