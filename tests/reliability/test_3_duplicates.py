"""Duplicates: the same file published twice, and producer retries (the same message sent
again, as a producer without idempotence does when an ack is lost).

Raw keeps what Kafka holds; staging keeps one row per attempt and counts the copies;
the marts' answers about attempts do not move, and only the ``attempt_rows`` columns
(rows of the export, copies included) grow, by exactly the copies added.
"""

from __future__ import annotations

import collections
import json

import pytest

from tests.integration.expected import TEST_EXAM
from tests.reliability.conftest import check, land_until_caught_up
from tests.reliability.data import attempts_file
from tests.reliability.reconcile import Place
from tests.reliability.warehouse import STAGING, dbt_run, fingerprints, full_suite, query

# Generous: two builds of every layer in the full suite, on two shared cores.
pytestmark = [pytest.mark.reliability, pytest.mark.timeout(2700)]

PLACE = Place()
RETRIED = 40  # records of the file sent once more, as a retry would


def retry(bootstrap: str, topic: str, records: list[dict]) -> None:
    """Send the records again exactly as ``edtrack publish`` did (key, value, event
    time), without idempotence: what Kafka holds after a retried send."""
    from kafka import KafkaProducer

    from ingestion.publish import event_time_ms
    from ingestion.source import compact

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    try:
        for r in records:
            producer.send(
                topic,
                value=compact(r),
                key=r["keen_id"].encode(),
                timestamp_ms=event_time_ms(r),
            ).get(timeout=60)
    finally:
        producer.close()


@pytest.fixture(scope="module")
def twice(rcli, request, tmp_path_factory):
    """Land a file once; then publish it again and retry some of its records, and land.
    The full suite builds every layer before and after (the CI subset only staging,
    after). The records, and the marts' fingerprints and figures before and after."""
    full = full_suite(request.config)
    folder = tmp_path_factory.mktemp("duplicates")
    path = attempts_file(folder, "twice", 400, seed=401, day=45)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    land_until_caught_up(rcli, PLACE)
    before = None
    if full:
        dbt_run(rcli, folder / "dbt")
        before = snapshot(rcli.config)
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    retry(rcli.config.kafka_bootstrap, PLACE.topic, records[:RETRIED])
    print(f"[reliability] the same file published twice, and {RETRIED} producer retries")
    land_until_caught_up(rcli, PLACE)
    check(rcli.config, PLACE, "same file twice and producer retries", 0)
    if full:
        dbt_run(rcli, folder / "dbt")
        return records, before, snapshot(rcli.config)
    dbt_run(rcli, folder / "dbt", "--select", *STAGING)
    return records, None, None


def snapshot(config) -> dict:
    def total(mart: str) -> int:
        return query(config, f"select sum(attempt_rows) from marts.{mart}")[0][0]

    popularity = "select base_exam_id, attempt_rows from marts.mart_exam_popularity"
    return {
        "marts": fingerprints(config, skip=frozenset({"attempt_rows"})),
        "rows": dict(query(config, popularity)),
        "daily_rows": total("mart_activity_daily"),
        "hourly_rows": total("mart_activity_hourly"),
    }


def test_raw_keeps_every_copy_kafka_holds(rcli, twice):
    records, _, _ = twice
    ids = ", ".join(f"'{k}'" for k in {r["keen_id"] for r in records})
    raw = dict(
        query(
            rcli.config,
            f"select kafka_key, count(*) from raw.assessment_attempts where kafka_key in ({ids}) "
            "group by kafka_key",
        )
    )
    per_file = collections.Counter(r["keen_id"] for r in records)
    retried = collections.Counter(r["keen_id"] for r in records[:RETRIED])
    assert raw == {k: 2 * per_file[k] + retried[k] for k in per_file}


def test_staging_keeps_one_row_per_attempt_with_its_copies_counted(rcli, twice):
    records, _, _ = twice
    per_file = collections.Counter(r["keen_id"] for r in records)
    retried = collections.Counter(r["keen_id"] for r in records[:RETRIED])
    ids = ", ".join(f"'{k}'" for k in per_file)
    staged = query(
        rcli.config,
        "select attempt_id, count(*), max(copies_in_raw) from staging.stg_assessments__attempts "
        f"where attempt_id in ({ids}) group by attempt_id",
    )
    assert {a: n for a, n, _ in staged} == dict.fromkeys(per_file, 1)
    assert {a: c for a, _, c in staged} == {k: 2 * per_file[k] + retried[k] for k in per_file}


@pytest.mark.reliability_full
def test_marts_answer_the_same_and_count_only_the_added_rows(twice):
    records, before, after = twice
    assert after["marts"] == before["marts"]  # every column but attempt_rows
    added = collections.Counter(
        r["base_exam_id"] for r in records if r["base_exam_id"] != TEST_EXAM
    )
    added.update(r["base_exam_id"] for r in records[:RETRIED] if r["base_exam_id"] != TEST_EXAM)
    grown = {e: after["rows"][e] - before["rows"].get(e, 0) for e in after["rows"]}
    assert {e: n for e, n in grown.items() if n} == dict(added)
    assert after["daily_rows"] - before["daily_rows"] == sum(added.values())
    assert after["hourly_rows"] - before["hourly_rows"] == sum(added.values())
