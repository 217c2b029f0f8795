"""What `maild demo` seeds: the shipped marketplace cases, and real mail with or without corpora."""

import gzip
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from pathlib import Path

from maild.demo.corpus import QUOTAS, corpus_messages
from maild.demo.seed import MAILBOXES, seed_messages
from tests.support.wheel_layout import run_in_wheel_layout

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_shipped_cases_arrived_hours_ago_and_their_date_header_says_so() -> None:
    walmart = seed_messages(None, NOW).messages["walmart-us"]
    shipped = [m for m in walmart if m.received is not None]
    assert len(shipped) == 8
    for message in shipped:
        date = parsedate_to_datetime(str(message_from_bytes(message.raw)["Date"]))
        assert date == message.received
        assert NOW - timedelta(hours=72) < date < NOW
    # One past Walmart's 48 hours, so the table shows an overdue conversation.
    assert min(m.received for m in shipped if m.received) <= NOW - timedelta(hours=48)


def test_without_the_corpora_folder_the_shipped_sample_stands_in(tmp_path: Path) -> None:
    for corpora in (None, tmp_path / "no-such-folder"):
        messages, origin = corpus_messages(corpora)
        assert origin == "maild's sample"
        assert 0 < len(messages) <= sum(QUOTAS.values())
        assert all(message_from_bytes(raw)["Subject"] for raw in messages)


def test_every_marketplace_case_goes_to_its_mailbox_and_the_corpus_to_the_first() -> None:
    seed = seed_messages(None, NOW)
    assert set(seed.messages) == set(MAILBOXES)
    subjects = {
        name: [str(message_from_bytes(m.raw)["Subject"]) for m in messages]
        for name, messages in seed.messages.items()
    }
    assert len(subjects["douyin-shop"]) == 3
    walmart = subjects["walmart-us"]
    assert len(walmart) == 8 + seed.corpus
    assert any(s.startswith("Customer Care:") for s in walmart)
    assert any(s.startswith("Automatic reply:") for s in walmart)
    assert seed.total == seed.marketplace + seed.corpus == 11 + seed.corpus


def test_from_a_corpora_folder_only_the_allowed_sets_are_taken_up_to_their_quotas(
    tmp_path: Path,
) -> None:
    def record(source: str, n: int) -> dict[str, str]:
        return {"source": source, "label": "x", "raw": f"Subject: {source} {n}\n\nbody\n"}

    sources = ["trec06c-subset", "telecom-fraud-zh/label01", *QUOTAS]
    records = [record(source, n) for n in range(20) for source in sources]
    records.append({"source": "spamassassin/spam-2", "label": "spam", "body": "text only"})
    with gzip.open(tmp_path / "dev.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)

    messages, origin = corpus_messages(tmp_path)

    assert origin == str(tmp_path / "dev.jsonl.gz")
    taken = [str(message_from_bytes(raw)["Subject"]).rsplit(" ", 1)[0] for raw in messages]
    assert Counter(taken) == Counter(QUOTAS)


def test_installed_maild_seeds_from_its_package_and_says_the_demo_needs_a_checkout(
    tmp_path: Path,
) -> None:
    probe = (
        # The venv's editable install puts the checkout, tests/ included, on sys.path.
        "import sys\n"
        "sys.modules['tests'] = None\n"
        "from datetime import UTC, datetime\n"
        "from maild.cli import main\n"
        "from maild.demo.seed import seed_messages\n"
        "seed = seed_messages(None, datetime.now(UTC))\n"
        "print(seed.marketplace, seed.corpus_origin)\n"
        "print('exit', main(['demo', '--no-keep']))\n"
    )
    _, printed = run_in_wheel_layout(tmp_path, probe)
    lines = printed.splitlines()
    assert (lines[0], lines[-1]) == ("11 maild's sample", "exit 1")
