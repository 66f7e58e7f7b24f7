#!/usr/bin/env bash
# Text replies over loopback, one run, the same Rust sender for everyone:
# Connection (fresh connection + receive), exact-mode receive_all(&TcpStream),
# a raw read of the same bytes, and NVFlare 2.9.0's receive_all in Python.
# Then the page faults of 1 MiB text receives, 30 per process, 5 processes.
# Usage: benches/python_text.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/nvflare_venv.sh
cargo build --release -p nvflare-hci-tools --example text_bench --quiet
target/release/examples/text_bench "$venv/bin/python" benches/python_text.py
# A 1 MiB text reply received 30 times on fresh connections, in 5 processes:
# the median time and page faults per receive, and the process's faults in all.
cargo build --release -p nvflare-hci-tools --example text_faults --quiet
for run in 1 2 3 4 5; do target/release/examples/text_faults 30; done
