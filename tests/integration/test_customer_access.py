"""Per-customer access, enforced by the Thrift Server, against the real services.

One private stack with LDAP logins for this module (``stack up --auth ldap``, the test
offset + 900), stopped at the end. The warehouse is built from generated attempts with
the generator's default seed, so the committed ``exam_owners`` seed owns their exams.
Two customers' logins (northwind, bluebird), an analyst and a login in no group:

* each customer reads, through the views of ``shared``, exactly its own exams' answers
  (equal to the plain-Python answers over its exams' records alone), whatever it filters;
* every other way to reach data is refused with one clear message: other schemas'
  tables, files by path, subqueries and CTEs, new views, listings of other schemas'
  tables and columns (statements and the protocol's metadata calls), ...;
* the analyst and dbt read everything; a grant follows group membership at once.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from pyhive import hive
from TCLIService import ttypes

from core.project import exam_id_of_test_records
from ingestion.generate import generate, owner_of, write
from stack.secrets_file import password

from . import expected
from .conftest import Cli, private_stack

pytestmark = pytest.mark.integration
ACCESS_OFFSET_SHIFT = 900  # beside the suite's main stack: no default ports differ by 900
CUSTOMERS = ("northwind", "bluebird")
RECORDS = 900


@pytest.fixture(scope="module")
def access_stack():
    with private_stack("access stack", ACCESS_OFFSET_SHIFT, auth="ldap") as launcher:
        yield launcher


@pytest.fixture(scope="module")
def cli(access_stack) -> Cli:
    """``edtrack`` and dbt logged in as the seeded user, one of the analysts."""
    runner = Cli(access_stack.config)
    runner.env["EDTRACK_USER"] = access_stack.config.ldap_user
    runner.env["EDTRACK_PASSWORD"] = password(access_stack.config.ldap_password_file)
    return runner


@pytest.fixture(scope="module")
def records(cli, tmp_path_factory) -> list[dict]:
    """The warehouse, built by dbt as the analyst from attempts of the default seed."""
    records = list(generate(RECORDS, days=20))
    export = tmp_path_factory.mktemp("access") / "export.jsonl"
    write(iter(records), export)
    cli.run("publish", str(export))
    cli.run("land", "--until-caught-up")
    cli.dbt("build")
    return records


@pytest.fixture(scope="module")
def logins(cli, records) -> dict[str, str]:
    """user -> password: one login per customer, an analyst, and one in no group."""
    made = {}
    for user, group in (
        ("nw-reader", ["--customer", "northwind"]),
        ("bb-reader", ["--customer", "bluebird"]),
        ("analyst", ["--analyst"]),
        ("stranger", ["--customer", "meridian"]),
    ):
        made[user] = cli.run("users", "add", user, *group).stdout.strip()
    cli.run("users", "remove", "stranger", "--customer", "meridian")
    return made


def connect(access_stack, logins, user: str):
    config = access_stack.config
    return hive.connect(
        host=config.host,
        port=config.ports["thrift"],
        username=user,
        password=logins[user],
        auth="LDAP",
    )


def query(conn, statement: str) -> list[tuple]:
    cursor = conn.cursor()
    cursor.execute(statement)
    return cursor.fetchall()


def refusal(conn, statement: str) -> str:
    """The server's message for a refused statement (fails the test if it ran)."""
    cursor = conn.cursor()
    with pytest.raises(Exception) as caught:
        cursor.execute(statement)
        cursor.fetchall()
    # The server's message, up to the position HiveServer2 appends (":26:25").
    found = re.search(r"Access denied: .*?(?=:\d+:\d+|$)", str(caught.value), re.MULTILINE)
    assert found, f"{statement!r} failed, but not as refused: {str(caught.value)[:600]}"
    return found.group(0)


def own_records(records: list[dict], customer: str) -> list[dict]:
    return [r for r in records if owner_of(r["base_exam_id"]) == customer]


@pytest.fixture(scope="module")
def northwind(access_stack, logins):
    conn = connect(access_stack, logins, "nw-reader")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def analyst(access_stack, logins):
    conn = connect(access_stack, logins, "analyst")
    yield conn
    conn.close()


# --- what a customer reads ------------------------------------------------------------------

SHARED_VIEWS = (
    "dim_exams",
    "dim_exam_names",
    "mart_exam_popularity",
    "mart_exam_scores",
    "mart_attempt_durations",
    "mart_question_difficulty",
    "mart_option_choices",
    "mart_activity_daily",
    "mart_activity_hourly",
)


@pytest.mark.parametrize("customer", CUSTOMERS)
@pytest.mark.parametrize("view", SHARED_VIEWS)
def test_a_customer_reads_its_own_rows_of_every_shared_view(
    access_stack, logins, analyst, customer, view
):
    user = {"northwind": "nw-reader", "bluebird": "bb-reader"}[customer]
    conn = connect(access_stack, logins, user)
    try:
        mine = sorted(query(conn, f"select * from shared.{view}"), key=repr)
    finally:
        conn.close()
    theirs = sorted(
        query(analyst, f"select * from shared.{view} where customer_id = '{customer}'"), key=repr
    )
    assert mine == theirs
    assert mine, f"shared.{view} has no rows for {customer}"
    assert {row[0] for row in mine} == {customer}


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_a_customers_popularity_is_the_plain_python_answer_over_its_exams_alone(
    access_stack, logins, records, customer
):
    user = {"northwind": "nw-reader", "bluebird": "bb-reader"}[customer]
    conn = connect(access_stack, logins, user)
    try:
        rows = query(
            conn,
            "select base_exam_id, distinct_attempts, attempt_rows, popularity_rank "
            "from shared.mart_exam_popularity",
        )
    finally:
        conn.close()
    want = expected.popularity(own_records(records, customer))
    assert {r[0]: {"distinct_attempts": r[1], "attempt_rows": r[2]} for r in rows} == want
    # Ranked among its own exams only: 1 is its most taken exam, whatever others' are.
    top = max(v["distinct_attempts"] for v in want.values())
    assert {r[0] for r in rows if r[3] == 1} == {
        e for e, v in want.items() if v["distinct_attempts"] == top
    }


def test_a_customer_filtering_for_another_customer_gets_no_rows(northwind):
    assert query(
        northwind,
        "select count(*) from shared.mart_exam_popularity where customer_id = 'bluebird'",
    ) == [(0,)]
    assert query(
        northwind,
        "select count(*) from shared.mart_exam_popularity where customer_id <> 'northwind'",
    ) == [(0,)]


def test_a_customer_sees_no_unowned_or_test_exam(northwind, records):
    exams = {r[0] for r in query(northwind, "select base_exam_id from shared.dim_exams")}
    assert exams == {
        r["base_exam_id"] for r in records if owner_of(r["base_exam_id"]) == "northwind"
    }
    assert exam_id_of_test_records() not in exams


def test_a_customer_may_list_and_describe_the_shared_views(northwind):
    names = {row[1] for row in query(northwind, "show tables in shared")}
    assert set(SHARED_VIEWS) <= names
    columns = [row[0] for row in query(northwind, "describe shared.mart_exam_popularity")]
    assert columns[:2] == ["customer_id", "base_exam_id"]


# --- what a customer is refused -------------------------------------------------------------

REFUSED = [
    pytest.param(
        "select * from marts.mart_exam_popularity", "marts.mart_exam_popularity", id="mart"
    ),
    pytest.param("select * from staging.stg_assessments__attempts", "staging.", id="staging"),
    pytest.param(
        "select * from flattened.flat_assessments__attempt_questions", "flattened.", id="flattened"
    ),
    pytest.param("select * from raw.assessment_attempts", "raw.assessment_attempts", id="raw"),
    pytest.param("select * from reference.exam_owners", "reference.exam_owners", id="seed"),
    pytest.param(
        "select * from shared.mart_exam_popularity "
        "where base_exam_id in (select base_exam_id from marts.dim_exams)",
        "marts.dim_exams",
        id="subquery",
    ),
    pytest.param(
        "with m as (select * from marts.mart_exam_scores) select * from m",
        "marts.mart_exam_scores",
        id="cte",
    ),
    pytest.param(
        "select (select count(*) from staging.stg_assessments__attempts)",
        "staging.",
        id="scalar-subquery",
    ),
    pytest.param("{raw_files}", "files read by path", id="files-by-path"),
    pytest.param(
        "create view shared.mine as select * from marts.mart_exam_popularity",
        "the command",
        id="create-view",
    ),
    pytest.param(
        "create temporary view mine as select * from marts.mart_exam_popularity",
        "the command",
        id="temp-view",
    ),
    pytest.param(
        "describe marts.mart_exam_popularity",
        "the columns of marts.mart_exam_popularity",
        id="describe-mart",
    ),
    pytest.param(
        "show columns in marts.mart_exam_popularity",
        "the columns of marts.mart_exam_popularity",
        id="show-columns",
    ),
    pytest.param("show tables in marts", "the tables of marts", id="show-tables"),
    pytest.param("explain select * from marts.mart_exam_popularity", "the command", id="explain"),
    pytest.param("cache table shared.mart_exam_popularity", "the command", id="cache"),
    pytest.param(
        "select reflect('java.lang.System', 'getProperty', 'user.name')",
        "the function reflect",
        id="reflect",
    ),
    pytest.param(
        "select input_file_name() from shared.mart_exam_popularity",
        "the function input_file_name",
        id="input-file-name",
    ),
    pytest.param(
        "select * from marts.mart_exam_popularity.snapshots",
        "marts.mart_exam_popularity",
        id="iceberg-metadata",
    ),
]


@pytest.fixture(scope="module")
def raw_location(analyst) -> str:
    rows = query(analyst, "describe formatted raw.assessment_attempts")
    return next(row[1] for row in rows if row[0] == "Location")


@pytest.mark.parametrize(("statement", "names"), REFUSED)
def test_every_other_way_to_data_is_refused(northwind, raw_location, statement, names):
    files = f"select * from json.`{raw_location}`"
    message = refusal(northwind, statement.format(raw_files=files))
    assert message.startswith(
        "Access denied: user 'nw-reader' (customer northwind) may read only schema shared, not "
    ), message
    assert names in message


def metadata(conn, call: str, schema: str | None):
    """The protocol's GetTables / GetColumns (JDBC's DatabaseMetaData): (refusal, rows)."""
    if call == "tables":
        request = ttypes.TGetTablesReq(
            sessionHandle=conn.sessionHandle, schemaName=schema, tableName="%"
        )
        response = conn.client.GetTables(request)
    else:
        request = ttypes.TGetColumnsReq(
            sessionHandle=conn.sessionHandle, schemaName=schema, tableName="%"
        )
        response = conn.client.GetColumns(request)
    if response.status.statusCode == ttypes.TStatusCode.ERROR_STATUS:
        return response.status.errorMessage, []
    cursor = conn.cursor()
    cursor._operationHandle = response.operationHandle
    cursor._state = cursor._STATE_RUNNING
    return None, cursor.fetchall()


@pytest.mark.parametrize("call", ["tables", "columns"])
@pytest.mark.parametrize("schema", ["marts", "staging", "raw", None])
def test_the_protocols_listings_of_other_schemas_are_refused(northwind, call, schema):
    refused, rows = metadata(northwind, call, schema)
    assert rows == []
    assert refused and refused.startswith("Access denied: user 'nw-reader'"), refused


def test_the_protocols_listing_of_the_shared_views_is_allowed(northwind):
    refused, rows = metadata(northwind, "columns", "shared")
    assert refused is None
    assert {(r[1], r[2]) for r in rows if r[3] == "customer_id"} >= {
        ("shared", view) for view in SHARED_VIEWS
    }


def test_a_login_in_no_group_is_refused_from_its_first_statement(access_stack, logins):
    # PyHive's connect runs `USE default`: the refusal comes at once.
    with pytest.raises(Exception) as caught:
        connect(access_stack, logins, "stranger")
    message = str(caught.value)
    assert "Access denied: user 'stranger' is neither an analyst nor a member of a customer" in (
        message
    )
    assert "edtrack users add" in message


def test_edtrack_sql_says_the_refusal_in_one_sentence(cli, logins):
    result = cli.run(
        "sql",
        "select * from marts.dim_exams",
        env={"EDTRACK_USER": "bb-reader", "EDTRACK_PASSWORD": logins["bb-reader"]},
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "Access denied: user 'bb-reader' (customer bluebird)" in lines[0]
    assert "marts.dim_exams" in lines[0]


def test_beeline_as_a_customer_is_refused_a_mart(access_stack, logins):
    from stack.services.base import spark_home

    config = access_stack.config
    result = subprocess.run(
        [
            str(spark_home() / "bin" / "beeline"),
            "-u",
            f"jdbc:hive2://{config.host}:{config.ports['thrift']}/default",
            "-n",
            "nw-reader",
            "-p",
            logins["nw-reader"],
            "-e",
            "select count(*) from marts.mart_exam_scores",
        ],
        env={**os.environ, "SPARK_HOME": str(spark_home())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Access denied: user 'nw-reader' (customer northwind)" in result.stdout + result.stderr


# --- analysts, dbt, and grants that change ---------------------------------------------------


def test_an_analyst_reads_every_schema_and_every_customer(analyst, records):
    popular = query(analyst, "select count(*) from marts.mart_exam_popularity")
    assert popular == [(len(expected.popularity(records)),)]
    customers = {r[0] for r in query(analyst, "select distinct customer_id from shared.dim_exams")}
    assert customers >= set(CUSTOMERS)
    assert query(analyst, "select count(*) from raw.assessment_attempts") == [(RECORDS,)]


def test_dbt_builds_as_an_analyst_with_access_on(cli, records):
    # The fixture's build ran with access on; a second run of one model shows it still can.
    result = cli.dbt("run", "--select", "shared_mart_exam_popularity")
    assert "Completed successfully" in result.stdout


def first_answer(access_stack, logins, user: str, statement: str, refused: bool) -> float:
    """Seconds until the statement is refused (or answered); the server caches a login's
    groups for 5 s."""
    start = time.monotonic()
    while True:
        try:
            conn = connect(access_stack, logins, user)  # a login in no group: refused here
            try:
                conn.cursor().execute(statement)
            finally:
                conn.close()
            answered = True
        except Exception as exc:
            assert "Access denied" in str(exc), str(exc)[:600]
            answered = False
        if answered != refused:
            return time.monotonic() - start
        assert time.monotonic() - start < 30, "the grant did not change within 30 s"
        time.sleep(0.5)


def test_a_grant_follows_group_membership_without_a_restart(cli, access_stack, logins):
    statement = "select count(*) from shared.dim_exams"
    cli.run("users", "remove", "bb-reader", "--customer", "bluebird")
    try:
        assert first_answer(access_stack, logins, "bb-reader", statement, refused=True) < 10
    finally:
        cli.run("users", "add", "bb-reader", "--customer", "bluebird")
    assert first_answer(access_stack, logins, "bb-reader", statement, refused=False) < 10


def test_users_list_shows_each_group_and_its_logins(cli, logins):
    import json

    groups = json.loads(cli.run("users", "list", "--format", "json").stdout)
    assert groups["analysts"] == ["analyst", "edtrack"]
    assert groups["northwind"] == ["nw-reader"]
    assert "bb-reader" in groups["bluebird"]
    assert "meridian" not in groups  # its last login left: the group went with it
