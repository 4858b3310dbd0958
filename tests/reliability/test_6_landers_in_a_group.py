"""Landers in one consumer group, killed and paused at random while attempts arrive.

Three ``edtrack land --group`` members on a 6-partition topic of their own. Each round
publishes more attempts, then does one of (seeded): SIGKILL a member and start a new
one; SIGSTOP a member past its session timeout, wait for the group to move on, SIGCONT
it (a zombie that must land nothing for its old partitions); replace a member with
``edtrack land --processes 2``; add two partitions. At the end the members are stopped,
one lander lands what is left, and the topic is reconciled with the raw tables.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.reliability.conftest import LanderProcess, check, land_until_caught_up
from tests.reliability.data import attempts_file
from tests.reliability.reconcile import LEDGER, Place, reconcile

pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2400)]

PLACE = Place("grouped-attempts", "/edtrack/grouped", "grouped")
GROUP = ("--group", "--group-id", "reliability-group", "--session-timeout", "6")
SMALL_BATCHES = ("--batch-records", "150", "--batch-age", "1")
ROUNDS = 16
PER_ROUND = 250


def lines(member: LanderProcess, what: str) -> int:
    text = member.log.read_text(errors="replace") if member.log.exists() else ""
    return sum(line.split("] ", 1)[-1].startswith(what) for line in text.splitlines())


def owns_partitions(member: LanderProcess) -> bool:
    """Whether one of the member's landers holds partitions now: its last word on them
    was 'took' (not 'gave up', 'lost' or 'fenced')."""
    text = member.log.read_text(errors="replace") if member.log.exists() else ""
    last: dict[str, str] = {}
    for line in text.splitlines():
        who, _, said = line.rpartition("] ")
        for word in ("took partition", "gave up partition", "lost partition", "fenced:"):
            if said.startswith(word):
                last[who] = word
    return "took partition" in last.values()


def test_landers_in_a_group_killed_and_paused_at_random(rcli, tmp_path):
    rng = random.Random(1729)
    published = 0

    def publish(i: int) -> None:
        nonlocal published
        path = attempts_file(tmp_path, f"group-{i}", PER_ROUND, seed=300 + i, day=1 + i % 5)
        rcli.run("publish", "--topic", PLACE.topic, "--partitions", "6", str(path))
        published += PER_ROUND

    def member(name: str, *extra: str) -> LanderProcess:
        log = tmp_path / f"{name}.log"
        return LanderProcess(rcli, PLACE, log, *GROUP, *SMALL_BATCHES, *extra)

    def settle() -> None:
        """Wait until the group has landed everything published: a group that keeps
        rebalancing (a kill blocks it for a session timeout) hands out nothing."""
        deadline = time.monotonic() + 180
        while True:
            shown = rcli.run("land", "--status", *PLACE.args, *GROUP[1:3], check=False)
            if shown.returncode == 0 and json.loads(shown.stdout)["total_lag"] == 0:
                return
            assert time.monotonic() < deadline, "\n".join(m.tail() for m in members)
            time.sleep(1)

    publish(0)
    members = [member(f"m{i}") for i in range(3)]
    started = len(members)
    partitions = 6
    zombies = faults = 0
    try:
        for i in range(1, ROUNDS + 1):
            settle()
            publish(i)
            time.sleep(rng.uniform(1.0, 4.0))  # the members are landing it
            action = rng.choice(
                ["kill", "kill", "pause", "pause", "pause", "processes", "partitions"]
            )
            victim = rng.randrange(len(members))
            owners = [i for i, one in enumerate(members) if owns_partitions(one)]
            if action == "pause" and not owners:
                action = "kill"  # a member without partitions has nothing to lose
            elif action == "pause":
                victim = rng.choice(owners)
            if action == "kill":
                members[victim].kill()
                members[victim] = member(f"m{started}")
                started += 1
                LEDGER.fault("a lander of the group SIGKILLed, a new one started")
                faults += 1
            elif action == "pause":
                paused = members[victim]
                before = lines(paused, "lost partition") + lines(paused, "fenced:")
                os.killpg(paused.proc.pid, signal.SIGSTOP)  # with its children, if any
                time.sleep(rng.uniform(9.0, 14.0))  # past the 6 s session timeout
                os.killpg(paused.proc.pid, signal.SIGCONT)
                deadline = time.monotonic() + 60
                while lines(paused, "lost partition") + lines(paused, "fenced:") == before:
                    assert time.monotonic() < deadline, paused.tail()
                    time.sleep(0.5)
                zombies += 1
                LEDGER.fault("a lander of the group SIGSTOPped past its session timeout")
                faults += 1
            elif action == "processes":
                members[victim].stop()
                members[victim] = member(f"m{started}", "--processes", "2")
                started += 1
                LEDGER.fault("a lander of the group replaced by two (--processes 2)")
                faults += 1
            elif partitions < 10:
                partitions += 2
                from kafka.admin import KafkaAdminClient, NewPartitions

                admin = KafkaAdminClient(bootstrap_servers=rcli.config.kafka_bootstrap)
                try:
                    admin.create_partitions({PLACE.topic: NewPartitions(total_count=partitions)})
                finally:
                    admin.close()
                LEDGER.fault(f"partitions added to the topic mid-run ({partitions})")
                faults += 1
            print(f"[reliability] group round {i}/{ROUNDS}: {action}, {published} published")
    finally:
        for one in members:
            if one.proc.poll() is None:
                assert one.stop() == 0, one.tail()
    land_until_caught_up(rcli, PLACE, *SMALL_BATCHES)
    check(rcli.config, PLACE, "landers of a group killed, paused, multiplied", faults)
    result = reconcile(rcli.config, PLACE)
    assert result.on_topic == published
    print(f"[reliability] group: {zombies} zombie wake-ups, {started} landers started")
