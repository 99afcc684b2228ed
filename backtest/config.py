"""The resolved configuration of a run: typed, frozen, and defaults that reproduce the seed.

A :class:`RunConfig` nests one frozen section per pipeline stage (:class:`DataConfig`,
:class:`WalkForwardConfig`, :class:`ModelConfig`, :class:`PortfolioConfig`), the way a TOML
file spells them (``[data]``, ``[walk_forward]``, ``[model]``, ``[portfolio]``). Flat keys
(``min_train = 40``) are accepted too and routed to their section, so a one-line config
stays one line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from backtest.features import Variant
from backtest.splits import WindowKind
from backtest.validation import check_values

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_TARGETS = ("HWM", "NVDA", "MSI", "AMZN", "MA", "TSLA", "ALB")
DEFAULT_RELATIVES = ("SPY", "QQQ", "XLK", "XLY", "XLI", "XLF", "XLB", "SMH", "ITA", "LIT")


@dataclass(frozen=True)
class DataConfig:
    """Which assets, over which months."""

    targets: tuple[str, ...] = DEFAULT_TARGETS
    relatives: tuple[str, ...] = DEFAULT_RELATIVES
    start: str = "2016-11-01"
    end: str = "2025-09-01"

    @property
    def tickers(self) -> list[str]:
        """Targets then relatives, each once."""
        return list(dict.fromkeys([*self.targets, *self.relatives]))


@dataclass(frozen=True)
class WalkForwardConfig:
    """Which months train each window (see :class:`backtest.splits.WalkForward`)."""

    min_train: int = 36
    window: WindowKind = WindowKind.EXPANDING
    train_size: int | None = None
    refit_every: int = 1


@dataclass(frozen=True)
class ModelConfig:
    """The LSTM's architecture and training settings (the seed's, by default).

    ``lookback`` (months per input sequence) is every model's; the rest are the
    parameters of the model named :attr:`configures`.
    """

    configures: ClassVar[str] = "lstm"

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


DEFAULT_MODELS = ("lstm", "ridge")


@dataclass(frozen=True)
class EstimatorConfig:
    """One ``[models.<name>]`` table: a scikit-learn regressor by import path, or parameters.

    ``estimator = "sklearn.ensemble:RandomForestRegressor"`` defines a new model from any
    scikit-learn regressor; without ``estimator`` the table sets a registered model's
    parameters (e.g. ``[models.ridge] params = {lags = 2}``).
    """

    estimator: str | None = None
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ModelsConfig:
    """Which forecasters run (``hist_mean`` always runs as their benchmark), and their tables.

    TOML: ``models = ["lstm", "ridge"]``, or a ``[models]`` table with ``names = [...]`` and
    one ``[models.<name>]`` table per configured model.
    """

    names: tuple[str, ...] = DEFAULT_MODELS
    tables: tuple[tuple[str, EstimatorConfig], ...] = ()

    def table(self, name: str) -> EstimatorConfig | None:
        """The ``[models.<name>]`` table, if any."""
        return dict(self.tables).get(name)


def models_from_toml(value: Any, base: ModelsConfig) -> ModelsConfig:
    """A :class:`ModelsConfig` from a TOML list of names or a ``[models]`` table."""
    if isinstance(value, ModelsConfig):
        return value
    if isinstance(value, list | tuple):
        return dataclasses.replace(base, names=tuple(value))
    if not isinstance(value, dict):
        raise ValueError(f"`models` must be a list of names or a table, got {value!r}")
    names = tuple(value.get("names", base.names))
    tables = dict(base.tables)
    for name, table in value.items():
        if name == "names":
            continue
        if not isinstance(table, dict) or set(table) - {"estimator", "params"}:
            raise ValueError(
                f'[models.{name}] must hold only `estimator` ("module:Class") and `params` '
                f"(a table), got {table!r}"
            )
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise ValueError(f"[models.{name}] params must be a table, got {params!r}")
        tables[name] = EstimatorConfig(table.get("estimator"), tuple(sorted(params.items())))
    return ModelsConfig(names=names, tables=tuple(tables.items()))


@dataclass(frozen=True)
class PortfolioConfig:
    """Shrinkage strategies, the mean-variance allocator and trading costs."""

    strategies: tuple[str, ...] | None = None
    cost_bps: float = 10.0
    risk_free: float = 0.0
    risk_aversion: float = 5.0
    max_weight: float = 0.4


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers (and nothing that does not).

    Where the work runs (``n_jobs``, backend, directories) is not part of it: the same
    config gives the same numbers wherever and however it runs.
    """

    data: DataConfig = field(default_factory=DataConfig)
    variant: Variant = Variant.RELATIVES
    walk_forward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    portfolio: PortfolioConfig = field(default_factory=PortfolioConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    random_state: int = 0

    def with_variant(self, variant: Variant | str) -> RunConfig:
        """The same config for another variant."""
        return dataclasses.replace(self, variant=Variant(variant))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, one table per section (enums as their values)."""
        out = dataclasses.asdict(self)
        out["variant"] = self.variant.value
        out["walk_forward"]["window"] = self.walk_forward.window.value
        # The TOML shape (names + one table per model), so config_from_mapping reads it back.
        out["models"] = {
            "names": list(self.models.names),
            **{
                name: {
                    **({"estimator": table.estimator} if table.estimator else {}),
                    "params": dict(table.params),
                }
                for name, table in self.models.tables
            },
        }
        return out


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "walk_forward": WalkForwardConfig,
    "model": ModelConfig,
    "portfolio": PortfolioConfig,
}
_TOP_KEYS = ("variant", "random_state", "models")
_SECTION_OF = {f.name: name for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


def _valid_keys() -> str:
    parts = [f"{', '.join(_TOP_KEYS)}"]
    for name, cls in SECTIONS.items():
        parts.append(f"[{name}] {', '.join(f.name for f in dataclasses.fields(cls))}")
    return "; ".join(parts)


def _split_sections(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Top-level values and one dict per section, flat keys routed to their section."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    unknown: list[str] = []
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, SECTIONS[key]):
            top[key] = value
        elif key in SECTIONS and isinstance(value, dict):
            for inner, inner_value in value.items():
                if _SECTION_OF.get(inner) != key:
                    unknown.append(f"{key}.{inner}")
                sections[key][inner] = inner_value
        elif key in _TOP_KEYS:
            top[key] = value
        elif key in _SECTION_OF:
            sections[_SECTION_OF[key]][key] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}; valid keys: {_valid_keys()}")
    return top, sections


def config_from_mapping(values: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
    """Overlay ``values`` (flat, or with ``[data]``/``[model]``/... tables) on ``base``.

    Unknown keys raise, naming the key and the valid ones: a typo in a config file
    must not silently fall back to a default.
    """
    base = base or RunConfig()
    top, sections = _split_sections(dict(values))
    # Types and ranges before any conversion (tuple("NVDA") would be four tickers).
    raw = {**top, **sections}
    if isinstance(raw.get("models"), list | tuple):
        raw["models"] = {"names": raw["models"]}
    elif not isinstance(raw.get("models"), dict):
        raw.pop("models", None)
    check_values({k: v for k, v in raw.items() if not dataclasses.is_dataclass(v)}, False)
    data = sections["data"]
    for key in ("targets", "relatives"):
        if key in data:
            data[key] = tuple(data[key])
    portfolio = sections["portfolio"]
    if portfolio.get("strategies") is not None:
        portfolio["strategies"] = tuple(portfolio["strategies"])
    if "units" in sections["model"]:
        sections["model"]["units"] = tuple(int(u) for u in sections["model"]["units"])
    if "window" in sections["walk_forward"]:
        sections["walk_forward"]["window"] = WindowKind(sections["walk_forward"]["window"])
    if "variant" in top:
        top["variant"] = Variant(top["variant"])
    if "models" in top:
        top["models"] = models_from_toml(top["models"], base.models)
    nested = {
        name: dataclasses.replace(top.pop(name, getattr(base, name)), **sections[name])
        for name in SECTIONS
    }
    config = dataclasses.replace(base, **top, **nested)
    check_values(config.to_dict())
    return config


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
