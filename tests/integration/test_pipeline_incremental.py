"""Incremental builds: new data rebuilds only its partitions; --full-refresh agrees.

Lands its own data; after test_pipeline (file order) it adds to the data landed there.
"""

from __future__ import annotations

import datetime as dt
import re

from core import sql
from core.project import exam_id_of_test_records, models
from ingestion.generate import generate, write

# Every model, layer by layer (staging, flattened, marts), as the dbt project has them.
MODELS = tuple(
    f"{layer}.{model}" for layer in ("staging", "flattened", "marts") for model in models(layer)
)

STG = "staging.stg_assessments__attempts"
QUESTIONS = "flattened.flat_assessments__attempt_questions"
OPTIONS = "flattened.flat_assessments__attempt_question_options"
# The marts merged on their key: (mart, its key column, the upstream model and the
# expression of its rows that a run recomputes the mart's rows by).
MERGED = (
    ("marts.mart_exam_scores", "base_exam_id", STG, "base_exam_id"),
    ("marts.mart_attempt_durations", "base_exam_id", STG, "base_exam_id"),
    ("marts.mart_question_difficulty", "base_exam_id", QUESTIONS, "base_exam_id"),
    ("marts.mart_option_choices", "question_key", OPTIONS, "question_key"),
)


def checksums(cli, models=MODELS) -> dict[str, tuple[int, int]]:
    """Row count and a hash of every row, per model (fingerprint_query: doubles cast
    to float, as sums and averages differ between an incremental and a full build in
    their last bits). built_at, when dbt wrote the row, differs by design: left out."""
    out = {}
    for model in models:
        described = [(c["col_name"], c["data_type"]) for c in cli.sql(f"describe table {model}")]
        row = cli.sql(sql.fingerprint_query(model, described, {"built_at"}))[0]
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
    new = [r for r in generate(60, seed=99) if r["base_exam_id"] != exam_id_of_test_records()]
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
    for model in (STG, QUESTIONS, OPTIONS):
        latest = cli.sql(
            f"select distinct cast(kafka_date as string) as d from {model} "
            f"where built_at = (select max(built_at) from {model})"
        )
        assert {r["d"] for r in latest} == new_dates, model
        # latest_build finds the same partitions from the file listing.
        assert latest_build(cli, model) == new_dates, model
    # The merged marts recomputed exactly the keys with rows in the rebuilt partitions.
    dates = ", ".join(f"'{d}'" for d in sorted(new_dates))
    for mart, key, upstream, upstream_key in MERGED:
        touched = {
            r["k"]
            for r in cli.sql(
                f"select distinct {upstream_key} as k from {upstream} "
                f"where kafka_date in ({dates}) and not is_test_record"
            )
        }
        rows = cli.sql(
            f"select {key} as k, built_at = (select max(built_at) from {mart}) as rebuilt "
            f"from {mart}"
        )
        assert {r["k"] for r in rows if r["rebuilt"]} == touched & {r["k"] for r in rows}, mart
        assert not all(r["rebuilt"] for r in rows), f"{mart}: every row recomputed"
    stg_after = cli.sql("select count(*) as n from staging.stg_assessments__attempts")[0]["n"]
    assert stg_after - stg_before == len({r["keen_id"] for r in new})

    cli.dbt("run")  # a rerun with nothing new changes nothing
    assert loaded_at(cli) == after
    incremental = checksums(cli)

    cli.dbt("run", "--full-refresh")
    assert checksums(cli) == incremental


def table_format(cli, model: str) -> str:
    """iceberg or parquet, as the metastore records the table."""
    described = {r["col_name"]: r["data_type"] for r in cli.sql(f"describe table extended {model}")}
    properties = described.get("Table Properties", "")  # a parquet table may have none
    return "iceberg" if "table_type=ICEBERG" in properties else described["Provider"]


def test_an_incremental_model_of_another_format_is_converted_to_iceberg_once(cli):
    model = "staging.stg_assessments__attempts"
    before = checksums(cli, [model])[model]
    select = ("--select", model.split(".")[1])
    cli.dbt("run", *select, "--full-refresh", "--vars", "{file_format: parquet}")
    assert table_format(cli, model) == "parquet"  # as a warehouse built before Iceberg

    converting = cli.dbt("run", *select)  # no --full-refresh: the format alone decides
    assert table_format(cli, model) == "iceberg"
    assert f"{model} is not an Iceberg table yet" in converting.stdout
    assert checksums(cli, [model])[model] == before

    history = f"select snapshot_id from {model}.snapshots order by committed_at"
    created = cli.sql(history)[0]
    again = cli.dbt("run", *select)  # converted: incremental again, same table
    assert "is not an Iceberg table yet" not in again.stdout
    assert cli.sql(history)[0] == created
    assert checksums(cli, [model])[model] == before


def test_a_table_keeps_only_its_last_eleven_metadata_versions(cli):
    """dbt_project.yml's tblproperties: every commit writes a metadata.json, and Iceberg
    deletes the oldest beyond the current one and 10 before it (without them, every
    build would add one for good, maintain or not)."""
    from hdfs_native import Client

    for model in MODELS:
        properties = {r["key"]: r["value"] for r in cli.sql(f"show tblproperties {model}")}
        assert properties.get("write.metadata.delete-after-commit.enabled") == "true", model
        assert properties.get("write.metadata.previous-versions-max") == "10", model

    mart = "marts.mart_activity_hourly"
    before = checksums(cli, [mart])
    for _ in range(12):  # 12 more commits, each the same rows
        cli.sql(f"insert overwrite {mart} select * from {mart}")
    described = {r["col_name"]: r["data_type"] for r in cli.sql(f"describe table extended {mart}")}
    folder = described["Location"].split(cli.config.hdfs_url, 1)[1]
    hdfs = Client(cli.config.hdfs_url)
    versions = [
        s.path for s in hdfs.list_status(f"{folder}/metadata") if s.path.endswith(".metadata.json")
    ]
    assert len(versions) == 11, versions
    assert cli.sql(f"select count(*) as n from {mart}.snapshots")[0]["n"] >= 13  # all kept
    assert checksums(cli, [mart]) == before
