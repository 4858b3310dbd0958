"""Landers of one consumer group as a test sees them: each member a ``LanderProcess``
whose log tells which partitions its landers hold, and the group's lag from Kafka."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import LanderProcess
from tests.reliability.reconcile import Place

SPEAKER = re.compile(r"^\[lander (\d+)\] ")
PROGRESS = re.compile(
    r"^\[lander (\d+)\] (took|gave up|lost|fenced: another lander took) "
    r"partition\(s\) ([\d, ]+) of "
)


def group_args(group_id: str, session_timeout_s: int = 6) -> tuple[str, ...]:
    """``edtrack land`` options of a group member that a stalled peer hands over soon."""
    return ("--group", "--group-id", group_id, "--session-timeout", str(session_timeout_s))


class Member:
    """A member of the group: one ``LanderProcess``, one or two landers (pids) in it."""

    def __init__(
        self, cli, place: Place, folder: Path, name: str, *args: str, processes: int = 1
    ) -> None:
        extra = ("--processes", str(processes)) if processes > 1 else ()
        self.name = name
        self.processes = processes
        self.lander = LanderProcess(cli, place, folder / f"{name}.log", *args, *extra)

    @property
    def pgid(self) -> int:
        return self.lander.proc.pid

    def text(self) -> str:
        log = self.lander.log
        return log.read_text(errors="replace") if log.exists() else ""

    def holdings(self) -> dict[int, set[int]]:
        """Lander pid -> the partitions it holds, by its progress lines so far (every
        lander that has written a line, with none if it holds none)."""
        held: dict[int, set[int]] = {}
        for line in self.text().splitlines():
            if speaker := SPEAKER.match(line):
                held.setdefault(int(speaker[1]), set())
            match = PROGRESS.match(line)
            if not match:
                continue
            pid, verb = int(match[1]), match[2]
            partitions = {int(p) for p in match[3].split(", ")}
            mine = held.setdefault(pid, set())
            if verb == "took":
                mine |= partitions
            else:
                mine -= partitions
        return held

    def held(self) -> set[int]:
        return set().union(*self.holdings().values())

    def zombie_lines(self) -> dict[int, int]:
        """Lander pid -> how many ``lost partition`` / ``fenced:`` lines it wrote."""
        counts: dict[int, int] = {}
        for line in self.text().splitlines():
            match = PROGRESS.match(line)
            if match and match[2] != "took" and match[2] != "gave up":
                counts[int(match[1])] = counts.get(int(match[1]), 0) + 1
        return counts


def tails(members: list[Member]) -> str:
    return "\n".join(
        f"--- {m.name} (pgid {m.pgid}, exit {m.lander.proc.poll()}):\n{m.lander.tail(20)}"
        for m in members
    )


def wait_for(condition, what: str, members: list[Member], timeout: float = 90) -> None:
    """Poll ``condition`` until true; fail the test if a member exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [m.name for m in members if m.lander.proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            why = f"{', '.join(dead)} exited" if dead else f"{timeout:.0f} s passed"
            pytest.fail(f"waiting for {what}: {why}\n{tails(members)}")
        time.sleep(0.5)


def held_by(members: list[Member]) -> set[int]:
    return set().union(*(m.held() for m in members))


def group_lag(bootstrap: str, group_id: str, topic: str) -> int:
    """Messages of ``topic`` past the group's committed offsets, all partitions."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return sum(ends[tp] - (consumer.committed(tp) or starts[tp]) for tp in tps)
    finally:
        consumer.close()


def land_out(members: list[Member], bootstrap: str, group_id: str, topic: str, what: str) -> None:
    """Wait until the group's lag is 0 with ``members`` still running (none restarted),
    then SIGTERM each: it flushes, commits and exits 0."""
    wait_for(lambda: group_lag(bootstrap, group_id, topic) == 0, what, members, timeout=900)
    for member in members:
        assert member.lander.stop() == 0, member.lander.tail()
