"""The consistency rules as a dbt data test: pass on real rows, fail on crafted bad rows.

The test's compiled SQL runs over temporary views that hold the staging and flattened
rows with one attempt altered, so the exact SQL that `dbt test` runs is what is judged.
"""

from __future__ import annotations

import re

import pytest

from core import sql
from core.project import PROJECT_ROOT

TEST = "assert_attempt_counts_consistent"
COUNTS = (
    "counts_total",
    "counts_correct",
    "counts_incorrect",
    "counts_incomplete",
    "counts_unanswered",
    "counts_submitted",
    "counts_all_correct",
)


@pytest.fixture(scope="module")
def compiled(cli) -> str:
    cli.dbt("compile", "--select", TEST)
    path = next((PROJECT_ROOT / "target" / "compiled").rglob(f"{TEST}.sql"))
    return path.read_text()


def point_at(compiled: str, attempts_view: str, questions_view: str) -> str:
    out = re.sub(r"`?staging`?\.`?stg_assessments__attempts`?", attempts_view, compiled)
    return re.sub(r"`?flattened`?\.`?flat_assessments__attempt_questions`?", questions_view, out)


@pytest.mark.parametrize(
    ("change", "question_filter", "rule"),
    [
        pytest.param(
            "counts_total + 1 as counts_total",
            "",
            "total != number of questions",
            id="total-off-by-one",
        ),
        pytest.param(
            "counts_correct + 1 as counts_correct",
            "",
            "correct != questions answered",
            id="correct-off-by-one",
        ),
        pytest.param(
            "counts_submitted - 1 as counts_submitted",
            "",
            "submitted != questions submitted",
            id="submitted-off-by-one",
        ),
        pytest.param(
            "not counts_all_correct as counts_all_correct",
            "",
            "all_correct != (correct = total)",
            id="all-correct-flipped",
        ),
        pytest.param(
            "counts_unanswered + 1 as counts_unanswered",
            "",
            "results do not sum to total",
            id="results-do-not-sum",
        ),
        pytest.param(
            None, "question_position > 1", "total != number of questions", id="question-missing"
        ),
    ],
)
def test_consistency_rules_catch_a_crafted_bad_attempt(
    cli, compiled, change, question_filter, rule
):
    # Runs after test_pipeline has landed and built real rows (file order).
    conn = sql.connect(cli.config.host, cli.config.ports["thrift"])
    try:
        victim = sql.run(
            conn,
            "select attempt_id from staging.stg_assessments__attempts "
            "where has_counts and counts_total > 1 and built_at = "
            "(select max(built_at) from staging.stg_assessments__attempts) "
            "order by attempt_id limit 1",
        ).rows[0][0]
        columns = ", ".join(
            f"if(attempt_id = %(victim)s, {change.split(' as ')[0]}, {c}) as {c}"
            if change and change.endswith(f" as {c}")
            else c
            for c in COUNTS
        )
        sql.run(
            conn,
            "create or replace temporary view crafted_attempts as select "
            f"attempt_id, has_counts, built_at, kafka_date, {columns} "
            "from staging.stg_assessments__attempts",
            {"victim": victim},
        )
        drop = f"not (attempt_id = %(victim)s and {question_filter})" if question_filter else "true"
        sql.run(
            conn,
            "create or replace temporary view crafted_questions as "
            "select * from flattened.flat_assessments__attempt_questions "
            f"where {drop}",
            {"victim": victim},
        )
        real = sql.run(
            conn,
            point_at(
                compiled,
                "staging.stg_assessments__attempts",
                "flattened.flat_assessments__attempt_questions",
            ),
        )
        crafted = sql.run(conn, point_at(compiled, "crafted_attempts", "crafted_questions"))
    finally:
        conn.close()
    assert real.rows == []
    broken = {(r["attempt_id"], r["broken_rule"]) for r in crafted.records()}
    assert {attempt for attempt, _ in broken} == {victim}
    assert any(text.startswith(rule) for _, text in broken), broken
