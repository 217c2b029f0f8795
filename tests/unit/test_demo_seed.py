"""What `maild demo` seeds: the shipped marketplace cases, and real mail with or without corpora."""

from email import message_from_bytes
from pathlib import Path

from maild.demo.corpus import QUOTAS, corpus_messages
from maild.demo.seed import MAILBOXES, seed_messages


def test_without_the_corpora_folder_the_shipped_sample_stands_in(tmp_path: Path) -> None:
    for corpora in (None, tmp_path / "no-such-folder"):
        messages, origin = corpus_messages(corpora)
        assert origin == "maild's sample"
        assert 0 < len(messages) <= sum(QUOTAS.values())
        assert all(message_from_bytes(raw)["Subject"] for raw in messages)


def test_every_marketplace_case_goes_to_its_mailbox_and_the_corpus_to_the_first() -> None:
    seed = seed_messages(None)
    assert set(seed.messages) == set(MAILBOXES)
    subjects = {
        name: [str(message_from_bytes(raw)["Subject"]) for raw in raws]
        for name, raws in seed.messages.items()
    }
    assert len(subjects["douyin-shop"]) == 3
    walmart = subjects["walmart-us"]
    assert len(walmart) == 8 + seed.corpus
    assert any(s.startswith("Customer Care:") for s in walmart)
    assert any(s.startswith("Automatic reply:") for s in walmart)
    assert seed.total == seed.marketplace + seed.corpus == 11 + seed.corpus
