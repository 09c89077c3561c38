#!/usr/bin/env bash
# Benchmark of the chat backend (handler/): cold start, resident memory with 10 000
# registered connections, sendmessage throughput and p50/p99 latency through the HTTP
# interface (memory registry, @connections answered by a fast local sink), and the size of
# the zip chatctl deploys. Everything runs on 127.0.0.1 and stops by itself.
#
#   bench/handler/run.sh [--connections N] [--requests N] [--cold-starts N]
#
# It builds the release chatctl (which carries the release `bootstrap`) and the load generator
# (handler/benches/load.rs) once; later runs reuse them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

# What `chatctl up` deploys: the package the release chatctl carries (build.rs builds the
# handler for Lambda and embeds it), written out by `chatctl package`.
cargo build --quiet --release --locked --bin chatctl
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/chatctl package --out "$work/bootstrap.zip" >&2
python3 - "$work" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(f"{sys.argv[1]}/bootstrap.zip") as z:
    z.extract("bootstrap", sys.argv[1])
os.chmod(f"{sys.argv[1]}/bootstrap", 0o755)
PY
binary="$work/bootstrap"
binary_bytes="$(stat -c %s "$binary")"
zip_bytes="$(stat -c %s "$work/bootstrap.zip")"

echo "chat backend benchmark ($(nproc) CPUs, $(uname -m); $(date -u +%Y-%m-%dT%H:%MZ))"
cargo bench --quiet -p chat-handler --bench load -- \
    --bootstrap "$binary" --binary-bytes "$binary_bytes" --zip-bytes "$zip_bytes" "$@"
