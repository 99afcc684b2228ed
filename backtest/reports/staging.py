"""Whole results directories that appear complete or not at all.

A run (or a forecast, or a study) writes every file into a fresh staging directory next
to its destination, seals it with a manifest (each file's SHA-256 and the digest of the
configuration that produced it), and only then swaps it into place with one atomic
``renameat2(RENAME_EXCHANGE)``. A reader therefore sees the old run or the new one, never a
mix; a run killed part-way leaves the old directory untouched (its staging directory is
removed by the next run). Reusing a name for another configuration is refused unless the
caller passes ``overwrite=True``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backtest.atomic import atomic_write_text
from backtest.engine.store import digest

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
#: Files written into a sealed directory later, derived from it (not part of the seal).
DERIVED_FILES = frozenset({"report.html", MANIFEST})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_STAGING = ".staging-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def check_run_name(name: str) -> str:
    """``name`` if it is one plain directory name, else a ValueError saying what is allowed.

    A run name is a single path component (letters, digits, ``.``, ``_``, ``-``, not
    starting with a dot), so ``results_dir / name`` never leaves ``results_dir``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(
            f"--run-name {name!r} is not a plain directory name: use letters, digits, '.', '_' "
            "and '-' (not starting with '.', at most 100 characters), so the run stays inside "
            "--results-dir"
        )
    return name


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_digest(identity: dict) -> str:
    """Digest of what determines a directory's contents (a config as a JSON-ready dict)."""
    return digest(identity)


def seal(directory: Path, kind: str, identity: dict) -> Path:
    """Write ``manifest.json``: every file's SHA-256, the kind and the config digest.

    Written last, so a directory with a valid manifest is complete.
    """
    files = {
        p.name: file_sha256(p)
        for p in sorted(directory.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.name not in DERIVED_FILES
    }
    payload = {
        "format": MANIFEST_FORMAT,
        "kind": kind,
        "config_digest": config_digest(identity),
        "files": files,
    }
    path = directory / MANIFEST
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
    return path


def read_manifest(directory: Path) -> dict | None:
    """The manifest of ``directory``, or None when there is none or it cannot be parsed."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "files" in manifest else None


def verify(directory: Path, kind: str, identity: dict | None = None) -> dict:
    """Check that ``directory`` is one complete, unmixed result of ``kind``; its manifest.

    Raises
    ------
    ValueError
        No or unreadable manifest (interrupted, or written before manifests existed),
        another kind, a listed file missing or changed, or a config that is not the one
        the files were sealed with.
    """
    manifest = read_manifest(directory)
    rerun = "rerun the command that wrote it (finished windows are cached)"
    if manifest is None:
        raise ValueError(
            f"{str(directory)!r} has no valid {MANIFEST}: it is incomplete (interrupted) or "
            f"was written by an older version; {rerun}"
        )
    if manifest.get("kind") != kind:
        raise ValueError(
            f"{str(directory)!r} holds a {manifest.get('kind')!r} result, not a {kind!r} one"
        )
    missing = [name for name in manifest["files"] if not (directory / name).is_file()]
    changed = [
        name
        for name, sha in manifest["files"].items()
        if name not in missing and file_sha256(directory / name) != sha
    ]
    if missing or changed:
        what = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"changed since the run {', '.join(changed)}" if changed else "",
            )
            if part
        )
        raise ValueError(
            f"{str(directory)!r} is not one complete run ({what}): its files may come from "
            f"different runs; {rerun}"
        )
    if identity is not None and manifest.get("config_digest") != config_digest(identity):
        raise ValueError(
            f"{str(directory)!r}: config.json is not the config its files were written with "
            f"(digest mismatch); {rerun}"
        )
    return manifest


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2``); False where unsupported."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    return False


def _swap_into_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.rename(staging, path)
        return
    if _exchange(staging, path):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the old directory
        return
    # No atomic exchange (not Linux, or the filesystem refuses): a short window remains
    # in which ``path`` is absent; the old directory waits under a dot name meanwhile.
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.rename(path, old)
    os.rename(staging, path)
    shutil.rmtree(old, ignore_errors=True)


def _check_reuse(path: Path, kind: str, identity: dict, overwrite: bool) -> None:
    """Refuse to replace a directory holding something else, unless ``overwrite``."""
    if overwrite or not path.exists():
        return
    if not path.is_dir():
        raise ValueError(f"{str(path)!r} exists and is not a directory; choose another --run-name")
    manifest = read_manifest(path)
    if manifest is None:
        if any(p.name.endswith(".csv") or p.name == "config.json" for p in path.iterdir()):
            return  # an interrupted or pre-manifest run of ours: replace it
        if any(True for p in path.iterdir() if not p.name.startswith(".")):
            raise ValueError(
                f"{str(path)!r} exists and is not a results directory; choose another "
                "--run-name or pass --overwrite to replace it"
            )
        return
    if manifest.get("kind") != kind:
        raise ValueError(
            f"{str(path)!r} holds a {manifest.get('kind')!r} result; choose another --run-name "
            f"for this {kind}, or pass --overwrite to replace it"
        )
    if manifest.get("config_digest") != config_digest(identity):
        raise ValueError(
            f"{str(path)!r} holds a {kind} with a different configuration; choose another "
            "--run-name, or pass --overwrite to replace it"
        )


def _probe(path: Path) -> None:
    """Fail now, naming ``path``, when its parent cannot be created or written (or is full)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.write-test"
        probe.write_bytes(b"x" * 65536)
        probe.unlink()
    except OSError as exc:
        raise OSError(
            f"cannot write to the results directory {str(path)!r} "
            f"({exc.strerror or exc}); choose another with --results-dir or free some space"
        ) from None


@contextmanager
def results_dir(
    path: Path, kind: str = "run", identity: dict | None = None, overwrite: bool = False
) -> Iterator[Path]:
    """A fresh staging directory for ``path``, swapped into place when the block succeeds.

    Parameters
    ----------
    path : Path
        The destination (``<results-dir>/<run-name>``); its name is checked with
        :func:`check_run_name`.
    kind : str
        What is written ("run", "forecast", "study"); recorded in the manifest.
    identity : dict, optional
        What determines the contents (the config as a dict); its digest is sealed in the
        manifest, and a destination sealed with another digest is refused unless
        ``overwrite``.
    overwrite : bool
        Replace a destination holding another configuration or another kind.

    Yields
    ------
    Path
        The staging directory: write everything there. On success it is sealed and
        swapped in; on an exception it is removed and ``path`` is left as it was.
    """
    check_run_name(path.name)
    identity = identity or {}
    parent = path.parent
    _probe(path)
    lock = (parent / f".{path.name}.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise OSError(
            f"another run is writing to {str(path)!r}; wait for it or pass --run-name"
        ) from None
    try:
        _check_reuse(path, kind, identity, overwrite)
        for stale in parent.glob(f".{path.name}{_STAGING}*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
        staging = parent / f".{path.name}{_STAGING}{os.getpid()}"
        staging.mkdir()
        try:
            yield staging
            seal(staging, kind, identity)
            _swap_into_place(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
