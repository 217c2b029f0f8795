"""``maild sla due`` end to end through ``maild.cli.main``: no config needed, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maild.cli import EX_OK, EX_PROBLEMS, EX_USAGE, main

RECEIVED = "2026-03-02T20:00:00+08:00"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sla", "due", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def broken_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A maild.toml that cannot load, where the CLI would look: sla due must not care."""
    broken = tmp_path / "maild.toml"
    broken.write_text("[mailboxes\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAILD_CONFIG", str(broken))


def test_issue_example_prints_the_due_time_with_its_offset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys,
        "--received",
        RECEIVED,
        "--hours",
        "12",
        "--window",
        "09:00-21:00",
        "--tz",
        "Asia/Shanghai",
    )

    assert (code, out, err) == (EX_OK, "2026-03-03T20:00:00+08:00\n", "")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--hours", "12"], "2026-03-03T08:00:00+08:00"),  # no window: the wall clock
        (["--hours", "12", "--window", "09:00-21:00"], "2026-03-03T20:00:00+08:00"),
        (["--hours", "1.5", "--window", "09:00-12:00,13:30-21:00"], "2026-03-03T09:30:00+08:00"),
        (
            ["--hours", "4", "--window", "13:30-21:00", "--window", "09:00-12:00"],
            "2026-03-03T12:00:00+08:00",
        ),
    ],
    ids=["wall clock", "window in the offset of --received", "split shift", "repeated window"],
)
def test_hours_print_just_the_time(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, _ = run(capsys, "--received", RECEIVED, *argv)

    assert (code, out) == (EX_OK, expected + "\n")


def test_due_time_is_printed_in_the_offset_of_received(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("--hours", "12", "--window", "09:00-21:00", "--tz", "Asia/Shanghai")
    code, out, _ = run(capsys, "--received", "2026-03-02T12:00:00Z", *argv)

    assert (code, out) == (EX_OK, "2026-03-03T12:00:00+00:00\n")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--policy", "douyin"], "platform: 2026-03-04T20:00:00+08:00\n"),
        (["--policy", "douyin", "--kind", "urgent"], "platform: 2026-03-03T10:00:00+08:00\n"),
        (["--policy", "walmart"], "platform: 2026-03-04T20:00:00+08:00\n"),
        (
            ["--policy", "walmart", "--kind", "customer-care", "--kind", "escalated"],
            "platform: 2026-03-02T21:00:00+08:00\n",
        ),
        (["--policy", "amazon"], "platform: 2026-03-03T20:00:00+08:00\n"),
    ],
)
def test_policy_prints_one_line_per_clock(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, _ = run(capsys, "--received", RECEIVED, *argv)

    assert (code, out) == (EX_OK, expected)


def test_policy_file_with_an_internal_clock_prints_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "team.toml"
    path.write_text(
        'extends = "walmart"\n[internal.allowances]\ndefault = "4h"\n'
        '[internal.calendar]\ntimezone = "Asia/Shanghai"\nhours = ["09:00-18:00"]\n',
        encoding="utf-8",
    )

    code, out, _ = run(capsys, "--received", RECEIVED, "--policy", str(path))

    assert code == EX_OK
    assert out == "platform: 2026-03-04T20:00:00+08:00\ninternal: 2026-03-03T13:00:00+08:00\n"


def test_json_names_each_clock_and_the_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "team.toml"
    path.write_text(
        'extends = "douyin"\n[internal.allowances]\ndefault = "30m"\n', encoding="utf-8"
    )

    code, out, _ = run(capsys, "--received", RECEIVED, "--policy", str(path), "--json")

    assert code == EX_OK
    assert json.loads(out) == {
        "received": RECEIVED,
        "policy": str(path),
        "kinds": [],
        "first": "internal",
        "clocks": [
            {
                "clock": "platform",
                "kind": "default",
                "allowance_s": 86400.0,
                "due": "2026-03-04T20:00:00+08:00",
            },
            {
                "clock": "internal",
                "kind": "default",
                "allowance_s": 1800.0,
                "due": "2026-03-02T20:30:00+08:00",
            },
        ],
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--received", "yesterday", "--hours", "1"], "--received: 'yesterday' is not an ISO 8601"),
        (["--received", "2026-03-02T20:00:00", "--hours", "1"], "has no UTC offset"),
        (["--received", RECEIVED, "--hours", "soon"], "--hours: 'soon' is not a number"),
        (["--received", RECEIVED, "--hours", "0"], "--hours: must be more than 0"),
        (["--received", RECEIVED, "--hours", "nan"], "--hours: must be more than 0"),
        (["--received", RECEIVED, "--hours", "1", "--window", "9-21"], "--window: '9-21'"),
        (
            ["--received", RECEIVED, "--hours", "1", "--window", "09:00-12:00,11:00-13:00"],
            "--window: windows 09:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            [
                "--received",
                RECEIVED,
                "--hours",
                "1",
                "--window",
                "09:00-21:00",
                "--tz",
                "Mars/Base",
            ],
            "--tz: 'Mars/Base' is not a time zone",
        ),
        (["--received", RECEIVED, "--hours", "1", "--tz", "UTC"], "give --window too"),
        (["--received", RECEIVED, "--hours", "1", "--kind", "urgent"], "--kind goes with --policy"),
        (["--received", RECEIVED, "--policy", "ebay"], "--policy: no SLA policy 'ebay'"),
        (
            ["--received", RECEIVED, "--policy", "douyin", "--kind", "vip"],
            "--kind: policy douyin has no kind 'vip' (kinds: default, urgent)",
        ),
        (
            ["--received", RECEIVED, "--policy", "douyin", "--window", "09:00-12:00"],
            "--window and --tz go with --hours",
        ),
    ],
)
def test_bad_argument_is_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == EX_USAGE
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("maild sla due: ")
    assert message in err


def test_missing_policy_or_hours_is_an_argparse_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["sla", "due", "--received", RECEIVED])

    assert caught.value.code == EX_USAGE
    assert "one of the arguments --policy --hours is required" in capsys.readouterr().err


def test_broken_policy_file_is_listed_like_a_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "team.toml"
    path.write_text('[platform.allowances]\ndefault = "1 day"\n', encoding="utf-8")

    code, out, err = run(capsys, "--received", RECEIVED, "--policy", str(path))

    assert (code, out) == (EX_PROBLEMS, "")
    assert err == (
        f"maild: {path}:2: platform.allowances.default: '1 day' is not a duration"
        ' (expected e.g. "48h", "2h", "1h30m")\n'
    )
