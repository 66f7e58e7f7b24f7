"""hci over mutual TLS against the bare rustls loop, interleaved in one run.

Each round runs, in an order that rotates from round to round:
- tls_loop: the bare rustls StreamOwned loop (tools/examples/tls_loop.rs),
  and the same loop with a 1 MiB BufReader under rustls, and over plain TCP;
- `hci demo --tls` and `hci demo` (upload and download speeds as printed);
- `hci serve` and an `hci upload`, then an `hci download`, as separate
  processes, over TLS and over plain TCP: the CPU seconds of the sending
  and of the receiving process (from wait4), per GiB moved.
Dirty pages are written out (sync) before each run. Prints every round,
then medians, and paired ratios (the median of the ratios of figures taken
in the same round).

With OTHER_HCI (another build of `hci`, say the one before a change), its
`hci demo --tls` and TLS process transfers run in the same rounds, and the
ratios of the two builds are printed too.

Usage: python3 tls_speed.py HCI TLS_LOOP CERT_DIR SOURCE WORK_DIR ROUNDS [OTHER_HCI]
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import time

hci, tls_loop, certs, source, work, rounds = sys.argv[1:7]
rounds = int(rounds)
other = sys.argv[7] if len(sys.argv) > 7 else None
size = os.path.getsize(source)
gib = size / (1 << 30)
mib = size / (1 << 20)


def pem(name):
    return os.path.join(certs, name)


server_tls = ["--tls-cert", pem("server.pem"), "--tls-key", pem("server.key"), "--tls-ca", pem("ca.pem")]
client_tls = ["--tls-cert", pem("client.pem"), "--tls-key", pem("client.key"), "--tls-ca", pem("ca.pem"),
              "--server-name", "localhost"]


def loop(*flags):
    out = subprocess.run([tls_loop, certs, source, work, *flags], check=True,
                         capture_output=True, text=True).stdout
    f = dict(kv.split("=") for kv in out.split())
    return {"speed": float(f["mib_per_s"]), "send_cpu": float(f["sender_cpu"]) / gib,
            "recv_cpu": float(f["receiver_cpu"]) / gib}


def demo(*flags, binary=None):
    out = subprocess.run([binary or hci, "demo", "--size", str(size), *flags], check=True,
                         capture_output=True, text=True).stdout
    speeds = dict(re.findall(r"^(upload|download):.*= ([0-9.]+) MiB/s", out, re.M))
    return {"up": float(speeds["upload"]), "down": float(speeds["download"])}


def cpu(ru):
    return ru.ru_utime + ru.ru_stime


def pair(tls, direction, binary=None):
    """One transfer between an `hci serve` and a client process: each side's CPU per GiB."""
    hci_bin = binary or hci
    served = os.path.join(work, "served")
    os.makedirs(served, exist_ok=True)
    for name in os.listdir(served):
        if not name.startswith("."):
            os.remove(os.path.join(served, name))
    if direction == "down":
        os.link(source, os.path.join(served, "blob"))
    server = subprocess.Popen([hci_bin, "serve", "--listen", "127.0.0.1:0", "--dir", served,
                               *(server_tls if tls else [])], stdout=subprocess.PIPE, text=True)
    try:
        addr = server.stdout.readline().strip().removeprefix("listening on ")
        client_args = ["--connect", addr, *(client_tls if tls else [])]
        if direction == "up":
            args = [hci_bin, "upload", *client_args, source]
        else:
            args = [hci_bin, "download", *client_args, "blob", "--out", os.path.join(work, "back.bin")]
        started = time.perf_counter()
        client = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        _, status, client_ru = os.wait4(client.pid, 0)
        secs = time.perf_counter() - started
        client.returncode = os.waitstatus_to_exitcode(status)
        if client.returncode != 0:
            raise SystemExit(f"{args} exited {client.returncode}")
    finally:
        server.send_signal(signal.SIGTERM)
        _, _, server_ru = os.wait4(server.pid, 0)
        server.returncode = 0
        server.stdout.close()
    if direction == "up":
        sender, receiver = client_ru, server_ru
    else:
        sender, receiver = server_ru, client_ru
        os.remove(os.path.join(work, "back.bin"))
    return {"speed": mib / secs, "send_cpu": cpu(sender) / gib, "recv_cpu": cpu(receiver) / gib}


runs = {
    "loop_tls": lambda: loop(),
    "loop_tls_bufread": lambda: loop("--bufread"),
    "loop_plain": lambda: loop("--plain"),
    "demo_tls": lambda: demo("--tls"),
    "demo_plain": lambda: demo(),
    "procs_tls_up": lambda: pair(True, "up"),
    "procs_tls_down": lambda: pair(True, "down"),
    "procs_plain_up": lambda: pair(False, "up"),
    "procs_plain_down": lambda: pair(False, "down"),
}
if other:
    runs["other_demo_tls"] = lambda: demo("--tls", binary=other)
    runs["other_procs_tls_up"] = lambda: pair(True, "up", binary=other)
    runs["other_procs_tls_down"] = lambda: pair(True, "down", binary=other)
names = list(runs)
results = {name: [] for name in names}
print(f"{size} bytes, {rounds} rounds, load average {os.getloadavg()[0]:.2f} at the start")
for r in range(rounds):
    order = names[r % len(names):] + names[:r % len(names)]
    for name in order:
        # The files the runs before wrote go to disk first: writeback of
        # earlier runs' files would slow whichever run it fell in.
        os.sync()
        results[name].append(runs[name]())
    line = " ".join(
        f"{n}=" + "/".join(f"{v:.1f}" if k in ("speed", "up", "down") else f"{v:.2f}"
                           for k, v in results[n][-1].items()) for n in names)
    print(f"round {r + 1}: {line}", flush=True)
print(f"load average {os.getloadavg()[0]:.2f} at the end")


def med(name, key):
    return statistics.median(x[key] for x in results[name])


def ratio(a, ka, b, kb):
    return statistics.median(x[ka] / y[kb] for x, y in zip(results[a], results[b]))


print()
print("| what | MiB/s (median) | CPU s/GiB sender | CPU s/GiB receiver |")
print("| --- | --- | --- | --- |")
for name, label in [("loop_tls", "bare rustls loop, StreamOwned (one process, two threads)"),
                    ("loop_tls_bufread", "... with a 1 MiB BufReader under rustls"),
                    ("loop_plain", "bare loop over plain TCP")]:
    print(f"| {label} | {med(name, 'speed'):.1f} | {med(name, 'send_cpu'):.2f} | {med(name, 'recv_cpu'):.2f} |")
for name, label in [("demo_tls", "`hci demo --tls`"), ("demo_plain", "`hci demo`")]:
    print(f"| {label} | up {med(name, 'up'):.1f}, down {med(name, 'down'):.1f} | | |")
for name, label in [("procs_tls_up", "`hci upload` → `hci serve`, TLS (processes)"),
                    ("procs_tls_down", "`hci download` ← `hci serve`, TLS"),
                    ("procs_plain_up", "`hci upload` → `hci serve`, plain TCP"),
                    ("procs_plain_down", "`hci download` ← `hci serve`, plain TCP")]:
    print(f"| {label} | {med(name, 'speed'):.1f} | {med(name, 'send_cpu'):.2f} | {med(name, 'recv_cpu'):.2f} |")
if other:
    print(f"| OTHER_HCI `hci demo --tls` | up {med('other_demo_tls', 'up'):.1f}, down {med('other_demo_tls', 'down'):.1f} | | |")
    for name, label in [("other_procs_tls_up", "OTHER_HCI upload, TLS (processes)"),
                        ("other_procs_tls_down", "OTHER_HCI download, TLS")]:
        print(f"| {label} | {med(name, 'speed'):.1f} | {med(name, 'send_cpu'):.2f} | {med(name, 'recv_cpu'):.2f} |")
print()
print("Paired ratios (median over rounds of the ratio within a round):")
for label, a, ka, b, kb in [
    ("hci demo --tls upload / bare rustls loop", "demo_tls", "up", "loop_tls", "speed"),
    ("hci demo --tls download / bare rustls loop", "demo_tls", "down", "loop_tls", "speed"),
    ("hci demo --tls upload / bare loop with BufReader", "demo_tls", "up", "loop_tls_bufread", "speed"),
    ("hci demo --tls download / bare loop with BufReader", "demo_tls", "down", "loop_tls_bufread", "speed"),
    ("hci demo --tls upload / hci demo upload", "demo_tls", "up", "demo_plain", "up"),
    ("hci demo --tls download / hci demo download", "demo_tls", "down", "demo_plain", "down"),
    ("bare rustls loop / bare plain loop", "loop_tls", "speed", "loop_plain", "speed"),
]:
    print(f"- {label}: {ratio(a, ka, b, kb):.2f}")
if other:
    for label, a, ka, b, kb in [
        ("HCI / OTHER_HCI, demo --tls upload", "demo_tls", "up", "other_demo_tls", "up"),
        ("HCI / OTHER_HCI, demo --tls download", "demo_tls", "down", "other_demo_tls", "down"),
        ("HCI / OTHER_HCI, TLS upload, sender CPU", "procs_tls_up", "send_cpu", "other_procs_tls_up", "send_cpu"),
        ("HCI / OTHER_HCI, TLS upload, receiver CPU", "procs_tls_up", "recv_cpu", "other_procs_tls_up", "recv_cpu"),
        ("HCI / OTHER_HCI, TLS download, sender CPU", "procs_tls_down", "send_cpu", "other_procs_tls_down", "send_cpu"),
        ("HCI / OTHER_HCI, TLS download, receiver CPU", "procs_tls_down", "recv_cpu", "other_procs_tls_down", "recv_cpu"),
    ]:
        print(f"- {label}: {ratio(a, ka, b, kb):.2f}")
