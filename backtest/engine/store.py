"""A content-addressed, checksummed on-disk store of finished windows.

A walk-forward run stores each window's result as soon as it arrives, so a run that
is interrupted resumes where it stopped and an identical rerun is near-instant.
Writes are atomic (temporary file in the same directory, ``fsync``, ``os.replace``):
a reader sees a whole file or none. Each file carries a SHA-256 of its arrays, its own
key and the identity of the model that produced it (both under the checksum); a
truncated or altered file, or a valid file copied over another key, is detected on
read, removed, reported and recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from backtest.atomic import atomic_write_bytes

_CHECKSUM = "__sha256__"
_KEY = "__key__"
_IDENTITY = "__identity__"


def digest(*parts: object) -> str:
    """SHA-256 over arrays (dtype, shape and bytes) and JSON-serialisable values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def _arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    return digest(*(x for name in sorted(arrays) for x in (name, np.asarray(arrays[name]))))


def _identity(identity: object) -> str:
    return "" if identity is None else json.dumps(identity, sort_keys=True, default=str)


class WindowStore:
    """Finished windows under ``root``, one ``.npz`` per content key.

    Attributes
    ----------
    corrupt : list of str
        Keys whose files failed their checksum or could not be read, in this session.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.corrupt: list[str] = []

    def path(self, key: str) -> Path:
        """Where the window ``key`` lives."""
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key: str, identity: object = None) -> dict[str, np.ndarray] | None:
        """The stored arrays, or ``None`` when absent or not this key's record (then removed).

        A record is this key's when its checksum holds and the key (and, when given, the
        model ``identity``) stored inside it are the ones asked for: a valid file of
        another window, copied or renamed over this one, is not served.
        """
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            stored = str(arrays.pop(_CHECKSUM))
            if stored != _arrays_digest(arrays):
                raise ValueError("checksum mismatch")
            if str(arrays.pop(_KEY, "")) != key:
                raise ValueError("record of another key")
            recorded = str(arrays.pop(_IDENTITY, ""))
            if identity is not None and recorded != _identity(identity):
                raise ValueError("record of another model")
        except Exception:
            self.corrupt.append(key)
            path.unlink(missing_ok=True)
            return None
        return arrays

    def save(self, key: str, arrays: dict[str, np.ndarray], identity: object = None) -> None:
        """Store ``arrays`` under ``key`` atomically, with the key, identity and checksum."""
        record = {**arrays, _KEY: np.array(key), _IDENTITY: np.array(_identity(identity))}
        buffer = io.BytesIO()
        np.savez(buffer, **record, **{_CHECKSUM: np.array(_arrays_digest(record))})
        atomic_write_bytes(self.path(key), buffer.getvalue())
