"""The emulator's single WSGI application.

Routes each request to one of:
  /_emulator/...  the control API (call log, faults, reset, GitHub fixtures)
  /github/...     the GitHub fake
  /moto-api/...   moto's own dashboard/API (not logged)
  anything else   an AWS call: named, logged, delayed/faulted as configured,
                  then answered by the Amplify fake or by moto in-process.
"""

from __future__ import annotations

import http
import io
import json
import os
import re
import sys
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import quote

from werkzeug.wsgi import get_input_stream

from . import authorizers, cognito, motopatch, strict
from . import logs as logs_patch

motopatch.apply()
strict.apply()
authorizers.apply()
cognito.apply()
logs_patch.apply()

# moto must be imported after the patches (it builds URL tables lazily, but the
# patch module imports the service modules it changes itself).
from moto.apigateway.models import apigateway_backends  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402
from moto.moto_api._internal.models import moto_api_backend  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402

from .amplify import AMPLIFY  # noqa: E402
from .control import CONTROL, ControlError  # noqa: E402
from .errors import Response, aws_error  # noqa: E402
from .github import GITHUB, GitHubError, route as github_route  # noqa: E402
from .ops import RESOLVER, SIGNING_TO_SERVICE, is_write  # noqa: E402
from .strict import STRICT  # noqa: E402

# moto's backends are not written for concurrent mutation; the fakes share the
# lock so that Amplify's GitHub side effects are atomic too. Only the handling
# is serialised: injected latency is slept before taking it.
STATE_LOCK = threading.RLock()

ROLE_NOT_READY_APIGW = "The role ARN does not have required permissions set to API Gateway"
ROLE_NOT_READY_LAMBDA = "The role defined for the function cannot be assumed by Lambda."
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

StartResponse = Callable[..., Any]

# Which of moto's per-service Flask apps serves a service. moto's dispatcher
# finds this from the credential scope too, but scans its module directory
# (hundreds of stat calls) on every request to do so.
MOTO_APPS = {
    "apigateway": "apigateway",
    "apigatewayv2": "apigateway",
    "lambda": "lambda",
    "iam": "iam",
    "sts": "sts",
    "logs": "logs",
    "dynamodb": "dynamodb",
    "cognito-idp": "cognito-idp",
}

# Unsigned GETs moto's Cognito serves per user pool (the JWKS chatctl's authorizer verifies ID
# tokens with, and the OpenID discovery document): logged as reads of cognito-idp.
COGNITO_PUBLIC = re.compile(r"/[^/]+/\.well-known/(jwks\.json|openid-configuration)")


def account_id() -> str:
    return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)


def read_body(environ: dict[str, Any]) -> bytes:
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def raw_target(environ: dict[str, Any]) -> tuple[str, str]:
    """The request path as sent (labels still percent-encoded) and the query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        path, _, query = raw.partition("?")
        return path, query or environ.get("QUERY_STRING", "")
    return quote(environ.get("PATH_INFO", "")), environ.get("QUERY_STRING", "")


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = b"" if status == 204 else json.dumps(payload).encode()
    return status, [("Content-Type", "application/json")] + (headers or []), body


def trusts(role: Any, principal: str) -> bool:
    """Whether the role's trust policy lets `principal` assume it."""
    document = role.assume_role_policy_document
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return principal in str(document)
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principals = st.get("Principal", {})
        services = principals.get("Service", []) if isinstance(principals, dict) else []
        services = [services] if isinstance(services, str) else services
        if principal in services or principals == "*":
            return True
    return False


class EmulatorApp:
    def __init__(self, verbose: bool = False) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.verbose = verbose

    def warm(self) -> None:
        """Build moto's apps and load the service models before the first request,
        so no test pays for it."""
        for service in ("apigatewayv2", "apigateway", "lambda", "iam", "sts", "dynamodb", "logs", "amplify",
                        "cognito-idp"):
            RESOLVER.model(service)
        for backend in ("apigateway", "lambda", "iam", "sts", "dynamodb", "logs", "cognito-idp"):
            with self.moto.lock:
                if backend not in self.moto.app_instances:
                    self.moto.app_instances[backend] = create_backend_app(backend)
        motopatch._managed_policy_data()
        _ = iam_backends[account_id()]["aws"]

    # --- WSGI entry -------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            with STATE_LOCK:
                return list(self.moto(environ, start_response))
        try:
            if path == "/_emulator" or path.startswith("/_emulator/"):
                status, headers, body = self.control(environ, path[len("/_emulator"):])
            elif path == "/github" or path.startswith("/github/"):
                status, headers, body = self.github(environ, path[len("/github"):] or "/")
            else:
                status, headers, body = self.aws(environ)
        except Exception as exc:  # keep serving; report the bug in the response
            import traceback

            traceback.print_exc()
            status, headers, body = json_response(500, {"message": f"emulator error: {exc!r}"})
        if self.verbose:
            print(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} -> {status}", file=sys.stderr, flush=True)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(k, v) for k, v in headers if k.lower() not in HOP_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {reason}", headers)
        return [body]

    # --- control API ----------------------------------------------------------------
    def control(self, environ: dict[str, Any], sub: str) -> Response:
        method = environ["REQUEST_METHOD"]
        body = read_body(environ)
        base = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}/github"
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            return json_response(400, {"message": "body is not valid JSON"})
        try:
            if sub == "/health" and method == "GET":
                return json_response(200, {"status": "ok"})
            if sub == "/calls":
                if method == "GET":
                    timing = "timing=1" in environ.get("QUERY_STRING", "").split("&")
                    return json_response(200, CONTROL.calls_json(timing))
                if method == "DELETE":
                    CONTROL.clear_calls()
                    return json_response(204, None)
            if sub == "/faults":
                if method == "POST":
                    CONTROL.configure(payload)
                    return json_response(200, CONTROL.faults_json())
                if method == "GET":
                    return json_response(200, CONTROL.faults_json())
                if method == "DELETE":
                    CONTROL.clear_faults()
                    return json_response(204, None)
            if sub == "/reset" and method == "POST":
                self.reset()
                return json_response(200, {"reset": True})
            if sub == "/github/repos" and method == "POST":
                with STATE_LOCK:
                    return json_response(201, GITHUB.create_repo(payload, base))
            if sub == "/github/tokens":
                if method == "POST":
                    with STATE_LOCK:
                        return json_response(201, GITHUB.register_token(payload))
                if method == "DELETE":
                    with STATE_LOCK:
                        found = GITHUB.revoke_token(str(payload.get("token", "")))
                    return json_response(204 if found else 404, {"message": "Not Found"})
            if sub == "/github/installations":
                if method == "POST":
                    with STATE_LOCK:
                        return json_response(201, GITHUB.install_app(payload))
                if method == "DELETE":
                    with STATE_LOCK:
                        found = GITHUB.uninstall_app(str(payload.get("app", "")), str(payload.get("owner", "")))
                    return json_response(204 if found else 404, {"message": "Not Found"})
            m = re.fullmatch(r"/github/repos/([^/]+)/([^/]+)", sub)
            if m and method == "GET":
                with STATE_LOCK:
                    return json_response(200, GITHUB.repo_state(m.group(1), m.group(2), base))
        except ControlError as err:
            return json_response(400, {"message": str(err)})
        except GitHubError as err:
            return json_response(err.status, {"message": err.message, "errors": err.errors})
        return json_response(404, {"message": f"no control endpoint {method} /_emulator{sub}"})

    def reset(self) -> None:
        with STATE_LOCK:
            moto_api_backend.reset()
            GITHUB.reset()
            AMPLIFY.reset()
            STRICT.reset()
            CONTROL.reset()

    # --- GitHub ---------------------------------------------------------------------
    def github(self, environ: dict[str, Any], sub: str) -> Response:
        method = environ["REQUEST_METHOD"]
        body = read_body(environ)
        headers = request_headers(environ)
        base = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}/github"
        operation, _ = github_route(method, sub)
        entry = CONTROL.record("github", operation, method not in ("GET", "HEAD"))
        delay = CONTROL.latency()
        if delay:
            time.sleep(delay)
        fault = CONTROL.take_fault("github", operation)
        if fault is not None:
            payload: dict[str, Any] = {"message": fault.message, "documentation_url": "https://docs.github.com/rest"}
            resp = GITHUB.render(fault.status, payload, fault.headers, None)
        else:
            with STATE_LOCK:
                resp = GITHUB.handle(method, sub, environ.get("QUERY_STRING", ""), headers, body, base)
        entry.finish(resp[0])
        return resp

    # --- AWS --------------------------------------------------------------------------
    def aws(self, environ: dict[str, Any]) -> Response:
        # When the request reached "AWS": time-based rules (IAM propagation) are judged at
        # arrival, not after a large body was read and parsed on a busy machine.
        arrived = time.monotonic()
        body = read_body(environ)
        headers = request_headers(environ)
        method = environ["REQUEST_METHOD"]
        raw_path, query = raw_target(environ)
        scope = SCOPE.search(headers.get("authorization", ""))
        region, signing = (scope.group(1), scope.group(2)) if scope else ("us-east-1", "unknown")
        service = SIGNING_TO_SERVICE.get(signing, signing)
        if service == "apigateway" and raw_path.startswith("/v2/"):
            service = "apigatewayv2"
        public = COGNITO_PUBLIC.fullmatch(raw_path) if scope is None and method == "GET" else None
        if public:
            service, operation = "cognito-idp", "GET /{userPoolId}/.well-known/" + public.group(1)
        else:
            operation = RESOLVER.resolve(service, method, raw_path, query, headers, body)
        entry = CONTROL.record(service, operation, False if public else is_write(operation))
        delay = CONTROL.latency()
        if delay:
            time.sleep(delay)
        fault = CONTROL.take_fault(service, operation)
        if fault is not None:
            resp = aws_error(service, fault.status, fault.code, fault.message, fault.headers)
        else:
            with STATE_LOCK:
                resp = self.dispatch(service, operation, region, environ, method, raw_path, query, body,
                                     arrived)
        entry.finish(resp[0])
        return resp

    def dispatch(self, service: str, operation: str, region: str, environ: dict[str, Any],
                 method: str, raw_path: str, query: str, body: bytes, arrived: float) -> Response:
        if service == "amplify":
            return AMPLIFY.handle(operation, region, method, raw_path, query, body)
        if service == "apigateway" and operation == "UpdateAccount":
            return self.update_account(region, body, arrived)
        if service == "lambda" and operation in ("CreateFunction", "UpdateFunctionConfiguration"):
            refused = self.lambda_role_refusal(region, body, arrived)
            if refused is not None:
                return refused
        # API Gateway's own validation and deployments (strict.py), which moto lacks.
        if STRICT.serves(service, operation):
            return STRICT.serve(operation, region, method, raw_path, query, body)
        refused = STRICT.before(service, operation, region, method, raw_path, query, body)
        if refused is None and service == "apigatewayv2":
            # Lambda authorizers on WebSocket APIs (authorizers.py).
            refused = authorizers.before(operation, region, method, raw_path, query, body)
        if refused is not None:
            return refused
        auto_deploy = STRICT.auto_deploy_flags(service, region, method, raw_path, query)
        status, headers, out = self.call_moto(environ, service)
        if 200 <= status < 300:
            STRICT.after(service, operation, region, method, raw_path, query, body, auto_deploy)
        if service == "iam" and status == 200 and operation in ("CreateRole", "UpdateAssumeRolePolicy", "DeleteRole"):
            self.track_role(operation, region, body)
        model = RESOLVER.model(service)
        if model is not None and model.protocol.startswith("rest") and 200 <= status < 300:
            # moto answers 200 where AWS answers 201/202/204; clients and the call
            # log should see the modelled code.
            expected = model.response_code(operation)
            if expected and expected != status:
                status = expected
                if status == 204:
                    out = b""
        return status, headers, out

    def moto_app(self, environ: dict[str, Any], service: str) -> Any:
        name = MOTO_APPS.get(service)
        if name == "dynamodb" and not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_2012"):
            name = None  # DynamoDB Streams or the 2011 API: let moto pick
        if name is None:
            return self.moto
        app = self.moto.app_instances.get(name)
        if app is None:
            with self.moto.lock:
                app = self.moto.app_instances.get(name)
                if app is None:
                    app = self.moto.app_instances[name] = create_backend_app(name)
        return app

    def call_moto(self, environ: dict[str, Any], service: str) -> Response:
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = int(status.split()[0])
            captured["headers"] = headers
            return chunks.append

        result = self.moto_app(environ, service)(environ, start_response)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured["status"], list(captured["headers"]), b"".join(chunks)

    # --- IAM eventual consistency and API Gateway account checks --------------------------
    def track_role(self, operation: str, region: str, body: bytes) -> None:
        from urllib.parse import parse_qs

        name = parse_qs(body.decode("utf-8", "replace")).get("RoleName", [""])[0]
        if not name:
            return
        # IAM is global per partition: a role made from cn-north-1 lives in aws-cn.
        partition = get_partition(region)
        arn_prefix = f"arn:{partition}:iam::{account_id()}:role/"
        if operation in ("CreateRole", "UpdateAssumeRolePolicy"):
            try:
                role = iam_backends[account_id()][partition].get_role(name)
            except Exception:
                return
            CONTROL.role_created_now(role.arn)
        else:
            with CONTROL.lock:
                for arn in [a for a in CONTROL.role_created if a.startswith(arn_prefix) and a.endswith("/" + name)]:
                    CONTROL.role_created.pop(arn, None)

    def find_role(self, arn: str) -> Any | None:
        try:
            return iam_backends[account_id()][arn.split(":")[1]].get_role_by_arn(arn)
        except Exception:
            return None

    def update_account(self, region: str, body: bytes, arrived: float) -> Response:
        if CONTROL.update_account_throttled(account_id()):
            return aws_error("apigateway", 429, "TooManyRequestsException", "Too Many Requests")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return aws_error("apigateway", 400, "BadRequestException", "Invalid request body")
        operations = data.get("patchOperations") or []
        backend = apigateway_backends[account_id()][region]
        role_arn: str | None | bool = False  # False: untouched
        others = []
        for op in operations:
            if op.get("path") == "/cloudwatchRoleArn":
                if op.get("op") not in ("replace", "add", "remove"):
                    return aws_error("apigateway", 400, "BadRequestException",
                                     "Invalid patch operation specified. Must be one of: [replace, add, remove]")
                value = op.get("value") if op.get("op") != "remove" else None
                if value:
                    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/.+", value):
                        return aws_error("apigateway", 400, "BadRequestException", "The role ARN is not well formed")
                    role = self.find_role(value)
                    # Real API Gateway assumes the role to validate it; moto doesn't.
                    if role is None or not trusts(role, "apigateway.amazonaws.com") or CONTROL.role_still_propagating(value, arrived):
                        return aws_error("apigateway", 400, "BadRequestException", ROLE_NOT_READY_APIGW)
                role_arn = value or None
            else:
                others.append(op)
        try:
            if others:
                backend.update_account(others)
        except NotImplementedError as exc:
            return aws_error("apigateway", 400, "BadRequestException", str(exc))
        except Exception as exc:  # moto's own validation errors
            code = getattr(exc, "error_type", "BadRequestException")
            return aws_error("apigateway", getattr(exc, "code", 400), code, getattr(exc, "message", str(exc)))
        if role_arn is not False:
            backend.account.cloudwatch_role_arn = role_arn
        account = {k: v for k, v in backend.get_account().to_json().items() if v is not None}
        return 200, [("Content-Type", "application/json")], json.dumps(account).encode()

    def lambda_role_refusal(self, region: str, body: bytes, arrived: float) -> Response | None:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return None
        arn = data.get("Role")
        if not arn:
            return None
        role = self.find_role(arn)
        if role is None:
            return None  # moto itself answers the same error for a missing role
        if not trusts(role, "lambda.amazonaws.com") or CONTROL.role_still_propagating(arn, arrived):
            return aws_error("lambda", 400, "InvalidParameterValueException", ROLE_NOT_READY_LAMBDA)
        return None
