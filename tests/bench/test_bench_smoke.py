"""Smoke run of the benchmark suite at 3,280 attempts, as ``make bench`` would run it.

The suite starts its own stack on the integration tests' port offset
(``EDTRACK_TEST_PORT_OFFSET``, default 20000) and stops it before it returns. pytest
collects ``tests/bench`` before ``tests/integration``, whose session stack starts only
with its first test, so the two never hold the ports at the same time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.suite import GOALS
from core.project import PROJECT_ROOT, catalogue

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
SIZE = 3280


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench-results")
    offset = os.environ.get("EDTRACK_TEST_PORT_OFFSET", "20000")
    env = {k: v for k, v in os.environ.items() if k not in ("EDTRACK_STATE_DIR",)}
    cmd = [sys.executable, "-m", "bench.suite", "--sizes", str(SIZE), "--smoke"]
    cmd += ["--port-offset", offset, "--output-dir", str(out)]
    log = out / "bench.log"  # progress lines, readable while the run goes on
    with open(log, "wb") as handle:
        run = subprocess.run(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=3300
        )
    assert run.returncode == 0, f"bench failed:\n{log.read_text(errors='replace')[-5000:]}"
    for name in ("latest.md", "throughput.png", "time_by_stage.png", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    return json.loads((out / "latest.json").read_text())


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(key, id=key)
        for key in (
            "land_vs_kcat",
            "land_vs_spark_streaming",
            "publish_vs_kcat",
            "end_to_end_vs_seed_batch",
            "incremental_vs_full",
            "query_p50_s",
            "query_p95_s",
            "freshness_p50_s",
            "freshness_p95_s",
            "stack_cold_start_s",
            "stack_warm_start_s",
            "query_under_build_p50_s",
            "query_under_build_p95_s",
            "dbt_full_smallest_s",
            "dbt_full_warm_smallest_s",
            "demo_warm_s",
        )
    ],
)
def test_headline_figure_is_a_positive_number(results, key):
    assert isinstance(results[key], int | float)
    assert results[key] > 0


def test_p95_is_at_least_p50(results):
    assert results["query_p95_s"] >= results["query_p50_s"]
    assert results["freshness_p95_s"] >= results["freshness_p50_s"]
    assert results["query_under_build_p95_s"] >= results["query_under_build_p50_s"]


def test_every_tool_handled_every_attempt(results):
    run = results["runs"][str(SIZE)]
    assert results["sizes"] == [SIZE]
    for stage, tools in (("publish", ("edtrack", "kcat")), ("land", ("edtrack", "kcat"))):
        for tool in tools:
            assert run[stage][tool]["messages"] == SIZE, (stage, tool)
    assert run["land"]["edtrack"]["landed"] == SIZE
    assert run["land"]["spark_streaming"]["rows"] == SIZE
    assert run["seed_batch"]["rows"] == SIZE
    assert run["dbt_incremental"]["added_attempts"] == SIZE // 100


def test_rates_and_resources_are_sane(results):
    run = results["runs"][str(SIZE)]
    for stage, tool in (("publish", "edtrack"), ("land", "edtrack"), ("land", "spark_streaming")):
        figures = run[stage][tool]
        assert figures["messages_per_s"] > 0
        assert figures["mb_per_s"] > 0
        assert figures["cpu_s_per_1m"] > 0
        assert 10 < figures["peak_rss_mb"] < 8192
    assert run["queries"]["runs"] == len(catalogue())
    assert run["freshness"]["probes"] == len(run["freshness"]["latencies_s"]) == 2
    assert run["freshness"]["censored"] == 0, "a probe never became visible in the mart"
    busy = run["queries_under_build"]
    assert busy["clients"] == 4 and busy["failed"] == 0, busy["failures"]
    assert busy["runs"] == len(busy["latencies_s"]) >= busy["clients"]
    assert busy["land_s"] > 0 and busy["dbt_run_s"] > 0
    assert results["dbt_full_smallest_size"] == SIZE
    assert results["dbt_full_smallest_s"] == run["dbt_full"]["seconds"]
    assert results["dbt_full_warm_smallest_s"] == run["dbt_full_warm"]["seconds"] > 0
    assert set(run["stack_peak_rss_mb"]) == {"kafka", "namenode", "metastore", "datanode", "thrift"}


def test_goals_are_judged_not_assumed(results):
    assert set(results["goals"]) == {key for key, _, _ in GOALS}
    for key, goal in results["goals"].items():
        assert goal["value"] == results[key]
        assert isinstance(goal["holds"], bool)
