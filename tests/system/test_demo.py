"""`maild demo` as a newcomer runs it: every item of the tour shows, and nothing is left over.

The tour runs the real thing (Dovecot, the SMTP sink, the daemon and a dozen maild
commands), hence about a minute: it is the only test of the README's first command.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

SERVERS = re.compile(r"IMAP on 127\.0\.0\.1:(\d+), SMTP sink on 127\.0\.0\.1:(\d+)")


def demo(*args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, "-m", "maild", "demo", *args],
        stdin=subprocess.DEVNULL,  # not a terminal: the tour ends by itself
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def assert_all_gone(output: str) -> None:
    directory = re.search(r"demo files in (\S+)", output)
    servers = SERVERS.search(output)
    assert directory and servers, output
    assert not Path(directory.group(1)).exists()
    assert not any(listening(int(port)) for port in servers.groups())


def section(output: str, title: str) -> str:
    """The lines under one '== title' heading of the tour."""
    found = re.search(rf"^== {re.escape(title)}.*?\n(.*?)(?=^== |\Z)", output, re.M | re.S)
    assert found, f"no section {title!r} in:\n{output}"
    return found.group(1)


def test_demo_shows_every_item_of_the_tour_and_cleans_up(tmp_path: Path) -> None:
    # As on a fresh clone: no ../shared/corpora, so the sample shipped with maild is used.
    process = demo("--corpora", str(tmp_path / "no-corpora"))
    output, _ = process.communicate(timeout=240)
    assert process.returncode == 0, output
    assert re.search(r"^\[4/4\] waiting for maild", output, re.M)
    seeded = r"seeding \d+ messages: 11 marketplace messages and [1-9]\d* real ones from maild's"
    assert re.search(seeded, output)

    table = section(output, "Conversations")
    for order in ("2000123456789", "2000555666777", "6912345678901234567", "6921000000000000001"):
        assert re.search(rf"^\s+\d+\*?\s+\S+\s+{order}\s", table, re.M), order
    assert "no-reply-needed" in table  # the corpus's list mail: nobody waits for an answer
    # Emma's question arrived 50 hours ago: past Walmart's 48 hours.
    assert re.search(r"Emma Smith .* response-needed\s+2d2h\s+OVERDUE", table)

    flagged = section(output, "Flagged messages")
    assert "flagged <demo-dy-spam@coupon-center.example> as spam" in flagged
    for subject in ("Get 10,000 new customers", "Urgent: your seller account", "you people"):
        assert subject in flagged, subject
    assert "Olivia Brown" in section(output, "Customer Care")

    blocked = section(output, "A reply blocked")
    for rule in ("external-link:", "contact-info:", "marketing:"):
        assert rule in blocked, rule
    assert "(exit code 1: nothing was queued)" in blocked

    accepted = section(output, "An accepted reply")
    assert "delivered to the SMTP sink: from support@shop.example to b7k2m9q4x1@relay" in accepted
    assert "In-Reply-To: <demo-wm-1@relay.walmart.com>" in accepted
    assert re.search(r"^\s+\d+ sent\s+walmart-us ", accepted, re.M)

    metrics = section(output, "Metrics")
    assert re.search(r"metrics URL: http://127\.0\.0\.1:\d+/metrics", metrics)
    assert "maild_outbound_sent_total" in metrics
    assert_all_gone(output)


def test_ctrl_c_while_the_daemon_works_stops_everything_and_removes_the_files() -> None:
    process = demo("--keep")
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "[3/4]" not in seen:
        line = process.stdout.readline()
        assert line and time.monotonic() < deadline, seen
        seen += line
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does to the terminal's process group
    rest, _ = process.communicate(timeout=60)
    output = seen + rest
    assert process.returncode == 130, output
    assert "maild demo: stopped" in output
    assert_all_gone(output)
