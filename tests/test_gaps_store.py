"""The window store: key format, layout, checksum and atomic writes (issue 15).

The digest's byte format is written out here with hashlib, as the specification of
every cache key on disk: changing it silently orphans (or, worse, aliases) caches.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from backtest.atomic import atomic_write_bytes
from backtest.engine import store as store_module
from backtest.engine.store import WindowStore, digest


def _spec_digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype.str}{part.shape}".encode() + part.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def test_digest_byte_format():
    parts = ("1", np.arange(6.0).reshape(2, 3), [["epochs", 3]], {"b": 1, "a": 2}, 17)
    assert digest(*parts) == _spec_digest(*parts)


def test_digest_is_order_free_in_mappings_and_reads_timestamps():
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest(pd.Timestamp("2020-01-31")) == digest("2020-01-31 00:00:00")
    assert digest("ab") != digest("a", "b")  # parts are separated
    assert digest(np.zeros(2)) != digest(np.zeros((2, 1)))  # shape is in the key
    assert digest(np.zeros(2)) != digest(np.zeros(2, dtype=np.float32))


def test_store_layout_is_two_character_fan_out(tmp_path):
    key = "abcdef0123"
    assert WindowStore(tmp_path).path(key) == tmp_path / "ab" / "abcdef0123.npz"


def _rewrite_forecast(path, change) -> None:
    """Replace a stored record's forecast by ``change(forecast)`` in a valid zip, old checksum."""
    with np.load(path) as npz:
        record = {name: npz[name] for name in npz.files}
    record["forecast"] = change(record["forecast"])
    buffer = io.BytesIO()
    np.savez(buffer, **record)
    path.write_bytes(buffer.getvalue())


def test_altered_array_with_a_valid_zip_is_detected(tmp_path):
    store = WindowStore(tmp_path)
    store.save("k1", {"forecast": np.arange(3.0)})
    path = store.path("k1")
    _rewrite_forecast(path, lambda forecast: forecast + 1.0)
    assert store.load("k1") is None
    assert store.corrupt == ["k1"] and not path.exists()


def test_pickled_records_are_never_loaded(tmp_path):
    store = WindowStore(tmp_path)
    store.save("k2", {"forecast": np.arange(2.0)})
    _rewrite_forecast(store.path("k2"), lambda forecast: np.array([{"x": 1}], dtype=object))
    assert store.load("k2") is None and store.corrupt == ["k2"]


def test_atomic_write_goes_through_a_hidden_temporary_beside_the_target(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b" / "out.bin"  # parents are created
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.fspath(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(store_module.os, "replace", spy)
    atomic_write_bytes(target, b"payload")
    assert target.read_bytes() == b"payload"
    ((src, dst),) = seen
    assert os.path.dirname(src) == str(target.parent) and dst == str(target)
    name = os.path.basename(src)
    assert name.startswith(".out.bin.") and name.endswith(".tmp")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~umask


def test_failed_write_leaves_nothing_and_raises_the_original_error(tmp_path, monkeypatch):
    def broken(fd):
        raise OSError("disk full")

    monkeypatch.setattr(store_module.os, "fsync", broken)
    with pytest.raises(OSError, match="^disk full$"):
        atomic_write_bytes(tmp_path / "out.bin", b"x")
    assert list(tmp_path.iterdir()) == []


def test_records_answer_only_for_their_own_key_and_model(tmp_path):
    store = WindowStore(tmp_path)
    identity = {"name": "ridge", "params": {"b": 1, "a": 2}, "when": pd.Timestamp("2020-01-31")}
    store.save("k1", {"forecast": np.arange(3.0)}, identity=identity)
    same = {"when": pd.Timestamp("2020-01-31"), "params": {"a": 2, "b": 1}, "name": "ridge"}
    loaded = store.load("k1", identity=same)  # key order does not matter
    assert set(loaded) == {"forecast"}
    np.testing.assert_array_equal(loaded["forecast"], np.arange(3.0))
    assert set(store.load("k1")) == {"forecast"}  # no identity asked: not checked
    assert store.load("k1", identity={**identity, "name": "lasso"}) is None
    assert store.corrupt == ["k1"] and not store.path("k1").exists()
    store.save("k2", {"forecast": np.arange(2.0)})
    store.path("k3").parent.mkdir(parents=True, exist_ok=True)
    store.path("k3").write_bytes(store.path("k2").read_bytes())  # another key's valid file
    assert store.load("k3") is None and store.corrupt == ["k1", "k3"]
