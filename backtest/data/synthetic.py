r"""Synthetic market with a planted, known signal, to test the engine on data whose truth is known.

Model
-----
Relative assets (``n_rel``) and targets (``n_tgt``) have monthly log returns ``x_t`` and ``r_t``.
The calibrated joint covariance of contemporaneous returns (targets first) is split into blocks
``S_rr, S_rx, S_xx``. With ``G = S_rx S_xx^{-1}`` and loadings ``B`` (``(n_tgt, n_rel)``)::

    x_t     ~ iid N(m_x, S_xx)                                    t = 0, 1, ..., n_months
    e_t     = G (x_t - m_x) + u_t,   u_t ~ iid N(0, S_u), u independent of every x
    r_t     = m_r + B (x_{t-1} - m_x) + e_t                       t = 1, ..., n_months
    S_u     = S_rr - G S_xx G' - B S_xx B'

so that ``Cov(r_t) = S_rr`` and ``Cov(r_t, x_t) = S_rx`` whatever the signal strength: the targets
co-move with the relatives like the calibration data, but only ``B (x_{t-1} - m_x)`` is
predictable. ``x_0`` is a pre-sample draw from the same distribution; it is not in the output.

Signal. ``B_i = sqrt(R2 S_rr[i, i]) q_i S_xx^{-1/2}`` where the ``q_i`` are seeded random unit
vectors (rows of a Haar-random orthogonal matrix, so mutually orthogonal when
``n_tgt <= n_rel``: the planted signals of different targets are then uncorrelated). Hence
``Var(B_i x) = R2 S_rr[i, i]`` and the population R2 of each target,
``Var(B_i x) / (Var(B_i x) + Var(e_i))``, is exactly ``R2``. ``S_u`` must stay positive
semi-definite: with ``C = S_rr - G S_xx G'``, ``V = diag(S_rr)`` and ``Omega = Q Q'`` this holds
iff ``R2 <= 1 / lambda_max(C^{-1} V^{1/2} Omega V^{1/2})`` (see :meth:`MarketModel.max_signal_r2`).

Truth saved with the data: ``E[r_t | x_{t-1}] = m_r + B (x_{t-1} - m_x)`` and ``E[r_t] = m_r``.
Prices start at 100 and cumulate ``exp`` of the log returns, on month-end dates.

One market model: calibration, the TOML round trip and simulation share its invariants
(positive-definite factors, feasible signal), which is why it runs past ~300 lines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.stats
from sklearn.covariance import ledoit_wolf

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_TOML_KEYS = (
    "target_names",
    "relative_names",
    "target_mean",
    "relative_mean",
    "target_vol",
    "relative_vol",
    "correlation",
)
_PSD_TOL = 1e-10


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """Return ``F`` with ``F F' = cov`` for a PSD (possibly singular) matrix."""
    eigval, eigvec = np.linalg.eigh(cov)
    return eigvec * np.sqrt(np.clip(eigval, 0.0, None))


def _min_eig_ratio(mat: np.ndarray) -> float:
    eigval = np.linalg.eigvalsh(mat)
    return float(eigval[0] / max(abs(eigval[-1]), np.finfo(float).tiny))


@dataclass(frozen=True, eq=False)
class MarketModel:
    """Means and joint covariance of monthly log returns of targets and relative assets.

    Parameters
    ----------
    target_names, relative_names : tuple of str
        Asset names; targets come first in every array.
    target_mean : ndarray of shape (n_tgt,)
        ``m_r``, mean monthly log return of each target.
    relative_mean : ndarray of shape (n_rel,)
        ``m_x``, mean monthly log return of each relative asset.
    covariance : ndarray of shape (n_tgt + n_rel, n_tgt + n_rel)
        Joint covariance of contemporaneous monthly log returns, targets first. Must be
        positive semi-definite, with a positive definite relative block ``S_xx``.
    """

    target_names: tuple[str, ...]
    relative_names: tuple[str, ...]
    target_mean: np.ndarray
    relative_mean: np.ndarray
    covariance: np.ndarray

    def __post_init__(self) -> None:
        names = tuple(self.target_names) + tuple(self.relative_names)
        if not self.target_names or not self.relative_names:
            raise ValueError(
                f"need at least one target and one relative, got targets="
                f"{list(self.target_names)}, relatives={list(self.relative_names)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(
                f"asset names must be unique across targets and relatives, got {names}"
            )
        n_tgt, n_all = len(self.target_names), len(names)
        arrays = {
            "target_mean": (self.target_mean, (n_tgt,)),
            "relative_mean": (self.relative_mean, (n_all - n_tgt,)),
            "covariance": (self.covariance, (n_all, n_all)),
        }
        for name, (value, shape) in arrays.items():
            arr = np.array(value, dtype=float)
            if arr.shape != shape:
                raise ValueError(
                    f"`{name}` must have shape {shape} to match the names, got {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"`{name}` must be finite, got {arr}")
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "target_names", tuple(self.target_names))
        object.__setattr__(self, "relative_names", tuple(self.relative_names))
        cov = self.covariance
        if not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * np.abs(cov).max()):
            raise ValueError("`covariance` must be symmetric; symmetrise it with (C + C.T) / 2")
        if _min_eig_ratio(cov) < -_PSD_TOL:
            raise ValueError(
                f"`covariance` must be positive semi-definite, smallest eigenvalue is "
                f"{np.linalg.eigvalsh(cov)[0]:.3g}; shrink it (e.g. Ledoit-Wolf)"
            )
        if _min_eig_ratio(cov[n_tgt:, n_tgt:]) <= _PSD_TOL:
            raise ValueError(
                "the relatives' covariance block must be positive definite (no "
                "relative may be a linear combination of the others); drop one"
            )

    @property
    def volatility(self) -> np.ndarray:
        """Monthly log-return standard deviations, shape ``(n_tgt + n_rel,)``, targets first."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix of contemporaneous log returns, targets first."""
        vol = self.volatility
        corr = self.covariance / np.outer(vol, vol)
        np.fill_diagonal(corr, 1.0)
        return corr

    @classmethod
    def calibrate(
        cls, prices: pd.DataFrame, targets: Sequence[str], relatives: Sequence[str]
    ) -> MarketModel:
        """Calibrate from month-end prices.

        Parameters
        ----------
        prices : DataFrame of shape (n_months, n_assets)
            Month-end prices, rows in time order, no missing values in the chosen columns.
        targets, relatives : sequence of str
            Column names of the targets and of the relative assets.

        Returns
        -------
        MarketModel

        Notes
        -----
        With ``r = diff(log(prices))``: means are sample means, volatilities sample standard
        deviations (ddof=1), and the correlation is the Ledoit-Wolf (2004) shrinkage of the
        standardised returns' covariance toward the identity, which keeps every volatility as
        measured and makes the relatives' block positive definite.

        References
        ----------
        Ledoit, O. and Wolf, M. (2004). A well-conditioned estimator for large-dimensional
        covariance matrices. Journal of Multivariate Analysis 88(2), 365-411.
        """
        columns = list(targets) + list(relatives)
        missing = [c for c in columns if c not in prices.columns]
        if missing:
            raise ValueError(
                f"`prices` has no column(s) {missing}; available: {list(prices.columns)}"
            )
        panel = prices[columns].to_numpy(dtype=float)
        if np.isnan(panel).any() or (panel <= 0).any():
            raise ValueError(
                "`prices` must be positive with no missing values in the chosen "
                "columns; trim the rows before every asset's first price"
            )
        log_returns = np.diff(np.log(panel), axis=0)
        if log_returns.shape[0] < 2:
            raise ValueError(
                f"need at least 3 price rows (2 returns) to calibrate, got {panel.shape[0]}"
            )
        standardised = (log_returns - log_returns.mean(0)) / log_returns.std(0)
        corr = ledoit_wolf(standardised)[0]
        corr = corr / np.sqrt(np.outer(np.diag(corr), np.diag(corr)))
        vol = log_returns.std(0, ddof=1)
        n_tgt = len(targets)
        mean = log_returns.mean(0)
        return cls(
            tuple(targets), tuple(relatives), mean[:n_tgt], mean[n_tgt:], corr * np.outer(vol, vol)
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> MarketModel:
        """Read a model from a TOML file.

        Parameters
        ----------
        path : str or Path
            TOML file with exactly the top-level keys ``target_names``, ``relative_names``
            (lists of str), ``target_mean``, ``relative_mean``, ``target_vol``, ``relative_vol``
            (monthly log-return means and standard deviations, one per name) and
            ``correlation`` (square list of lists, targets first, unit diagonal, PSD).

        Returns
        -------
        MarketModel
        """
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        missing = [k for k in _TOML_KEYS if k not in data]
        unknown = sorted(set(data) - set(_TOML_KEYS))
        if missing or unknown:
            raise ValueError(
                f"TOML file {path} has missing key(s) {missing} and unknown key(s) "
                f"{unknown}; expected exactly {list(_TOML_KEYS)}"
            )
        n_tgt, n_rel = len(data["target_names"]), len(data["relative_names"])
        for key, n in (("target_vol", n_tgt), ("relative_vol", n_rel)):
            if np.shape(data[key]) != (n,):
                raise ValueError(
                    f"`{key}` in {path} must have {n} entries (one per name), "
                    f"got shape {np.shape(data[key])}"
                )
        vol = np.array(data["target_vol"] + data["relative_vol"], dtype=float)
        if not np.all(vol > 0):
            raise ValueError(f"volatilities in {path} must be positive, got {vol}")
        try:
            corr = np.array(data["correlation"], dtype=float)
        except ValueError as exc:
            raise ValueError(f"`correlation` in {path} must be a square list of lists") from exc
        n_all = n_tgt + n_rel
        if corr.shape != (n_all, n_all):
            raise ValueError(
                f"`correlation` in {path} must have shape ({n_all}, {n_all}), targets "
                f"first, got {corr.shape}"
            )
        if not np.allclose(np.diag(corr), 1.0, atol=1e-8) or not np.allclose(corr, corr.T):
            raise ValueError(f"`correlation` in {path} must be symmetric with unit diagonal")
        if np.linalg.eigvalsh(corr)[0] < -_PSD_TOL:
            raise ValueError(
                f"`correlation` in {path} is not positive semi-definite (smallest "
                f"eigenvalue {np.linalg.eigvalsh(corr)[0]:.3g}); fix its entries"
            )
        return cls(
            tuple(data["target_names"]),
            tuple(data["relative_names"]),
            np.array(data["target_mean"], dtype=float),
            np.array(data["relative_mean"], dtype=float),
            corr * np.outer(vol, vol),
        )

    def to_toml(self, path: str | Path) -> None:
        """Write the model in the format read by :meth:`from_toml` (floats round-trip exactly)."""
        n_tgt, vol = len(self.target_names), self.volatility

        def fmt(values: np.ndarray | Sequence[str]) -> str:
            return (
                "["
                + ", ".join(json.dumps(v) if isinstance(v, str) else repr(float(v)) for v in values)
                + "]"
            )

        rows = ",\n  ".join(fmt(row) for row in self.correlation)
        Path(path).write_text(
            "# Monthly log-return means and volatilities; correlation targets first.\n"
            f"target_names = {fmt(self.target_names)}\n"
            f"relative_names = {fmt(self.relative_names)}\n"
            f"target_mean = {fmt(self.target_mean)}\nrelative_mean = {fmt(self.relative_mean)}\n"
            f"target_vol = {fmt(vol[:n_tgt])}\nrelative_vol = {fmt(vol[n_tgt:])}\n"
            f"correlation = [\n  {rows},\n]\n",
            encoding="utf-8",
        )

    def _blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_tgt = len(self.target_names)
        cov = self.covariance
        return cov[:n_tgt, :n_tgt], cov[:n_tgt, n_tgt:], cov[n_tgt:, n_tgt:]

    def _unexplained_covariance(self) -> np.ndarray:
        """``C = S_rr - S_rx S_xx^{-1} S_xr``, the targets' covariance not explained by x_t."""
        s_rr, s_rx, s_xx = self._blocks()
        return s_rr - s_rx @ np.linalg.solve(s_xx, s_rx.T)

    def max_signal_r2(self, directions: np.ndarray | None = None) -> float:
        """Largest feasible population R2 for the planted signal.

        Parameters
        ----------
        directions : ndarray of shape (n_tgt, n_rel), optional
            Unit rows ``q_i`` in whitened relative space. None means mutually orthogonal rows
            (what :meth:`simulate` draws when ``n_tgt <= n_rel``); the bound then does not depend
            on the seed.

        Returns
        -------
        float
            ``1 / lambda_max(C^{-1} V^{1/2} Omega V^{1/2})``, ``Omega = Q Q'``; 0 if ``C`` is
            singular (a target fully explained by the contemporaneous relatives).
        """
        n_tgt = len(self.target_names)
        omega = np.eye(n_tgt) if directions is None else directions @ directions.T
        sd = np.sqrt(np.diag(self._blocks()[0]))
        try:
            eig = scipy.linalg.eigh(
                omega * np.outer(sd, sd), self._unexplained_covariance(), eigvals_only=True
            )
        except np.linalg.LinAlgError:
            return 0.0
        return float(1.0 / eig[-1])

    def simulate(
        self, n_months: int, signal_r2: float, random_state: int | None, start: str = "2000-01"
    ) -> SyntheticMarket:
        """Simulate prices whose targets load on last month's relative returns.

        Parameters
        ----------
        n_months : int
            Number of monthly returns (at least 2); prices have ``n_months + 1`` rows.
        signal_r2 : float
            Population R2 of each target on last month's relatives, in ``[0, 1)`` and at most
            the model's feasible bound (:meth:`max_signal_r2`).
        random_state : int or None
            Seed of ``np.random.default_rng``; the same seed gives identical output, and for a
            given seed the relatives' path does not depend on ``signal_r2``.
        start : str, default "2000-01"
            Month of the first price (100 for every asset).

        Returns
        -------
        SyntheticMarket
        """
        if isinstance(n_months, bool) or not isinstance(n_months, Integral) or n_months < 2:
            raise ValueError(f"`n_months` must be an integer >= 2, got {n_months!r}")
        if isinstance(random_state, bool) or not (
            random_state is None or isinstance(random_state, Integral)
        ):
            raise TypeError(f"`random_state` must be an int or None, got {random_state!r}")
        try:
            dates = pd.period_range(pd.Period(start, "M"), periods=n_months + 1, freq="M")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"`start` must be a month such as '2000-01', got {start!r}") from exc
        rng = np.random.default_rng(random_state)
        n_tgt, n_rel = len(self.target_names), len(self.relative_names)
        haar = scipy.stats.ortho_group.rvs(max(n_tgt, n_rel, 2), random_state=rng)
        directions = haar[:n_tgt, :n_rel]
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        loadings = signal_loadings(self, signal_r2, directions)
        s_rr, s_rx, s_xx = self._blocks()
        gain = np.linalg.solve(s_xx, s_rx.T).T
        s_u = self._unexplained_covariance() - loadings @ s_xx @ loadings.T
        x = self.relative_mean + rng.standard_normal((n_months + 1, n_rel)) @ _psd_factor(s_xx).T
        u = rng.standard_normal((n_months, n_tgt)) @ _psd_factor(s_u).T
        cond = conditional_mean(self, loadings, x[:-1])
        r = cond + (x[1:] - self.relative_mean) @ gain.T + u
        index = pd.DatetimeIndex(dates.to_timestamp(how="end").normalize(), name="date", freq=None)
        columns = list(self.target_names) + list(self.relative_names)
        log_returns = pd.DataFrame(np.hstack([r, x[1:]]), index=index[1:], columns=columns)
        return SyntheticMarket(
            start_date=index[0],
            log_returns=log_returns,
            conditional_mean=pd.DataFrame(cond, index=index[1:], columns=list(self.target_names)),
            unconditional_mean=pd.Series(
                self.target_mean, index=list(self.target_names), name="unconditional_mean"
            ),
            loadings=loadings,
            signal_r2=float(signal_r2),
            model=self,
        )


def signal_loadings(model: MarketModel, signal_r2: float, directions: np.ndarray) -> np.ndarray:
    """Compute loadings ``B`` planting population R2 ``signal_r2`` along whitened ``directions``.

    Parameters
    ----------
    model : MarketModel
    signal_r2 : float
        Target population R2 in ``[0, 1)``, at most ``model.max_signal_r2(directions)``.
    directions : ndarray of shape (n_tgt, n_rel)
        Unit rows ``q_i`` in whitened relative space.

    Returns
    -------
    ndarray of shape (n_tgt, n_rel)
        ``B_i = sqrt(signal_r2 S_rr[i, i]) q_i S_xx^{-1/2}``, so that
        ``Var(B_i x) = signal_r2 S_rr[i, i]``.
    """
    if not isinstance(signal_r2, Real) or not 0.0 <= signal_r2 < 1.0:
        raise ValueError(f"`signal_r2` must be a number in [0, 1), got {signal_r2!r}")
    bound = model.max_signal_r2(directions)
    if signal_r2 > bound * (1 + 1e-9):
        raise ValueError(
            f"`signal_r2`={signal_r2} is infeasible for this model: the targets' "
            f"variance not explained by the contemporaneous relatives leaves room for "
            f"at most {bound:.4f}; choose signal_r2 <= {bound:.4f}"
        )
    s_rr, _, s_xx = model._blocks()
    eigval, eigvec = np.linalg.eigh(s_xx)
    inv_sqrt = (eigvec / np.sqrt(eigval)) @ eigvec.T
    return np.sqrt(signal_r2 * np.diag(s_rr))[:, None] * directions @ inv_sqrt


def conditional_mean(
    model: MarketModel, loadings: np.ndarray, relative_log_returns: np.ndarray
) -> np.ndarray:
    """Compute the true conditional mean of next month's targets, ``m_r + B (x_t - m_x)``.

    Parameters
    ----------
    model : MarketModel
    loadings : ndarray of shape (n_tgt, n_rel)
    relative_log_returns : array-like of shape (n_periods, n_rel)
        ``x_t`` in rows.

    Returns
    -------
    ndarray of shape (n_periods, n_tgt)
        Row ``t`` is ``E[r_{t+1} | x_t]``; it depends on row ``t`` of the input only.
    """
    x = np.asarray(relative_log_returns, dtype=float)
    n_rel = len(model.relative_names)
    if x.ndim != 2 or x.shape[1] != n_rel:
        raise ValueError(
            f"`relative_log_returns` must have shape (n_periods, {n_rel}), got {x.shape}"
        )
    return model.target_mean + (x - model.relative_mean) @ np.asarray(loadings).T


@dataclass(frozen=True, eq=False)
class SyntheticMarket:
    """One simulated market and its known truth.

    Attributes
    ----------
    start_date : Timestamp
        Month end of the first price.
    log_returns : DataFrame of shape (n_months, n_tgt + n_rel)
        Targets first, month-end index named "date".
    conditional_mean : DataFrame of shape (n_months, n_tgt)
        ``E[r_t | x_{t-1}]``, indexed by the month ``t`` it is for (the first row uses the
        pre-sample draw ``x_0``).
    unconditional_mean : Series of shape (n_tgt,)
        ``m_r``.
    loadings : ndarray of shape (n_tgt, n_rel)
        ``B``.
    signal_r2 : float
    model : MarketModel
        The model that generated the data.
    """

    start_date: pd.Timestamp
    log_returns: pd.DataFrame
    conditional_mean: pd.DataFrame
    unconditional_mean: pd.Series
    loadings: np.ndarray
    signal_r2: float
    model: MarketModel

    @property
    def prices(self) -> pd.DataFrame:
        """Month-end prices, shape ``(n_months + 1, n_tgt + n_rel)``, all starting at 100.

        Raises
        ------
        OverflowError
            If a cumulative log return passes 700 (beyond float64); long simulations should use
            ``log_returns``.
        """
        cum = np.cumsum(self.log_returns.to_numpy(), axis=0)
        if np.abs(cum).max() > 700:
            raise OverflowError(
                f"prices of this {len(cum)}-month simulation overflow float64 "
                f"(cumulative log return {np.abs(cum).max():.0f}); use "
                f"`log_returns`, or simulate fewer months"
            )
        index = pd.DatetimeIndex([self.start_date, *self.log_returns.index], name="date")
        return pd.DataFrame(
            100.0 * np.exp(np.vstack([np.zeros(cum.shape[1]), cum])),
            index=index,
            columns=self.log_returns.columns,
        )

    def population_r2(self) -> np.ndarray:
        """Per-target population R2, ``diag(B S_xx B') / diag(S_rr)``, from the parameters."""
        s_rr, _, s_xx = self.model._blocks()
        return np.diag(self.loadings @ s_xx @ self.loadings.T) / np.diag(s_rr)
