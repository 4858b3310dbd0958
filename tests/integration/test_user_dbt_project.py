"""A dbt project of a customer's analyst (tests/integration/dbt_user_project), not
edtrack's: plain dbt-spark with its default file_format (Hive serde tables), seeds, a
view, a table, incremental ``append`` and ``insert_overwrite`` models, generic and
singular tests with stored failures, a unit test, ``dbt show``, ``dbt docs generate``
and ``dbt run --empty``, over several dbt invocations (each its own Thrift sessions);
and, with ``file_format: iceberg``, an incremental ``merge`` model and a snapshot.

The expected values are computed here from the project's seed CSVs, independently of
Spark. The tests run in file order: each dbt invocation builds on the previous one.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent / "dbt_user_project"
BIN = Path(sys.executable).parent
SCHEMA = "shop"
AUDIT_SCHEMA = f"{SCHEMA}_dbt_test__audit"
CENT = Decimal("0.01")
WARNED = "accepted_values_orders_log_status__placed__shipped__completed"
# One Spark task that sleeps 300 ms per row: 60 s, whatever the machine's load.
SLOW_QUERY = (
    "select count(slept) as n from (select reflect('java.lang.Thread', 'sleep', "
    "cast(300 as bigint)) as slept from range(0, 200, 1, 1))"
)


def orders(batch: int) -> list[dict]:
    with (PROJECT / "seeds" / "raw_orders.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if int(r["batch"]) <= batch]


def daily(batch: int) -> dict[str, tuple[int, Decimal]]:
    counts: Counter = Counter()
    revenue: defaultdict = defaultdict(Decimal)
    for r in orders(batch):
        day = r["ordered_at"][:10]
        counts[day] += 1
        revenue[day] += Decimal(r["amount"])
    return {day: (counts[day], revenue[day]) for day in counts}


def customer_orders(batch: int) -> dict[int, tuple[int, int, Decimal]]:
    """customer_orders as of `batch`: orders, returns and net revenue of every customer."""
    out = {c: [0, 0, Decimal(0)] for c in range(1, 13)}
    for r in orders(batch):
        customer = out[int(r["customer_id"])]
        customer[0] += 1
        if r["status"] == "returned":
            customer[1] += 1
        else:
            customer[2] += Decimal(r["amount"])
    return {c: tuple(v) for c, v in out.items()}


def customer_totals(batch: int) -> dict[int, tuple[int, Decimal, int]]:
    """customer_totals as of `batch`: orders, their amount and the latest batch."""
    out: dict = {}
    for r in orders(batch):
        n, amount, last = out.get(int(r["customer_id"]), (0, Decimal(0), 0))
        out[int(r["customer_id"])] = (n + 1, amount + Decimal(r["amount"]), int(r["batch"]))
    return out


class UserDbt:
    """dbt as the analyst runs it: from the project's folder, with edtrack's profile."""

    def __init__(self, cli, tmp: Path) -> None:
        self.cli = cli
        self.target = tmp / "target"
        self.env = {
            **cli.env,
            "DBT_SCHEMA": SCHEMA,
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(tmp / "logs"),
        }

    def __call__(self, *args: str, check: bool = True, env: dict | None = None):
        result = subprocess.run(
            [str(BIN / "dbt"), *args],
            cwd=PROJECT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check:
            assert result.returncode == 0, (
                f"dbt {' '.join(args)} exited {result.returncode}:\n{result.stdout[-5000:]}"
            )
        return result

    def results(self) -> dict[str, str]:
        """Each node of the last invocation, by name, with its status."""
        run = json.loads((self.target / "run_results.json").read_text())
        # test.<project>.<name>.<hash>; model.<project>.<name>; unit_test.<p>.<model>.<name>
        return {
            r["unique_id"].split(".")[2 if r["unique_id"].startswith("test.") else -1]: r["status"]
            for r in run["results"]
        }

    def count(self, table: str) -> int:
        return self.cli.sql(f"select count(*) as n from {table}")[0]["n"]

    def customer_totals(self) -> dict[int, tuple[int, Decimal, int]]:
        rows = self.cli.sql(f"select * from {SCHEMA}.customer_totals")
        return {
            r["customer_id"]: (r["order_count"], Decimal(str(r["total_amount"])), r["last_batch"])
            for r in rows
        }

    def daily(self) -> dict[str, tuple[int, Decimal]]:
        rows = self.cli.sql(f"select order_date, order_count, revenue from {SCHEMA}.orders_daily")
        return {
            r["order_date"]: (
                r["order_count"],
                Decimal(str(r["revenue"])).quantize(Decimal("0.01")),
            )
            for r in rows
        }


@pytest.fixture(scope="module")
def dbt(cli, tmp_path_factory):
    runner = UserDbt(cli, tmp_path_factory.mktemp("user-dbt"))
    for schema in (SCHEMA, AUDIT_SCHEMA):
        cli.sql(f"drop schema if exists {schema} cascade")
    return runner


def test_seeds_load_as_hive_serde_tables(dbt, cli):
    dbt("seed")
    assert dbt.count(f"{SCHEMA}.raw_orders") == len(orders(3)) == 120
    assert dbt.count(f"{SCHEMA}.raw_customers") == 12
    described = {
        r["col_name"].strip(): (r["data_type"] or "").strip()
        for r in cli.sql(f"describe formatted {SCHEMA}.raw_orders")
    }
    assert described["Provider"] == "hive", described
    assert "LazySimpleSerDe" in described["Serde Library"], described


def test_the_first_build_passes_and_stores_the_warned_rows(dbt, cli):
    dbt("build", "--vars", "{batch: 1}")
    statuses = dbt.results()
    assert statuses.pop(WARNED) == "warn"
    unit = "customer_orders_counts_returns_and_customers_without_orders"
    assert statuses[unit] == "pass"
    assert set(statuses.values()) <= {"pass", "success"}, statuses
    assert dbt.count(f"{SCHEMA}.orders_log") == 40
    assert dbt.daily() == daily(1)
    returned = sum(1 for r in orders(1) if r["status"] == "returned")
    stored = cli.sql(f"select * from {AUDIT_SCHEMA}.{WARNED}")
    assert {r["value_field"]: r["n_records"] for r in stored} == {"returned": returned}
    assert returned > 0


def test_a_second_invocation_appends_and_rewrites_the_changed_dates(dbt, cli):
    partitions = cli.sql(f"show partitions {SCHEMA}.orders_daily")
    assert len(partitions) == len(daily(1))
    dbt("build", "--vars", "{batch: 2}")
    assert set(dbt.results().values()) <= {"pass", "success", "warn"}
    # The view replaced by `create or replace view` answers with its new text.
    assert dbt.count(f"{SCHEMA}.stg_orders") == len(orders(2))
    # merge: the customers of batch 2 updated or added, the others' rows kept as they were
    assert dbt.customer_totals() == customer_totals(2)
    assert set(customer_totals(1).items()) - set(customer_totals(2).items())  # some updated
    assert dbt.count(f"{SCHEMA}.orders_log") == 80
    assert dbt.count(f"{SCHEMA}.raw_orders") == 120  # build seeds again, truncating first
    got = dbt.daily()
    assert got == daily(2)
    # Batch 2 overlaps batch 1 on some dates: those partitions now count both batches.
    overlap = set(daily(1)) & {r["ordered_at"][:10] for r in orders(2) if r["batch"] == "2"}
    assert overlap and all(got[day][0] > daily(1)[day][0] for day in overlap)


def preview(result) -> list[dict]:
    """The rows `dbt show --output json --log-format json` printed."""
    line = next(line for line in result.stdout.splitlines() if '"preview"' in line)
    return json.loads(json.loads(line)["data"]["preview"])


def test_dbt_show_answers_from_a_model_and_inline_sql(dbt):
    args = ("--vars", "{batch: 2}", "--output", "json", "--log-format", "json")
    shown = preview(dbt("show", "--select", "customer_orders", "--limit", "50", *args))
    assert {
        r["customer_id"]: (r["order_count"], r["returned_count"], Decimal(str(r["net_revenue"])))
        for r in shown
    } == customer_orders(2)
    inline = "select count(*) as n, max(batch) as batch from {{ ref('orders_log') }}"
    assert preview(dbt("show", "--inline", inline, *args)) == [{"n": 80, "batch": 2}]


def test_docs_generate_catalogs_every_model_and_seed(dbt):
    dbt("docs", "generate", "--vars", "{batch: 2}")
    catalog = json.loads((dbt.target / "catalog.json").read_text())
    tables = {n.split(".")[-1]: n_ for n, n_ in catalog["nodes"].items()}
    assert set(tables) >= {
        "raw_orders",
        "raw_customers",
        "stg_orders",
        "stg_customers",
        "customer_orders",
        "orders_log",
        "orders_daily",
        "customer_totals",
        "customer_orders_history",
    }
    columns = {c.lower() for c in tables["orders_daily"]["columns"]}
    assert columns == {"order_count", "revenue", "last_batch", "order_date"}


def test_an_empty_run_builds_every_model_without_reading_rows(dbt):
    dbt("run", "--empty", "--vars", "{batch: 3}")
    assert set(dbt.results().values()) == {"success"}
    assert dbt.count(f"{SCHEMA}.customer_orders") == 0  # a table model, rebuilt empty
    assert dbt.count(f"{SCHEMA}.orders_log") == 80  # an incremental model, nothing appended
    assert dbt.daily() == daily(2)


def test_a_full_refresh_gives_what_the_incremental_runs_gave(dbt):
    incremental = dbt.daily()
    dbt("build", "--full-refresh", "--vars", "{batch: 2}")
    assert dbt.daily() == incremental == daily(2)
    assert dbt.count(f"{SCHEMA}.orders_log") == 80
    assert dbt.count(f"{SCHEMA}.customer_orders") == 12
    dbt("build", "--vars", "{batch: 3}")
    assert dbt.count(f"{SCHEMA}.orders_log") == 120
    assert dbt.daily() == daily(3)
    assert dbt.customer_totals() == customer_totals(3)


def test_a_snapshot_keeps_every_state_the_builds_saw(dbt, cli):
    # The builds so far snapshotted customer_orders at batches 1, 2, 2 (full refresh), 3.
    states = [customer_orders(b) for b in (1, 2, 2, 3)]
    versions = {
        c: 1 + sum(earlier[c] != later[c] for earlier, later in pairwise(states)) for c in states[0]
    }
    rows = cli.sql(
        "select customer_id, order_count, returned_count, net_revenue, "
        f"dbt_valid_to is null as current from {SCHEMA}.customer_orders_history"
    )
    assert Counter(r["customer_id"] for r in rows) == Counter(versions)
    assert max(versions.values()) > 1  # some customers changed, some rows were closed
    assert {
        r["customer_id"]: (r["order_count"], r["returned_count"], Decimal(str(r["net_revenue"])))
        for r in rows
        if r["current"]
    } == customer_orders(3)


def test_seeding_again_replaces_the_rows(dbt):
    dbt("seed")
    assert dbt.count(f"{SCHEMA}.raw_orders") == 120


# --- query timeouts ------------------------------------------------------------------


def running_jobs(cli) -> list[dict]:
    """The Thrift Server's Spark jobs still running, from Spark's own REST API."""
    import urllib.request

    base = f"http://{cli.config.host}:{cli.config.ports['spark_ui']}/api/v1/applications"
    with urllib.request.urlopen(base, timeout=10) as response:
        app = json.load(response)[0]["id"]
    with urllib.request.urlopen(f"{base}/{app}/jobs?status=running", timeout=10) as response:
        return json.load(response)


def wait_until_no_job_runs(cli, seconds: float = 30) -> list[dict]:
    deadline = time.monotonic() + seconds
    while (jobs := running_jobs(cli)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return jobs


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("env", id="edtrack-profile-DBT_QUERY_TIMEOUT"),
        pytest.param("profile", id="own-profile-query_timeout"),
    ],
)
def test_dbt_query_timeout_stops_a_long_query(dbt, cli, tmp_path, how):
    env, target = {"DBT_QUERY_TIMEOUT": "3"}, ()
    if how == "profile":
        port = cli.config.ports["thrift"]
        (tmp_path / "profiles.yml").write_text(
            "edtrack:\n  target: mine\n  outputs:\n    mine:\n"
            f"      type: spark\n      method: thrift\n      host: {cli.config.host}\n"
            f"      port: {port}\n      schema: {SCHEMA}\n      user: analyst\n"
            "      query_timeout: 3\n"
        )
        env, target = {"DBT_PROFILES_DIR": str(tmp_path)}, ("--target", "mine")
    started = time.monotonic()
    result = dbt("show", "--inline", SLOW_QUERY, *target, check=False, env=env)
    elapsed = time.monotonic() - started
    assert result.returncode != 0, result.stdout[-2000:]
    assert "timeout of 3 seconds" in result.stdout, result.stdout[-2000:]
    # The query takes 60 s; dbt gives up at its first status poll past 3 s (a poll
    # returns after 5 s while the statement runs; dbt starts counting after the first,
    # and dbt itself takes a few seconds to start), and its closed session cancels the
    # statement on the server.
    assert elapsed < 40, elapsed
    assert wait_until_no_job_runs(cli) == []


def test_a_server_side_statement_timeout_cancels_the_query(cli):
    from core import sql

    connection = sql.connect(cli.config.host, cli.config.ports["thrift"])
    try:
        sql.run(connection, "set spark.sql.thriftServer.queryTimeout=2")
        started = time.monotonic()
        with pytest.raises(Exception, match="(?i)timed? ?out|cancel") as failure:
            sql.run(connection, SLOW_QUERY)
        assert time.monotonic() - started < 40, failure.value
        assert sql.run(connection, "select 41 + 1 as n").rows == [(42,)]
    finally:
        connection.close()
    assert wait_until_no_job_runs(cli) == []
