"""What a walk-forward returns: every model's out-of-sample forecasts, with their benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backtest.features import Variant

BENCHMARK = "hist_mean"
"""The benchmark forecast every panel carries (the historical mean at each origin)."""


@dataclass(frozen=True)
class ForecastPanel:
    """Out-of-sample forecasts of one variant, with what they are compared to.

    All frames are (n_forecast_months, n_targets), indexed by the month forecast.

    Attributes
    ----------
    forecasts : dict of str to DataFrame
        Each model's forecasts, keyed by model name in the configured order (the first
        is the primary model).
    hist_mean, realised : DataFrame
        The historical-mean baseline and the realised log returns.
    origin : DatetimeIndex
        The month at whose end each forecast was made.
    train_start, train_end : DatetimeIndex
        First and last month of the returns each forecast's baseline (and the strategies'
        sample moments) are estimated on.
    diagnostics : DataFrame
        Per refit: origin, training samples, and each model's optional extras (e.g. the
        LSTM's epochs run and best validation loss, ensemble means).
    n_cached, n_computed : int
        Windows read from the store and windows fitted by this call.
    corrupt : tuple of str
        Stored windows that failed their checksum and were recomputed.
    notes : tuple of str
        Data notes carried from the feature builder.
    members : dict of str to tuple of DataFrame
        Each ensemble member's forecasts, for the models of more than one member (e.g. the
        LSTM with ``n_seeds > 1``); the model's entry in ``forecasts`` is the ensemble's.
    """

    variant: Variant
    forecasts: dict[str, pd.DataFrame]
    hist_mean: pd.DataFrame
    realised: pd.DataFrame
    origin: pd.DatetimeIndex
    train_start: pd.DatetimeIndex
    train_end: pd.DatetimeIndex
    diagnostics: pd.DataFrame
    n_cached: int
    n_computed: int
    corrupt: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    members: dict[str, tuple[pd.DataFrame, ...]] = field(default_factory=dict)

    @property
    def models(self) -> tuple[str, ...]:
        """Model names, primary first."""
        return tuple(self.forecasts)

    @property
    def primary(self) -> str:
        """The first configured model."""
        return next(iter(self.forecasts))

    def forecast(self, model: str | None = None) -> pd.DataFrame:
        """Forecasts of ``model`` (default: the primary model)."""
        name = self.primary if model is None else model
        try:
            return self.forecasts[name]
        except KeyError:
            raise ValueError(
                f"no forecasts of model {name!r}; the panel has {self.models}"
            ) from None

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The months forecast."""
        return pd.DatetimeIndex(self.realised.index)

    @property
    def tickers(self) -> list[str]:
        """The forecast targets."""
        return list(self.realised.columns)

    def tidy(self) -> pd.DataFrame:
        """Long form: date, ticker, model, forecast, realised, origin, train start/end."""
        frames = []
        for model, frame in (*self.forecasts.items(), (BENCHMARK, self.hist_mean)):
            long = (
                frame.rename_axis("date")
                .reset_index()
                .melt(id_vars="date", var_name="ticker", value_name="forecast")
            )
            long["model"] = model
            frames.append(long)
        out = pd.concat(frames, ignore_index=True)
        realised = (
            self.realised.rename_axis("date")
            .reset_index()
            .melt(id_vars="date", var_name="ticker", value_name="realised")
        )
        out = out.merge(realised, on=["date", "ticker"], how="left")
        meta = pd.DataFrame(
            {
                "date": self.dates,
                "origin": self.origin,
                "train_start": self.train_start,
                "train_end": self.train_end,
            }
        )
        out = out.merge(meta, on="date", how="left")
        columns = ["date", "ticker", "model", "forecast", "realised", "origin"]
        return out[[*columns, "train_start", "train_end"]].sort_values(
            ["date", "model", "ticker"], kind="stable", ignore_index=True
        )
