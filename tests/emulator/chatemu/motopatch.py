"""In-process fixes and additions to moto for the calls chatctl makes.

Applied once, before moto's Flask apps are built (they read the URL tables at
creation time). Each patch names the gap it fills; see README.md.
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import datetime
from typing import Any

from moto.apigateway import urls as apigw_urls
from moto.apigatewayv2 import models as v2m
from moto.apigatewayv2 import urls as v2_urls
from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException, StageNotFound
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda import models as lambda_models
from moto.core.config import default_user_config
from moto.iam import models as iam_models

# AWS managed policies chatctl (or its tests) attach. Loading all ~1,300 of them
# (MOTO_IAM_LOAD_MANAGED_POLICIES) costs about a second per IAM backend, i.e.
# per reset; with none loaded AttachRolePolicy answers NoSuchEntity.
MANAGED_POLICIES = (
    "AmazonAPIGatewayPushToCloudWatchLogs",
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaDynamoDBExecutionRole",
    "AWSLambdaVPCAccessExecutionRole",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "CloudWatchLogsFullAccess",
    "AmazonAPIGatewayInvokeFullAccess",
    "AdministratorAccess-Amplify",
    "AdministratorAccess",
)


class ConflictException(APIGatewayV2Error):
    code = 409

    def __init__(self, message: str):
        super().__init__("ConflictException", message)


@functools.cache
def _managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    parsed = json.loads(aws_managed_policies_data)
    return {name: parsed[name] for name in MANAGED_POLICIES if name in parsed}


def _init_aws_policies(self: iam_models.IAMBackend) -> list[Any]:
    return [
        iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _managed_policy_data().items()
    ]


# --- API Gateway v2 ------------------------------------------------------------

def _fill_throttling(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    # A route-settings block without a throttling value means a limit of 0 on
    # AWS, which answers every message with 429 (see DESIGN §3.4). Make that
    # visible, so a client that forgets one value sees the zero.
    if settings is None:
        return None
    out = dict(settings)
    out.setdefault("throttlingBurstLimit", 0)
    out.setdefault("throttlingRateLimit", 0.0)
    return out


_orig_stage_init = v2m.Stage.__init__


def _stage_init(self: v2m.Stage, api: v2m.Api, config: dict[str, Any]) -> None:
    _orig_stage_init(self, api, config)
    if api.protocol_type == "WEBSOCKET":
        if "defaultRouteSettings" in config:
            self.default_route_settings = _fill_throttling(config["defaultRouteSettings"])
        self.route_settings = {
            key: _fill_throttling(value) for key, value in (self.route_settings or {}).items()
        }


def _stage_update(self: v2m.Stage, params: dict[str, Any]) -> None:
    """UpdateStage: fields that are present change, the others stay.

    Route settings merge field by field (AWS keeps a throttling value that an
    update leaves out); stage variables replace the whole map.
    """
    if "defaultRouteSettings" in params and params["defaultRouteSettings"] is not None:
        merged = dict(self.default_route_settings or {})
        merged.update(params["defaultRouteSettings"])
        self.default_route_settings = merged
    if "routeSettings" in params and params["routeSettings"] is not None:
        routes = dict(self.route_settings or {})
        for key, value in params["routeSettings"].items():
            merged = dict(routes.get(key) or {})
            merged.update(value or {})
            routes[key] = merged
        self.route_settings = routes
    if "stageVariables" in params and params["stageVariables"] is not None:
        self.stage_variables = dict(params["stageVariables"])
    if "accessLogSettings" in params and params["accessLogSettings"] is not None:
        self.access_log_settings = dict(params["accessLogSettings"])
    if "autoDeploy" in params and params["autoDeploy"] is not None:
        self.auto_deploy = bool(params["autoDeploy"])
    if "description" in params and params["description"] is not None:
        self.description = params["description"]
    if "clientCertificateId" in params and params["clientCertificateId"] is not None:
        self.client_certificate_id = params["clientCertificateId"]
    if "deploymentId" in params and params["deploymentId"] is not None:
        self.config["deploymentId"] = params["deploymentId"]
    self.updated = datetime.now()


_orig_stage_to_json = v2m.Stage.to_json


def _stage_to_json(self: v2m.Stage) -> dict[str, Any]:
    out = _orig_stage_to_json(self)
    if self.config.get("deploymentId"):
        out["deploymentId"] = self.config["deploymentId"]
    return out


_orig_api_init = v2m.Api.__init__


def _api_init(self: v2m.Api, *args: Any, **kwargs: Any) -> None:
    _orig_api_init(self, *args, **kwargs)
    if self.protocol_type == "WEBSOCKET":
        # AWS reports the WebSocket endpoint with the wss scheme.
        self.api_endpoint = self.api_endpoint.replace("https://", "wss://", 1)
    if self.backend.region_name.startswith("cn-"):
        # The China partition's domain (botocore partitions.json: dnsSuffix amazonaws.com.cn).
        self.api_endpoint += ".cn"


def _api_create_stage(self: v2m.Api, config: dict[str, Any]) -> v2m.Stage:
    name = config.get("stageName")
    if not name:
        raise BadRequestException("Stage name is required")
    if name in self.stages:
        raise ConflictException(f"Stage {name} already exists")
    stage = v2m.Stage(api=self, config=config)
    self.stages[stage.name] = stage
    return stage


def _api_delete_stage(self: v2m.Api, stage_name: str) -> None:
    if stage_name not in self.stages:
        raise StageNotFound()
    del self.stages[stage_name]


_orig_api_create_route = v2m.Api.create_route


def _api_create_route(self: v2m.Api, *args: Any, **kwargs: Any) -> v2m.Route:
    key = kwargs.get("route_key")
    if any(r.route_key == key for r in self.routes.values()):
        raise ConflictException(f"Route with key {key} already exists for this API")
    return _orig_api_create_route(self, *args, **kwargs)


def _api_delete_route(self: v2m.Api, route_id: str) -> None:
    self.get_route(route_id)
    del self.routes[route_id]


_orig_api_create_integration = v2m.Api.create_integration


def _api_create_integration(self: v2m.Api, *args: Any, **kwargs: Any) -> v2m.Integration:
    integration = _orig_api_create_integration(self, *args, **kwargs)
    if self.protocol_type == "WEBSOCKET":
        # What AWS fills in for a WebSocket integration; WebSocket integrations
        # time out after at most 29 s.
        if integration.connection_type is None:
            integration.connection_type = "INTERNET"
        if integration.payload_format_version is None:
            integration.payload_format_version = "1.0"
        if not kwargs.get("timeout_in_millis"):
            integration.timeout_in_millis = 29000
    return integration


def _api_delete_integration(self: v2m.Api, integration_id: str) -> None:
    self.get_integration(integration_id)
    del self.integrations[integration_id]


_orig_integration_create_response = v2m.Integration.create_response


def _integration_create_response(self: v2m.Integration, *args: Any, **kwargs: Any) -> Any:
    key = kwargs.get("integration_response_key")
    if any(r.integration_response_key == key for r in self.responses.values()):
        raise ConflictException(f"IntegrationResponse with key {key} already exists")
    return _orig_integration_create_response(self, *args, **kwargs)


def _integration_delete_response(self: v2m.Integration, integration_response_id: str) -> None:
    self.get_response(integration_response_id)  # 404 instead of a KeyError (500)
    del self.responses[integration_response_id]


_orig_route_create_response = v2m.Route.create_route_response


def _route_create_response(self: v2m.Route, route_response_key: str, *args: Any, **kwargs: Any) -> Any:
    if any(r.route_response_key == route_response_key for r in self.route_responses.values()):
        raise ConflictException(f"RouteResponse with key {route_response_key} already exists")
    return _orig_route_create_response(self, route_response_key, *args, **kwargs)


def _route_delete_response(self: v2m.Route, route_response_id: str) -> None:
    self.get_route_response(route_response_id)
    del self.route_responses[route_response_id]


def _backend_delete_api(self: v2m.ApiGatewayV2Backend, api_id: str) -> None:
    api = self.get_api(api_id)
    del self.apis[api_id]
    self.tagger.delete_all_tags_for_resource(api.arn)


def _backend_update_stage(
    self: v2m.ApiGatewayV2Backend, api_id: str, stage_name: str, params: dict[str, Any]
) -> v2m.Stage:
    stage = self.get_stage(api_id, stage_name)
    stage.update(params)
    return stage


def _backend_get_route_responses(
    self: v2m.ApiGatewayV2Backend, api_id: str, route_id: str
) -> list[v2m.RouteResponse]:
    route = self.get_route(api_id, route_id)
    return list(route.route_responses.values())


def _paginate(items: list[Any], max_results: str | None, next_token: str | None) -> tuple[list[Any], str | None]:
    from .control import CONTROL

    start = 0
    if next_token:
        try:
            start = int(base64.urlsafe_b64decode(next_token.encode()).decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestException("Invalid pagination token") from exc
    limit = len(items)
    if max_results:
        try:
            limit = int(max_results)
        except ValueError as exc:
            raise BadRequestException("Invalid maxResults") from exc
    forced = CONTROL.knobs.page_size
    if forced:
        limit = min(limit, forced)
    page = items[start : start + limit]
    end = start + len(page)
    token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return page, token


def _resp_get_apis(self: ApiGatewayV2Response) -> Any:
    apis = self.apigatewayv2_backend.get_apis()
    page, token = _paginate(
        apis, self._get_param("maxResults"), self._get_param("nextToken")
    )
    body: dict[str, Any] = {"items": [a.to_json() for a in page]}
    if token:
        body["nextToken"] = token
    return 200, {}, json.dumps(body)


def _resp_update_stage(self: ApiGatewayV2Response) -> Any:
    parts = self.path.split("/")
    from urllib.parse import unquote

    api_id = parts[-3]
    stage_name = unquote(parts[-1])
    params = json.loads(self.body or "{}")
    stage = self.apigatewayv2_backend.update_stage(api_id, stage_name, params)
    return 200, {}, json.dumps(stage.to_json())


def _resp_get_route_responses(self: ApiGatewayV2Response) -> Any:
    parts = self.path.split("/")
    api_id = parts[-4]
    route_id = parts[-2]
    responses = self.apigatewayv2_backend.get_route_responses(api_id, route_id)
    return 200, {}, json.dumps({"items": [r.to_json() for r in responses]})


# --- Lambda ----------------------------------------------------------------------

_orig_url_init = lambda_models.FunctionUrlConfig.__init__


def _url_init(self: Any, function: Any, config: dict[str, Any]) -> None:
    _orig_url_init(self, function, config)
    # AWS's function URLs end with a slash.
    if not self.url.endswith("/"):
        self.url += "/"


_orig_url_to_dict = lambda_models.FunctionUrlConfig.to_dict


def _url_to_dict(self: Any) -> dict[str, Any]:
    out = _orig_url_to_dict(self)
    # The InvokeMode enum's wire values are BUFFERED | RESPONSE_STREAM.
    if out.get("InvokeMode") == "Buffered":
        out["InvokeMode"] = "BUFFERED"
    return out


from moto.awslambda import policy as lambda_policy  # noqa: E402

_orig_decode_policy = lambda_policy.Policy.decode_policy


def _decode_policy(self: Any, obj: dict[str, Any]) -> Any:
    """AddPermission statements as AWS writes them: the function-URL fields become
    conditions, and an unqualified permission names the bare function ARN."""
    policy = _orig_decode_policy(self, obj)
    statement = policy.statements[0]
    conditions = statement.setdefault("Condition", {})
    if "FunctionUrlAuthType" in statement:
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = statement.pop("FunctionUrlAuthType")
    if "InvokedViaFunctionUrl" in statement:
        value = statement.pop("InvokedViaFunctionUrl")
        conditions.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = str(value).lower()
    if not conditions:
        del statement["Condition"]
    arn = getattr(self.parent, "function_arn", None)
    if arn and statement.get("Resource") == arn + ":$LATEST":
        statement["Resource"] = arn
    return policy


_method_names_cache: dict[type, list[str]] = {}


def _method_names_from_class(clazz: Any) -> list[str]:
    # moto lists a response class's methods with inspect.getmembers on every
    # request; the classes are final once patched, so compute it once.
    names = _method_names_cache.get(clazz)
    if names is None:
        names = _method_names_cache[clazz] = _orig_method_names_from_class(clazz)
    return names


from moto.core import responses as core_responses  # noqa: E402

_orig_method_names_from_class = core_responses.method_names_from_class

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True

    # Lambda without Docker: the emulator never runs function code.
    default_user_config["lambda"] = {"use_docker": False}

    iam_models.IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]

    v2m.Stage.__init__ = _stage_init  # type: ignore[method-assign]
    v2m.Stage.update = _stage_update  # type: ignore[attr-defined]
    v2m.Stage.to_json = _stage_to_json  # type: ignore[method-assign]
    v2m.Api.__init__ = _api_init  # type: ignore[method-assign]
    v2m.Api.create_stage = _api_create_stage  # type: ignore[method-assign]
    v2m.Api.delete_stage = _api_delete_stage  # type: ignore[method-assign]
    v2m.Api.create_route = _api_create_route  # type: ignore[method-assign]
    v2m.Api.delete_route = _api_delete_route  # type: ignore[method-assign]
    v2m.Api.create_integration = _api_create_integration  # type: ignore[method-assign]
    v2m.Api.delete_integration = _api_delete_integration  # type: ignore[method-assign]
    v2m.Integration.create_response = _integration_create_response  # type: ignore[method-assign]
    v2m.Integration.delete_response = _integration_delete_response  # type: ignore[method-assign]
    v2m.Route.create_route_response = _route_create_response  # type: ignore[method-assign]
    v2m.Route.delete_route_response = _route_delete_response  # type: ignore[method-assign]
    v2m.ApiGatewayV2Backend.delete_api = _backend_delete_api  # type: ignore[method-assign]
    v2m.ApiGatewayV2Backend.update_stage = _backend_update_stage  # type: ignore[attr-defined]
    v2m.ApiGatewayV2Backend.get_route_responses = _backend_get_route_responses  # type: ignore[attr-defined]

    ApiGatewayV2Response.get_apis = _resp_get_apis  # type: ignore[method-assign]
    ApiGatewayV2Response.update_stage = _resp_update_stage  # type: ignore[attr-defined]
    ApiGatewayV2Response.get_route_responses = _resp_get_route_responses  # type: ignore[attr-defined]

    # moto serves v2 through the apigateway app (both sign as "apigateway"),
    # which copied v2's URL table at import: register the routes in both.
    extra = {
        "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)$": ApiGatewayV2Response.dispatch,
        "{0}/v2/apis/(?P<api_id>[^/]+)/routes/(?P<route_id>[^/]+)/routeresponses$": ApiGatewayV2Response.dispatch,
    }
    for table in (v2_urls.url_paths, apigw_urls.url_paths):
        for pattern, handler in extra.items():
            table.setdefault(pattern, handler)

    lambda_models.FunctionUrlConfig.__init__ = _url_init  # type: ignore[method-assign]
    lambda_models.FunctionUrlConfig.to_dict = _url_to_dict  # type: ignore[method-assign]
    lambda_policy.Policy.decode_policy = _decode_policy  # type: ignore[method-assign]

    core_responses.method_names_from_class = _method_names_from_class  # type: ignore[assignment]
