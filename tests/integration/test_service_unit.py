"""config/maild.service as systemd reads it: no warning at all, and hardened to the OK band."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "config" / "maild.service"
SHIPPED_EXEC = "/usr/local/bin/maild"
INSTALL_HINT = "systemd-analyze is missing: run scripts/install-system-deps"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


def installed_unit(directory: Path, text: str | None = None) -> Path:
    """A copy whose ExecStart is this environment's maild, as an install would edit it."""
    maild = Path(sys.executable).with_name("maild")
    assert maild.exists(), f"{maild}: maild is not installed in this environment"
    unit = directory / "maild.service"
    unit.write_text((text or UNIT.read_text()).replace(SHIPPED_EXEC, str(maild)))
    return unit


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_shipped_unit_starts_the_installed_maild_as_a_notify_service() -> None:
    text = UNIT.read_text()
    assert f"ExecStart={SHIPPED_EXEC} " in text
    for line in (
        "Type=notify",
        "ExecReload=kill -HUP $MAINPID",
        "Restart=on-failure",
        "StateDirectory=maild",
        "ConfigurationDirectory=maild",
        "LoadCredential=imap-password:",
        "WatchdogSec=",
    ):
        assert re.search(rf"^{re.escape(line)}", text, re.MULTILINE), line


def test_verify_prints_nothing_and_exits_0(tmp_path: Path) -> None:
    result = analyze("verify", str(installed_unit(tmp_path)))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_speaks_up_on_a_misspelled_key_so_silence_means_something(tmp_path: Path) -> None:
    misspelled = UNIT.read_text().replace("NoNewPrivileges=", "NoNewPrivilege=")
    result = analyze("verify", str(installed_unit(tmp_path, misspelled)))
    assert "Unknown key 'NoNewPrivilege'" in result.stdout + result.stderr


def test_hardening_passes_threshold_20_and_readme_states_the_exposure(tmp_path: Path) -> None:
    unit = installed_unit(tmp_path)
    result = analyze("security", "--offline=true", "--threshold=20", str(unit))
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"Overall exposure level for maild\.service: (\d+\.\d) OK", result.stdout)
    assert found, result.stdout
    exposure = found.group(1)
    assert float(exposure) <= 2.0
    readme = (ROOT / "README.md").read_text()
    assert f"exposure {exposure} (OK)" in readme
