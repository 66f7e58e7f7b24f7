"""NVFlare 2.9.0's own module over Python's ssl, mutual TLS, on loopback: a
file uploaded (client send_binary_file -> server receive_all, spooled to a
temp file) and downloaded (server send_binary_file -> client receive_all),
two processes each time. Prints MiB/s for both.

Usage: python_tls.py BYTES CERT_DIR   (ca.pem, server.pem/key, client.pem/key)
Run through tools/benches/python_tls.sh, which provides the interpreter and certificates.
"""

import os
import ssl
import socket
import subprocess
import sys
import tempfile
import time

from nvflare.fuel.hci import binary_proto as bp


def context(certs, server):
    if server:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    else:
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
        ctx.load_cert_chain(os.path.join(certs, "client.pem"), os.path.join(certs, "client.key"))
    return ctx


def serve(certs, port_file, mode, path):
    """One connection: receive (upload) or send `path` (download)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.getsockname()[1]))
        os.replace(port_file + ".tmp", port_file)
        raw, _ = server.accept()
        with context(certs, True).wrap_socket(raw, server_side=True) as sock:
            start = time.perf_counter()
            if mode == "upload":
                ct, meta, spooled = bp.receive_all(sock)
                size = os.path.getsize(spooled)
                os.remove(spooled)
            else:
                size = bp.send_binary_file(sock, path, '{"name":"bench"}')
                sock.recv(1)  # until the client has it all and closes
            print(f"{size} {time.perf_counter() - start}")


def client(certs, port, mode, path):
    raw = socket.create_connection(("127.0.0.1", int(port)))
    with context(certs, False).wrap_socket(raw, server_hostname="localhost") as sock:
        start = time.perf_counter()
        if mode == "upload":
            size = bp.send_binary_file(sock, path, '{"cmd":"bench"}')
            sock.recv(1)  # until the server has it all and closes
        else:
            ct, meta, spooled = bp.receive_all(sock)
            size = os.path.getsize(spooled)
            os.remove(spooled)
        print(f"{size} {time.perf_counter() - start}")


def transfer(certs, mode, source, tmp):
    port_file = os.path.join(tmp, f"port-{mode}")
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", certs, port_file, mode, source],
        stdout=subprocess.PIPE, text=True,
    )
    while not os.path.exists(port_file):
        time.sleep(0.01)
    with open(port_file) as f:
        port = f.read()
    out = subprocess.run(
        [sys.executable, __file__, "client", certs, port, mode, source],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    server.communicate()
    size, elapsed = out.split()
    return int(size), float(elapsed)


def main():
    if sys.argv[1] == "serve":
        return serve(*sys.argv[2:])
    if sys.argv[1] == "client":
        return client(*sys.argv[2:])
    size, certs = int(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "source.bin")
        with open(source, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size >> 20):
                f.write(block)
        for mode in ("upload", "download"):
            got, elapsed = transfer(certs, mode, source, tmp)
            assert got == size, (got, size)
            print(f"python nvflare 2.9.0 over ssl: {mode:8} {size} bytes in {elapsed:.3f} s = "
                  f"{size / (1 << 20) / elapsed:.1f} MiB/s")


if __name__ == "__main__":
    main()
