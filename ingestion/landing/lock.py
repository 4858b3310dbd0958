"""One lander per topic and root at a time on this machine (outside a group): a lock
file in the stack's run dir refuses a second one, and names the pid of the one that
holds it. Across machines the claims on HDFS (``fence``) keep landers apart."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from core.errors import UserError


@contextlib.contextmanager
def exclusive(lock_path: Path | None, topic: str) -> Iterator[None]:
    """Hold the lander lock of a topic for the duration; refuse when another holds it."""
    if lock_path is None:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise UserError(
                f"A lander for topic {topic!r} is already running (pid {holder}); stop it "
                "first (it flushes and commits on SIGTERM), then run this again."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def lock_path(run_dir: Path, topic: str, root: str) -> Path:
    return run_dir / f"lander-{topic}-{root.strip('/').replace('/', '_')}.lock"


def status_path(run_dir: Path, topic: str, root: str) -> Path:
    """Where a lander writes its progress report: one file per topic and root."""
    return lock_path(run_dir, topic, root).with_suffix(".status.json")


def member_status_path(path: Path, pid: int) -> Path:
    """The status file of one lander of a group: ``status_path``'s name with its pid."""
    return path.with_name(path.name.replace(".status.json", f".{pid}.status.json"))


def member_status_paths(path: Path) -> list[Path]:
    """The status files the landers of a group wrote beside ``path``."""
    return sorted(path.parent.glob(path.name.replace(".status.json", ".*.status.json")))


def holder(lock: Path) -> int | None:
    """The pid of the lander holding ``lock``, or None when no lander runs."""
    if not lock.exists():
        return None
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
    return None
