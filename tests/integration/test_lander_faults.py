"""The lander against the real Kafka and HDFS: killed at random instants, replayed,
and a publish resumed part-way. Runs on its own topic, HDFS folder and schema, so the
warehouse tests' raw table is untouched.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import time

import pytest

from ingestion.generate import generate, write
from ingestion.source import compact
from ingestion.topic import read_topic

from .conftest import BIN

TOPIC = "faults-attempts"
PLACE = ("--topic", TOPIC, "--root", "/edtrack/faults", "--schema", "faults")
SMALL_BATCHES = ("--batch-records", "120", "--batch-age", "1")
RECORDS = 2400


def raw(cli) -> collections.Counter:
    rows = cli.sql(
        "select kafka_partition, kafka_offset, kafka_key, payload from faults.assessment_attempts"
    )
    return collections.Counter(
        (r["kafka_partition"], r["kafka_offset"], r["kafka_key"], r["payload"]) for r in rows
    )


def on_topic(cli) -> collections.Counter:
    """Every message on the topic, read straight from Kafka."""
    return collections.Counter(
        (m.partition, m.offset, m.key.decode(), m.value.decode())
        for m in read_topic(cli.config.kafka_bootstrap, TOPIC)
    )


@pytest.fixture(scope="module")
def records(cli, tmp_path_factory) -> list[dict]:
    """Published in two runs: the first stops part-way, ``--resume`` sends the rest."""
    data = tmp_path_factory.mktemp("faults")
    records = list(generate(RECORDS, seed=41, days=4))
    (data / "part").mkdir()
    write(iter(records[:700]), data / "part" / "attempts.jsonl")
    write(iter(records), data / "attempts.jsonl")
    cli.run("publish", "--topic", TOPIC, str(data / "part" / "attempts.jsonl"))
    result = cli.run("publish", "--topic", TOPIC, "--resume", str(data / "attempts.jsonl"))
    assert "resume: 700 records" in result.stderr
    assert f"published {RECORDS - 700:,} of {RECORDS:,} records" in result.stdout
    return records


def test_a_resumed_publish_sends_only_what_is_missing(cli, records):
    messages = on_topic(cli)
    assert sum(messages.values()) == RECORDS
    assert sorted(v for (_, _, _, v) in messages) == sorted(compact(r).decode() for r in records)


def test_a_lander_killed_at_random_instants_loses_and_duplicates_nothing(cli, records):
    rng = random.Random(2018)
    landed_when_killed = []
    for _ in range(5):
        lander = subprocess.Popen(
            [str(BIN / "edtrack"), "land", *PLACE, *SMALL_BATCHES],
            env=cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(4.0, 12.0))
        os.killpg(lander.pid, signal.SIGKILL)
        lander.wait()
        landed_when_killed.append(sum(raw(cli).values()) if _has_table(cli) else 0)
    # The kills must have hit a lander at work, or this test proves nothing.
    assert any(0 < n < RECORDS for n in landed_when_killed), landed_when_killed
    cli.run("land", *PLACE, *SMALL_BATCHES, "--until-caught-up")
    assert raw(cli) == on_topic(cli)
    status = json.loads(cli.run("land", *PLACE, "--status").stdout)
    assert status["total_lag"] == 0 and status["running"] is False
    # The status file the last lander wrote is the one --status reads.
    assert status["last_report"]["topic"] == TOPIC and status["last_report"]["total_lag"] == 0
    ends = {r["partition"]: r["end"] for r in status["partitions"]}
    assert {r["partition"]: r["committed"] for r in status["partitions"]} == ends
    assert sum(ends.values()) == RECORDS


def test_replay_lands_a_partition_again_with_the_same_rows(cli, records):
    before = raw(cli)
    stamps = cli.sql(
        "select kafka_offset, ingested_at from faults.assessment_attempts where kafka_partition = 1"
    )
    out = cli.run("replay", *PLACE, "--partition", "1", "--from-offset", "300")
    assert "replay: removed" in out.stderr
    assert raw(cli) == before
    again = {
        r["kafka_offset"]: r["ingested_at"]
        for r in cli.sql(
            "select kafka_offset, ingested_at from faults.assessment_attempts "
            "where kafka_partition = 1"
        )
    }
    relanded = {r["kafka_offset"] for r in stamps if again[r["kafka_offset"]] != r["ingested_at"]}
    assert 300 in relanded and min(relanded) <= 300
    assert relanded == set(range(min(relanded), max(again) + 1))


def test_a_second_lander_on_the_same_topic_is_refused(cli, records):
    first = subprocess.Popen(
        [str(BIN / "edtrack"), "land", *PLACE],
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not json.loads(cli.run("land", *PLACE, "--status").stdout)["running"]:
            assert time.monotonic() < deadline and first.poll() is None, first.stderr
            time.sleep(0.5)
        second = cli.run("land", *PLACE, "--until-caught-up", check=False)
        assert second.returncode != 0
        assert f"already running (pid {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0


def _has_table(cli) -> bool:
    return bool(cli.sql("show databases like 'faults'")) and bool(
        cli.sql("show tables in faults like 'assessment_attempts'")
    )
