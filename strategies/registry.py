"""Named strategies: the :class:`StrategyName` enum and :func:`make_strategy` factory."""

from __future__ import annotations

from enum import Enum
from typing import Any

from strategies.base import ExpectedReturnStrategy
from strategies.bayesian import BayesStein, BlackLitterman
from strategies.shrinkage import (
    Blend,
    ForecastOnly,
    HistoricalMean,
    JamesStein,
    JamesSteinToForecast,
    SkillBlend,
)

__all__ = ["RENAMED", "StrategyName", "default_strategies", "make_strategy", "renamed_error"]


class StrategyName(str, Enum):
    """Names of the registered expected-return strategies."""

    HIST_MEAN = "hist_mean"
    FORECAST = "forecast"
    BLEND_25 = "blend_25"
    BLEND_50 = "blend_50"
    BLEND_75 = "blend_75"
    SKILL = "skill"
    JAMES_STEIN = "james_stein"
    JAMES_STEIN_FORECAST = "james_stein_forecast"
    BAYES_STEIN = "bayes_stein"
    BLACK_LITTERMAN = "black_litterman"


RENAMED = {"lstm": StrategyName.FORECAST, "james_stein_lstm": StrategyName.JAMES_STEIN_FORECAST}
"""Former names: they use every model's forecast, so ``lstm@ridge`` read as an LSTM strategy."""


def renamed_error(name: str) -> ValueError:
    """The error for a former strategy name: names the new one and where to write it."""
    new = RENAMED[name].value
    return ValueError(
        f"strategy {name!r} was renamed {new!r}: it uses the forecast of each model of the run "
        f"({new} on the primary model, {new}@ridge on ridge, ...), not only the LSTM's; write "
        f"{new!r} in --strategies or [portfolio] strategies"
    )


def _base_and_defaults(name: StrategyName) -> tuple[type[ExpectedReturnStrategy], dict[str, Any]]:
    match name:
        case StrategyName.HIST_MEAN:
            return HistoricalMean, {}
        case StrategyName.FORECAST:
            return ForecastOnly, {}
        case StrategyName.BLEND_25:
            return Blend, {"weight": 0.25}
        case StrategyName.BLEND_50:
            return Blend, {"weight": 0.5}
        case StrategyName.BLEND_75:
            return Blend, {"weight": 0.75}
        case StrategyName.SKILL:
            return SkillBlend, {}
        case StrategyName.JAMES_STEIN:
            return JamesStein, {"target": "grand_mean"}
        case StrategyName.JAMES_STEIN_FORECAST:
            return JamesSteinToForecast, {}
        case StrategyName.BAYES_STEIN:
            return BayesStein, {}
        case StrategyName.BLACK_LITTERMAN:
            return BlackLitterman, {}


def make_strategy(name: str | StrategyName, **params: Any) -> ExpectedReturnStrategy:
    """Build the strategy registered as ``name``, overriding its defaults with ``params``.

    Parameters
    ----------
    name : str or StrategyName
        One of :class:`StrategyName`'s values, e.g. ``"blend_50"`` or ``"bayes_stein"``.
    **params
        Constructor parameters, e.g. ``make_strategy("black_litterman", tau=0.1)``.

    Returns
    -------
    ExpectedReturnStrategy
        An unfitted strategy.

    Raises
    ------
    ValueError
        If ``name`` is not registered or a parameter is not accepted by that strategy.
    """
    if isinstance(name, str) and name in RENAMED:
        raise renamed_error(name)
    try:
        key = StrategyName(name)
    except ValueError:
        valid = ", ".join(member.value for member in StrategyName)
        raise ValueError(f"unknown strategy name={name!r}; valid names are: {valid}") from None
    cls, defaults = _base_and_defaults(key)
    # Checked only when given: get_params inspects the constructor's signature, and the
    # backtest builds a strategy per date and name without parameters.
    allowed = set(cls().get_params()) if params else set()
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(
            f"strategy {key.value!r} ({cls.__name__}) does not accept {unknown}; "
            f"its parameters are {sorted(allowed) or 'none'}"
        )
    return cls(**{**defaults, **params})


def default_strategies() -> dict[StrategyName, ExpectedReturnStrategy]:
    """Return one unfitted instance of every registered strategy, with default parameters."""
    return {name: make_strategy(name) for name in StrategyName}
