"""``edtrack land --processes N``: N landers of one consumer group on this machine, as
child processes, so landing uses more than one core. Each child is ``edtrack land
--group`` with the same options; the group spreads the partitions over them and hands
a dead child's partitions to the others. SIGTERM and SIGINT are passed on to every
child (each flushes and commits); the exit status is the worst child's."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Sequence


def without_processes(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--processes N`` / ``--processes=N``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            out.append(arg)
    return out


def child_command(argv: Sequence[str]) -> list[str]:
    """The command of one child lander: this program with ``argv`` (the parent's
    arguments) in group mode."""
    args = without_processes(argv)
    if "--group" not in args:
        args.append("--group")
    return [sys.executable, "-m", "edtrack", *args]


def run_landers(
    count: int,
    argv: Sequence[str],
    report: Callable[[str], None],
    spawn: Callable[[list[str]], subprocess.Popen] = subprocess.Popen,
) -> int:
    """Start ``count`` child landers, wait for all of them; return the worst exit code."""
    command = child_command(argv)
    children = [spawn(command) for _ in range(count)]
    report(f"started {count} landers in one group: pids {', '.join(str(c.pid) for c in children)}")

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = [child.wait() for child in children]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    for child, code in zip(children, codes, strict=True):
        if code != 0:
            report(f"lander {child.pid} exited {code}")
    return max((exit_status(code) for code in codes), default=0)


def exit_status(returncode: int) -> int:
    """A child's return code as a shell shows it: killed by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode
