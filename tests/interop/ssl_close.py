"""A Python `ssl` client for the TLS close tests: standard library only.

Usage: ssl_close.py PORT CERTS MODE

Over mutual TLS (PEM files in CERTS) it sends the text "hello" and reads
the reply; waits half a second, idle; sends "late" and reads the reply;
then closes:
  plain   socket.close() with no close_notify, as Python does by default
  notify  unwrap() first, which sends close_notify
  inside  sends the first half of a binary exchange, then closes as plain
"""

import os
import socket
import ssl
import struct
import sys
import time


def reply(sock):
    data = b""
    while not data.endswith(b"\x04"):
        chunk = sock.recv(1024)
        if not chunk:
            raise EOFError("closed before the reply ended")
        data += chunk
    return data[:-1].decode("utf-8")


def main(port, certs, mode):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.load_cert_chain(os.path.join(certs, "client.pem"), os.path.join(certs, "client.key"))
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
    sock = ctx.wrap_socket(raw, server_hostname="localhost")
    sock.sendall(b"hello\x04")
    first = reply(sock)
    time.sleep(0.5)
    sock.sendall(b"late\x04")
    second = reply(sock)
    if mode == "notify":
        try:
            # Sends close_notify, then waits for the server's, which it
            # does not send: it closes once it has seen ours.
            sock = sock.unwrap()
        except (ssl.SSLEOFError, OSError):
            pass
    elif mode == "inside":
        body = b"x" * 1000
        sock.sendall(b"\x01" + struct.pack(">IQ", 1, len(body)) + b"m" + body[:500])
    sock.close()
    print(first, second)


if __name__ == "__main__":
    main(*sys.argv[1:])
