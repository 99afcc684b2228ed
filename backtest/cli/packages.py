"""Start-up check: ``models`` and ``strategies`` must be this project's, not look-alikes.

The project's three top-level packages have common names (``backtest``, ``models`` and
``strategies`` all exist on the package index), and a ``models/`` folder in the working
directory comes first on ``sys.path`` under ``python -m``. Without this check such a
folder only shows up as ``ModuleNotFoundError: models.lstm`` after the data have loaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["OWN_PACKAGES", "check_own_packages"]

OWN_PACKAGES = ("models", "strategies")
"""Top-level packages that must sit next to ``backtest`` (they ship in one distribution)."""


def _location(name: str) -> Path | None:
    """Directory the package ``name`` would be imported from, or None if it cannot be found."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return Path(spec.origin).resolve().parent if spec.origin else None


def check_own_packages(root: Path | None = None) -> None:
    """Raise RuntimeError, saying what to do, when a foreign package shadows one of ours.

    Parameters
    ----------
    root : Path, optional
        Directory that holds this project's packages (default: the one holding ``backtest``).
    """
    root = root or Path(__file__).resolve().parents[2]
    for name in OWN_PACKAGES:
        found, expected = _location(name), root / name
        if found == expected.resolve():
            continue
        if found is None:
            raise RuntimeError(
                f"this project's package {name!r} is not importable (expected {expected}); "
                'reinstall the project with pip install -e ".[dev]" from its directory'
            )
        raise RuntimeError(
            f"a foreign package {name!r} at {found} shadows this project's {expected}; "
            f"run from another directory, or rename or remove {found} "
            f"(if it is an installed package: pip uninstall it, or use a fresh virtual "
            "environment)"
        )
