"""Runs a program in a pseudo-terminal, as a person at a terminal would.

Usage: pty_session.py STEPS_JSON PROGRAM [ARGS...]

STEPS_JSON is a list of ["expect", TEXT] (wait up to 20 s for TEXT in the
output since the last expect) and ["send", TEXT] (type TEXT). Prints the
whole transcript; exits 1 if an expectation times out, with the exit code
of the program otherwise (waited for up to 20 s after the last step).
"""

import json
import os
import pty
import select
import sys
import time


def main():
    steps = json.loads(sys.argv[1])
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[2], sys.argv[2:])
    seen = b""
    mark = 0

    def read(timeout):
        nonlocal seen
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            seen += data
        return True

    for kind, text in steps:
        if kind == "send":
            os.write(fd, text.encode())
            continue
        want = text.encode()
        deadline = time.time() + 20
        while want not in seen[mark:]:
            if time.time() > deadline or not read(0.1):
                if want in seen[mark:]:
                    break
                sys.stdout.write(seen.decode(errors="replace"))
                sys.stdout.write(f"\n!! timed out expecting {text!r}\n")
                os.kill(pid, 9)
                sys.exit(1)
        mark = seen.index(want, mark) + len(want)
    deadline = time.time() + 20
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while read(0.05):
                pass
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
        read(0.05)
    os.kill(pid, 9)
    sys.stdout.write(seen.decode(errors="replace"))
    sys.stdout.write("\n!! still running\n")
    sys.exit(1)


if __name__ == "__main__":
    main()
