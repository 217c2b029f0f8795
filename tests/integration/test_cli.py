"""The maild command: exit codes, config discovery and never a secret on screen."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maild.cli import EX_CONFIG, EX_PROBLEMS, config_path, main

EXAMPLE = Path(__file__).parents[2] / "config" / "maild.example.toml"
SECRET = "Sup3r-Secret-Hunter2"

THREE_MISTAKES = """\
[database]
url = "sqlite:///{db}"

[mailboxes.walmart-us]
address = "support@shop.example"

[mailboxes.walmart-us.imap]
host = "imap.example.com"
port = "993x"
username = "support@shop.example"
password_env = "MAILD_TEST_UNSET_PASSWORD"
pasword = "oops"
"""

UNREACHABLE = """\
[database]
url = "sqlite:///{db}"

[mailboxes.walmart-us]
address = "support@shop.example"

[mailboxes.walmart-us.imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "support@shop.example"
password_env = "MAILD_TEST_PASSWORD"
"""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILD_CONFIG", raising=False)
    monkeypatch.delenv("MAILD_TEST_UNSET_PASSWORD", raising=False)
    monkeypatch.setenv("MAILD_TEST_PASSWORD", SECRET)
    monkeypatch.setenv("MAILD_WALMART_US_PASSWORD", SECRET)
    monkeypatch.setenv("MAILD_AMAZON_EU_PASSWORD", SECRET + "-eu")


def write(tmp_path: Path, template: str, **values: object) -> Path:
    path = tmp_path / "maild.toml"
    path.write_text(template.format(db=tmp_path / "maild.db", **values))
    return path


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_check_config_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(EXAMPLE), "check-config"]) == 0
    out, err = capsys.readouterr()
    assert "ok (2 mailboxes)" in out
    assert SECRET not in out + err


def test_check_config_lists_all_three_mistakes_with_path_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, THREE_MISTAKES)
    assert main(["--config", str(path), "check-config"]) == EX_PROBLEMS
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == [
        f"{path}:9: mailboxes.walmart-us.imap.port: expected an integer, got string '993x'",
        f"{path}:11: mailboxes.walmart-us.imap.password_env: "
        "environment variable MAILD_TEST_UNSET_PASSWORD is not set",
        f"{path}:12: mailboxes.walmart-us.imap.pasword: "
        "unknown key 'pasword' (did you mean 'password_env'?)",
    ]
    assert lines[3] == "maild: 3 configuration problems"


def test_run_with_an_invalid_config_exits_78_before_touching_anything(tmp_path: Path) -> None:
    path = write(tmp_path, THREE_MISTAKES)
    assert main(["--config", str(path), "run", "--once"]) == EX_CONFIG
    assert not (tmp_path / "maild.db").exists()


def test_secret_never_reaches_the_screen_even_in_debug_logs_of_a_failed_run(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, UNREACHABLE, port=closed_port())
    code = main(["--config", str(path), "--log-level", "debug", "run", "--once"])
    out, err = capfd.readouterr()
    assert code == EX_PROBLEMS
    assert "walmart-us: FAILED" in out
    assert SECRET not in out + err


def test_failed_sync_is_recorded_for_stats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, UNREACHABLE, port=closed_port())
    main(["--config", str(path), "run", "--once"])
    capsys.readouterr()
    assert main(["--config", str(path), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    folder = stats["mailboxes"]["walmart-us"]["folders"]["INBOX"]
    assert stats["messages"] == 0
    assert folder["last_sync"] is None
    assert "connect failed" in folder["last_error"]


def test_config_is_found_by_flag_then_environment_then_working_directory(tmp_path: Path) -> None:
    assert config_path("given.toml", {"MAILD_CONFIG": "env.toml"}) == Path("given.toml")
    assert config_path(None, {"MAILD_CONFIG": "env.toml"}) == Path("env.toml")
    assert config_path(None, {}) == Path("/etc/maild/maild.toml")
    (tmp_path / "maild.toml").write_text("")
    assert config_path(None, {}) == Path("maild.toml")


def test_missing_config_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "nowhere.toml", "check-config"]) == EX_PROBLEMS
    assert "nowhere.toml: cannot read the file" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["check-config"], ["run"], ["stats"]])
def test_every_command_has_help(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "maild", *command, "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "usage: maild" in done.stdout


def test_unknown_command_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "maild", "frobnicate"], capture_output=True)
    assert done.returncode == 2
