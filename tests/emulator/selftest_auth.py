"""Self-tests of sign-in: Cognito user pools (chatemu/cognito.py) and WebSocket Lambda
authorizers (chatemu/authorizers.py).

Each rule test sends the request AWS rejects, checks the refusal, then the request AWS
documents; the happy-path tests make every call chatctl makes for `[auth] provider =
"cognito"`. Imported by selftest.py, whose runner resets the emulator before each test.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from selftest import ACCOUNT, LAMBDA_TRUST, REGION, client, create_role, expect_error, http, make_zip, test

CALLBACK = "https://d1234567890abc.amplifyapp.com/"
CLIENT = {
    "ClientName": "chat-web",
    "GenerateSecret": False,
    "AllowedOAuthFlows": ["code"],
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthScopes": ["openid", "profile", "email"],
    "CallbackURLs": [CALLBACK],
    "LogoutURLs": [CALLBACK],
    "SupportedIdentityProviders": ["COGNITO"],
    "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    "PreventUserExistenceErrors": "ENABLED",
}
TAGS = {"chatctl:stack": "chat-dev", "chatctl:managed": "true"}
PASSWORD = "Probe-Passw0rd!"


def pool(name: str = "chat-dev-users", **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "PoolName": name,
        "UserPoolTags": dict(TAGS),
        "AutoVerifiedAttributes": ["email"],
        "UsernameConfiguration": {"CaseSensitive": False},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
        "DeletionProtection": "INACTIVE",
    }
    args.update(extra)
    return client("cognito-idp").create_user_pool(**args)["UserPool"]


def app_client(pool_id: str, **overrides: Any) -> dict[str, Any]:
    args = dict(CLIENT, **overrides)
    args = {k: v for k, v in args.items() if v is not None}
    return client("cognito-idp").create_user_pool_client(UserPoolId=pool_id, **args)["UserPoolClient"]


def b64json(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- Cognito: the happy path of every call ---------------------------------------------------

@test
def cognito_pool_client_domain_round_trip() -> None:
    idp = client("cognito-idp")
    created = pool()
    pool_id, arn = created["Id"], created["Arn"]
    assert arn == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool_id}", arn
    for i in range(3):
        pool(f"other-{i}")
    # ListUserPools pages with NextToken.
    seen, token = [], None
    while True:
        page = idp.list_user_pools(MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [p["Id"] for p in page["UserPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == 4 and pool_id in seen, seen
    described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert described["UserPoolTags"] == TAGS, described
    assert described["UsernameConfiguration"] == {"CaseSensitive": False}
    assert "Domain" not in described

    c = app_client(pool_id)
    assert "ClientSecret" not in c and c["AllowedOAuthFlows"] == ["code"], c
    listed = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    assert [x["ClientId"] for x in listed] == [c["ClientId"]]
    got = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert got["CallbackURLs"] == [CALLBACK] and got["PreventUserExistenceErrors"] == "ENABLED", got

    idp.create_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=pool_id)
    assert idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Domain"] == "chat-dev-3f9a1c"
    domain = idp.describe_user_pool_domain(Domain="chat-dev-3f9a1c")["DomainDescription"]
    assert domain["UserPoolId"] == pool_id and domain["Status"] == "ACTIVE", domain
    assert idp.describe_user_pool_domain(Domain="nobody-has-this")["DomainDescription"] == {}

    # Teardown in the order AWS requires: domain, client, pool.
    idp.delete_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=pool_id)
    idp.delete_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])
    idp.delete_user_pool(UserPoolId=pool_id)
    expect_error("ResourceNotFoundException", lambda: idp.describe_user_pool(UserPoolId=pool_id))


@test
def cognito_tags_agree_with_user_pool_tags() -> None:
    idp = client("cognito-idp")
    created = pool()
    arn = created["Arn"]
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == TAGS
    idp.tag_resource(ResourceArn=arn, Tags={"team": "chat"})
    idp.untag_resource(ResourceArn=arn, TagKeys=["chatctl:managed"])
    want = {"chatctl:stack": "chat-dev", "team": "chat"}
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == want
    assert idp.describe_user_pool(UserPoolId=created["Id"])["UserPool"]["UserPoolTags"] == want
    missing = arn.rsplit("/", 1)[0] + "/eu-west-1_nothere"
    expect_error("ResourceNotFoundException", lambda: idp.list_tags_for_resource(ResourceArn=missing))
    # TagResource: "A user pool can have as many as 50 tags."
    expect_error("InvalidParameterException",
                 lambda: idp.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(49)}))
    idp.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(48)})
    expect_error("InvalidParameterException",
                 lambda: pool("too-many", UserPoolTags={f"k{i}": "v" for i in range(51)}))


@test
def cognito_probe_user_signs_in_and_the_id_token_is_cognitos() -> None:
    idp = client("cognito-idp")
    pool_id = pool()["Id"]
    c = app_client(pool_id)
    idp.admin_create_user(UserPoolId=pool_id, Username="chatctl-probe", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username="chatctl-probe", Password=PASSWORD, Permanent=True)
    result = idp.admin_initiate_auth(
        UserPoolId=pool_id, ClientId=c["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "chatctl-probe", "PASSWORD": PASSWORD})["AuthenticationResult"]
    header, claims = (b64json(p) for p in result["IdToken"].split(".")[:2])
    assert header == {"typ": "JWT", "kid": "dummy", "alg": "RS256"}, header
    assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}", claims
    assert claims["aud"] == c["ClientId"] and claims["token_use"] == "id", claims
    assert claims["cognito:username"] == "chatctl-probe" and claims["exp"] - claims["iat"] == 3600, claims
    # The pool's JWKS, where chatctl's authorizer is pointed in tests; it holds the token's kid.
    status, _, jwks = http("GET", f"/{pool_id}/.well-known/jwks.json")
    assert status == 200 and [k["kid"] for k in jwks["keys"]] == ["dummy"], jwks
    status, _, discovery = http("GET", f"/{pool_id}/.well-known/openid-configuration")
    assert status == 200 and discovery["issuer"] == claims["iss"], discovery
    assert discovery["jwks_uri"].endswith(f"/{pool_id}/.well-known/jwks.json"), discovery
    from selftest import calls
    logged = [(e["service"], e["operation"], e["write"]) for e in calls() if e["service"] == "cognito-idp"]
    assert ("cognito-idp", "GET /{userPoolId}/.well-known/jwks.json", False) in logged, logged
    assert ("cognito-idp", "AdminInitiateAuth", True) in logged, logged
    idp.admin_delete_user(UserPoolId=pool_id, Username="chatctl-probe")
    expect_error("UserNotFoundException", lambda: idp.admin_get_user(UserPoolId=pool_id, Username="chatctl-probe"))


# --- Cognito: the rules -------------------------------------------------------------------------

@test
def cognito_domain_prefix_format_and_reserved_words() -> None:
    idp = client("cognito-idp")
    pool_id = pool()["Id"]
    for bad in ("Chat-Dev", "-chat", "chat-", "chat_dev", "chat.dev", "a" * 64, "my-aws-chat", "amazonchat",
                "chat-cognito"):
        expect_error("InvalidParameterException",
                     lambda bad=bad: idp.create_user_pool_domain(Domain=bad, UserPoolId=pool_id))
    idp.create_user_pool_domain(Domain="chat-dev-0", UserPoolId=pool_id)


@test
def cognito_domain_prefix_is_unique_per_region() -> None:
    idp = client("cognito-idp")
    first, second = pool("one")["Id"], pool("two")["Id"]
    idp.create_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=first)
    expect_error("InvalidParameterException",
                 lambda: idp.create_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=second),
                 "Domain already associated with another user pool.")
    assert idp.describe_user_pool_domain(Domain="chat-dev-3f9a1c")["DomainDescription"]["UserPoolId"] == first
    # Another region has its own host name ({prefix}.auth.{region}.amazoncognito.com).
    other = client("cognito-idp", "us-east-1")
    other_pool = other.create_user_pool(PoolName="elsewhere")["UserPool"]["Id"]
    other.create_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=other_pool)


@test
def cognito_pool_with_a_domain_cannot_be_deleted() -> None:
    idp = client("cognito-idp")
    pool_id = pool()["Id"]
    idp.create_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=pool_id)
    expect_error("InvalidParameterException", lambda: idp.delete_user_pool(UserPoolId=pool_id),
                 "User pool cannot be deleted. It has a domain configured that should be deleted first.")
    idp.describe_user_pool(UserPoolId=pool_id)  # still there
    idp.delete_user_pool_domain(Domain="chat-dev-3f9a1c", UserPoolId=pool_id)
    idp.delete_user_pool(UserPoolId=pool_id)


@test
def cognito_callback_urls_need_https_except_loopback() -> None:
    pool_id = pool()["Id"]
    for bad in ("http://chat.example.com/", "http://192.168.1.2/cb", "/relative/path", "https://chat.example.com/#x"):
        for member in ("CallbackURLs",):
            expect_error("InvalidParameterException",
                         lambda bad=bad, member=member: app_client(pool_id, **{member: [bad]}))
    for good in ("https://chat.example.com/", "http://localhost:5173/", "http://127.0.0.1:8080/cb",
                 "http://[::1]:3000/", "myapp://callback"):
        app_client(pool_id, CallbackURLs=[good])
    # DefaultRedirectURI: "Must be in the CallbackURLs list."
    expect_error("InvalidParameterException",
                 lambda: app_client(pool_id, DefaultRedirectURI="https://elsewhere.example.com/"))
    app_client(pool_id, DefaultRedirectURI=CALLBACK)


@test
def cognito_oauth_settings_need_the_oauth_switch_and_callbacks() -> None:
    pool_id = pool()["Id"]
    # AllowedOAuthFlowsUserPoolClient "must have a value of true before you can configure" them.
    expect_error("InvalidParameterException", lambda: app_client(pool_id, AllowedOAuthFlowsUserPoolClient=False))
    expect_error("InvalidParameterException", lambda: app_client(pool_id, AllowedOAuthFlowsUserPoolClient=None))
    # The code grant redirects to a callback URL.
    expect_error("InvalidOAuthFlowException", lambda: app_client(pool_id, CallbackURLs=None, LogoutURLs=None),
                 "CallbackUrls can not be empty when code flow or implicit flow is selected")
    # client_credentials must be the only flow.
    expect_error("InvalidOAuthFlowException",
                 lambda: app_client(pool_id, AllowedOAuthFlows=["code", "client_credentials"]))
    # Legacy ExplicitAuthFlows values don't mix with ALLOW_ ones.
    expect_error("InvalidParameterException",
                 lambda: app_client(pool_id, ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]))
    # Identity providers must exist (COGNITO always does).
    expect_error("InvalidParameterException", lambda: app_client(pool_id, SupportedIdentityProviders=["MyIdP"]))
    # Without OAuth at all, a client for SDK sign-in only is fine.
    client("cognito-idp").create_user_pool_client(UserPoolId=pool_id, ClientName="sdk-only")
    app_client(pool_id)


@test
def cognito_update_user_pool_client_replaces_the_whole_client() -> None:
    idp = client("cognito-idp")
    pool_id = pool()["Id"]
    c = app_client(pool_id)
    # Only the callback URLs sent: everything else returns to its default, so the OAuth
    # switch is off again and the callbacks are refused, as AWS does.
    expect_error("InvalidParameterException", lambda: idp.update_user_pool_client(
        UserPoolId=pool_id, ClientId=c["ClientId"], CallbackURLs=["https://new.example.com/"]))
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"], RefreshTokenValidity=10)
    got = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert got["ClientName"] == "chat-web" and got["RefreshTokenValidity"] == 10, got
    for gone in ("AllowedOAuthFlows", "CallbackURLs", "ExplicitAuthFlows", "PreventUserExistenceErrors"):
        assert gone not in got, (gone, got)
    assert got["AllowedOAuthFlowsUserPoolClient"] is False, got
    # The full configuration, as chatctl sends it, round-trips.
    full = {k: v for k, v in CLIENT.items() if k != "GenerateSecret"}
    full["CallbackURLs"] = ["https://new.example.com/"]
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"], **full)
    got = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert {k: got[k] for k in full} == full, got
    expect_error("ResourceNotFoundException", lambda: idp.update_user_pool_client(
        UserPoolId=pool_id, ClientId="nosuchclient", ClientName="x"))


@test
def cognito_admin_password_auth_needs_the_clients_explicit_flow() -> None:
    idp = client("cognito-idp")
    pool_id = pool()["Id"]
    idp.admin_create_user(UserPoolId=pool_id, Username="chatctl-probe", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username="chatctl-probe", Password=PASSWORD, Permanent=True)

    def sign_in(client_id: str, username: str = "chatctl-probe", password: str = PASSWORD) -> Any:
        return idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": username, "PASSWORD": password})

    # Without ExplicitAuthFlows a client allows only refresh, SRP and custom auth.
    bare = app_client(pool_id, ExplicitAuthFlows=None)["ClientId"]
    expect_error("InvalidParameterException", lambda: sign_in(bare), "Auth flow not enabled for this client")
    srp_only = app_client(pool_id, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["ClientId"]
    expect_error("InvalidParameterException", lambda: sign_in(srp_only))
    good = app_client(pool_id)["ClientId"]
    assert sign_in(good)["AuthenticationResult"]["IdToken"]
    # PreventUserExistenceErrors=ENABLED: an unknown user and a wrong password look the same.
    expect_error("NotAuthorizedException", lambda: sign_in(good, password="Wrong-Passw0rd!"),
                 "Incorrect username or password.")
    expect_error("NotAuthorizedException", lambda: sign_in(good, username="nobody"),
                 "Incorrect username or password.")


# --- API Gateway v2: WebSocket Lambda authorizers ----------------------------------------------

def authorizer_function() -> str:
    role = create_role("chat-authorizer-role", LAMBDA_TRUST)
    return client("lambda").create_function(
        FunctionName="chat-dev-authorizer", Runtime="provided.al2023", Role=role, Handler="bootstrap",
        Code={"ZipFile": make_zip(b"#!/bin/sh\n")})["FunctionArn"]


def invocation_uri(function_arn: str, region: str = REGION) -> str:
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def ws_api() -> str:
    return client("apigatewayv2").create_api(
        Name="chat-dev", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]


def authorizer(api_id: str, uri: str, **extra: Any) -> str:
    args: dict[str, Any] = {"ApiId": api_id, "AuthorizerType": "REQUEST", "Name": "chat-dev-auth",
                            "AuthorizerUri": uri, "IdentitySource": ["route.request.querystring.token"]}
    args.update(extra)
    return client("apigatewayv2").create_authorizer(**args)["AuthorizerId"]


@test
def authorizer_on_connect_round_trip() -> None:
    v2 = client("apigatewayv2")
    function_arn = authorizer_function()
    api_id = ws_api()
    uri = invocation_uri(function_arn)
    auth_id = authorizer(api_id, uri)
    got = v2.get_authorizer(ApiId=api_id, AuthorizerId=auth_id)
    assert got["AuthorizerType"] == "REQUEST" and got["AuthorizerUri"] == uri, got
    assert got["IdentitySource"] == ["route.request.querystring.token"], got
    assert [a["AuthorizerId"] for a in v2.get_authorizers(ApiId=api_id)["Items"]] == [auth_id]
    v2.update_authorizer(ApiId=api_id, AuthorizerId=auth_id, IdentitySource=["route.request.header.Authorization"])
    assert v2.get_authorizer(ApiId=api_id, AuthorizerId=auth_id)["AuthorizerUri"] == uri  # kept

    connect = v2.create_route(ApiId=api_id, RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId=auth_id)
    other = v2.create_route(ApiId=api_id, RouteKey="$disconnect")
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api_id)["Items"]}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM" and routes["$connect"]["AuthorizerId"] == auth_id
    assert routes["$disconnect"]["AuthorizationType"] == "NONE" and "AuthorizerId" not in routes["$disconnect"]
    v2.update_route(ApiId=api_id, RouteId=other["RouteId"], AuthorizationType="NONE")

    # API Gateway may invoke the function for this authorizer only.
    source = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/authorizers/{auth_id}"
    lam = client("lambda")
    lam.add_permission(FunctionName="chat-dev-authorizer", StatementId="chatctl-authorizer",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com", SourceArn=source)
    statement = json.loads(lam.get_policy(FunctionName="chat-dev-authorizer")["Policy"])["Statement"][0]
    assert statement["Sid"] == "chatctl-authorizer" and statement["Resource"] == function_arn, statement
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}, statement
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": source}}, statement
    lam.remove_permission(FunctionName="chat-dev-authorizer", StatementId="chatctl-authorizer")
    expect_error("ResourceNotFoundException", lambda: lam.get_policy(FunctionName="chat-dev-authorizer"))

    # Detaching (AuthorizationType NONE) frees the authorizer for deletion.
    v2.update_route(ApiId=api_id, RouteId=connect["RouteId"], AuthorizationType="NONE")
    route = v2.get_route(ApiId=api_id, RouteId=connect["RouteId"])
    assert route["AuthorizationType"] == "NONE" and "AuthorizerId" not in route, route
    v2.delete_authorizer(ApiId=api_id, AuthorizerId=auth_id)
    assert v2.get_authorizers(ApiId=api_id)["Items"] == []
    expect_error("NotFoundException", lambda: v2.delete_authorizer(ApiId=api_id, AuthorizerId=auth_id))
    expect_error("NotFoundException", lambda: v2.update_authorizer(ApiId=api_id, AuthorizerId=auth_id, Name="x"))


@test
def authorizer_websocket_apis_take_request_authorizers_only() -> None:
    api_id = ws_api()
    uri = invocation_uri(authorizer_function())
    expect_error("BadRequestException", lambda: authorizer(
        api_id, uri, AuthorizerType="JWT", IdentitySource=["route.request.querystring.token"],
        JwtConfiguration={"Audience": ["x"], "Issuer": "https://issuer.example.com"}))
    for member, value in (("AuthorizerPayloadFormatVersion", "2.0"), ("EnableSimpleResponses", True),
                          ("AuthorizerResultTtlInSeconds", 300)):
        expect_error("BadRequestException", lambda member=member, value=value: authorizer(api_id, uri, **{member: value}))
    authorizer(api_id, uri)


@test
def authorizer_uri_is_a_lambda_invocation_uri_in_the_region() -> None:
    v2 = client("apigatewayv2")
    api_id = ws_api()
    function_arn = authorizer_function()
    bad = [
        function_arn,                                                    # the bare function ARN
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}",  # no /invocations
        "https://auth.example.com/verify",
        invocation_uri(function_arn, "us-east-1"),                      # another region
    ]
    for uri in bad:
        expect_error("BadRequestException", lambda uri=uri: authorizer(api_id, uri))
    expect_error("BadRequestException", lambda: v2.create_authorizer(
        ApiId=api_id, AuthorizerType="REQUEST", Name="no-uri", IdentitySource=["route.request.querystring.token"]))
    auth_id = authorizer(api_id, invocation_uri(function_arn))
    expect_error("BadRequestException", lambda: v2.update_authorizer(
        ApiId=api_id, AuthorizerId=auth_id, AuthorizerUri=function_arn))
    authorizer(api_id, invocation_uri(function_arn + ":live"))  # an alias


@test
def authorizer_identity_sources_use_the_websocket_forms() -> None:
    api_id = ws_api()
    uri = invocation_uri(authorizer_function())
    for bad in ("$request.querystring.token", "$request.header.Authorization", "method.request.header.Auth",
                "route.request.body.token", "token"):
        expect_error("BadRequestException", lambda bad=bad: authorizer(api_id, uri, IdentitySource=[bad]))
    authorizer(api_id, uri, IdentitySource=["route.request.querystring.token", "route.request.header.Auth",
                                            "stageVariables.secret", "context.requestId"])


@test
def authorizer_only_on_connect_and_only_of_the_api() -> None:
    v2 = client("apigatewayv2")
    api_id = ws_api()
    auth_id = authorizer(api_id, invocation_uri(authorizer_function()))
    expect_error("BadRequestException", lambda: v2.create_route(
        ApiId=api_id, RouteKey="sendmessage", AuthorizationType="CUSTOM", AuthorizerId=auth_id))
    expect_error("BadRequestException", lambda: v2.create_route(
        ApiId=api_id, RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId="nosuchid"))
    expect_error("BadRequestException", lambda: v2.create_route(
        ApiId=api_id, RouteKey="$connect", AuthorizationType="CUSTOM"))
    expect_error("BadRequestException", lambda: v2.create_route(
        ApiId=api_id, RouteKey="$connect", AuthorizationType="JWT", AuthorizerId=auth_id))
    # Another API's authorizer is not this API's.
    other_auth = authorizer(ws_api(), invocation_uri(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:chat-dev-authorizer"))
    expect_error("BadRequestException", lambda: v2.create_route(
        ApiId=api_id, RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId=other_auth))
    message = v2.create_route(ApiId=api_id, RouteKey="sendmessage")
    expect_error("BadRequestException", lambda: v2.update_route(
        ApiId=api_id, RouteId=message["RouteId"], AuthorizationType="CUSTOM", AuthorizerId=auth_id))
    connect = v2.create_route(ApiId=api_id, RouteKey="$connect")
    v2.update_route(ApiId=api_id, RouteId=connect["RouteId"], AuthorizationType="CUSTOM", AuthorizerId=auth_id)


@test
def authorizer_in_use_cannot_be_deleted() -> None:
    v2 = client("apigatewayv2")
    api_id = ws_api()
    auth_id = authorizer(api_id, invocation_uri(authorizer_function()))
    connect = v2.create_route(ApiId=api_id, RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId=auth_id)
    expect_error("ConflictException", lambda: v2.delete_authorizer(ApiId=api_id, AuthorizerId=auth_id),
                 "Cannot delete authorizer 'chat-dev-auth', is referenced in route: $connect", 409)
    v2.update_route(ApiId=api_id, RouteId=connect["RouteId"], AuthorizationType="NONE")
    v2.delete_authorizer(ApiId=api_id, AuthorizerId=auth_id)
