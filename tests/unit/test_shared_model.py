"""The model maild checks at start is the copy the process then classifies with."""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from maild.classify.default import DEFAULT_MODEL
from maild.classify.model import load_model, save_model
from maild.classify.shared import shared_model
from maild.config import load_config
from maild.domain import LandedMessage
from maild.ingest.rules import MailboxRules, rules_for
from maild.ingest.workers import parse_batch
from tests.support.mailgen import make_message

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped model built")

_CONFIG = """\
[database]
url = "sqlite:///{folder}/maild.db"

[mailboxes.shop]
address = "support@shop.example"
classifier_model = "{model}"

[mailboxes.shop.imap]
host = "127.0.0.1"
username = "shop"
password_env = "MAILD_TEST_SHOP_PASSWORD"
security = "none"
"""


def _write_model(path: Path, version: str) -> None:
    save_model(dataclasses.replace(load_model(DEFAULT_MODEL), version=version), path)


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILD_TEST_SHOP_PASSWORD", "unused")


def _rules(folder: Path, model: Path) -> MailboxRules:
    config = folder / "maild.toml"
    config.write_text(_CONFIG.format(folder=folder, model=model))
    return rules_for(load_config(config))["shop"]


def _rules_model(folder: Path, model: Path) -> str | None:
    return _rules(folder, model).model


def test_the_model_checked_at_start_is_shared_without_reading_its_file_again(
    tmp_path: Path,
) -> None:
    model = tmp_path / "mine.npz"
    _write_model(model, "mine-1")
    path = _rules_model(tmp_path, model)
    assert path is not None
    model.unlink()  # a second read would now fail: what is shared is what was checked
    assert shared_model(path).version == "mine-1"


def test_a_reload_that_checks_a_replaced_model_file_shares_the_new_model(tmp_path: Path) -> None:
    model = tmp_path / "mine.npz"
    _write_model(model, "mine-1")
    path = _rules_model(tmp_path, model)
    assert path is not None
    assert shared_model(path).version == "mine-1"
    _write_model(model, "mine-2")
    assert _rules_model(tmp_path, model) == path
    assert shared_model(path).version == "mine-2"


def test_a_worker_running_through_a_reload_classifies_with_the_model_checked_on_reload(
    tmp_path: Path,
) -> None:
    model = tmp_path / "mine.npz"
    _write_model(model, "mine-1")
    mail = [LandedMessage(1, "shop", "in", make_message(0, seed=40))]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as worker:
        before = _rules(tmp_path, model)
        [first] = worker.submit(parse_batch, mail, {"shop": before}).result()
        _write_model(model, "mine-2")  # retrained in place, then maild reloads
        after = _rules(tmp_path, model)
        [second] = worker.submit(parse_batch, mail, {"shop": after}).result()
    assert first.verdict is not None and first.verdict.model_version == "mine-1"
    assert second.verdict is not None and second.verdict.model_version == "mine-2"
