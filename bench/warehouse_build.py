"""Warehouse build times: full dbt build at several sizes, and an incremental run.

For each size a private stack starts on a fresh state dir; generated attempts are
published and landed, then ``dbt build`` runs in full. At the largest size, 1 % more
attempts (the next day's activity) are published and landed, and ``dbt build``
runs again incrementally; the ratio incremental / full is the figure to watch (target
<= 15 %). Times are wall-clock on a shared machine: compare the ratio, not the seconds.

    .venv/bin/python bench/warehouse_build.py --sizes 3280 100000 1000000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.project import PROJECT_ROOT
from stack.config import from_env
from stack.launcher import Stack

BIN = Path(sys.executable).parent
# The +1 % models the next day's activity: generated data spans 2017-11-20 + 70 days.
NEXT_DAY = "2018-01-29"


def timed(label: str, cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.monotonic()
    result = subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if result.returncode != 0:
        sys.exit(f"{label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"  {label:<28} {seconds:8.1f} s", flush=True)
    return seconds


def node_times(target: Path) -> dict[str, float]:
    """Seconds per node (model, data test, unit test) from dbt's run results, slowest
    first. With several dbt threads the times overlap: they add up to more than the
    wall-clock time of the build."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    times = {node["unique_id"]: round(node["execution_time"], 1) for node in results}
    return dict(sorted(times.items(), key=lambda kv: -kv[1]))


def run_size(count: int, seed: int, offset: int, incremental: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="edtrack-bench-") as tmp:
        env_base = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
        config = from_env(env_base, state_dir=Path(tmp) / "state", port_offset=offset)
        # On a busy machine the Thrift Server can take minutes to come up.
        config = dataclasses.replace(config, start_timeout_s=600.0)
        stack = Stack(config, log=lambda m: None)
        env = {
            **env_base,
            "EDTRACK_STATE_DIR": str(config.state_dir),
            "EDTRACK_PORT_OFFSET": str(offset),
            "DBT_PROFILES_DIR": "profiles",
            "DBT_THRIFT_PORT": str(config.ports["thrift"]),
            "DBT_TARGET": "local",
            "DBT_TARGET_PATH": str(Path(tmp) / "target"),
        }
        edtrack = str(BIN / "edtrack")
        print(f"{count:,} attempts", flush=True)
        stack.up()
        try:
            data = Path(tmp) / "attempts.jsonl"
            out = {"attempts": count}
            out["generate_s"] = timed(
                "generate",
                [
                    edtrack,
                    "generate",
                    "--count",
                    str(count),
                    "--seed",
                    str(seed),
                    "--output",
                    str(data),
                ],
                env,
            )
            out["publish_s"] = timed("publish", [edtrack, "publish", str(data)], env)
            out["land_s"] = timed("land", [edtrack, "land", "--until-caught-up"], env)
            out["dbt_build_full_s"] = timed("dbt build (full)", [str(BIN / "dbt"), "build"], env)
            out["dbt_build_full_nodes"] = node_times(Path(tmp) / "target")
            if incremental:
                extra = Path(tmp) / "extra.jsonl"
                timed(
                    "generate +1 %",
                    [
                        edtrack,
                        "generate",
                        "--count",
                        str(max(1, count // 100)),
                        "--seed",
                        str(seed + 1),
                        "--output",
                        str(extra),
                        "--start",
                        NEXT_DAY,
                        "--days",
                        "1",
                    ],
                    env,
                )
                timed("publish +1 %", [edtrack, "publish", str(extra)], env)
                timed("land +1 %", [edtrack, "land", "--until-caught-up"], env)
                out["dbt_build_incremental_s"] = timed(
                    "dbt build (incremental)", [str(BIN / "dbt"), "build"], env
                )
                out["dbt_build_incremental_nodes"] = node_times(Path(tmp) / "target")
                out["incremental_ratio"] = out["dbt_build_incremental_s"] / out["dbt_build_full_s"]
            return out
        finally:
            stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3280, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-offset", type=int, default=12000)
    parser.add_argument(
        "--output",
        type=Path,
        default=PROJECT_ROOT / "bench" / "results" / "warehouse_build.json",
    )
    args = parser.parse_args()
    results = [
        run_size(n, args.seed, args.port_offset, incremental=(n == max(args.sizes)))
        for n in args.sizes
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print("\n| attempts | land s | dbt build full s | incremental s | ratio |")
    print("|---|---|---|---|---|")
    for r in results:
        inc = r.get("dbt_build_incremental_s")
        tail = f"{inc:.0f} | {r['incremental_ratio']:.0%}" if inc is not None else " | "
        print(f"| {r['attempts']:,} | {r['land_s']:.0f} | {r['dbt_build_full_s']:.0f} | {tail} |")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
