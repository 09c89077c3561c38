#!/usr/bin/env python3
"""Benchmark of chatctl's control plane against the cloud emulator.

Injects a fixed latency into every emulator call (default 50 ms), then times fresh `up`,
no-op `up`, `status`, `plan` and `down` of a stack with the HTTP backend, counts the calls
they make (reads / writes, from the emulator's call log), and compares the wall time with
the critical-path lower bound: the longest chain of calls that must happen one after the
other, times the latency. Also times `chatctl --version`.

    bench/deploy/run.py [--latency-ms 50] [--runs 3] [--bin target/release/chatctl]

Prints a table; it is a measurement, not a test (no pass/fail).
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

CONFIG = """
[app]
name = "bench"
stage = "dev"
region = "eu-west-1"

[backend]
kind = "http"
url = "https://chat-backend.example.com"
"""

# Dependent chains (calls that cannot overlap), per command, for the HTTP backend:
#  observe: 1 level when nothing exists (GetApis ∥ GetAccount ∥ GetRole ∥ …);
#           3 when the API exists (GetApis → GetRoutes/GetIntegrations/GetStage → Get*Responses)
#  lock: CreateLogGroup; unlock: DeleteLogGroup
#  create: CreateApi → CreateIntegration → CreateRoute → CreateRouteResponse
#          (∥ CreateRole → AttachRolePolicy → UpdateAccount → CreateStage, also 4;
#           ∥ CreateApi → CreateLogGroup → PutRetentionPolicy (execution logs) → CreateStage)
#  deployment verdict: GetStage ∥ GetDeployments, once nothing is pending
#  delete: UpdateAccount (restore) → DetachRolePolicy → DeleteRole (∥ DeleteLogGroup (execution
#          logs) → DeleteApi, DeleteLogGroup)
LOWER_BOUND_CALLS = {
    "up (fresh)": 1 + 1 + 1 + 4 + 1 + 1,
    "up (no-op)": 3,
    "status": 3,
    "plan": 3,
    "down": 3 + 1 + 3 + 3 + 1,
}


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
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target/release/chatctl"))
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)

    if not os.path.exists(args.bin):
        print("building chatctl (release)…", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--bin", "chatctl"], cwd=ROOT, check=True)

    # --version: process start to exit.
    versions = []
    for _ in range(20):
        started = time.perf_counter()
        subprocess.run([args.bin, "--version"], capture_output=True, check=True)
        versions.append((time.perf_counter() - started) * 1000)

    emulator, url = start_emulator()
    try:
        project = tempfile.mkdtemp(prefix="chatctl-bench-")
        with open(os.path.join(project, "chatctl.toml"), "w") as f:
            f.write(CONFIG)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "AKIDBENCH",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "CHATCTL_BACKEND_SECRET": "0123456789abcdef0123456789abcdef",
        }
        results = {name: {"wall": [], "base": [], "reads": 0, "writes": 0} for name in LOWER_BOUND_CALLS}
        # Pass 1 at 0 ms: the fixed cost (process start, request handling in chatctl and in
        # the emulator, which serialises its work); pass 2 at the requested latency.
        for latency_ms, key in [(0, "base")] * args.runs + [(args.latency_ms, "wall")] * args.runs:
            control(url, "POST", "reset")
            # Warm the emulator's service backends (their first use after a reset is slow)
            # so the numbers are chatctl's, then start from an empty account again.
            run(args.bin, ["up"], project, env)
            run(args.bin, ["down", "--yes"], project, env)
            control(url, "POST", "faults", {"latency_ms": latency_ms})
            for name, command in [("up (fresh)", ["up"]), ("up (no-op)", ["up"]), ("status", ["status"]),
                                  ("plan", ["plan"]), ("down", ["down", "--yes"])]:
                control(url, "DELETE", "calls")
                results[name][key].append(run(args.bin, command, project, env))
                calls = control(url, "GET", "calls")
                results[name]["reads"] = sum(1 for c in calls if not c["write"])
                results[name]["writes"] = sum(1 for c in calls if c["write"])
    finally:
        emulator.kill()

    latency = args.latency_ms / 1000
    print(f"chatctl control plane, {args.latency_ms} ms per emulator call, median of {args.runs} runs ({args.bin})")
    print()
    print(f"| {'command':<11} | {'wall (s)':>8} | {'at 0 ms':>7} | {'reads':>5} | {'writes':>6} | {'lower bound (s)':>15} | {'ratio':>5} |")
    print(f"|{'-' * 13}|{'-' * 10}|{'-' * 9}|{'-' * 7}|{'-' * 8}|{'-' * 17}|{'-' * 7}|")
    for name, bound_calls in LOWER_BOUND_CALLS.items():
        wall = statistics.median(results[name]["wall"])
        bound = bound_calls * latency
        base = statistics.median(results[name]["base"])
        print(f"| {name:<11} | {wall:>8.3f} | {base:>7.3f} | {results[name]['reads']:>5} | {results[name]['writes']:>6} | "
              f"{bound:>9.3f} ({bound_calls:>2}) | {(wall / bound if bound else float('nan')):>5.2f} |")
    print()
    print(f"chatctl --version: median {statistics.median(versions):.1f} ms, min {min(versions):.1f} ms (20 runs)")
    print("lower bound = dependent calls (in parentheses) × latency; see LOWER_BOUND_CALLS in this script")
    print("at 0 ms = the same command without injected latency: the fixed cost the lower bound leaves out")


if __name__ == "__main__":
    main()
