"""Run code against maild laid out as its wheel lays it out, away from the source tree.

Data files (presets, SLA policies, templates) reach an installed maild only through
pyproject's ``force-include`` mapping; a test that loads them from such a layout
proves the mapping, which loading from the source tree cannot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import maild

__all__ = ["run_in_wheel_layout"]

ROOT = Path(__file__).resolve().parents[2]


def run_in_wheel_layout(tmp_path: Path, probe: str) -> tuple[Path, str]:
    """Lay maild out under ``tmp_path`` as the wheel does, run ``probe`` with it.

    Returns the site directory and what the probe printed.
    """
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    site = tmp_path / "site-packages"
    shutil.copytree(Path(maild.__file__).parent, site / "maild")
    for source, target in mapping.items():
        shutil.copytree(ROOT / source, site / target, dirs_exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,  # not the source tree, whose maild would shadow the copy
        check=True,
    )
    return site, result.stdout
