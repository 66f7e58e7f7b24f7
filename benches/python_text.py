"""NVFlare 2.9.0's receive_all on a text reply: connect, receive_all, close,
ITERATIONS times against the server at PORT; prints the median seconds.

Run through benches/python_text.sh (the text_bench program starts the server
and runs this beside its own measurements).
"""

import socket
import statistics
import sys
import time

from nvflare.fuel.hci import binary_proto as bp


def main():
    port, expected, iterations = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            ct, text, _ = bp.receive_all(sock)
        times.append(time.perf_counter() - start)
        assert ct == bp.CT_TEXT and len(text) == expected, (ct, len(text), expected)
    print(statistics.median(times))


if __name__ == "__main__":
    main()
