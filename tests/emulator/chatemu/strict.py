"""What AWS would reject, the emulator rejects: API Gateway's documented validation of the
calls chatctl makes, its merge semantics, and the verdict of (auto-)deployments.

moto accepts any integration URI, any mapping expression, any stage variable, replaces maps
on update and has no deployments at all. Each rule below names the document (and section)
it follows; selftest.py shows the request shape that used to pass failing now. Wording of
error messages follows AWS where a message is published (quoted in the comment), and is
otherwise close to AWS's style; docs/aws-behaviour.md lists which is which.

Sources, cited by short name in the rules:
  [stages]     API Gateway developer guide, "Create stages for WebSocket APIs in API Gateway"
               (websocket-api-stages.md), "Stage variables" and "API Gateway stage variables
               reference / HTTP integration URIs".
  [mapping]    developer guide, "Set up data mapping for WebSocket APIs in API Gateway"
               (websocket-api-data-mapping.md), "Map route request data to integration
               request parameters".
  [context]    developer guide, "API Gateway WebSocket API mapping template reference"
               (apigateway-websocket-api-mapping-template-reference.md).
  [selection]  developer guide, "WebSocket selection expressions in API Gateway"
               (apigateway-websocket-api-selection-expressions.md), "Route response
               selection expressions" and the summary table.
  [connect]    developer guide, "Managing connected users and client apps: $connect and
               $disconnect routes": "Setting up an integration for $connect is optional".
  [apiref]     API Gateway v2 API reference as shipped in botocore's apigatewayv2 model
               (CreateIntegration.TimeoutInMillis, CreateStage.StageVariables,
               UpdateStage.StageName/DeploymentId, GetStage.LastDeploymentStatusMessage,
               CreateApi.RouteSelectionExpression, Deployment.DeploymentStatus).
  [logging]    developer guide, "Set up CloudWatch logging for REST APIs in API Gateway",
               "CloudWatch log formats for API Gateway" (set-up-logging.md), which the
               WebSocket logging page ("Configure logging for WebSocket APIs") refers to:
               "When you deploy an API, API Gateway creates a log group ... named following
               the API-Gateway-Execution-Logs_{rest-api-id}/{stage_name} format".
  [tf-stage]   hashicorp/terraform-provider-aws internal/service/apigatewayv2/stage.go,
               resourceStageUpdate: "Variables are removed by setting the associated value
               to \"\"".
  [tf-integ]   same provider, integration.go, resourceIntegrationUpdate: "Parameters are
               removed by setting the associated value to \"\"".
  [tf-route]   same provider, route.go, resourceRouteUpdate: stale route request
               parameters are removed with DeleteRouteRequestParameter.
  [cwl]        CloudWatch Logs API reference (botocore logs model), PutRetentionPolicy /
               Days: "Possible values are: 1, 3, 5, 7, 14, 30, ...".
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from moto.apigateway.models import apigateway_backends
from moto.apigatewayv2 import models as v2m
from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.models import logs_backends

from .control import CONTROL
from .errors import Response, aws_error
from .ops import RESOLVER

# --- the rules ----------------------------------------------------------------------------

# [stages] "A full URI without protocol – http://${stageVariables.<variable_name>}": the
# scheme is written literally; a stage variable may stand for the host, a subdomain, a path
# segment or a query value, never for the scheme. [apiref] UriWithLengthBetween1And2048.
HTTP_URI = re.compile(r"https?://[^\s]+")
STAGE_VARIABLE_REF = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
URI_MAX = 2048
INVALID_URI = "Invalid integration URI specified"

# [apiref] CreateIntegration.TimeoutInMillis: "Custom timeout between 50 and 29,000
# milliseconds for WebSocket APIs and between 50 and 30,000 milliseconds for HTTP APIs."
TIMEOUT_RANGE = {"WEBSOCKET": (50, 29_000), "HTTP": (50, 30_000)}

# [apiref] StageVariables: "Variable names can have alphanumeric and underscore characters,
# and the values must match [A-Za-z0-9-._~:/?#&=,]+"; values are StringWithLengthBetween0And2048.
STAGE_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_]+")
STAGE_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9\-._~:/?#&=,]+")
STAGE_VARIABLE_MAX = 2048

# [apiref] UpdateStage.StageName: "Stage names can contain only alphanumeric characters,
# hyphens, and underscores, or be $default. Maximum length is 128 characters."
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}|\$default")

# [mapping] "PARAM_NAME ... must match the regular expression '^[a-zA-Z0-9._$-]+$'".
PARAM_NAME = r"[a-zA-Z0-9._$-]+"
# [mapping] integration request parameter targets; [apiref] RequestParameters: "{location}
# is querystring, path, or header".
TARGET = re.compile(rf"integration\.request\.(header|querystring|path)\.({PARAM_NAME})")
# [mapping] sources only the $connect route has (query string and headers of the upgrade).
CONNECT_ONLY = re.compile(
    rf"route\.request\.(querystring|header|multivaluequerystring|multivalueheader)\.({PARAM_NAME})"
)
BODY_SOURCE = re.compile(r"route\.request\.body\.\S+")
STAGE_SOURCE = re.compile(r"stageVariables\.([A-Za-z0-9_]+)")
STATIC_SOURCE = re.compile(r"'[^']*'")
# [context] the context variables of WebSocket APIs (authorizer.<property> is any key of
# the Lambda authorizer's context map).
CONTEXT_VARIABLES = {
    "connectionId", "connectedAt", "domainName", "eventType", "messageId", "routeKey",
    "requestId", "extendedRequestId", "apiId", "authorizer.principalId",
    "error.message", "error.messageString", "error.responseType", "error.validationErrorString",
    "identity.accountId", "identity.apiKey", "identity.apiKeyId", "identity.caller",
    "identity.cognitoAuthenticationProvider", "identity.cognitoAuthenticationType",
    "identity.cognitoIdentityId", "identity.cognitoIdentityPoolId", "identity.sourceIp",
    "identity.user", "identity.userAgent", "identity.userArn", "requestTime",
    "requestTimeEpoch", "stage", "status",
}
AUTHORIZER_PROPERTY = re.compile(r"authorizer\.[A-Za-z0-9_$-]+")
# Declared route request parameters ([mapping] example: update-route --request-parameters
# '{"route.request.querystring.authToken": {"Required": false}}').
ROUTE_PARAMETER = re.compile(
    rf"route\.request\.(querystring|header|multivaluequerystring|multivalueheader)\.{PARAM_NAME}"
)

# [selection] "Route.RouteResponseSelectionExpression ... Currently, this value is
# restricted to $default only"; route response keys: "currently only the $default key is
# supported".
DEFAULT_KEY = "$default"
# [selection] integration response keys: $default, or a pattern wrapped in forward slashes
# ("/2\d\d/").
INTEGRATION_RESPONSE_KEY = re.compile(r"\$default|/.+/")

INTEGRATION_TYPES = {"AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"}
HTTP_TYPES = {"HTTP", "HTTP_PROXY"}
LOGGING_ON = {"ERROR", "INFO"}

# Logging before the account's CloudWatch role is set fails with this message
# (https://github.com/anomalyco/sst/issues/1556, quoting API Gateway).
LOGGING_NEEDS_ROLE = "CloudWatch Logs role ARN must be set in account settings to enable logging"

# [cwl] the retention values PutRetentionPolicy accepts.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)

# Deployment verdicts as GetStage reports them (AWS CLI output in the API Gateway developer
# guide and users' scripts: "Successfully deployed stage with deployment ID 'dty748'",
# "Deployment attempt failed: Unable to deploy API because no routes exist in this API").
DEPLOYED_MESSAGE = "Successfully deployed stage with deployment ID '{}'"
FAILED_PREFIX = "Deployment attempt failed: "
NO_ROUTES = "Unable to deploy API because no routes exist in this API"

# Changes to the API itself (not to stage settings) are what a deployment snapshots
# ("Every time you update an API, which includes modification of routes, methods,
# integrations, authorizers, and anything else other than stage settings, you must
# redeploy", developer guide "Deploy a WebSocket API in API Gateway"); with autoDeploy they
# trigger a deployment of every auto-deploy stage.
API_CHANGES = {
    "UpdateApi", "CreateRoute", "UpdateRoute", "DeleteRoute", "DeleteRouteRequestParameter",
    "CreateRouteResponse", "UpdateRouteResponse", "DeleteRouteResponse",
    "CreateIntegration", "UpdateIntegration", "DeleteIntegration",
    "CreateIntegrationResponse", "UpdateIntegrationResponse", "DeleteIntegrationResponse",
    "CreateAuthorizer", "UpdateAuthorizer", "DeleteAuthorizer",
    "CreateModel", "UpdateModel", "DeleteModel",
}
DEPLOYMENT_OPERATIONS = {"CreateDeployment", "GetDeployment", "GetDeployments", "DeleteDeployment"}


def execution_log_group(api_id: str, stage: str) -> str:
    """[logging] the log group API Gateway creates for a stage's execution logs."""
    return f"API-Gateway-Execution-Logs_{api_id}/{stage}"


def account_id() -> str:
    return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)


class Refusal(Exception):
    """A request AWS rejects: rendered in the service's error shape."""

    def __init__(self, message: str, code: str = "BadRequestException", status: int = 400,
                 service: str = "apigatewayv2") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.service = service

    def response(self) -> Response:
        return aws_error(self.service, self.status, self.code, self.message)


# --- mapping expressions ---------------------------------------------------------------------

def check_source(source: str) -> None:
    """[mapping] the forms an integration request parameter's value may take."""
    if CONNECT_ONLY.fullmatch(source) or BODY_SOURCE.fullmatch(source):
        return
    if STAGE_SOURCE.fullmatch(source) or STATIC_SOURCE.fullmatch(source):
        return
    if source.startswith("context."):
        name = source[len("context."):]
        if name in CONTEXT_VARIABLES or AUTHORIZER_PROPERTY.fullmatch(name):
            return
        raise Refusal(f"Invalid mapping expression specified: {source} is not a supported context variable")
    raise Refusal(
        f"Invalid mapping expression specified: {source}. Use route.request.querystring|header|"
        "multivaluequerystring|multivalueheader.NAME, route.request.body.JSONPATH, "
        "stageVariables.NAME, context.NAME or a 'static' value"
    )


def check_integration_parameters(parameters: Any, updating: bool) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise Refusal("Invalid request parameters specified")
    for target, source in parameters.items():
        if not TARGET.fullmatch(str(target)):
            raise Refusal(
                f"Invalid mapping expression specified: {target} is not an integration request "
                "parameter (integration.request.header|querystring|path.NAME)"
            )
        # [tf-integ] an empty value removes the key on UpdateIntegration.
        if source == "" and updating:
            continue
        check_source(str(source))


def check_uri(integration_type: str | None, uri: Any) -> None:
    if integration_type not in HTTP_TYPES:
        return
    if not isinstance(uri, str) or not uri:
        raise Refusal("IntegrationUri is required for integrations of type HTTP and HTTP_PROXY")
    if len(uri) > URI_MAX or not HTTP_URI.fullmatch(uri):
        raise Refusal(f"{INVALID_URI}: {uri} (write the scheme literally, e.g. "
                      "https://${stageVariables.host}/path)")
    leftover = STAGE_VARIABLE_REF.sub("", uri)
    if "${" in leftover:
        raise Refusal(f"{INVALID_URI}: {uri} (only ${{stageVariables.NAME}} may be substituted)")
    rest = uri.split("://", 1)[1]
    if not rest or rest.startswith("/"):
        raise Refusal(f"{INVALID_URI}: {uri} has no host")


def check_timeout(protocol: str, timeout: Any) -> None:
    if timeout is None:
        return
    low, high = TIMEOUT_RANGE.get(protocol, TIMEOUT_RANGE["HTTP"])
    if not isinstance(timeout, int) or not low <= timeout <= high:
        raise Refusal(f"Invalid timeout specified: TimeoutInMillis must be between {low} and {high} "
                      f"for {protocol} APIs")


def check_stage_variables(variables: Any, updating: bool) -> None:
    if variables is None:
        return
    if not isinstance(variables, dict):
        raise Refusal("Invalid stage variables specified")
    for name, value in variables.items():
        if not STAGE_VARIABLE_NAME.fullmatch(str(name)):
            raise Refusal(f"Stage variable name {name} is invalid: use only alphanumeric and underscore "
                          "characters")
        # [tf-stage] an empty value removes the variable on UpdateStage.
        if value == "" and updating:
            continue
        if (not isinstance(value, str) or len(value) > STAGE_VARIABLE_MAX
                or not STAGE_VARIABLE_VALUE.fullmatch(value)):
            raise Refusal(f"Stage variable value for {name} is invalid: values must match "
                          "[A-Za-z0-9-._~:/?#&=,]+ and be at most 2048 characters")


def logging_requested(body: dict[str, Any]) -> bool:
    settings = [body.get("defaultRouteSettings") or {}]
    settings += list((body.get("routeSettings") or {}).values())
    for s in settings:
        if not isinstance(s, dict):
            continue
        if s.get("loggingLevel") in LOGGING_ON or s.get("dataTraceEnabled"):
            return True
    access = body.get("accessLogSettings") or {}
    return bool(isinstance(access, dict) and access.get("destinationArn"))


def logging_enabled(stage: v2m.Stage) -> bool:
    settings = [stage.default_route_settings or {}] + list((stage.route_settings or {}).values())
    return any(isinstance(s, dict) and s.get("loggingLevel") in LOGGING_ON for s in settings)


# --- deployments ---------------------------------------------------------------------------------

def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Deployment:
    id: str
    stage: str | None
    auto: bool
    created: str
    created_at: float  # monotonic, for ordering and pending time
    resolves_at: float
    problem: str | None
    description: str | None = None
    status: str = "PENDING"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "deploymentId": self.id,
            "deploymentStatus": self.status,
            "createdDate": self.created,
            "autoDeployed": self.auto,
        }
        if self.status == "FAILED" and self.problem:
            out["deploymentStatusMessage"] = self.problem
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Strict:
    # (account, region, api id) -> deployments, oldest first
    deployments: dict[tuple[str, str, str], list[Deployment]] = field(default_factory=dict)
    # (account, region, api id, stage) -> LastDeploymentStatusMessage
    messages: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    def reset(self) -> None:
        self.deployments.clear()
        self.messages.clear()

    # --- entry points (called by app.py under the state lock) -------------------------------
    def serves(self, service: str, operation: str) -> bool:
        return service == "apigatewayv2" and operation in DEPLOYMENT_OPERATIONS

    def serve(self, operation: str, region: str, method: str, raw_path: str, query: str,
              body: bytes) -> Response:
        params = path_params("apigatewayv2", method, raw_path, query)
        try:
            api = self.api(region, params.get("apiId", ""))
            self.settle(region, api)
            if operation == "CreateDeployment":
                return self.create_deployment(region, api, load(body))
            if operation == "GetDeployments":
                items = [d.to_json() for d in reversed(self.deployments.get(self.key(region, api), []))]
                return json_ok(200, {"items": items})
            deployment = self.find(region, api, params.get("deploymentId", ""))
            if operation == "GetDeployment":
                return json_ok(200, deployment.to_json())
            self.deployments[self.key(region, api)].remove(deployment)
            return 204, [], b""
        except Refusal as refusal:
            return refusal.response()

    def before(self, service: str, operation: str, region: str, method: str, raw_path: str,
               query: str, body: bytes) -> Response | None:
        """Validates a request the way the service does; a refusal is the response."""
        try:
            if service == "logs" and operation == "PutRetentionPolicy":
                check_retention(load(body).get("retentionInDays"))
            if service != "apigatewayv2":
                return None
            params = path_params(service, method, raw_path, query)
            data = load(body)
            if operation == "CreateApi":
                check_create_api(data)
                return None
            api = self.api_or_none(region, params.get("apiId", ""))
            if api is None:
                return None  # moto answers NotFound
            self.settle(region, api)
            self.check(operation, region, api, params, data)
        except Refusal as refusal:
            return refusal.response()
        return None

    def after(self, service: str, operation: str, region: str, method: str, raw_path: str,
              query: str, body: bytes, before_auto: dict[str, bool] | None) -> None:
        """Deploys auto-deploy stages after a change to the API, as API Gateway does."""
        if service != "apigatewayv2":
            return
        params = path_params(service, method, raw_path, query)
        api = self.api_or_none(region, params.get("apiId", ""))
        if api is None:
            return
        if operation in API_CHANGES:
            for stage in list(api.stages.values()):
                if stage.auto_deploy:
                    self.deploy(region, api, stage.name, auto=True)
        elif operation in ("CreateStage", "UpdateStage"):
            name = unquote(params.get("stageName", "")) or load(body).get("stageName", "")
            stage = api.stages.get(name)
            if stage is None:
                return
            was_auto = (before_auto or {}).get(name, False)
            if stage.auto_deploy and not was_auto:
                self.deploy(region, api, name, auto=True)
            elif stage.config.get("deploymentId"):
                # Stage settings apply without a deployment: logging switched on now
                # makes API Gateway create the execution-log group.
                ensure_execution_log_group(region, api, stage)
        self.settle(region, api)

    def auto_deploy_flags(self, service: str, region: str, method: str, raw_path: str,
                          query: str) -> dict[str, bool] | None:
        """The stages' autoDeploy before a request (to see it being switched on)."""
        if service != "apigatewayv2":
            return None
        api = self.api_or_none(region, path_params(service, method, raw_path, query).get("apiId", ""))
        if api is None:
            return None
        return {name: bool(s.auto_deploy) for name, s in api.stages.items()}

    # --- per-operation rules -----------------------------------------------------------------
    def check(self, operation: str, region: str, api: v2m.Api, params: dict[str, str],
              data: dict[str, Any]) -> None:
        websocket = api.protocol_type == "WEBSOCKET"
        if operation in ("CreateIntegration", "UpdateIntegration"):
            updating = operation == "UpdateIntegration"
            existing = api.integrations.get(params.get("integrationId", "")) if updating else None
            itype = data.get("integrationType") or (existing.integration_type if existing else None)
            # [apiref] CreateIntegration's required members (ApiId, IntegrationType).
            if not updating and not itype:
                raise Refusal("IntegrationType is required")
            if itype and itype not in INTEGRATION_TYPES:
                raise Refusal(f"Invalid integration type specified: {itype}")
            if not updating or "integrationUri" in data:
                check_uri(itype, data.get("integrationUri"))
            check_timeout(api.protocol_type, data.get("timeoutInMillis"))
            if websocket:
                check_integration_parameters(data.get("requestParameters"), updating)
        elif operation in ("CreateRoute", "UpdateRoute"):
            # [apiref] CreateRoute's required members (ApiId, RouteKey).
            if operation == "CreateRoute" and not data.get("routeKey"):
                raise Refusal("RouteKey is required")
            rrse = data.get("routeResponseSelectionExpression")
            # An empty value removes the expression (the route becomes one-way).
            if websocket and rrse not in (None, "", DEFAULT_KEY):
                raise Refusal(f"Invalid route response selection expression specified: {rrse}. "
                              "Only $default is supported")
            if websocket:
                check_route_parameters(data.get("requestParameters"))
            target = data.get("target")
            if target:
                integration = re.fullmatch(r"integrations/([^/]+)", str(target))
                if not integration or integration.group(1) not in api.integrations:
                    raise Refusal(f"Invalid target specified: {target} is not an integration of "
                                  "this API (integrations/{integrationId})")
        elif operation == "CreateRouteResponse":
            key = data.get("routeResponseKey")
            if websocket and key != DEFAULT_KEY:
                raise Refusal(f"Invalid route response key specified: {key}. Only $default is "
                              "supported")
        elif operation == "CreateIntegrationResponse":
            key = data.get("integrationResponseKey")
            if not isinstance(key, str) or not INTEGRATION_RESPONSE_KEY.fullmatch(key):
                raise Refusal(f"Invalid integration response key specified: {key}. Use $default or "
                              "a pattern such as /2\\d\\d/")
        elif operation in ("CreateStage", "UpdateStage"):
            updating = operation == "UpdateStage"
            name = unquote(params.get("stageName", "")) if updating else data.get("stageName")
            if not isinstance(name, str) or not STAGE_NAME.fullmatch(name):
                raise Refusal(f"Invalid stage name specified: {name}. Stage names can contain only "
                              "alphanumeric characters, hyphens, and underscores, or be $default")
            check_stage_variables(data.get("stageVariables"), updating)
            stage = api.stages.get(name) if updating else None
            auto = data.get("autoDeploy", stage.auto_deploy if stage else False)
            # [apiref] UpdateStage.DeploymentId: "Can't be updated if autoDeploy is enabled."
            if updating and data.get("deploymentId") and auto:
                raise Refusal("DeploymentId can't be updated for a stage with autoDeploy enabled")
            if websocket and logging_requested(data) and not account_role(region):
                raise Refusal(LOGGING_NEEDS_ROLE)
        elif operation == "DeleteRouteRequestParameter":
            route = api.routes.get(params.get("routeId", ""))
            key = unquote(params.get("requestParameterKey", ""))
            if route is not None and key not in (route.request_parameters or {}):
                raise Refusal(f"Invalid request parameter key specified: {key}", "NotFoundException", 404)

    # --- deployments ---------------------------------------------------------------------------
    def key(self, region: str, api: v2m.Api) -> tuple[str, str, str]:
        return (account_id(), region, api.api_id)

    def api_or_none(self, region: str, api_id: str) -> v2m.Api | None:
        backend = v2m.apigatewayv2_backends[account_id()][region]
        return backend.apis.get(api_id)

    def api(self, region: str, api_id: str) -> v2m.Api:
        api = self.api_or_none(region, api_id)
        if api is None:
            raise Refusal(f"Invalid API identifier specified {account_id()}:{api_id}", "NotFoundException", 404)
        return api

    def find(self, region: str, api: v2m.Api, deployment_id: str) -> Deployment:
        for deployment in self.deployments.get(self.key(region, api), []):
            if deployment.id == deployment_id:
                return deployment
        raise Refusal(f"Invalid Deployment identifier specified {account_id()}:{deployment_id}",
                      "NotFoundException", 404)

    def create_deployment(self, region: str, api: v2m.Api, data: dict[str, Any]) -> Response:
        stage_name = data.get("stageName")
        if stage_name and stage_name not in api.stages:
            raise Refusal(f"Invalid stage identifier specified {account_id()}:{stage_name}",
                          "NotFoundException", 404)
        # An explicit deployment that cannot be made is refused at once (as CreateDeployment
        # of REST APIs answers "No integration defined for method" with 400).
        problem = deployment_problem(api, api.stages.get(stage_name) if stage_name else None)
        if problem:
            raise Refusal(problem)
        deployment = self.deploy(region, api, stage_name, auto=False, description=data.get("description"))
        self.settle(region, api)
        return json_ok(201, deployment.to_json())

    def deploy(self, region: str, api: v2m.Api, stage_name: str | None, auto: bool,
               description: str | None = None) -> Deployment:
        """Snapshots the API for `stage_name`; the verdict is known now, revealed later when
        the `deployment_pending_s` knob holds deployments in PENDING."""
        stage = api.stages.get(stage_name) if stage_name else None
        problem = CONTROL.knobs.deployment_failure or deployment_problem(api, stage)
        now = time.monotonic()
        deployment = Deployment(
            id="".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6)),
            stage=stage_name,
            auto=auto,
            created=_now_iso(),
            created_at=now,
            resolves_at=now + CONTROL.knobs.deployment_pending_s,
            problem=problem,
            description=description,
        )
        self.deployments.setdefault(self.key(region, api), []).append(deployment)
        return deployment

    def settle(self, region: str, api: v2m.Api) -> None:
        """Resolves the pending deployments whose time has come, oldest first."""
        now = time.monotonic()
        for deployment in self.deployments.get(self.key(region, api), []):
            if deployment.status != "PENDING" or deployment.resolves_at > now:
                continue
            deployment.status = "FAILED" if deployment.problem else "DEPLOYED"
            stage = api.stages.get(deployment.stage) if deployment.stage else None
            if stage is None:
                continue
            message_key = (*self.key(region, api), stage.name)
            if deployment.problem:
                self.messages[message_key] = FAILED_PREFIX + deployment.problem
                continue
            stage.config["deploymentId"] = deployment.id
            self.messages[message_key] = DEPLOYED_MESSAGE.format(deployment.id)
            ensure_execution_log_group(region, api, stage)

    def stage_json(self, stage: v2m.Stage, out: dict[str, Any]) -> dict[str, Any]:
        # [apiref] LastDeploymentStatusMessage: "Supported only for stages with autoDeploy
        # enabled."
        if stage.auto_deploy:
            api_id = getattr(stage, "chatemu_api_id", None)
            region = getattr(stage, "chatemu_region", None)
            if api_id and region:
                api = self.api_or_none(region, api_id)
                if api is not None:
                    self.settle(region, api)
                message = self.messages.get((account_id(), region, api_id, stage.name))
                if message:
                    out["lastDeploymentStatusMessage"] = message
        return out


def deployment_problem(api: v2m.Api, stage: v2m.Stage | None) -> str | None:
    """Why the API, as it is now, cannot be deployed to `stage` (None: it can)."""
    routes = sorted(api.routes.values(), key=lambda r: r.route_key)
    if not routes:
        return NO_ROUTES
    for route in routes:
        key = route.route_key
        if not route.target:
            if key == "$connect":
                continue  # [connect] its integration is optional
            return f"Unable to deploy API because route {key} has no integration"
        match = re.fullmatch(r"integrations/([^/]+)", route.target)
        integration = api.integrations.get(match.group(1)) if match else None
        if integration is None:
            return f"Unable to deploy API because route {key} targets {route.target}, which does not exist"
        declared = set((route.request_parameters or {}).keys())
        for target, source in sorted((integration.request_parameters or {}).items()):
            connect_only = CONNECT_ONLY.fullmatch(source)
            if connect_only and key != "$connect":
                # [mapping] "Request query string (supported only for the $connect route)".
                return (f"Unable to deploy API because integration {integration.id} of route {key} "
                        f"maps {source} to {target}: request {connect_only.group(1)} parameters are "
                        "supported only on the $connect route")
            if connect_only and source not in declared:
                # [mapping] "Integration request parameters can be mapped from any defined
                # route request parameters".
                return (f"Unable to deploy API because integration {integration.id} of route {key} "
                        f"maps {source}, which is not a defined route request parameter of {key}")
        if stage is not None and integration.integration_type in HTTP_TYPES:
            problem = unresolvable(integration, stage)
            if problem:
                return f"Unable to deploy API because integration {integration.id} of route {key} {problem}"
    return None


def unresolvable(integration: v2m.Integration, stage: v2m.Stage) -> str | None:
    uri = integration.integration_uri or ""
    variables = stage.stage_variables or {}
    for name in STAGE_VARIABLE_REF.findall(uri):
        if not variables.get(name):
            return f"has URI {uri}, whose stage variable {name} is not defined in stage {stage.name}"
    resolved = STAGE_VARIABLE_REF.sub(lambda m: variables[m.group(1)], uri)
    parts = urlsplit(resolved)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"has URI {uri}, which resolves to {resolved}, not an http(s) URL with a host"
    return None


def ensure_execution_log_group(region: str, api: v2m.Api, stage: v2m.Stage) -> None:
    """[logging] API Gateway creates the execution-log group itself, with no retention and no
    tags, the first time a stage with logging on is deployed."""
    if not logging_enabled(stage) or not account_role(region):
        return
    logs_backends[account_id()][region].ensure_log_group(execution_log_group(api.api_id, stage.name))


def account_role(region: str) -> str | None:
    return apigateway_backends[account_id()][region].account.cloudwatch_role_arn or None


def check_create_api(data: dict[str, Any]) -> None:
    # [apiref] CreateApi's required members.
    for name in ("name", "protocolType"):
        if not data.get(name):
            raise Refusal(f"{name[0].upper()}{name[1:]} is required")
    # [apiref] CreateApi.RouteSelectionExpression: "This property is required for WebSocket APIs."
    if data.get("protocolType") == "WEBSOCKET" and not data.get("routeSelectionExpression"):
        raise Refusal("RouteSelectionExpression is required for WebSocket APIs")


def check_route_parameters(parameters: Any) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise Refusal("Invalid request parameters specified")
    for key, constraint in parameters.items():
        if not ROUTE_PARAMETER.fullmatch(str(key)):
            raise Refusal(f"Invalid route request parameter specified: {key} (use "
                          "route.request.querystring|header.NAME)")
        if not isinstance(constraint, dict) or not isinstance(constraint.get("required", False), bool):
            raise Refusal(f"Invalid parameter constraints for {key}: expected {{\"Required\": true|false}}")


def check_retention(days: Any) -> None:
    if days not in RETENTION_DAYS:
        values = ", ".join(str(d) for d in RETENTION_DAYS)
        # The generic validation message of AWS's JSON services.
        raise Refusal(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{values}]",
            "InvalidParameterException", 400, "logs")


# --- helpers -------------------------------------------------------------------------------------

def load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise Refusal("Invalid request body") from exc
    return data if isinstance(data, dict) else {}


def path_params(service: str, method: str, raw_path: str, query: str) -> dict[str, str]:
    _, groups = RESOLVER.resolve_rest(service, method, raw_path, parse_qs(query, keep_blank_values=True))
    return {k: unquote(v) for k, v in groups.items()}


def json_ok(status: int, payload: Any) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


STRICT = Strict()


# --- merge semantics (patched into moto's models) --------------------------------------------

def _merge(existing: dict[str, Any] | None, given: dict[str, Any]) -> dict[str, Any]:
    merged = dict(existing or {})
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _wrap_stage_update(orig: Any) -> Any:
    def update(self: v2m.Stage, params: dict[str, Any]) -> None:
        # [tf-stage] UpdateStage merges StageVariables into what exists; "" removes a key.
        if params.get("stageVariables") is not None:
            params = dict(params, stageVariables=_merge(self.stage_variables, params["stageVariables"]))
        orig(self, params)
    return update


def _wrap_integration_update(orig: Any) -> Any:
    def update(self: v2m.Integration, *args: Any, **kwargs: Any) -> None:
        # [tf-integ] UpdateIntegration merges RequestParameters; "" removes a key.
        given = kwargs.get("request_parameters")
        if given is not None:
            kwargs["request_parameters"] = _merge(self.request_parameters, given)
        orig(self, *args, **kwargs)
    return update


def _wrap_route_update(orig: Any) -> Any:
    def update(self: v2m.Route, *args: Any, **kwargs: Any) -> None:
        # [tf-route] UpdateRoute adds or changes the parameters it names; removal is
        # DeleteRouteRequestParameter's job.
        given = kwargs.get("request_parameters")
        if given:
            kwargs["request_parameters"] = {**(self.request_parameters or {}), **given}
        orig(self, *args, **kwargs)
    return update


def _wrap_create_stage(orig: Any) -> Any:
    def create_stage(self: v2m.Api, config: dict[str, Any]) -> v2m.Stage:
        stage = orig(self, config)
        # GetStage needs to find the stage's deployments.
        stage.chatemu_api_id = self.api_id  # type: ignore[attr-defined]
        stage.chatemu_region = self.backend.region_name  # type: ignore[attr-defined]
        return stage
    return create_stage


def _wrap_stage_to_json(orig: Any) -> Any:
    def to_json(self: v2m.Stage) -> dict[str, Any]:
        return STRICT.stage_json(self, orig(self))
    return to_json


_applied = False


def apply() -> None:
    """Patches moto's models; runs after motopatch.apply()."""
    global _applied
    if _applied:
        return
    _applied = True
    v2m.Stage.update = _wrap_stage_update(v2m.Stage.update)  # type: ignore[attr-defined]
    v2m.Stage.to_json = _wrap_stage_to_json(v2m.Stage.to_json)  # type: ignore[method-assign]
    v2m.Api.create_stage = _wrap_create_stage(v2m.Api.create_stage)  # type: ignore[method-assign]
    v2m.Integration.update = _wrap_integration_update(v2m.Integration.update)  # type: ignore[method-assign]
    v2m.Route.update = _wrap_route_update(v2m.Route.update)  # type: ignore[method-assign]
