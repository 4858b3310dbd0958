"""The warehouse over the raw data the earlier scenarios left (faults, the bad-input
corpus, duplicates): the Thrift Server killed during ``dbt run``, ``dbt test`` reporting
the corpus's violations instead of crashing, and the marts equal to a clean build.

The clean build lands the same topic again with an undisturbed lander into a schema of
its own (``clean``) and builds every layer from it with ``--full-refresh`` into
``clean_staging``, ``clean_flattened`` and ``clean_marts``.
"""

from __future__ import annotations

import collections
import json
import re
import time

import pytest

from ingestion.topic import DEFAULT_TOPIC, topic_size
from tests.reliability.conftest import check, land_until_caught_up
from tests.reliability.corpus import CASES
from tests.reliability.reconcile import LEDGER, Place
from tests.reliability.snapshots import current_snapshot
from tests.reliability.warehouse import (
    BUILT_FROM,
    MARTS,
    STAGING,
    dbt,
    dbt_run,
    fingerprints,
    full_suite,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(2700)]

PLACE = Place()
CLEAN = Place(root="/edtrack/clean", schema="clean")
CLEAN_VARS = {"raw_schema": CLEAN.schema, "schema_prefix": "clean_"}


@pytest.mark.reliability_full
def test_the_thrift_server_killed_during_dbt_run_then_a_rerun_completes(rcli, rel_stack, tmp_path):
    where = tmp_path / "dbt"
    before = {mart: current_snapshot(rcli.config, f"marts.{mart}") for mart in MARTS}
    prints_before = fingerprints(rcli.config)
    run = dbt(rcli, where, "run")
    log = where / "dbt-run.out"
    # Kill it once dbt has built a few models, with the rest still to come.
    deadline = time.monotonic() + 600
    while log.read_text().count(" OK created ") < 3:
        assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    rel_stack.kill_service("thrift")
    LEDGER.fault("Thrift Server SIGKILLed during dbt run")
    code = run.wait(600)
    assert code != 0, "dbt run finished although its server was killed"
    rel_stack.start_service("thrift")
    # Each mart is whole: its previous snapshot with its previous rows, or a snapshot the
    # killed run committed with the rows the rerun gives (the input did not change). A
    # mart dbt did not log as created may be committed too: the server can commit a
    # write and die before it answers (seen for an `insert overwrite`).
    logged = set(re.findall(r" OK created sql \w+ model marts\.(\w+) ", log.read_text()))
    after_kill = {mart: current_snapshot(rcli.config, f"marts.{mart}") for mart in MARTS}
    prints_after_kill = fingerprints(rcli.config)
    untouched = [mart for mart in MARTS if after_kill[mart] == before[mart]]
    assert untouched, f"the run committed every mart before the kill (logged: {logged})"
    for mart in untouched:
        assert prints_after_kill[mart] == prints_before[mart], mart
    dbt_run(rcli, where)
    prints_rerun = fingerprints(rcli.config)
    for mart in set(MARTS) - set(untouched):
        assert prints_after_kill[mart] == prints_rerun[mart], mart
    print(
        f"[reliability] killed with {len(MARTS) - len(untouched)} of {len(MARTS)} marts "
        f"committed ({len(logged)} logged as created); the others kept their snapshots",
        flush=True,
    )


@pytest.fixture(scope="module")
def built(rcli, request, tmp_path_factory) -> bool:
    """The suite's tables brought up to date (an incremental run, as in production):
    every layer in the full suite, staging in the CI subset. True for every layer."""
    full = full_suite(request.config)
    where = tmp_path_factory.mktemp("warehouse") / "dbt"
    if not full:
        dbt_run(rcli, where, "--select", *STAGING)
    elif BUILT_FROM["messages"] != topic_size(rcli.config.kafka_bootstrap, DEFAULT_TOPIC):
        dbt_run(rcli, where)
    return full


def test_dbt_test_reports_the_corpus_violations_instead_of_crashing(rcli, built, tmp_path):
    """Every data test runs and none errors; the staging tests that the corpus breaks
    (``Case.violates``) fail with exactly the corpus's rows. The tests check every row
    (``test_everything``): by default some check only the partitions the latest run
    rebuilt, and the corpus's date need not be one of them by now."""
    scope = () if built else ("--select", *STAGING, "--indirect-selection", "cautious")
    run = dbt(rcli, tmp_path / "dbt", "test", *scope, vars={"test_everything": True})
    code = run.wait(1500)
    results = json.loads((tmp_path / "dbt" / "target" / "run_results.json").read_text())
    outcomes = {
        r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in results["results"]
    }
    errors = [name for name, (status, _) in outcomes.items() if status == "error"]
    assert errors == [], (tmp_path / "dbt" / "dbt-test.out").read_text()[-4000:]
    failed = {name: n for name, (status, n) in outcomes.items() if status == "fail"}
    expected = collections.Counter(name for case in CASES for name in case.violates)
    print(f"[reliability] dbt test: {len(outcomes)} tests, failed {failed}")
    if built:
        # Past staging: the corpus's attempts without a usable keen_timestamp (no
        # submitted_at) share one row of mart_activity_daily, without a date.
        expected["not_null_mart_activity_daily_activity_date"] = 1
    assert code == 1
    assert failed == dict(expected)
    assert len(outcomes) > len(failed)  # the other tests ran, and passed


@pytest.mark.reliability_full
def test_marts_equal_a_clean_build_over_the_same_topic(rcli, built, tmp_path):
    land_until_caught_up(rcli, CLEAN)
    check(rcli.config, CLEAN, "clean landing of the whole topic", 0)
    dbt_run(rcli, tmp_path / "dbt", "--full-refresh", vars=CLEAN_VARS)
    faulted = fingerprints(rcli.config, "marts")
    clean = fingerprints(rcli.config, "clean_marts")
    print(f"[reliability] marts (rows, hash): {faulted}")
    assert faulted == clean
    assert all(rows > 0 for rows, _ in faulted.values())
