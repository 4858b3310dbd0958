import datetime as dt
import decimal
import json
import re

import pytest

from core import sql
from core.errors import UserError
from core.sql import Result, render

RESULT = Result(
    ["exam", "attempts", "mean_score", "first_at"],
    [
        ("Learning Git", 38, decimal.Decimal("0.75"), dt.datetime(2018, 1, 23, 14, 24, 2)),
        ('Intro, "quoted"', 7, None, None),
    ],
)


def test_json_is_a_list_of_row_objects_with_plain_values():
    rows = json.loads(render(RESULT, "json"))
    assert rows == [
        {
            "exam": "Learning Git",
            "attempts": 38,
            "mean_score": 0.75,
            "first_at": "2018-01-23T14:24:02",
        },
        {"exam": 'Intro, "quoted"', "attempts": 7, "mean_score": None, "first_at": None},
    ]


def test_csv_has_a_header_and_quotes_where_needed():
    lines = render(RESULT, "csv").splitlines()
    assert lines[0] == "exam,attempts,mean_score,first_at"
    assert lines[1] == "Learning Git,38,0.75,2018-01-23 14:24:02"
    assert lines[2] == '"Intro, ""quoted""",7,,'


def test_table_shows_nulls_and_right_aligns_numbers():
    lines = render(RESULT, "table").splitlines()
    assert lines[0].split() == ["exam", "attempts", "mean_score", "first_at"]
    assert "NULL" in lines[3]
    # Numbers end under the end of their header; text starts under its start.
    header_end = lines[0].index("attempts") + len("attempts")
    assert lines[2].index("38") + 2 == header_end == lines[3].index("7 ") + 1
    assert lines[2].index("0.75") + 4 == lines[0].index("mean_score") + len("mean_score")
    assert lines[2].index("Learning") == lines[0].index("exam") == 0
    assert lines[2].index("2018") == lines[0].index("first_at")


def test_unknown_format_is_a_clear_error():
    with pytest.raises(UserError, match="choose one of table, csv, json"):
        render(RESULT, "xml")


class _Cursor:
    """A PyHive cursor whose statement the server ended with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def execute(self, statement, parameters=None):
        raise self.error

    def close(self):
        pass


class _Connection:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def cursor(self):
        return _Cursor(self.error)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            "Expected state FINISHED, but found TIMEDOUT",
            "ran longer than the statement timeout",
            id="server-timeout",
        ),
        pytest.param(
            "[TABLE_OR_VIEW_NOT_FOUND] nope",
            "The query failed: [TABLE_OR_VIEW_NOT_FOUND]",
            id="other",
        ),
    ],
)
def test_server_errors_are_one_sentence(message, expected):
    from pyhive.exc import OperationalError

    with pytest.raises(UserError, match=re.escape(expected)):
        sql.run(_Connection(OperationalError(message)), "select 1")


# What the Spark Thrift Server said (Spark 3.5.9), shortened where it repeats itself.
NOT_FOUND = """Error running query: [TABLE_OR_VIEW_NOT_FOUND] \
org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` \
cannot be found. Verify the spelling and correctness of the schema and catalog.
If you did not qualify the name with a schema, verify the current_schema() output.; line 1 pos 14;
'Project [*]
+- 'UnresolvedRelation [nope], [], false
"""
PARSE = """Error running query: [PARSE_SYNTAX_ERROR] \
org.apache.spark.sql.catalyst.parser.ParseException:\x20
[PARSE_SYNTAX_ERROR] Syntax error at or near end of input.(line 1, pos 10)

== SQL ==
select 1 +
----------^^^
"""
TASK_FAILED = """Error running query: org.apache.spark.SparkException: Job aborted due to \
stage failure: Task 0 in stage 29.0 failed 1 times, most recent failure: Lost task 0.0 in \
stage 29.0 (TID 36) (localhost executor driver): java.lang.RuntimeException: custom boom
\tat org.apache.spark.sql.catalyst.expressions.GeneratedClass.processNext(Unknown Source)
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            NOT_FOUND,
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found. Verify the "
            "spelling and correctness of the schema and catalog. (line 1 pos 14)",
            id="error-class-with-plan",
        ),
        pytest.param(
            PARSE,
            "[PARSE_SYNTAX_ERROR] Syntax error at or near end of input.(line 1, pos 10)",
            id="parse-error-with-sql",
        ),
        pytest.param(TASK_FAILED, "RuntimeException: custom boom", id="task-failure"),
        pytest.param("Expected state FINISHED, but found ERROR", None, id="no-java-class"),
    ],
)
def test_server_errors_keep_the_class_and_message_only(text, expected):
    reduced = sql.server_error(text)
    assert reduced == (expected or text)
    assert "org.apache" not in reduced and "Project" not in reduced


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("columns", [[], ["Result"]], ids=["no-columns", "a-column-no-rows"])
def test_a_statement_without_rows_renders_in_every_format(fmt, columns):
    # DDL (create, drop, insert) answers with no rows, and no columns or one.
    assert render(Result(columns, []), fmt).replace("Result", "").strip("-\n ") in ("", "[]")
