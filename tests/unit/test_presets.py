"""Marketplace preset files: shipped, found when installed, and validated like maild.toml."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from maild.config.settings import PRESETS, OrderPatternSettings
from maild.errors import ConfigError, ConfigProblem
from maild.threads import extract_order_ids, load_preset, load_preset_file, preset_names
from tests.support.wheel_layout import run_in_wheel_layout

VALID = """\
description = "A test marketplace"

[keywords]
order = ["order"]

[[patterns]]
name = "order"
regex = 'T[0-9]{6}'
"""


def write(directory: Path, text: str, name: str = "shop.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load_preset_file(path)
    return caught.value.problems


def test_loader_finds_the_five_presets_the_config_offers() -> None:
    assert preset_names() == ("amazon", "douyin", "generic", "walmart", "xiaohongshu")
    assert set(preset_names()) == set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_offered_preset_loads(name: str) -> None:
    preset = load_preset(name)

    assert preset.name == name
    assert preset.description
    assert preset.patterns


def test_installed_package_finds_the_presets_pyproject_packs(tmp_path: Path) -> None:
    """Lay the package out as the wheel does, from pyproject's own mapping, and load."""
    probe = (
        "from maild.threads.presets import preset_directory, preset_names, load_preset\n"
        "print(preset_directory())\n"
        "print(','.join(load_preset(n).name for n in preset_names()))\n"
    )

    site, printed = run_in_wheel_layout(tmp_path, probe)

    directory, names = printed.split()
    assert Path(directory) == site / "maild" / "presets"
    assert names.split(",") == sorted(PRESETS)


def test_a_mailbox_pattern_is_tried_after_the_preset_patterns() -> None:
    extra = OrderPatternSettings(name="shop-ref", regex="WM-[0-9]{8}")
    preset = load_preset("walmart", [extra])

    refs = extract_order_ids("WM-00001234", "PO# 1847362950012", {}, preset)

    assert [pattern.name for pattern in preset.patterns][-1] == "shop-ref"
    assert refs.order_ids == ("WM-00001234", "1847362950012")


@pytest.mark.parametrize("name", ["../config/maild.example", "Amazon", "", "a/b"])
def test_a_preset_name_never_reaches_outside_the_preset_directory(name: str) -> None:
    with pytest.raises(ConfigError, match="not a preset name"):
        load_preset(name)


def test_a_missing_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_preset("ebay")


def test_a_valid_preset_file_loads(tmp_path: Path) -> None:
    preset = load_preset_file(write(tmp_path, VALID))

    assert (preset.name, preset.description) == ("shop", "A test marketplace")
    assert extract_order_ids("order T123456", "", {}, preset).order_ids == ("T123456",)


PRESET_MISTAKES = [
    (
        'descripton = "x"\n' + VALID,
        1,
        "descripton",
        "unknown key 'descripton' (allowed here: description, keyword_window,"
        " sub_order_parent, keywords, patterns, customer, tags)",
    ),
    (VALID.replace('description = "A test marketplace"', ""), None, "description", "missing"),
    (VALID + "keyword_window = 1000\n", 9, "patterns[0].keyword_window", "unknown key"),
    ("keyword_window = 1000\n" + VALID, 1, "keyword_window", "must be at most 200"),
    (VALID.replace("'T[0-9]{6}'", "'T[0-9]+'"), 8, "patterns[0].regex", "unbounded repeat"),
    (VALID + "kid = 'order'\n", 9, "patterns[0].kid", "allowed here: name, regex,"),
    ('description = "x"\npatterns = []\n', 2, "patterns", "at least one [[patterns]]"),
    (VALID + "\n[[patterns]]\nname = 'order'\nregex = 'U[0-9]{6}'\n", 6, "patterns", "twice"),
    (
        VALID.replace('order = ["order"]', 'order = ["Order"]\nother = ["order"]'),
        3,
        "keywords",
        "keyword 'order' is listed under order and other",
    ),
    (
        VALID + '\n[customer]\nrelay_domains = ["relay walmart"]\n',
        11,
        "customer.relay_domains[0]",
        "is not a domain name",
    ),
    (VALID + '\n[customer]\nname_from = ["body"]\n', 11, "customer.name_from[0]", "expected"),
    (VALID.replace("[[patterns]]", "[[patterns]\n"), 6, "", "invalid TOML"),
]


@pytest.mark.parametrize(
    ("text", "line", "path", "words"),
    PRESET_MISTAKES,
    ids=[m[3] for m in PRESET_MISTAKES],
)
def test_preset_file_mistake_names_file_line_and_field(
    tmp_path: Path, text: str, line: int | None, path: str, words: str
) -> None:
    file = write(tmp_path, text)

    [problem] = problems_of(file)

    assert (problem.file, problem.line, problem.path) == (str(file), line, path)
    assert words in problem.message


def test_every_preset_file_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("'T[0-9]{6}'", "'T.*'") + "sub_order_parent = 'parent'\n"

    found = problems_of(write(tmp_path, text))

    assert [problem.path for problem in found] == [
        "patterns[0].regex",
        "patterns[0].sub_order_parent",
    ]
