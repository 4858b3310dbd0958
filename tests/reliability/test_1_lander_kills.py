"""The lander SIGKILLed at named steps of a flush and at random instants, with the
bad-input corpus interleaved with good attempts on the topic.

After each scenario a lander lands what is left and the raw tables are reconciled with
the topic: every message once, in raw or (with its reason) in quarantine.
"""

from __future__ import annotations

import random
import signal
import time

import pytest

from ingestion.landing.faults import FAULT_STEPS
from tests.reliability.conftest import LanderProcess, check, land_until_caught_up
from tests.reliability.corpus import CASES
from tests.reliability.data import attempts_file, publish_corpus
from tests.reliability.reconcile import LEDGER, Place, reconcile

# Generous: the first test also waits for the stack, on two cores other jobs share.
pytestmark = [pytest.mark.reliability, pytest.mark.timeout(2700)]

PLACE = Place()  # the usual topic, HDFS folder and schema of the suite's private stack
SMALL_BATCHES = ("--batch-records", "150", "--batch-age", "1")


@pytest.fixture(scope="module")
def published(rcli, tmp_path_factory) -> int:
    """Good attempts, the whole corpus, more good attempts: 1,800 + 92 messages."""
    folder = tmp_path_factory.mktemp("kills")
    rcli.run("publish", "--topic", PLACE.topic, str(attempts_file(folder, "a", 900, seed=1)))
    publish_corpus(rcli.config.kafka_bootstrap, PLACE.topic)
    rcli.run("publish", "--topic", PLACE.topic, str(attempts_file(folder, "b", 900, 2, day=2)))
    return 1800 + len(CASES)


def landed_count(rcli) -> int:
    from tests.reliability.reconcile import landed_rows

    try:
        rows = landed_rows(rcli.config.host, rcli.config.ports["thrift"], PLACE)
    except Exception:  # the tables do not exist before the first flush
        return 0
    return len(rows["raw"]) + len(rows["quarantine"])


def test_a_lander_killed_at_each_step_of_a_flush_loses_and_duplicates_nothing(
    rcli, published, tmp_path
):
    rng = random.Random(7)
    progress = []
    for step in FAULT_STEPS:
        hit = rng.randint(1, 3)
        lander = LanderProcess(
            rcli, PLACE, tmp_path / "lander.log", *SMALL_BATCHES, fault=f"{step}:{hit}"
        )
        code = lander.proc.wait(240)
        # It must die at the step (SIGKILL by its own fault point), not finish.
        assert code == -signal.SIGKILL, f"{step}:{hit} exited {code}:\n{lander.tail()}"
        LEDGER.fault(f"lander killed at step {step!r} (hit {hit})")
        progress.append(landed_count(rcli))
        print(f"[reliability] after the kill at {step}:{hit}: {progress[-1]} rows landed")
    assert progress[-1] < published  # the kills left work for the last lander
    assert progress[0] < progress[-1]  # and each restart picked up where it was
    land_until_caught_up(rcli, PLACE, *SMALL_BATCHES)
    check(rcli.config, PLACE, "lander killed at each step of a flush", len(FAULT_STEPS))


@pytest.mark.reliability_full
def test_a_lander_killed_at_random_instants_while_attempts_arrive(rcli, published, tmp_path):
    """21 kills: most from outside at a random instant after the lander has resumed,
    some at a random named step with a random hit; a new file is published before each,
    so every lander has work, and most die with messages still to land."""
    rng = random.Random(2018)
    kills = 21
    pending_at_kill = 0
    log = tmp_path / "lander.log"
    for i in range(kills):
        path = attempts_file(tmp_path, f"more-{i}", 200, seed=100 + i, day=4 + i)
        rcli.run("publish", "--topic", PLACE.topic, str(path))
        if i % 4 == 3:
            step, hit = rng.choice(FAULT_STEPS), rng.randint(1, 2)
            lander = LanderProcess(rcli, PLACE, log, *SMALL_BATCHES, fault=f"{step}:{hit}")
            try:
                code = lander.proc.wait(120)
            except Exception:
                lander.kill()  # nothing left to land: the step never came
                code = -signal.SIGKILL
            what = f"lander killed at step {step!r} (hit {hit}), exit {code}"
        else:
            resumed = log.read_text().count("resuming") if log.exists() else 0
            lander = LanderProcess(rcli, PLACE, log, *SMALL_BATCHES)
            deadline = time.monotonic() + 180
            while log.read_text().count("resuming") == resumed:  # recovered, now landing
                assert lander.proc.poll() is None and time.monotonic() < deadline, lander.tail()
                time.sleep(0.1)
            time.sleep(rng.uniform(0.2, 3.0))
            lander.kill()
            what = "lander SIGKILLed at a random instant while landing"
        LEDGER.fault(what)
        landed = landed_count(rcli)
        on_topic = published + 200 * (i + 1)
        pending_at_kill += landed < on_topic
        print(f"[reliability] kill {i + 1}/{kills}: {landed} of {on_topic} landed after it")
    # Most kills must have hit a lander with work left, or this proves little.
    assert pending_at_kill >= kills // 2, pending_at_kill
    land_until_caught_up(rcli, PLACE, *SMALL_BATCHES)
    check(rcli.config, PLACE, f"lander killed {kills} times at random", kills)
    assert reconcile(rcli.config, PLACE).on_topic == published + kills * 200
