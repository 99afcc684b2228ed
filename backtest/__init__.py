"""Walk-forward backtesting engine for forecast-shrunk mean-variance portfolios."""

from __future__ import annotations

__version__ = "0.1.0"
