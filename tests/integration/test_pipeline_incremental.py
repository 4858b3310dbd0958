"""Incremental builds: new data rebuilds only its partitions; --full-refresh agrees.

Lands its own data; after test_pipeline (file order) it adds to the data landed there.
"""

from __future__ import annotations

import datetime as dt
import re

from ingestion.generate import generate, write
from tests.reliability.warehouse import fingerprint_query

MODELS = (
    "staging.stg_assessments__attempts",
    "flattened.flat_assessments__attempt_questions",
    "flattened.flat_assessments__attempt_question_options",
    "marts.mart_exam_popularity",
    "marts.mart_exam_scores",
    "marts.mart_question_difficulty",
    "marts.mart_option_choices",
    "marts.mart_activity_daily",
    "marts.mart_activity_hourly",
    "marts.dim_exams",
    "marts.mart_attempt_durations",
)


def checksums(cli) -> dict[str, tuple[int, int]]:
    """Row count and a hash of every row, per model (fingerprint_query: doubles cast
    to float, as sums and averages differ between an incremental and a full build in
    their last bits). built_at, when dbt wrote the row, differs by design: left out."""
    out = {}
    for model in MODELS:
        described = [(c["col_name"], c["data_type"]) for c in cli.sql(f"describe table {model}")]
        row = cli.sql(fingerprint_query(model, described, {"built_at"}))[0]
        out[model] = (row["n"], row["h"])
    return out


def loaded_at(cli) -> dict[str, str]:
    rows = cli.sql(
        "select kafka_date, max(partition_loaded_at) as t "
        "from staging.stg_assessments__attempts group by kafka_date"
    )
    return {r["kafka_date"]: r["t"] for r in rows}


def latest_build(cli, model: str) -> set[str]:
    """The dates in the filter the latest_build macro gives for `model`, compiled
    with no margin for a difference between the file system's and Spark's clocks."""
    name = model.split(".")[1]
    compiled = cli.dbt(
        "compile",
        "--quiet",
        "--vars",
        "{latest_build_margin_s: 0}",
        "--inline",
        f"select * from {{{{ ref('{name}') }}}} where {{{{ latest_build(ref('{name}')) }}}}",
    ).stdout
    assert "kafka_date in (" in compiled, compiled
    return set(re.findall(r"'(\d{4}-\d\d-\d\d)'", compiled))


def land(cli, records: list[dict], path) -> None:
    write(iter(records), path)
    cli.run("publish", str(path))
    cli.run("land", "--until-caught-up")


def test_new_data_rebuilds_only_its_partitions_and_full_refresh_agrees(cli, tmp_path):
    land(cli, list(generate(300, seed=98)), tmp_path / "base.jsonl")
    cli.dbt("build")  # whatever ran before, start from a complete incremental state
    before = loaded_at(cli)
    stg_before = cli.sql("select count(*) as n from staging.stg_assessments__attempts")[0]["n"]
    new = [r for r in generate(60, seed=99) if r["base_exam_id"] != "example-id"]
    land(cli, new, tmp_path / "late.jsonl")

    cli.dbt("run")
    after = loaded_at(cli)
    new_dates = {
        dt.datetime.fromtimestamp(int(float(r["keen_timestamp"]) * 1000) / 1000, tz=dt.UTC)
        .date()
        .isoformat()
        for r in new
    }
    changed = {d for d in after if after[d] != before.get(d)}
    assert changed == new_dates
    # The scoped data tests (__latest_build__) see exactly the rebuilt partitions.
    for model in MODELS[:3]:
        latest = cli.sql(
            f"select distinct cast(kafka_date as string) as d from {model} "
            f"where built_at = (select max(built_at) from {model})"
        )
        assert {r["d"] for r in latest} == new_dates, model
        # latest_build finds the same partitions from the file listing.
        assert latest_build(cli, model) == new_dates, model
    stg_after = cli.sql("select count(*) as n from staging.stg_assessments__attempts")[0]["n"]
    assert stg_after - stg_before == len({r["keen_id"] for r in new})

    cli.dbt("run")  # a rerun with nothing new changes nothing
    assert loaded_at(cli) == after
    incremental = checksums(cli)

    cli.dbt("run", "--full-refresh")
    assert checksums(cli) == incremental
