"""Landers of one consumer group SIGKILLed, replaced and SIGSTOPped at random while a
publisher keeps sending attempts.

Three members (``edtrack land --group``, or now and then ``edtrack land --processes 2``,
two landers under one parent) share a 6-partition topic of their own. A background
thread publishes a file of attempts every few seconds for the whole run. Ten rounds, in
a seeded random order, each do one of:

- kill: SIGKILL a random member's process group (both landers of a ``--processes 2``
  member) mid-work and start a replacement, sometimes a ``--processes 2`` one;
- pause: once the group's assignment is settled, SIGSTOP a random member's process
  group, keep it stopped until its partitions are held by the other members (past the
  6 s session timeout), then SIGCONT it: every lander of it that held partitions must
  log ``lost partition`` or ``fenced:`` (a zombie that knows it), and may land nothing
  of them again.

At the end the publisher stops, the members are stopped (SIGTERM, exit 0), one group
lander lands what is left, and the topic is reconciled with the raw tables.

Who holds which partition is read from the landers' progress lines (``took``, ``gave
up``, ``lost``, ``fenced:``), per lander pid.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import check, land_until_caught_up
from tests.reliability.data import attempts_file
from tests.reliability.group import Member, group_args, held_by, tails, wait_for
from tests.reliability.reconcile import LEDGER, Place, reconcile

# Not in CI (reliability_full): a few minutes of kills and pauses.
pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2400)]

PLACE = Place("lander-group-attempts", "/edtrack/lander-group", "lander_group")
GROUP_ID = "reliability-lander-group"
GROUP = group_args(GROUP_ID)
SMALL_BATCHES = ("--batch-records", "150", "--batch-age", "1")
PARTITIONS = 6
PER_FILE = 150
PUBLISH_EVERY_S = 2.0
PLAN = ["kill"] * 3 + ["kill-into-processes"] * 2 + ["pause"] * 5


class Publisher(threading.Thread):
    """Publishes a file of ``PER_FILE`` attempts every ``PUBLISH_EVERY_S`` until told
    to stop; counts what it sent."""

    def __init__(self, rcli, folder: Path) -> None:
        super().__init__(name="publisher", daemon=True)
        self.rcli = rcli
        self.folder = folder
        self.done = threading.Event()
        self.files = 0
        self.published = 0
        self.error: BaseException | None = None

    def publish_one(self) -> None:
        i = self.files
        path = attempts_file(self.folder, f"stream-{i}", PER_FILE, seed=600 + i, day=i % 5)
        self.rcli.run("publish", "--topic", PLACE.topic, "--partitions", str(PARTITIONS), str(path))
        self.files += 1
        self.published += PER_FILE

    def run(self) -> None:
        try:
            while not self.done.wait(PUBLISH_EVERY_S):
                self.publish_one()
        except BaseException as error:  # reported by the test, in its own thread
            self.error = error

    def stop(self) -> None:
        self.done.set()
        self.join(120)
        assert not self.is_alive(), "the publisher did not stop"
        assert self.error is None, f"publishing failed: {self.error}"


def noticed(target: Member, before: dict[int, int], holders: set[int]) -> bool:
    """Each lander of ``holders`` wrote a ``lost partition``/``fenced:`` line since
    ``before`` (its counts then)."""
    counts = target.zombie_lines()
    return all(counts.get(pid, 0) > before.get(pid, 0) for pid in holders)


def settled(members: list[Member]) -> bool:
    """Every partition held by exactly one lander, and every lander of every member
    up and holding at least one, by their logs."""
    holdings = [m.holdings() for m in members]
    if any(
        len(h) != m.processes or not all(h.values()) for m, h in zip(members, holdings, strict=True)
    ):
        return False
    held = [p for h in holdings for ps in h.values() for p in ps]
    return sorted(held) == list(range(PARTITIONS))


def test_landers_of_a_group_killed_replaced_and_paused_while_attempts_arrive(rcli, tmp_path):
    rng = random.Random(6021)
    plan = rng.sample(PLAN, len(PLAN))
    print(f"[reliability] group plan: {', '.join(plan)}")
    publisher = Publisher(rcli, tmp_path)
    publisher.publish_one()  # creates the topic before the landers look for it
    started = 0

    def member(processes: int = 1) -> Member:
        nonlocal started
        started += 1
        return Member(
            rcli, PLACE, tmp_path, f"member-{started}", *GROUP, *SMALL_BATCHES, processes=processes
        )

    members = [member() for _ in range(3)]
    publisher.start()
    faults = zombies = 0
    try:
        wait_for(
            lambda: settled(members),
            "the three members sharing the partitions, each holding some",
            members,
            timeout=180,
        )
        for i, action in enumerate(plan, 1):
            time.sleep(rng.uniform(1.0, 5.0))
            victim = rng.randrange(len(members))
            target = members[victim]
            if action.startswith("kill"):
                processes = 2 if action == "kill-into-processes" else 1
                target.lander.kill()
                members[victim] = member(processes)
                LEDGER.fault(
                    f"group member {target.name} ({target.processes} lander(s)) SIGKILLed, "
                    f"replaced by {members[victim].name} ({processes} lander(s))"
                )
                faults += 1
            else:
                wait_for(
                    lambda: settled(members),
                    "the group settling (each lander holding partitions) before a pause",
                    members,
                )
                others = [m for m in members if m is not target]
                holders = {pid for pid, ps in target.holdings().items() if ps}
                lost = target.held()
                before = target.zombie_lines()
                os.killpg(target.pgid, signal.SIGSTOP)  # with its children, if any
                stopped_at = time.monotonic()
                wait_for(
                    lambda lost=lost, others=others: lost <= held_by(others),
                    f"the others taking {target.name}'s partitions {sorted(lost)}",
                    others,
                )
                stopped_for = time.monotonic() - stopped_at
                os.killpg(target.pgid, signal.SIGCONT)
                wait_for(
                    lambda t=target, b=before, h=holders: noticed(t, b, h),
                    f"{target.name}'s lander(s) {sorted(holders)} noticing, woken after "
                    f"{stopped_for:.0f} s, that they lost {sorted(lost)}",
                    members,
                    timeout=60,
                )
                zombies += len(holders)
                LEDGER.fault(
                    f"group member {target.name} SIGSTOPped {stopped_for:.0f} s, "
                    f"{len(holders)} zombie lander(s) woken"
                )
                faults += 1
            print(
                f"[reliability] group round {i}/{len(plan)}: {action} {target.name}, "
                f"{publisher.published} published",
                flush=True,
            )
        publisher.stop()
        # A lander takes SIGTERM as "flush, commit, exit 0" once it is up (its first line);
        # one just started by the last round may not be yet.
        wait_for(
            lambda: all(len(m.holdings()) == m.processes for m in members),
            "every lander of the last members up (its first line written)",
            members,
        )
        for one in members:
            code = one.lander.stop()
            assert code == 0, f"{one.name} exited {code} on SIGTERM:\n{tails(members)}"
    except BaseException:
        publisher.done.set()
        publisher.join(120)  # no publish left running into the stack's shutdown
        for one in members:
            one.lander.kill()  # SIGKILL ends a stopped process group too
        raise

    land_until_caught_up(rcli, PLACE, *GROUP, *SMALL_BATCHES)
    check(rcli.config, PLACE, "landers of a group killed, replaced, paused", faults)
    result = reconcile(rcli.config, PLACE)
    assert result.on_topic == publisher.published, result.describe()
    status = json.loads(rcli.run("land", "--status", *PLACE.args, "--group-id", GROUP_ID).stdout)
    assert status["total_lag"] == 0, status["partitions"]
    assert zombies >= plan.count("pause"), zombies
    print(
        f"[reliability] group: {faults} faults, {zombies} zombie landers woken, "
        f"{started} members started, {publisher.files} files published"
    )
