"""Three landers in one consumer group against the real Kafka and HDFS, while attempts
are published in six rounds:

1. a, b and c join the group ``group-test`` on a 6-partition topic and land the first
   rounds;
2. a is SIGKILLed (its process group), perhaps mid-batch: after its session timeout
   the group hands its partitions to b and c, which recover them from HDFS;
3. b is SIGSTOPped while a round is published; the group gives its partitions to c;
   b is woken (SIGCONT) a zombie: it must notice (``lost partition`` or ``fenced:``),
   land nothing for the partitions it lost, and rejoin;
4. two partitions are added to the topic (6 -> 8) and more rounds published: the
   landers see them through their metadata refresh and take them.

When the group's committed offsets reach the ends of all 8 partitions, b and c are
stopped (SIGTERM, exit 0) and the topic is reconciled with the raw tables: every
message once, with its exact bytes. Runs on its own topic, HDFS folder, schema and
group, so the other tests' tables are untouched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ingestion.generate import generate, write
from tests.reliability.reconcile import Place, reconcile

from .conftest import BIN

PLACE = Place("group-attempts", "/edtrack/group", "grouped")
GROUP_ID = "group-test"
GROUP = ("--group", "--group-id", GROUP_ID, "--session-timeout", "6")
SMALL_BATCHES = ("--batch-records", "200", "--batch-age", "1")
ROUNDS = 6
PER_ROUND = 500


class Member:
    """One ``edtrack land --group`` process, in a process group of its own, its stdout
    and stderr in ``log``."""

    def __init__(self, cli, log: Path) -> None:
        self.name = log.stem
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "edtrack"), "land", *PLACE.args, *GROUP, *SMALL_BATCHES],
                env=cli.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def lines(self, what: str) -> list[str]:
        """The progress lines starting with ``what`` (after the ``[lander PID]`` prefix)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if line.split("] ", 1)[-1].startswith(what)]

    def count(self, what: str) -> int:
        return len(self.lines(what))

    def zombie_lines(self) -> int:
        return self.count("lost partition") + self.count("fenced:")

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def tails(members: list[Member]) -> str:
    return "\n".join(f"--- {m.name} (exit {m.proc.poll()}):\n{m.tail()}" for m in members)


def status(cli) -> dict:
    result = cli.run("land", "--status", *PLACE.args, "--group-id", GROUP_ID)
    return json.loads(result.stdout)


def caught_up(cli, partitions: int) -> bool:
    """The group's committed offsets are at the end of every one of ``partitions``
    partitions, each of which has been landed from (committed at least once)."""
    rows = status(cli)["partitions"]
    return (
        len(rows) == partitions
        and all(r["lag"] == 0 for r in rows)
        and all(r["committed"] is not None and r["committed"] > 0 for r in rows)
    )


def wait_for(condition, what: str, members: list[Member], timeout: float = 90) -> None:
    """Poll ``condition`` until true; fail with every member's log tail after
    ``timeout`` seconds, or as soon as a member that should be running has exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [m.name for m in members if m.proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            why = f"lander(s) {', '.join(dead)} exited" if dead else f"{timeout:.0f} s passed"
            pytest.fail(f"waiting for {what}: {why}\n{tails(members)}")
        time.sleep(0.5)


def add_partitions(bootstrap: str, total: int) -> None:
    from kafka.admin import KafkaAdminClient, NewPartitions

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_partitions({PLACE.topic: NewPartitions(total_count=total)})
    finally:
        admin.close()


def test_three_landers_in_a_group_survive_a_kill_a_pause_and_new_partitions(cli, tmp_path):
    records = list(generate(ROUNDS * PER_ROUND, seed=77, days=3))
    published = 0

    def publish(round_: int) -> None:
        nonlocal published
        chunk = records[round_ * PER_ROUND : (round_ + 1) * PER_ROUND]
        path = tmp_path / f"round-{round_}.jsonl"
        write(iter(chunk), path)
        cli.run("publish", "--topic", PLACE.topic, "--partitions", "6", str(path))
        published += len(chunk)

    publish(0)  # creates the topic, with 6 partitions
    members = [Member(cli, tmp_path / f"lander-{name}.log") for name in "abc"]
    a, b, c = members
    try:
        publish(1)  # while the three join the group
        wait_for(
            lambda: all(m.count("took partition") for m in members) and caught_up(cli, 6),
            "the three landers taking the 6 partitions and landing the first two rounds",
            members,
            timeout=150,
        )
        initial_takes = sum(m.count("took partition") for m in members)

        # 2. a dies, perhaps mid-batch: b and c get its partitions after 6 s.
        publish(2)
        a.signal(signal.SIGKILL)
        assert a.proc.wait(30) == -signal.SIGKILL
        live = [b, c]
        takes = b.count("took partition") + c.count("took partition")
        wait_for(
            lambda: b.count("took partition") + c.count("took partition") > takes
            and caught_up(cli, 6),
            "b and c taking a's partitions and landing round 2",
            live,
        )

        # 3. b paused past its session timeout while a round arrives: c takes over.
        b.signal(signal.SIGSTOP)
        c_takes = c.count("took partition")
        publish(3)
        wait_for(
            lambda: c.count("took partition") > c_takes and caught_up(cli, 6),
            "c taking b's partitions (b paused past its 6 s session timeout) and landing them",
            live,
        )
        b_zombie, b_takes = b.zombie_lines(), b.count("took partition")
        b.signal(signal.SIGCONT)
        wait_for(
            lambda: b.zombie_lines() > b_zombie,
            "b, woken a zombie, noticing it lost its partitions ('lost partition'/'fenced:')",
            live,
            timeout=60,
        )
        wait_for(
            lambda: b.count("took partition") > b_takes,
            "b rejoining the group and taking partitions again",
            live,
            timeout=60,
        )

        # 4. 6 -> 8 partitions mid-run; the landers refresh metadata every 10 s.
        add_partitions(cli.config.kafka_bootstrap, 8)
        wait_for(lambda: len(status(cli)["partitions"]) == 8, "the topic having 8 partitions", live)
        publish(4)
        publish(5)
        wait_for(
            lambda: caught_up(cli, 8),
            "the group landing everything, partitions 6 and 7 included",
            live,
            timeout=120,
        )
        for member in live:
            member.signal(signal.SIGTERM)
        for member in live:
            code = member.proc.wait(60)
            assert code == 0, f"{member.name} exited {code} on SIGTERM:\n{tails(members)}"
    finally:
        for member in members:
            if member.proc.poll() is None:
                member.signal(signal.SIGCONT)
                member.signal(signal.SIGKILL)
                member.proc.wait(30)

    result = reconcile(cli.config, PLACE)
    assert result.ok, f"{result.describe()}\n{tails(members)}"
    assert result.on_topic == published == ROUNDS * PER_ROUND, result.describe()
    assert (result.raw, result.quarantined) == (published, 0), result.describe()
    landed_partitions = {
        row["kafka_partition"]
        for row in cli.sql(
            f"select distinct kafka_partition from {PLACE.schema}.assessment_attempts"
        )
    }
    assert landed_partitions == set(range(8))
    rebalances = sum(m.count("took partition") for m in members) - initial_takes
    assert rebalances >= 2, f"only {rebalances} takes after the initial ones\n{tails(members)}"
    zombie_wakeups = int(b.zombie_lines() > b_zombie)
    print(
        f"group: rebalances={rebalances} zombie_wakeups={zombie_wakeups} "
        f"records={result.on_topic} lost={len(result.lost)} duplicated={len(result.duplicated)}"
    )
