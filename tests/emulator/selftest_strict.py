"""Self-tests of the strict API Gateway rules (chatemu/strict.py).

Each test sends the request shape that moto used to accept and AWS rejects, checks the
refusal (error code and message), then the shape AWS documents. Imported by selftest.py,
whose runner resets the emulator before each test.
"""

from __future__ import annotations

import time
from typing import Any

from selftest import REGION, client, control, create_role, expect_error, http, set_account_role, test

# A SigV4 credential scope is all the emulator reads to route a request; botocore refuses to
# send a request that lacks a required member, so those are sent by hand.
SIGNED = {"Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEMULATOR/20240101/{REGION}/apigateway/aws4_request, "
                           "SignedHeaders=host, Signature=0"}


def raw(method: str, path: str, body: Any) -> tuple[int, str, str]:
    """(status, error type, message) of a request botocore would not send."""
    status, headers, payload = http(method, path, body, headers=SIGNED)
    return status, headers.get("x-amzn-ErrorType", ""), (payload or {}).get("message", "")


def api(name: str = "chat-dev") -> str:
    return client("apigatewayv2").create_api(
        Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]


def http_integration(api_id: str, uri: str = "https://${stageVariables.backendHost}/connect",
                     **extra: Any) -> str:
    return client("apigatewayv2").create_integration(
        ApiId=api_id, IntegrationType="HTTP", IntegrationMethod="POST", IntegrationUri=uri,
        **extra)["IntegrationId"]


def stage(api_id: str, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"StageVariables": {"backendHost": "backend.example.com"}}
    args.update(extra)
    return client("apigatewayv2").create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True, **args)


def deployments(api_id: str) -> list[dict[str, Any]]:
    return client("apigatewayv2").get_deployments(ApiId=api_id)["Items"]


def last_message(api_id: str) -> str | None:
    return client("apigatewayv2").get_stage(ApiId=api_id, StageName="dev").get("LastDeploymentStatusMessage")


@test
def strict_integration_uri_needs_a_literal_scheme() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    # The scheme inside the stage variable: what chatctl used to deploy.
    for bad in ("${stageVariables.backendUrl}/connect", "${stageVariables.scheme}://host/connect",
                "https://${backend}/connect", "https:///connect", "ftp://host/x", "https://host/a b"):
        err = expect_error("BadRequestException", lambda bad=bad: http_integration(api_id, bad))
        assert err.response["Error"]["Message"].startswith("Invalid integration URI specified"), err
    expect_error("BadRequestException", lambda: v2.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="POST"),
        "IntegrationUri is required for integrations of type HTTP and HTTP_PROXY")
    for good in ("https://${stageVariables.backendHost}/connect", "http://127.0.0.1:9000/connect",
                 "https://${stageVariables.sub}.example.com/x?q=${stageVariables.q}"):
        http_integration(api_id, good)
    iid = http_integration(api_id)
    expect_error("BadRequestException", lambda: v2.update_integration(
        ApiId=api_id, IntegrationId=iid, IntegrationUri="${stageVariables.backendUrl}/connect"))
    # MOCK integrations have no URI to check.
    v2.create_integration(ApiId=api_id, IntegrationType="MOCK")


@test
def strict_websocket_timeout_is_50_to_29000_ms() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    # (botocore itself refuses values under 50, so only the upper bound is sent here.)
    for bad in (30000, 29001):
        expect_error("BadRequestException", lambda bad=bad: http_integration(api_id, TimeoutInMillis=bad))
    assert v2.get_integration(ApiId=api_id, IntegrationId=http_integration(api_id, TimeoutInMillis=50))[
        "TimeoutInMillis"] == 50
    iid = http_integration(api_id, TimeoutInMillis=29000)
    expect_error("BadRequestException", lambda: v2.update_integration(
        ApiId=api_id, IntegrationId=iid, TimeoutInMillis=30000))


@test
def strict_mapping_expressions_follow_the_data_mapping_syntax() -> None:
    api_id = api()
    bad = [
        {"x-chat-name": "route.request.querystring.name"},                   # target not integration.request.*
        {"integration.request.header.x": "querystring.name"},                # source without route.request
        {"integration.request.header.x": "method.request.querystring.name"},  # REST form
        {"integration.request.header.x": "context.nosuchvariable"},
        {"integration.request.header.x": "unquoted static"},
        {"integration.request.header.a b": "context.connectionId"},
    ]
    for params in bad:
        expect_error("BadRequestException", lambda params=params: http_integration(api_id, RequestParameters=params))
    good = {
        "integration.request.header.x-connection-id": "context.connectionId",
        "integration.request.header.x-name": "context.authorizer.name",  # a Lambda authorizer's context
        "integration.request.header.x-principal": "context.authorizer.principalId",
        "integration.request.header.x-ip": "context.identity.sourceIp",
        "integration.request.header.x-token": "route.request.querystring.token",
        "integration.request.header.x-agent": "route.request.header.User-Agent",
        "integration.request.querystring.stage": "stageVariables.stage_name",
        "integration.request.header.x-to": "route.request.body.to",
        "integration.request.header.x-fixed": "'constant'",
    }
    iid = http_integration(api_id, RequestParameters=good)
    assert client("apigatewayv2").get_integration(ApiId=api_id, IntegrationId=iid)["RequestParameters"] == good


@test
def strict_route_response_selection_is_default_only() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    iid = http_integration(api_id)
    expect_error("BadRequestException", lambda: v2.create_route(
        ApiId=api_id, RouteKey="who", Target=f"integrations/{iid}",
        RouteResponseSelectionExpression="$request.body.kind"))
    rid = v2.create_route(ApiId=api_id, RouteKey="who", Target=f"integrations/{iid}",
                          RouteResponseSelectionExpression="$default")["RouteId"]
    # An empty expression on update makes the route one-way again.
    v2.update_route(ApiId=api_id, RouteId=rid, RouteResponseSelectionExpression="")
    expect_error("BadRequestException", lambda: v2.create_route_response(
        ApiId=api_id, RouteId=rid, RouteResponseKey="$request.body.kind"))
    v2.create_route_response(ApiId=api_id, RouteId=rid, RouteResponseKey="$default")


@test
def strict_integration_response_keys_are_default_or_a_pattern() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    iid = http_integration(api_id)
    expect_error("BadRequestException", lambda: v2.create_integration_response(
        ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="200"))
    v2.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="/2\\d\\d/")
    v2.create_integration_response(ApiId=api_id, IntegrationId=iid, IntegrationResponseKey="$default")


@test
def strict_route_targets_name_an_integration_of_the_api() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    for target in ("integrations/nosuch", "https://backend.example.com/who"):
        expect_error("BadRequestException", lambda target=target: v2.create_route(
            ApiId=api_id, RouteKey="who", Target=target))
    v2.create_route(ApiId=api_id, RouteKey="who", Target=f"integrations/{http_integration(api_id)}")


@test
def strict_required_members_are_required() -> None:
    api_id = api()
    iid = http_integration(api_id)
    for path, body, message in [
        ("/v2/apis", {"protocolType": "WEBSOCKET", "routeSelectionExpression": "$request.body.action"},
         "Name is required"),
        (f"/v2/apis/{api_id}/integrations", {"integrationUri": "https://x.example/a"}, "IntegrationType is required"),
        (f"/v2/apis/{api_id}/routes", {"target": f"integrations/{iid}"}, "RouteKey is required"),
        (f"/v2/apis/{api_id}/stages", {"autoDeploy": True}, "Invalid stage name specified: None"),
        (f"/v2/apis/{api_id}/integrations", {"integrationType": "HTTP", "integrationUri": "https://x.example/a",
                                              "timeoutInMillis": 49}, None),
    ]:
        status, error, got = raw("POST", path, body)
        assert (status, error) == (400, "BadRequestException"), (path, status, error, got)
        assert message is None or got.startswith(message), (path, got)


@test
def strict_websocket_apis_need_a_route_selection_expression() -> None:
    v2 = client("apigatewayv2")
    expect_error("BadRequestException", lambda: v2.create_api(Name="chat", ProtocolType="WEBSOCKET"),
                 "RouteSelectionExpression is required for WebSocket APIs")
    v2.create_api(Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")


@test
def strict_stage_names_and_variables() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    expect_error("BadRequestException", lambda: v2.create_stage(ApiId=api_id, StageName="my stage"))
    for variables in ({"backend-host": "x.example"}, {"backendHost": "https://x.example/a b"},
                      {"backendHost": "x" * 2049}, {"secret": "abc%20"}, {"empty": ""}):
        expect_error("BadRequestException", lambda variables=variables: v2.create_stage(
            ApiId=api_id, StageName="dev", StageVariables=variables))
    v2.create_stage(ApiId=api_id, StageName="dev",
                    StageVariables={"backendHost": "abc.lambda-url.eu-west-1.on.aws", "port_path": "127.0.0.1:9/x"})
    v2.create_stage(ApiId=api_id, StageName="$default")


@test
def strict_stage_variables_merge_and_an_empty_value_removes_one() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    v2.create_stage(ApiId=api_id, StageName="dev", StageVariables={"backendUrl": "https://old.example",
                                                                  "backendSecret": "s3cret"})
    # The old request shape: the full new map, expecting the stale key to disappear. It stays.
    v2.update_stage(ApiId=api_id, StageName="dev", StageVariables={"backendHost": "new.example",
                                                                  "backendSecret": "s3cret"})
    got = v2.get_stage(ApiId=api_id, StageName="dev")["StageVariables"]
    assert got == {"backendUrl": "https://old.example", "backendHost": "new.example", "backendSecret": "s3cret"}, got
    v2.update_stage(ApiId=api_id, StageName="dev", StageVariables={"backendUrl": ""})
    got = v2.get_stage(ApiId=api_id, StageName="dev")["StageVariables"]
    assert got == {"backendHost": "new.example", "backendSecret": "s3cret"}, got


@test
def strict_request_parameters_merge_and_stale_keys_are_removed() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    iid = http_integration(api_id, RequestParameters={
        "integration.request.header.x-old": "context.requestId",
        "integration.request.header.x-connection-id": "context.connectionId"})
    v2.update_integration(ApiId=api_id, IntegrationId=iid, RequestParameters={
        "integration.request.header.x-route-key": "context.routeKey"})
    got = v2.get_integration(ApiId=api_id, IntegrationId=iid)["RequestParameters"]
    assert set(got) == {"integration.request.header.x-old", "integration.request.header.x-connection-id",
                        "integration.request.header.x-route-key"}, got
    v2.update_integration(ApiId=api_id, IntegrationId=iid, RequestParameters={
        "integration.request.header.x-old": ""})
    got = v2.get_integration(ApiId=api_id, IntegrationId=iid)["RequestParameters"]
    assert "integration.request.header.x-old" not in got and len(got) == 2, got
    # Route request parameters: UpdateRoute adds; DeleteRouteRequestParameter removes.
    rid = v2.create_route(ApiId=api_id, RouteKey="$connect", Target=f"integrations/{iid}", RequestParameters={
        "route.request.querystring.old": {"Required": False}})["RouteId"]
    v2.update_route(ApiId=api_id, RouteId=rid, RequestParameters={"route.request.querystring.name": {"Required": False}})
    got = v2.get_route(ApiId=api_id, RouteId=rid)["RequestParameters"]
    assert set(got) == {"route.request.querystring.old", "route.request.querystring.name"}, got
    v2.delete_route_request_parameter(ApiId=api_id, RouteId=rid, RequestParameterKey="route.request.querystring.old")
    assert set(v2.get_route(ApiId=api_id, RouteId=rid)["RequestParameters"]) == {"route.request.querystring.name"}
    expect_error("NotFoundException", lambda: v2.delete_route_request_parameter(
        ApiId=api_id, RouteId=rid, RequestParameterKey="route.request.querystring.old"), status=404)
    expect_error("BadRequestException", lambda: v2.update_route(
        ApiId=api_id, RouteId=rid, RequestParameters={"querystring.name": {"Required": False}}))


@test
def strict_auto_deploy_records_each_deployment_and_its_verdict() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    stage(api_id)
    assert last_message(api_id) == ("Deployment attempt failed: Unable to deploy API because no routes "
                                    "exist in this API"), last_message(api_id)
    first = deployments(api_id)
    assert [d["DeploymentStatus"] for d in first] == ["FAILED"] and first[0]["AutoDeployed"] is True, first
    # $connect without an integration is valid (its integration is optional).
    v2.create_route(ApiId=api_id, RouteKey="$connect")
    ok = deployments(api_id)[0]
    assert ok["DeploymentStatus"] == "DEPLOYED", ok
    got = v2.get_stage(ApiId=api_id, StageName="dev")
    assert got["DeploymentId"] == ok["DeploymentId"]
    assert got["LastDeploymentStatusMessage"] == f"Successfully deployed stage with deployment ID '{ok['DeploymentId']}'"
    assert v2.get_deployment(ApiId=api_id, DeploymentId=ok["DeploymentId"])["DeploymentStatus"] == "DEPLOYED"
    # Another route without an integration does not deploy; the stage keeps its deployment.
    rid = v2.create_route(ApiId=api_id, RouteKey="who")["RouteId"]
    failed = deployments(api_id)[0]
    assert failed["DeploymentStatus"] == "FAILED" and "route who has no integration" in failed["DeploymentStatusMessage"]
    got = v2.get_stage(ApiId=api_id, StageName="dev")
    assert got["DeploymentId"] == ok["DeploymentId"] and got["LastDeploymentStatusMessage"].startswith(
        "Deployment attempt failed: "), got
    # An integration whose URI names a stage variable the stage lacks cannot resolve.
    iid = http_integration(api_id, "https://${stageVariables.elsewhere}/who")
    v2.update_route(ApiId=api_id, RouteId=rid, Target=f"integrations/{iid}")
    assert "stage variable elsewhere is not defined in stage dev" in last_message(api_id), last_message(api_id)
    # Stage settings need no deployment: defining the variable deploys nothing by itself...
    count = len(deployments(api_id))
    v2.update_stage(ApiId=api_id, StageName="dev", StageVariables={"elsewhere": "backend.example.com"})
    assert len(deployments(api_id)) == count
    # ...an explicit deployment of the stage picks it up.
    explicit = v2.create_deployment(ApiId=api_id, StageName="dev")
    assert explicit["DeploymentStatus"] == "DEPLOYED" and explicit["AutoDeployed"] is False, explicit
    assert v2.get_stage(ApiId=api_id, StageName="dev")["DeploymentId"] == explicit["DeploymentId"]
    assert deployments(api_id)[0]["DeploymentId"] == explicit["DeploymentId"], "newest first"
    v2.delete_deployment(ApiId=api_id, DeploymentId=first[0]["DeploymentId"])
    expect_error("NotFoundException", lambda: v2.get_deployment(ApiId=api_id, DeploymentId=first[0]["DeploymentId"]))


@test
def strict_mappings_from_undeclared_or_connect_only_parameters_do_not_deploy() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    stage(api_id)
    iid = http_integration(api_id, RequestParameters={
        "integration.request.header.x-chat-name": "route.request.querystring.name"})
    # What chatctl used to deploy: $connect maps the query string but declares nothing.
    rid = v2.create_route(ApiId=api_id, RouteKey="$connect", Target=f"integrations/{iid}")["RouteId"]
    message = last_message(api_id)
    assert message.startswith("Deployment attempt failed: ") and "not a defined route request parameter" in message, message
    v2.update_route(ApiId=api_id, RouteId=rid, RequestParameters={"route.request.querystring.name": {"Required": False}})
    assert last_message(api_id).startswith("Successfully deployed stage"), last_message(api_id)
    # Query strings and headers exist on $connect only.
    other = http_integration(api_id, RequestParameters={
        "integration.request.header.x-agent": "route.request.header.User-Agent"})
    v2.create_route(ApiId=api_id, RouteKey="sendmessage", Target=f"integrations/{other}",
                    RequestParameters={"route.request.header.User-Agent": {"Required": False}})
    assert "supported only on the $connect route" in last_message(api_id), last_message(api_id)


@test
def strict_deployments_can_be_pending_or_fail_on_request() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    v2.create_route(ApiId=api_id, RouteKey="$connect")
    control("POST", "/faults", {"deployment_pending_s": 0.4})
    stage(api_id)
    pending = deployments(api_id)
    assert [d["DeploymentStatus"] for d in pending] == ["PENDING"], pending
    assert last_message(api_id) is None and "DeploymentId" not in v2.get_stage(ApiId=api_id, StageName="dev")
    time.sleep(0.5)
    assert deployments(api_id)[0]["DeploymentStatus"] == "DEPLOYED"
    assert last_message(api_id).startswith("Successfully deployed stage")
    control("DELETE", "/faults")
    control("POST", "/faults", {"deployment_failure": "Execution failed due to configuration error"})
    mock = v2.create_integration(ApiId=api_id, IntegrationType="MOCK")["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="$default", Target=f"integrations/{mock}")
    assert last_message(api_id) == "Deployment attempt failed: Execution failed due to configuration error"
    assert deployments(api_id)[0]["DeploymentStatusMessage"] == "Execution failed due to configuration error"
    control("DELETE", "/faults")
    assert v2.create_deployment(ApiId=api_id, StageName="dev")["DeploymentStatus"] == "DEPLOYED"
    # An explicit deployment that cannot succeed is refused at once.
    v2.create_route(ApiId=api_id, RouteKey="who")
    expect_error("BadRequestException", lambda: v2.create_deployment(ApiId=api_id, StageName="dev"))


@test
def strict_auto_deploy_stages_take_no_deployment_id() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    v2.create_route(ApiId=api_id, RouteKey="$connect")
    stage(api_id)
    deployment = deployments(api_id)[0]["DeploymentId"]
    expect_error("BadRequestException", lambda: v2.update_stage(
        ApiId=api_id, StageName="dev", DeploymentId=deployment))
    v2.update_stage(ApiId=api_id, StageName="dev", AutoDeploy=False, DeploymentId=deployment)


@test
def strict_logging_needs_the_account_role() -> None:
    v2 = client("apigatewayv2")
    api_id = api()
    expect_error("BadRequestException", lambda: v2.create_stage(
        ApiId=api_id, StageName="dev", DefaultRouteSettings={"LoggingLevel": "INFO", "ThrottlingBurstLimit": 1,
                                                             "ThrottlingRateLimit": 1.0}),
        "CloudWatch Logs role ARN must be set in account settings to enable logging")
    expect_error("BadRequestException", lambda: v2.create_stage(
        ApiId=api_id, StageName="dev", AccessLogSettings={
            "DestinationArn": f"arn:aws:logs:{REGION}:123456789012:log-group:/a", "Format": "$context.requestId"}))
    v2.create_stage(ApiId=api_id, StageName="dev", DefaultRouteSettings={"LoggingLevel": "OFF"})
    expect_error("BadRequestException", lambda: v2.update_stage(
        ApiId=api_id, StageName="dev", DefaultRouteSettings={"LoggingLevel": "ERROR"}))
    set_account_role()
    v2.update_stage(ApiId=api_id, StageName="dev", DefaultRouteSettings={"LoggingLevel": "ERROR"})


@test
def strict_api_gateway_creates_the_execution_log_group() -> None:
    v2 = client("apigatewayv2")
    logs = client("logs")
    set_account_role()
    quiet, loud = api("quiet"), api("loud")
    for api_id in (quiet, loud):
        v2.create_route(ApiId=api_id, RouteKey="$connect")
    stage(quiet, DefaultRouteSettings={"LoggingLevel": "OFF"})
    stage(loud, DefaultRouteSettings={"LoggingLevel": "INFO"})
    groups = logs.describe_log_groups(logGroupNamePrefix="API-Gateway-Execution-Logs_")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"API-Gateway-Execution-Logs_{loud}/dev"], groups
    assert "retentionInDays" not in groups[0], groups
    # Logging switched on later, without a new deployment: the group appears too.
    v2.update_stage(ApiId=quiet, StageName="dev", DefaultRouteSettings={"LoggingLevel": "ERROR"})
    names = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="API-Gateway-Execution-Logs_")["logGroups"]}
    assert f"API-Gateway-Execution-Logs_{quiet}/dev" in names, names
    # Deleting the API leaves the group, as on AWS.
    v2.delete_api(ApiId=loud)
    names = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="API-Gateway-Execution-Logs_")["logGroups"]}
    assert f"API-Gateway-Execution-Logs_{loud}/dev" in names, names


@test
def strict_log_retention_takes_only_the_documented_values() -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="/chatctl/chat-dev/access")
    err = expect_error("InvalidParameterException", lambda: logs.put_retention_policy(
        logGroupName="/chatctl/chat-dev/access", retentionInDays=2))
    assert "Member must satisfy enum value set" in err.response["Error"]["Message"], err
    logs.put_retention_policy(logGroupName="/chatctl/chat-dev/access", retentionInDays=30)
    assert logs.describe_log_groups(logGroupNamePrefix="/chatctl/")["logGroups"][0]["retentionInDays"] == 30


@test
def strict_china_apis_answer_on_the_china_domain() -> None:
    v2 = client("apigatewayv2", region="cn-north-1")
    created = v2.create_api(Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    assert created["ApiEndpoint"] == f"wss://{created['ApiId']}.execute-api.cn-north-1.amazonaws.com.cn", created
