#!/usr/bin/env python3
"""Self-test of the chatctl cloud emulator.

Exercises every operation chatctl makes, through boto3 (the same wire
protocols as the Rust SDK), plus the control API, the Amplify fake and the
GitHub fake. Starts its own emulator on a free port unless --port is given.

    tests/emulator/start --setup-only
    tests/emulator/.venv/bin/python tests/emulator/selftest.py [--port PORT] [-k NAME]

Prints one line per test and a closing "N passed, N failed"; exits non-zero
on any failure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
import zipfile
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "eu-west-1"
ACCOUNT = "123456789012"
APIGW_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
LAMBDA_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
PUSH_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"

BASE = ""
TESTS: list[tuple[str, Callable[[], None]]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append((fn.__name__, fn))
    return fn


# --- helpers -------------------------------------------------------------------

def client(service: str, region: str = REGION) -> Any:
    return boto3.client(
        service,
        endpoint_url=BASE,
        region_name=region,
        aws_access_key_id="AKIDEMULATOR",
        aws_secret_access_key="emulator-secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def http(method: str, path: str, body: Any = None, token: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    """(status, headers (case-insensitive lookup), decoded JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, err.headers, json.loads(raw) if raw else None


def control(method: str, path: str, body: Any = None) -> Any:
    status, _, payload = http(method, "/_emulator" + path, body)
    assert status < 300, f"{method} {path} -> {status} {payload}"
    return payload


def reset() -> None:
    control("POST", "/reset")


def expect_error(code: str, fn: Callable[[], Any], message: str | None = None, status: int | None = None) -> ClientError:
    try:
        fn()
    except ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {err}"
        if message is not None:
            assert err.response["Error"]["Message"] == message, err.response["Error"]["Message"]
        if status is not None:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status, err.response["ResponseMetadata"]
        return err
    raise AssertionError(f"expected {code}, call succeeded")


def make_zip(content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        zf.writestr(info, content)
    return buf.getvalue()


def create_role(name: str, trust: str = APIGW_TRUST) -> str:
    return client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def calls() -> list[dict[str, Any]]:
    return control("GET", "/calls")


def github_setup(scopes: list[str] | None = None, token: str = "ghp_good", app_installed: bool = True) -> None:
    """acme/chat-web, a classic token, and the Amplify GitHub App of REGION installed."""
    control("POST", "/github/repos", {"owner": "acme", "name": "chat-web"})
    control("POST", "/github/tokens", {"token": token, "scopes": scopes if scopes is not None else ["repo", "admin:repo_hook"]})
    if app_installed:
        control("POST", "/github/installations", {"app": f"aws-amplify-{REGION}", "owner": "acme", "repos": ["chat-web"]})


def repo_state() -> dict[str, Any]:
    return control("GET", "/github/repos/acme/chat-web")


# --- tests ---------------------------------------------------------------------

@test
def health() -> None:
    status, _, payload = http("GET", "/_emulator/health")
    assert status == 200 and payload == {"status": "ok"}


@test
def sts_caller_identity() -> None:
    ident = client("sts").get_caller_identity()
    assert ident["Account"] == ACCOUNT, ident


@test
def iam_role_lifecycle() -> None:
    iam = client("iam")
    iam.create_role(RoleName="chat-dev-apigw-logs", AssumeRolePolicyDocument=APIGW_TRUST,
                    Tags=[{"Key": "chatctl:stack", "Value": "chat-dev"}])
    role = iam.get_role(RoleName="chat-dev-apigw-logs")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/chat-dev-apigw-logs"
    iam.update_assume_role_policy(RoleName="chat-dev-apigw-logs", PolicyDocument=APIGW_TRUST)
    iam.attach_role_policy(RoleName="chat-dev-apigw-logs", PolicyArn=PUSH_LOGS)
    attached = iam.list_attached_role_policies(RoleName="chat-dev-apigw-logs")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonAPIGatewayPushToCloudWatchLogs", "PolicyArn": PUSH_LOGS}], attached
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]})
    iam.put_role_policy(RoleName="chat-dev-apigw-logs", PolicyName="inline", PolicyDocument=doc)
    got = iam.get_role_policy(RoleName="chat-dev-apigw-logs", PolicyName="inline")
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "dynamodb:PutItem", got
    assert iam.list_role_policies(RoleName="chat-dev-apigw-logs")["PolicyNames"] == ["inline"]
    assert iam.list_role_tags(RoleName="chat-dev-apigw-logs")["Tags"] == [{"Key": "chatctl:stack", "Value": "chat-dev"}]
    expect_error("DeleteConflict", lambda: iam.delete_role(RoleName="chat-dev-apigw-logs"))
    iam.delete_role_policy(RoleName="chat-dev-apigw-logs", PolicyName="inline")
    iam.detach_role_policy(RoleName="chat-dev-apigw-logs", PolicyArn=PUSH_LOGS)
    assert iam.list_attached_role_policies(RoleName="chat-dev-apigw-logs")["AttachedPolicies"] == []
    iam.delete_role(RoleName="chat-dev-apigw-logs")
    expect_error("NoSuchEntity", lambda: iam.get_role(RoleName="chat-dev-apigw-logs"))


@test
def apigateway_account() -> None:
    apigw = client("apigateway")
    assert "cloudwatchRoleArn" not in apigw.get_account()
    arn = create_role("logs-role")
    out = apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    assert out["cloudwatchRoleArn"] == arn
    assert apigw.get_account()["cloudwatchRoleArn"] == arn
    # An empty value clears the setting.
    out = apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
    assert "cloudwatchRoleArn" not in out, out
    assert "cloudwatchRoleArn" not in apigw.get_account()
    # A role that does not exist, or that API Gateway may not assume, is refused.
    msg = "The role ARN does not have required permissions set to API Gateway"
    expect_error("BadRequestException", lambda: apigw.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": f"arn:aws:iam::{ACCOUNT}:role/nope"}]), msg, 400)
    other = create_role("lambda-only", LAMBDA_TRUST)
    expect_error("BadRequestException", lambda: apigw.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": other}]), msg)
    expect_error("BadRequestException", lambda: apigw.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": "not-an-arn"}]), "The role ARN is not well formed")


@test
def role_propagation_delay() -> None:
    control("POST", "/faults", {"role_propagation_s": 0.6})
    apigw = client("apigateway")
    arn = create_role("fresh-role")
    patch = [{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    expect_error("BadRequestException", lambda: apigw.update_account(patchOperations=patch),
                 "The role ARN does not have required permissions set to API Gateway")
    lam_role = create_role("fresh-lambda-role", LAMBDA_TRUST)
    lam = client("lambda")
    create = lambda: lam.create_function(
        FunctionName="fresh", Runtime="provided.al2023", Role=lam_role, Handler="bootstrap",
        Code={"ZipFile": make_zip(b"x")})
    expect_error("InvalidParameterValueException", create,
                 "The role defined for the function cannot be assumed by Lambda.", 400)
    time.sleep(0.7)
    assert apigw.update_account(patchOperations=patch)["cloudwatchRoleArn"] == arn
    assert create()["State"] == "Active"


@test
def update_account_quota() -> None:
    control("POST", "/faults", {"update_account_interval_s": 0.5})
    apigw = client("apigateway")
    arn = create_role("quota-role")
    patch = [{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    apigw.update_account(patchOperations=patch)
    expect_error("TooManyRequestsException", lambda: apigw.update_account(patchOperations=patch), status=429)
    time.sleep(0.55)
    apigw.update_account(patchOperations=patch)


def set_account_role() -> str:
    """Points the account's CloudWatch Logs setting at a working role (stages that log need it)."""
    arn = create_role("apigw-logs")
    client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    return arn


def websocket_api(name: str = "chat-dev") -> dict[str, Any]:
    return client("apigatewayv2").create_api(
        Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action",
        Tags={"chatctl:stack": name})


@test
def apigwv2_api() -> None:
    v2 = client("apigatewayv2")
    api = websocket_api()
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    api_id = api["ApiId"]
    assert api["ApiEndpoint"] == f"wss://{api_id}.execute-api.{REGION}.amazonaws.com", api["ApiEndpoint"]
    assert api["Tags"] == {"chatctl:stack": "chat-dev"}
    got = v2.get_api(ApiId=api_id)
    assert got["RouteSelectionExpression"] == "$request.body.action" and got["ProtocolType"] == "WEBSOCKET"
    upd = v2.update_api(ApiId=api_id, Description="chat")
    assert upd["Description"] == "chat" and upd["Name"] == "chat-dev"
    arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"
    v2.tag_resource(ResourceArn=arn, Tags={"extra": "1"})
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"chatctl:stack": "chat-dev", "extra": "1"}
    v2.untag_resource(ResourceArn=arn, TagKeys=["extra"])
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"chatctl:stack": "chat-dev"}
    assert v2.get_apis()["Items"][0]["Tags"] == {"chatctl:stack": "chat-dev"}
    deleted = v2.delete_api(ApiId=api_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NotFoundException", lambda: v2.get_api(ApiId=api_id), status=404)
    expect_error("NotFoundException", lambda: v2.delete_api(ApiId=api_id), status=404)


@test
def apigwv2_get_apis_paginates() -> None:
    v2 = client("apigatewayv2")
    ids = {websocket_api(f"api-{i}")["ApiId"] for i in range(5)}
    page = v2.get_apis(MaxResults="2")
    assert len(page["Items"]) == 2 and page["NextToken"], page
    seen = [a["ApiId"] for a in page["Items"]]
    while page.get("NextToken"):
        page = v2.get_apis(MaxResults="2", NextToken=page["NextToken"])
        seen += [a["ApiId"] for a in page["Items"]]
    assert sorted(seen) == sorted(ids), (seen, ids)
    control("POST", "/faults", {"page_size": 3})
    page = v2.get_apis()
    assert len(page["Items"]) == 3 and page["NextToken"]


@test
def apigwv2_integrations_and_routes() -> None:
    v2 = client("apigatewayv2")
    api_id = websocket_api()["ApiId"]
    params = {
        "integration.request.header.x-chat-secret": "stageVariables.backendSecret",
        "integration.request.header.x-connection-id": "context.connectionId",
    }
    integ = v2.create_integration(
        ApiId=api_id, IntegrationType="HTTP", IntegrationMethod="POST",
        IntegrationUri="https://${stageVariables.backendHost}/sendmessage", RequestParameters=params,
        PassthroughBehavior="WHEN_NO_MATCH", TimeoutInMillis=10000, TemplateSelectionExpression="\\$default")
    assert integ["ResponseMetadata"]["HTTPStatusCode"] == 201
    iid = integ["IntegrationId"]
    got = v2.get_integration(ApiId=api_id, IntegrationId=iid)
    assert got["RequestParameters"] == params and got["TimeoutInMillis"] == 10000
    assert got["IntegrationUri"] == "https://${stageVariables.backendHost}/sendmessage"
    assert got["PassthroughBehavior"] == "WHEN_NO_MATCH" and got["TemplateSelectionExpression"] == "\\$default"
    assert got["ConnectionType"] == "INTERNET" and got["PayloadFormatVersion"] == "1.0", got
    assert got["IntegrationResponseSelectionExpression"] == "${integration.response.statuscode}", got
    default_timeout = v2.create_integration(ApiId=api_id, IntegrationType="HTTP", IntegrationMethod="POST",
                                            IntegrationUri="https://x.example/connect")
    assert default_timeout["TimeoutInMillis"] == 29000, default_timeout
    assert sorted(i["IntegrationId"] for i in v2.get_integrations(ApiId=api_id)["Items"]) == sorted(
        [iid, default_timeout["IntegrationId"]])
    upd = v2.update_integration(ApiId=api_id, IntegrationId=iid, TimeoutInMillis=29000)
    assert upd["TimeoutInMillis"] == 29000 and upd["RequestParameters"] == params
    ir = v2.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default")
    irid = ir["IntegrationResponseId"]
    expect_error("ConflictException", lambda: v2.create_integration_response(
        ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default"), status=409)
    assert [r["IntegrationResponseKey"] for r in v2.get_integration_responses(ApiId=api_id, IntegrationId=iid)["Items"]] == ["$default"]
    v2.update_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseId=irid,
                                   TemplateSelectionExpression="\\$default")
    route = v2.create_route(ApiId=api_id, RouteKey="sendmessage", Target=f"integrations/{iid}",
                            RouteResponseSelectionExpression="$default")
    rid = route["RouteId"]
    assert route["Target"] == f"integrations/{iid}" and route["RouteResponseSelectionExpression"] == "$default"
    expect_error("ConflictException", lambda: v2.create_route(ApiId=api_id, RouteKey="sendmessage"))
    rr = v2.create_route_response(ApiId=api_id, RouteId=rid, RouteResponseKey="$default")
    listed = v2.get_route_responses(ApiId=api_id, RouteId=rid)["Items"]
    assert [r["RouteResponseKey"] for r in listed] == ["$default"], listed
    assert listed[0]["RouteResponseId"] == rr["RouteResponseId"]
    v2.update_route(ApiId=api_id, RouteId=rid, Target=f"integrations/{iid}")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["sendmessage"]
    v2.delete_route_response(ApiId=api_id, RouteId=rid, RouteResponseId=rr["RouteResponseId"])
    assert v2.get_route_responses(ApiId=api_id, RouteId=rid)["Items"] == []
    expect_error("NotFoundException", lambda: v2.delete_route_response(
        ApiId=api_id, RouteId=rid, RouteResponseId=rr["RouteResponseId"]))
    v2.delete_route(ApiId=api_id, RouteId=rid)
    expect_error("NotFoundException", lambda: v2.delete_route(ApiId=api_id, RouteId=rid))
    v2.delete_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseId=irid)
    expect_error("NotFoundException", lambda: v2.delete_integration_response(
        ApiId=api_id, IntegrationId=iid, IntegrationResponseId=irid))
    v2.delete_integration(ApiId=api_id, IntegrationId=iid)
    expect_error("NotFoundException", lambda: v2.get_integration(ApiId=api_id, IntegrationId=iid))
    expect_error("NotFoundException", lambda: v2.delete_integration(ApiId=api_id, IntegrationId=iid))


@test
def apigwv2_stage_round_trip() -> None:
    v2 = client("apigatewayv2")
    api_id = websocket_api()["ApiId"]
    # Logging needs the account's CloudWatch role (strict_logging_needs_the_account_role).
    set_account_role()
    drs = {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50.0, "LoggingLevel": "INFO",
           "DataTraceEnabled": False, "DetailedMetricsEnabled": True}
    logs = {"DestinationArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/chat/dev", "Format": '{"requestId":"$context.requestId"}'}
    stage = v2.create_stage(
        ApiId=api_id, StageName="dev", AutoDeploy=True, DefaultRouteSettings=drs,
        RouteSettings={"sendmessage": {"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.5}},
        StageVariables={"backendUrl": "https://b.example", "backendSecret": "s3cr3t"},
        AccessLogSettings=logs, Tags={"chatctl:stack": "chat-dev"})
    assert stage["ResponseMetadata"]["HTTPStatusCode"] == 201
    expect_error("ConflictException", lambda: v2.create_stage(ApiId=api_id, StageName="dev"))
    got = v2.get_stage(ApiId=api_id, StageName="dev")
    assert got["DefaultRouteSettings"] == drs, got["DefaultRouteSettings"]
    assert got["RouteSettings"]["sendmessage"]["ThrottlingRateLimit"] == 5.5
    assert got["StageVariables"] == {"backendUrl": "https://b.example", "backendSecret": "s3cr3t"}
    assert got["AccessLogSettings"] == logs and got["AutoDeploy"] is True
    assert got["Tags"] == {"chatctl:stack": "chat-dev"}
    assert [s["StageName"] for s in v2.get_stages(ApiId=api_id)["Items"]] == ["dev"]
    # Only the given fields change; route settings and stage variables merge.
    upd = v2.update_stage(ApiId=api_id, StageName="dev",
                          DefaultRouteSettings={"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 75.0},
                          StageVariables={"backendUrl": "https://c.example"})
    assert upd["DefaultRouteSettings"] == dict(drs, ThrottlingBurstLimit=200, ThrottlingRateLimit=75.0), upd["DefaultRouteSettings"]
    assert upd["StageVariables"] == {"backendUrl": "https://c.example", "backendSecret": "s3cr3t"}
    assert upd["AccessLogSettings"] == logs and upd["AutoDeploy"] is True
    upd = v2.update_stage(ApiId=api_id, StageName="dev", AutoDeploy=False,
                          DefaultRouteSettings={"LoggingLevel": "ERROR"},
                          AccessLogSettings={"DestinationArn": logs["DestinationArn"], "Format": "$context.requestId"})
    got = v2.get_stage(ApiId=api_id, StageName="dev")
    assert got["AutoDeploy"] is False and got["DefaultRouteSettings"]["LoggingLevel"] == "ERROR"
    assert got["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 200
    assert got["AccessLogSettings"]["Format"] == "$context.requestId"
    expect_error("NotFoundException", lambda: v2.update_stage(ApiId=api_id, StageName="nope", AutoDeploy=True))
    # Throttling left out of a WebSocket stage's route settings means 0, as on AWS.
    v2.create_stage(ApiId=api_id, StageName="zero", DefaultRouteSettings={"LoggingLevel": "OFF"})
    zero = v2.get_stage(ApiId=api_id, StageName="zero")["DefaultRouteSettings"]
    assert zero["ThrottlingBurstLimit"] == 0 and zero["ThrottlingRateLimit"] == 0.0, zero
    v2.delete_stage(ApiId=api_id, StageName="dev")
    expect_error("NotFoundException", lambda: v2.get_stage(ApiId=api_id, StageName="dev"))
    expect_error("NotFoundException", lambda: v2.delete_stage(ApiId=api_id, StageName="dev"))


@test
def lambda_function_lifecycle() -> None:
    lam = client("lambda")
    role = create_role("chat-dev-backend", LAMBDA_TRUST)
    code = make_zip(b"\x7fELF binary")
    sha = base64.b64encode(hashlib.sha256(code).digest()).decode()
    fn = lam.create_function(
        FunctionName="chat-dev-backend", Runtime="provided.al2023", Role=role, Handler="bootstrap",
        Code={"ZipFile": code}, Architectures=["arm64"], MemorySize=128, Timeout=10,
        Environment={"Variables": {"CHAT_TABLE": "chat-dev-connections"}}, Tags={"chatctl:stack": "chat-dev"})
    assert fn["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert fn["CodeSha256"] == sha and fn["Architectures"] == ["arm64"], fn
    got = lam.get_function(FunctionName="chat-dev-backend")
    cfg = got["Configuration"]
    assert cfg["CodeSha256"] == sha and cfg["State"] == "Active" and cfg["LastUpdateStatus"] == "Successful", cfg
    assert cfg["Environment"]["Variables"] == {"CHAT_TABLE": "chat-dev-connections"}
    assert got["Tags"] == {"chatctl:stack": "chat-dev"}
    conf = lam.get_function_configuration(FunctionName="chat-dev-backend")
    assert conf["Runtime"] == "provided.al2023" and conf["Role"] == role
    code2 = make_zip(b"\x7fELF binary v2")
    upd = lam.update_function_code(FunctionName="chat-dev-backend", ZipFile=code2)
    assert upd["CodeSha256"] == base64.b64encode(hashlib.sha256(code2).digest()).decode()
    upd = lam.update_function_configuration(FunctionName="chat-dev-backend", MemorySize=256,
                                            Environment={"Variables": {"A": "1"}})
    assert upd["MemorySize"] == 256
    assert lam.get_function_configuration(FunctionName="chat-dev-backend")["Environment"]["Variables"] == {"A": "1"}
    url = lam.create_function_url_config(FunctionName="chat-dev-backend", AuthType="NONE")
    assert url["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert url["FunctionUrl"].startswith("https://") and url["FunctionUrl"].endswith(f".lambda-url.{REGION}.on.aws/"), url
    assert lam.get_function_url_config(FunctionName="chat-dev-backend")["FunctionUrl"] == url["FunctionUrl"]
    lam.add_permission(FunctionName="chat-dev-backend", StatementId="public-url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    policy = json.loads(lam.get_policy(FunctionName="chat-dev-backend")["Policy"])
    st = policy["Statement"][0]
    assert st["Sid"] == "public-url" and st["Action"] == "lambda:InvokeFunctionUrl", st
    assert st["Principal"] == "*" and st["Resource"] == fn["FunctionArn"], st
    assert st["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"] == "NONE", st
    lam.remove_permission(FunctionName="chat-dev-backend", StatementId="public-url")
    expect_error("ResourceNotFoundException", lambda: lam.get_policy(FunctionName="chat-dev-backend"))
    assert lam.list_tags(Resource=fn["FunctionArn"])["Tags"] == {"chatctl:stack": "chat-dev"}
    lam.delete_function_url_config(FunctionName="chat-dev-backend")
    expect_error("ResourceNotFoundException", lambda: lam.get_function_url_config(FunctionName="chat-dev-backend"))
    lam.delete_function(FunctionName="chat-dev-backend")
    expect_error("ResourceNotFoundException", lambda: lam.get_function(FunctionName="chat-dev-backend"), status=404)
    # A role Lambda may not assume is refused like on AWS.
    apigw_role = create_role("not-for-lambda")
    expect_error("InvalidParameterValueException", lambda: lam.create_function(
        FunctionName="x", Runtime="provided.al2023", Role=apigw_role, Handler="bootstrap", Code={"ZipFile": code}),
        "The role defined for the function cannot be assumed by Lambda.")
    expect_error("InvalidParameterValueException", lambda: lam.create_function(
        FunctionName="x", Runtime="provided.al2023", Role=f"arn:aws:iam::{ACCOUNT}:role/missing",
        Handler="bootstrap", Code={"ZipFile": code}),
        "The role defined for the function cannot be assumed by Lambda.")


@test
def dynamodb_table_and_items() -> None:
    ddb = client("dynamodb")
    table = ddb.create_table(
        TableName="chat-dev-connections", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        Tags=[{"Key": "chatctl:stack", "Value": "chat-dev"}])["TableDescription"]
    desc = ddb.describe_table(TableName="chat-dev-connections")["Table"]
    assert desc["TableStatus"] == "ACTIVE" and desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", desc
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": "chatctl:stack", "Value": "chat-dev"}], tags
    ddb.put_item(TableName="chat-dev-connections", Item={"connectionId": {"S": "c1"}, "name": {"S": "alice"}})
    ddb.put_item(TableName="chat-dev-connections", Item={"connectionId": {"S": "c2"}, "name": {"S": "bob"}})
    assert ddb.get_item(TableName="chat-dev-connections", Key={"connectionId": {"S": "c1"}})["Item"]["name"]["S"] == "alice"
    ddb.update_item(TableName="chat-dev-connections", Key={"connectionId": {"S": "c1"}},
                    UpdateExpression="SET #n = :n", ExpressionAttributeNames={"#n": "name"},
                    ExpressionAttributeValues={":n": {"S": "alice2"}})
    q = ddb.query(TableName="chat-dev-connections", KeyConditionExpression="connectionId = :c",
                  ExpressionAttributeValues={":c": {"S": "c1"}})
    assert q["Items"][0]["name"]["S"] == "alice2"
    assert ddb.scan(TableName="chat-dev-connections")["Count"] == 2
    ddb.delete_item(TableName="chat-dev-connections", Key={"connectionId": {"S": "c1"}})
    assert ddb.scan(TableName="chat-dev-connections")["Count"] == 1
    ddb.delete_table(TableName="chat-dev-connections")
    expect_error("ResourceNotFoundException", lambda: ddb.describe_table(TableName="chat-dev-connections"))


@test
def logs_groups_and_lock() -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="/chatctl/lock/chat-dev", tags={"owner": "host-1"})
    expect_error("ResourceAlreadyExistsException",
                 lambda: logs.create_log_group(logGroupName="/chatctl/lock/chat-dev"), status=400)
    groups = logs.describe_log_groups(logGroupNamePrefix="/chatctl/lock/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/chatctl/lock/chat-dev"], groups
    arn = groups[0]["arn"]
    logs.put_retention_policy(logGroupName="/chatctl/lock/chat-dev", retentionInDays=1)
    assert logs.describe_log_groups(logGroupNamePrefix="/chatctl/lock/")["logGroups"][0]["retentionInDays"] == 1
    assert logs.list_tags_log_group(logGroupName="/chatctl/lock/chat-dev")["tags"] == {"owner": "host-1"}
    logs.tag_resource(resourceArn=arn.removesuffix(":*"), tags={"lease": "123"})
    tags = logs.list_tags_for_resource(resourceArn=arn.removesuffix(":*"))["tags"]
    assert tags == {"owner": "host-1", "lease": "123"}, tags
    # Lease streams: creation is exclusive; the newest event of the newest stream is read back.
    for generation in ("00000000", "00000001"):
        logs.create_log_stream(logGroupName="/chatctl/lock/chat-dev", logStreamName=f"lease-1-{generation}")
    expect_error("ResourceAlreadyExistsException",
                 lambda: logs.create_log_stream(logGroupName="/chatctl/lock/chat-dev",
                                                logStreamName="lease-1-00000001"), status=400)
    now_ms = int(time.time() * 1000)  # events older than 14 days are rejected
    for n, message in enumerate(["owner=a expires=1", "owner=a expires=2"]):
        logs.put_log_events(logGroupName="/chatctl/lock/chat-dev", logStreamName="lease-1-00000001",
                            logEvents=[{"timestamp": now_ms + n, "message": message}])
    streams = logs.describe_log_streams(logGroupName="/chatctl/lock/chat-dev", logStreamNamePrefix="lease-1-",
                                        orderBy="LogStreamName", descending=True, limit=1)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["lease-1-00000001"], streams
    newest = logs.get_log_events(logGroupName="/chatctl/lock/chat-dev", logStreamName="lease-1-00000001",
                                 startFromHead=False, limit=1)["events"]
    assert [e["message"] for e in newest] == ["owner=a expires=2"], newest
    logs.delete_log_group(logGroupName="/chatctl/lock/chat-dev")
    assert logs.describe_log_groups(logGroupNamePrefix="/chatctl/lock/")["logGroups"] == []
    expect_error("ResourceNotFoundException", lambda: logs.delete_log_group(logGroupName="/chatctl/lock/chat-dev"))


@test
def logs_filter_interleaves_streams_and_pages() -> None:
    logs = client("logs")
    group = "/chatctl/chat-dev/access"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="b",
                        logEvents=[{"timestamp": now + 10, "message": "b1"}, {"timestamp": now + 30, "message": "b2"}])
    logs.put_log_events(logGroupName=group, logStreamName="a",
                        logEvents=[{"timestamp": now, "message": "a1"}, {"timestamp": now + 20, "message": "a2"},
                                   {"timestamp": now + 30, "message": "a3"}])
    # Always interleaved in time order, as AWS has answered since 2019, whatever `interleaved`
    # says; equal timestamps in ingestion order (b2 was put before a3).
    for interleaved in (None, False, True):
        kwargs = {} if interleaved is None else {"interleaved": interleaved}
        got = logs.filter_log_events(logGroupName=group, **kwargs)
        assert [e["message"] for e in got["events"]] == ["a1", "b1", "a2", "b2", "a3"], got["events"]
        assert "nextToken" not in got or got["nextToken"] is None, got
    got = logs.filter_log_events(logGroupName=group, startTime=now + 20)
    assert [e["message"] for e in got["events"]] == ["a2", "b2", "a3"]
    # Pages: the page_size knob caps them; the token resumes after the last event.
    control("POST", "/faults", {"page_size": 2})
    pages, token = [], None
    while True:
        page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
        pages.append([e["message"] for e in page["events"]])
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [["a1", "b1"], ["a2", "b2"], ["a3"]], pages
    got = logs.filter_log_events(logGroupName=group, nextToken="someone-else@1")
    assert got["events"] == [], got
    expect_error("ResourceNotFoundException", lambda: logs.filter_log_events(logGroupName="/missing"))
    # GetLogEvents reads one stream, oldest first from the head.
    one = logs.get_log_events(logGroupName=group, logStreamName="a", startFromHead=True)
    assert [e["message"] for e in one["events"]] == ["a1", "a2", "a3"]


@test
def call_log() -> None:
    v2 = client("apigatewayv2")
    api_id = websocket_api()["ApiId"]
    v2.get_api(ApiId=api_id)
    client("iam").list_roles()
    client("dynamodb").list_tables()
    client("logs").describe_log_groups()
    expect_error("NotFoundException", lambda: v2.get_api(ApiId="missing"))
    log = calls()
    assert log == [
        {"service": "apigatewayv2", "operation": "CreateApi", "write": True, "status": 201},
        {"service": "apigatewayv2", "operation": "GetApi", "write": False, "status": 200},
        {"service": "iam", "operation": "ListRoles", "write": False, "status": 200},
        {"service": "dynamodb", "operation": "ListTables", "write": False, "status": 200},
        {"service": "logs", "operation": "DescribeLogGroups", "write": False, "status": 200},
        {"service": "apigatewayv2", "operation": "GetApi", "write": False, "status": 404},
    ], log
    status, _, _ = http("DELETE", "/_emulator/calls")
    assert status == 204 and calls() == []
    # Clearing the log keeps the state.
    v2.get_api(ApiId=api_id)
    assert calls() == [{"service": "apigatewayv2", "operation": "GetApi", "write": False, "status": 200}]


@test
def call_log_names_every_chatctl_operation() -> None:
    # The read/write split that "a no-op up makes no write" relies on.
    reads = ["GetAccount", "GetApis", "GetRouteResponses", "GetFunctionUrlConfig", "ListTagsOfResource",
             "DescribeLogGroups", "Query", "Scan", "ListRoleTags", "BatchGetItem", "HeadBucket"]
    writes = ["UpdateAccount", "CreateApi", "UpdateStage", "PutItem", "TagResource", "AddPermission", "CreateLogGroup"]
    import chatemu.ops as ops  # served from this directory
    assert not any(ops.is_write(r) for r in reads)
    assert all(ops.is_write(w) for w in writes)
    # Operation names come from the service models.
    v2 = client("apigatewayv2")
    api_id = websocket_api()["ApiId"]
    v2.create_stage(ApiId=api_id, StageName="dev")
    v2.update_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    route = v2.create_route(ApiId=api_id, RouteKey="$default")
    v2.get_route_responses(ApiId=api_id, RouteId=route["RouteId"])
    arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"
    v2.get_tags(ResourceArn=arn)
    client("apigateway").get_account()
    client("sts").get_caller_identity()
    names = [(c["service"], c["operation"], c["write"]) for c in calls()]
    assert names[-7:] == [
        ("apigatewayv2", "CreateStage", True), ("apigatewayv2", "UpdateStage", True),
        ("apigatewayv2", "CreateRoute", True), ("apigatewayv2", "GetRouteResponses", False),
        ("apigatewayv2", "GetTags", False), ("apigateway", "GetAccount", False),
        ("sts", "GetCallerIdentity", False),
    ], names


@test
def faults_in_each_protocol() -> None:
    control("POST", "/faults", {"operation": "UpdateAccount", "count": 2, "status": 400, "code": "BadRequestException",
                                "message": "The role ARN does not have required permissions set to API Gateway"})
    apigw = client("apigateway")
    arn = create_role("fault-role")
    patch = [{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    for _ in range(2):
        err = expect_error("BadRequestException", lambda: apigw.update_account(patchOperations=patch),
                           "The role ARN does not have required permissions set to API Gateway", 400)
        assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "BadRequestException"
    apigw.update_account(patchOperations=patch)
    # json protocol
    control("POST", "/faults", {"operation": "PutItem", "status": 400, "code": "ProvisionedThroughputExceededException",
                                "message": "slow down"})
    expect_error("ProvisionedThroughputExceededException", lambda: client("dynamodb").put_item(
        TableName="t", Item={"k": {"S": "v"}}), "slow down", 400)
    # query protocol
    control("POST", "/faults", {"operation": "GetRole", "status": 404, "code": "NoSuchEntity", "message": "gone"})
    expect_error("NoSuchEntity", lambda: client("iam").get_role(RoleName="fault-role"), "gone", 404)
    client("iam").get_role(RoleName="fault-role")
    # forever, narrowed by service
    control("POST", "/faults", {"operation": "TagResource", "service": "logs", "count": -1, "status": 500,
                                "code": "ServiceUnavailableException", "message": "down"})
    for _ in range(3):
        expect_error("ServiceUnavailableException", lambda: client("logs").tag_resource(
            resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:x", tags={"a": "b"}), status=500)
    api_id = websocket_api()["ApiId"]
    client("apigatewayv2").tag_resource(ResourceArn=f"arn:aws:apigateway:{REGION}::/apis/{api_id}", Tags={"a": "b"})
    state = control("GET", "/faults")
    assert state["faults"][0]["operation"] == "TagResource" and state["faults"][0]["count"] == -1, state
    status, _, _ = http("DELETE", "/_emulator/faults")
    assert status == 204 and control("GET", "/faults")["faults"] == []
    statuses = [c["status"] for c in calls() if c["operation"] == "UpdateAccount"]
    assert statuses == [400, 400, 200], statuses
    # malformed fault specs are refused
    status, _, body = http("POST", "/_emulator/faults", {"operation": "X", "count": 0})
    assert status == 400, body
    status, _, body = http("POST", "/_emulator/faults", {"bogus": 1})
    assert status == 400, body


@test
def latency_injection() -> None:
    sts = client("sts")

    def fastest(n: int = 8) -> float:
        # The minimum of several calls: the machine may be busy with other work.
        best = float("inf")
        for _ in range(n):
            t0 = time.monotonic()
            sts.get_caller_identity()
            best = min(best, time.monotonic() - t0)
        return best

    base = fastest()
    from concurrent.futures import ThreadPoolExecutor

    clients = [client("sts") for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: c.get_caller_identity(), clients))
    control("POST", "/faults", {"latency_ms": 50})
    slow = fastest()
    assert 0.05 <= slow < 0.05 + base + 0.02, (base, slow)
    # Concurrent calls sleep their latency at the same time.
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: c.get_caller_identity(), clients))
    assert time.monotonic() - t0 < 0.05 * 8 / 2, time.monotonic() - t0  # serially: 8 x 50 ms
    control("POST", "/faults", {"latency_ms": 0})
    assert fastest(3) < 0.05
    assert base < 0.05, f"a plain call took {base * 1000:.1f} ms"


@test
def reset_clears_everything() -> None:
    websocket_api()
    create_role("r1")
    github_setup()
    control("POST", "/faults", {"operation": "GetApis", "count": -1, "latency_ms": 5})
    reset()
    assert calls() == []
    assert client("apigatewayv2").get_apis()["Items"] == []
    assert client("iam").list_roles()["Roles"] == []
    state = control("GET", "/faults")
    assert state["faults"] == [] and state["latency_ms"] == 0
    status, _, _ = http("GET", "/_emulator/github/repos/acme/chat-web")
    assert status == 404


# --- GitHub ----------------------------------------------------------------------

@test
def github_auth_and_repo() -> None:
    github_setup()
    status, headers, body = http("GET", "/github/user", token="ghp_good")
    assert status == 200 and body["login"] and body["type"] == "User"
    assert headers["X-OAuth-Scopes"] == "repo, admin:repo_hook"
    status, _, body = http("GET", "/github/repos/acme/chat-web", token="ghp_good")
    assert status == 200 and body["full_name"] == "acme/chat-web" and body["default_branch"] == "main"
    status, _, body = http("GET", "/github/repos/acme/other", token="ghp_good")
    assert status == 404 and body["message"] == "Not Found" and body["documentation_url"]
    status, _, body = http("GET", "/github/repos/acme/chat-web", token="ghp_unknown")
    assert status == 401 and body["message"] == "Bad credentials"
    status, _, body = http("GET", "/github/repos/acme/chat-web")
    assert status == 401, body
    status, _, _ = http("GET", "/github/repos/acme/chat-web", headers={"Authorization": "token ghp_good"})
    assert status == 200


@test
def github_hooks() -> None:
    github_setup()
    hook = {"name": "web", "active": True, "events": ["push"],
            "config": {"url": "https://example.com/hook", "content_type": "json", "secret": "shh"}}
    status, headers, body = http("POST", "/github/repos/acme/chat-web/hooks", hook, token="ghp_good")
    assert status == 201, body
    hid = body["id"]
    assert body["config"] == {"url": "https://example.com/hook", "content_type": "json", "insecure_ssl": "0",
                              "secret": "********"}, body
    assert headers["Location"].endswith(f"/github/repos/acme/chat-web/hooks/{hid}")
    status, _, body = http("POST", "/github/repos/acme/chat-web/hooks", hook, token="ghp_good")
    assert status == 422 and body["message"] == "Validation Failed"
    assert body["errors"][0]["message"] == "Hook already exists on this repository"
    status, _, body = http("GET", f"/github/repos/acme/chat-web/hooks/{hid}", token="ghp_good")
    assert status == 200 and body["id"] == hid
    status, _, body = http("PATCH", f"/github/repos/acme/chat-web/hooks/{hid}", {"active": False}, token="ghp_good")
    assert status == 200 and body["active"] is False
    status, _, body = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hid}", token="ghp_good")
    assert status == 204 and body is None
    status, _, body = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hid}", token="ghp_good")
    assert status == 404
    status, _, body = http("GET", "/github/repos/acme/chat-web/hooks/999", token="ghp_good")
    assert status == 404


@test
def github_pagination() -> None:
    github_setup()
    for i in range(7):
        status, _, _ = http("POST", "/github/repos/acme/chat-web/hooks",
                            {"config": {"url": f"https://example.com/{i}"}}, token="ghp_good")
        assert status == 201
    status, headers, body = http("GET", "/github/repos/acme/chat-web/hooks", token="ghp_good")
    assert status == 200 and len(body) == 7 and "Link" not in headers
    urls = []
    path = "/github/repos/acme/chat-web/hooks?per_page=3"
    pages = 0
    while path:
        status, headers, body = http("GET", path, token="ghp_good")
        pages += 1
        urls += [h["config"]["url"] for h in body]
        link = headers.get("Link", "")
        nxt = [part.split(";")[0].strip()[1:-1] for part in link.split(",") if 'rel="next"' in part]
        if nxt:
            assert nxt[0].startswith(BASE + "/github/"), nxt
            path = nxt[0][len(BASE):]
        else:
            path = ""
    assert pages == 3 and urls == [f"https://example.com/{i}" for i in range(7)], (pages, urls)
    status, headers, body = http("GET", "/github/repos/acme/chat-web/hooks?per_page=500", token="ghp_good")
    assert len(body) == 7


@test
def github_classic_scopes() -> None:
    github_setup()
    key = {"title": "deploy", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyMaterial1234567890abcdefghi", "read_only": True}
    status, _, body = http("POST", "/github/repos/acme/chat-web/keys", key, token="ghp_good")
    assert status == 201 and body["read_only"] is True and body["title"] == "deploy"
    kid = body["id"]
    # No scope for hooks or keys: every hook and key endpoint answers 403 with what it takes.
    control("POST", "/github/tokens", {"token": "ghp_readonly", "scopes": ["read:org"]})
    for method, path, accepted in [
        ("GET", "/hooks", "admin:repo_hook, read:repo_hook, repo, write:repo_hook"),
        ("POST", "/hooks", "admin:repo_hook, repo, write:repo_hook"),
        ("GET", "/keys", "repo"),
        ("POST", "/keys", "repo"),
        ("DELETE", f"/keys/{kid}", "repo"),
    ]:
        status, headers, body = http(method, "/github/repos/acme/chat-web" + path,
                                     key if method == "POST" else None, token="ghp_readonly")
        assert status == 403 and body["message"] == "Resource not accessible by personal access token", (path, body)
        assert headers["X-Accepted-OAuth-Scopes"] == accepted and headers["X-OAuth-Scopes"] == "read:org", path
    # `write:repo_hook` creates hooks but cannot delete them; `admin:repo_hook` can, and
    # neither reaches deploy keys (that takes `repo`).
    control("POST", "/github/tokens", {"token": "ghp_write", "scopes": ["write:repo_hook"]})
    control("POST", "/github/tokens", {"token": "ghp_admin", "scopes": ["admin:repo_hook"]})
    status, _, body = http("POST", "/github/repos/acme/chat-web/hooks", {"config": {"url": "https://e.com"}}, token="ghp_write")
    assert status == 201
    hid = body["id"]
    status, _, _ = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hid}", token="ghp_write")
    assert status == 403
    status, _, _ = http("GET", "/github/repos/acme/chat-web/keys", token="ghp_admin")
    assert status == 403
    status, _, _ = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hid}", token="ghp_admin")
    assert status == 204
    status, _, body = http("GET", f"/github/repos/acme/chat-web/keys/{kid}", token="ghp_good")
    assert status == 200
    status, _, _ = http("DELETE", f"/github/repos/acme/chat-web/keys/{kid}", token="ghp_good")
    assert status == 204
    status, _, _ = http("DELETE", f"/github/repos/acme/chat-web/keys/{kid}", token="ghp_good")
    assert status == 404
    log = [(c["service"], c["operation"], c["write"], c["status"]) for c in calls()]
    assert ("github", "POST /repos/{owner}/{repo}/keys", True, 403) in log
    assert ("github", "GET /repos/{owner}/{repo}/keys", False, 403) in log
    assert ("github", "DELETE /repos/{owner}/{repo}/keys/{key_id}", True, 204) in log


@test
def github_fine_grained_permissions() -> None:
    github_setup()
    control("POST", "/github/tokens", {"token": "github_pat_hooks", "permissions": {"webhooks": "write"},
                                       "repos": ["acme/chat-web"]})
    control("POST", "/github/tokens", {"token": "github_pat_read", "permissions": {"webhooks": "read",
                                                                                   "administration": "read"}})
    status, headers, body = http("POST", "/github/repos/acme/chat-web/hooks", {"config": {"url": "https://e.com"}},
                                 token="github_pat_hooks")
    assert status == 201 and "X-OAuth-Scopes" not in headers, headers
    hid = body["id"]
    status, headers, body = http("GET", "/github/repos/acme/chat-web/keys", token="github_pat_hooks")
    assert status == 403 and body["message"] == "Resource not accessible by personal access token"
    assert headers["X-Accepted-GitHub-Permissions"] == "administration=read", headers
    status, _, body = http("GET", "/github/repos/acme/chat-web/keys", token="github_pat_read")
    assert status == 200 and body == []
    status, headers, _ = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hid}", token="github_pat_read")
    assert status == 403 and headers["X-Accepted-GitHub-Permissions"] == "webhooks=write"
    status, _, _ = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hid}", token="github_pat_hooks")
    assert status == 204
    control("POST", "/github/repos", {"owner": "acme", "name": "other"})
    status, _, _ = http("GET", "/github/repos/acme/other/hooks", token="github_pat_hooks")
    assert status == 404, "a fine-grained token sees only the repositories it was granted"
    status, _, body = http("POST", "/_emulator/github/tokens", {"token": "x", "scopes": ["repo"],
                                                                "permissions": {"webhooks": "write"}})
    assert status == 422, body


@test
def github_deleting_a_token_deletes_its_deploy_keys() -> None:
    github_setup()
    control("POST", "/github/tokens", {"token": "ghp_other", "scopes": ["repo"]})
    material = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyMaterial1234567890abcdef{}"
    for token, n in (("ghp_good", 1), ("ghp_other", 2)):
        status, _, _ = http("POST", "/github/repos/acme/chat-web/keys",
                            {"title": token, "key": material.format(n), "read_only": True}, token=token)
        assert status == 201
    status, _, _ = http("DELETE", "/_emulator/github/tokens", {"token": "ghp_other"})
    assert status == 204
    assert [k["title"] for k in repo_state()["keys"]] == ["ghp_good"]
    status, _, _ = http("DELETE", "/_emulator/github/tokens", {"token": "ghp_other"})
    assert status == 404


@test
def github_app_installations() -> None:
    github_setup(app_installed=False)
    control("POST", "/github/repos", {"owner": "acme", "name": "other"})
    assert repo_state()["installations"] == []
    control("POST", "/github/installations", {"app": "aws-amplify-eu-west-1", "owner": "acme", "repos": ["other"]})
    assert repo_state()["installations"] == []
    control("POST", "/github/installations", {"app": "aws-amplify-eu-west-1", "owner": "ACME"})
    assert repo_state()["installations"] == ["aws-amplify-eu-west-1"]
    status, _, _ = http("DELETE", "/_emulator/github/installations", {"app": "aws-amplify-eu-west-1", "owner": "acme"})
    assert status == 204 and repo_state()["installations"] == []
    # An installation is no repository webhook: GitHub Apps get their events centrally.
    assert repo_state()["hooks"] == []


@test
def github_faults() -> None:
    github_setup()
    control("POST", "/faults", {"operation": "GET /repos/{owner}/{repo}/hooks", "count": 1, "status": 403,
                                "message": "API rate limit exceeded", "headers": {"x-ratelimit-remaining": "0"}})
    status, headers, body = http("GET", "/github/repos/acme/chat-web/hooks", token="ghp_good")
    assert status == 403 and body["message"] == "API rate limit exceeded" and headers["x-ratelimit-remaining"] == "0"
    status, _, _ = http("GET", "/github/repos/acme/chat-web/hooks", token="ghp_good")
    assert status == 200


# --- Amplify -------------------------------------------------------------------

SETUP_FAILED = "There was an issue setting up your repository. Please try again later."
REPO_URL = "https://github.com/acme/chat-web"


def unified_hook(region: str = REGION) -> list[dict[str, Any]]:
    return [h for h in repo_state()["hooks"]
            if h["config"]["url"].endswith(f".execute-api.{region}.amazonaws.com/prod/github")]


@test
def amplify_app_requires_valid_token() -> None:
    github_setup()
    amp = client("amplify")
    expect_error("BadRequestException", lambda: amp.create_app(name="web", repository=REPO_URL),
                 "You should at least provide one valid token", 400)
    for token, repository in (("ghp_unknown", REPO_URL), ("ghp_good", "https://github.com/acme/missing")):
        err = expect_error("BadRequestException", lambda: amp.create_app(
            name="web", repository=repository, accessToken=token))
        assert err.response["Error"]["Message"].startswith(SETUP_FAILED), err
    control("POST", "/github/tokens", {"token": "ghp_weak", "scopes": []})
    err = expect_error("BadRequestException", lambda: amp.create_app(
        name="web", repository=REPO_URL, accessToken="ghp_weak"))
    # GitHub's answer is relayed after Amplify's sentence, as users see it.
    assert err.response["Error"]["Message"] == SETUP_FAILED + json.dumps({
        "message": "Resource not accessible by personal access token",
        "documentation_url": "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook",
    }, separators=(",", ":")).join("()"), err.response["Error"]["Message"]
    assert amp.list_apps()["apps"] == []
    assert repo_state()["hooks"] == [] and repo_state()["keys"] == []


@test
def amplify_access_token_uses_the_github_app() -> None:
    """accessToken: the App must be installed; the region's webhook is added with the
    token (admin:repo_hook is enough); no deploy key; clone method TOKEN."""
    github_setup(scopes=["admin:repo_hook"], app_installed=False)
    amp = client("amplify")
    expect_error("BadRequestException", lambda: amp.create_app(
        name="web", repository=REPO_URL, accessToken="ghp_good"), SETUP_FAILED)
    control("POST", "/github/installations", {"app": "aws-amplify-us-west-2", "owner": "acme"})
    expect_error("BadRequestException", lambda: amp.create_app(
        name="web", repository=REPO_URL, accessToken="ghp_good"), SETUP_FAILED)
    assert repo_state()["hooks"] == []
    control("POST", "/github/installations", {"app": f"aws-amplify-{REGION}", "owner": "acme", "repos": ["chat-web"]})
    app = amp.create_app(name="web", repository=REPO_URL, accessToken="ghp_good")["app"]
    assert app["repositoryCloneMethod"] == "TOKEN" and app["webhookCreateTime"], app
    assert "ghp_good" not in json.dumps(app, default=str)
    state = repo_state()
    assert len(state["hooks"]) == 1 and state["keys"] == [], state
    hook = state["hooks"][0]
    assert hook["events"] == ["push", "pull_request"] and hook["config"]["secret"] == "********", hook
    assert unified_hook() == [hook]
    # A fine-grained token with "Webhooks: read and write" on the repository does too.
    control("POST", "/github/tokens", {"token": "github_pat_x", "permissions": {"webhooks": "write"},
                                       "repos": ["acme/chat-web"]})
    app2 = amp.create_app(name="web2", repository=REPO_URL, accessToken="github_pat_x")["app"]
    assert app2["repositoryCloneMethod"] == "TOKEN"
    # The second app of the region shares the hook.
    assert len(repo_state()["hooks"]) == 1 and repo_state()["keys"] == []
    assert not [c for c in calls() if c["service"] == "github"], "Amplify's own GitHub calls are not client calls"


@test
def amplify_oauth_token_adds_a_hook_and_a_deploy_key() -> None:
    """oauthToken: the region's webhook and a read-only deploy key per app; clone method
    SSH; no GitHub App needed, but the token must reach deploy keys (`repo`)."""
    github_setup(scopes=["admin:repo_hook"], app_installed=False)
    amp = client("amplify")
    err = expect_error("BadRequestException", lambda: amp.create_app(
        name="web", repository=REPO_URL, oauthToken="ghp_good"))
    assert "create-a-deploy-key" in err.response["Error"]["Message"], err
    assert repo_state()["hooks"] == [], "a refused connection adds nothing"
    control("POST", "/github/tokens", {"token": "ghp_repo", "scopes": ["repo"]})
    app = amp.create_app(name="web", repository=REPO_URL, oauthToken="ghp_repo")["app"]
    assert app["repositoryCloneMethod"] == "SSH"
    app2 = amp.create_app(name="web2", repository=REPO_URL, oauthToken="ghp_repo")["app"]
    state = repo_state()
    assert len(state["hooks"]) == 1 and len(state["keys"]) == 2, state
    titles = sorted(k["title"] for k in state["keys"])
    assert titles == sorted(f"AWS Amplify deploy key for app {a['appId']}" for a in (app, app2))
    assert all(k["read_only"] and k["added_by"] == "emulator-user" for k in state["keys"])
    # Deleting the token that created them deletes the keys (GitHub's rule), not the hook.
    control("DELETE", "/github/tokens", {"token": "ghp_repo"})
    assert repo_state()["keys"] == [] and len(repo_state()["hooks"]) == 1
    # A new token on UpdateApp reconnects: the missing key is minted again.
    control("POST", "/github/tokens", {"token": "ghp_repo2", "scopes": ["repo"]})
    amp.update_app(appId=app["appId"], oauthToken="ghp_repo2")
    assert [k["title"] for k in repo_state()["keys"]] == [f"AWS Amplify deploy key for app {app['appId']}"]


@test
def amplify_access_token_answered_with_ssh() -> None:
    """The knob reproduces what users report for classic tokens (amplify-hosting#4103):
    accessToken connects over SSH with a deploy key."""
    github_setup()
    control("POST", "/faults", {"amplify_access_token_clone": "SSH"})
    assert control("GET", "/faults")["amplify_access_token_clone"] == "SSH"
    amp = client("amplify")
    app = amp.create_app(name="web", repository=REPO_URL, accessToken="ghp_good")["app"]
    assert app["repositoryCloneMethod"] == "SSH"
    assert len(repo_state()["keys"]) == 1 and len(repo_state()["hooks"]) == 1
    status, _, body = http("POST", "/_emulator/faults", {"amplify_access_token_clone": "HTTPS"})
    assert status == 400, body


@test
def amplify_webhooks_are_per_region() -> None:
    github_setup()
    control("POST", "/github/installations", {"app": "aws-amplify-us-west-2", "owner": "acme"})
    amp = client("amplify")
    west = boto3.client("amplify", endpoint_url=BASE, region_name="us-west-2", aws_access_key_id="AKIDEMULATOR",
                        aws_secret_access_key="emulator-secret",
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    amp.create_app(name="a", repository=REPO_URL, accessToken="ghp_good")
    amp.create_app(name="b", repository=REPO_URL, accessToken="ghp_good")
    west.create_app(name="c", repository=REPO_URL, accessToken="ghp_good")
    assert len(unified_hook(REGION)) == 1 and len(unified_hook("us-west-2")) == 1
    assert len(repo_state()["hooks"]) == 2
    assert [a["name"] for a in west.list_apps()["apps"]] == ["c"]


@test
def amplify_setup_fails_at_githubs_hook_limit() -> None:
    """GitHub allows 20 webhooks per repository; Amplify then cannot add the region's."""
    github_setup()
    for i in range(20):
        status, _, _ = http("POST", "/github/repos/acme/chat-web/hooks",
                            {"config": {"url": f"https://ci.example.com/{i}"}}, token="ghp_good")
        assert status == 201
    err = expect_error("BadRequestException", lambda: client("amplify").create_app(
        name="web", repository=REPO_URL, accessToken="ghp_good"))
    message = err.response["Error"]["Message"]
    assert message.startswith(SETUP_FAILED + '({"message":"Validation Failed"'), message
    assert client("amplify").list_apps()["apps"] == [] and len(repo_state()["hooks"]) == 20


@test
def amplify_app_branch_job() -> None:
    github_setup()
    control("POST", "/faults", {"amplify_job_s": 0.4})
    amp = client("amplify")
    app = amp.create_app(
        name="chat-web", repository=REPO_URL, accessToken="ghp_good", platform="WEB",
        environmentVariables={"CHAT_URL": "wss://x"}, buildSpec="version: 1\n",
        customRules=[{"source": "/<*>", "target": "/index.html", "status": "404-200"}],
        tags={"chatctl:stack": "chat-dev"})["app"]
    app_id = app["appId"]
    assert app_id.startswith("d") and app["defaultDomain"] == f"{app_id}.amplifyapp.com"
    assert app["appArn"] == f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{app_id}"
    assert app["tags"] == {"chatctl:stack": "chat-dev"} and app["platform"] == "WEB"
    assert app["customRules"][0]["target"] == "/index.html"
    assert amp.get_app(appId=app_id)["app"]["environmentVariables"] == {"CHAT_URL": "wss://x"}
    assert [a["appId"] for a in amp.list_apps()["apps"]] == [app_id]
    upd = amp.update_app(appId=app_id, environmentVariables={"CHAT_URL": "wss://y"})["app"]
    assert upd["environmentVariables"] == {"CHAT_URL": "wss://y"} and upd["name"] == "chat-web"
    before = repo_state()
    assert len(before["hooks"]) == 1, before
    branch = amp.create_branch(appId=app_id, branchName="main", stage="PRODUCTION", framework="Web",
                               enableAutoBuild=True, environmentVariables={"B": "1"})["branch"]
    assert branch["branchName"] == "main" and branch["stage"] == "PRODUCTION" and branch["enableAutoBuild"] is True
    # A branch needs no token and touches no repository.
    assert repo_state() == before
    assert amp.get_branch(appId=app_id, branchName="main")["branch"]["environmentVariables"] == {"B": "1"}
    assert [b["branchName"] for b in amp.list_branches(appId=app_id)["branches"]] == ["main"]
    assert amp.update_branch(appId=app_id, branchName="main", framework="React")["branch"]["framework"] == "React"
    job = amp.start_job(appId=app_id, branchName="main", jobType="RELEASE")["jobSummary"]
    assert job["status"] == "PENDING" and job["jobId"] == "1", job
    time.sleep(0.25)
    assert amp.get_job(appId=app_id, branchName="main", jobId="1")["job"]["summary"]["status"] == "RUNNING"
    time.sleep(0.25)
    got = amp.get_job(appId=app_id, branchName="main", jobId="1")["job"]
    assert got["summary"]["status"] == "SUCCEED" and [s["stepName"] for s in got["steps"]] == ["BUILD", "DEPLOY", "VERIFY"]
    assert [j["jobId"] for j in amp.list_jobs(appId=app_id, branchName="main")["jobSummaries"]] == ["1"]
    expect_error("NotFoundException", lambda: amp.get_job(appId=app_id, branchName="main", jobId="9"), status=404)
    # Tags
    amp.tag_resource(resourceArn=app["appArn"], tags={"chatctl:hooks": "1"})
    assert amp.list_tags_for_resource(resourceArn=app["appArn"])["tags"] == {"chatctl:stack": "chat-dev", "chatctl:hooks": "1"}
    amp.untag_resource(resourceArn=app["appArn"], tagKeys=["chatctl:hooks"])
    assert amp.get_app(appId=app_id)["app"]["tags"] == {"chatctl:stack": "chat-dev"}
    expect_error("ResourceNotFoundException", lambda: amp.list_tags_for_resource(
        resourceArn=f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/dnope"), status=404)
    # Deleting branches and apps leaves the hook (and, over SSH, the key) behind.
    app2 = amp.create_app(name="chat-web-2", repository=REPO_URL, oauthToken="ghp_good")["app"]
    amp.delete_branch(appId=app_id, branchName="main")
    expect_error("NotFoundException", lambda: amp.get_branch(appId=app_id, branchName="main"))
    amp.delete_app(appId=app_id)
    amp.delete_app(appId=app2["appId"])
    expect_error("NotFoundException", lambda: amp.get_app(appId=app_id), status=404)
    state = repo_state()
    assert len(state["hooks"]) == 1 and len(state["keys"]) == 1, state
    ops = [c["operation"] for c in calls() if c["service"] == "amplify"]
    assert ops[:2] == ["CreateApp", "GetApp"], ops


@test
def amplify_reinstalls_missing_hook_and_pages() -> None:
    github_setup()
    amp = client("amplify")
    first = amp.create_app(name="a0", repository=REPO_URL, accessToken="ghp_good")["app"]
    hook_id = repo_state()["hooks"][0]["id"]
    status, _, _ = http("DELETE", f"/github/repos/acme/chat-web/hooks/{hook_id}", token="ghp_good")
    assert status == 204
    for i in (1, 2):
        amp.create_app(name=f"a{i}", repository=REPO_URL, accessToken="ghp_good")
    assert len(repo_state()["hooks"]) == 1 and repo_state()["hooks"][0]["id"] != hook_id
    page = amp.list_apps(maxResults=2)
    assert len(page["apps"]) == 2 and page["nextToken"]
    rest = amp.list_apps(maxResults=2, nextToken=page["nextToken"])
    assert len(rest["apps"]) == 1 and "nextToken" not in rest
    amp.create_branch(appId=first["appId"], branchName="main")
    expect_error("BadRequestException", lambda: amp.create_branch(appId=first["appId"], branchName="main"))
    expect_error("NotFoundException", lambda: amp.create_branch(appId="dmissing", branchName="main"))


@test
def amplify_failed_job_and_manual_app() -> None:
    control("POST", "/faults", {"amplify_job_s": 0, "amplify_job_status": "FAILED"})
    github_setup()
    amp = client("amplify")
    app = amp.create_app(name="x", repository=REPO_URL, oauthToken="ghp_good")["app"]
    amp.create_branch(appId=app["appId"], branchName="dev")
    job = amp.start_job(appId=app["appId"], branchName="dev", jobType="RELEASE")["jobSummary"]
    assert job["status"] == "FAILED", job
    manual = amp.create_app(name="manual")["app"]
    assert "repository" not in manual or not manual["repository"]
    amp.create_branch(appId=manual["appId"], branchName="main")
    expect_error("BadRequestException", lambda: amp.start_job(appId=manual["appId"], branchName="main", jobType="RELEASE"))


# --- runner ----------------------------------------------------------------------

def start_emulator() -> subprocess.Popen[str]:
    global BASE
    proc = subprocess.Popen(
        [os.path.join(HERE, "start"), "0"], stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
        stdin=subprocess.PIPE,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("emulator exited before it was ready")
        if line.startswith("emulator listening on "):
            BASE = line.split()[-1]
            return proc
    raise RuntimeError("emulator did not start within 60 s")


def main() -> int:
    global BASE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="use an emulator already running on this port")
    parser.add_argument("-k", dest="pattern", help="run only tests whose name contains this")
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    # The strict API Gateway rules' tests and the sign-in tests live beside this file and
    # register into TESTS.
    sys.modules.setdefault("selftest", sys.modules[__name__])
    import selftest_auth  # noqa: F401
    import selftest_strict  # noqa: F401
    proc = None
    if args.port:
        BASE = f"http://127.0.0.1:{args.port}"
    else:
        t0 = time.monotonic()
        proc = start_emulator()
        print(f"emulator ready in {time.monotonic() - t0:.2f}s at {BASE}")
    passed = failed = 0
    try:
        for name, fn in TESTS:
            if args.pattern and args.pattern not in name:
                continue
            reset()
            t0 = time.monotonic()
            try:
                fn()
            except Exception:
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {name} ({(time.monotonic() - t0) * 1000:.0f} ms)")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
