"""The result of comparing runs: the statistics across the grid, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ComparisonResult:
    """Statistics across the configurations of several runs.

    Attributes
    ----------
    run_dirs, variants : tuple of str
        The run directories compared and their variant labels, in the order given.
    returns : pandas.DataFrame of shape (n_months, n_configurations)
        Net simple returns on the common months, one column per configuration tried.
    table : pandas.DataFrame
        One row per configuration, best net Sharpe first. Index "configuration"; columns
        variant, strategy, role, sharpe, sharpe_diff_vs_1N, ci_low, ci_high, p_value, p_holm,
        dsr, beats_1N, best (see :func:`backtest.compare.stats.sharpe_table`).
    forecast_tests : pandas.DataFrame
        Diebold-Mariano and Clark-West rows of every model of every run, named
        ``variant/model`` (see :func:`backtest.compare.stats.forecast_tests`).
    pbo, prob_oos_below_median, prob_oos_loss : float
        CSCV probability of backtest overfitting and companions.
    n_blocks : int
        CSCV blocks S (:func:`backtest.evaluation.overfitting.choose_n_blocks`).
    logits : pandas.DataFrame
        One row per CSCV split: logit, is_sharpe, oos_sharpe (per-month Sharpe of the
        in-sample winner in and out of sample).
    best : str
        Configuration with the highest net Sharpe ratio.
    best_dsr : float
        Its deflated Sharpe ratio with N = ``n_configurations``.
    expected_max_sharpe : float
        Annualised Sharpe ratio the best of N zero-skill configurations would show.
    risk_free, alpha, n_boot, mean_block, random_state
        Settings of the tests.
    verdict : str
        The conclusion in plain words.
    notes : tuple of str
        Merges and drops made while aligning the runs.
    """

    run_dirs: tuple[str, ...]
    variants: tuple[str, ...]
    returns: pd.DataFrame
    table: pd.DataFrame
    forecast_tests: pd.DataFrame
    pbo: float
    prob_oos_below_median: float
    prob_oos_loss: float
    n_blocks: int
    logits: pd.DataFrame
    best: str
    best_dsr: float
    expected_max_sharpe: float
    risk_free: float
    alpha: float
    n_boot: int
    mean_block: float
    random_state: int
    verdict: str
    notes: tuple[str, ...]

    @property
    def n_configurations(self) -> int:
        """Number of configurations tried (columns of ``returns``)."""
        return self.returns.shape[1]

    @property
    def n_months(self) -> int:
        """Number of common months."""
        return self.returns.shape[0]

    @property
    def winners(self) -> list[str]:
        """Configurations that beat 1/N after deflation (see ``beats_1N``)."""
        return list(self.table.index[self.table["beats_1N"]])
