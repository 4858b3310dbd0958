"""The benchmark's own arithmetic: what it reads from the landers' logs, and the ratios."""

from __future__ import annotations

from bench.ingest import landed_summary
from bench.suite import two_landers


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
