"""The resolved configuration of a run: defaults that reproduce the seed notebook."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backtest.features import Variant
from backtest.splits import WindowKind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_TARGETS = ("HWM", "NVDA", "MSI", "AMZN", "MA", "TSLA", "ALB")
DEFAULT_RELATIVES = ("SPY", "QQQ", "XLK", "XLY", "XLI", "XLF", "XLB", "SMH", "ITA", "LIT")


@dataclass(frozen=True)
class ModelConfig:
    """The LSTM's architecture and training settings (the seed's, by default)."""

    units: tuple[int, ...] = (64, 32)
    dense_units: int = 16
    dropout: float = 0.2
    lookback: int = 12
    epochs: int = 200
    batch_size: int = 8
    learning_rate: float = 1e-3
    patience: int = 10
    lr_patience: int = 5
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    validation_fraction: float = 0.2
    n_seeds: int = 1

    def estimator_params(self) -> dict[str, Any]:
        """Keyword arguments of :class:`models.lstm.LSTMForecaster`."""
        params = dataclasses.asdict(self)
        params.pop("lookback")
        return params


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers (and nothing that does not).

    Where the work runs (``n_jobs``, backend, directories) is not part of it: the same
    config gives the same numbers wherever and however it runs.
    """

    targets: tuple[str, ...] = DEFAULT_TARGETS
    relatives: tuple[str, ...] = DEFAULT_RELATIVES
    start: str = "2016-11-01"
    end: str = "2025-09-01"
    variant: Variant = Variant.RELATIVES
    model: ModelConfig = field(default_factory=ModelConfig)
    min_train: int = 36
    window: WindowKind = WindowKind.EXPANDING
    train_size: int | None = None
    refit_every: int = 1
    random_state: int = 0
    strategies: tuple[str, ...] | None = None
    cost_bps: float = 10.0
    risk_free: float = 0.0
    risk_aversion: float = 5.0
    max_weight: float = 0.4

    def with_variant(self, variant: Variant | str) -> RunConfig:
        """The same config for another variant."""
        return dataclasses.replace(self, variant=Variant(variant))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (enums as their values)."""
        out = dataclasses.asdict(self)
        out["variant"] = self.variant.value
        out["window"] = self.window.value
        return out


_MODEL_KEYS = {f.name for f in dataclasses.fields(ModelConfig)}
_RUN_KEYS = {f.name for f in dataclasses.fields(RunConfig)} - {"model"}


def config_from_mapping(values: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
    """Overlay ``values`` (flat, or with a ``[model]`` table) on ``base``.

    Unknown keys raise, naming the key and the valid ones: a typo in a config file
    must not silently fall back to a default.
    """
    base = base or RunConfig()
    values = dict(values)
    model_values = dict(values.pop("model", {}) or {})
    for key in list(values):
        if key in _MODEL_KEYS and key not in _RUN_KEYS:
            model_values[key] = values.pop(key)
    unknown = sorted(set(values) - _RUN_KEYS) + sorted(set(model_values) - _MODEL_KEYS)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown}; valid keys: {sorted(_RUN_KEYS)} and, for "
            f"the model, {sorted(_MODEL_KEYS)}"
        )
    for key in ("targets", "relatives", "strategies"):
        if key in values and values[key] is not None:
            values[key] = tuple(values[key])
    if "units" in model_values:
        model_values["units"] = tuple(int(u) for u in model_values["units"])
    if "variant" in values:
        values["variant"] = Variant(values["variant"])
    if "window" in values:
        values["window"] = WindowKind(values["window"])
    model = dataclasses.replace(base.model, **model_values)
    return dataclasses.replace(base, **values, model=model)


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML config file, with errors that name the file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file {str(path)!r} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
