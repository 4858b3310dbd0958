"""Warehouse storage over repeated incremental runs, with and without `edtrack maintain`.

One private Iceberg stack per variant, the same data for both: generated attempts
landed and built in full, then ``--runs`` rounds of one more day of attempts (1 % of
the base each), landed and built incrementally (``dbt run``: the data tests write no
tables). After every round, the warehouse's files and bytes on HDFS (staging,
flattened and marts; metadata files included) and the snapshots its tables keep.

- ``none``: no housekeeping, as before ``edtrack maintain`` existed;
- ``maintain``: ``edtrack maintain --older-than 0 --retain-last 7`` after every round,
  standing in for a daily run that keeps a week of daily builds (the rounds here are
  minutes apart, so an age cutoff would keep everything).

Writes ``bench/results/storage.json`` and a plot beside it.

    .venv/bin/python -m bench.storage --attempts 3280 --runs 20   # --variants maintain: one
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench.table_formats import BIN, STORAGE_KEYS, generate, private_stack, run, storage
from core import sql
from core.project import PROJECT_ROOT

VARIANTS = ("none", "maintain")
FIRST_DAY = dt.date(2018, 1, 29)  # the day after the generated base's 70 days
RETAIN_LAST = 7


def snapshots(connection) -> int:
    """Snapshots kept by the warehouse's Iceberg tables, all together."""
    total = 0
    for schema in ("staging", "flattened", "marts"):
        for row in sql.run(connection, f"show tables in {schema}").rows:
            total += sql.run(connection, f"select count(*) from {schema}.{row[1]}.snapshots").rows[
                0
            ][0]
    return total


def totals(layers: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k: sum(layer[k] for layer in layers.values()) for k in STORAGE_KEYS}


def run_variant(variant: str, base: Path, days: list[Path], offset: int, workdir: Path) -> dict:
    config, stack, env = private_stack("iceberg", variant, offset, workdir)
    log = workdir / f"{variant}.log"
    edtrack = str(BIN / "edtrack")
    dbt_run = [str(BIN / "dbt"), "run"]
    maintain = [edtrack, "maintain", "--older-than", "0", "--retain-last", str(RETAIN_LAST)]
    print(variant, flush=True)
    stack.up()
    try:
        run("publish base", [edtrack, "publish", str(base)], env, log)
        run("land base", [edtrack, "land", "--until-caught-up"], env, log)
        full_s = run("dbt run (full)", dbt_run, env, log)
        rounds = []
        started = time.monotonic()
        for index, day in enumerate(days, start=1):
            run(f"publish day {index}", [edtrack, "publish", str(day)], env, log)
            run(f"land day {index}", [edtrack, "land", "--until-caught-up"], env, log)
            build_s = run(f"dbt run {index}", dbt_run, env, log)
            maintain_s = run(f"maintain {index}", maintain, env, log) if variant != "none" else 0
            layers = storage(config.hdfs_url)
            connection = sql.connect(config.host, config.ports["thrift"])
            try:
                kept = snapshots(connection)
            finally:
                connection.close()
            rounds.append(
                {
                    "run": index,
                    "build_s": build_s,
                    "maintain_s": maintain_s,
                    "snapshots": kept,
                    **totals(layers),
                    "layers": layers,
                }
            )
            elapsed = time.monotonic() - started
            left = elapsed / index * (len(days) - index)
            print(
                f"  [{index}/{len(days)}] {variant}: {rounds[-1]['files']:,} files, "
                f"{rounds[-1]['bytes'] / 1e6:.1f} MB ({rounds[-1]['metadata_files']:,} files, "
                f"{rounds[-1]['metadata_bytes'] / 1e6:.1f} MB of it metadata), {kept} snapshots; "
                f"about {left / 60:.0f} min left",
                flush=True,
            )
        return {"variant": variant, "full_s": full_s, "rounds": rounds}
    finally:
        stack.down()


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    labels = {"none": "no housekeeping", "maintain": f"maintain, retain last {RETAIN_LAST}"}
    for variant in results["variants"]:
        runs = [r["run"] for r in variant["rounds"]]
        for ax, key, scale in zip(axes, ("bytes", "files", "snapshots"), (1e6, 1, 1), strict=True):
            ax.plot(
                runs,
                [r[key] / scale for r in variant["rounds"]],
                marker="o",
                ms=3,
                label=labels[variant["variant"]],
            )
    for ax, title in zip(axes, ("MB on HDFS", "files on HDFS", "snapshots kept"), strict=True):
        ax.set_title(title)
        ax.set_xlabel("incremental run")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(
        f"Warehouse storage over {len(results['variants'][0]['rounds'])} incremental runs "
        f"({results['attempts']:,} attempts + {results['per_run']} a run)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=3280)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-offset", type=int, default=13000)
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "storage.json"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="edtrack-storage-"))
    print(f"work dir {workdir}", flush=True)
    per_run = max(1, args.attempts // 100)
    base = workdir / "base.jsonl"
    generate(args.attempts, args.seed, base)
    days = []
    for index in range(args.runs):
        day = workdir / f"day-{index + 1}.jsonl"
        start = (FIRST_DAY + dt.timedelta(days=index)).isoformat()
        generate(per_run, args.seed + 1 + index, day, "--start", start, "--days", "1")
        days.append(day)
    results = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "attempts": args.attempts,
        "per_run": per_run,
        "retain_last": RETAIN_LAST,
        "variants": [],
    }
    for variant in args.variants:
        results["variants"].append(run_variant(variant, base, days, args.port_offset, workdir))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.output.with_suffix(".png"))
    shutil.rmtree(workdir)
    print(f"wrote {args.output} and {args.output.with_suffix('.png').name}")


if __name__ == "__main__":
    main()
