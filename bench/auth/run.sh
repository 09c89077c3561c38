#!/usr/bin/env bash
# The $connect authorizer and the cost of sign-in (bench/auth/bench.rs, the `auth-bench`
# example): authorizer cold start under a local Lambda Runtime API, warm verification, and
# `chatctl dev` connect latency with sign-in on and off. Prints one table; everything runs on
# 127.0.0.1 and stops by itself.
#
#   bench/auth/run.sh [--cold-starts N] [--verifications N] [--connects N]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

# The Lambda package's build (see handler/Cargo.toml): the authorizer is this same binary.
cargo build --quiet --release -p chat-handler --no-default-features --bin bootstrap
cargo build --quiet --release --example auth-bench
target="${CARGO_TARGET_DIR:-$root/target}"
exec "$target/release/examples/auth-bench" --bootstrap "$target/release/bootstrap" "$@"
