"""The suite's figures: the goals its ratios are measured against, and the time of each
stage of one run. Shared by the suite (bench/suite.py) and its report (bench/render.py)."""

from __future__ import annotations

# (ratio, comparison, target): every goal is a ratio of edtrack to a peer in the same run,
# or a latency.
GOALS = (
    ("land_vs_kcat", ">=", 0.5),
    ("land_vs_spark_streaming", ">=", 1.0),
    ("publish_vs_kcat", ">=", 0.5),
    ("end_to_end_vs_seed_batch", ">=", 1.0),
    ("incremental_vs_full", "<=", 0.15),
    ("query_p50_s", "<=", 0.5),
    ("query_under_build_p95_s", "<=", 2.0),
    ("freshness_p95_s", "<=", 60.0),
    ("dbt_full_smallest_s", "<=", 30.0),
    ("dbt_full_warm_smallest_s", "<=", 30.0),
)


def stage_times(run: dict) -> dict[str, float]:
    return {
        "publish edtrack": run["publish"]["edtrack"]["seconds"],
        "publish kcat": run["publish"]["kcat"]["seconds"],
        "land edtrack": run["land"]["edtrack"]["seconds"],
        "land kcat": run["land"]["kcat"]["seconds"],
        "land spark streaming": run["land"]["spark_streaming"]["seconds"],
        "seed batch job": run["seed_batch"]["seconds"],
        "dbt full": run["dbt_full"]["seconds"],
        "dbt incremental": run["dbt_incremental"]["seconds"],
    }
