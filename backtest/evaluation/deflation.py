"""Deflated Sharpe ratio of the selected best configuration, with the trials honestly counted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.evaluation.performance import expected_max_sharpe, probabilistic_sharpe_ratio

__all__ = ["DeflatedBest", "deflated_best", "effective_trials"]


@dataclass(frozen=True)
class DeflatedBest:
    """The best trial's deflated Sharpe ratio (per-period Sharpe inside, annualised outside).

    Attributes
    ----------
    best : str
        Trial with the highest Sharpe ratio.
    sharpe : float
        Its annualised Sharpe ratio.
    n_trials : int
        Configurations tried (benchmarks excluded).
    n_effective : float
        Independent trials implied by their correlation (see :func:`effective_trials`).
    mean_correlation : float
        Average pairwise correlation of the trials' returns.
    expected_max_sharpe : float
        Annualised SR0: the best of ``n_effective`` skill-less trials' expected Sharpe ratio.
    dsr_vs_zero : float
        ``PSR(SR0)``: probability the best's true Sharpe exceeds what luck explains.
    benchmark : str or None
        Benchmark of the second test (1/N).
    benchmark_sharpe : float
        Its annualised Sharpe ratio (NaN without a benchmark).
    dsr_vs_benchmark : float
        ``PSR(SR_benchmark + SR0)``: the best beats the benchmark's Sharpe by more than luck.
    """

    best: str
    sharpe: float
    n_trials: int
    n_effective: float
    mean_correlation: float
    expected_max_sharpe: float
    dsr_vs_zero: float
    benchmark: str | None
    benchmark_sharpe: float
    dsr_vs_benchmark: float


def effective_trials(returns: pd.DataFrame) -> tuple[float, float]:
    """Number of independent trials implied by the average correlation of the trials.

    Returns
    -------
    n_effective : float
        ``rho + (1 - rho) N`` with ``rho`` the mean off-diagonal correlation (clipped to
        [0, 1]): N uncorrelated trials count N, perfectly correlated ones count 1.
    rho : float
        The mean pairwise correlation.

    References
    ----------
    Lopez de Prado, M. (2018). Advances in Financial Machine Learning, Wiley, section 8.7
    (implied number of independent trials from the average correlation).
    """
    n = returns.shape[1]
    if n == 1:
        return 1.0, 1.0
    corr = returns.corr().to_numpy()
    rho = float(np.nanmean(corr[~np.eye(n, dtype=bool)]))
    clipped = min(max(rho, 0.0), 1.0)
    return clipped + (1.0 - clipped) * n, rho


def deflated_best(
    trials: pd.DataFrame,
    benchmark: pd.Series | None = None,
    n_trials: int | None = None,
    periods_per_year: int = 12,
) -> DeflatedBest:
    """Deflated Sharpe ratio of the best of ``trials`` against zero and against a benchmark.

    Parameters
    ----------
    trials : pandas.DataFrame of shape (n_periods, n_configurations)
        Excess returns of every configuration tried (strategies x variants x models x seeds);
        benchmarks are not trials and must not be included (their very different Sharpe
        ratios would inflate V[SR]).
    benchmark : pandas.Series, optional
        Excess returns of the benchmark (1/N) on the same periods.
    n_trials : int, optional
        Configurations tried, when more were tried than are in ``trials``.
    periods_per_year : int, default 12

    Returns
    -------
    DeflatedBest

    Notes
    -----
    ``SR0 = expected_max_sharpe(N_eff, V[SR])`` with V[SR] the variance (ddof=1) of the trials'
    per-period Sharpe ratios and ``N_eff`` from :func:`effective_trials`, scaled up by
    ``n_trials / n_columns`` when more trials were run than are passed. Against the benchmark
    the threshold is ``SR_b + SR0`` (1/N's Sharpe taken as known: the Ledoit-Wolf test of the
    pair accounts for its noise).

    References
    ----------
    Bailey, D. H. and Lopez de Prado, M. (2014). The deflated Sharpe ratio. Journal of
    Portfolio Management 40(5), 94-107.
    """
    frame = trials.dropna()
    if frame.shape[1] < 1 or frame.shape[0] < 3:
        raise ValueError(f"`trials` needs >= 1 column and >= 3 complete rows, got {frame.shape}")
    sr = frame.mean() / frame.std(ddof=1)
    best = str(sr.idxmax())
    n_cols = frame.shape[1]
    n_eff, rho = effective_trials(frame)
    total = n_cols if n_trials is None else n_trials
    n_eff = n_eff * total / n_cols
    var_sr = float(np.var(sr.to_numpy(), ddof=1)) if n_cols > 1 else 0.0
    sr0 = expected_max_sharpe(max(1, int(np.ceil(n_eff - 1e-9))), var_sr)
    series = frame[best].to_numpy()
    scale = np.sqrt(periods_per_year)
    if benchmark is not None:
        base = benchmark.reindex(frame.index).to_numpy(dtype=float)
        sr_b = float(base.mean() / base.std(ddof=1))
        dsr_b = probabilistic_sharpe_ratio(series, sr_b + sr0)
        name = str(benchmark.name) if benchmark.name is not None else "benchmark"
    else:
        sr_b, dsr_b, name = np.nan, np.nan, None
    return DeflatedBest(
        best=best,
        sharpe=float(sr[best] * scale),
        n_trials=int(total),
        n_effective=float(n_eff),
        mean_correlation=rho,
        expected_max_sharpe=float(sr0 * scale),
        dsr_vs_zero=probabilistic_sharpe_ratio(series, sr0),
        benchmark=name,
        benchmark_sharpe=float(sr_b * scale),
        dsr_vs_benchmark=float(dsr_b),
    )
