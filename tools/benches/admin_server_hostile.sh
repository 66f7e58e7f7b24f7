#!/usr/bin/env bash
# nvflare-admin-server under hostile inputs (huge requests before login, a
# long id, overlapping zip entries, a meta of a million keys, staged
# downloads never fetched) and the 256 MiB submit, this build against
# another one side by side. Prints the figures as JSON.
#
# Usage: tools/benches/admin_server_hostile.sh [OTHER_SERVER_BIN]   (from the repository root)
# OTHER_SERVER_BIN: e.g. an earlier build of nvflare-admin-server (git worktree
# add /tmp/old REV && cargo build --release --bin nvflare-admin-server there).
# Needs the NVFlare 2.6.3 venv the tests provision (cargo test -p nvflare-hci-tools
# --test admin_server), or NVFLARE_263_PYTHON pointing at a python with nvflare==2.6.3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${NVFLARE_263_PYTHON:-$root/target/tmp/nvflare-2.6.3-venv/bin/python}"
[ -x "$python" ] || { echo "no NVFlare 2.6.3 python at $python: run the admin_server tests once" >&2; exit 1; }
cargo build --release -p nvflare-hci-tools --bins --manifest-path "$root/Cargo.toml" >&2
builds=("this=$root/target/release/nvflare-admin-server")
[ $# -ge 1 ] && builds=("other=$1" "${builds[@]}")
exec "$python" "$root/tools/benches/admin_server_hostile.py" "$python" \
  "$root/target/release/nvflare-admin" "${builds[@]}"
