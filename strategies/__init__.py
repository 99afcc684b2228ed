"""Expected-return shrinkage estimators and portfolio allocators."""

from strategies.allocation import (
    Allocator,
    AllocatorName,
    CheckedCovariance,
    EqualWeight,
    MeanVariance,
    MinimumVariance,
    ledoit_wolf_covariance,
    make_allocator,
    mean_variance_weights,
)
from strategies.base import ExpectedReturnStrategy, shrink, trailing_mse
from strategies.bayesian import (
    BayesStein,
    BlackLitterman,
    BlackLittermanPrior,
    bayes_stein,
    black_litterman,
    black_litterman_gain,
)
from strategies.inputs import MarketView
from strategies.registry import (
    RENAMED,
    StrategyName,
    default_strategies,
    make_strategy,
    renamed_error,
)
from strategies.returns import simple_covariance, simple_expected_returns
from strategies.shrinkage import (
    Blend,
    ForecastOnly,
    HistoricalMean,
    JamesStein,
    JamesSteinTarget,
    JamesSteinToForecast,
    SkillBlend,
    bates_granger_weight,
    james_stein_beta,
    james_stein_intensity,
)

__all__ = [
    "Allocator",
    "AllocatorName",
    "CheckedCovariance",
    "BayesStein",
    "BlackLitterman",
    "BlackLittermanPrior",
    "Blend",
    "EqualWeight",
    "ExpectedReturnStrategy",
    "HistoricalMean",
    "JamesStein",
    "JamesSteinTarget",
    "JamesSteinToForecast",
    "ForecastOnly",
    "MarketView",
    "MeanVariance",
    "MinimumVariance",
    "SkillBlend",
    "RENAMED",
    "StrategyName",
    "bates_granger_weight",
    "bayes_stein",
    "black_litterman",
    "black_litterman_gain",
    "default_strategies",
    "james_stein_beta",
    "james_stein_intensity",
    "ledoit_wolf_covariance",
    "make_allocator",
    "make_strategy",
    "mean_variance_weights",
    "renamed_error",
    "shrink",
    "simple_covariance",
    "simple_expected_returns",
    "trailing_mse",
]
