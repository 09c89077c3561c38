"""Name the AWS operation a request invokes, from botocore's service models.

The call log and fault injection speak in AWS operation names ("CreateApi",
"UpdateAccount"), so every request is resolved the way the service itself
would: X-Amz-Target for the json protocol, Action= for query, and method +
URI template for the rest protocols.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from botocore.loaders import Loader

# SigV4 signing names that differ from botocore's service names. API Gateway v1
# and v2 share the signing name "apigateway"; v2 is told apart by its /v2/ paths.
SIGNING_TO_SERVICE = {
    "execute-api": "apigatewaymanagementapi",
    "states": "stepfunctions",
    "monitoring": "cloudwatch",
    "email": "ses",
}

READ_PREFIXES = ("Get", "List", "Describe", "Head", "BatchGet")
READ_OPERATIONS = {"Query", "Scan"}


def is_write(operation: str) -> bool:
    """Whether an AWS operation changes state (for "a no-op run makes no write")."""
    if operation in READ_OPERATIONS:
        return False
    return not operation.startswith(READ_PREFIXES)


@dataclass
class RestOperation:
    name: str
    method: str
    pattern: re.Pattern[str]
    required_query: tuple[str, ...]
    literal_len: int
    response_code: int


@dataclass
class ServiceModel:
    name: str
    protocol: str
    json_version: str | None
    rest_ops: list[RestOperation]
    operations: dict[str, dict[str, Any]]

    def response_code(self, operation: str) -> int | None:
        op = self.operations.get(operation)
        if op is None:
            return None
        return int(op.get("http", {}).get("responseCode", 200))


_LABEL = re.compile(r"\{([^}]+)\}")


def _compile_uri(uri: str) -> tuple[re.Pattern[str], tuple[str, ...], int]:
    path, _, query = uri.partition("?")
    parts = []
    pos = 0
    literal = 0
    groups: dict[str, int] = {}
    for m in _LABEL.finditer(path):
        lit = path[pos : m.start()]
        parts.append(re.escape(lit))
        literal += len(lit)
        label = m.group(1)
        greedy = label.endswith("+")
        name = re.sub(r"[^A-Za-z0-9_]", "_", label.rstrip("+"))
        groups[name] = groups.get(name, 0) + 1
        if groups[name] > 1:
            name = f"{name}_{groups[name]}"
        parts.append(f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)")
        pos = m.end()
    lit = path[pos:]
    parts.append(re.escape(lit))
    literal += len(lit)
    required = tuple(
        q.split("=", 1)[0] for q in query.split("&") if q
    )
    return re.compile("^" + "".join(parts) + "/?$"), required, literal


class OperationResolver:
    """Loads botocore models once and answers "which operation is this request"."""

    def __init__(self) -> None:
        self._loader = Loader()
        self._models: dict[str, ServiceModel | None] = {}
        self._lock = threading.Lock()

    def model(self, service: str) -> ServiceModel | None:
        with self._lock:
            if service in self._models:
                return self._models[service]
            try:
                raw = self._loader.load_service_model(service, "service-2")
            except Exception:  # unknown service: keep answering with method + path
                self._models[service] = None
                return None
            meta = raw["metadata"]
            rest_ops: list[RestOperation] = []
            if meta["protocol"].startswith("rest"):
                for name, op in raw["operations"].items():
                    http = op.get("http", {})
                    pattern, required, literal = _compile_uri(http["requestUri"])
                    rest_ops.append(
                        RestOperation(
                            name=name,
                            method=http["method"],
                            pattern=pattern,
                            required_query=required,
                            literal_len=literal,
                            response_code=int(http.get("responseCode", 200)),
                        )
                    )
                # The most specific template wins when several match.
                rest_ops.sort(key=lambda o: (-len(o.required_query), -o.literal_len))
            model = ServiceModel(
                name=service,
                protocol=meta["protocol"],
                json_version=meta.get("jsonVersion"),
                rest_ops=rest_ops,
                operations=raw["operations"],
            )
            self._models[service] = model
            return model

    def resolve_rest(
        self, service: str, method: str, raw_path: str, query: dict[str, list[str]]
    ) -> tuple[str | None, dict[str, str]]:
        model = self.model(service)
        if model is None:
            return None, {}
        for op in model.rest_ops:
            if op.method != method:
                continue
            m = op.pattern.match(raw_path)
            if not m:
                continue
            if any(q not in query for q in op.required_query):
                continue
            return op.name, m.groupdict()
        return None, {}

    def resolve(
        self,
        service: str,
        method: str,
        raw_path: str,
        query_string: str,
        headers: dict[str, str],
        body: bytes,
    ) -> str:
        model = self.model(service)
        if model is None:
            return f"{method} {raw_path}"
        if model.protocol == "json":
            target = headers.get("x-amz-target", "")
            if "." in target:
                return target.rsplit(".", 1)[1]
        elif model.protocol in ("query", "ec2"):
            params = parse_qs(query_string)
            if "Action" not in params and body:
                try:
                    params = parse_qs(body.decode("utf-8"))
                except UnicodeDecodeError:
                    params = {}
            if "Action" in params:
                return params["Action"][0]
        else:
            name, _ = self.resolve_rest(
                service, method, raw_path, parse_qs(query_string, keep_blank_values=True)
            )
            if name:
                return name
        return f"{method} {raw_path}"


RESOLVER = OperationResolver()
