#!/usr/bin/env bash
# Benchmark of the chat backend (handler/): cold start, resident memory with 10 000
# registered connections, sendmessage throughput and p50/p99 latency through the HTTP
# interface (memory registry, @connections answered by a fast local sink), and the size of
# the release binary zipped. Everything runs on 127.0.0.1 and stops by itself.
#
#   bench/handler/run.sh [--connections N] [--requests N] [--cold-starts N]
#
# It builds the release `bootstrap` and the load generator (handler/benches/load.rs) once;
# later runs reuse them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

# The Lambda package's build: credentials from the environment only (see handler/Cargo.toml).
cargo build --quiet --release -p chat-handler --no-default-features --bin bootstrap
binary="$root/target/release/bootstrap"

# Zip the binary as Lambda receives it (a file named `bootstrap` at the archive root).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$binary" "$work/bootstrap"
if command -v zip >/dev/null; then
    (cd "$work" && zip -q -9 -X bootstrap.zip bootstrap)
else
    python3 - "$work" <<'PY'
import sys, zipfile
with zipfile.ZipFile(f"{sys.argv[1]}/bootstrap.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(f"{sys.argv[1]}/bootstrap", "bootstrap")
PY
fi
binary_bytes="$(stat -c %s "$binary")"
zip_bytes="$(stat -c %s "$work/bootstrap.zip")"

echo "chat backend benchmark ($(nproc) CPUs, $(uname -m); $(date -u +%Y-%m-%dT%H:%MZ))"
cargo bench --quiet -p chat-handler --bench load -- \
    --bootstrap "$binary" --binary-bytes "$binary_bytes" --zip-bytes "$zip_bytes" "$@"
