"""nvflare-admin against nvflare-admin-server, builds side by side: a job of
SIZE_MIB and one of BIG_MIB (default 256 and 1024), each submitted
(`submit-job`: sign, zip, upload) and downloaded (`download-job`), with
every build in each round (the order rotating), on one NVFlare 2.6.3 POC
kit. Prints the wall time of every step, and the medians per build.
A build is LABEL=ADMIN_BIN,SERVER_BIN: the console and the server of one
build of the tools (say, before and after a change to their TLS code).

Usage (with the NVFlare 2.6.3 venv's python, for `nvflare poc prepare`):
  admin_tls.py PYTHON ROUNDS SIZE_MIB BIG_MIB LABEL=ADMIN_BIN,SERVER_BIN...
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from admin_server import PROJECT, USER, free_port, make_job, same, stop, wait_port  # noqa: E402


def main():
    python, rounds, size, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    builds = [(label, *bins.split(",")) for label, bins in (a.split("=", 1) for a in sys.argv[5:])]
    work = tempfile.mkdtemp(prefix="admin-tls-bench-")
    times = {(label, job, step): [] for label, _, _ in builds for job in (size, big) for step in ("submit", "download")}
    try:
        port, fl_port = free_port(), free_port()
        with open(os.path.join(work, "project.yml"), "w") as f:
            f.write(PROJECT.replace("ADMIN_PORT", str(port)).replace("FL_PORT", str(fl_port)))
        subprocess.run(
            [python, "-c", "import sys; from nvflare.cli import main; sys.exit(main())", "poc", "prepare", "-n", "1",
             "-i", os.path.join(work, "project.yml")],
            env={**os.environ, "NVFLARE_POC_WORKSPACE": os.path.join(work, "ws")},
            input="y\n", capture_output=True, text=True, check=True)
        prod = os.path.join(work, "ws", "example_project", "prod_00")
        server_kit, kit = os.path.join(prod, "server"), os.path.join(prod, USER)
        jobs = {mib: make_job(work, f"job-{mib}", mib) for mib in (size, big)}
        print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
        for r in range(rounds):
            for label, admin, server in builds[r % len(builds):] + builds[:r % len(builds)]:
                store = os.path.join(work, "store")
                shutil.rmtree(store, ignore_errors=True)
                proc = subprocess.Popen([server, "--kit", server_kit, "--store", store], stdout=subprocess.DEVNULL)
                try:
                    wait_port(port, proc)
                    base = [admin, "--kit", kit, "--host", "127.0.0.1", "--server-name", "localhost"]
                    for mib, job in jobs.items():
                        os.sync()
                        t = time.perf_counter()
                        out = subprocess.run(base + ["submit-job", job], capture_output=True, text=True, check=True)
                        submit = time.perf_counter() - t
                        job_id = out.stdout.strip().split()[-1]
                        dl = os.path.join(work, "dl")
                        os.sync()
                        t = time.perf_counter()
                        subprocess.run(base + ["download-job", job_id, "--out", dl], capture_output=True, check=True)
                        download = time.perf_counter() - t
                        name = os.path.basename(job)
                        got = os.path.join(dl, job_id, "job", name, "app", "custom", "model.bin")
                        assert same(got, os.path.join(job, "app", "custom", "model.bin")), "the download differs"
                        shutil.rmtree(dl)
                        times[(label, mib, "submit")].append(submit)
                        times[(label, mib, "download")].append(download)
                        print(f"round {r + 1} {label} {mib} MiB: submit {submit:.2f} s, download {download:.2f} s",
                              flush=True)
                finally:
                    stop(proc)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| build | job | submit (median) | download (median) |")
    print("| --- | --- | --- | --- |")
    for label, _, _ in builds:
        for mib in (size, big):
            s = statistics.median(times[(label, mib, "submit")])
            d = statistics.median(times[(label, mib, "download")])
            print(f"| {label} | {mib} MiB | {s:.2f} s ({mib / s:.0f} MiB/s) | {d:.2f} s ({mib / d:.0f} MiB/s) |")


if __name__ == "__main__":
    main()
