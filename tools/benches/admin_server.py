"""Benchmark: NVFlare 2.6.3's own client (flare_api) submits and downloads
the same 256 MiB job to the real NVFlare 2.6.3 admin server and to
nvflare-admin-server, in one run; then nvflare-admin and
nvflare-admin-server move a 1 GiB job. Reports wall times, the servers'
peak RSS (VmHWM) and CPU time (utime + stime from /proc/PID/stat), and
nvflare-admin's peak RSS. Each flare_api figure is the median of 3 rounds
(peak RSS: the largest).

Run by tools/benches/admin_server.sh, with the venv's python:
  admin_server.py PYTHON SERVER_BIN ADMIN_BIN LOOPBACK_DIR [SIZE_MIB] [BIG_MIB]
"""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROJECT = """api_version: 3
builders:
- args:
    template_file: [master_template.yml, aws_template.yml, azure_template.yml]
  path: nvflare.lighter.impl.workspace.WorkspaceBuilder
- args:
    config_folder: config
    overseer_agent:
      args: {sp_end_point: "localhost:FL_PORT:ADMIN_PORT"}
      overseer_exists: false
      path: nvflare.ha.dummy_overseer_agent.DummyOverseerAgent
  path: nvflare.lighter.impl.static_file.StaticFileBuilder
- path: nvflare.lighter.impl.cert.CertBuilder
- path: nvflare.lighter.impl.signature.SignatureBuilder
description: nvflare-admin-server benchmark
name: example_project
participants:
- {admin_port: ADMIN_PORT, default_host: localhost, fed_learn_port: FL_PORT, name: server, org: nvidia, type: server}
- {name: admin@nvidia.com, org: nvidia, role: project_admin, type: admin}
- {name: site-1, org: nvidia, type: client}
"""

USER = "admin@nvidia.com"
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the admin port never opened")


def proc_tree(pid):
    """pid and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def stats(pid):
    """(peak RSS MiB, CPU seconds) of pid and its descendants."""
    rss, cpu = 0, 0.0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / CLK
        except OSError:
            pass
    return rss / 1024, cpu


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def prepare_poc(python, work):
    """A POC project in `work` with free ports: (admin port, server kit, admin kit)."""
    port, fl_port = free_port(), free_port()
    with open(os.path.join(work, "project.yml"), "w") as f:
        f.write(PROJECT.replace("ADMIN_PORT", str(port)).replace("FL_PORT", str(fl_port)))
    subprocess.run(
        [python, "-c", "import sys; from nvflare.cli import main; sys.exit(main())", "poc", "prepare", "-n", "1",
         "-i", os.path.join(work, "project.yml")],
        env={**os.environ, "NVFLARE_POC_WORKSPACE": os.path.join(work, "ws")},
        input="y\n", capture_output=True, text=True, check=True)
    prod = os.path.join(work, "ws", "example_project", "prod_00")
    return port, os.path.join(prod, "server"), os.path.join(prod, USER)


def make_job(root, name, size_mib):
    job = os.path.join(root, name)
    os.makedirs(os.path.join(job, "app", "config"))
    os.makedirs(os.path.join(job, "app", "custom"))
    with open(os.path.join(job, "meta.json"), "w") as f:
        json.dump({"name": name, "resource_spec": {}, "min_clients": 1, "deploy_map": {"app": ["@ALL"]}}, f)
    for side in ("server", "client"):
        with open(os.path.join(job, "app", "config", f"config_fed_{side}.json"), "w") as f:
            json.dump({"format_version": 2, "workflows": [], "executors": [], "components": []}, f)
    with open(os.path.join(job, "app", "custom", "model.bin"), "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    return job


def same(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


ROUNDS = 3


def flare_rounds(kit, job, server_pid):
    """ROUNDS submit-and-download rounds; the median of each figure."""
    rounds = [flare_round(kit, job, server_pid) for _ in range(ROUNDS)]
    out = {k: sorted(r[k] for r in rounds)[ROUNDS // 2] for k in rounds[0]}
    out["server_peak_rss_mib"] = max(r["server_peak_rss_mib"] for r in rounds)
    out["rounds"] = rounds
    return out


def flare_round(kit, job, server_pid):
    """Submit then download with flare_api; times and the server's figures."""
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    s = new_secure_session(USER, kit, timeout=60)
    try:
        _, cpu0 = stats(server_pid)
        t = time.time()
        job_id = s.submit_job(job)
        submit = time.time() - t
        _, cpu1 = stats(server_pid)
        t = time.time()
        location = s.download_job_result(job_id)
        download = time.time() - t
        rss, cpu2 = stats(server_pid)
    finally:
        s.close()
    got = os.path.join(location, "job", os.path.basename(job), "app", "custom", "model.bin")
    assert same(got, os.path.join(job, "app", "custom", "model.bin")), "the download differs"
    shutil.rmtree(location)
    return {"submit_s": round(submit, 2), "download_s": round(download, 2), "server_peak_rss_mib": round(rss, 1),
            "server_cpu_submit_s": round(cpu1 - cpu0, 2), "server_cpu_download_s": round(cpu2 - cpu1, 2)}


PEAK = """import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
sys.stdout.write(r.stdout.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(r.returncode)
"""


def run_child(cmd):
    """Runs cmd under a fresh python that reports its peak RSS alone:
    (wall seconds, peak RSS in MiB, stdout)."""
    t = time.time()
    out = subprocess.run([sys.executable, "-c", PEAK] + cmd, capture_output=True, text=True)
    wall = time.time() - t
    if out.returncode != 0:
        raise SystemExit(f"{cmd}: {out.stderr}")
    return wall, int(out.stderr.strip().splitlines()[-1]) / 1024, out.stdout


def main():
    python, server_bin, admin_bin, loopback = sys.argv[1:5]
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 256
    big = int(sys.argv[6]) if len(sys.argv) > 6 else 1024
    work = tempfile.mkdtemp(prefix="admin-server-bench-")
    results = {}
    try:
        port, server_kit, kit = prepare_poc(python, work)
        job = make_job(work, "bench-job", size)

        # The real NVFlare 2.6.3 server.
        os.makedirs(os.path.join(server_kit, "transfer"), exist_ok=True)
        log = open(os.path.join(work, "nvflare-server.log"), "w")
        real = subprocess.Popen(
            [python, "-u", "-m", "nvflare.private.fed.app.server.server_train", "-m", server_kit, "-s",
             "fed_server.json", "--set", "secure_train=true", "org=nvidia", "config_folder=config"],
            cwd=server_kit, env={**os.environ, "PYTHONPATH": loopback}, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, real)
            time.sleep(2)
            results["nvflare_2_6_3"] = flare_rounds(kit, job, real.pid)
        finally:
            stop(real)

        # nvflare-admin-server, on the same kit and port.
        store = os.path.join(work, "store")
        ours = subprocess.Popen([server_bin, "--kit", server_kit, "--store", store], stdout=subprocess.DEVNULL)
        try:
            wait_port(port, ours)
            results["nvflare_admin_server"] = flare_rounds(kit, job, ours.pid)
            shutil.rmtree(job)

            # A 1 GiB job with nvflare-admin: the console and the server stay flat.
            big_job = make_job(work, "big-job", big)
            base = [admin_bin, "--kit", kit, "--host", "127.0.0.1", "--server-name", "localhost"]
            wall, rss, out = run_child(base + ["submit-job", big_job])
            job_id = out.strip().split()[-1]
            dl = os.path.join(work, "dl")
            wall_dl, rss_dl, _ = run_child(base + ["download-job", job_id, "--out", dl])
            got = os.path.join(dl, job_id, "job", "big-job", "app", "custom", "model.bin")
            assert same(got, os.path.join(big_job, "app", "custom", "model.bin")), "the 1 GiB download differs"
            srv_rss, srv_cpu = stats(ours.pid)
            results[f"nvflare_admin_{big}mib"] = {
                "submit_s": round(wall, 2), "download_s": round(wall_dl, 2),
                "console_peak_rss_mib": round(max(rss, rss_dl), 1),
                "server_peak_rss_mib": round(srv_rss, 1), "server_cpu_total_s": round(srv_cpu, 2)}
        finally:
            stop(ours)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
