"""A write round to HDFS that never returns ends the lander.

hdfs-native 0.14.7 can block for good in its write-pipeline recovery when a DataNode
dies in the middle of a block (once in about 40 SIGKILLs on a stack of three
DataNodes): the call neither returns nor raises, so the retry policy never sees an
error, and Python cannot interrupt the thread that waits in it. Nothing of the round is
committed then, so the safe way on is to end the process: a restart (its supervisor's,
or the operator's) or another lander of the group resumes after the last complete
batch, as after any kill.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# EX_TEMPFAIL: a temporary failure; starting the lander again is the remedy.
STALL_EXIT_CODE = 75


def _end(code: int) -> None:
    """End the process at once: a thread stuck in the HDFS client would keep a normal
    exit waiting for good."""
    os._exit(code)


@contextmanager
def stall_deadline(seconds: float, what: str, report: Callable[[str], None]) -> Iterator[None]:
    """Run the body; if it has not returned after ``seconds`` (0: no deadline), say so in
    one sentence and end the process with ``STALL_EXIT_CODE``."""
    if not seconds:
        yield
        return

    def stalled() -> None:
        report(
            f"{what} made no progress for {seconds:g} s (an HDFS client stuck after a "
            f"DataNode failure); ending the lander with exit code {STALL_EXIT_CODE}. "
            "Nothing of the batch was committed: start it again and it resumes after "
            "the last complete batch."
        )
        _end(STALL_EXIT_CODE)

    timer = threading.Timer(seconds, stalled)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
