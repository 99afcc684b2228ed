from __future__ import annotations

import numpy as np
import pytest

from backtest.splits import WalkForward


@pytest.mark.parametrize("window", ["expanding", "rolling"])
@pytest.mark.parametrize("refit_every", [1, 3, 7])
def test_splits_never_overlap_and_move_forward(window, refit_every):
    splitter = WalkForward(min_train_size=10, window=window, train_size=12, refit_every=refit_every)
    splits = list(splitter.split(40))
    assert len(splits) == splitter.get_n_splits(40)
    forecast = np.concatenate([s.test for s in splits])
    np.testing.assert_array_equal(forecast, np.arange(10, 40))  # each sample once, in order
    for prev, cur in zip(splits, splits[1:], strict=False):
        assert cur.test[0] > prev.test[-1]
        assert cur.train[-1] >= prev.train[-1]
    for s in splits:
        assert s.train.max() < s.test.min()
        assert s.train[-1] == s.test[0] - 1  # the newest known target is used
        assert np.intersect1d(s.train, s.test).size == 0


def test_expanding_starts_at_zero_and_rolling_keeps_its_length():
    exp = list(WalkForward(min_train_size=5).split(9))
    assert [s.train[0] for s in exp] == [0, 0, 0, 0]
    assert [len(s.train) for s in exp] == [5, 6, 7, 8]
    roll = list(WalkForward(min_train_size=5, window="rolling", train_size=6).split(12))
    assert [len(s.train) for s in roll] == [5, 6, 6, 6, 6, 6, 6]
    assert all(s.train[0] >= 0 for s in roll)
    assert tuple(roll[-1].train) == (5, 6, 7, 8, 9, 10)


def test_rolling_first_window_is_min_train_size_when_train_size_missing():
    roll = list(WalkForward(min_train_size=4, window="rolling").split(8))
    assert [tuple(s.train) for s in roll] == [
        (0, 1, 2, 3),
        (1, 2, 3, 4),
        (2, 3, 4, 5),
        (3, 4, 5, 6),
    ]


def test_too_few_samples_message():
    with pytest.raises(
        ValueError, match=r"Too few samples=10 for min_train_size=10: need at least 11"
    ):
        list(WalkForward(min_train_size=10).split(10))


@pytest.mark.parametrize("name, value", [("min_train_size", 0), ("refit_every", -2)])
def test_bad_parameters_are_named(name, value):
    with pytest.raises(ValueError, match=rf"`{name}` must be a positive integer, got {value}"):
        list(WalkForward(**{name: value}).split(50))


def test_rolling_train_size_below_min_train_is_rejected():
    with pytest.raises(ValueError, match=r"`train_size`=3 must be at least `min_train_size`=5"):
        list(WalkForward(min_train_size=5, window="rolling", train_size=3).split(20))
