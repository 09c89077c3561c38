"""Control-plane state of the emulator: call log, faults and behaviour knobs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


class ControlError(ValueError):
    """A malformed control request (answered with 400)."""


@dataclass
class Fault:
    operation: str
    service: str | None
    remaining: int  # -1: forever
    status: int
    code: str
    message: str
    headers: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operation": self.operation,
            "count": self.remaining,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }
        if self.service:
            out["service"] = self.service
        if self.headers:
            out["headers"] = self.headers
        return out


@dataclass
class Knobs:
    latency_ms: float = 0.0
    role_propagation_s: float = 0.0
    update_account_interval_s: float = 0.0
    amplify_job_s: float = 1.0
    amplify_job_status: str = "SUCCEED"
    page_size: int | None = None
    # How Amplify connects a GitHub repository given `accessToken`: "TOKEN" (the Amplify
    # GitHub App, as the API reference documents) or "SSH" (a read-only deploy key, as
    # aws-amplify/amplify-hosting#4103 and #4104 report for classic tokens).
    amplify_access_token_clone: str = "TOKEN"
    # Deployments stay PENDING this long before their verdict shows (strict.py).
    deployment_pending_s: float = 0.0
    # When set, every deployment fails with this reason (an AWS-side failure).
    deployment_failure: str | None = None


KNOB_TYPES = {
    "latency_ms": float,
    "role_propagation_s": float,
    "update_account_interval_s": float,
    "amplify_job_s": float,
    "deployment_pending_s": float,
}


@dataclass
class CallEntry:
    service: str
    operation: str
    write: bool
    status: int | None = None
    # Monotonic seconds: arrival (before injected latency) and answer.
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def finish(self, status: int) -> None:
        self.status = status
        self.ended = time.monotonic()

    def to_json(self, timing: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "service": self.service,
            "operation": self.operation,
            "write": self.write,
            "status": self.status,
        }
        if timing:
            out["started_ms"] = round(self.started * 1000, 3)
            out["ended_ms"] = None if self.ended is None else round(self.ended * 1000, 3)
        return out


@dataclass
class Control:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[CallEntry] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    knobs: Knobs = field(default_factory=Knobs)
    # IAM role ARN -> monotonic time of its CreateRole (for propagation delays).
    role_created: dict[str, float] = field(default_factory=dict)
    # account -> monotonic time of the last UpdateAccount that was not throttled.
    last_update_account: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.faults.clear()
            self.knobs = Knobs()
            self.role_created.clear()
            self.last_update_account.clear()

    # --- call log -------------------------------------------------------
    def record(self, service: str, operation: str, write: bool) -> CallEntry:
        entry = CallEntry(service, operation, write)
        with self.lock:
            self.calls.append(entry)
        return entry

    def calls_json(self, timing: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return [c.to_json(timing) for c in self.calls]

    def clear_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # --- faults ---------------------------------------------------------
    def configure(self, spec: Any) -> None:
        """Apply one fault/knob object, or a list of them."""
        if isinstance(spec, list):
            for item in spec:
                self.configure(item)
            return
        if not isinstance(spec, dict):
            raise ControlError("expected a JSON object or an array of objects")
        known = set(KNOB_TYPES) | {
            "operation", "service", "count", "status", "code", "message", "headers",
            "amplify_job_status", "page_size", "amplify_access_token_clone",
            "amplify_job_status", "page_size", "deployment_failure",
        }
        unknown = set(spec) - known
        if unknown:
            raise ControlError(f"unknown fault keys: {sorted(unknown)}")
        with self.lock:
            for key, typ in KNOB_TYPES.items():
                if key in spec:
                    try:
                        value = typ(spec[key])
                    except (TypeError, ValueError) as exc:
                        raise ControlError(f"{key} must be a number") from exc
                    if value < 0:
                        raise ControlError(f"{key} must be >= 0")
                    setattr(self.knobs, key, value)
            if "amplify_job_status" in spec:
                status = spec["amplify_job_status"]
                if status not in ("SUCCEED", "FAILED", "CANCELLED"):
                    raise ControlError("amplify_job_status must be SUCCEED, FAILED or CANCELLED")
                self.knobs.amplify_job_status = status
            if "amplify_access_token_clone" in spec:
                clone = spec["amplify_access_token_clone"]
                if clone not in ("TOKEN", "SSH"):
                    raise ControlError("amplify_access_token_clone must be TOKEN or SSH")
                self.knobs.amplify_access_token_clone = clone
            if "deployment_failure" in spec:
                failure = spec["deployment_failure"]
                if failure is not None and (not isinstance(failure, str) or not failure):
                    raise ControlError("deployment_failure must be a non-empty string or null")
                self.knobs.deployment_failure = failure
            if "page_size" in spec:
                size = spec["page_size"]
                if size is not None and (not isinstance(size, int) or size < 1):
                    raise ControlError("page_size must be a positive integer or null")
                self.knobs.page_size = size
            if "operation" in spec:
                count = spec.get("count", 1)
                status = spec.get("status", 400)
                headers = spec.get("headers", {})
                if not isinstance(count, int) or count == 0 or count < -1:
                    raise ControlError("count must be a positive integer or -1")
                if not isinstance(status, int) or not 100 <= status <= 599:
                    raise ControlError("status must be an HTTP status code")
                if not isinstance(headers, dict):
                    raise ControlError("headers must be an object")
                self.faults.append(
                    Fault(
                        operation=str(spec["operation"]),
                        service=spec.get("service"),
                        remaining=count,
                        status=status,
                        code=str(spec.get("code", "BadRequestException")),
                        message=str(spec.get("message", "Injected fault")),
                        headers={str(k): str(v) for k, v in headers.items()},
                    )
                )
            elif any(k in spec for k in ("service", "count", "status", "code", "message", "headers")):
                raise ControlError("a fault needs an \"operation\"")

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.knobs = Knobs()

    def faults_json(self) -> dict[str, Any]:
        with self.lock:
            k = self.knobs
            return {
                "faults": [f.to_json() for f in self.faults],
                "latency_ms": k.latency_ms,
                "role_propagation_s": k.role_propagation_s,
                "update_account_interval_s": k.update_account_interval_s,
                "amplify_job_s": k.amplify_job_s,
                "amplify_job_status": k.amplify_job_status,
                "page_size": k.page_size,
                "amplify_access_token_clone": k.amplify_access_token_clone,
                "deployment_pending_s": k.deployment_pending_s,
                "deployment_failure": k.deployment_failure,
            }

    def take_fault(self, service: str, operation: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.operation != operation:
                    continue
                if fault.service and fault.service != service:
                    continue
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                return fault
        return None

    def latency(self) -> float:
        with self.lock:
            return self.knobs.latency_ms / 1000.0

    # --- IAM propagation and UpdateAccount quota --------------------------
    def role_created_now(self, arn: str) -> None:
        with self.lock:
            self.role_created[arn] = time.monotonic()

    def role_forgotten(self, arn: str) -> None:
        with self.lock:
            self.role_created.pop(arn, None)

    def role_still_propagating(self, arn: str, at: float) -> bool:
        """Whether the role was still unusable at monotonic time `at` (the request's arrival)."""
        with self.lock:
            created = self.role_created.get(arn)
            delay = self.knobs.role_propagation_s
        return created is not None and at - created < delay

    def update_account_throttled(self, account: str) -> bool:
        """True when UpdateAccount comes too soon after the previous one."""
        now = time.monotonic()
        with self.lock:
            interval = self.knobs.update_account_interval_s
            last = self.last_update_account.get(account)
            if interval > 0 and last is not None and now - last < interval:
                return True
            self.last_update_account[account] = now
            return False


CONTROL = Control()
