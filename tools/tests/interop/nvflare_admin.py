"""NVFlare 2.6.3's own admin tools, for the admin console's tests.

Usage:
  nvflare_admin.py list-jobs ADMIN_KIT     flare_api session: the job ids, as JSON
  nvflare_admin.py verify FOLDER ROOT_CA   verify_folder_signature: true or false
"""

import json
import sys


def list_jobs(kit):
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    with open(f"{kit}/startup/fed_admin.json") as f:
        username = json.load(f)["admin"]["username"]
    session = new_secure_session(username, kit, timeout=60)
    try:
        jobs = session.list_jobs()
    finally:
        session.close()
    return [job["job_id"] for job in jobs]


def verify(folder, root_ca):
    from nvflare.lighter.utils import verify_folder_signature

    return verify_folder_signature(folder, root_ca)


if __name__ == "__main__":
    command = {"list-jobs": list_jobs, "verify": verify}[sys.argv[1]]
    print(json.dumps(command(*sys.argv[2:])))
