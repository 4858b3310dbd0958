"""Fault points: for the reliability suite, SIGKILL the lander the n-th time it reaches a
named step of a flush (off unless ``LandConfig.fault`` is set: ``EDTRACK_LANDER_FAULT``
in the CLI)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import UserError

# Named steps of a flush where a fault point can kill the lander, in flush order.
FAULT_STEPS = (
    "writing",  # half of a part's bytes written to its temporary file
    "staged",  # every part staged, none renamed
    "renamed-one",  # the first part renamed, the others not (crash between two renames)
    "renamed",  # every part renamed, no partition registered
    "registering",  # the raw table's dates registered, the quarantine's not yet
    "registered",  # every date registered, offsets not committed
    "committed",  # offsets committed
)
FAULT_ENV = "EDTRACK_LANDER_FAULT"


@dataclass(frozen=True)
class FaultPoint:
    """Kill the lander (SIGKILL, no clean-up) the ``hit``-th time it reaches ``step``.

    Parsed from ``step`` or ``step:hit`` (``EDTRACK_LANDER_FAULT=renamed:3``).
    """

    step: str
    hit: int = 1

    def __post_init__(self) -> None:
        if self.step not in FAULT_STEPS:
            raise UserError(
                f"Unknown lander fault step {self.step!r}; steps: {', '.join(FAULT_STEPS)}."
            )
        if self.hit < 1:
            raise UserError(f"A fault point's hit count starts at 1, not {self.hit}.")

    @classmethod
    def parse(cls, text: str) -> FaultPoint:
        step, _, hit = text.strip().partition(":")
        if hit and not hit.isdigit():
            raise UserError(f"Lander fault {text!r}: the hit count must be a whole number.")
        return cls(step, int(hit) if hit else 1)

    @classmethod
    def from_env(cls, env) -> FaultPoint | None:
        text = env.get(FAULT_ENV)
        return cls.parse(text) if text else None


class Faults:
    """Counts the steps a lander reaches; acts when the configured one comes up."""

    def __init__(self, point: FaultPoint | None, act: Callable[[], None] | None = None) -> None:
        self.point = point
        self.act = act or (lambda: os.kill(os.getpid(), signal.SIGKILL))
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()

    def reach(self, step: str) -> None:
        if self.point is None or step != self.point.step:
            return
        with self._lock:
            self.hits[step] = self.hits.get(step, 0) + 1
            fire = self.hits[step] == self.point.hit
        if fire:
            self.act()
