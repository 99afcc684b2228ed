"""``python -m backtest``."""

from __future__ import annotations

import sys

from backtest.cli import main

sys.exit(main())
