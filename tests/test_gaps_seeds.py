"""Seeds are the same in every process (issue 15: replaces ``f(x) == f(x)`` checks).

Comparing a function with itself in one process cannot fail. A seed derived from
``hash()`` of a string, a set's order or global state changes between interpreters;
these tests compute the seeds in fresh interpreters with different hash seeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd

from backtest.engine.walkforward import window_seed
from backtest.features import Variant
from backtest.study.run import path_seeds

_CHILD = """
import json, pandas as pd
from backtest.engine.walkforward import window_seed
from backtest.features import Variant
from backtest.study.run import path_seeds
months = [pd.Timestamp("2020-05-31"), pd.Timestamp("2021-12-31")]
print(json.dumps({
    "window": [window_seed(s, v, m) for s in (0, 7) for v in Variant for m in months],
    "path": [list(path_seeds(s, sig, p)) for s in (0, 3) for sig in (0.0, 0.02) for p in (0, 1)],
}))
"""


def _in_child(hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_window_and_path_seeds_do_not_depend_on_the_process():
    months = [pd.Timestamp("2020-05-31"), pd.Timestamp("2021-12-31")]
    here = {
        "window": [window_seed(s, v, m) for s in (0, 7) for v in Variant for m in months],
        "path": [
            list(path_seeds(s, sig, p)) for s in (0, 3) for sig in (0.0, 0.02) for p in (0, 1)
        ],
    }
    assert len(set(here["window"])) == len(here["window"])
    assert _in_child("0") == here
    assert _in_child("4242") == here
