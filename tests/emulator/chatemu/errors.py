"""AWS error responses in each protocol's wire shape.

The Rust SDK classifies errors from these shapes (x-amzn-ErrorType / __type /
<Code>), so injected faults must look exactly like the real service's errors.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from .ops import RESOLVER

Response = tuple[int, list[tuple[str, str]], bytes]


def request_id() -> str:
    return str(uuid.uuid4())


def aws_error(
    service: str,
    status: int,
    code: str,
    message: str,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    model = RESOLVER.model(service)
    protocol = model.protocol if model else "rest-json"
    rid = request_id()
    headers: list[tuple[str, str]]
    if protocol in ("query", "ec2"):
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{kind}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    elif protocol == "json":
        version = (model.json_version if model else None) or "1.0"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", f"application/x-amz-json-{version}"),
            ("x-amzn-RequestId", rid),
        ]
    else:  # rest-json (and rest-xml services are not served by this emulator)
        payload: dict[str, str] = {"message": message}
        if service == "lambda":
            payload["Type"] = "User" if status < 500 else "Service"
        body = json.dumps(payload).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", rid),
        ]
    for k, v in (extra_headers or {}).items():
        headers.append((k, v))
    return status, headers, body
