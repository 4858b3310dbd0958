"""Services of the stack failing under the pipeline: the Kafka broker SIGKILLed during a
publish and during landing, the NameNode and the DataNode restarted during landing, and
HDFS refusing writes (a space quota on the raw folder).

Each scenario ends as an operator would: the service back, ``publish --resume`` for a
publish that failed, the lander started again; then the raw tables are reconciled with
the topic.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from ingestion.topic import topic_size
from stack.services.hdfs import hdfs_cmd
from tests.reliability.conftest import LanderProcess, check, land_until_caught_up, publishing
from tests.reliability.data import attempts_file
from tests.reliability.reconcile import LEDGER, Place, topic_messages

pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2700)]

PLACE = Place()
SMALL_BATCHES = ("--batch-records", "200", "--batch-age", "1")


def dfsadmin(stack, *args: str) -> subprocess.CompletedProcess:
    """``hdfs dfsadmin`` against the suite's NameNode (the jars the stack runs on)."""
    return subprocess.run(
        hdfs_cmd(stack, "org.apache.hadoop.hdfs.tools.DFSAdmin", *args),
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def published_indexes(bootstrap: str, topic: str, source: str) -> list[int]:
    from ingestion.publish import already_published

    return sorted(already_published(bootstrap, topic, source))


def restart(stack, name: str, down_s: float) -> None:
    stack.kill_service(name)
    LEDGER.fault(f"{name} SIGKILLed")
    time.sleep(down_s)
    t0 = time.monotonic()
    stack.start_service(name)
    print(f"[reliability] {name} back after {time.monotonic() - t0:.0f} s", flush=True)


def lander_through(rcli, tmp_path, while_running) -> None:
    """Run a lander over a backlog, do ``while_running`` to the stack while it works,
    then stop it (or find it stopped) and land what is left."""
    lander = LanderProcess(rcli, PLACE, tmp_path / "lander.log", *SMALL_BATCHES)
    time.sleep(5)
    assert lander.proc.poll() is None, lander.tail()
    while_running()
    time.sleep(5)
    # It rides the restart out (retrying Kafka and HDFS), then flushes and exits 0.
    alive = lander.proc.poll() is None
    try:
        code = lander.stop(timeout=240)
    except subprocess.TimeoutExpired:
        lander.kill()
        code = None
    assert alive and code == 0, f"the lander did not live through it ({code}):\n{lander.tail()}"
    land_until_caught_up(rcli, PLACE, *SMALL_BATCHES)


def test_a_space_quota_stops_the_lander_with_one_sentence_and_it_resumes_after(
    rcli, rel_stack, tmp_path
):
    path = attempts_file(tmp_path, "quota", 400, seed=301, day=20)
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    quota = dfsadmin(rel_stack, "-setSpaceQuota", "1k", PLACE.root)
    assert quota.returncode == 0, quota.stderr
    LEDGER.fault(f"HDFS space quota of 1 KB on {PLACE.root}")
    try:
        refused = rcli.run("land", *PLACE.args, "--until-caught-up", check=False, timeout=300)
        assert refused.returncode == 2, refused.stderr
        assert "Landing stopped: HDFS refused a write under /edtrack/raw (" in refused.stderr
        assert "quota" in refused.stderr.lower()
        assert "Traceback" not in refused.stderr
    finally:
        cleared = dfsadmin(rel_stack, "-clrSpaceQuota", PLACE.root)
        assert cleared.returncode == 0, cleared.stderr
    land_until_caught_up(rcli, PLACE)
    check(rcli.config, PLACE, "HDFS space quota exceeded, then lifted", 1)


def test_the_broker_killed_during_a_publish_then_resume_sends_what_is_missing(
    rcli, rel_stack, tmp_path
):
    count = 6000
    path = attempts_file(tmp_path, "broker-publish", count, seed=302, day=23)
    start = topic_size(rcli.config.kafka_bootstrap, PLACE.topic)
    publisher = publishing(rcli, PLACE.topic, path)
    # Kill it part-way: once a tenth of the file is on the topic.
    deadline = time.monotonic() + 300
    while topic_size(rcli.config.kafka_bootstrap, PLACE.topic) < start + 900:
        assert time.monotonic() < deadline and publisher.poll() is None, "no progress"
        time.sleep(0.2)
    assert publisher.poll() is None, "the publish ended before the broker was killed"
    restart(rel_stack, "kafka", down_s=5)
    out, err = publisher.communicate(timeout=600)
    print(f"[reliability] publish during the kill exited {publisher.returncode}: {err[-300:]}")
    rcli.run("publish", "--topic", PLACE.topic, "--resume", str(path))
    # Every record of the file is on the topic; a copy a retry may have added is kept
    # by Kafka (and landed: raw keeps what Kafka holds).
    found = published_indexes(rcli.config.kafka_bootstrap, PLACE.topic, path.name)
    assert sorted(set(found)) == list(range(count))
    land_until_caught_up(rcli, PLACE, *SMALL_BATCHES)
    check(rcli.config, PLACE, "broker SIGKILLed during a publish", 1)


def test_the_broker_killed_during_landing(rcli, rel_stack, tmp_path):
    path = attempts_file(tmp_path, "broker-land", 4000, seed=303, day=26)
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    lander_through(rcli, tmp_path, lambda: restart(rel_stack, "kafka", down_s=5))
    check(rcli.config, PLACE, "broker SIGKILLed during landing", 1)


@pytest.mark.parametrize("service", ["namenode", "datanode"])
def test_hdfs_restarted_during_landing(rcli, rel_stack, tmp_path, service):
    seed = {"namenode": 304, "datanode": 305}[service]
    path = attempts_file(tmp_path, service, 4000, seed=seed, day=29 + seed % 2 * 3)
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    lander_through(rcli, tmp_path, lambda: restart(rel_stack, service, down_s=3))
    check(rcli.config, PLACE, f"{service} restarted during landing", 1)
    assert len(topic_messages(rcli.config.kafka_bootstrap, PLACE.topic)) > 0
