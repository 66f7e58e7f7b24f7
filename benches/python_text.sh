#!/usr/bin/env bash
# Text replies over loopback, one run, the same Rust sender for everyone:
# Connection (fresh connection + receive), exact-mode receive_all(&TcpStream),
# a raw read of the same bytes, and NVFlare 2.9.0's receive_all in Python.
# Usage: benches/python_text.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/nvflare_venv.sh
cargo build --release -p nvflare-hci-tools --example text_bench --quiet
target/release/examples/text_bench "$venv/bin/python" benches/python_text.py
