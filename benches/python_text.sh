#!/usr/bin/env bash
# Text replies over loopback, one run, the same Rust sender for everyone:
# Connection (fresh connection + receive), exact-mode receive_all(&TcpStream),
# a raw read of the same bytes, and NVFlare 2.9.0's receive_all in Python.
# Usage: benches/python_text.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/tmp/nvflare-2.9.0-venv"
if ! "$venv/bin/python" -c "import nvflare.fuel.hci.binary_proto" 2>/dev/null; then
    mkdir -p target/tmp
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet nvflare==2.9.0
fi
cargo build --release --example text_bench --quiet
target/release/examples/text_bench "$venv/bin/python" benches/python_text.py
