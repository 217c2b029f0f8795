"""maild's main job, for real, against a throwaway local Dovecot seeded with sample mail.

Run by ``scripts/demo`` after it has installed Dovecot and the virtualenv. Every
maild command it runs is printed first, so it can be repeated by hand while
the server is up (add --keep to leave it running until Enter is pressed).
"""

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.dovecot import DovecotServer
from tests.support.mailgen import make_messages

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
MAILD = ROOT / ".venv" / "bin" / "maild"

CONFIG = """\
# Written by scripts/demo: one mailbox on a throwaway Dovecot on loopback.
[database]
url = "sqlite:///{db}"

[metrics]
listen = "127.0.0.1:0"

[mailboxes.demo-shop]
address = "support@shop.example"
preset = "amazon"

[mailboxes.demo-shop.imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{username}"
password_file = "imap.password"
folders = ["INBOX"]
"""


def maild(*args: str) -> int:
    command = [str(MAILD), "--config", str(DEMO / "maild.toml"), *args]
    print(f"\n$ {shlex.join(command)}", flush=True)
    return subprocess.run(command, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300, help="sample messages to seed")
    parser.add_argument("--keep", action="store_true", help="keep the server up until Enter")
    args = parser.parse_args()

    DEMO.mkdir(exist_ok=True)
    for stale in DEMO.glob("maild.db*"):
        stale.unlink()
    server = DovecotServer()
    server.start()
    try:
        account = server.new_account()
        seeded = account.deliver(make_messages(args.messages, seed=2026))
        print(f"Dovecot on 127.0.0.1:{account.port}: {account.username} has {seeded} messages")
        password = DEMO / "imap.password"
        password.touch(mode=0o600)
        password.write_text(account.password + "\n")
        (DEMO / "maild.toml").write_text(
            CONFIG.format(db=DEMO / "maild.db", port=account.port, username=account.username)
        )
        codes = [maild("check-config"), maild("run", "--once"), maild("run", "--once")]
        codes.append(maild("stats"))
        # The conversations by order, longest wait first, with Amazon's 24-hour clock.
        codes.append(maild("threads", "--view", "response-needed", "--limit", "8"))
        if args.keep:
            input("\nThe server is up; press Enter to stop it. ")
    finally:
        server.cleanup()
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
