"""Where the project is, and the facts of its dbt project that the Python side shares:
read from ``dbt_project.yml``, never repeated in code."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from core.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT = PROJECT_ROOT / "dbt_project.yml"


@functools.cache
def dbt_vars() -> dict:
    """The project vars of ``dbt_project.yml`` (their defaults: ``--vars`` may override
    them for one dbt run)."""
    if not DBT_PROJECT.is_file():
        raise UserError(
            f"{DBT_PROJECT} is missing: this command needs the project's dbt files; run it "
            "from a clone of the repository."
        )
    return yaml.safe_load(DBT_PROJECT.read_text())["vars"]


def exam_id_of_test_records() -> str:
    """The exam id of development test records, flagged in staging and left out of the
    marts (the dbt var ``test_exam_id``)."""
    return dbt_vars()["test_exam_id"]


def models(folder: str) -> list[str]:
    """The dbt models of a folder of ``warehouse/models`` (``"marts"``), by name: every
    SQL file there is one (dbt's rule; none is disabled), so no list is kept by hand."""
    root = PROJECT_ROOT / "warehouse" / "models" / folder
    return sorted(path.stem for path in root.rglob("*.sql"))
