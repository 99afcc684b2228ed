"""Scoring one simulated path against its known truth, and aggregating paths.

The truth of a :class:`backtest.data.synthetic.SyntheticMarket` is the conditional mean
``E[r_t | x_{t-1}] = m_r + B (x_{t-1} - m_x)`` of every target month and the unconditional mean
``m_r``. Every forecast, every strategy's expected return and the oracle portfolio are compared
in monthly LOG returns, the units of the truth and of ``StrategyBacktest.expected["mu"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.data.synthetic import SyntheticMarket
from backtest.engine.panel import ForecastPanel
from backtest.evaluation.forecasts import clark_west, oos_r2, pooled_clark_west
from backtest.evaluation.overfitting import probability_of_backtest_overfitting
from backtest.evaluation.performance import sharpe_ratio
from backtest.portfolio.pnl import PortfolioResult, simulate_portfolio
from backtest.portfolio.rebalance import StrategyBacktest, views
from strategies import MeanVariance, StrategyName, ledoit_wolf_covariance, simple_expected_returns

__all__ = [
    "SIGNIFICANCE",
    "evaluate_path",
    "oracle_portfolio",
    "summarise",
    "true_conditional_covariance",
]

SIGNIFICANCE = 0.05
"""Level of the Clark-West tests whose rejection rates the study reports."""
_MAX_PBO_BLOCKS = 16


def true_conditional_covariance(market: SyntheticMarket) -> np.ndarray:
    """Covariance of the targets' log returns given last month's relatives, ``S_rr - B S_xx B'``."""
    n_tgt = len(market.model.target_names)
    cov = market.model.covariance
    s_rr, s_xx, b = cov[:n_tgt, :n_tgt], cov[n_tgt:, n_tgt:], market.loadings
    return s_rr - b @ s_xx @ b.T


def oracle_portfolio(
    market: SyntheticMarket, panel: ForecastPanel, config: RunConfig
) -> PortfolioResult:
    """Mean-variance on the TRUE conditional means, with the strategies' own risk model.

    At each origin the expected simple returns are the exact lognormal conversion
    ``exp(m + diag(Sigma_c) / 2) - 1`` of the true conditional mean ``m`` and covariance
    ``Sigma_c`` of next month's log returns; the covariance fed to the allocator is the same
    Ledoit-Wolf estimate of past simple returns the strategies use, and the allocator has the
    same risk aversion, cap and costs. The Sharpe gap of a strategy to this portfolio is thus
    what its error in mu costs, not what covariance estimation costs.
    """
    targets = list(market.model.target_names)
    returns = market.log_returns[targets]
    truth = market.conditional_mean.loc[panel.dates, targets].to_numpy()
    cov_log = true_conditional_covariance(market)
    allocator = MeanVariance(
        risk_aversion=config.portfolio.risk_aversion, max_weight=config.portfolio.max_weight
    )
    weights, origins = [], []
    for i, (origin, view) in enumerate(views(panel, returns)):
        mu = simple_expected_returns(truth[i], cov_log)
        cov = ledoit_wolf_covariance(np.expm1(view.returns))
        weights.append(allocator.allocate(mu, cov, label=f"oracle {origin:%Y-%m-%d}"))
        origins.append(origin)
    frame = pd.DataFrame(weights, index=pd.DatetimeIndex(origins, name="origin"), columns=targets)
    return simulate_portfolio(frame, np.expm1(returns), config.portfolio.cost_bps)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _cw_p(realised: np.ndarray, forecast: np.ndarray, benchmark: np.ndarray) -> float:
    """Pooled Clark-West p-value; 1 when the forecast equals the benchmark (nothing to test)."""
    if np.allclose(forecast, benchmark, rtol=0, atol=1e-15):
        return 1.0
    return pooled_clark_west(realised, forecast, benchmark).p_value


def _pbo(net: pd.DataFrame) -> float:
    """CSCV PBO across the strategies' net returns; NaN when too few strategies or months."""
    n_blocks = min(_MAX_PBO_BLOCKS, 2 * (len(net) // 4))
    if net.shape[1] < 2 or n_blocks < 2:
        return np.nan
    return probability_of_backtest_overfitting(net.to_numpy(), n_blocks=n_blocks).pbo


def evaluate_path(
    market: SyntheticMarket,
    panel: ForecastPanel,
    backtest: StrategyBacktest,
    config: RunConfig,
    strategies: Sequence[str],
) -> pd.DataFrame:
    """Score one path's forecasts and strategies against the known truth.

    Returns
    -------
    DataFrame
        One row per strategy. Path-level columns (equal on every row): ``n_months`` forecast
        months; ``r2_os`` pooled out-of-sample R2 of the primary model against the mean and
        ``oracle_r2_os`` the same for the *known-signal* forecast, historical mean plus the true
        predictable part ``B (x_{t-1} - m_x)`` (what a forecaster that found the signal exactly
        would score on this path); ``cw_p`` the pooled Clark-West p-value, ``cw_reject``
        whether it is below :data:`SIGNIFICANCE`, ``cw_ticker_reject`` the share of targets
        whose own test rejects, ``oracle_cw_reject`` the pooled test of the known-signal
        forecast (the power ceiling of the test on this many months); ``signal_rmse`` the RMSE
        of the true conditional mean around the unconditional mean; ``oracle_sharpe`` the
        Sharpe of :func:`oracle_portfolio`; ``pbo`` across the strategies. Per strategy:
        ``mu_rmse_cond`` / ``mu_rmse_uncond`` the RMSE of its log mu against the true
        conditional / unconditional mean; ``intensity`` its mean weight on the shrinkage target;
        ``sharpe`` annualised net Sharpe; ``sharpe_gap`` = ``oracle_sharpe - sharpe``.
    """
    targets = panel.tickers
    dates = panel.dates
    realised, forecast, hist = (
        f.to_numpy() for f in (panel.realised, panel.forecast(), panel.hist_mean)
    )
    truth = market.conditional_mean.loc[dates, targets].to_numpy()
    uncond = np.broadcast_to(market.unconditional_mean[targets].to_numpy(), truth.shape)
    # The best a forecaster could do with the signal but without the true mean: comparing
    # the true conditional mean itself would credit knowing m_r, which no forecast can.
    known_signal = hist + (truth - uncond)
    ticker_p = [
        clark_west(realised[:, j], forecast[:, j], hist[:, j]).p_value for j in range(len(targets))
    ]
    cw = pooled_clark_west(realised, forecast, hist)
    oracle = oracle_portfolio(market, panel, config)
    oracle_sharpe = sharpe_ratio(oracle.net, config.portfolio.risk_free)
    net = backtest.frame("net")[list(strategies)]
    common = {
        "n_months": len(dates),
        "r2_os": oos_r2(realised, forecast, hist),
        "oracle_r2_os": oos_r2(realised, known_signal, hist),
        "cw_p": cw.p_value,
        "cw_reject": bool(cw.p_value < SIGNIFICANCE),
        "cw_ticker_reject": float(np.mean(np.array(ticker_p) < SIGNIFICANCE)),
        "oracle_cw_reject": bool(_cw_p(realised, known_signal, hist) < SIGNIFICANCE),
        "signal_rmse": _rmse(truth, uncond),
        "oracle_sharpe": oracle_sharpe,
        "pbo": _pbo(net),
    }
    expected = backtest.expected
    rows = []
    for name in strategies:
        own = expected[expected["strategy"] == name]
        mu = own.pivot(index="date", columns="ticker", values="mu").loc[dates, targets]
        sharpe = sharpe_ratio(backtest.results[name].net, config.portfolio.risk_free)
        rows.append(
            {
                "strategy": name,
                **common,
                "mu_rmse_cond": _rmse(mu.to_numpy(), truth),
                "mu_rmse_uncond": _rmse(mu.to_numpy(), uncond),
                "intensity": float(own["intensity"].mean()),
                "sharpe": sharpe,
                "sharpe_gap": oracle_sharpe - sharpe,
            }
        )
    return pd.DataFrame(rows)


def summarise(paths: pd.DataFrame, baseline: str = StrategyName.HIST_MEAN.value) -> pd.DataFrame:
    """Aggregate per-path rows into one row per (signal, strategy).

    Means across paths, with standard deviations (``*_sd``) for the headline measures. Rates
    (``cw_reject_rate``, ``oracle_cw_reject_rate``) are shares of paths. When ``baseline`` is
    among the strategies, ``mu_rmse_vs_baseline`` is the mean paired difference of
    ``mu_rmse_cond`` to it (negative = closer to the truth) and ``mu_rmse_vs_baseline_se`` its
    standard error across paths.
    """
    frame = paths.copy()
    if baseline in set(frame["strategy"]):
        base = frame[frame["strategy"] == baseline].set_index(["signal", "path"])["mu_rmse_cond"]
        keys = pd.MultiIndex.from_frame(frame[["signal", "path"]])
        paired = base.reindex(keys).to_numpy()
        frame["mu_rmse_vs_baseline"] = frame["mu_rmse_cond"].to_numpy() - paired
    else:
        frame["mu_rmse_vs_baseline"] = np.nan
    spec = {
        "n_paths": ("path", "nunique"),
        "r2_os": ("r2_os", "mean"),
        "r2_os_sd": ("r2_os", "std"),
        "oracle_r2_os": ("oracle_r2_os", "mean"),
        "cw_reject_rate": ("cw_reject", "mean"),
        "cw_ticker_reject_rate": ("cw_ticker_reject", "mean"),
        "oracle_cw_reject_rate": ("oracle_cw_reject", "mean"),
        "pbo": ("pbo", "mean"),
        "signal_rmse": ("signal_rmse", "mean"),
        "mu_rmse_cond": ("mu_rmse_cond", "mean"),
        "mu_rmse_cond_sd": ("mu_rmse_cond", "std"),
        "mu_rmse_uncond": ("mu_rmse_uncond", "mean"),
        "mu_rmse_vs_baseline": ("mu_rmse_vs_baseline", "mean"),
        "mu_rmse_vs_baseline_se": ("mu_rmse_vs_baseline", "sem"),
        "intensity": ("intensity", "mean"),
        "sharpe": ("sharpe", "mean"),
        "sharpe_sd": ("sharpe", "std"),
        "oracle_sharpe": ("oracle_sharpe", "mean"),
        "sharpe_gap": ("sharpe_gap", "mean"),
        "sharpe_gap_sd": ("sharpe_gap", "std"),
    }
    order = list(dict.fromkeys(frame["strategy"]))
    out = frame.groupby(["signal", "strategy"], sort=False).agg(**spec).reset_index()
    out["_order"] = out["strategy"].map(order.index)
    out = out.sort_values(["signal", "_order"], kind="stable", ignore_index=True)
    return out.drop(columns="_order")


def evaluate_models(market: SyntheticMarket, panel: ForecastPanel) -> pd.DataFrame:
    """Every model of one path against the historical mean, beside the infeasible oracle.

    Returns
    -------
    DataFrame
        One row per model: ``r2_os`` (pooled, against the historical mean), ``r2_os_vs_zero``,
        ``cw_p`` (pooled Clark-West) and ``cw_reject``; and, equal on every row,
        ``oracle_r2_os`` / ``oracle_cw_reject`` of the *infeasible* oracle (the historical
        mean plus the true predictable part: it knows the planted coefficients).
    """
    targets, dates = panel.tickers, panel.dates
    realised, hist = panel.realised.to_numpy(), panel.hist_mean.to_numpy()
    truth = market.conditional_mean.loc[dates, targets].to_numpy()
    uncond = np.broadcast_to(market.unconditional_mean[targets].to_numpy(), truth.shape)
    oracle = hist + (truth - uncond)
    oracle_reject = bool(_cw_p(realised, oracle, hist) < SIGNIFICANCE)
    rows = []
    for model, frame in panel.forecasts.items():
        forecast = frame.to_numpy()
        p = _cw_p(realised, forecast, hist)
        rows.append(
            {
                "model": model,
                "r2_os": oos_r2(realised, forecast, hist),
                "r2_os_vs_zero": oos_r2(realised, forecast, np.zeros_like(realised)),
                "cw_p": p,
                "cw_reject": bool(p < SIGNIFICANCE),
                "oracle_r2_os": oos_r2(realised, oracle, hist),
                "oracle_cw_reject": oracle_reject,
            }
        )
    return pd.DataFrame(rows)


def summarise_models(models: pd.DataFrame) -> pd.DataFrame:
    """Per (signal, model): mean R2_OS and its sd, and Clark-West rejection rate with its SE.

    The rejection rate's standard error is the binomial ``sqrt(p (1 - p) / n_paths)``.
    """
    grouped = models.groupby(["signal", "model"], sort=False)
    out = grouped.agg(
        n_paths=("path", "nunique"),
        r2_os=("r2_os", "mean"),
        r2_os_sd=("r2_os", "std"),
        r2_os_vs_zero=("r2_os_vs_zero", "mean"),
        cw_reject_rate=("cw_reject", "mean"),
        oracle_r2_os=("oracle_r2_os", "mean"),
        oracle_cw_reject_rate=("oracle_cw_reject", "mean"),
    ).reset_index()
    rate, n = out["cw_reject_rate"], out["n_paths"]
    out.insert(
        out.columns.get_loc("cw_reject_rate") + 1, "cw_reject_se", np.sqrt(rate * (1 - rate) / n)
    )
    out["r2_os_se"] = out["r2_os_sd"] / np.sqrt(n)
    return out
