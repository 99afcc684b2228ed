from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import ModelConfig, config_from_mapping
from backtest.engine.local import local_runner
from backtest.engine.store import WindowStore
from backtest.engine.walkforward import (
    minimum_months,
    plan_jobs,
    prepare,
    walk_forward,
    window_seed,
)
from backtest.features import Variant

TINY = ModelConfig(units=(4, 2), dense_units=4, epochs=3, lookback=6)


def _prices(rng, n_months=48, names=("A", "B", "C", "X")):
    index = pd.date_range("2012-01-31", periods=n_months, freq="ME", name="date")
    steps = rng.normal(0.01, 0.06, size=(n_months, len(names)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=list(names))


def _config(**kw):
    base = dict(
        targets=("A", "B", "C"),
        relatives=("X",),
        variant=Variant.BASE,
        model=TINY,
        min_train=30,
        models=["lstm"],  # these tests are about the LSTM's windows
    )
    return config_from_mapping({**base, **kw})


def test_window_seed_depends_on_seed_variant_and_month_only():
    month = pd.Timestamp("2020-05-31")
    seeds = {
        window_seed(0, Variant.BASE, month),
        window_seed(1, Variant.BASE, month),
        window_seed(0, Variant.RELATIVES, month),
        window_seed(0, Variant.BASE, pd.Timestamp("2020-06-30")),
    }
    assert len(seeds) == 4


def test_too_little_history_says_how_many_months(rng):
    prices = _prices(rng, n_months=30)
    config = _config()
    needed = minimum_months(config)
    # the first price has no return, 6 months of features, 30 labelled samples, the forecast
    assert needed == 1 + 6 + 30 + 1
    with pytest.raises(
        ValueError, match=rf"needs at least {needed} monthly prices, the data has 30"
    ):
        prepare(config, prices)


def test_jobs_train_only_on_targets_known_at_the_origin(rng):
    prices = _prices(rng)
    config = _config()
    seq, _ = prepare(config, prices)
    jobs = plan_jobs(config, seq)
    assert len(jobs) == seq.n_labelled - config.walk_forward.min_train
    for k, job in enumerate(jobs):
        j = config.walk_forward.min_train + k
        np.testing.assert_array_equal(job.y_train, seq.y[:j])
        # the newest training target is the origin month's own return
        assert seq.target_dates[j - 1] == seq.origins[j]
        assert not np.isnan(job.y_train).any()


@pytest.mark.slow
def test_look_ahead_invariance(rng, tmp_path):
    """Perturbing prices after a date leaves every forecast made before it bit-for-bit unchanged."""
    prices = _prices(rng)
    cut = prices.index[40]
    perturbed = prices.copy()
    perturbed.loc[perturbed.index > cut] *= 1.5
    config = _config()
    a = walk_forward(config, prices, WindowStore(tmp_path / "a"), local_runner(1))
    b = walk_forward(config, perturbed, WindowStore(tmp_path / "b"), local_runner(1))
    before = a.origin < cut
    assert before.sum() >= 4
    pd.testing.assert_frame_equal(a.forecast()[before], b.forecast()[before])
    pd.testing.assert_frame_equal(a.hist_mean[before], b.hist_mean[before])
    assert not np.allclose(a.forecast()[~before].to_numpy(), b.forecast()[~before].to_numpy())


@pytest.mark.slow
def test_same_results_for_one_and_two_workers(rng, tmp_path):
    prices = _prices(rng, n_months=42)
    config = _config()
    one = walk_forward(config, prices, WindowStore(tmp_path / "one"), local_runner(1))
    two = walk_forward(config, prices, WindowStore(tmp_path / "two"), local_runner(2))
    assert one.n_computed == two.n_computed == len(one.forecast())
    pd.testing.assert_frame_equal(one.forecast(), two.forecast())


@pytest.mark.slow
def test_interrupted_run_resumes_without_recomputing(rng, tmp_path):
    prices = _prices(rng, n_months=42)
    config = _config()
    store = WindowStore(tmp_path / "store")
    base = local_runner(1)

    def dies_after_three(fn, jobs):
        for i, item in enumerate(base(fn, jobs)):
            if i == 3:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        walk_forward(config, prices, store, dies_after_three)
    computed = []

    def counting(fn, jobs):
        computed.extend(job.key for job in jobs)
        yield from base(fn, jobs)

    resumed = walk_forward(config, prices, WindowStore(tmp_path / "store"), counting)
    assert resumed.n_cached == 3
    assert resumed.n_computed == len(computed) == len(resumed.forecast()) - 3
    fresh = walk_forward(config, prices, WindowStore(tmp_path / "fresh"), base)
    pd.testing.assert_frame_equal(resumed.forecast(), fresh.forecast())
    # an identical rerun computes nothing
    again = walk_forward(config, prices, WindowStore(tmp_path / "store"), counting)
    assert again.n_computed == 0


@pytest.mark.slow
def test_corrupt_window_is_detected_and_recomputed(rng, tmp_path):
    prices = _prices(rng, n_months=40)
    config = _config()
    store = WindowStore(tmp_path / "store")
    first = walk_forward(config, prices, store, local_runner(1))
    victim = sorted((tmp_path / "store").rglob("*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    again_store = WindowStore(tmp_path / "store")
    again = walk_forward(config, prices, again_store, local_runner(1))
    assert again.n_computed == 1 and len(again.corrupt) == 1
    pd.testing.assert_frame_equal(first.forecast(), again.forecast())


def test_store_detects_altered_content(tmp_path):
    store = WindowStore(tmp_path)
    store.save("abcd", {"forecast": np.arange(3.0)})
    assert np.array_equal(store.load("abcd")["forecast"], np.arange(3.0))
    path = store.path("abcd")
    data = bytearray(path.read_bytes())
    i = data.find(np.arange(3.0).tobytes())
    data[i + 8] ^= 0xFF  # flip bits inside the stored array, keeping the zip valid
    path.write_bytes(bytes(data))
    assert store.load("abcd") is None
    assert store.corrupt == ["abcd"] and not path.exists()


def test_hist_mean_is_the_training_window_mean(rng):
    from backtest.engine.walkforward import assemble

    prices = _prices(rng)
    config = _config()
    seq, notes = prepare(config, prices)
    jobs = plan_jobs(config, seq)
    fake = [
        {
            "forecast": np.zeros((1, 3)),
            "epochs_run": np.array([1]),
            "best_val_loss": np.array([0.0]),
        }
        for _ in jobs
    ]
    panel = assemble(config, seq, jobs, fake, 0, (), notes, np.log(prices).diff().iloc[1:])
    returns = np.log(prices).diff()[["A", "B", "C"]]
    for i, date in enumerate(panel.hist_mean.index[:3]):
        window = returns.loc[panel.train_start[i] : panel.origin[i]]
        np.testing.assert_allclose(panel.hist_mean.loc[date], window.mean(), rtol=1e-12)
        np.testing.assert_allclose(panel.realised.loc[date], returns.loc[date], rtol=1e-12)
    tidy = panel.tidy()
    assert set(tidy.model) == {"lstm", "hist_mean"}
    assert len(tidy) == 2 * 3 * len(panel.dates)


def test_atomic_writes_leave_shareable_whole_files(tmp_path):
    import os
    import stat

    from backtest.atomic import atomic_write_text

    path = tmp_path / "sub" / "out.csv"
    atomic_write_text(path, "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o044  # readable by others, like open()
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]  # no temporary left behind
