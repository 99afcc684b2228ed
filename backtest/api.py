"""The Python API: ``from backtest import RunConfig, run``, no command line needed.

::

    from backtest import RunConfig, run

    config = RunConfig().with_variant("relatives")
    result = run(config, prices="prices_monthly.csv", results_dir="results", n_jobs=2)
    print(result.performance[["sharpe", "dsr"]])

The heavy stages (TensorFlow, scikit-learn, matplotlib) are imported when :func:`run` is
called, so ``import backtest`` stays quick.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from backtest.config import RunConfig

if TYPE_CHECKING:
    from backtest.data.prices import PriceData
    from backtest.engine.walkforward import Runner
    from backtest.reports.run_dir import RunResult


def run(
    config: RunConfig | None = None,
    prices: str | Path | PriceData | None = None,
    *,
    results_dir: str | Path | None = None,
    run_name: str | None = None,
    overwrite: bool = False,
    n_jobs: int | None = 1,
    cache_dir: str | Path | None = None,
    runner: Runner | None = None,
    progress: Callable[[Iterable, int], Iterable] | None = None,
) -> RunResult:
    """Run one variant end to end and return its :class:`~backtest.reports.run_dir.RunResult`.

    Parameters
    ----------
    config : RunConfig, optional
        What to run (default: the seed's configuration, variant ``relatives``).
    prices : str, Path or PriceData, optional
        A wide price CSV, already loaded prices, or None to download from Yahoo Finance.
    results_dir : str or Path, optional
        When given, the run is written to ``results_dir/run_name`` (staged, sealed and
        swapped in whole, as ``backtest run`` does); otherwise into a temporary directory
        that is removed, and the result's ``run_dir`` is None.
    run_name : str, optional
        Directory name under ``results_dir`` (default: the variant).
    overwrite : bool, default False
        Replace a run of that name made with another configuration.
    n_jobs : int or None, default 1
        Local workers for the window fits (-1 or None: all cores); ignored with ``runner``.
    cache_dir : str or Path, optional
        Download and window cache root (default ``$BACKTEST_CACHE_DIR`` or
        ``~/.cache/backtest``): reruns are near-instant.
    runner : callable, optional
        Window runner (see :mod:`backtest.engine.local`, :mod:`backtest.engine.cluster`).
    progress : callable, optional
        Wraps the stream of finished windows, e.g. a progress bar.

    Returns
    -------
    RunResult
        Exactly what :func:`backtest.reports.run_dir.load_run` reads back from the directory.
    """
    from backtest.data.prices import PriceData, load_prices
    from backtest.data.yahoo import default_cache_dir
    from backtest.engine.local import local_runner, resolve_n_jobs
    from backtest.engine.store import WindowStore
    from backtest.pipeline import check_strategies, run_variant
    from backtest.reports.staging import results_dir as staged

    config = config or RunConfig()
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    check_strategies(config)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    data = (
        prices
        if isinstance(prices, PriceData)
        else load_prices(
            config.data.tickers,
            config.data.start,
            config.data.end,
            prices_path=prices,
            cache_dir=cache,
        )
    )
    runner = runner or local_runner(resolve_n_jobs(n_jobs))
    store = WindowStore(cache / "windows")
    if results_dir is None:
        with tempfile.TemporaryDirectory(prefix="backtest-run-") as tmp:
            result = run_variant(config, data, runner, Path(tmp), store, progress)
        return replace(result, run_dir=None)
    final = Path(results_dir) / (run_name or config.variant.value)
    with staged(final, "run", config.to_dict(), overwrite) as out:
        result = run_variant(config, data, runner, out, store, progress)
    return replace(result, run_dir=final)
