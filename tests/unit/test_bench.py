"""The benchmark's own arithmetic: what it reads from the landers' logs, and the ratios."""

from __future__ import annotations

from bench.figures import GOALS
from bench.ingest import landed_summary
from bench.suite import latency_summary, two_landers, under_build


def test_the_landers_last_lines_add_up_one_per_lander(tmp_path):
    log = tmp_path / "land.stderr"
    log.write_text(
        "[lander 11] landed 100 (1 quarantined) in 3 files, 50.0 records/s, lag 9\n"
        "[lander 12] landed 40 (0 quarantined) in 2 files, 20.5 records/s, lag 0\n"
        "[lander 11] landed 600 (2 quarantined) in 7 files, 300.0 records/s, lag 0\n"
    )
    assert landed_summary(log) == {
        "landed": 640,
        "quarantined": 2,
        "files": 9,
        "records_per_s_reported": 320.5,
        "landers": 2,
    }
    log.write_text("landed 5 (0 quarantined) in 1 files, 2.5 records/s, lag 0\n")
    assert landed_summary(log)["landers"] == 1


def test_two_landers_are_compared_with_one_and_with_spark_streaming():
    land = {
        "edtrack": {"seconds": 90.0},
        "edtrack_two_landers": {"seconds": 60.0},
        "spark_streaming": {"seconds": 45.0},
    }
    assert two_landers(land) == {
        "land_two_vs_one_lander": 1.5,
        "land_two_landers_vs_spark_streaming": 0.75,
    }
    assert two_landers({"edtrack": {"seconds": 1.0}}) == {}


def test_latencies_are_summed_up_by_median_95th_percentile_and_maximum():
    summary = latency_summary([0.4, 0.1, 0.3, 0.2, 5.0])
    assert summary["runs"] == 5
    assert summary["p50_s"] == 0.3
    assert summary["max_s"] == 5.0
    assert 0.4 < summary["p95_s"] <= 5.0
    assert summary["latencies_s"] == [0.4, 0.1, 0.3, 0.2, 5.0]


def test_queries_under_a_build_reach_the_headline_and_older_results_lack_them():
    run = {"queries_under_build": {"p50_s": 0.8, "p95_s": 2.5, "failed": 1}}
    assert under_build(run) == {
        "query_under_build_p50_s": 0.8,
        "query_under_build_p95_s": 2.5,
        "query_under_build_failed": 1,
    }
    assert under_build({}) == {}


def test_every_goal_has_a_comparison_the_report_understands():
    keys = [key for key, _, _ in GOALS]
    assert len(keys) == len(set(keys))
    assert {op for _, op, _ in GOALS} <= {">=", "<="}
    assert "query_under_build_p95_s" in keys and "dbt_full_smallest_s" in keys
