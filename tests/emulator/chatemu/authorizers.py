"""API Gateway v2 Lambda authorizers on WebSocket APIs, as AWS accepts them.

moto 5.2.5 stores any authorizer (JWT on a WebSocket API, no URI, HTTP-only members), lets any
route use any authorizer id, has no GetAuthorizers, deletes an unknown or referenced authorizer
silently and crashes (500) updating an unknown one. The rules below name their sources;
selftest_auth.py shows each wrong request failing; docs/aws-behaviour.md lists them.

Sources, cited by short name:
  [apiref]     API Gateway v2 API reference, as shipped in botocore's apigatewayv2 model:
               CreateAuthorizer AuthorizerType ("Specify JWT to use JSON Web Tokens (supported
               only for HTTP APIs)"), AuthorizerUri ("For REQUEST authorizers, this must be a
               well-formed Lambda function URI ... {region} is the same as the region hosting
               the Lambda function"), IdentitySource ("The identity source can be headers,
               query string parameters, stage variables, and context parameters ...
               route.request.header.Auth, route.request.querystring.Name for WebSocket APIs"),
               AuthorizerPayloadFormatVersion / EnableSimpleResponses /
               AuthorizerResultTtlInSeconds / JwtConfiguration ("Supported only for HTTP
               APIs"), CreateRoute AuthorizationType ("For WebSocket APIs, valid values are
               NONE ..., AWS_IAM ..., and CUSTOM").
  [ws-auth]    API Gateway developer guide, "Control access to WebSocket APIs with AWS Lambda
               REQUEST authorizers": "You can only use a Lambda authorizer function for the
               $connect route."
  [sst-5586]   anomalyco/sst#5586 (API Gateway v2): DeleteAuthorizer of an authorizer a route
               uses answers 409 ConflictException "Cannot delete authorizer '…', is referenced
               in route: …".
  [cfn-2184]   aws-cloudformation/cloudformation-coverage-roadmap#2184: a route's authorizer is
               detached by setting AuthorizationType to NONE.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from moto.apigatewayv2 import models as v2m
from moto.apigatewayv2.exceptions import AuthorizerNotFound
from moto.apigatewayv2.responses import ApiGatewayV2Response

from .errors import Response
from .strict import Refusal, account_id, load, path_params

# [apiref] AuthorizerUri: arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/
# {FunctionARN}/invocations; the function ARN may carry a version or alias qualifier.
LAMBDA_URI = re.compile(
    r"arn:(aws[a-z-]*):apigateway:([a-z0-9-]+):lambda:path/2015-03-31/functions/"
    r"arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]+)?"
    r"/invocations"
)
# [apiref] IdentitySource for WebSocket APIs: headers, query strings, stage variables, context.
IDENTITY_SOURCE = re.compile(
    r"route\.request\.(header|querystring)\.[a-zA-Z0-9._$-]+|stageVariables\.[A-Za-z0-9_]+"
    r"|context\.[A-Za-z0-9._$-]+"
)
# [apiref] members documented as supported only for HTTP APIs.
HTTP_ONLY = ("authorizerPayloadFormatVersion", "enableSimpleResponses", "authorizerResultTtlInSeconds",
             "jwtConfiguration")
WEBSOCKET_AUTHORIZATION = ("NONE", "AWS_IAM", "CUSTOM")
CONNECT = "$connect"


def check_authorizer(region: str, merged: dict[str, Any], given: dict[str, Any]) -> None:
    kind = merged.get("authorizerType")
    if kind != "REQUEST":
        raise Refusal(f"Invalid authorizer type specified: {kind}. WebSocket APIs support only REQUEST "
                      "(Lambda) authorizers; JWT authorizers are supported only for HTTP APIs")
    for member in HTTP_ONLY:
        if given.get(member) is not None:
            raise Refusal(f"{member[0].upper()}{member[1:]} is supported only for HTTP APIs")
    uri = merged.get("authorizerUri")
    if not uri:
        raise Refusal("AuthorizerUri is required for REQUEST authorizers")
    m = LAMBDA_URI.fullmatch(str(uri))
    if not m:
        raise Refusal(f"Invalid authorizer URI specified: {uri}. Use arn:aws:apigateway:{{region}}:lambda:path/"
                      "2015-03-31/functions/{functionArn}/invocations")
    if m.group(2) != region or m.group(4) != region:
        raise Refusal(f"Invalid authorizer URI specified: {uri}. The Lambda function and the URI must be in "
                      f"the API's region {region}")
    sources = merged.get("identitySource")
    if sources is not None:
        if isinstance(sources, str):
            sources = [s.strip() for s in sources.split(",")]
        for source in sources:
            if not IDENTITY_SOURCE.fullmatch(str(source)):
                raise Refusal(f"Invalid identity source specified: {source}. For WebSocket APIs use "
                              "route.request.header.NAME, route.request.querystring.NAME, "
                              "stageVariables.NAME or context.NAME")


def check_route(api: v2m.Api, route: v2m.Route | None, data: dict[str, Any]) -> None:
    kind = data.get("authorizationType") or (route.authorization_type if route else None) or "NONE"
    if kind not in WEBSOCKET_AUTHORIZATION:
        raise Refusal(f"Invalid authorization type specified: {kind}. WebSocket routes take NONE, AWS_IAM "
                      "or CUSTOM")
    if kind != "CUSTOM":
        return
    key = data.get("routeKey") or (route.route_key if route else None)
    if key != CONNECT:  # [ws-auth]
        raise Refusal(f"Currently, authorization is restricted to the $connect route only (route {key})")
    authorizer_id = data.get("authorizerId") or (route.authorizer_id if route else None)
    if not authorizer_id:
        raise Refusal("AuthorizerId is required when AuthorizationType is CUSTOM")
    if authorizer_id not in api.authorizers:
        raise Refusal(f"Invalid authorizer identifier specified {account_id()}:{authorizer_id}")


def before(operation: str, region: str, method: str, raw_path: str, query: str, body: bytes) -> Response | None:
    """Validates an API Gateway v2 request touching authorizers; a refusal is the response."""
    if operation not in ("CreateAuthorizer", "UpdateAuthorizer", "DeleteAuthorizer", "CreateRoute", "UpdateRoute"):
        return None
    params = path_params("apigatewayv2", method, raw_path, query)
    api = v2m.apigatewayv2_backends[account_id()][region].apis.get(params.get("apiId", ""))
    if api is None:
        return None  # moto answers NotFound
    try:
        data = load(body)
        authorizer = api.authorizers.get(params.get("authorizerId", ""))
        if operation in ("UpdateAuthorizer", "DeleteAuthorizer") and authorizer is None:
            raise Refusal(f"Invalid Authorizer identifier specified {account_id()}:{params.get('authorizerId')}",
                          "NotFoundException", 404)
        if operation == "DeleteAuthorizer":
            for route in sorted(api.routes.values(), key=lambda r: r.route_key):
                if route.authorizer_id == authorizer.id and route.authorization_type == "CUSTOM":
                    raise Refusal(f"Cannot delete authorizer '{authorizer.name}', is referenced in route: "
                                  f"{route.route_key}", "ConflictException", 409)  # [sst-5586]
            return None
        if api.protocol_type != "WEBSOCKET":
            return None
        if operation in ("CreateAuthorizer", "UpdateAuthorizer"):
            merged = {k: v for k, v in (authorizer.to_json() if authorizer else {}).items() if v is not None}
            merged.update(data)
            check_authorizer(region, merged, data)
        else:
            check_route(api, api.routes.get(params.get("routeId", "")), data)
    except Refusal as refusal:
        return refusal.response()
    return None


# --- moto gaps ----------------------------------------------------------------------------------

def _resp_get_authorizers(self: ApiGatewayV2Response) -> Any:
    from .motopatch import _paginate

    api = self.apigatewayv2_backend.get_api(self.path.split("/")[-2])
    page, token = _paginate(list(api.authorizers.values()), self._get_param("maxResults"),
                            self._get_param("nextToken"))
    out: dict[str, Any] = {"items": [a.to_json() for a in page]}
    if token:
        out["nextToken"] = token
    return 200, {}, json.dumps(out)


def _api_delete_authorizer(self: v2m.Api, authorizer_id: str) -> None:
    if authorizer_id not in self.authorizers:
        raise AuthorizerNotFound(authorizer_id)
    del self.authorizers[authorizer_id]


def _wrap_route_update(orig: Any) -> Any:
    def update(self: v2m.Route, *args: Any, **kwargs: Any) -> None:
        orig(self, *args, **kwargs)
        if kwargs.get("authorization_type") == "NONE":  # [cfn-2184]
            self.authorizer_id = None
    return update


def _wrap_route_to_json(orig: Any) -> Any:
    def to_json(self: v2m.Route) -> dict[str, Any]:
        out = orig(self)
        # A route created without an authorization type reads back NONE (the AWS CLI
        # reference's create-route/get-routes examples), so clients can compare it.
        out["authorizationType"] = self.authorization_type or "NONE"
        return out
    return to_json


@functools.cache
def apply() -> None:
    """Patches moto once (later calls do nothing)."""
    ApiGatewayV2Response.get_authorizers = _resp_get_authorizers  # type: ignore[attr-defined]
    v2m.Api.delete_authorizer = _api_delete_authorizer  # type: ignore[method-assign]
    v2m.Route.update = _wrap_route_update(v2m.Route.update)  # type: ignore[method-assign]
    v2m.Route.to_json = _wrap_route_to_json(v2m.Route.to_json)  # type: ignore[method-assign]
