"""The window cache key and the rolling baseline, as mutation testing asked (issue 15).

Each test builds its expectation without the engine's own bookkeeping: the key must
change (and the store recompute) whenever anything that changes a window's result
changes; the rolling historical mean must average exactly ``train_size`` months
ending at the origin, counted on the price index itself.
"""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtest.config import ModelConfig, config_from_mapping
from backtest.engine import walkforward
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import (
    MEMBERS,
    WindowJob,
    assemble,
    fit_window,
    plan_jobs,
    prepare,
    run_jobs,
    walk_forward,
)
from backtest.features import Variant
from models.base import Forecaster
from models.registry import ModelSpec

TINY = ModelConfig(units=(4, 2), dense_units=4, epochs=3, lookback=6)


def _prices(n_months=44, names=("A", "B", "C", "X"), seed=11):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2012-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.06, size=(n_months, len(names)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=list(names))


def _config(**kw):
    base = dict(
        targets=("A", "B", "C"),
        relatives=("X",),
        variant=Variant.BASE,
        model=TINY,
        min_train=24,
        models=["lstm"],  # these tests are about the LSTM's windows and keys
    )
    return config_from_mapping({**base, **kw})


def _jobs(config, prices):
    seq, _ = prepare(config, prices)
    return plan_jobs(config, seq)


def _keys(config, prices):
    return [job.key for job in _jobs(config, prices)]


class _CountingRunner:
    """A runner that 'fits' a window without Keras and counts the windows it fits."""

    def __init__(self):
        self.fitted = 0

    def __call__(self, fit, jobs):
        for job in jobs:
            self.fitted += 1
            arrays = {
                "forecast": np.zeros((len(job.X_test), job.y_train.shape[1])),
                "epochs_run": np.array([1]),
                "best_val_loss": np.array([0.0]),
            }
            yield job.key, arrays


def _changed_model(field: dataclasses.Field) -> ModelConfig | None:
    value = getattr(TINY, field.name)
    if isinstance(value, bool) or field.name == "lookback":  # lookback: see features test
        return None
    if isinstance(value, int):
        return dataclasses.replace(TINY, **{field.name: value + 1})
    if isinstance(value, float):
        return dataclasses.replace(TINY, **{field.name: value * 0.5})
    if isinstance(value, tuple):
        return dataclasses.replace(TINY, **{field.name: (value[0] + 1, *value[1:])})
    return None


MODEL_CHANGES = [
    pytest.param(changed, id=f.name)
    for f in dataclasses.fields(ModelConfig)
    if (changed := _changed_model(f)) is not None
]


def test_every_window_has_its_own_key():
    keys = _keys(_config(), _prices())
    assert len(keys) == len(set(keys)) > 1


@pytest.mark.parametrize("model", MODEL_CHANGES)
def test_key_changes_with_each_model_parameter(model):
    prices = _prices()
    assert set(_keys(_config(), prices)).isdisjoint(_keys(_config(model=model), prices))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(dict(random_state=1), id="seed"),
        pytest.param(dict(variant=Variant.RELATIVES), id="features-variant"),
        pytest.param(dict(model=dataclasses.replace(TINY, lookback=5)), id="features-lookback"),
        pytest.param(dict(epochs=4), id="epochs"),
        pytest.param(dict(units=(8, 2)), id="units"),
    ],
)
def test_key_changes_with_seed_features_and_model(change):
    prices = _prices()
    if "epochs" in change or "units" in change:
        change = dict(model=dataclasses.replace(TINY, **change))
    assert set(_keys(_config(), prices)).isdisjoint(_keys(_config(**change), prices))


def test_key_changes_with_the_engine_version(monkeypatch):
    prices = _prices()
    before = _keys(_config(), prices)
    monkeypatch.setattr(walkforward, "ENGINE_VERSION", walkforward.ENGINE_VERSION + "-next")
    assert set(before).isdisjoint(_keys(_config(), prices))


def test_key_changes_with_the_data_a_window_sees_and_only_that():
    prices = _prices()
    before = _keys(_config(), prices)
    early = prices.copy()
    early.iloc[0, 0] *= 1.01  # every (expanding) window trains on the first months
    assert set(before).isdisjoint(_keys(_config(), early))
    last = prices.copy()
    last.iloc[-1, 1] *= 1.01  # only the realised target of the last forecast: no input
    assert _keys(_config(), last) == before
    late = prices.copy()
    late.iloc[-2, 1] *= 1.01  # the last origin's month: only the last window sees it
    after = _keys(_config(), late)
    assert after[:-1] == before[:-1] and after[-1] != before[-1]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(dict(random_state=1), id="seed"),
        pytest.param(dict(model=dataclasses.replace(TINY, epochs=4)), id="epochs"),
        pytest.param(dict(model=dataclasses.replace(TINY, units=(4, 3))), id="units"),
        pytest.param(dict(variant=Variant.RELATIVES), id="features"),
    ],
)
def test_store_recomputes_every_window_after_a_change_and_none_on_a_rerun(tmp_path, change):
    prices = _prices()
    store = WindowStore(tmp_path)
    runner = _CountingRunner()
    jobs = _jobs(_config(), prices)
    run_jobs(jobs, store, runner)
    assert runner.fitted == len(jobs)
    _, n_cached = run_jobs(_jobs(_config(), prices), store, runner)
    assert (n_cached, runner.fitted) == (len(jobs), len(jobs))  # identical rerun: all cached
    changed = _jobs(_config(**change), prices)
    _, n_cached = run_jobs(changed, store, runner)
    assert n_cached == 0 and runner.fitted == len(jobs) + len(changed)


@pytest.mark.parametrize("train_size", [24, 30])
def test_rolling_historical_mean_averages_train_size_months_ending_at_the_origin(train_size):
    prices = _prices(n_months=60)
    config = _config(window="rolling", train_size=train_size)
    seq, notes = prepare(config, prices)
    jobs = plan_jobs(config, seq)
    outputs = [
        {
            "forecast": np.zeros((len(j.X_test), 3)),
            "epochs_run": np.array([1]),
            "best_val_loss": np.array([0.0]),
        }
        for j in jobs
    ]
    panel = assemble(config, seq, jobs, outputs, 0, (), notes, np.log(prices).diff().iloc[1:])
    log_returns = np.log(prices[["A", "B", "C"]]).diff()
    months = list(log_returns.index)
    for date in panel.hist_mean.index:
        origin = months.index(date) - 1  # the forecast of `date` is made at the month before
        # every return of the data counts (row 0 of the diff is NaN), not only target months
        start = max(origin - train_size + 1, 1)
        expected = log_returns.iloc[start : origin + 1]
        if origin >= train_size:
            assert len(expected) == train_size
        np.testing.assert_allclose(panel.hist_mean.loc[date], expected.mean(), rtol=1e-12)
    # The last forecasts are far from the warm-up: a window of exactly train_size months.
    last = panel.hist_mean.index[-1]
    window = log_returns.loc[:last].iloc[-1 - train_size : -1]
    np.testing.assert_allclose(panel.hist_mean.loc[last], window.mean(), rtol=1e-12)


def _ridge(alpha=1.0, estimator="sklearn.linear_model:Ridge"):
    return {"names": ["ext"], "ext": {"estimator": estimator, "params": {"alpha": alpha}}}


@pytest.mark.parametrize(
    ("models", "other"),
    [
        pytest.param(["lstm"], ["zero"], id="name"),
        pytest.param(_ridge(1.0), _ridge(2.0), id="estimator-params"),
        pytest.param(_ridge(), _ridge(estimator="sklearn.linear_model:Lasso"), id="estimator"),
    ],
)
def test_key_changes_with_the_model_identity(models, other):
    prices = _prices()
    assert set(_keys(_config(models=models), prices)).isdisjoint(
        _keys(_config(models=other), prices)
    )


def test_adding_a_model_reuses_the_windows_of_the_models_already_fitted(tmp_path):
    prices = _prices()
    store, runner = WindowStore(tmp_path), _CountingRunner()
    alone = _jobs(_config(models=["zero"]), prices)
    run_jobs(alone, store, runner)
    both = _jobs(_config(models=["zero", "lstm"]), prices)
    _, n_cached = run_jobs(both, store, runner)
    assert n_cached == len(alone) and runner.fitted == len(both)


# --- What the mutation run of backtest/engine/walkforward.py found unchecked ----------------


def _job(name="ols", seed=7, n_train=20, n_test=3):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n_train + n_test, 6, 4))
    y = X[:, -1, :3] @ np.array([[0.5, 0, 0], [0, -0.2, 0], [0, 0, 0.1]]) + 0.01
    y = y + 0.01 * rng.normal(size=y.shape)
    return WindowJob("k", X[:n_train], y[:n_train], X[n_train:], ModelSpec.of(name), seed)


def test_fit_window_fits_the_built_model_on_the_window_and_forecasts_its_test_rows(monkeypatch):
    built = []
    real_build = walkforward.build

    def spy(spec, random_state=None):
        built.append((spec, random_state))
        return real_build(spec, random_state=random_state)

    monkeypatch.setattr(walkforward, "build", spy)
    job = _job()
    output = fit_window(job)
    assert built == [(job.model, 7)]  # the job's model, seeded with the job's seed
    # OLS with an intercept on the last month's features, by least squares.
    design = np.column_stack([np.ones(len(job.X_train)), job.X_train[:, -1, :]])
    beta = np.linalg.lstsq(design, job.y_train, rcond=None)[0]
    expected = np.column_stack([np.ones(len(job.X_test)), job.X_test[:, -1, :]]) @ beta
    assert set(output) == {"forecast"}  # one member: no member forecasts kept
    assert output["forecast"].dtype == np.float64
    np.testing.assert_allclose(output["forecast"], expected, atol=1e-12)


class _TwoMembers(Forecaster):
    """An 'ensemble' of two members at the training mean -/+ 1, with one diagnostic."""

    def fit(self, X, y):
        self.mean_ = np.asarray(y).mean(axis=0)
        return self

    def predict(self, X):
        return np.tile(self.mean_, (len(X), 1))

    def member_predictions(self, X):
        return np.stack([self.predict(X) - 1.0, self.predict(X) + 1.0])

    def diagnostics(self):
        return {"epochs_run": np.array([3.0, 5.0])}


def test_fit_window_keeps_an_ensembles_members_and_diagnostics(monkeypatch):
    monkeypatch.setattr(walkforward, "build", lambda spec, random_state=None: _TwoMembers())
    job = _job()
    output = fit_window(job)
    mean = np.tile(job.y_train.mean(axis=0), (3, 1))
    np.testing.assert_allclose(output["forecast"], mean)
    np.testing.assert_allclose(output[MEMBERS], np.stack([mean - 1.0, mean + 1.0]))
    np.testing.assert_array_equal(output["epochs_run"], [3.0, 5.0])


def test_diagnostics_table_names_shared_extras_by_model():
    splits = [SimpleNamespace(train=np.arange(10)), SimpleNamespace(train=np.arange(12))]
    origins = [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-29")]
    a, b = (SimpleNamespace(model=SimpleNamespace(name=n)) for n in ("a", "b"))
    members = np.zeros((2, 1, 1))
    outputs = [
        {"forecast": np.zeros(1), "epochs_run": np.array([3.0, 5.0]), MEMBERS: members},
        {"forecast": np.zeros(1), "epochs_run": np.array([7.0]), "n_iter": np.array([10, 20])},
        {"forecast": np.zeros(1), "epochs_run": np.array([1.0]), MEMBERS: members},
        {"forecast": np.zeros(1), "epochs_run": np.array([2.0]), "n_iter": np.array([30, 30])},
    ]
    table = walkforward._diagnostics(splits, origins, [a, b, a, b], outputs)
    expected = pd.DataFrame(
        {
            "origin": origins,
            "n_train": [10, 12],
            "epochs_run@a": [4.0, 1.0],  # two models report epochs_run: named by model
            "epochs_run@b": [7.0, 2.0],
            "n_iter": [15.0, 30.0],  # only b reports it: its own name
        }
    )
    pd.testing.assert_frame_equal(table, expected)
    with pytest.raises(ValueError):  # a missing output is an error, not a shorter table
        walkforward._diagnostics(splits, origins, [a, b, a, b, a], outputs)


class _MemberRunner:
    """Forecast 0.01 everywhere; members 0.0 and 0.02 (only in the first ``keep`` windows)."""

    def __init__(self, keep=None):
        self.keep, self.seen = keep, 0

    def __call__(self, fit, jobs):
        for job in jobs:
            shape = (len(job.X_test), job.y_train.shape[1])
            arrays = {"forecast": np.full(shape, 0.01), "epochs_run": np.array([2.0])}
            if self.keep is None or self.seen < self.keep:
                arrays[MEMBERS] = np.stack([np.zeros(shape), np.full(shape, 0.02)])
            self.seen += 1
            yield job.key, arrays


def test_walk_forward_panel_fields(tmp_path):
    config, prices = _config(), _prices()
    store = WindowStore(tmp_path)
    calls = []

    def progress(stream, n):
        calls.append(n)
        return stream

    panel = walk_forward(config, prices, store, _MemberRunner(), progress)
    n_jobs = len(_jobs(config, prices))
    assert calls == [n_jobs]
    assert (panel.n_cached, panel.n_computed, panel.corrupt) == (0, n_jobs, ())
    assert panel.variant is Variant.BASE
    assert panel.notes == prepare(config, prices)[1]
    assert (panel.origin.name, panel.train_start.name, panel.train_end.name) == (
        "origin", "train_start", "train_end",
    )  # fmt: skip
    # A forecast made at origin t for month t + 1 was trained on data up to t.
    np.testing.assert_array_equal(panel.train_end, panel.origin)
    assert (panel.realised.index > panel.origin).all()
    low, high = panel.members["lstm"]
    np.testing.assert_array_equal(low.to_numpy(), 0.0)
    np.testing.assert_array_equal(high.to_numpy(), 0.02)
    assert low.index.equals(panel.realised.index) and list(low.columns) == ["A", "B", "C"]
    assert panel.diagnostics["n_train"].iloc[0] == 24  # min_train
    np.testing.assert_array_equal(panel.diagnostics["epochs_run"], 2.0)
    # A rerun: everything cached; a corrupted window is named and recomputed.
    store.path(_jobs(config, prices)[0].key).write_bytes(b"not a window")
    again = walk_forward(config, prices, WindowStore(tmp_path), _MemberRunner())
    assert (again.n_cached, again.n_computed) == (n_jobs - 1, 1)
    assert again.corrupt == (_jobs(config, prices)[0].key,)


def test_members_are_kept_only_when_every_window_has_them(tmp_path):
    panel = walk_forward(_config(), _prices(), WindowStore(tmp_path), _MemberRunner(keep=1))
    assert panel.members == {}


def test_window_key_covers_the_targets_and_the_test_inputs():
    job = _job()
    arrays = (job.X_train, job.y_train, job.X_test)
    key = walkforward.window_key(arrays, job.model, 7)
    for k in range(3):
        changed = list(arrays)
        changed[k] = changed[k] + 1e-9
        assert walkforward.window_key(tuple(changed), job.model, 7) != key


@pytest.mark.parametrize("variant", list(Variant))
def test_the_minimum_history_gives_one_forecast_and_one_month_fewer_is_refused(variant):
    # The promise of the message: with `needed` prices there is a forecast. It was off by one
    # both ways: base/relatives then failed in the splitter, indicators asked for 2 too many.
    config = _config(variant=variant)
    needed = walkforward.minimum_months(config)
    prices = _prices(n_months=needed)
    seq, _ = prepare(config, prices)
    assert len(walkforward.plan_jobs(config, seq)) == 1
    short = prices.iloc[1:]
    with pytest.raises(ValueError, match=rf"needs at least {needed} monthly prices, the data "
                       rf"has {needed - 1} \({short.index[0]:%Y-%m} \.\. "
                       rf"{short.index[-1]:%Y-%m}\); widen --start/--end or lower "
                       r"--min-train/--lookback$"):  # fmt: skip
        prepare(config, short)


def test_a_missing_month_is_named():
    prices = _prices().drop(pd.Timestamp("2013-04-30"))
    message = (
        "`prices` must hold consecutive months, one row each: 2013-03 is followed by 2013-05; "
        "fill the gap, or load the prices with backtest.data.prices.load_prices"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        prepare(_config(), prices)


def test_model_list_messages():
    with pytest.raises(ValueError, match=r"^no model to run: list at least one, e\.g\. --models"):
        walkforward.model_specs(dataclasses.replace(_config(), models=_models(())))
    with pytest.raises(ValueError, match=r"^models are listed twice: \['ols', 'ols'\]$"):
        walkforward.model_specs(dataclasses.replace(_config(), models=_models(("ols", "ols"))))


def _models(names):
    return dataclasses.replace(_config().models, names=names)


def test_jobs_rows_seeds_refits_and_the_live_fit():
    config, prices = _config(refit_every=12), _prices()
    seq, _ = prepare(config, prices)
    jobs = plan_jobs(config, seq)
    n_test = seq.n_labelled - 24  # months forecast after min_train
    assert len(jobs) == -(-n_test // 12)  # one refit a year
    for job in jobs:
        a, b, c, d = job.rows
        np.testing.assert_array_equal(seq.X[a:b], job.X_train)
        np.testing.assert_array_equal(seq.y[a:b], job.y_train)
        np.testing.assert_array_equal(seq.X[c:d], job.X_test)
        origin = seq.origins[c]
        assert job.seed == walkforward.window_seed(config.random_state, config.variant, origin)
    live = plan_jobs(config, seq, live=True)  # one more sample: the unlabelled last sequence
    assert live[-1].rows[3] == seq.n_labelled + 1
    np.testing.assert_array_equal(live[-1].X_test[-1], seq.X[seq.n_labelled])


def test_run_jobs_hands_fit_window_to_the_runner(tmp_path):
    config = _config(models=["ols"])
    jobs = _jobs(config, _prices())
    outputs, n_cached = run_jobs(jobs, WindowStore(tmp_path), lambda fit, todo: (
        (job.key, fit(job)) for job in todo))  # fmt: skip
    assert n_cached == 0
    for job, output in zip(jobs, outputs, strict=True):
        np.testing.assert_array_equal(output["forecast"], fit_window(job)["forecast"])


class _Float32(_TwoMembers):
    """What Keras returns: float32 forecasts."""

    def predict(self, X):
        return super().predict(X).astype(np.float32)


def test_fit_window_stores_float64_even_from_a_float32_model(monkeypatch):
    monkeypatch.setattr(walkforward, "build", lambda spec, random_state=None: _Float32())
    output = fit_window(_job())
    assert output["forecast"].dtype == np.float64 and output[MEMBERS].dtype == np.float64


def test_walk_forward_keeps_the_feature_notes(tmp_path):
    config = _config(variant=Variant.INDICATORS)
    panel = walk_forward(config, _prices(n_months=60), WindowStore(tmp_path), _MemberRunner())
    assert len(panel.notes) == 1 and panel.notes[0].startswith("indicators: dropped the first")


def test_assemble_refuses_outputs_that_do_not_match_the_jobs(tmp_path):
    config, prices = _config(), _prices()
    seq, notes = prepare(config, prices)
    jobs = plan_jobs(config, seq)
    outputs, _ = run_jobs(jobs, WindowStore(tmp_path), _MemberRunner())
    returns = walkforward.log_returns(prices)
    with pytest.raises(ValueError):  # one output too many: not silently dropped
        assemble(config, seq, jobs, [*outputs, outputs[0]], 0, (), notes, returns)
