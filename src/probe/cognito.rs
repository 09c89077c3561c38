//! `status --probe` with `[auth] provider = "cognito"`: two probe users in the stack's own
//! user pool sign in, and the probe's clients join with their ID tokens.
//!
//! Every run: AdminCreateUser (no message, no email) unless the user exists, a fresh random
//! password (AdminSetUserPassword, permanent), AdminInitiateAuth with
//! ADMIN_USER_PASSWORD_AUTH on the stack's app client. The password lives in memory for the
//! two calls that need it and is never stored, printed or logged; nobody (chatctl included)
//! knows it afterwards, so the probe users cannot be signed in to between runs except by
//! someone allowed to reset passwords in the pool anyway.

use std::fmt;

use anyhow::{Result, bail};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::operation::RequestId as _;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, MessageActionType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;

use super::tokens::{IdToken, ProbeToken, ProbeTokens};
use crate::resources::aws_error;

/// The probe users: names within the protocol's rule (1 to 32 of `A-Z a-z 0-9 _ -`).
pub const PROBE_USERS: [&str; 2] = ["chatctl-probe-a", "chatctl-probe-b"];
/// `ProbeReport::joined_with` for them.
pub const JOINED_WITH: &str = "cognito probe users";
/// The claim Cognito puts the user name in.
const NAME_CLAIM: &str = chat_handler::auth::COGNITO_NAME_CLAIM;
/// Two probes at once each set their own password; the one whose password was replaced
/// before it signed in tries again with a new one.
const SIGN_IN_ATTEMPTS: usize = 3;
/// Length of the generated password: Cognito allows up to 256; 40 random characters from
/// ~90 give over 250 bits.
const PASSWORD_LEN: usize = 40;

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";
/// A subset of the special characters Cognito's password policy counts (Cognito developer
/// guide, "Adding user pool password requirements": `^ $ * . [ ] { } ( ) ? " ! @ # % & / \ ,
/// > < ' : ; | _ ~ ` = + -` and the space); no quotes, backslash or space.
const SYMBOLS: &[u8] = b"^$*.[]{}()?!@#%&/,><:;|_~=+-";

/// A generated password. `Debug` shows `Password(***)`; there is no `Display`.
struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A fresh password meeting Cognito's default policy (and any stricter one up to 40
/// characters): at least one upper-case letter, lower-case letter, digit and symbol.
fn fresh_password() -> Password {
    use rand::Rng as _;
    use rand::seq::SliceRandom as _;
    // ThreadRng is a CSPRNG (ChaCha, seeded from the OS).
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[rng.random_range(0..set.len())];
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = vec![pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
    while chars.len() < PASSWORD_LEN {
        chars.push(pick(&all));
    }
    chars.shuffle(&mut rand::rng());
    Password(chars.into_iter().map(char::from).collect())
}

/// Signs the two probe users of `pool_id` in through `client_id` (which must allow
/// `ALLOW_ADMIN_USER_PASSWORD_AUTH`), creating them first if they are missing.
pub async fn cognito_tokens(
    cognito: &Client,
    pool_id: &str,
    client_id: &str,
) -> Result<ProbeTokens> {
    let [a, b] = PROBE_USERS;
    let sender = probe_user_token(cognito, pool_id, client_id, a).await?;
    let receiver = probe_user_token(cognito, pool_id, client_id, b).await?;
    ProbeTokens::new(sender, receiver, JOINED_WITH)
}

async fn probe_user_token(
    cognito: &Client,
    pool_id: &str,
    client_id: &str,
    user: &str,
) -> Result<ProbeToken> {
    ensure_user(cognito, pool_id, user).await?;
    let mut attempt = 1;
    loop {
        let password = fresh_password();
        set_password(cognito, pool_id, user, &password).await?;
        match sign_in(cognito, pool_id, client_id, user, &password).await? {
            Some(token) => {
                return ProbeToken::from_claim(token, NAME_CLAIM, &format!("probe user {user}"));
            }
            None if attempt < SIGN_IN_ATTEMPTS => attempt += 1,
            None => bail!(
                "probe user {user} of user pool {pool_id} could not sign in {SIGN_IN_ATTEMPTS} times in a row with the password just set (NotAuthorizedException): another `status --probe` may be running, or the user was disabled"
            ),
        }
    }
}

/// Creates the user without any message (no email, no phone: nothing to send to). A user of
/// that name that chatctl did not create this way is left alone.
async fn ensure_user(cognito: &Client, pool_id: &str, user: &str) -> Result<()> {
    let created = cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(user)
        .message_action(MessageActionType::Suppress)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_username_exists_exception()) =>
        {
            check_existing(cognito, pool_id, user).await
        }
        Err(err) => Err(aws_error(
            &format!("creating probe user {user} in user pool {pool_id}"),
            &err,
        )),
    }
}

/// A user chatctl created has no email address or phone number (the probe never gives one)
/// and is not waiting for a sign-up confirmation. Someone who signed up under the probe's
/// name through the hosted page has to confirm an email address or phone number: the probe
/// does not reset that person's password.
async fn check_existing(cognito: &Client, pool_id: &str, user: &str) -> Result<()> {
    let existing = cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(user)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                &format!("reading probe user {user} of user pool {pool_id}"),
                &e,
            )
        })?;
    let contact = existing
        .user_attributes()
        .iter()
        .find(|a| matches!(a.name(), "email" | "phone_number"))
        .map(|a| a.name().to_owned());
    let unconfirmed = existing
        .user_status()
        .is_some_and(|s| s.as_str() == "UNCONFIRMED");
    if let Some(attribute) = contact {
        bail!(
            "user {user} of user pool {pool_id} has an {attribute}: it was not created by `status --probe` (which gives its users none), so the probe does not reset its password; delete that user (aws cognito-idp admin-delete-user --user-pool-id {pool_id} --username {user}) to let the probe use the name"
        );
    }
    if unconfirmed {
        bail!(
            "user {user} of user pool {pool_id} signed up and is waiting for confirmation: it was not created by `status --probe`, so the probe does not reset its password; delete that user (aws cognito-idp admin-delete-user --user-pool-id {pool_id} --username {user}) to let the probe use the name"
        );
    }
    Ok(())
}

async fn set_password(
    cognito: &Client,
    pool_id: &str,
    user: &str,
    password: &Password,
) -> Result<()> {
    cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(user)
        .password(&password.0)
        .permanent(true)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                &format!("setting a new password for probe user {user} of user pool {pool_id}"),
                &e,
            )
        })?;
    Ok(())
}

/// The user's ID token; `None` when the password was refused (another probe set its own in
/// between).
async fn sign_in(
    cognito: &Client,
    pool_id: &str,
    client_id: &str,
    user: &str,
    password: &Password,
) -> Result<Option<IdToken>> {
    let answer = cognito
        .admin_initiate_auth()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", &password.0)
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_authorized_exception()) =>
        {
            tracing::debug!(
                user,
                request_id = err.request_id().unwrap_or_default(),
                message = err.message().unwrap_or_default(),
                "probe user sign-in refused"
            );
            return Ok(None);
        }
        Err(err) => {
            let mut error = aws_error(
                &format!(
                    "signing probe user {user} in to app client {client_id} of user pool {pool_id}"
                ),
                &err,
            );
            if err
                .as_service_error()
                .is_some_and(|e| e.is_invalid_parameter_exception())
            {
                error = error.context(format!(
                    "the app client {client_id} must allow ALLOW_ADMIN_USER_PASSWORD_AUTH (its ExplicitAuthFlows) for `status --probe`; `chatctl up` sets that on the client it creates"
                ));
            }
            return Err(error);
        }
    };
    if let Some(challenge) = out.challenge_name() {
        bail!(
            "probe user {user} of user pool {pool_id} was asked for {} instead of being signed in: the pool asks for more than a password (MFA?), which the probe cannot answer",
            challenge.as_str()
        );
    }
    let Some(id_token) = out.authentication_result().and_then(|r| r.id_token()) else {
        bail!("AdminInitiateAuth signed probe user {user} in without an ID token");
    };
    Ok(Some(IdToken::new(id_token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_meet_cognitos_default_policy_and_differ() {
        for _ in 0..200 {
            let Password(p) = fresh_password();
            assert_eq!(p.len(), PASSWORD_LEN);
            for set in [UPPER, LOWER, DIGITS, SYMBOLS] {
                assert!(p.bytes().any(|b| set.contains(&b)), "{p}");
            }
        }
        assert_ne!(fresh_password().0, fresh_password().0);
        assert_eq!(format!("{:?}", fresh_password()), "Password(***)");
    }

    #[test]
    fn probe_users_have_chat_names() {
        for user in PROBE_USERS {
            assert!(chat_handler::protocol::is_valid_name(user), "{user}");
        }
    }
}
