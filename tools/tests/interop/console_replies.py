"""NVFlare 2.6.3's own client's replies to command lines, for comparing the
admin console's answers with NVFlare's.

Usage: console_replies.py ADMIN_KIT LINE...

Logs in with flare_api, runs each LINE through the client's AdminAPI as
NVFlare's console runs it (parse_command_line: quotes, `#` props), and
prints one JSON line per LINE: the reply's data items (`data`) and, for
the commands the client answers itself, its text (`details`).
"""

import json
import sys


def main(kit, lines):
    from nvflare.fuel.flare_api.flare_api import new_secure_session
    from nvflare.fuel.hci.cmd_arg_utils import parse_command_line

    with open(f"{kit}/startup/fed_admin.json") as f:
        username = json.load(f)["admin"]["username"]
    session = new_secure_session(username, kit, timeout=60)
    try:
        for text in lines:
            line, _, props = parse_command_line(text)
            reply = session.api.do_command(line, props=props)
            details = reply.get("details")
            print(json.dumps({"data": reply.get("data"), "details": details if isinstance(details, str) else None}))
    finally:
        session.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
