"""Start, find and stop the stack's own processes, by pid and start time.

A pid file alone could point at an unrelated process after a reboot; each record keeps
the process's creation time too, and a process counts as ours only if both match.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    cmd: list[str]
    log: str
    # The start in seconds since boot (the kernel's own count): unlike create_time,
    # which psutil derives from the boot time in wall-clock seconds, it does not move
    # when the system clock is stepped or slewed. None in records of earlier versions.
    started_since_boot: float | None = None


def record_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def read_record(run_dir: Path, name: str) -> ProcessRecord | None:
    path = record_path(run_dir, name)
    try:
        return ProcessRecord(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def live_process(record: ProcessRecord | None) -> psutil.Process | None:
    """The running process behind ``record``, or None if it is gone (or not ours)."""
    if record is None:
        return None
    try:
        proc = psutil.Process(record.pid)
        if not _started_as_recorded(proc, record):
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def started_since_boot(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since boot: the starttime field of
    /proc/<pid>/stat (Linux), None where there is no such file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count after it.
    return int(stat.rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")


def _started_as_recorded(proc: psutil.Process, record: ProcessRecord) -> bool:
    """The same process, not another one given the pid since. Compared in seconds since
    boot: wall-clock start times drift with the clock (the kernel's boot time moves by
    a second now and then), and a stack that ran for a quarter of an hour was once taken
    for someone else's and left running by `down`."""
    if record.started_since_boot is not None:
        since_boot = started_since_boot(proc.pid)
        if since_boot is not None:
            return abs(since_boot - record.started_since_boot) < 0.05
    return abs(proc.create_time() - record.create_time) <= 2.0


def rss_bytes(proc: psutil.Process) -> int:
    """Resident memory of a process and its children (spark-submit may fork)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def spawn(
    name: str,
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    run_dir: Path,
    user: str | None = None,
) -> ProcessRecord:
    """Start ``cmd`` detached (own session, survives the CLI) and record it.

    ``user``: run as that account (needs root; PostgreSQL refuses to run as root).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        started = time.strftime("%Y-%m-%dT%H:%M:%S")
        log.write(f"\n==== edtrack: starting {name} at {started}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    record = ProcessRecord(
        name=name,
        pid=popen.pid,
        create_time=psutil.Process(popen.pid).create_time(),
        cmd=list(cmd),
        log=str(log_path),
        started_since_boot=started_since_boot(popen.pid),
    )
    record_path(run_dir, name).write_text(json.dumps(asdict(record)))
    return record


def stop(
    record: ProcessRecord,
    run_dir: Path,
    timeout_s: float = 30.0,
    sig: int = signal.SIGTERM,
    leader_only: bool = False,
) -> bool:
    """Send ``sig`` (SIGTERM) to the recorded process group, or to its leader alone with
    ``leader_only``; SIGKILL what is left of the group after ``timeout_s``.

    Returns True if a live process was stopped. Removes the record either way.
    """
    proc = live_process(record)
    stopped = False
    if proc is not None:
        victims = [proc, *proc.children(recursive=True)]
        if leader_only:
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, sig)
        else:
            signal_group(record.pid, sig)
        if not wait_gone(victims, timeout_s):
            signal_group(record.pid, signal.SIGKILL)
            for p in victims:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            wait_gone(victims, 10.0)
        stopped = True
    record_path(run_dir, record.name).unlink(missing_ok=True)
    return stopped


def _gone(proc: psutil.Process) -> bool:
    # When the caller started the service itself (tests, the demo), a stopped service
    # is its zombie child until reaped: reap it, and count a zombie as gone.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(procs: list[psutil.Process], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not all(_gone(p) for p in procs):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # spawn() made each service the leader of its own group
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])
