"""Walk-forward backtesting engine for forecast-shrunk mean-variance portfolios.

``from backtest import RunConfig, run`` is the Python API (see :func:`backtest.api.run`);
``python -m backtest`` is the command line.
"""

from __future__ import annotations

__version__ = "0.1.0"

from backtest.api import run  # noqa: E402
from backtest.config import RunConfig  # noqa: E402

__all__ = ["RunConfig", "__version__", "run"]
