"""dbt_project.yml's configs reach the nodes they are meant for, as dbt parses them
(`dbt ls`: parsing only, no connection)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.project import PROJECT_ROOT

DBT = Path(sys.executable).parent / "dbt"


@pytest.fixture(scope="module")
def listed(tmp_path_factory) -> tuple[list[dict], str]:
    tmp = tmp_path_factory.mktemp("dbt-ls")
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
        # Its own target and logs: the project's target/ may belong to a running build.
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
    }
    result = subprocess.run(
        [str(DBT), "ls", "--resource-type", "test", "--resource-type", "model"]
        + ["--resource-type", "seed"]
        + ["--output", "json", "--output-keys", "name resource_type fqn config depends_on"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    nodes = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return nodes, result.stdout


def test_every_config_path_applies_to_something(listed):
    # dbt only warns about a path that matches no node: the config is silently lost.
    _, output = listed
    assert "do not apply to any resources" not in output, output


def test_the_flattened_tables_tests_check_the_latest_build(listed):
    nodes, _ = listed
    flattened = [
        node
        for node in nodes
        if node["resource_type"] == "test"
        and any(".flat_assessments__" in n for n in node["depends_on"]["nodes"])
        and node["name"] != "assert_attempt_counts_consistent"  # its own filters
    ]
    assert len(flattened) == 11
    unscoped = [n["name"] for n in flattened if n["config"].get("where") != "__latest_build__"]
    assert unscoped == []


def test_the_test_records_exam_id_is_declared_once_as_a_dbt_var():
    from core.project import exam_id_of_test_records
    from ingestion.generate import generate

    exam_id = exam_id_of_test_records()
    assert exam_id  # the var is set in dbt_project.yml
    literal = f"'{exam_id}'"
    models = sorted((PROJECT_ROOT / "warehouse").rglob("*.sql"))
    assert models and not [m.name for m in models if literal in m.read_text()]
    staging = PROJECT_ROOT / "warehouse/models/staging/assessments/stg_assessments__attempts.sql"
    assert 'var("test_exam_id")' in staging.read_text()
    assert exam_id in {r["base_exam_id"] for r in generate(400, seed=1)}


def test_every_model_is_described_beside_it_with_its_unit_tests():
    import yaml

    models = PROJECT_ROOT / "warehouse" / "models"
    sql_files = sorted(models.rglob("*.sql"))
    assert len(sql_files) >= 12
    for model in sql_files:
        properties = yaml.safe_load(model.with_suffix(".yml").read_text())
        assert [m["name"] for m in properties["models"]] == [model.stem], model.name
        for unit_test in properties.get("unit_tests", []):
            assert unit_test["model"] == model.stem, unit_test["name"]
    others = {p.name for p in models.rglob("*.yml")} - {
        p.with_suffix(".yml").name for p in sql_files
    }
    assert others == {"_assessments__sources.yml"}  # sources are declared per source system


def test_the_models_of_a_folder_are_the_ones_dbt_finds_there(listed):
    from core.project import models

    nodes, _ = listed
    for folder in ("staging", "flattened", "marts", "shared"):
        found = sorted(
            n["name"] for n in nodes if n["resource_type"] == "model" and n["fqn"][1] == folder
        )
        assert models(folder) == found and len(found) >= 2


def properties(model: str) -> dict:
    import yaml

    (path,) = (PROJECT_ROOT / "warehouse" / "models").rglob(f"{model}.yml")
    return yaml.safe_load(path.read_text())["models"][0]


def columns(model: str) -> dict[str, dict]:
    """A model's documented columns, descriptions with their spaces and folds evened out."""
    return {
        c["name"]: {**c, "description": " ".join(c["description"].split())}
        for c in properties(model)["columns"]
    }


def client_marts() -> list[str]:
    """The marts clients query."""
    from core.project import models

    return models("marts")


def test_every_client_mart_has_a_table_of_its_name_in_schema_shared(listed):
    nodes, _ = listed
    shared = [n for n in nodes if n["resource_type"] == "model" and n["fqn"][1] == "shared"]
    assert sorted(n["config"]["alias"] for n in shared) == client_marts()
    assert len(shared) == 9
    for node in shared:
        config = node["config"]
        assert config["schema"] == "shared" and config["materialized"] == "incremental"
        # Recomputed whole: ownership may change between runs.
        assert config["incremental_strategy"] == "insert_overwrite"
        assert not config.get("partition_by")
        assert node["name"] == f"shared_{config['alias']}"


def test_the_ownership_seeds_are_in_schema_reference(listed):
    nodes, _ = listed
    seeds = {n["name"]: n["config"] for n in nodes if n["resource_type"] == "seed"}
    assert sorted(seeds) == ["customers", "exam_owners"]
    assert {config["schema"] for config in seeds.values()} == {"reference"}


@pytest.mark.parametrize("mart", client_marts())
def test_a_shared_table_has_customer_id_then_the_marts_columns_described_as_there(mart):
    """Same names as the mart, customer_id first; a column keeps the mart's description
    unless it is recomputed per customer (meta per_customer)."""
    table = columns(f"shared_{mart}")
    assert list(table) == ["customer_id", *columns(mart)]
    for name, column in table.items():
        if name != "customer_id" and not column.get("meta", {}).get("per_customer"):
            assert column["description"] == columns(mart)[name]["description"], name
