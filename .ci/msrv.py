"""The declared rust-version holds for what a user of the library builds:
every package in the library's normal (non-dev) dependency closure, as
Cargo.lock resolves it, declares a rust-version no higher than the
library's own. Packages that declare none pass (cargo does not know better).

Checked for each tier-1 target of Rust 1.74 (and the build host): the
dependencies of targets that 1.74 cannot build for at all (wasm32-wasip2,
added in 1.78) need not build with 1.74.

Usage: python3 .ci/msrv.py
"""
import json, subprocess, sys

def host():
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("host: "))

def version(v):
    return tuple(int(x) for x in v.split("."))[:3] + (0,) * (3 - len(v.split(".")))

TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "i686-unknown-linux-gnu",
           "x86_64-apple-darwin", "x86_64-pc-windows-msvc", "i686-pc-windows-msvc",
           "x86_64-pc-windows-gnu", "i686-pc-windows-gnu"]

def check(target):
    args = ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", target]
    meta = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p for p in meta["packages"] if p["name"] == "nvflare-hci" and p["source"] is None)
    declared = root["rust_version"]
    seen, todo, bad = set(), [root["id"]], []
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    for pid in sorted(seen - {root["id"]}):
        p = packages[pid]
        rv = p.get("rust_version")
        if rv and version(rv) > version(declared):
            bad.append(f"{p['name']} {p['version']} needs Rust {rv}")
    print(f"{target}: rust-version {declared}, {len(seen) - 1} packages in the library's dependency closure")
    for b in bad:
        print("  too new:", b)
    return not bad

results = [check(t) for t in dict.fromkeys(TARGETS + [host()])]
sys.exit(0 if all(results) else 1)
