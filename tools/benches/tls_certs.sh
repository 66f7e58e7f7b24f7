#!/usr/bin/env bash
# The README's openssl recipe: a CA, a server certificate for localhost, and
# a client certificate, as PEM files in DIR (default ./tls).
# Usage: tools/benches/tls_certs.sh [DIR]
set -euo pipefail
mkdir -p "${1:-tls}" && cd "${1:-tls}"
# The CA: its key signs the others; ca.pem goes to --tls-ca on both sides.
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=hci CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
# The server: the name clients verify (the host, or --server-name) goes in subjectAltName.
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -extfile server.ext -out server.pem 2>/dev/null
# A client: whoever holds client.pem and client.key gets in.
openssl req -newkey rsa:2048 -nodes -subj "/CN=hci client" -keyout client.key -out client.csr 2>/dev/null
printf "basicConstraints=CA:FALSE\n" > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -extfile client.ext -out client.pem 2>/dev/null
rm -f server.csr client.csr server.ext client.ext ca.srl
