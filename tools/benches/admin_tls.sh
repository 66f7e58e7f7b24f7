#!/usr/bin/env bash
# nvflare-admin against nvflare-admin-server, a 256 MiB and a 1 GiB job
# submitted and downloaded, ROUNDS rounds (default 3); several builds side
# by side (see tools/benches/admin_tls.py). With no build given, this
# checkout's release build.
#
# Usage: tools/benches/admin_tls.sh [ROUNDS] [SIZE_MIB] [BIG_MIB] [LABEL=ADMIN_BIN,SERVER_BIN ...]
# Needs the NVFlare 2.6.3 venv the tests provision (cargo test -p nvflare-hci-tools
# --test admin_server), or NVFLARE_263_PYTHON pointing at a python with nvflare==2.6.3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${NVFLARE_263_PYTHON:-$root/target/tmp/nvflare-2.6.3-venv/bin/python}"
[ -x "$python" ] || { echo "no NVFlare 2.6.3 python at $python: run the admin_server tests once" >&2; exit 1; }
rounds="${1:-3}" size="${2:-256}" big="${3:-1024}"
builds=("${@:4}")
if [ ${#builds[@]} -eq 0 ]; then
    cargo build --release -p nvflare-hci-tools --bins --manifest-path "$root/Cargo.toml" >&2
    builds=("this=$root/target/release/nvflare-admin,$root/target/release/nvflare-admin-server")
fi
exec "$python" "$root/tools/benches/admin_tls.py" "$python" "$rounds" "$size" "$big" "${builds[@]}"
