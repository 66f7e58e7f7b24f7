#!/usr/bin/env bash
# hci over mutual TLS against the bare rustls StreamOwned loop, and against
# itself over plain TCP: 256 MiB (or BYTES), ROUNDS rounds (default 7),
# interleaved, medians and paired ratios, CPU seconds per GiB of the sender
# and of the receiver (see tools/benches/tls_speed.py).
# OTHER_HCI: another build of hci (say, main's) run in the same rounds.
# Usage: tools/benches/tls_speed.sh [BYTES] [ROUNDS] [OTHER_HCI]
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-268435456}"
rounds="${2:-7}"
cargo build --release -p nvflare-hci-tools --bin hci --example tls_loop --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools/benches/tls_certs.sh "$work/tls"
head -c "$size" /dev/urandom > "$work/source.bin"
python3 tools/benches/tls_speed.py target/release/hci target/release/examples/tls_loop \
    "$work/tls" "$work/source.bin" "$work" "$rounds" ${3:+"$3"}
