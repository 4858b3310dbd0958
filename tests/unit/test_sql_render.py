import datetime as dt
import decimal
import json
import re

import pytest

from edtrack import sql
from edtrack.errors import UserError
from edtrack.sql import Result, render

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


def test_table_shows_nulls_and_aligns_columns():
    lines = render(RESULT, "table").splitlines()
    assert lines[0].split() == ["exam", "attempts", "mean_score", "first_at"]
    assert "NULL" in lines[3]
    assert lines[2].index("38") == lines[0].index("attempts") == lines[3].index("7 ")


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
