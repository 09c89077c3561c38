#!/usr/bin/env python3
"""Benchmark of chatctl's control plane against the cloud emulator.

For the default stack (what `chatctl init` writes: the Lambda backend with names verified by
a Cognito user pool), for the Lambda backend without sign-in and for the HTTP backend, injects a fixed
latency into every emulator call (default 50 ms), then times fresh `up`, no-op `up`, `status`,
`plan` and `down`, counts the calls each makes (reads / writes, from the emulator's call log)
and the longest chain of calls it made one after the other (from the calls' arrival and answer
times), and compares both with the critical-path bound: the longest chain of dependent calls
the resource graph allows (BOUNDS below, derived by hand from src/stack), times the latency.
Also times `chatctl --version`.

    bench/deploy/run.py [--latency-ms 50] [--runs 3] [--bin target/release/chatctl] [--stack cognito|lambda|http]

Prints a table per stack and which targets are met; it is a measurement, not a test.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

APP = """
[app]
name = "bench"
stage = "dev"
region = "eu-west-1"
"""

# What `chatctl init` writes: names verified by a Cognito user pool.
COGNITO_AUTH = """
[auth]
provider = "cognito"
"""

HTTP_BACKEND = """
[backend]
kind = "http"
url = "https://chat-backend.example.com"
"""

# Chains of dependent calls (a call that needs another's answer comes after it), per command.
# `→` is "needs the answer of", `∥` runs at the same time. Reads of an existing stack:
#   GetApis → GetRoutes ∥ GetIntegrations ∥ GetStage → GetRouteResponses ∥ GetIntegrationResponses
#   (route and integration ids come from the lists, which need the API id): 3.
#   Everything else is one level: GetAccount, GetRole + ListAttachedRolePolicies (logs role),
#   DescribeLogGroups, and for Lambda DescribeTable, GetCallerIdentity, GetRole + GetRolePolicy
#   (backend role), GetFunction + GetFunctionUrlConfig + GetPolicy (all by name).
#   With sign-in (cognito): ListUserPools → DescribeUserPool ∥ ListUserPoolClients →
#   DescribeUserPoolClient: 3 as well (∥ GetFunction + GetPolicy of the authorizer, its log
#   group, GetAuthorizers with the API's children).
# A stack that doesn't exist reads in one level (GetApis finds nothing).
# Lock (a writing command only): CreateLogGroup (exclusive: taking it is the lock) →
#   DescribeLogGroups (its creation time names the lease stream) → CreateLogStream (the
#   generation's stream) → PutLogEvents (the holder record): 4. Unlock: DeleteLogGroup (1).
# After every change, the deployment's verdict: GetStage ∥ GetDeployments (1).
# Fresh up: observe (1), lock (4), observe again under the lock (1), then
#   HTTP:   CreateApi → CreateIntegration → CreateRoute → CreateRouteResponse: 4
#           (∥ CreateRole → AttachRolePolicy → UpdateAccount → CreateStage: 4;
#            ∥ CreateLogGroup → PutRetentionPolicy → DescribeLogGroups (its ARN) → CreateStage)
#   Lambda: CreateRole(backend) → CreateFunction (needs the role and the API's callback URL)
#           → GetFunction (the Active waiter) → CreateFunctionUrlConfig ∥ AddPermission ×2
#           → CreateStage (needs the function URL): 5
#   Cognito: (CreateRole(backend) ∥ CreateUserPool → CreateUserPoolClient) → CreateFunction
#           (the authorizer: needs the role, the pool and the client) → GetFunction (waiter)
#           → CreateAuthorizer (needs the API and the function) → CreateRoute $connect
#           (needs the authorizer): 6
#   then the verdict (1) and unlock (1).
# Down: observe (3), lock (4), observe again (3), then
#   HTTP:   UpdateAccount (restore/clear) → DetachRolePolicy → DeleteRole: 3
#   Lambda: the same 3 (∥ DeleteFunction → DeleteRolePolicy → DeleteRole ∥ DeleteLogGroup of
#           the function: 3) (∥ DeleteApi, DeleteTable)
#   then unlock (1).
BOUNDS = {
    "http": {
        "up (fresh)": 1 + 4 + 1 + 4 + 1 + 1,
        "up (no-op)": 3,
        "status": 3,
        "plan": 3,
        "down": 3 + 4 + 3 + 3 + 1,
    },
    "lambda": {
        "up (fresh)": 1 + 4 + 1 + 5 + 1 + 1,
        "up (no-op)": 3,
        "status": 3,
        "plan": 3,
        "down": 3 + 4 + 3 + 3 + 1,
    },
    # The default of `chatctl init`: the Lambda backend with names verified by Cognito. Down
    # adds DeleteUserPoolDomain → DeleteUserPool (2) beside the 3 above.
    "cognito": {
        "up (fresh)": 1 + 4 + 1 + 6 + 1 + 1,
        "up (no-op)": 3,
        "status": 3,
        "plan": 3,
        "down": 3 + 4 + 3 + 3 + 1,
    },
}

COMMANDS = [("up (fresh)", ["up"]), ("up (no-op)", ["up"]), ("status", ["status"]),
            ("plan", ["plan"]), ("down", ["down", "--yes"])]

# Targets at 50 ms per call.
FAST_COMMANDS = ("up (no-op)", "status")
FAST_WALL_S = 1.0
FRESH_UP_RATIO = 1.3


def control(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/_emulator/{path}", data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def start_emulator():
    proc = subprocess.Popen([os.path.join(ROOT, "tests/emulator/start"), "0", "--exit-with-stdin"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("emulator listening on "):
            return proc, line.split("emulator listening on ", 1)[1].strip()
    proc.kill()
    sys.exit("the emulator did not start")


def run(binary, args, cwd, env):
    started = time.perf_counter()
    result = subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 2):
        sys.exit(f"chatctl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed, result.stdout


def longest_chain(calls):
    """The most calls that ran one after the other: a call follows another when it arrived
    after that one was answered (1 ms slack for clock granularity)."""
    calls = sorted((c for c in calls if c.get("ended_ms") is not None), key=lambda c: c["started_ms"])
    depth = []
    for i, call in enumerate(calls):
        before = [depth[j] for j in range(i) if calls[j]["ended_ms"] <= call["started_ms"] + 1.0]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


def bench_stack(binary, url, kind, runs, latency_ms):
    project = tempfile.mkdtemp(prefix=f"chatctl-bench-{kind}-")
    with open(os.path.join(project, "chatctl.toml"), "w") as f:
        f.write(APP + {"http": HTTP_BACKEND, "cognito": COGNITO_AUTH}.get(kind, ""))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": project,
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    if kind == "http":
        env["CHATCTL_BACKEND_SECRET"] = "0123456789abcdef0123456789abcdef"
    elif os.environ.get("CHATCTL_HANDLER_ZIP"):
        # A prebuilt package instead of the one chatctl carries (to compare builds of chatctl
        # that had none).
        env["CHATCTL_HANDLER_ZIP"] = os.path.abspath(os.environ["CHATCTL_HANDLER_ZIP"])
    results = {name: {"wall": [], "base": [], "reads": 0, "writes": 0, "chain": 0} for name, _ in COMMANDS}
    # Pass 1 at 0 ms: the fixed cost (process start, request handling in chatctl and in the
    # emulator, which serialises its work); pass 2 at the requested latency.
    for latency, key in [(0, "base")] * runs + [(latency_ms, "wall")] * runs:
        control(url, "POST", "reset")
        # Warm the emulator's service backends (their first use after a reset is slow) so the
        # numbers are chatctl's, then start from an empty account again.
        run(binary, ["up"], project, env)
        run(binary, ["down", "--yes"], project, env)
        control(url, "POST", "faults", {"latency_ms": latency})
        for name, command in COMMANDS:
            control(url, "DELETE", "calls")
            elapsed, stdout = run(binary, command, project, env)
            results[name][key].append(elapsed)
            calls = control(url, "GET", "calls?timing=1")
            results[name]["reads"] = sum(1 for c in calls if not c["write"])
            results[name]["writes"] = sum(1 for c in calls if c["write"])
            if key == "wall":
                results[name]["chain"] = max(results[name]["chain"], longest_chain(calls))
    # The resources of the deployed stack, as `status` lists them (one read each is the target).
    control(url, "POST", "faults", {"latency_ms": 0})
    control(url, "POST", "reset")
    run(binary, ["up"], project, env)
    _, out = run(binary, ["status", "--output", "json"], project, env)
    resources = len(json.loads(out)["resources"])
    run(binary, ["down", "--yes"], project, env)
    return results, resources


def report(kind, results, resources, latency_ms, runs):
    latency = latency_ms / 1000
    bounds = BOUNDS[kind]
    label = {"cognito": "lambda backend + cognito sign-in (default)", "lambda": "lambda backend, no sign-in",
             "http": "http backend, no sign-in"}[kind]
    print(f"{label}: {latency_ms} ms per emulator call, "
          f"median of {runs} runs; the deployed stack has {resources} resources")
    print()
    print(f"| {'command':<11} | {'wall (s)':>8} | {'at 0 ms':>7} | {'reads':>5} | {'writes':>6} | "
          f"{'chain':>5} | {'bound (s)':>12} | {'wall/bound':>10} |")
    print(f"|{'-' * 13}|{'-' * 10}|{'-' * 9}|{'-' * 7}|{'-' * 8}|{'-' * 7}|{'-' * 14}|{'-' * 12}|")
    met = []
    for name, _ in COMMANDS:
        r = results[name]
        wall = statistics.median(r["wall"])
        base = statistics.median(r["base"])
        bound = bounds[name] * latency
        print(f"| {name:<11} | {wall:>8.3f} | {base:>7.3f} | {r['reads']:>5} | {r['writes']:>6} | "
              f"{r['chain']:>5} | {bound:>6.3f} ({bounds[name]:>2}) | {(wall / bound if bound else float('nan')):>10.2f} |")
        if latency_ms == 50 and name in FAST_COMMANDS:
            ok = wall < FAST_WALL_S and r["reads"] <= resources
            met.append(f"{name}: {wall:.3f} s < {FAST_WALL_S} s and {r['reads']} reads ≤ {resources} resources: "
                       f"{'met' if ok else 'MISSED'}")
        if latency_ms == 50 and name == "up (fresh)":
            ok = wall <= FRESH_UP_RATIO * bound
            met.append(f"{name}: {wall:.3f} s ≤ {FRESH_UP_RATIO} × {bound:.3f} s: {'met' if ok else 'MISSED'}")
    print()
    for line in met:
        print(f"  target {line}")
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target/release/chatctl"))
    parser.add_argument("--stack", choices=["cognito", "lambda", "http"], action="append",
                        help="only this stack (repeatable; default both)")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    stacks = args.stack or ["cognito", "lambda", "http"]

    if not os.path.exists(args.bin):
        print("building chatctl (release)…", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "chatctl"], cwd=ROOT, check=True)

    # --version: process start to exit.
    versions = []
    for _ in range(20):
        started = time.perf_counter()
        subprocess.run([args.bin, "--version"], capture_output=True, check=True)
        versions.append((time.perf_counter() - started) * 1000)

    emulator, url = start_emulator()
    try:
        measured = {kind: bench_stack(args.bin, url, kind, args.runs, args.latency_ms) for kind in stacks}
    finally:
        emulator.kill()

    print(f"chatctl control plane ({args.bin})")
    print()
    for kind in stacks:
        results, resources = measured[kind]
        report(kind, results, resources, args.latency_ms, args.runs)
    print(f"chatctl --version: median {statistics.median(versions):.1f} ms, min {min(versions):.1f} ms (20 runs)")
    print("chain = the longest run of calls made one after the other (from the emulator's call times)")
    print("bound = dependent calls the resource graph allows (in parentheses; BOUNDS in this script) × latency")
    print("at 0 ms = the same command without injected latency: the fixed cost the bound leaves out")


if __name__ == "__main__":
    main()
