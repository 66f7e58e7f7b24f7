#!/usr/bin/env bash
# nvflare-admin-server against the real NVFlare 2.6.3 admin server, with
# NVFlare's own client and the same 256 MiB job; then a 1 GiB job with
# nvflare-admin. Prints the figures as JSON.
#
# Usage: tools/benches/admin_server.sh [SIZE_MIB] [BIG_MIB]   (from the repository root)
# Needs the NVFlare 2.6.3 venv the tests provision (cargo test -p nvflare-hci-tools
# --test admin_server), or NVFLARE_263_PYTHON pointing at a python with nvflare==2.6.3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${NVFLARE_263_PYTHON:-$root/target/tmp/nvflare-2.6.3-venv/bin/python}"
[ -x "$python" ] || { echo "no NVFlare 2.6.3 python at $python: run the admin_server tests once" >&2; exit 1; }
cargo build --release -p nvflare-hci-tools --bins --manifest-path "$root/Cargo.toml" >&2
exec "$python" "$root/tools/benches/admin_server.py" "$python" \
  "$root/target/release/nvflare-admin-server" "$root/target/release/nvflare-admin" \
  "$root/tools/tests/interop/loopback" "${1:-256}" "${2:-1024}"
