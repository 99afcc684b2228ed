"""Mean-variance allocation: SciPy SLSQP (old), Clarabel (previous) and DAQP (now), side by side.

Two measurements in one process, the solvers interleaved so that machine load hits all alike:

``per solve``
    One long-only capped mean-variance problem on a Ledoit-Wolf covariance of seeded synthetic
    monthly returns (vol 4-12%), rolling 36-month windows, at 7 and 50 assets. Timed twice:
    the solver call alone (``solve_capped_budget_qp`` or its stand-in, on the same ``H`` and
    ``c``) and the whole :func:`strategies.mean_variance_weights` (its input checks, the same
    for every solver, included), and that call again on a :class:`strategies.CheckedCovariance`
    (checked once a date for the dozen problems that share it; its own cost is printed, and
    the ratio with it shared by those problems). Each problem's time is the best of
    ``--repeats`` calls (load spikes hit a 15-microsecond call harder than a millisecond one);
    then the best and the median over the problems, the ratios of the medians, the largest
    weight difference and the worst utility difference against SLSQP; and DAQP warm started
    from the previous window's weights (what last month's solution would give).
``whole allocation``
    Every strategy and both benchmarks (:func:`backtest.portfolio.rebalance.decide`) at every
    origin of an ``--assets`` x ``--months`` walk-forward with synthetic forecasts: wall and CPU
    time with DAQP and with Clarabel on all origins, SLSQP on the first ``--slsqp-origins``
    (extrapolated linearly: it takes ~0.5 s a solve at 50 assets), and the weight and utility
    differences there. On a shared machine the CPU seconds say more than the wall time.

Usage::

    python benchmarks/allocation.py
    python benchmarks/allocation.py --assets 50 --months 240 --slsqp-origins 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import lru_cache, partial
from unittest import mock

import clarabel
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import minimize

import strategies.allocation as allocation
from backtest.portfolio.rebalance import decide
from strategies import MarketView, StrategyName, ledoit_wolf_covariance
from strategies.qp import QPSolution, solve_capped_budget_qp


def slsqp_solve(hessian: np.ndarray, linear: np.ndarray, upper: float) -> QPSolution:
    """The old solver: SLSQP from equal weights, analytic gradient, ``ftol=1e-15``."""
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


@lru_cache(maxsize=1)
def _clarabel_settings() -> clarabel.DefaultSettings:
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.max_threads = 1
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-12
    return settings


@lru_cache(maxsize=64)
def _clarabel_constraints(n_assets: int, upper: float) -> tuple:
    eye = sparse.identity(n_assets, format="csc")
    blocks = [sparse.csc_matrix(np.ones((1, n_assets))), -eye]
    bounds = [np.ones(1), np.zeros(n_assets)]
    if upper < 1.0:
        blocks.append(eye)
        bounds.append(np.full(n_assets, upper))
    cones = [clarabel.ZeroConeT(1), clarabel.NonnegativeConeT(n_assets * (len(blocks) - 1))]
    return sparse.vstack(blocks, format="csc"), np.concatenate(bounds), cones


@lru_cache(maxsize=64)
def _upper_triangle(n_assets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(n_assets)
    order = np.lexsort((rows, cols))
    indptr = np.concatenate([[0], np.cumsum(np.arange(1, n_assets + 1))])
    return rows[order], cols[order], indptr


def clarabel_solve(hessian: np.ndarray, linear: np.ndarray, upper: float) -> QPSolution:
    """The previous solver as it was (``strategies/qp.py`` before DAQP): Clarabel, tolerances
    1e-12 on the objective scaled to order one, one thread, cached constraint matrices."""
    n_assets = linear.shape[0]
    magnitude = max(float(np.trace(hessian)) / n_assets, float(np.abs(linear).max()))
    scale = 1.0 / magnitude if magnitude > 0 else 1.0
    rows, cols, indptr = _upper_triangle(n_assets)
    p_matrix = sparse.csc_matrix(
        (scale * hessian[rows, cols], rows, indptr), shape=(n_assets, n_assets)
    )
    a_matrix, b_vector, cones = _clarabel_constraints(n_assets, float(upper))
    solver = clarabel.DefaultSolver(
        p_matrix, scale * linear, a_matrix, b_vector, cones, _clarabel_settings()
    )
    result = solver.solve()
    return QPSolution(np.asarray(result.x, dtype=float), str(result.status), result.iterations)


#: Mean-variance problems that share one date's covariance in ``decide`` (every strategy, and
#: minimum variance), the calls a :class:`strategies.CheckedCovariance` is checked once for.
STRATEGIES_PER_DATE = len(StrategyName) + 1

SOLVERS: dict[str, Callable[..., QPSolution]] = {
    "slsqp": slsqp_solve,
    "clarabel": clarabel_solve,
    "daqp": solve_capped_budget_qp,
}


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


def best_of(repeats: int, function: Callable, *args: object) -> tuple[float, object]:
    """The fastest of ``repeats`` calls (fewer once they add up to 0.05 s: an SLSQP solve at 50
    assets takes ~0.5 s, far above the microseconds of noise that repeating filters out)."""
    best, spent = np.inf, 0.0
    for _ in range(repeats):
        seconds, out = timed(function, *args)
        best, spent = min(best, seconds), spent + seconds
        if spent > 0.05:
            break
    return best, out


def per_solve(
    n_assets: int, problems: int, gamma: float, cap: float, repeats: int
) -> dict[str, float]:
    """Every solver on the same ``problems`` covariances (36-month windows), interleaved."""
    returns = synthetic_returns(n_assets, 36 + problems, seed=n_assets)
    call: dict[str, list[float]] = {name: [] for name in [*SOLVERS, "daqp warm"]}
    whole: dict[str, list[float]] = {name: [] for name in [*SOLVERS, "daqp, checked cov"]}
    checks: list[float] = []
    iterations: dict[str, list[int]] = {"daqp": [], "daqp warm": []}
    weight_gap = dict.fromkeys(["clarabel", "daqp", "daqp, checked cov"], 0.0)
    utility_gap = dict.fromkeys(["clarabel", "daqp", "daqp, checked cov"], np.inf)
    previous = None
    for start in range(problems):
        window = np.expm1(returns[start : start + 36])
        cov, mu = ledoit_wolf_covariance(window), window.mean(axis=0)
        weights = {}
        for name, solve in SOLVERS.items():
            seconds, solution = best_of(repeats, solve, gamma * cov, -mu, cap)
            call[name].append(seconds)
            with mock.patch.object(allocation, "solve_capped_budget_qp", solve):
                seconds, weights[name] = best_of(
                    repeats, allocation.mean_variance_weights, mu, cov, gamma, cap
                )
            whole[name].append(seconds)
        seconds, checked = best_of(repeats, allocation.CheckedCovariance, cov)
        checks.append(seconds)
        seconds, weights["daqp, checked cov"] = best_of(
            repeats, allocation.mean_variance_weights, mu, checked, gamma, cap
        )
        whole["daqp, checked cov"].append(seconds)
        iterations["daqp"].append(solution.iterations)
        if previous is not None:  # last window's weights start this one's working set
            seconds, warm = best_of(
                repeats, solve_capped_budget_qp, gamma * cov, -mu, cap, previous
            )
            call["daqp warm"].append(seconds)
            iterations["daqp warm"].append(warm.iterations)
        previous = weights["daqp"]
        for name in weight_gap:
            difference = np.abs(weights[name] - weights["slsqp"]).max()
            weight_gap[name] = max(weight_gap[name], float(difference))
            gap = utility(weights[name], mu, cov, gamma) - utility(weights["slsqp"], mu, cov, gamma)
            utility_gap[name] = min(utility_gap[name], gap)
    call_median = {name: statistics.median(v) for name, v in call.items()}
    whole_median = {name: statistics.median(v) for name, v in whole.items()}
    row: dict[str, float] = {"assets": n_assets}
    for name, values in call.items():
        row[f"call best us: {name}"] = 1e6 * min(values)
    for name, value in call_median.items():
        row[f"call median us: {name}"] = 1e6 * value
    for name in ["clarabel", "daqp", "daqp warm"]:
        row[f"call ratio slsqp/{name} (medians)"] = call_median["slsqp"] / call_median[name]
    row["call ratio clarabel/daqp (medians)"] = call_median["clarabel"] / call_median["daqp"]
    for name, value in whole_median.items():
        row[f"whole mean_variance_weights median us: {name}"] = 1e6 * value
    for name in ["clarabel", "daqp", "daqp, checked cov"]:
        row[f"whole ratio slsqp/{name} (medians)"] = whole_median["slsqp"] / whole_median[name]
    check_median = statistics.median(checks)
    row["CheckedCovariance(cov) median us (once a date)"] = 1e6 * check_median
    shared = whole_median["daqp, checked cov"] + check_median / STRATEGIES_PER_DATE
    row[f"whole ratio slsqp/daqp, check shared by {STRATEGIES_PER_DATE}"] = (
        whole_median["slsqp"] / shared
    )
    row["daqp iterations, mean: cold"] = float(np.mean(iterations["daqp"]))
    row["daqp iterations, mean: warm"] = float(np.mean(iterations["daqp warm"]))
    for name in weight_gap:
        row[f"max |w_{name} - w_slsqp|"] = weight_gap[name]
        row[f"min U_{name} - U_slsqp"] = utility_gap[name]
    return row


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


def whole_allocation(args: argparse.Namespace) -> dict[str, float | str]:
    """Every origin with DAQP and with Clarabel; the first ``--slsqp-origins`` with SLSQP."""
    views = market_views(args.assets, args.months, args.min_train)
    tickers = [f"T{i:02d}" for i in range(args.assets)]
    run = partial(decide_all, tickers=tickers, gamma=args.gamma, cap=args.cap)
    head = views[: args.slsqp_origins]
    out: dict[str, float | str] = {"assets x months": f"{args.assets} x {args.months}"}
    decisions, seconds = {}, {}
    for name in ["daqp", "clarabel"]:
        with mock.patch.object(allocation, "solve_capped_budget_qp", SOLVERS[name]):
            cpu_start = time.process_time()
            seconds[name], decisions[name] = timed(run, views)
            out[f"{name} CPU s (all origins)"] = time.process_time() - cpu_start
        out[f"{name} wall s (all origins)"] = seconds[name]
    out["ratio clarabel/daqp, all origins (wall)"] = seconds["clarabel"] / seconds["daqp"]
    with mock.patch.object(allocation, "solve_capped_budget_qp", slsqp_solve):
        t_slsqp, slsqp = timed(run, head)
    t_head, _ = timed(run, head)
    solved_by_qp = decisions["daqp"][0].weights.shape[1] - 1  # every column but equal weight
    out["QP solves"] = solved_by_qp * len(views)
    out[f"slsqp wall s ({len(head)} origins)"] = t_slsqp
    out[f"daqp wall s (same {len(head)} origins)"] = t_head
    out["slsqp extrapolated s (all origins)"] = t_slsqp * len(views) / len(head)
    out["ratio slsqp/daqp on the shared origins"] = t_slsqp / t_head
    in_solver, cpu_in_solver, cpu_total = time_in_solver(run, views)
    out["daqp: wall s inside solve_capped_budget_qp"] = in_solver
    out["daqp: CPU s inside it, of the run's CPU s"] = f"{cpu_in_solver:.3g} of {cpu_total:.3g}"
    stack = {name: np.array([d.weights.to_numpy() for d in ds]) for name, ds in decisions.items()}
    out["max |w_daqp - w_clarabel| (all origins)"] = float(
        np.abs(stack["daqp"] - stack["clarabel"]).max()
    )
    out["min U_daqp - U_clarabel (all origins)"] = min(
        utility_gap(view, a, b, args.gamma)
        for view, a, b in zip(views, decisions["daqp"], decisions["clarabel"], strict=True)
    )
    head_slsqp = np.array([d.weights.to_numpy() for d in slsqp])
    out["max |w_daqp - w_slsqp| (shared origins)"] = float(
        np.abs(stack["daqp"][: len(head)] - head_slsqp).max()
    )
    out["min U_daqp - U_slsqp (shared origins)"] = min(
        utility_gap(view, a, b, args.gamma)
        for view, a, b in zip(head, decisions["daqp"], slsqp, strict=False)
    )
    return out


def time_in_solver(run: Callable, views: list[MarketView]) -> tuple[float, float, float]:
    """Wall and CPU seconds inside DAQP's solve over a whole allocation, and the run's CPU."""
    spent = [0.0, 0.0]

    def counted(*args: object) -> QPSolution:
        cpu_start = time.process_time()
        seconds, solution = timed(solve_capped_budget_qp, *args)
        spent[0] += seconds
        spent[1] += time.process_time() - cpu_start
        return solution

    cpu_start = time.process_time()
    with mock.patch.object(allocation, "solve_capped_budget_qp", counted):
        run(views)
    return spent[0], spent[1], time.process_time() - cpu_start


def utility_gap(view: MarketView, new, old, gamma: float) -> float:
    """Worst utility difference (new - old) over one origin's mean-variance problems."""
    cov = ledoit_wolf_covariance(np.expm1(view.returns))
    n_assets = cov.shape[0]
    worst = np.inf
    for name in new.weights.columns:
        if name == "equal_weight":
            continue
        mu, g = (np.zeros(n_assets), 1.0) if name == "min_variance" else (None, gamma)
        mu = new.mu_simple[name].to_numpy() if mu is None else mu
        w_new, w_old = new.weights[name].to_numpy(), old.weights[name].to_numpy()
        worst = min(worst, utility(w_new, mu, cov, g) - utility(w_old, mu, cov, g))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=30, help="problems per size (default 30)")
    parser.add_argument("--repeats", type=int, default=5, help="calls per problem, best kept")
    parser.add_argument("--sizes", type=int, nargs="+", default=[7, 50])
    parser.add_argument("--assets", type=int, default=50, help="whole allocation: assets")
    parser.add_argument("--months", type=int, default=240, help="whole allocation: origins")
    parser.add_argument("--min-train", type=int, default=60)
    parser.add_argument("--slsqp-origins", type=int, default=2, help="origins solved by SLSQP")
    parser.add_argument("--gamma", type=float, default=5.0)
    parser.add_argument("--cap", type=float, default=0.4)
    args = parser.parse_args()
    print(
        f"per solve: best of {args.repeats} calls on each of {args.problems} problems, then the "
        "best and the median over the problems (interleaved; under load on a shared machine):"
    )
    rows = [per_solve(n, args.problems, args.gamma, args.cap, args.repeats) for n in args.sizes]
    table = pd.DataFrame(rows)
    print(table.set_index("assets").T.to_string(float_format=lambda x: f"{x:.4g}"))
    print("\nwhole allocation, every strategy and benchmark:")
    for key, value in whole_allocation(args).items():
        print(f"  {key:46s} {value:.4g}" if isinstance(value, float) else f"  {key:46s} {value}")


if __name__ == "__main__":
    main()
