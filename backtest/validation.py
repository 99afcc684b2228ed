"""Every config value's type and range, declared once, checked once at load.

In the style of scikit-learn's parameter constraints (``{"alpha": [Interval(Real, 0, None)]}``):
:data:`SCHEMA` maps each key to one constraint object that checks a value and says, in
words, what is allowed. :func:`check_values` runs them on a config's JSON-ready dict
(from flags, TOML or a :class:`~backtest.config.RunConfig` built in Python) and raises one
``ValueError`` naming the key (and its flag), echoing the value and saying what is allowed.
The same words appear in ``--help`` (:func:`allowed`).

Written here rather than with pydantic: the constraints are few and plain, the messages
must name the command-line flag next to the TOML key, and ``import backtest`` stays light.

Longer than ~300 lines because the constraint types and the one schema that uses them are kept
together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.^=_-]{0,19}")


class Constraint:
    """Checks one value; ``text`` says what is allowed."""

    text = ""

    def ok(self, value: Any) -> bool:  # pragma: no cover - interface
        """Whether ``value`` is allowed."""
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """An integer or real number in ``[low, high]`` (``open_low``: ``(low, high]``)."""

    kind: type
    low: float | None
    high: float | None
    open_low: bool = False

    def ok(self, value: Any) -> bool:
        """Number of the right kind (bool is not a number) within the bounds."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or value <= self.high

    @property
    def text(self) -> str:  # type: ignore[override]
        """E.g. 'an integer in [1, 100]' or 'a number in (0, 1]'."""
        noun = "an integer" if self.kind is int else "a number"
        if self.high is None:
            return f"{noun} {'>' if self.open_low else '>='} {self.low:g}"
        return f"{noun} in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def ok(self, value: Any) -> bool:
        """A string among ``values``."""
        return isinstance(value, str) and value in self.values

    @property
    def text(self) -> str:  # type: ignore[override]
        """E.g. "one of 'a', 'b'"."""
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list (not a string) of ``min_len``..``max_len`` distinct items, each ``item``."""

    item: Constraint
    min_len: int = 1
    max_len: int = 100
    example: str = ""
    distinct: bool = True

    def ok(self, value: Any) -> bool:
        """A list or tuple of allowed, distinct items of an allowed length."""
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return False
        if not self.min_len <= len(value) <= self.max_len:
            return False
        unique = not self.distinct or len(set(map(str, value))) == len(value)
        return unique and all(self.item.ok(v) for v in value)

    @property
    def text(self) -> str:  # type: ignore[override]
        """E.g. 'a list of 1 to 5 distinct integers in [1, 4096], e.g. [64, 32]'."""
        size = f"{self.min_len} to {self.max_len}" if self.max_len < 100 else f"{self.min_len}+"
        example = f", e.g. {self.example}" if self.example else ""
        distinct = " distinct" if self.distinct else ""
        return f"a list of {size}{distinct} items, each {self.item.text}{example}"


@dataclass(frozen=True)
class Ticker(Constraint):
    """A ticker symbol: letters, digits and . ^ = _ - (at most 20 characters)."""

    text = "a ticker symbol such as 'NVDA' or 'BRK-B'"

    def ok(self, value: Any) -> bool:
        """A string that looks like a ticker."""
        return isinstance(value, str) and _TICKER.fullmatch(value) is not None


@dataclass(frozen=True)
class Identifier(Constraint):
    """A lower-case name such as a registered model's: letters, digits, underscores."""

    text = "a name such as 'lstm' or 'ridge' (lower-case letters, digits, '_')"

    def ok(self, value: Any) -> bool:
        """A lower-case identifier."""
        return isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,39}", value) is not None


@dataclass(frozen=True)
class Month(Constraint):
    """A date string ``YYYY-MM-DD`` or ``YYYY-MM`` (any day of the month)."""

    text = "a date 'YYYY-MM-DD' or 'YYYY-MM', e.g. '2016-11-01'"

    def ok(self, value: Any) -> bool:
        """A parseable ISO date (or year-month) between 1900 and 2200."""
        return parse_month(value) is not None


@dataclass(frozen=True)
class Maybe(Constraint):
    """None (the default) or ``inner``."""

    inner: Constraint
    none_means: str

    def ok(self, value: Any) -> bool:
        """None or allowed by ``inner``."""
        return value is None or self.inner.ok(value)

    @property
    def text(self) -> str:  # type: ignore[override]
        """E.g. 'None (every strategy) or a list of ...'."""
        return f"unset ({self.none_means}) or {self.inner.text}"


def parse_month(value: Any) -> date | None:
    """The first day of the month of ``value`` ('YYYY-MM-DD' or 'YYYY-MM'), or None."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", value.strip())
    if match is None:
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        date(year, month, day)
    except ValueError:
        return None
    return date(year, month, 1) if 1900 <= year <= 2200 else None


@dataclass(frozen=True)
class Spec:
    """One key: its section, its flag (if any) and its constraint."""

    section: str | None
    flag: str | None
    constraint: Constraint

    def name(self, key: str) -> str:
        """How a message names the key: '[model] units (--units)'."""
        where = f"[{self.section}] {key}" if self.section else key
        return f"{where} ({self.flag})" if self.flag else where


_INT = Interval
SCHEMA: dict[str, Spec] = {
    "variant": Spec(None, "--variant", Options(("base", "indicators", "relatives"))),
    "random_state": Spec(None, "--seed", _INT(int, 0, 2**32 - 1)),
    "targets": Spec("data", "--tickers", ListOf(Ticker(), 1, 60, "['NVDA', 'MSFT']")),
    "relatives": Spec("data", "--relatives", ListOf(Ticker(), 0, 60, "['SPY', 'QQQ']")),
    "start": Spec("data", "--start", Month()),
    "end": Spec("data", "--end", Month()),
    "min_train": Spec("walk_forward", "--min-train", _INT(int, 2, 10_000)),
    "window": Spec("walk_forward", "--window", Options(("expanding", "rolling"))),
    "train_size": Spec(
        "walk_forward", "--train-size", Maybe(_INT(int, 2, 10_000), "expanding window")
    ),
    "refit_every": Spec("walk_forward", "--refit-every", _INT(int, 1, 120)),
    "units": Spec("model", "--units", ListOf(_INT(int, 1, 4096), 1, 5, "[64, 32]", False)),
    "dense_units": Spec("model", None, _INT(int, 1, 4096)),
    "dropout": Spec("model", None, _INT(float, 0, 0.9)),
    "lookback": Spec("model", "--lookback", _INT(int, 1, 120)),
    "epochs": Spec("model", "--epochs", _INT(int, 1, 100_000)),
    "batch_size": Spec("model", None, _INT(int, 1, 4096)),
    "learning_rate": Spec("model", None, _INT(float, 0, 1, open_low=True)),
    "patience": Spec("model", None, _INT(int, 1, 10_000)),
    "lr_patience": Spec("model", None, _INT(int, 1, 10_000)),
    "lr_factor": Spec("model", None, _INT(float, 0, 0.99, open_low=True)),
    "min_lr": Spec("model", None, _INT(float, 0, 1, open_low=True)),
    "validation_fraction": Spec("model", None, _INT(float, 0, 0.5, open_low=True)),
    "n_seeds": Spec("model", "--seeds", _INT(int, 1, 100)),
    "cost_bps": Spec("portfolio", "--cost-bps", _INT(float, 0, 1000)),
    "risk_free": Spec("portfolio", "--risk-free", _INT(float, -0.1, 0.5)),
    "risk_aversion": Spec("portfolio", "--risk-aversion", _INT(float, 0, 1000, open_low=True)),
    "max_weight": Spec("portfolio", "--max-weight", _INT(float, 0, 1, open_low=True)),
}
MODEL_NAMES = Spec(None, "--models", ListOf(Identifier(), 1, 20, "['lstm', 'ridge']"))


def allowed(key: str) -> str:
    """What ``key`` accepts, in words (for ``--help`` and messages)."""
    return SCHEMA[key].constraint.text


def refuse(key: str, value: Any, text: str, spec: Spec | None = None) -> ValueError:
    """The error for ``key = value``: names the key and its flag, echoes it, says what fits."""
    spec = spec or SCHEMA[key]
    return ValueError(f"{spec.name(key)} = {value!r} is not allowed: it must be {text}")


def check_value(key: str, value: Any) -> None:
    """Raise a :func:`refuse` error unless ``value`` is allowed for ``key``."""
    spec = SCHEMA[key]
    if not spec.constraint.ok(value):
        repeated = _repeated(value) if getattr(spec.constraint, "distinct", False) else ""
        raise refuse(key, value, spec.constraint.text + repeated)


def _repeated(value: Any) -> str:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        return ""
    seen: set[str] = set()
    twice = [v for v in map(str, value) if v in seen or seen.add(v)]
    return f" ({', '.join(repr(v) for v in dict.fromkeys(twice))} given twice)" if twice else ""


def check_values(values: dict[str, Any], between: bool = True) -> None:
    """Check a nested, JSON-ready config dict: each key, then (``between``) across keys."""
    for key in ("variant", "random_state"):
        if key in values:
            check_value(key, values[key])
    for section in ("data", "walk_forward", "model", "portfolio"):
        for key, value in (values.get(section) or {}).items():
            if key in SCHEMA:
                check_value(key, value)
    models = values.get("models") or {}
    names = models.get("names")
    if names is not None and not MODEL_NAMES.constraint.ok(names):
        text = MODEL_NAMES.constraint.text + _repeated(names)
        raise refuse("models", names, text, MODEL_NAMES)
    if between and names is not None:
        idle = sorted(k for k in models if k != "names" and k not in names)
        if idle:
            raise ValueError(
                f"[models.{idle[0]}] is configured but {idle[0]!r} is not in models (--models) "
                f"= {list(names)}: add it to the list or drop the table"
            )
    if between:
        _check_between(values)


def _check_between(values: dict[str, Any]) -> None:
    data = values.get("data") or {}
    start, end = parse_month(data.get("start")), parse_month(data.get("end"))
    if start and end and start >= end:
        raise ValueError(
            f"[data] start (--start) = {data['start']!r} is not before end (--end) = "
            f"{data['end']!r}: the first month must come before the last"
        )
    targets, relatives = data.get("targets") or (), data.get("relatives") or ()
    both = sorted(set(targets) & set(relatives))
    if both:
        raise ValueError(
            f"{both} appear both in [data] targets (--tickers) and in [data] relatives "
            "(--relatives): a ticker is a target or a relative, not both"
        )
    wf, model = values.get("walk_forward") or {}, values.get("model") or {}
    train_size, min_train = wf.get("train_size"), wf.get("min_train")
    if wf.get("window") == "rolling" and train_size is not None and min_train is not None:
        if train_size < min_train:
            raise ValueError(
                f"[walk_forward] train_size (--train-size) = {train_size} is below min_train "
                f"(--min-train) = {min_train}: a rolling window holds at least the first fit's "
                "samples"
            )
    fraction = model.get("validation_fraction")
    if min_train is not None and fraction is not None and min_train * fraction < 1:
        raise ValueError(
            f"[walk_forward] min_train (--min-train) = {min_train} leaves no validation sample "
            f"with validation_fraction = {fraction}: min_train must be at least "
            f"{math.ceil(1 / fraction)}"
        )
    lr, min_lr = model.get("learning_rate"), model.get("min_lr")
    if lr is not None and min_lr is not None and min_lr > lr:
        raise ValueError(
            f"[model] min_lr = {min_lr} is above learning_rate = {lr}: the learning rate is "
            "only ever lowered towards min_lr"
        )
