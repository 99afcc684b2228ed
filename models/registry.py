"""Forecasters by name: the one place that knows which classes exist.

The engine never imports a forecaster: it carries a :class:`ModelSpec` (name,
parameters, optionally the import path of a scikit-learn regressor) and asks
:func:`build` for a fresh, unfitted instance. Adding a forecaster is a class plus
one :func:`register` call; the spec's identity enters every window's cache key.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from models.base import Forecaster, Zero
from models.linear import ElasticNetForecaster, OLSForecaster, RidgeForecaster
from models.lstm import LSTMForecaster
from models.trees import GBMForecaster, SklearnForecaster, resolve_estimator

__all__ = [
    "BENCHMARK",
    "ModelSpec",
    "available",
    "build",
    "forecaster_class",
    "register",
    "validate",
]

_REGISTRY: dict[str, type] = {}
BENCHMARK = "hist_mean"
"""The benchmark every forecaster is scored against (:class:`models.base.HistoricalMean`)."""


def register(name: str, cls: type, replace: bool = False) -> type:
    """Make ``cls`` available as ``name``; returns ``cls`` (usable as a decorator's body).

    ``cls`` must follow :class:`models.base.Forecaster`'s contract. Windows fitted in
    worker processes look the name up there, so register at import time of a module
    the workers import (or run with one job).
    """
    if name == BENCHMARK:
        raise ValueError(f"{BENCHMARK!r} is the benchmark every run has; name the model otherwise")
    if not replace and name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"a forecaster named {name!r} is already registered")
    if not (callable(getattr(cls, "fit", None)) and callable(getattr(cls, "predict", None))):
        raise TypeError(f"{cls!r} needs fit(X, y) and predict(X) to be a forecaster")
    _REGISTRY[name] = cls
    return cls


def available() -> list[str]:
    """Registered names, in registration order."""
    return list(_REGISTRY)


def forecaster_class(name: str) -> type:
    """The class registered as ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {available()}") from None


def _takes(cls: type, parameter: str) -> bool:
    return parameter in inspect.signature(cls.__init__).parameters


@dataclass(frozen=True)
class ModelSpec:
    """What identifies a forecaster: its name and its parameters.

    Attributes
    ----------
    name : str
        Registered name (``lstm``, ``ridge``, ...) or the name of a configured estimator.
    params : tuple of (str, value)
        Constructor parameters, sorted by name (hashable, JSON-ready).
    estimator : str or None
        ``"module:Class"`` of a scikit-learn regressor defined in a config; ``None`` for
        a registered forecaster.
    """

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    estimator: str | None = None

    @classmethod
    def of(cls, name: str, params: dict[str, Any] | None = None, estimator: str | None = None):
        """A spec with ``params`` sorted by name."""
        return cls(name, tuple(sorted((params or {}).items())), estimator)

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        # Positional pickling: a window reference shipped to a worker stays small.
        return (ModelSpec, (self.name, self.params, self.estimator))

    def identity(self) -> list[Any]:
        """JSON-ready identity for cache keys: name, estimator path and parameters."""
        return [self.name, self.estimator, [list(p) for p in self.params]]


def validate(spec: ModelSpec) -> ModelSpec:
    """Check that ``spec`` names a known model with parameters it takes; returns ``spec``.

    Raises
    ------
    ValueError
        Naming the model, the bad parameter(s) and the valid ones, before any fitting.
    """
    params = dict(spec.params)
    if spec.estimator is not None:
        resolve_estimator(spec.estimator, {k: v for k, v in params.items() if k != "lags"})
        return spec
    if spec.name == BENCHMARK:
        raise ValueError(f"{BENCHMARK!r} always runs as the benchmark; do not list it as a model")
    cls = forecaster_class(spec.name)
    valid = [
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "random_state")
    ]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"model {spec.name!r} has no parameter(s) {unknown}; its parameters are {valid}"
        )
    return spec


def build(spec: ModelSpec, random_state: int | None = None) -> Forecaster:
    """A fresh, unfitted forecaster of ``spec``; ``random_state`` seeds it if it takes one."""
    params = dict(spec.params)
    if spec.estimator is not None:
        lags = params.pop("lags", 1)
        seed = 0 if random_state is None else random_state
        return SklearnForecaster(spec.estimator, params, lags, seed)
    cls = forecaster_class(spec.name)
    if random_state is not None and _takes(cls, "random_state"):
        params["random_state"] = random_state
    return cls(**params)


register("lstm", LSTMForecaster)
register("ridge", RidgeForecaster)
register("elastic_net", ElasticNetForecaster)
register("ols", OLSForecaster)
register("gbm", GBMForecaster)
register("zero", Zero)
