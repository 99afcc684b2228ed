"""One run directory, one reader: :class:`RunResult`, what ``run`` wrote and everything reads.

``run`` builds a :class:`RunResult` and writes it (see :mod:`backtest.pipeline`); ``report``,
``compare`` and notebooks read it back with :func:`load_run`. A directory is a finished run
when it holds :data:`REQUIRED_FILES` and its manifest (:mod:`backtest.reports.staging`)
matches every file: the reader names what is missing, mixed or changed, and what to run.

Longer than ~300 lines because :class:`RunResult` and its one reader are kept together: every
field's file and check sit beside each other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from backtest.config import RunConfig, config_from_mapping
from backtest.reports.staging import verify

#: Files without which a directory is not a finished run (file -> what it provides).
REQUIRED_FILES = {
    "config.json": "run configuration and data span",
    "summary.md": "verdict",
    "performance.csv": "strategy ranking",
    "forecast_metrics.csv": "forecast metrics per model and ticker",
    "portfolio_returns.csv": "monthly returns per strategy",
    "forecasts.csv": "forecasts per model and realised returns",
}
RUN_KIND = "run"

#: Outputs of ``python -m backtest compare``, looked for next to the run and one level up.
COMPARISON_FILES = ("comparison.md", "comparison.csv", "pbo_logits.png")
BASELINE_MODEL = "hist_mean"

_RUN_HINT = (
    "write one with `python -m backtest run --variant relatives --results-dir DIR` "
    "and pass DIR/<run-name>"
)


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced: its config, data, forecasts, portfolios and verdict.

    Attributes
    ----------
    config : RunConfig
        The resolved configuration.
    data : dict
        Fingerprint (SHA-256 of the prices), source, first/last month, forecast months,
        notes and window counts.
    forecasts : dict of str to pandas.DataFrame
        Per model (e.g. the LSTM and the historical mean), (n_months, n_targets) forecasts
        indexed by the month forecast.
    realised : pandas.DataFrame
        (n_months, n_targets) realised log returns of the same months.
    forecast_metrics : pandas.DataFrame
        RMSE, R2_OS, Clark-West... per ``model`` (every model and ``hist_mean``) and
        ``ticker`` (each model's last row ``pooled``), tidy.
    expected, weights : pandas.DataFrame or None
        Tidy expected returns and weights per strategy and month (None when absent).
    portfolio_returns : pandas.DataFrame
        Tidy monthly ``gross`` and ``net`` simple returns per ``date`` and ``strategy``.
    performance : pandas.DataFrame
        Net performance indexed by strategy (column ``role``), best Sharpe first.
    verdict, title : str
        The verdict in plain words and the run's title.
    versions : dict
        Versions of the packages that shaped the numbers.
    model_comparison, inference : pandas.DataFrame or None
        DM between every pair of models, and every test behind the verdict (None when absent).
    run_dir : Path or None
        Where it was read from or written to (None for a result held in memory only).
    """

    config: RunConfig
    data: dict
    forecasts: dict[str, pd.DataFrame]
    realised: pd.DataFrame
    forecast_metrics: pd.DataFrame
    expected: pd.DataFrame | None
    weights: pd.DataFrame | None
    portfolio_returns: pd.DataFrame
    performance: pd.DataFrame
    verdict: str
    title: str
    versions: dict = field(default_factory=dict)
    model_comparison: pd.DataFrame | None = None
    inference: pd.DataFrame | None = None
    run_dir: Path | None = None

    @property
    def variant(self) -> str:
        """The variant's name."""
        return self.config.variant.value

    @property
    def primary_model(self) -> str:
        """The first configured model that has forecasts (the strategies' input)."""
        models = [m for m in self.forecasts if m != BASELINE_MODEL]
        if not models:
            raise ValueError(f"{self.run_dir}: forecasts.csv holds no model besides hist_mean")
        return next((m for m in self.config.models.names if m in self.forecasts), models[0])

    def metrics_of(self, model: str | None = None) -> pd.DataFrame:
        """forecast_metrics.csv rows of ``model`` (default: the primary), indexed by ticker."""
        name = self.primary_model if model is None else model
        rows = self.forecast_metrics[self.forecast_metrics["model"] == name]
        if rows.empty:
            models = list(dict.fromkeys(self.forecast_metrics["model"]))
            raise ValueError(f"forecast_metrics.csv has no rows of model {name!r}; it has {models}")
        return rows.drop(columns="model").set_index("ticker")

    @property
    def models_compared(self) -> pd.DataFrame | None:
        """The "models compared" table of summary.md, rebuilt by the same function from the files.

        None when the run has no model_comparison.csv (one written before it existed).
        """
        if self.model_comparison is None:
            return None
        # Imported here: scipy and statsmodels are seconds of start-up that reading a run's
        # files does not otherwise need.
        from backtest.evaluation.models import mcs_p_values, models_table

        mcs = mcs_p_values(self.inference) if self.inference is not None else None
        return models_table(self.forecast_metrics, self.model_comparison, self.primary_model, mcs)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the prices the run used."""
        return str(self.data.get("fingerprint", ""))

    @property
    def net(self) -> pd.DataFrame:
        """(n_months, n_strategies) monthly net simple returns, month-end dates x strategies."""
        frame = self.portfolio_returns.copy()
        frame["date"] = pd.to_datetime(frame["date"])
        net = frame.pivot(index="date", columns="strategy", values="net").sort_index()
        net.columns.name = None
        return net

    @property
    def roles(self) -> dict[str, str]:
        """The role of each strategy: strategy, baseline or benchmark."""
        return {str(k): str(v) for k, v in self.performance["role"].items()}

    @property
    def risk_free(self) -> float:
        """Annual risk-free rate of the Sharpe ratios."""
        return float(self.config.portfolio.risk_free)

    @property
    def random_state(self) -> int:
        """The run's base seed."""
        return int(self.config.random_state)

    def path(self, name: str) -> Path:
        """A file of the run directory."""
        if self.run_dir is None:
            raise ValueError("this RunResult was not written to a directory (run_dir is None)")
        return self.run_dir / name

    def record(self) -> dict:
        """The JSON-ready ``config.json`` payload: config, data and versions."""
        return {"config": self.config.to_dict(), "data": self.data, "versions": self.versions}

    @property
    def comparison_dir(self) -> Path | None:
        """The run directory or its parent, whichever holds a comparison covering this run."""
        return None if self.run_dir is None else find_comparison(self.run_dir)

    @property
    def comparison_verdict(self) -> str:
        """The text under ``## Verdict`` in the covering ``comparison.md`` ('' if none)."""
        folder = self.comparison_dir
        md = folder / "comparison.md" if folder is not None else None
        if md is None or not md.is_file():
            return ""
        return markdown_section(md.read_text(encoding="utf-8"), "Verdict")

    @property
    def other_comparison(self) -> Path | None:
        """A folder holding a comparison of other runs that does not include this one."""
        if self.run_dir is None:
            return None
        covering = self.comparison_dir
        return next((f for f in _comparison_folders(self.run_dir) if f != covering), None)


def markdown_section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a markdown text ('' if there is none)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.fullmatch(rf"##\s+{re.escape(heading)}\s*", line.strip(), flags=re.IGNORECASE):
            body = []
            for rest in lines[i + 1 :]:
                if re.match(r"#{1,2}\s", rest):
                    break
                body.append(rest)
            return "\n".join(body).strip()
    return ""


def _not_a_run(run_dir: Path, absent: list[str]) -> ValueError:
    runs = sorted(p.name for p in run_dir.iterdir() if p.is_dir() and (p / "config.json").is_file())
    hint = f"; it holds the runs {', '.join(runs)}: pass one of those" if runs else ""
    what = ", ".join(f"{name} ({REQUIRED_FILES[name]})" for name in absent)
    return ValueError(
        f"run_dir={str(run_dir)!r} is not a finished backtest run: missing {what}{hint}; "
        f"{_RUN_HINT}"
    )


def _read_csv(path: Path, columns: tuple[str, ...] = (), index: str | None = None):
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}; rerun the backtest to rewrite it") from exc
    missing = [c for c in (*columns, *([index] if index else [])) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {missing} (columns: {list(frame.columns)}); it was not "
            "written by this version of `backtest run`: rerun the backtest to rewrite it"
        )
    return frame.set_index(index) if index is not None else frame


def _covers(folder: Path, run_dir: Path) -> bool:
    """Whether the comparison in ``folder`` includes ``run_dir`` (True if it does not say)."""
    try:
        listed = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))["run_dirs"]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    # Paths were recorded as given on the command line, maybe relative to another working
    # directory: a same-named run directory counts unless it resolves elsewhere.
    here = run_dir.resolve()
    for entry in map(Path, listed):
        if entry.resolve() == here or (not entry.is_absolute() and entry.name == run_dir.name):
            return True
    return False


def _comparison_folders(run_dir: Path) -> list[Path]:
    return [
        folder
        for folder in (run_dir, run_dir.parent)
        if any((folder / name).is_file() for name in COMPARISON_FILES[:2])
    ]


def find_comparison(run_dir: Path) -> Path | None:
    """The run directory or its parent, whichever holds a comparison covering this run."""
    return next((f for f in _comparison_folders(run_dir) if _covers(f, run_dir)), None)


def _read_record(run_dir: Path) -> tuple[dict, RunConfig]:
    path = run_dir / "config.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        values = record["config"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"cannot parse {path}: {exc!r}; rerun the backtest to rewrite it"
        ) from None
    if not isinstance(record, dict) or not isinstance(values, dict):
        raise ValueError(f"cannot parse {path}: no 'config' table; rerun the backtest")
    try:
        config = config_from_mapping(values)
    except ValueError as exc:
        raise ValueError(f"{path} holds an invalid config ({exc}); rerun the backtest") from None
    return record, config


def _forecast_frames(path: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    fc = _read_csv(path, ("date", "ticker", "model", "forecast", "realised"))
    if fc.empty:
        raise ValueError(f"{str(path)!r} has no rows; rerun `backtest run`.")
    fc["date"] = pd.to_datetime(fc["date"])
    forecasts = {
        str(model): rows.pivot(index="date", columns="ticker", values="forecast")
        for model, rows in fc.groupby("model", sort=False)
    }
    first = fc[fc["model"] == fc["model"].iloc[0]]
    realised = first.pivot(index="date", columns="ticker", values="realised")
    for frame in (*forecasts.values(), realised):
        frame.columns.name = None
    if BASELINE_MODEL not in forecasts or len(forecasts) < 2:
        raise ValueError(
            f"{str(path)!r} needs rows of a model and of {BASELINE_MODEL!r} (has "
            f"{sorted(forecasts)}); rerun the run."
        )
    return forecasts, realised


def load_run(run_dir: str | Path, check: bool = True) -> RunResult:
    """Read a run directory back into a :class:`RunResult`.

    Parameters
    ----------
    run_dir : str or Path
        ``results/<run-name>/`` as written by ``python -m backtest run``.
    check : bool, default True
        Verify the manifest: every file present and unchanged, written with this config.

    Raises
    ------
    ValueError
        Not a directory, a required file missing, a file unparseable, or the directory
        incomplete or mixed (the message names the file and what to run).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(
            f"run_dir={str(run_dir)!r} does not exist or is not a directory; {_RUN_HINT}"
        )
    absent = [name for name in REQUIRED_FILES if not (run_dir / name).is_file()]
    if absent:
        raise _not_a_run(run_dir, absent)
    record, config = _read_record(run_dir)
    if check:
        verify(run_dir, RUN_KIND, config.to_dict())
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    title = next(
        (line[2:].strip() for line in summary.splitlines() if line.startswith("# ")),
        f"Backtest {run_dir.name}",
    )
    performance = _read_csv(run_dir / "performance.csv", ("role",), index="strategy")
    returns = _read_csv(run_dir / "portfolio_returns.csv", ("date", "strategy", "net"))
    if returns.empty:
        raise ValueError(f"{str(run_dir / 'portfolio_returns.csv')!r} has no rows; rerun it.")
    forecasts, realised = _forecast_frames(run_dir / "forecasts.csv")
    return RunResult(
        config=config,
        data=record.get("data") or {},
        forecasts=forecasts,
        realised=realised,
        forecast_metrics=_read_csv(run_dir / "forecast_metrics.csv", ("model", "ticker")),
        expected=_read_csv(run_dir / "expected_returns.csv"),
        weights=_read_csv(run_dir / "weights.csv"),
        portfolio_returns=returns,
        performance=performance,
        verdict=markdown_section(summary, "Verdict"),
        title=title,
        versions=record.get("versions") or {},
        model_comparison=_read_csv(
            run_dir / "model_comparison.csv", ("model", "versus", "ticker", "dm_stat", "p_value")
        ),
        inference=_read_csv(run_dir / "inference.csv", ("test", "subject", "p_value")),
        run_dir=run_dir,
    )
