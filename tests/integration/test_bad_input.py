"""The bad-input corpus (tests/reliability/corpus.py) through the real stack.

Every case is published as it is (its value, and its key or none) to its own topic,
landed into its own HDFS folder and schema, and staged by the two staging models built
from that schema into schemas of their own (dbt vars ``raw_schema`` and
``schema_prefix``), so the warehouse tests' raw, staging and later tables are untouched.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import subprocess

import pytest

from core.project import PROJECT_ROOT
from ingestion.publish import ensure_topic
from ingestion.topic import topic_size
from tests.reliability.corpus import (
    BY_ID,
    CASES,
    DUPLICATE,
    EPOCH,
    PARSE_ERROR,
    PARSED,
    QUARANTINE,
    RAW,
)
from tests.reliability.data import publish_corpus

from .conftest import BIN

TOPIC = "bad-input"
SCHEMA = "bad_input"
PLACE = ("--topic", TOPIC, "--root", "/edtrack/bad_input", "--schema", SCHEMA)
PREFIX = "bad_input_"
STAGING = f"{PREFIX}staging"
MODELS = ("stg_assessments__attempt_parse_errors", "stg_assessments__attempts")
VARS = json.dumps({"raw_schema": SCHEMA, "schema_prefix": PREFIX})
STAGED_COLUMNS = (
    "attempt_id",
    "base_exam_id",
    "exam_name",
    "max_attempts",
    "attempt_number",
    "question_count",
    "counts_total",
    "copies_in_raw",
    "has_counts",
    "is_certification",
    "is_test_record",
    "submitted_at",
    "started_at",
)
TIMESTAMPS = {"submitted_at", "started_at"}

ALL = [pytest.param(case, id=case.id) for case in CASES]
LANDED = [pytest.param(case, id=case.id) for case in CASES if case.table == RAW]


def sha256(value: bytes | None) -> str | None:
    return None if value is None else hashlib.sha256(value).hexdigest()


def micros(value):
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    return value


def dbt(cli, where, *args: str) -> subprocess.CompletedProcess:
    """dbt with the corpus's vars; target and log paths of its own, so it does not
    collide with other dbt runs in the project's target/."""
    return subprocess.run(
        [
            str(BIN / "dbt"),
            *args,
            "--vars",
            VARS,
            "--target-path",
            str(where / "target"),
            "--log-path",
            str(where / "logs"),
        ],
        env=cli.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def placed(cli) -> dict[str, tuple[int, int]]:
    """Publish every case, then land the topic; each case's (partition, offset)."""
    bootstrap = cli.config.kafka_bootstrap
    ensure_topic(bootstrap, TOPIC, 3)
    assert topic_size(bootstrap, TOPIC) == 0, f"topic {TOPIC} must start empty"
    where = publish_corpus(bootstrap, TOPIC)
    cli.run("land", "--until-caught-up", *PLACE)
    return where


@pytest.fixture(scope="module")
def landed(cli, placed) -> dict[str, dict]:
    """The rows of both raw tables, by (partition, offset)."""
    common = "kafka_partition, kafka_offset, kafka_key, cast(kafka_date as string) as day"
    tables = {
        RAW: cli.sql(
            f"select {common}, sha2(cast(payload as binary), 256) as sha256 "
            f"from {SCHEMA}.assessment_attempts"
        ),
        QUARANTINE: cli.sql(
            f"select {common}, error, sha2(unbase64(payload_base64), 256) as sha256 "
            f"from {SCHEMA}.assessment_attempts_quarantine"
        ),
    }
    return {
        table: {(r["kafka_partition"], r["kafka_offset"]): r for r in rows}
        for table, rows in tables.items()
    }


@pytest.fixture(scope="module")
def dbt_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bad-input-dbt")


@pytest.fixture(scope="module")
def staged(cli, placed, dbt_dir) -> dict[str, dict]:
    """Build both staging models from the corpus's raw schema; their rows by location."""
    result = dbt(cli, dbt_dir, "run", "--select", *MODELS)
    assert result.returncode == 0, f"dbt run failed:\n{result.stdout[-4000:]}"
    columns = ", ".join(
        f"unix_micros({c}) as {c}" if c in TIMESTAMPS else c for c in STAGED_COLUMNS
    )
    attempts = cli.sql(
        f"select kafka_partition, kafka_offset, {columns} from {STAGING}.stg_assessments__attempts"
    )
    errors = cli.sql(
        "select kafka_partition, kafka_offset, error "
        f"from {STAGING}.stg_assessments__attempt_parse_errors"
    )
    return {
        PARSED: {(r["kafka_partition"], r["kafka_offset"]): r for r in attempts},
        PARSE_ERROR: {(r["kafka_partition"], r["kafka_offset"]): r for r in errors},
    }


def test_every_message_on_the_topic_lands_in_exactly_one_table(cli, placed, landed):
    on_topic = topic_size(cli.config.kafka_bootstrap, TOPIC)
    assert on_topic == len(CASES)
    raw, quarantine = set(landed[RAW]), set(landed[QUARANTINE])
    assert len(raw) + len(quarantine) == on_topic
    assert raw | quarantine == set(placed.values())
    assert not raw & quarantine


@pytest.mark.parametrize("case", ALL)
def test_each_case_lands_in_its_table_with_its_reason(case, placed, landed):
    row = landed[case.table].get(placed[case.id])
    assert row is not None, f"not in {case.table}; elsewhere: {placed[case.id] in landed[RAW]}"
    assert row["sha256"] == sha256(case.value)  # the exact bytes
    assert row["kafka_key"] == (None if case.key is None else case.key.decode("utf-8", "replace"))
    assert row["day"] == "2018-01-23"
    if case.table == QUARANTINE:
        assert case.error in row["error"]


@pytest.mark.parametrize("case", LANDED)
def test_staging_parses_lists_or_deduplicates_each_landed_case(case, placed, staged):
    where = placed[case.id]
    if case.staging == PARSED:
        assert where not in staged[PARSE_ERROR], f"a parse error: {staged[PARSE_ERROR][where]}"
        row = staged[PARSED][where]
        assert {k: row[k] for k in case.fields} == {k: micros(v) for k, v in case.fields.items()}
    elif case.staging == PARSE_ERROR:
        assert where not in staged[PARSED], f"staged as {staged[PARSED][where]}"
        assert case.parse_error in staged[PARSE_ERROR][where]["error"]
    else:
        assert case.staging == DUPLICATE
        assert where not in staged[PARSED] and where not in staged[PARSE_ERROR]
        copies = 1 + sum(c.duplicate_of == case.duplicate_of for c in CASES)
        kept = staged[PARSED][placed[case.duplicate_of]]
        assert kept["copies_in_raw"] == copies
        assert kept["exam_name"] == BY_ID[case.duplicate_of].fields["exam_name"]


def test_staging_holds_only_the_parsed_cases_and_the_errors_only_the_failed(placed, staged):
    for outcome in (PARSED, PARSE_ERROR):
        expected = {placed[c.id] for c in CASES if c.staging == outcome}
        assert set(staged[outcome]) == expected, outcome


def test_dbt_test_reports_each_broken_data_test_and_nothing_else(cli, staged, dbt_dir):
    result = dbt(cli, dbt_dir, "test", "--select", *MODELS, "--indirect-selection", "cautious")
    results = json.loads((dbt_dir / "target" / "run_results.json").read_text())["results"]
    outcomes = {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in results}
    assert [name for name, (status, _) in outcomes.items() if status == "error"] == []
    expected = collections.Counter(name for case in CASES for name in case.violates)
    failed = {name: failures for name, (status, failures) in outcomes.items() if status == "fail"}
    assert failed == dict(expected)
    assert result.returncode == (1 if expected else 0), result.stdout[-4000:]
    assert len(outcomes) > len(failed)  # the other tests ran and passed
