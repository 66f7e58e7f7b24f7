"""NVFlare 2.6.3's own admin client (flare_api), driven by a script of steps,
for nvflare-admin-server's tests.

Usage: admin_server_client.py STEPS_JSON   prints the results, one JSON list

Steps (a list of objects):
  {"op": "login", "s": NAME, "kit": ADMIN_KIT, "user": USER}   new_secure_session
  {"op": "call", "s": NAME, "method": M, "args": [...], "kwargs": {...}}
        a flare_api Session method; the result, or {"error": EXCEPTION, "message": ...}
  {"op": "raw", "s": NAME, "command": CMD}   sends CMD as is (no client command)
  {"op": "token", "s": NAME, "from": OTHER}  NAME sends OTHER's token from now on
  {"op": "sleep", "secs": N}
  {"op": "parallel", "kit": ADMIN_KIT, "user": USER, "n": N, "job": PREFIX}
        N sessions at once; session i logs in, submits PREFIX{i} and lists jobs
"""

import json
import sys
import threading
import time


def _error(e):
    return {"error": type(e).__name__, "message": str(e)}


def login(kit, user):
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    return new_secure_session(user, kit, timeout=15)


def run(steps):
    sessions = {}
    results = []
    for step in steps:
        op = step["op"]
        try:
            if op == "login":
                sessions[step["s"]] = login(step["kit"], step["user"])
                results.append("ok")
            elif op == "call":
                s = sessions[step["s"]]
                out = getattr(s, step["method"])(*step.get("args", []), **step.get("kwargs", {}))
                results.append(json.loads(json.dumps(out, default=str)))
            elif op == "raw":
                api = sessions[step["s"]].api
                results.append(json.loads(json.dumps(api.server_execute(step["command"]), default=str)))
            elif op == "token":
                sessions[step["s"]].api.token = sessions[step["from"]].api.token
                results.append("ok")
            elif op == "sleep":
                time.sleep(step["secs"])
                results.append("ok")
            elif op == "parallel":
                results.append(parallel(step))
            else:
                raise ValueError(f"unknown op {op}")
        except Exception as e:  # the test decides
            results.append(_error(e))
    for s in sessions.values():
        try:
            s.close()
        except Exception:
            pass
    return results


def parallel(step):
    out = [None] * step["n"]
    start = threading.Barrier(step["n"])

    def one(i):
        try:
            start.wait()
            s = login(step["kit"], step["user"])
            try:
                job_id = s.submit_job(step["job"] + str(i))
                ids = [j["job_id"] for j in s.list_jobs()]
                out[i] = {"job_id": job_id, "listed": job_id in ids}
            finally:
                s.close()
        except Exception as e:
            out[i] = _error(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(step["n"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
