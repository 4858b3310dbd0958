"""Docs: descriptions reach the metastore, and `dbt docs generate` builds the catalog.

Runs after test_pipeline (file order), on the tables it built.
"""

import json

from core.project import PROJECT_ROOT


def test_column_descriptions_are_visible_in_describe(cli):
    rows = cli.sql("describe table marts.mart_exam_scores")
    comments = {r["col_name"]: r["comment"] for r in rows if r["col_name"]}
    assert comments["mean_score"] == "Mean over attempts of correct / total (0-1)."
    assert comments["pooled_score"].startswith("Sum of correct over sum of total")
    staged = {
        r["col_name"]: r["comment"]
        for r in cli.sql("describe table staging.stg_assessments__attempts")
    }
    assert staged["attempt_id"].startswith("The attempt's keen_id")


def test_table_description_is_visible_in_describe_extended(cli):
    rows = cli.sql("describe table extended marts.mart_exam_popularity")
    comment = next(r["data_type"] for r in rows if r["col_name"] == "Comment")
    assert comment.startswith("Grain: one row per exam (base_exam_id).")


def test_dbt_docs_generate_describes_every_model_and_column(cli):
    cli.dbt("docs", "generate")
    manifest = json.loads((PROJECT_ROOT / "target" / "manifest.json").read_text())
    catalog = json.loads((PROJECT_ROOT / "target" / "catalog.json").read_text())
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    assert len(models) >= 12
    undocumented = [k for k, v in models.items() if not v["description"].strip()]
    assert undocumented == []
    missing_columns = []
    for key, node in catalog["nodes"].items():
        if key not in models:
            continue
        documented = {
            name.lower() for name, c in models[key]["columns"].items() if c["description"].strip()
        }
        missing_columns += [f"{key}.{c}" for c in node["columns"] if c.lower() not in documented]
    assert missing_columns == []
