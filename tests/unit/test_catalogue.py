"""The client query catalogue (``queries/``): what every query states and reads, and the
sentences a missing or unlabelled query ends with."""

from __future__ import annotations

import re

import pytest

from core import project
from core.errors import UserError

QUERIES = project.catalogue()


def test_the_catalogue_is_every_file_of_queries_by_name():
    assert [q.name for q in QUERIES] == sorted(p.stem for p in project.QUERIES.glob("*.sql"))
    assert {"most_taken_exams", "hardest_questions", "test_records"} <= {q.name for q in QUERIES}


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_each_query_asks_a_question_and_reads_only_the_marts(query):
    assert query.question.endswith("?") and "--" not in query.question
    assert query.text == query.path.read_text().strip().rstrip(";")
    tables = re.findall(r"\b(?:from|join)\s+([\w.]+)", query.text)
    assert tables, query.text
    # A name without a schema is a common table expression of the same query.
    assert all(t.startswith("marts.") or "." not in t for t in tables), tables


def test_a_query_that_is_not_there_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setattr(project, "QUERIES", tmp_path)
    with pytest.raises(UserError, match=r"no_such\.sql is missing: the query catalogue is"):
        project.catalogue_query("no_such")


def test_a_query_without_its_question_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setattr(project, "QUERIES", tmp_path)
    (tmp_path / "bare.sql").write_text("select 1\n")
    with pytest.raises(UserError, match=r"bare\.sql does not start with '-- question: \.\.\.'"):
        project.catalogue()
    (tmp_path / "bare.sql").write_text("-- question: One?\nselect 1;\n")
    assert project.catalogue() == [project.Query("bare", "One?", "-- question: One?\nselect 1")]
