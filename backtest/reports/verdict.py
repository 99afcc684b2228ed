"""The verdict in plain words, built only from tests (:class:`backtest.reports.evidence.Evidence`).

Every sentence states a test's direction and level and names its benchmark; one level for all.
A number no test backs is called a point estimate. The same text goes to summary.md,
report.html, comparison.md and the terminal.
"""

from __future__ import annotations

import numpy as np

from backtest.evaluation.economic import Interval
from backtest.reports.evidence import Evidence, ForecastEvidence

__all__ = ["verdict", "verdict_sentences"]


def _p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _forecast_sentence(f: ForecastEvidence, level: float) -> str:
    lvl = f"{level:.0%}"
    r2, p = f"{f.r2_os:+.2%}", _p(f.cw_p)
    if f.cw_p < level and f.r2_os > 0:
        head = (
            f"{f.model} beat the historical mean out of sample: pooled R2_OS {r2}, and "
            f"Clark-West rejects equal accuracy at {lvl} (one-sided p = {p})."
        )
    elif f.cw_p < level:
        head = (
            f"{f.model}'s pooled R2_OS is {r2} (no lower squared error than the historical "
            f"mean), yet Clark-West rejects at {lvl} (one-sided p = {p}): the forecast carries "
            "information about next month's mean, but its noise costs more than that "
            "information gains when it is used as is; only a shrunk combination with the "
            "mean can profit from it."
        )
    elif f.r2_os > 0:
        head = (
            f"{f.model}'s pooled R2_OS is {r2}, a point estimate: Clark-West does not reject "
            f"equal accuracy with the historical mean at {lvl} (p = {p}), so there is no "
            "evidence of skill."
        )
    else:
        head = (
            f"{f.model} did not beat the historical mean: pooled R2_OS {r2}, Clark-West "
            f"p = {p} (no rejection at {lvl})."
        )
    tickers = ", ".join(f.holm_rejected) if f.holm_rejected else "none"
    return head + (
        f" Per ticker, Clark-West rejects at {lvl} after Holm's adjustment over "
        f"{f.n_tickers} tickers for: {tickers}."
    )


def _mcs_sentence(ev: Evidence) -> list[str]:
    if ev.mcs is None:
        return []
    kept = ", ".join(ev.mcs.included)
    out = ", ".join(ev.mcs.excluded) or "none"
    return [
        f"The {1 - ev.level:.0%} model confidence set of pooled squared errors (the models "
        f"not distinguishable from the most accurate) holds: {kept}; eliminated: {out}."
    ]


def _superiority_sentence(ev: Evidence, i: int) -> str:
    t = ev.superiority[i]
    bench, lvl, n = ev.label(t.benchmark), f"{ev.level:.0%}", len(t.candidates)
    if t.rejects(ev.level):
        found = ", ".join(t.superior) if t.superior else "none of them individually"
        return (
            f'Against {bench}, Hansen\'s SPA rejects "no strategy beats it" at {lvl} '
            f"(consistent p = {_p(t.spa_p_value)}, best of {n} by mean return: {t.best}); "
            f"Romano-Wolf StepM (family-wise {lvl}) identifies: {found}."
        )
    return (
        f"Nothing beat {bench} once the search over {n} strategies is accounted for: the best "
        f"mean return, {t.best}'s ({t.best_mean_difference * 1e4:+.0f} bps a month over "
        f"{bench}, a point estimate), is within what data snooping explains (SPA consistent "
        f"p = {_p(t.spa_p_value)}; StepM finds none at {lvl})."
    )


def _sharpe_sentences(ev: Evidence) -> list[str]:
    lw, d = ev.sharpe_vs_1n, ev.deflated
    if lw is None or d is None:
        return []
    lvl, ci = f"{1 - ev.level:.0%}", f"[{lw.ci_low:+.2f}, {lw.ci_high:+.2f}]"
    out = [
        f"Highest net Sharpe ratio: {d.best} ({d.sharpe:.2f}), {lw.difference:+.2f} against "
        f"1/N's {d.benchmark_sharpe:.2f} (Ledoit-Wolf HAC test, H1: higher, one-sided "
        f"p = {_p(lw.p_value)}; {lvl} studentised-bootstrap interval {ci})."
    ]
    spa_1n = [t for t in ev.superiority if ev.label(t.benchmark) == "1/N"]
    if lw.ci_low > 0 and spa_1n and not spa_1n[0].rejects(ev.level):
        out.append(
            f"That interval, above zero, treats {d.best} as if chosen in advance; it was the "
            f"best of {d.n_trials}, and SPA, which accounts for the choice, does not confirm "
            "it beats 1/N."
        )
    passes = "survives" if d.dsr_vs_benchmark >= 1 - ev.level else "does not survive"
    out.append(
        f"Deflated for {d.n_trials} configurations tried ({d.n_effective:.1f} effective; "
        f"their returns correlate {d.mean_correlation:.0%} on average), its Sharpe ratio "
        f"clears luck with probability {d.dsr_vs_zero:.2f} against zero and "
        f"{d.dsr_vs_benchmark:.2f} against 1/N's Sharpe: it {passes} deflation against 1/N at "
        f"{lvl}."
    )
    if d.mean_correlation >= 0.9:
        out.append(
            f"The strategies are near copies ({d.mean_correlation:.0%} correlated): "
            f"{d.n_trials} configurations are close to one bet, and their ranking is mostly "
            "noise."
        )
    return out


def _pbo_sentence(ev: Evidence) -> list[str]:
    b = ev.pbo
    if b is None:
        return []
    head = (
        f"PBO = {b.pbo:.2f} ({1 - ev.level:.0%} bootstrap interval [{b.low:.2f}, {b.high:.2f}], "
        f"{b.n_blocks} CSCV blocks, benchmarks excluded): "
    )
    if b.uninformative():
        return [head + "the interval contains 0.5, so PBO is uninformative here."]
    if b.low > 0.5:
        return [head + "selecting by backtest picks a below-median configuration out of "
                "sample more often than not (overfitting)."]  # fmt: skip
    # The month bootstrap errs low (a month drawn twice can sit in both halves of a split):
    # on pure noise every miss of 0.5 fell below it, so a low interval is hedged.
    return [head + "the in-sample ranking carries out of sample (low overfitting risk, "
            "though this interval errs low: on pure noise it lies below 0.5 in about 5% of "
            "samples), which alone says nothing about beating a benchmark."]  # fmt: skip


def _interval(x: Interval, unit: str, digits: int) -> str:
    side = "excludes" if x.excludes_zero() else "includes"
    return (
        f"{x.estimate:+.{digits}f}{unit} ({side} zero: [{x.low:+.{digits}f}, {x.high:+.{digits}f}])"
    )


def _economic_sentences(ev: Evidence) -> list[str]:
    out = []
    for column, value in ev.economic.items():
        be = value.break_even_bps
        even = (
            "" if np.isnan(be.estimate)
            else ", no cost removes its mean-return edge (it trades no more than the benchmark)"
            if np.isinf(be.estimate)
            else ", no mean-return edge over it even before costs (break-even cost 0)"
            if be.estimate == 0
            else f", mean-return edge gone at a cost of {be.estimate:.0f} bps per unit turnover "
            f"([{be.low:.0f}, {be.high:.0f}])"
        )  # fmt: skip
        out.append(
            f"Economic value of {ev.best} over {ev.label(column)} at risk aversion "
            f"{ev.gamma:g}: CER gain {_interval(value.cer_gain, '% a year', 2)}, "
            f"performance fee {_interval(value.fee_bps, ' bps a year', 0)}{even}; "
            f"{1 - ev.level:.0%} bootstrap intervals."
        )
    return out


def _conclusion(ev: Evidence) -> str:
    spa_1n = [t for t in ev.superiority if ev.label(t.benchmark) == "1/N"]
    lvl = f"{ev.level:.0%}"
    if not spa_1n:
        return (
            f"Conclusion at {lvl}: too few months for the snooping tests against 1/N, so "
            "nothing can be said to beat it."
        )
    t = spa_1n[0]
    if t.rejects(ev.level) and t.superior:
        return (
            f"Conclusion at {lvl}: {', '.join(t.superior)} beat 1/N net of costs (SPA and StepM)."
        )
    if t.rejects(ev.level):
        return (
            f"Conclusion at {lvl}: something beats 1/N (SPA), but no single strategy can be "
            "named (StepM)."
        )
    return f"Conclusion at {lvl}: nothing beat 1/N net of costs."


def verdict_sentences(ev: Evidence) -> list[str]:
    """The verdict as a list of sentences: conclusion, forecasts, snooping, Sharpe, PBO, value."""
    out = [_conclusion(ev)]
    out += [_forecast_sentence(f, ev.level) for f in ev.forecasts]
    out += _mcs_sentence(ev)
    out += [_superiority_sentence(ev, i) for i in range(len(ev.superiority))]
    out += _sharpe_sentences(ev)
    out += _pbo_sentence(ev)
    out += _economic_sentences(ev)
    return out


def verdict(ev: Evidence) -> str:
    """The verdict as one paragraph."""
    return " ".join(verdict_sentences(ev))
