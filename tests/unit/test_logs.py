"""No secret reaches a log line, whatever code path produced it."""

import logging
from collections.abc import Iterator

import pytest

from maild.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_registered_secret_is_masked_in_messages_arguments_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    redactor = configure_logging("DEBUG")
    redactor.register("hunter2-very-secret")
    log = logging.getLogger("maild.test")
    log.info("login user=a password=%s", "hunter2-very-secret")
    try:
        raise RuntimeError("server echoed hunter2-very-secret back")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert "hunter2-very-secret" not in err
    assert "password=********" in err
    assert "server echoed ******** back" in err


@pytest.mark.parametrize(
    "line",
    ["token=abc123", "Authorization: Bearer-xyz", "AUTHENTICATE XOAUTH2 dXNlcj1h"],
)
def test_credential_looking_fields_are_masked(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")
    logging.getLogger("maild.test").info("sent %s", line)
    err = capsys.readouterr().err
    assert "********" in err
    assert line.split()[-1].split("=")[-1] not in err
