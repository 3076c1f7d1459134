"""Atomic file writes and per-output locks.

Every output is written to a temporary sibling (`.<name>.<pid>.<random>.tmp`), flushed to disk and renamed into
place, so a crash never leaves a partial file where a reader (or DVC) would take it for a finished one, and a
failed write (disk full) keeps the previous version. A temporary file left by a killed process is removed by the
next write of the same file. `exclusive` serialises two processes that would write the same outputs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.errors import StorageError

log = logging.getLogger(__name__)


def _umask() -> int:
    """The process's umask (what open() and mkdir() apply), read when writing rather than at import. Linux (4.7+)
    shows it in /proc/self/status; elsewhere it can only be read by setting it and putting it back, which for that
    moment leaves unmasked the files other threads create, so that is done once (`_umask_by_setting`)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return _umask_by_setting()


@functools.cache
def _umask_by_setting() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (under any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporary siblings of `path` (files or folders) left by processes that no longer run."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            log.info("removing %s, left by process %s that was killed mid-write", tmp, pid)
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _storage_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        reason = "disk full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror or str(e)
        raise StorageError(f"{path}: cannot write ({reason}); the previous version, if any, is kept") from e


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed. An OSError
    (disk full, permissions) becomes a StorageError naming `path`."""
    path = Path(path)
    with _storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
    tmp = Path(tmp)
    try:
        with _storage_errors(path):
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())  # what open() would have given; mkstemp makes files private (0600)
            _fsync(tmp)
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_parquet(path: str | Path, frame: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def write_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `path`; on success it replaces `path` as a whole."""
    path = Path(path)
    with _storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"))
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary data directory
    try:
        with _storage_errors(path):
            yield tmp
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if path.exists():
                os.replace(path, old)  # set aside, not deleted, until the new one is in place
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_figure(path: str | Path, fig, dpi: int = 80) -> Path:
    """A matplotlib figure saved as PNG at `path` atomically, then closed."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return Path(path)


@contextlib.contextmanager
def exclusive(lock_path: str | Path, what: str, poll_s: float = 0.2, report_s: float = 30.0) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (created if needed) while the block runs: a second process that
    would write the same outputs waits for the first to finish instead of racing it (flock: released when the
    holder exits or dies, so a killed run never leaves a stale lock). Waiting is logged every `report_s`."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as f:
        start, reported = time.monotonic(), None
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if reported is None or time.monotonic() - reported >= report_s:
                    f.seek(0)
                    holder = f.read().strip() or "another process"
                    log.info("%s: waiting for %s (%s), which is writing the same outputs", what, holder, lock_path)
                    reported = time.monotonic()
                time.sleep(poll_s)
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        f.flush()
        if reported is not None:
            log.info("%s: lock acquired after %.1f s", what, time.monotonic() - start)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
