"""maild.toml's SLA keys: a mailbox's sla_policy and the installation's own [sla.policies]."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from maild.config import Settings, load_config
from maild.errors import ConfigError
from maild.sla.presets import load_sla_preset, mailbox_policies

ENV = {"MAILD_SHOP_PASSWORD": "pw"}


def mailbox(name: str, extra: str = "") -> str:
    return f"""
[mailboxes.{name}]
address = "{name}@shop.example"
{extra}
[mailboxes.{name}.imap]
host = "imap.example.com"
username = "{name}@shop.example"
password_env = "MAILD_SHOP_PASSWORD"
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "maild.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, ENV)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return [
        str(problem).removeprefix(f"{tmp_path / 'maild.toml'}:")
        for problem in caught.value.problems
    ]


@pytest.mark.parametrize(
    ("preset", "policy"),
    [
        ("walmart", "walmart"),
        ("amazon", "amazon"),
        ("douyin", "douyin"),
        ("generic", None),
        ("xiaohongshu", None),
    ],
)
def test_mailbox_follows_the_policy_named_like_its_preset(
    tmp_path: Path, preset: str, policy: str | None
) -> None:
    settings = load(tmp_path, mailbox("shop", f'preset = "{preset}"'))

    assert settings.mailboxes["shop"].sla_policy == policy


def test_empty_sla_policy_turns_deadlines_off(tmp_path: Path) -> None:
    settings = load(tmp_path, mailbox("shop", 'preset = "walmart"\nsla_policy = ""'))

    assert settings.mailboxes["shop"].sla_policy is None
    assert mailbox_policies(settings) == {"shop": None}


def test_sla_policy_of_another_type_is_refused_not_taken_for_none(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mailbox("shop", "sla_policy = false"))

    assert problems == ["4: mailboxes.shop.sla_policy: expected a string, got boolean false"]


def test_mailbox_may_follow_another_marketplaces_policy(tmp_path: Path) -> None:
    settings = load(tmp_path, mailbox("shop", 'preset = "generic"\nsla_policy = "amazon"'))

    assert mailbox_policies(settings) == {"shop": load_sla_preset("amazon")}


def test_unknown_sla_policy_is_reported_on_its_line(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mailbox("shop", 'sla_policy = "ebay"'))

    assert problems == [
        "4: mailboxes.shop.sla_policy: no SLA policy 'ebay': expected one of amazon, douyin,"
        ' walmart (or "" for no reply deadline)'
    ]


OWN = """
[sla.policies.team]
extends = "douyin"
description = "Douyin's deadline and our own 4 hours"

[sla.policies.team.internal.allowances]
default = "4h"
urgent = "1h"

[sla.policies.team.internal.calendar]
timezone = "Asia/Shanghai"
hours = ["09:00-18:00"]
sat = []
sun = []
public_holidays = "CN"
"""


def test_own_policy_extends_a_preset_and_mailboxes_share_it(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        OWN
        + mailbox("a", 'preset = "douyin"\nsla_policy = "team"')
        + mailbox("b", 'sla_policy = "team"')
        + mailbox("c", 'preset = "walmart"'),
    )

    policies = mailbox_policies(settings)

    team = policies["a"]
    assert team is not None
    assert policies["b"] is team
    assert team.name == "team"
    assert team.description == "Douyin's deadline and our own 4 hours"
    assert team.platform == load_sla_preset("douyin").platform
    assert team.internal is not None
    assert team.internal.allowances["urgent"] == timedelta(hours=1)
    assert team.internal.calendar.public is not None
    assert policies["c"] == load_sla_preset("walmart")


def test_own_policy_may_not_take_a_shipped_policys_name(tmp_path: Path) -> None:
    text = '[sla.policies.walmart.platform.allowances]\ndefault = "24h"\n'

    assert problems_of(tmp_path, text) == [
        "1: sla.policies.walmart: 'walmart' is the name of a shipped SLA policy; give yours"
        ' another name (extends = "walmart" builds on the shipped one)'
    ]


def test_mistakes_in_an_own_policy_are_located_in_maild_toml(tmp_path: Path) -> None:
    text = """\
    [sla.policies.team]
    extends = "walmrt"

    [sla.policies.team.internal.allowances]
    default = "4 hours"

    [sla.policies.team.internal.calendar]
    hour = ["09:00-18:00"]
    """

    assert problems_of(tmp_path, text) == [
        "2: sla.policies.team.extends: expected one of 'amazon', 'douyin', 'walmart',"
        " got string 'walmrt' (did you mean 'walmart'?)",
        "5: sla.policies.team.internal.allowances.default: '4 hours' is not a duration"
        ' (expected e.g. "48h", "2h", "1h30m")',
        "8: sla.policies.team.internal.calendar.hour: unknown key 'hour' (did you mean 'hours'?)",
    ]


def test_own_policy_needs_a_platform_clock_unless_it_extends_one(tmp_path: Path) -> None:
    text = '[sla.policies.team.internal.allowances]\ndefault = "4h"\n'

    assert problems_of(tmp_path, text) == [
        "1: sla.policies.team: a policy needs a [platform] clock (or extends = a shipped"
        " preset's name)"
    ]
