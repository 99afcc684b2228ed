"""Mean-variance allocation: the Clarabel QP against the former SciPy SLSQP, side by side.

Two measurements in one process, the two solvers interleaved so that machine load hits both:

``per solve``
    One long-only capped mean-variance solve on a Ledoit-Wolf covariance of seeded synthetic
    monthly returns (vol 4-12%), at 7 and 50 assets: best and median microseconds per solve,
    the ratio, the largest weight difference and the worst utility difference (QP - SLSQP).
``whole allocation``
    Every strategy and both benchmarks (:func:`backtest.portfolio.rebalance.decide`) at every
    origin of an ``--assets`` x ``--months`` walk-forward with synthetic forecasts: wall time
    with the QP; SLSQP on the first ``--slsqp-origins`` origins (extrapolated linearly: it takes
    ~0.5 s a solve at 50 assets), and the weight and utility differences there. CPU seconds are
    printed too: on a shared machine they say more than the wall time.

Usage::

    python benchmarks/allocation.py
    python benchmarks/allocation.py --assets 50 --months 240 --slsqp-origins 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from unittest import mock

import numpy as np
import pandas as pd
from scipy.optimize import minimize

import strategies.allocation as allocation
from backtest.portfolio.rebalance import decide
from strategies import MarketView, StrategyName, ledoit_wolf_covariance
from strategies.qp import QPSolution


def slsqp_solve(hessian: np.ndarray, linear: np.ndarray, upper: float) -> QPSolution:
    """The former solver: SLSQP from equal weights, analytic gradient, ``ftol=1e-15``."""
    n_assets = linear.shape[0]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        h_w = hessian @ w
        return 0.5 * float(w @ h_w) + float(linear @ w), h_w + linear

    result = minimize(
        objective,
        np.full(n_assets, 1.0 / n_assets),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, upper)] * n_assets,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": np.ones_like}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return QPSolution(result.x, "Solved" if result.success else result.message, result.nit)


def synthetic_returns(n_assets: int, n_months: int, seed: int = 0) -> np.ndarray:
    """Seeded monthly log returns with one common factor (correlations ~0.3)."""
    rng = np.random.default_rng(seed)
    vol = rng.uniform(0.04, 0.12, n_assets)
    common = rng.standard_normal((n_months, 1))
    shocks = 0.55 * common + 0.835 * rng.standard_normal((n_months, n_assets))
    return rng.uniform(0.0, 0.015, n_assets) + vol * shocks


def utility(w: np.ndarray, mu: np.ndarray, cov: np.ndarray, gamma: float) -> float:
    return float(mu @ w - 0.5 * gamma * w @ cov @ w)


def timed(function: Callable, *args: object) -> tuple[float, object]:
    start = time.perf_counter()
    out = function(*args)
    return time.perf_counter() - start, out


def per_solve(n_assets: int, problems: int, gamma: float, cap: float) -> dict[str, float]:
    """Both solvers on the same ``problems`` covariances (36-month windows), interleaved."""
    returns = synthetic_returns(n_assets, 36 + problems, seed=n_assets)
    times: dict[str, list[float]] = {"qp": [], "slsqp": []}
    worst_weight, worst_utility = 0.0, np.inf
    for start in range(problems):
        window = returns[start : start + 36]
        cov = ledoit_wolf_covariance(np.expm1(window))
        mu = np.expm1(window).mean(axis=0)
        t_qp, w_qp = timed(allocation.mean_variance_weights, mu, cov, gamma, cap)
        with mock.patch.object(allocation, "solve_capped_budget_qp", slsqp_solve):
            t_sl, w_sl = timed(allocation.mean_variance_weights, mu, cov, gamma, cap)
        times["qp"].append(t_qp)
        times["slsqp"].append(t_sl)
        worst_weight = max(worst_weight, float(np.abs(w_qp - w_sl).max()))
        gap = utility(w_qp, mu, cov, gamma) - utility(w_sl, mu, cov, gamma)
        worst_utility = min(worst_utility, gap)
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    return {
        "assets": n_assets,
        "qp best us": 1e6 * best["qp"],
        "qp median us": 1e6 * median["qp"],
        "slsqp best us": 1e6 * best["slsqp"],
        "slsqp median us": 1e6 * median["slsqp"],
        "ratio (median)": median["slsqp"] / median["qp"],
        "max |w_qp - w_slsqp|": worst_weight,
        "min U_qp - U_slsqp": worst_utility,
    }


def market_views(n_assets: int, n_months: int, min_train: int) -> list[MarketView]:
    """One expanding-window view per origin, with noisy synthetic 'LSTM' forecasts."""
    returns = synthetic_returns(n_assets, min_train + n_months + 1)
    rng = np.random.default_rng(1)
    forecasts = returns[min_train:] * 0.1 + rng.normal(0.005, 0.01, returns[min_train:].shape)
    means = np.array([returns[: min_train + i].mean(axis=0) for i in range(n_months)])
    views = []
    for i in range(n_months):
        origin = min_train + i  # forecasts month origin + 1 with data up to `origin`
        scored = slice(0, max(i - 1, 0))  # forecasts whose month is realised by `origin`
        views.append(
            MarketView(
                returns=returns[: origin + 1],
                forecast=forecasts[i + 1],
                past_forecasts=forecasts[1:][scored],
                past_benchmarks=means[scored],
                past_realised=returns[min_train + 1 :][scored],
            )
        )
    return views


def decide_all(views: list[MarketView], tickers: list[str], gamma: float, cap: float) -> list:
    names = [s.value for s in StrategyName]
    origins = pd.date_range("2000-01-31", periods=len(views), freq="ME")
    return [
        decide(origin, view, tickers, names, gamma, cap)
        for origin, view in zip(origins, views, strict=True)
    ]


def whole_allocation(args: argparse.Namespace) -> dict[str, float]:
    views = market_views(args.assets, args.months, args.min_train)
    cpu_start = time.process_time()
    tickers = [f"T{i:02d}" for i in range(args.assets)]
    t_qp, qp = timed(decide_all, views, tickers, args.gamma, args.cap)
    cpu_qp = time.process_time() - cpu_start
    head = views[: args.slsqp_origins]
    with mock.patch.object(allocation, "solve_capped_budget_qp", slsqp_solve):
        t_sl, sl = timed(decide_all, head, tickers, args.gamma, args.cap)
    t_qp_head, _ = timed(decide_all, head, tickers, args.gamma, args.cap)
    weights_qp = np.array([d.weights.to_numpy() for d in qp[: len(head)]])
    weights_sl = np.array([d.weights.to_numpy() for d in sl])
    solves = weights_qp.shape[2] - 1  # every column but equal weight is a QP
    gaps = [utility_gap(view, a, b, args.gamma) for view, a, b in zip(head, qp, sl, strict=False)]
    return {
        "assets x months": f"{args.assets} x {args.months}",
        "solves": solves * len(views),
        "qp wall s (all origins)": t_qp,
        "qp CPU s (all origins)": cpu_qp,
        f"slsqp wall s ({len(head)} origins)": t_sl,
        f"qp wall s (same {len(head)} origins)": t_qp_head,
        "slsqp extrapolated s (all origins)": t_sl * len(views) / len(head),
        "ratio on the shared origins": t_sl / t_qp_head,
        "max |w_qp - w_slsqp|": float(np.abs(weights_qp - weights_sl).max()),
        "min U_qp - U_slsqp": min(gaps),
    }


def utility_gap(view: MarketView, qp, slsqp, gamma: float) -> float:
    """Worst utility difference (QP - SLSQP) over one origin's mean-variance problems."""
    cov = ledoit_wolf_covariance(np.expm1(view.returns))
    n_assets = cov.shape[0]
    worst = np.inf
    for name in qp.weights.columns:
        if name == "equal_weight":
            continue
        mu, g = (np.zeros(n_assets), 1.0) if name == "min_variance" else (None, gamma)
        mu = qp.mu_simple[name].to_numpy() if mu is None else mu
        w_qp, w_sl = qp.weights[name].to_numpy(), slsqp.weights[name].to_numpy()
        worst = min(worst, utility(w_qp, mu, cov, g) - utility(w_sl, mu, cov, g))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=30, help="solves per size (default 30)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[7, 50])
    parser.add_argument("--assets", type=int, default=50, help="whole allocation: assets")
    parser.add_argument("--months", type=int, default=240, help="whole allocation: origins")
    parser.add_argument("--min-train", type=int, default=60)
    parser.add_argument("--slsqp-origins", type=int, default=2, help="origins solved by SLSQP")
    parser.add_argument("--gamma", type=float, default=5.0)
    parser.add_argument("--cap", type=float, default=0.4)
    args = parser.parse_args()
    print("per solve (interleaved; under load when the machine is shared):")
    table = pd.DataFrame([per_solve(n, args.problems, args.gamma, args.cap) for n in args.sizes])
    print(table.set_index("assets").T.to_string(float_format=lambda x: f"{x:.4g}"))
    print("\nwhole allocation, every strategy and benchmark:")
    for key, value in whole_allocation(args).items():
        print(f"  {key:40s} {value:.4g}" if isinstance(value, float) else f"  {key:40s} {value}")


if __name__ == "__main__":
    main()
