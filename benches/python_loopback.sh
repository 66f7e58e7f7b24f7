#!/usr/bin/env bash
# The loopback transfer, Python module against this crate, in one run:
# NVFlare 2.9.0 (two processes) and the hci demo's upload (client to server,
# body spooled to a temp file), 256 MiB each, three times.
# Usage: benches/python_loopback.sh [BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-268435456}"
. benches/nvflare_venv.sh
cargo build --release --bin hci --quiet
for _ in 1 2 3; do
    "$venv/bin/python" benches/python_loopback.py "$size"
    target/release/hci demo --size "$size" | grep '^upload'
done
