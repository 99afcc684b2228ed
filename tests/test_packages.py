from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backtest.cli.packages import check_own_packages

REPO = Path(__file__).resolve().parents[1]


def test_own_packages_pass_the_check():
    check_own_packages()


@pytest.mark.parametrize("name", ["models", "strategies"])
def test_a_folder_in_the_working_directory_that_shadows_ours_is_named(tmp_path, monkeypatch, name):
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(RuntimeError, match=rf"a foreign package '{name}' at {tmp_path / name} "):
        check_own_packages()


def test_a_plain_folder_without_init_does_not_shadow_and_passes(tmp_path, monkeypatch):
    # A namespace portion loses to a regular package later on the path: no false alarm.
    (tmp_path / "models").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    check_own_packages()


def test_a_missing_package_says_how_to_reinstall(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match=r"'models' is not importable .*pip install -e"):
        check_own_packages()


def test_the_command_fails_at_start_up_naming_the_folder(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "backtest", "run", "--source", "demo"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"a foreign package 'models' at {tmp_path / 'models'}" in done.stderr
    assert "run from another directory" in done.stderr
    assert not (tmp_path / "results").exists()  # nothing ran
