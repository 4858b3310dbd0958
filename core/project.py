"""Where the project is, the facts of its dbt project that the Python side shares (read
from ``dbt_project.yml``, never repeated in code), and the client query catalogue
(``queries/``), which the demo, the report, the benchmarks and the tests all run."""

from __future__ import annotations

import functools
from dataclasses import dataclass
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


QUERIES = PROJECT_ROOT / "queries"
QUESTION = "-- question:"


@dataclass(frozen=True)
class Query:
    """One query of the client catalogue (``queries/<name>.sql``): plain SQL a client
    runs as it is (``edtrack sql -f``, beeline, PyHive), with its question on the first
    line."""

    name: str
    question: str
    text: str

    @property
    def path(self) -> Path:
        return QUERIES / f"{self.name}.sql"


def catalogue_query(name: str) -> Query:
    """The catalogue's query ``name``; one sentence when it is not there."""
    path = QUERIES / f"{name}.sql"
    if not path.is_file():
        raise UserError(f"{path} is missing: the query catalogue is queries/*.sql in the clone.")
    text = path.read_text()
    first = text.splitlines()[0] if text else ""
    if not first.startswith(QUESTION):
        raise UserError(f"{path} does not start with '{QUESTION} ...': state its question.")
    return Query(name, first.removeprefix(QUESTION).strip(), text.strip().rstrip(";"))


def catalogue() -> list[Query]:
    """Every query of the catalogue, by name."""
    return [catalogue_query(path.stem) for path in sorted(QUERIES.glob("*.sql"))]
