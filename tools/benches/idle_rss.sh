#!/usr/bin/env bash
# Server memory with N idle connections (default 2000) to `hci serve`.
# Usage: tools/benches/idle_rss.sh [N] [EXTRA SERVE ARGS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
ulimit -n 16384
cargo build --release -p nvflare-hci-tools --bin hci --example idle_rss --quiet
target/release/examples/idle_rss target/release/hci "${1:-2000}" "${@:2}"
