"""Benchmark: nvflare-admin-server under the inputs a peer with a project
certificate can send to exhaust it, for two builds side by side (e.g. the
one before a change and the one after). For each input, a fresh server on
a fresh store; reports its peak RSS (VmHWM), CPU seconds, what the input
got, and what it left in the store. Then the 256 MiB submit's time with
each build (nvflare-admin, 3 interleaved rounds, medians).

Run by tools/benches/admin_server_hostile.sh, with the venv's python:
  admin_server_hostile.py PYTHON ADMIN_BIN NAME=SERVER_BIN [NAME=SERVER_BIN ...]
"""

import copy
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admin_server as base  # noqa: E402

USER = base.USER


def tls(kit):
    startup = os.path.join(kit, "startup")
    ctx = ssl.create_default_context(cafile=os.path.join(startup, "rootCA.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(os.path.join(startup, "client.crt"), os.path.join(startup, "client.key"))
    return ctx


def request(command, token=None):
    data = [{"type": "command", "data": command}]
    if token:
        data.append({"type": "token", "data": token})
    return json.dumps({"data": data, "meta": {}})


def exchange(kit, port, text=None, meta=None, body_path=None):
    """One request (text, or binary with meta and a file body); the reply
    text, or the error that ended the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as raw:
        with tls(kit).wrap_socket(raw, server_hostname="localhost") as s:
            try:
                if text is not None:
                    s.sendall(text.encode() + b"\x04")
                else:
                    size = os.path.getsize(body_path)
                    m = meta.encode()
                    s.sendall(b"\x01" + struct.pack(">IQ", len(m), size) + m)
                    crc = 0
                    with open(body_path, "rb") as f:
                        while chunk := f.read(1 << 20):
                            crc = zlib.crc32(chunk, crc)
                            s.sendall(chunk)
                    s.sendall(struct.pack(">II", 0, crc))
            except OSError as e:
                return f"send: {e}"
            reply = b""
            try:
                while not reply.endswith(b"\x04"):
                    got = s.recv(1 << 16)
                    if not got:
                        break
                    reply += got
            except OSError as e:
                return f"recv: {e}"
            return reply.rstrip(b"\x04").replace(b"\x03", b"").decode(errors="replace")


def login(kit, port):
    reply = json.loads(exchange(kit, port, text=request(f"_cert_login {USER}")))
    return next(i["data"] for i in reply["data"] if i["type"] == "token")


def status(reply):
    """The reply's status, with the start of its message."""
    try:
        meta = json.loads(reply)["meta"]
        return f'{meta["status"]}: {meta.get("info", "")[:60]}'.rstrip(": ")
    except Exception:  # noqa: BLE001 - a closed connection, or no meta
        return reply[:80]


def signed_job(python, work, kit, name, files, meta=None):
    """A job folder signed with the admin's key, as NVFlare's client signs."""
    job = os.path.join(work, name)
    shutil.rmtree(job, ignore_errors=True)
    os.makedirs(os.path.join(job, "app", "config"))
    os.makedirs(os.path.join(job, "app", "custom"))
    with open(os.path.join(job, "meta.json"), "w") as f:
        json.dump(meta or {"name": name, "min_clients": 1, "deploy_map": {"app": ["@ALL"]}}, f)
    for side in ("server", "client"):
        with open(os.path.join(job, "app", "config", f"config_fed_{side}.json"), "w") as f:
            json.dump({"format_version": 2, "workflows": [], "executors": [], "components": []}, f)
    for fname, size in files:
        with open(os.path.join(job, "app", "custom", fname), "wb") as f:
            for _ in range(size >> 20):
                f.write(bytes(1 << 20))
    startup = os.path.join(kit, "startup")
    subprocess.run([python, "-c",
                    "import sys; from nvflare.lighter.utils import sign_folders, load_private_key_file;"
                    "sign_folders(sys.argv[1], load_private_key_file(sys.argv[2]), sys.argv[3])",
                    job, os.path.join(startup, "client.key"), os.path.join(startup, "client.crt")], check=True)
    return job


def zip_job(job, out, extra_names=0, big="zeros.bin"):
    """Zips the job under its folder's name; `extra_names` more central
    directory entries all point at app/custom/BIG's one local entry, and
    the folder's signature file lists each under BIG's signature."""
    name = os.path.basename(job)
    custom = os.path.join(job, "app", "custom")
    if extra_names:
        sig_path = os.path.join(custom, ".__nvfl_sig.json")
        sigs = json.load(open(sig_path))
        for i in range(extra_names):
            sigs[f"z{i:05}"] = sigs[big]
        json.dump(sigs, open(sig_path, "w"))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for root, dirs, files in os.walk(job):
            rel = os.path.relpath(root, os.path.dirname(job))
            z.write(root, rel + "/")
            for f in sorted(files):
                z.write(os.path.join(root, f), os.path.join(rel, f))
        if extra_names:
            info = z.getinfo(f"{name}/app/custom/{big}")
            for i in range(extra_names):
                alias = copy.copy(info)
                alias.filename = f"{name}/app/custom/z{i:05}"
                z.filelist.append(alias)
                z.NameToInfo[alias.filename] = alias
    return out


procs = {}


def case(server_bin, server_kit, kit, port, work, run):
    """A fresh server on a fresh store; run(port) -> what the input got.
    Returns the figures."""
    store = os.path.join(work, "store")
    shutil.rmtree(store, ignore_errors=True)
    proc = subprocess.Popen([server_bin, "--kit", server_kit, "--store", store, "--port", str(port)],
                            stdout=subprocess.DEVNULL)
    procs[port] = proc.pid
    try:
        base.wait_port(port, proc)
        _, cpu0 = base.stats(proc.pid)
        t = time.time()
        got = run(port, store)
        wall = time.time() - t
        rss, cpu1 = base.stats(proc.pid)
        with open(f"/proc/{proc.pid}/status") as f:
            after = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    finally:
        base.stop(proc)
    return {"peak_rss_mib": round(rss, 1), "cpu_s": round(cpu1 - cpu0, 2), "wall_s": round(wall, 2),
            "result": got, "rss_after_mib": round(after, 1)}


def in_parallel(n, f):
    out = [None] * n
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, f())) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def transfer_files(store):
    d = os.path.join(store, ".transfer")
    return sum(len(files) for _, _, files in os.walk(d)) if os.path.isdir(d) else 0


def main():
    python, admin_bin = sys.argv[1:3]
    builds = dict(a.split("=", 1) for a in sys.argv[3:])
    work = tempfile.mkdtemp(prefix="admin-server-hostile-")
    results = {}
    try:
        port, server_kit, kit = base.prepare_poc(python, work)

        pad = lambda cmd, n: cmd + " a" * ((n - len(cmd)) // 2)  # noqa: E731
        overlap_job = signed_job(python, work, kit, "overlap", [("zeros.bin", 32 << 20)])
        overlap_zip = zip_job(overlap_job, os.path.join(work, "overlap.zip"), extra_names=64)
        keys = {f"k{i}": 0 for i in range(1_000_000)}
        meta_job = signed_job(python, work, kit, "bigmeta", [],
                              meta={"name": "m", "min_clients": 1, "deploy_map": {"app": ["@ALL"]}, "x": keys})
        meta_zip = zip_job(meta_job, os.path.join(work, "bigmeta.zip"))
        def many_entries(n):
            path = os.path.join(work, f"entries{n}.zip")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
                z.writestr(f"entries{n}/meta.json", json.dumps({"name": "m", "deploy_map": {"app": ["@ALL"]}}))
                for i in range(n - 1):
                    z.writestr(f"entries{n}/app/custom/f{i:06}", b"")
            return path

        entries_20k, entries_100k = many_entries(20_000), many_entries(100_000)
        overlap_big = zip_job(signed_job(python, work, kit, "overlap2", [("zeros.bin", 64 << 20)]),
                              os.path.join(work, "overlap2.zip"), extra_names=256)
        small_zip = zip_job(signed_job(python, work, kit, "small", [("w.bin", 1 << 20)]),
                            os.path.join(work, "small.zip"))

        def submit(p, zip_path):
            token = login(kit, p)
            return exchange(kit, p, meta=request(f"submit_job {os.path.basename(zip_path)[:-4]}", token),
                            body_path=zip_path)

        def staged(p, store):
            token = login(kit, p)
            job_id = json.loads(submit(p, small_zip))["meta"]["job_id"]
            for _ in range(3):
                t = login(kit, p)
                exchange(kit, p, text=request(f"download_job {job_id}", t))
                exchange(kit, p, text=request("_logout", t))
            after_logout = transfer_files(store)
            exchange(kit, p, text=request(f"delete_job {job_id}", token))
            return {"transfer_files_after_logouts": after_logout, "after_delete": transfer_files(store)}

        def meta_then_list(p, store):
            got = status(submit(p, meta_zip))[:40]
            token = login(kit, p)
            lists = in_parallel(4, lambda: status(exchange(kit, p, text=request("list_jobs", token)))[:2])
            return {"submit": got, "list_jobs_x4": lists}

        def held(n, size):
            """n connections at once, each `size` bytes into a request it
            never ends; the server's RSS while all are held."""
            def run(p, store):
                ctx = tls(kit)
                conns = []
                try:
                    for _ in range(n):
                        raw = socket.create_connection(("127.0.0.1", p), timeout=30)
                        s = ctx.wrap_socket(raw, server_hostname="localhost")
                        s.sendall(request(pad("check_status", size)).encode()[:size])
                        conns.append(s)
                    time.sleep(1)
                    with open(f"/proc/{procs[p]}/status") as f:
                        return next(line.split()[1] for line in f if line.startswith("VmRSS:")) + " kB held"
                finally:
                    for s in conns:
                        s.close()
            return run

        cases = {
            "10 MiB check_status before login": lambda p, s: status(
                exchange(kit, p, text=request(pad("check_status", 10 << 20)))),
            "4 x 10 MiB at once before login": lambda p, s: in_parallel(4, lambda: status(
                exchange(kit, p, text=request(pad("check_status", 10 << 20))))),
            "900 connections, each 60 KiB into a request": held(900, 60 << 10),
            "get_job_meta of a 10 MiB id": lambda p, s: status(
                exchange(kit, p, text=request("get_job_meta " + "x" * (10 << 20), login(kit, p)))),
            "zip: 64 names x one 32 MiB entry": lambda p, s: status(submit(p, overlap_zip)),
            "zip: 256 names x one 64 MiB entry": lambda p, s: status(submit(p, overlap_big)),
            "zip of 20,000 entries (the limit), one a meta.json": lambda p, s: status(submit(p, entries_20k)),
            "zip of 100,000 entries, one a meta.json": lambda p, s: status(submit(p, entries_100k)),
            "meta.json of 1,000,000 keys, then 4 list_jobs": meta_then_list,
            "3 sessions stage and log out, then delete_job": staged,
        }
        for name, run in cases.items():
            results[name] = {b: case(path, server_kit, kit, port, work, run) for b, path in builds.items()}

        # The 256 MiB submit with each build, interleaved.
        job = base.make_job(work, "submit-256", 256)
        times = {b: [] for b in builds}
        cmd = [admin_bin, "--kit", kit, "--host", "127.0.0.1", "--port", str(port), "--server-name", "localhost",
               "submit-job", job]
        for _ in range(3):
            for b, path in builds.items():
                times[b].append(case(path, server_kit, kit, port, work,
                                     lambda p, s: subprocess.run(cmd, capture_output=True, text=True,
                                                                 check=True).stdout.strip()[:40])["wall_s"])
        results["256 MiB submit (nvflare-admin), seconds"] = {
            b: {"median": sorted(t)[1], "rounds": t} for b, t in times.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
