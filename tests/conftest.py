"""Shared fixtures. Real prices come from the demo dataset (skfolio's), so a fresh clone runs
every test; the team's own price files are an extra check where present."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.data.demo import DEMO_END, DEMO_RELATIVES, DEMO_START, DEMO_TARGETS
from backtest.data.prices import load_prices

# As the command line sets them (backtest.cli.console.quiet_tensorflow), before any test imports
# TensorFlow: in-process fits and worker fits then run the same kernels (oneDNN off).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_ENV = "BACKTEST_TEST_SHARED_DATA"
"""Where the extra price files live; point it at a missing path to run as a fresh clone."""
SHARED_DATA = Path(
    os.environ.get(SHARED_ENV) or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@dataclass(frozen=True)
class RealPrices:
    """The demo dataset's month-end prices, written as a wide CSV for ``--prices`` tests."""

    path: Path
    prices: pd.DataFrame
    targets: tuple[str, ...] = DEMO_TARGETS
    relatives: tuple[str, ...] = DEMO_RELATIVES
    start: str = DEMO_START
    end: str = DEMO_END

    def flags(self, path: Path | None = None) -> list[str]:
        """CLI flags that read ``path`` (default the CSV) with the demo's assets and months."""
        return [
            "--prices", str(path or self.path), "--tickers", *self.targets,
            "--relatives", *self.relatives, "--start", self.start, "--end", self.end,
        ]  # fmt: skip

    def tickers(self) -> list[str]:
        """Targets then relatives."""
        return [*self.targets, *self.relatives]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def real_prices(tmp_path_factory) -> RealPrices:
    data = load_prices([*DEMO_TARGETS, *DEMO_RELATIVES], DEMO_START, DEMO_END, demo=True)
    path = tmp_path_factory.mktemp("demo") / "demo_monthly.csv"
    data.prices.to_csv(path, index_label="date", date_format="%Y-%m-%d")
    return RealPrices(path=path, prices=data.prices)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The team's price files: only for extra checks that the demo data cannot make."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"extra check: price files not found at {SHARED_DATA} (${SHARED_ENV})")
    return SHARED_DATA
