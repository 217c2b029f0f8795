"""SLA policy files: the shipped presets keep the marketplaces' rules and are validated."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maild.errors import ConfigError, ConfigProblem
from maild.sla import ALL_DAY, Window, deadlines
from maild.sla.presets import load_policy_file, load_sla_preset, sla_preset_names
from maild.sla.schema import SLA_PRESETS, parse_duration
from tests.support.wheel_layout import run_in_wheel_layout

H = timedelta(hours=1)


def write(directory: Path, text: str, name: str = "team.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_policy_file(path)
    return [str(problem) for problem in caught.value.problems]


def test_shipped_policies_are_the_ones_the_config_offers() -> None:
    assert sla_preset_names() == SLA_PRESETS == ("amazon", "douyin", "walmart")


def test_walmart_is_48_hours_of_wall_clock_and_1_hour_when_escalated() -> None:
    walmart = load_sla_preset("walmart")

    assert walmart.platform.calendar.is_wall_clock
    assert dict(walmart.platform.allowances) == {
        "default": 48 * H,
        "customer-care": 48 * H,
        "escalated": H,
    }
    assert walmart.internal is None


def test_amazon_is_24_hours_of_wall_clock() -> None:
    amazon = load_sla_preset("amazon")

    assert amazon.platform.calendar.is_wall_clock
    assert dict(amazon.platform.allowances) == {"default": 24 * H}


def test_douyin_tickets_count_09_to_21_in_shanghai_every_day() -> None:
    douyin = load_sla_preset("douyin")
    calendar = douyin.platform.calendar

    assert dict(douyin.platform.allowances) == {"default": 24 * H, "urgent": 2 * H}
    assert calendar.zone == ZoneInfo("Asia/Shanghai")
    assert calendar.week == ((Window.parse("09:00-21:00"),),) * 7
    (deadline,) = deadlines(datetime(2026, 3, 2, 12, tzinfo=UTC), ["urgent"], douyin)
    assert deadline.due == datetime(2026, 3, 3, 2, tzinfo=UTC)  # 20:00 + 1 h, 09:00 + 1 h


def test_policy_file_with_an_internal_target_and_a_team_calendar_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        description = "Our own"
        due_soon_ratio = 0.5

        [platform.allowances]
        default = "48h"

        [internal.allowances]
        default = "8h"
        "ticket:product" = "1h30m"

        [internal.calendar]
        timezone = "Asia/Shanghai"
        hours = ["13:30-21:00", "09:00-12:00"]
        sat = []
        sun = []
        holidays = [2026-10-01]
        extra_working_days = [2026-10-10]
        """,
    )

    policy = load_policy_file(path)

    assert policy.name == "team"
    assert policy.due_soon_ratio == 0.5
    assert policy.platform.calendar.week == (ALL_DAY,) * 7
    assert policy.internal is not None
    assert policy.internal.allowances["ticket:product"] == 1.5 * H
    calendar = policy.internal.calendar
    assert calendar.week[0] == (Window.parse("09:00-12:00"), Window.parse("13:30-21:00"))
    assert calendar.week[5:] == ((), ())
    assert calendar.holidays == {datetime(2026, 10, 1).date()}


def test_every_mistake_in_a_policy_file_is_reported_with_line_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        description = "Broken"

        [platform.allowances]
        default = 48
        urgent = "2 hours"

        [platform.calendar]
        timezone = "Asia/Shangai"
        hours = ["09:00-21:00", "20:00-22:00"]
        holidays = ["2026-10-01"]
        opening = ["09:00-21:00"]
        """,
    )

    assert problems_of(path) == [
        f"{path}:4: platform.allowances.default: expected a duration with its unit,"
        ' such as "48h", got 48',
        f"{path}:5: platform.allowances.urgent: '2 hours' is not a duration"
        ' (expected e.g. "48h", "2h", "1h30m")',
        f"{path}:8: platform.calendar.timezone: 'Asia/Shangai' is not a time zone"
        " (expected an IANA name such as 'Asia/Shanghai')",
        f"{path}:9: platform.calendar.hours: windows 09:00-21:00 and 20:00-22:00 overlap",
        f"{path}:10: platform.calendar.holidays[0]: expected a date such as 2026-10-01"
        " (no quotes), got '2026-10-01'",
        f"{path}:11: platform.calendar.opening: unknown key 'opening'"
        " (allowed here: timezone, hours, mon, tue, wed, thu, fri, sat, sun, holidays,"
        " extra_working_days, extra_day_hours, public_holidays)",
    ]


def test_typo_in_a_policy_file_gets_a_did_you_mean_hint(tmp_path: Path) -> None:
    path = write(tmp_path, '[platform.allowances]\ndefault = "24h"\n\n[platform.calendr]\n')

    assert problems_of(path) == [
        f"{path}:4: platform.calendr: unknown key 'calendr' (did you mean 'calendar'?)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('description = "no clock"\n', "a policy needs a [platform] clock"),
        ('[platform.allowances]\nurgent = "2h"\n', 'allowances needs a "default" entry'),
        (
            '[platform.allowances]\ndefault = "2h"\n[platform.calendar]\nhours = []\n',
            "no working time at all",
        ),
        (
            '[platform.allowances]\ndefault = "2h"\n[platform.calendar]\npublic_holidays = "XX"\n',
            "'XX' is not a country the holidays library knows",
        ),
        (
            '[platform.allowances]\ndefault = "2h"\n[platform.calendar]\n'
            "holidays = [2026-01-01, 2026-01-01]\n",
            "2026-01-01 is listed twice",
        ),
        ('due_soon_ratio = 1\n[platform.allowances]\ndefault = "2h"\n', "must be less than 1"),
        ('[platform.allowances]\ndefault = "2h"\n"Urgent!" = "1h"\n', "is not a tag"),
    ],
    ids=["no platform", "no default", "closed", "country", "date twice", "ratio", "kind"],
)
def test_policy_that_cannot_work_is_refused(tmp_path: Path, text: str, message: str) -> None:
    (problem,) = problems_of(write(tmp_path, text))

    assert message in problem


def test_file_that_extends_a_preset_keeps_the_presets_platform_clock(tmp_path: Path) -> None:
    path = write(tmp_path, 'extends = "douyin"\n[internal.allowances]\ndefault = "4h"\n')

    policy = load_policy_file(path)

    assert policy.platform == load_sla_preset("douyin").platform
    assert policy.internal is not None
    assert policy.internal.allowances["default"] == 4 * H


@pytest.mark.parametrize(
    ("text", "expected"),
    [("48h", 48 * H), ("90m", 1.5 * H), ("1h30m", 1.5 * H), ("45s", timedelta(seconds=45))],
)
def test_durations_are_read_with_their_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "48", "2 hours", "0h", "8761h", "1d", "-2h"])
def test_durations_without_units_or_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|at most 8760h"):
        parse_duration(text)


def test_unknown_preset_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ValueError, match=r"no SLA policy '\.\./x' \(shipped: amazon, douyin"):
        load_sla_preset("../x")


def test_installed_package_finds_the_policies_pyproject_packs(tmp_path: Path) -> None:
    """Lay the package out as the wheel does, from pyproject's own mapping, and load."""
    probe = (
        "from maild.sla.presets import sla_preset_directory, sla_preset_names, load_sla_preset\n"
        "print(sla_preset_directory())\n"
        "print(','.join(load_sla_preset(n).name for n in sla_preset_names()))\n"
    )

    site, printed = run_in_wheel_layout(tmp_path, probe)

    directory, names = printed.splitlines()
    assert Path(directory) == site / "maild" / "sla" / "policies"
    assert names == ",".join(SLA_PRESETS)


def test_problem_in_a_policy_file_is_a_config_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "[platform\n")

    with pytest.raises(ConfigError) as caught:
        load_policy_file(path)

    (problem,) = caught.value.problems
    assert isinstance(problem, ConfigProblem)
    assert (problem.file, problem.line) == (str(path), 1)
    assert problem.message.startswith("invalid TOML")
