"""``python -m backtest``."""

from __future__ import annotations

import sys

from backtest.cli.parser import main

sys.exit(main())
