"""The Python side of the interoperability tests: drives NVFlare's own
nvflare.fuel.hci.binary_proto (nvflare==2.9.0) and reports as JSON.

Usage: peer.py COMMAND [ARGS...]; see the functions below.
"""

import hashlib
import json
import os
import random
import socket
import sys
import tempfile
import traceback

from nvflare.fuel.hci import binary_proto as bp


# A broken peer must fail a test, never hang it.
TIMEOUT = 120


class BufferSender(bp.Sender):
    """Collects what is sent; counts the sendall calls."""

    def __init__(self):
        self.data = bytearray()
        self.calls = 0

    def sendall(self, data):
        self.calls += 1
        self.data.extend(data)


class SplitReceiver(bp.Receiver):
    """Hands out a buffer in random pieces of 1..max_split bytes (as NVFlare's
    own binary_proto_test does), and counts what it handed out."""

    def __init__(self, data, max_split, seed):
        self.data = data
        self.pos = 0
        self.max_split = max_split
        self.rng = random.Random(seed)

    def recv(self, size):
        n = min(size, self.rng.randint(1, self.max_split))
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return bytes(chunk)


class BytesGenerator(bp.DataGenerator):
    """Yields a buffer in pieces of random size; may lie about its size."""

    def __init__(self, data, declared=None, seed=1):
        self.data = data
        self.pos = 0
        self.declared = len(data) if declared is None else declared
        self.rng = random.Random(seed)

    def data_size(self):
        return self.declared

    def generate(self):
        n = self.rng.randint(1, 5000)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return bytes(chunk)


def describe(result, consumed=None):
    ct, text, extra = result
    out = {"ct": ct}
    if ct == bp.CT_TEXT:
        out["text"] = text
    else:
        out["meta"] = text
        out["file"] = extra is not None
        if extra is not None:
            with open(extra, "rb") as f:
                body = f.read()
            os.remove(extra)
            out["size"] = len(body)
            out["sha256"] = hashlib.sha256(body).hexdigest()
    if consumed is not None:
        out["consumed"] = consumed
    return out


def read_meta(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def cmd_encode_file(body_path, meta_path, out_path):
    """send_binary_file of BODY with META into OUT; reports the sendall count."""
    s = BufferSender()
    n = bp.send_binary_file(s, body_path, read_meta(meta_path))
    with open(out_path, "wb") as f:
        f.write(s.data)
    return {"sent": n, "calls": s.calls, "len": len(s.data)}


def cmd_encode_data(body_path, meta_path, out_path, declared=None):
    """send_binary_data from an in-memory generator (random piece sizes)."""
    with open(body_path, "rb") as f:
        body = f.read()
    s = BufferSender()
    gen = BytesGenerator(body, None if declared is None else int(declared))
    try:
        n = bp.send_binary_data(s, gen, read_meta(meta_path))
        out = {"sent": n}
    except Exception as e:  # noqa: BLE001 - reported to the test
        out = {"error": type(e).__name__, "message": str(e)}
    with open(out_path, "wb") as f:
        f.write(s.data)
    out.update({"calls": s.calls, "len": len(s.data)})
    return out


def cmd_decode(wire_path, max_split, seed):
    """receive_all over a buffer read in random pieces; reports the result,
    the bytes consumed, and any error; spool files are counted in TMPDIR."""
    with open(wire_path, "rb") as f:
        data = f.read()
    r = SplitReceiver(data, int(max_split), int(seed))
    try:
        out = describe(bp.receive_all(r), consumed=r.pos)
    except Exception as e:  # noqa: BLE001 - reported to the test
        out = {"error": type(e).__name__, "message": str(e), "consumed": r.pos}
    out["spool_files"] = sorted(os.listdir(tempfile.gettempdir()))
    return out


def cmd_tcp_send_file(port, body_path, meta_path):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT) as sock:
        n = bp.send_binary_file(sock, body_path, read_meta(meta_path))
        sock.shutdown(socket.SHUT_WR)
        reply = bp.receive_all(sock)
    return {"sent": n, "reply": describe(reply)}


def cmd_tcp_recv(port, max_split):
    """Connects, receives one exchange with small recv sizes, and replies
    NVFlare-style with two JSON lines."""

    class SockReceiver(bp.Receiver):
        def __init__(self, sock, max_split):
            self.sock = sock
            self.max_split = max_split
            self.rng = random.Random(7)

        def recv(self, size):
            return self.sock.recv(min(size, self.rng.randint(1, self.max_split)))

    with socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT) as sock:
        got = describe(bp.receive_all(SockReceiver(sock, int(max_split))))
        line1 = json.dumps({"status": "ok", "received": got.get("size", 0)})
        line2 = json.dumps({"note": "中文"})
        sock.sendall((line1 + "\x03" + line2 + "\x04").encode("utf-8"))
    return got


def _tls_context(certs, server):
    """An ssl context from the PEM files in CERTS: mutual TLS, the peer's
    chain checked against ca.pem (and, for a client, the name localhost)."""
    import ssl

    if server:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    else:
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
        ctx.load_cert_chain(os.path.join(certs, "client.pem"), os.path.join(certs, "client.key"))
    return ctx


def _session_socket(role, where, certs):
    """`connect PORT` or `listen PORTFILE`, plain (CERTS '-') or TLS."""
    if role == "connect":
        sock = socket.create_connection(("127.0.0.1", int(where)), timeout=TIMEOUT)
        if certs != "-":
            sock = _tls_context(certs, False).wrap_socket(sock, server_hostname="localhost")
        return sock
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(TIMEOUT)
        tmp = where + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.getsockname()[1]))
        os.replace(tmp, where)
        sock, _ = server.accept()
    sock.settimeout(TIMEOUT)
    if certs != "-":
        sock = _tls_context(certs, True).wrap_socket(sock, server_side=True)
    return sock


def cmd_session(role, where, certs, body_path, rounds):
    """Several exchanges on one connection, NVFlare's module on this side:
    each round sends a text request (sendall, as NVFlare's server writes
    text) and a binary one (send_binary_file), and receives the replies with
    receive_all. Python sends first and waits for each reply, since its
    receive_all drops what follows a text in the same read."""
    replies = []
    with _session_socket(role, where, certs) as sock:
        for i in range(int(rounds)):
            sock.sendall(f"round {i}\x03中文 ✓\x04".encode("utf-8"))
            replies.append(describe(bp.receive_all(sock)))
            sent = bp.send_binary_file(sock, body_path, json.dumps({"round": i}))
            reply = describe(bp.receive_all(sock))
            reply["sent"] = sent
            replies.append(reply)
    return {"replies": replies}


def cmd_tls_upload(port, certs, body_path, meta_path):
    """send_binary_file over mutual TLS to `hci serve`; its reply."""
    with _session_socket("connect", port, certs) as sock:
        n = bp.send_binary_file(sock, body_path, read_meta(meta_path))
        reply = bp.receive_all(sock)
    return {"sent": n, "reply": describe(reply)}


def cmd_tls_download(port, certs, name):
    """A download request over mutual TLS to `hci serve`, sent as NVFlare's
    server writes text; the file received with receive_all."""
    with _session_socket("connect", port, certs) as sock:
        sock.sendall(f"download {name}\x04".encode("utf-8"))
        return describe(bp.receive_all(sock))


COMMANDS = {
    "encode-file": cmd_encode_file,
    "encode-data": cmd_encode_data,
    "decode": cmd_decode,
    "tcp-send-file": cmd_tcp_send_file,
    "tcp-recv": cmd_tcp_recv,
    "session": cmd_session,
    "tls-upload": cmd_tls_upload,
    "tls-download": cmd_tls_download,
}


def main():
    try:
        out = COMMANDS[sys.argv[1]](*sys.argv[2:])
    except Exception:  # noqa: BLE001 - the test prints it
        traceback.print_exc()
        sys.exit(2)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
