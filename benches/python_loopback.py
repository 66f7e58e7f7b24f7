"""NVFlare 2.9.0's own module on the loopback transfer of the benchmarks: a
file sent with send_binary_file by one process, received with receive_all
(spooled to a temp file) by another. Prints MiB/s.

Run through benches/python_loopback.sh, which provides the interpreter.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

from nvflare.fuel.hci import binary_proto as bp


def receiver(port_file):
    with socket.create_server(("127.0.0.1", 0)) as server:
        with open(port_file, "w") as f:
            f.write(str(server.getsockname()[1]))
        sock, _ = server.accept()
        with sock:
            start = time.perf_counter()
            ct, meta, path = bp.receive_all(sock)
            elapsed = time.perf_counter() - start
            size = os.path.getsize(path)
            os.remove(path)
    print(f"{size} {elapsed}")


def sender(port, path):
    with socket.create_connection(("127.0.0.1", int(port))) as sock:
        bp.send_binary_file(sock, path, '{"cmd":"bench"}')


def main():
    if sys.argv[1] == "receiver":
        return receiver(sys.argv[2])
    if sys.argv[1] == "sender":
        return sender(sys.argv[2], sys.argv[3])
    size = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "source.bin")
        with open(source, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size >> 20):
                f.write(block)
        port_file = os.path.join(tmp, "port")
        recv = subprocess.Popen(
            [sys.executable, __file__, "receiver", port_file], stdout=subprocess.PIPE, text=True
        )
        while not os.path.exists(port_file) or not open(port_file).read():
            time.sleep(0.01)
        port = open(port_file).read()
        subprocess.run([sys.executable, __file__, "sender", port, source], check=True)
        out, _ = recv.communicate()
        got, elapsed = out.split()
        assert int(got) == size, (got, size)
        print(f"python nvflare 2.9.0: {size} bytes in {float(elapsed):.3f} s = "
              f"{size / (1 << 20) / float(elapsed):.1f} MiB/s")


if __name__ == "__main__":
    main()
