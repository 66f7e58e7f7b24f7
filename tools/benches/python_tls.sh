#!/usr/bin/env bash
# 256 MiB up and down over mutual TLS on loopback, in one run: NVFlare 2.9.0's
# functions over Python's ssl (two processes), and hci's client against
# `hci serve` with the same certificates (made by tools/benches/tls_certs.sh); then
# hci over plain TCP, for the cost of TLS. Three rounds.
# Usage: tools/benches/python_tls.sh [BYTES]
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-268435456}"
. benches/nvflare_venv.sh
cargo build --release --bin hci --quiet
hci=target/release/hci
work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
tools/benches/tls_certs.sh "$work/tls"
head -c "$size" /dev/urandom > "$work/source.bin"
tls=(--tls-cert "$work/tls/client.pem" --tls-key "$work/tls/client.key" --tls-ca "$work/tls/ca.pem")
"$hci" serve --listen 127.0.0.1:0 --dir "$work/served" \
    --tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key" --tls-ca "$work/tls/ca.pem" \
    > "$work/server.log" &
server_pid=$!
while ! grep -q "listening on" "$work/server.log" 2>/dev/null; do sleep 0.05; done
addr=$(head -1 "$work/server.log" | sed 's/listening on //')
mibs() { python3 -c "print(f'{$1 / 1048576 / $2:.1f}')"; }
for round in 1 2 3; do
    "$venv/bin/python" tools/benches/python_tls.py "$size" "$work/tls"
    start=$(date +%s.%N)
    name=$("$hci" upload --connect "$addr" --server-name localhost "${tls[@]}" "$work/source.bin" \
        | python3 -c "import json,sys; print(json.load(sys.stdin)['name'])")
    up=$(python3 -c "print($(date +%s.%N) - $start)")
    start=$(date +%s.%N)
    "$hci" download --connect "$addr" --server-name localhost "${tls[@]}" "$name" --out "$work/back.bin" >/dev/null
    down=$(python3 -c "print($(date +%s.%N) - $start)")
    cmp -s "$work/source.bin" "$work/back.bin" || { echo "download differs" >&2; exit 1; }
    echo "hci over mutual TLS (client process): upload $(mibs "$size" "$up") MiB/s, download $(mibs "$size" "$down") MiB/s"
    rm -f "$work/back.bin" "$work/served/$name"
    "$hci" demo --size "$size" | grep -E '^(upload|download)' | sed 's/^/hci plain TCP (demo): /'
done
