"""SLA policies by name: the shipped presets in ``config/sla/`` and maild.toml's own.

The presets are data like the marketplace presets (:mod:`maild.threads.presets`):
a marketplace changing its deadline needs a TOML edit, not a release. They live in
``config/sla`` in the source tree and are packed into the wheel as
``maild/sla/policies`` (see pyproject.toml); both places are looked up. A preset
file has the shape of a ``[sla.policies.NAME]`` table, and its mistakes are
reported as maild.toml's are: ``FILE:LINE: dotted.path: message``, all at once.
"""

from __future__ import annotations

__all__ = [
    "load_policy_file",
    "load_sla_preset",
    "mailbox_policies",
    "resolve_policy",
    "sla_preset_directory",
    "sla_preset_names",
]

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from maild.config.load import read_toml_file
from maild.config.locate import key_lines, line_of
from maild.config.problems import explain, format_path
from maild.config.settings import Settings
from maild.errors import ConfigError, ConfigProblem
from maild.sla.policy import SlaPolicy
from maild.sla.schema import SLA_PRESETS, PolicySettings

_PACKAGED: Final = Path(__file__).resolve().parent / "policies"
_SOURCE_TREE: Final = Path(__file__).resolve().parents[2] / "config" / "sla"
# Where the same schema sits in maild.toml: explaining a preset's mistake as if it were
# there gives it the same wording, down to the "did you mean" hint for a typo.
_AS_IN_CONFIG: Final = ("sla", "policies", "preset")


def sla_preset_directory() -> Path:
    """Where the shipped policies are: inside the installed package, else the source tree."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


def sla_preset_names() -> tuple[str, ...]:
    """The names of the shipped policies, sorted."""
    return tuple(sorted(path.stem for path in sla_preset_directory().glob("*.toml")))


def load_sla_preset(name: str) -> SlaPolicy:
    """A shipped policy by name; ValueError names the choices for any other name."""
    return _preset_settings(name).to_policy(name)


def load_policy_file(path: Path) -> SlaPolicy:
    """Read and validate a policy file, named by its stem; problems raise ConfigError."""
    return _build(path.stem, _read(path))


def resolve_policy(name: str, custom: Mapping[str, PolicySettings]) -> SlaPolicy:
    """A policy of maild.toml's ``[sla.policies]`` (laid over its preset), else a shipped one."""
    own = custom.get(name)
    return load_sla_preset(name) if own is None else _build(name, own)


def mailbox_policies(settings: Settings) -> dict[str, SlaPolicy | None]:
    """Each mailbox's policy (None: no reply deadline), each policy built once for a run."""
    built: dict[str, SlaPolicy] = {}
    found: dict[str, SlaPolicy | None] = {}
    for mailbox, box in settings.mailboxes.items():
        name = box.sla_policy
        if name is not None and name not in built:
            built[name] = resolve_policy(name, settings.sla.policies)
        found[mailbox] = None if name is None else built[name]
    return found


def _preset_settings(name: str) -> PolicySettings:
    if name not in SLA_PRESETS:  # also keeps a name from walking out of the directory
        raise ValueError(f"no SLA policy {name!r} (shipped: {', '.join(SLA_PRESETS)})")
    return _read(sla_preset_directory() / f"{name}.toml")


def _build(name: str, settings: PolicySettings) -> SlaPolicy:
    if settings.extends is not None:
        settings = settings.over(_preset_settings(settings.extends))
    return settings.to_policy(name)


def _read(path: Path) -> PolicySettings:
    shown = str(path)
    text, data = read_toml_file(path, shown)
    try:
        return PolicySettings.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(text)
        problems: list[ConfigProblem] = []
        for error in exc.errors(include_url=False):
            loc, message = explain({**error, "loc": (*_AS_IN_CONFIG, *error["loc"])})
            loc = loc[len(_AS_IN_CONFIG) :]
            problems.append(ConfigProblem(shown, format_path(loc), message, line_of(lines, loc)))
        raise ConfigError(sorted(problems, key=lambda p: (p.line is None, p.line or 0))) from None
