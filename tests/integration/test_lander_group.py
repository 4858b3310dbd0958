"""Three landers in one consumer group against the real Kafka and HDFS, while attempts
are published: one SIGKILLed, one SIGSTOPped past its session timeout and woken after
the others took its partitions, and partitions added to the topic mid-run. Afterwards
every message on the topic is in raw once, with its exact bytes.

Runs on its own topic, HDFS folder, schema and group, so the other tests' tables are
untouched.
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
GROUP = ("--group", "--group-id", "group-test", "--session-timeout", "6")
SMALL_BATCHES = ("--batch-records", "200", "--batch-age", "1")
ROUNDS = 5
PER_ROUND = 600


class Member:
    """One ``edtrack land --group`` process, in a process group of its own."""

    def __init__(self, cli, log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "edtrack"), "land", *PLACE.args, *GROUP, *SMALL_BATCHES],
                env=cli.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def count(self, what: str) -> int:
        return sum(line.split("] ", 1)[-1].startswith(what) for line in self.text().splitlines())


def wait_for(condition, what: str, members: list[Member], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {m.log.name}\n{m.text()[-2500:]}" for m in members)
            pytest.fail(f"{what} did not happen in {timeout:.0f} s\n{tails}")
        time.sleep(1)


def status(cli) -> dict:
    result = cli.run("land", "--status", *PLACE.args, "--group-id", "group-test")
    return json.loads(result.stdout)


def test_three_landers_in_a_group_survive_kills_pauses_and_new_partitions(cli, tmp_path):
    records = list(generate(ROUNDS * PER_ROUND, seed=77, days=3))

    def publish(round_: int) -> None:
        path = tmp_path / f"round-{round_}.jsonl"
        write(iter(records[round_ * PER_ROUND : (round_ + 1) * PER_ROUND]), path)
        cli.run("publish", "--topic", PLACE.topic, "--partitions", "6", str(path))

    publish(0)
    members = [Member(cli, tmp_path / f"lander-{name}.log") for name in "abc"]
    a, b, c = members
    try:
        wait_for(
            lambda: sum(m.count("took partition") for m in members) >= 3
            and status(cli)["total_lag"] == 0,
            "the three landers taking the partitions and landing the first round",
            members,
        )
        initial_takes = sum(m.count("took partition") for m in members)
        publish(1)
        a.signal(signal.SIGKILL)  # mid-batch, perhaps: its partitions go to b and c
        a.proc.wait(30)
        publish(2)
        b.signal(signal.SIGSTOP)
        c_takes = c.count("took partition")
        wait_for(
            lambda: c.count("took partition") > c_takes
            and sum(row["lag"] for row in status(cli)["partitions"]) == 0,
            "c taking over b's partitions (b paused past its session timeout)",
            members,
        )
        b.signal(signal.SIGCONT)  # b wakes up a zombie, then rejoins the group
        wait_for(
            lambda: b.count("lost partition") + b.count("fenced:") > 0,
            "b noticing it lost its partitions",
            members,
        )
        from kafka.admin import KafkaAdminClient, NewPartitions

        admin = KafkaAdminClient(bootstrap_servers=cli.config.kafka_bootstrap)
        try:
            admin.create_partitions({PLACE.topic: NewPartitions(total_count=8)})
        finally:
            admin.close()
        publish(3)
        publish(4)
        wait_for(
            lambda: len(status(cli)["partitions"]) == 8
            and status(cli)["total_lag"] == 0
            and all(row["committed"] for row in status(cli)["partitions"]),
            "the group landing everything, the 8 partitions included",
            members,
            timeout=120,
        )
        for member in (b, c):
            member.signal(signal.SIGTERM)
            assert member.proc.wait(60) == 0, member.text()[-2500:]
    finally:
        for member in members:
            if member.proc.poll() is None:
                member.signal(signal.SIGKILL)
                member.proc.wait(30)
    result = reconcile(cli.config, PLACE)
    assert result.ok, result.describe()
    assert result.on_topic == ROUNDS * PER_ROUND and result.raw == ROUNDS * PER_ROUND
    landed_partitions = {
        row["kafka_partition"]
        for row in cli.sql(
            f"select distinct kafka_partition from {PLACE.schema}.assessment_attempts"
        )
    }
    assert landed_partitions == set(range(8))
    rebalances = sum(m.count("took partition") for m in members) - initial_takes
    zombie = b.count("lost partition") + b.count("fenced:")
    assert rebalances >= 2
    print(
        f"group: rebalances={rebalances} zombie_wakeups=1 (b: {zombie} lost/fenced lines) "
        f"records={result.on_topic} lost={len(result.lost)} duplicated={len(result.duplicated)}"
    )
