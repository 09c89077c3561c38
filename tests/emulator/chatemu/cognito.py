"""Cognito user pools as AWS answers the calls chatctl makes, patched into moto's model.

moto 5.2.5 serves user pools, app clients, domains, users and AdminInitiateAuth, but has no
tagging operations, validates none of the documented rules below, and merges
UpdateUserPoolClient into the existing client. Each rule names its source; selftest_auth.py
shows the wrong request failing and the right one passing; docs/aws-behaviour.md lists them.

Sources, cited by short name:
  [apiref]     Amazon Cognito user pools API reference, as shipped in botocore's cognito-idp
               model (CreateUserPoolDomain.Domain / DomainType pattern, CreateUserPoolClient
               members, UpdateUserPoolClient, TagResource, ExplicitAuthFlows).
  [prefix]     Cognito developer guide, "Using the Amazon Cognito prefix domain for managed
               login": the console's rule "You can't use the text aws, amazon, or cognito in
               the domain prefix" (quoted by AWS Solutions templates, e.g. the Landing Zone
               Accelerator's cognitoDomainPrefix parameter).
  [tf-16479]   hashicorp/terraform-provider-aws#16479, rebuy-de/aws-nuke#330: DeleteUserPool
               answers InvalidParameterException "User pool cannot be deleted. It has a domain
               configured that should be deleted first."
  [sls-10135]  serverless/serverless#10135: CreateUserPoolDomain with a prefix another pool
               holds answers InvalidParameterException "Domain already associated with another
               user pool."
  [crossfeed]  cisagov/crossfeed#440: UpdateUserPoolClient answers InvalidOAuthFlowException
               "CallbackUrls can not be empty when code flow or implicit flow is selected".
  [updating]   Cognito developer guide, "Updating user pool and app client configuration":
               "When you submit an update request with just one parameter, Amazon Cognito sets
               that parameter to the value of your choosing and sets all others to a default
               value."
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

from moto.cognitoidp import models as cm
from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError, ResourceNotFoundError
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult

# [apiref] DomainType: "^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$", 1-63 characters.
DOMAIN_PATTERN = r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$"
PREFIX = re.compile(DOMAIN_PATTERN)
# [prefix] words a prefix may not contain.
RESERVED_WORDS = ("aws", "amazon", "cognito")

DOMAIN_TAKEN = "Domain already associated with another user pool."
POOL_HAS_DOMAIN = "User pool cannot be deleted. It has a domain configured that should be deleted first."
CALLBACKS_NEEDED = "CallbackUrls can not be empty when code flow or implicit flow is selected"
# The message users report for a flow the client does not enable (AWS documents the rule,
# not the wording).
FLOW_NOT_ENABLED = "Auth flow not enabled for this client"
# [apiref] PreventUserExistenceErrors=ENABLED: "authentication returns an error indicating
# either the username or password was incorrect" (and AWS says so for a wrong password too).
BAD_CREDENTIALS = "Incorrect username or password."

# [apiref] CallbackURLs: "Amazon Cognito requires HTTPS over HTTP except for callback URLs to
# http://localhost, http://127.0.0.1 and http://[::1] ... You can specify custom TCP ports ...
# App callback URLs such as myapp://example are also supported." and "Not include a fragment
# component."
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# [apiref] ExplicitAuthFlows: "You can't assign these legacy ExplicitAuthFlows values to user
# pool clients at the same time as values that begin with ALLOW_".
LEGACY_FLOWS = {"ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY", "USER_PASSWORD_AUTH"}
# [apiref] ExplicitAuthFlows: "If you don't specify a value for ExplicitAuthFlows, your app
# client supports ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_SRP_AUTH, and ALLOW_CUSTOM_AUTH."
DEFAULT_FLOWS = ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"]
# Which ExplicitAuthFlows value lets AdminInitiateAuth use a flow ("ALLOW_ADMIN_USER_PASSWORD_AUTH
# ... replaces the ADMIN_NO_SRP_AUTH setting").
ADMIN_PASSWORD_FLOWS = {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"}
# [apiref] AllowedOAuthFlowsUserPoolClient: "This parameter must have a value of true before
# you can configure the following features in your app client": these members.
OAUTH_MEMBERS = ("CallbackURLs", "LogoutURLs", "AllowedOAuthScopes", "AllowedOAuthFlows")
# [apiref] SupportedIdentityProviders: "The following are supported: COGNITO, Facebook, Google,
# SignInWithApple, and LoginWithAmazon. You can also specify the names that you configured for
# the SAML and OIDC IdPs in your user pool".
BUILT_IN_PROVIDERS = {"COGNITO", "Facebook", "Google", "SignInWithApple", "LoginWithAmazon"}
# [apiref] TagResource: "A user pool can have as many as 50 tags."
MAX_TAGS = 50


class InvalidOAuthFlowException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidOAuthFlowException", message)


# --- domains -------------------------------------------------------------------------------

def check_prefix(domain: Any) -> None:
    if not isinstance(domain, str) or not PREFIX.fullmatch(domain):
        # AWS's generic validation message for a pattern constraint.
        raise InvalidParameterException(
            f"1 validation error detected: Value '{domain}' at 'domain' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {DOMAIN_PATTERN}")
    for word in RESERVED_WORDS:
        if word in domain:
            raise InvalidParameterException(
                f"Invalid domain prefix {domain}: a prefix domain can't contain aws, amazon, or cognito")


_orig_create_domain = cm.CognitoIdpBackend.create_user_pool_domain


def _create_user_pool_domain(self: cm.CognitoIdpBackend, user_pool_id: str, domain: str,
                             custom_domain_config: dict[str, str] | None = None) -> Any:
    self.describe_user_pool(user_pool_id)
    if not custom_domain_config:
        check_prefix(domain)
    # [sls-10135] a prefix is the host name {prefix}.auth.{region}.amazoncognito.com: one pool
    # per region holds it (moto kept the last pool that asked).
    if domain in self.user_pool_domains:
        raise InvalidParameterException(DOMAIN_TAKEN)
    return _orig_create_domain(self, user_pool_id, domain, custom_domain_config)


def _delete_user_pool(self: cm.CognitoIdpBackend, user_pool_id: str) -> None:
    pool = self.describe_user_pool(user_pool_id)
    if pool.domain is not None:  # [tf-16479]
        raise InvalidParameterException(POOL_HAS_DOMAIN)
    del self.user_pools[user_pool_id]


# --- app clients ------------------------------------------------------------------------------

def check_callback_url(member: str, url: Any) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or not parts.scheme or not (parts.netloc or parts.path):
        raise InvalidParameterException(f"Invalid {member}: {url} is not an absolute URI")
    if parts.fragment or url.endswith("#"):
        raise InvalidParameterException(f"Invalid {member}: {url} must not include a fragment")
    if parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK_HOSTS:
        raise InvalidParameterException(
            f"Invalid {member}: {url}. Amazon Cognito requires HTTPS except for http://localhost, "
            "http://127.0.0.1 and http://[::1]")


def check_client(pool: cm.CognitoIdpUserPool, config: dict[str, Any]) -> None:
    """The documented rules of CreateUserPoolClient / UpdateUserPoolClient, on the request
    (an update replaces the whole configuration, so the request is the whole client)."""
    oauth = bool(config.get("AllowedOAuthFlowsUserPoolClient"))
    for member in OAUTH_MEMBERS:
        if config.get(member) and not oauth:
            raise InvalidParameterException(
                f"{member} can be set only when AllowedOAuthFlowsUserPoolClient is true")
    for url in config.get("CallbackURLs") or []:
        check_callback_url("CallbackURLs", url)
    # [apiref] DefaultRedirectURI: "Must be in the CallbackURLs list."
    default = config.get("DefaultRedirectURI")
    if default and default not in (config.get("CallbackURLs") or []):
        raise InvalidParameterException("DefaultRedirectURI must be one of the CallbackURLs")
    flows = config.get("AllowedOAuthFlows") or []
    # [apiref] AllowedOAuthFlows: "you must add client_credentials as the only allowed OAuth flow".
    if "client_credentials" in flows and len(flows) > 1:
        raise InvalidOAuthFlowException("client_credentials flow can not be selected with code or implicit flow")
    # [crossfeed] the code and implicit grants redirect to a callback URL.
    if {"code", "implicit"} & set(flows) and not config.get("CallbackURLs"):
        raise InvalidOAuthFlowException(CALLBACKS_NEEDED)
    explicit = set(config.get("ExplicitAuthFlows") or [])
    if explicit & LEGACY_FLOWS and any(f.startswith("ALLOW_") for f in explicit):
        raise InvalidParameterException(
            "ExplicitAuthFlows can not have both legacy values (ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, "
            "USER_PASSWORD_AUTH) and ALLOW_ values")
    for provider in config.get("SupportedIdentityProviders") or []:
        if provider not in BUILT_IN_PROVIDERS and provider not in pool.identity_providers:
            raise InvalidParameterException(f"The provider {provider} does not exist for User Pool {pool.id}")


_orig_create_client = cm.CognitoIdpBackend.create_user_pool_client


def _create_user_pool_client(self: cm.CognitoIdpBackend, user_pool_id: str, generate_secret: bool,
                             extended_config: dict[str, Any]) -> Any:
    check_client(self.describe_user_pool(user_pool_id), extended_config)
    return _orig_create_client(self, user_pool_id, generate_secret, extended_config)


def _update_user_pool_client(self: cm.CognitoIdpBackend, user_pool_id: str, client_id: str,
                             extended_config: dict[str, Any]) -> Any:
    pool = self.describe_user_pool(user_pool_id)
    client = pool.clients.get(client_id)
    if not client:
        raise ResourceNotFoundError(client_id)
    check_client(pool, extended_config)
    # [updating] / [apiref] UpdateUserPoolClient: "If you don't provide a value for an
    # attribute, Amazon Cognito sets it to its default value." The defaults are those of a
    # fresh client; the name is kept when the request leaves it out (a client has no default
    # name), as are the id and the secret, which no update can change.
    fresh = cm.CognitoIdpUserPoolClient(user_pool_id, False, None).extended_config
    name = client.extended_config.get("ClientName")
    client.extended_config = {**fresh, **extended_config}
    client.extended_config.setdefault("ClientName", name)
    return client


# --- sign-in --------------------------------------------------------------------------------

_orig_admin_initiate_auth = cm.CognitoIdpBackend.admin_initiate_auth


def _admin_initiate_auth(self: cm.CognitoIdpBackend, user_pool_id: str, client_id: str, auth_flow: str,
                         auth_parameters: dict[str, str]) -> Any:
    pool = self.describe_user_pool(user_pool_id)
    client = pool.clients.get(client_id)
    if client is None:
        raise ResourceNotFoundError(client_id)
    if auth_flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
        # [apiref] ExplicitAuthFlows: the client must enable the flow; without the member it
        # enables only refresh, SRP and custom auth.
        explicit = client.extended_config.get("ExplicitAuthFlows") or DEFAULT_FLOWS
        if not ADMIN_PASSWORD_FLOWS & set(explicit):
            raise InvalidParameterException(FLOW_NOT_ENABLED)
        username = (auth_parameters or {}).get("USERNAME")
        user = pool._get_user(username) if username else None
        hide = client.extended_config.get("PreventUserExistenceErrors") == "ENABLED"
        if user is None and hide:
            raise NotAuthorizedError(BAD_CREDENTIALS)
        if user is not None and user.enabled and user.password != (auth_parameters or {}).get("PASSWORD"):
            # moto answered with the user name as the message.
            raise NotAuthorizedError(BAD_CREDENTIALS)
    return _orig_admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)


# --- tags -------------------------------------------------------------------------------------
# A pool's tags live where CreateUserPool put them (extended_config["UserPoolTags"]), so
# DescribeUserPool's UserPoolTags and ListTagsForResource always agree.

def check_tag_count(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterException(f"A user pool can have as many as {MAX_TAGS} tags; {len(tags)} given")


def pool_by_arn(backend: cm.CognitoIdpBackend, arn: str) -> cm.CognitoIdpUserPool:
    for pool in backend.user_pools.values():
        if pool.arn == arn:
            return pool
    raise ResourceNotFoundError(f"Resource {arn} does not exist.")


_orig_create_pool = cm.CognitoIdpBackend.create_user_pool


def _create_user_pool(self: cm.CognitoIdpBackend, name: str, extended_config: dict[str, Any]) -> Any:
    check_tag_count(extended_config.get("UserPoolTags") or {})
    return _orig_create_pool(self, name, extended_config)


def _resp_tag_resource(self: CognitoIdpResponse) -> ActionResult:
    pool = pool_by_arn(self.backend, self._get_param("ResourceArn"))
    tags = {**(pool.extended_config.get("UserPoolTags") or {}), **(self._get_param("Tags") or {})}
    check_tag_count(tags)
    pool.extended_config["UserPoolTags"] = tags
    return EmptyResult()


def _resp_untag_resource(self: CognitoIdpResponse) -> ActionResult:
    pool = pool_by_arn(self.backend, self._get_param("ResourceArn"))
    keys = set(self._get_param("TagKeys") or [])
    tags = pool.extended_config.get("UserPoolTags") or {}
    pool.extended_config["UserPoolTags"] = {k: v for k, v in tags.items() if k not in keys}
    return EmptyResult()


def _resp_list_tags_for_resource(self: CognitoIdpResponse) -> ActionResult:
    pool = pool_by_arn(self.backend, self._get_param("ResourceArn"))
    return ActionResult({"Tags": dict(pool.extended_config.get("UserPoolTags") or {})})


@functools.cache
def apply() -> None:
    """Patches moto once (later calls do nothing)."""
    cm.CognitoIdpBackend.create_user_pool = _create_user_pool  # type: ignore[method-assign]
    cm.CognitoIdpBackend.delete_user_pool = _delete_user_pool  # type: ignore[method-assign]
    cm.CognitoIdpBackend.create_user_pool_domain = _create_user_pool_domain  # type: ignore[method-assign]
    cm.CognitoIdpBackend.create_user_pool_client = _create_user_pool_client  # type: ignore[method-assign]
    cm.CognitoIdpBackend.update_user_pool_client = _update_user_pool_client  # type: ignore[method-assign]
    cm.CognitoIdpBackend.admin_initiate_auth = _admin_initiate_auth  # type: ignore[method-assign]
    CognitoIdpResponse.tag_resource = _resp_tag_resource  # type: ignore[attr-defined]
    CognitoIdpResponse.untag_resource = _resp_untag_resource  # type: ignore[attr-defined]
    CognitoIdpResponse.list_tags_for_resource = _resp_list_tags_for_resource  # type: ignore[attr-defined]
