"""End to end through the real stack: publish -> land -> dbt build -> SQL over Thrift.

Expected values are computed here, independently, from the input file.
"""

from __future__ import annotations

import collections
import json
import subprocess

import pytest

from core.project import PROJECT_ROOT, catalogue
from ingestion.source import Input, compact

from . import expected
from .conftest import BIN, SAMPLE


def read_records(path) -> list[dict]:
    with Input(path) as source:
        return [item.value for item in source.records()]


def raw_messages(cli) -> collections.Counter:
    rows = cli.sql("select kafka_key, payload from raw.assessment_attempts")
    return collections.Counter((r["kafka_key"], r["payload"]) for r in rows)


def published(records: list[dict]) -> collections.Counter:
    return collections.Counter((r["keen_id"], compact(r).decode()) for r in records)


def by_key(rows: list[dict], key, fields) -> dict:
    get = (lambda r: tuple(r[k] for k in key)) if isinstance(key, tuple) else (lambda r: r[key])
    return {get(r): {f: r[f] for f in fields} for r in rows}


def approx(table: dict) -> dict:
    return {
        k: {
            f: pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v
            for f, v in row.items()
        }
        for k, row in table.items()
    }


def check_marts(cli, records: list[dict]) -> None:
    """dbt build, then every mart equals the answer computed in Python."""
    cli.dbt("build")
    marts = "marts."
    assert by_key(
        cli.sql(f"select * from {marts}mart_exam_popularity"),
        "base_exam_id",
        ["distinct_attempts", "attempt_rows"],
    ) == expected.popularity(records)
    assert by_key(
        cli.sql(f"select * from {marts}dim_exams"),
        "base_exam_id",
        ["exam_name", "is_name_shared", "question_count"],
    ) == expected.exams(records)
    names = cli.sql(
        "select base_exam_id, span_number, exam_name, unix_micros(valid_from) as valid_from, "
        "unix_micros(valid_to) as valid_to, is_current, span_attempts "
        f"from {marts}dim_exam_names"
    )
    assert by_key(
        names,
        ("base_exam_id", "span_number"),
        ["exam_name", "valid_from", "valid_to", "is_current", "span_attempts"],
    ) == expected.exam_names(records)
    scores = expected.scores(records)
    assert by_key(
        cli.sql(f"select * from {marts}mart_exam_scores"),
        "base_exam_id",
        list(next(iter(scores.values()))),
    ) == approx(scores)
    difficulty = expected.question_difficulty(records)
    assert by_key(
        cli.sql(f"select * from {marts}mart_question_difficulty"),
        "question_key",
        ["times_asked", "correct_answers", "correct_rate"],
    ) == approx(difficulty)
    assert by_key(
        cli.sql(f"select * from {marts}mart_option_choices"),
        ("question_key", "option_id"),
        ["times_shown", "times_checked", "is_correct_option"],
    ) == expected.option_choices(records)
    hourly = cli.sql(f"select * from {marts}mart_activity_hourly")
    assert {
        r["hour_of_day_utc"]: r["distinct_attempts"] for r in hourly
    } == expected.activity_hourly(records)
    daily = cli.sql(f"select * from {marts}mart_activity_daily")
    assert {r["activity_date"]: r["distinct_attempts"] for r in daily} == expected.activity_daily(
        records
    )
    timings = expected.durations(records)
    assert by_key(
        cli.sql(f"select * from {marts}mart_attempt_durations"),
        "base_exam_id",
        list(next(iter(timings.values()))),
    ) == approx(timings)
    stg = cli.sql(
        "select count(*) as n, sum(cast(is_test_record as int)) as tests "
        "from staging.stg_assessments__attempts"
    )[0]
    assert stg["n"] == len({r["keen_id"] for r in records})
    assert stg["tests"] == len(
        {r["keen_id"] for r in records if r["base_exam_id"] == expected.TEST_EXAM}
    )


@pytest.fixture(scope="module")
def generated(cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "attempts.json"
    cli.run("generate", "--count", "700", "--seed", "7", "--output", str(path))
    return path


def test_generated_attempts_reach_the_marts_exactly(cli, generated):
    records = read_records(generated)
    assert len(records) == 700
    out = cli.run("publish", str(generated)).stdout
    assert "published 700 of 700 records" in out
    cli.run("land", "--until-caught-up")
    # Row by row: raw holds exactly what was published, duplicates included.
    assert raw_messages(cli) == published(records)
    assert cli.sql("select count(*) as n from raw.assessment_attempts_quarantine") == [{"n": 0}]
    check_marts(cli, records)


def test_source_freshness_passes_on_a_healthy_stack(cli, generated, tmp_path):
    """Right after landing, with nothing quarantined: the attempts are fresh, and an empty
    quarantine is healthy (it has no freshness check to warn about)."""
    assert cli.sql("select count(*) as n from raw.assessment_attempts_quarantine") == [{"n": 0}]
    cli.dbt("source", "freshness", "--target-path", str(tmp_path))
    results = json.loads((tmp_path / "sources.json").read_text())["results"]
    assert [(r["unique_id"].split(".")[-1], r["status"]) for r in results] == [
        ("assessment_attempts", "pass")
    ]


def test_the_real_sample_reaches_the_marts_exactly(cli, generated):
    if not SAMPLE.exists():
        pytest.skip(f"the 328-record export sample is not at {SAMPLE} (beside the project)")
    records = read_records(generated) + read_records(SAMPLE)
    cli.run("publish", str(SAMPLE))
    cli.run("land", "--until-caught-up")
    assert raw_messages(cli) == published(records)
    check_marts(cli, records)


def test_bad_messages_go_to_quarantine_with_a_reason(cli, tmp_path):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=cli.config.kafka_bootstrap)
    bad = {
        b"not json": "not JSON",
        b"[1,2]": "not an object",
        b"\xff\xfe": "not UTF-8",
        b'{"exam_name": "no id"}': "no keen_id",
    }
    for value in bad:
        producer.send("assessment-attempts", value=value, timestamp_ms=1516717442735).get(30)
    producer.close()
    before = cli.sql("select count(*) as n from raw.assessment_attempts")[0]["n"]
    cli.run("land", "--until-caught-up")
    rows = cli.sql(
        "select error, payload_base64, kafka_date from raw.assessment_attempts_quarantine"
    )
    assert len(rows) == len(bad)
    errors = sorted(r["error"] for r in rows)
    for fragment in bad.values():
        assert sum(fragment in e for e in errors) == 1, (fragment, errors)
    assert {r["kafka_date"] for r in rows} == {"2018-01-23"}
    assert cli.sql("select count(*) as n from raw.assessment_attempts")[0]["n"] == before


def test_sql_prints_every_format(cli):
    statement = "select 1 as a, 'x,y' as b"
    rows = json.loads(cli.run("sql", "--format", "json", statement).stdout)
    assert rows == [{"a": 1, "b": "x,y"}]
    assert cli.run("sql", "--format", "csv", statement).stdout.splitlines() == ["a,b", '1,"x,y"']
    table = cli.run("sql", statement).stdout.splitlines()
    assert table[0].split() == ["a", "b"] and table[2].split() == ["1", "x,y"]


def test_sql_reads_the_statement_from_stdin_and_right_aligns_numbers(cli):
    table = cli.run("sql", "-", stdin="select 7 as n, 'x' as t union all select 1234, 'yy'\n")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["n", "t"]
    assert [line[: len(lines[1].split()[0])] for line in lines[2:]] == ["   7", "1234"]
    same = cli.run("sql", "--format", "csv", "-f", "-", stdin="select 7 as n;")
    assert same.stdout.splitlines() == ["n", "7"]


def test_sql_server_errors_are_the_error_class_and_message(cli):
    result = cli.run("sql", "select * from no_such_table", check=False)
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in line and "`no_such_table`" in line
    assert "org.apache" not in line and "UnresolvedRelation" not in line
    verbose = cli.run("sql", "--verbose", "select * from no_such_table", check=False)
    assert "UnresolvedRelation" in verbose.stderr  # the plan, behind --verbose


def test_dbt_finds_the_server_from_edtracks_port_offset_alone(cli):
    env = {k: v for k, v in cli.env.items() if k not in ("DBT_THRIFT_PORT", "DBT_TARGET")}
    env["EDTRACK_PORT_OFFSET"] = str(cli.config.ports["kafka"] - 9092)
    result = subprocess.run(
        [str(BIN / "dbt"), "debug"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"port: {cli.config.ports['thrift']}" in result.stdout


QUERIES = catalogue()


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_every_catalogue_query_answers_over_thrift(cli, query):
    assert query.question.endswith("?"), "each query states the client's question"
    rows = json.loads(cli.run("sql", "--format", "json", "-f", str(query.path)).stdout)
    assert rows, f"{query.name} returned no rows"
    assert None not in rows[0].values(), rows[0]
