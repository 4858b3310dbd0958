"""Table formats compared on the same data: parquet (Hive tables), Iceberg and Delta.

For each format a private stack starts whose Thrift Server loads that format's session
catalog; the same generated attempts are published and landed, then ``dbt build`` runs
in full with every model in that format, then 1 % more attempts (the next day) are
landed and ``dbt build`` runs incrementally. Measured per format, in one run:

- full and incremental build time (wall clock), and their ratio;
- client query latency: each query of ``queries/`` run 3 times on one held connection
  after the full build (median per query, then the median of those);
- metastore load: CPU seconds of the metastore process during each build, and the
  metastore's entries (tables and partitions) afterwards;
- files and bytes the warehouse holds on HDFS after each build;
- seconds per model of each build (dbt's run_results.json);
- the marts' fingerprints (row count and a hash of every row), which must be equal
  across formats.

    .venv/bin/python -m bench.table_formats --sizes 3280 --formats parquet iceberg delta
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core import sql
from core.project import PROJECT_ROOT, catalogue
from stack.config import StackConfig, from_env
from stack.launcher import Stack

BIN = Path(sys.executable).parent
NEXT_DAY = "2018-01-29"  # the day after the generated data's 70 days
LAYERS = ("staging", "flattened", "marts")


def run(label: str, cmd: list[str], env: dict[str, str], log: Path) -> float:
    t0 = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        code = subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=out).returncode
    seconds = time.monotonic() - t0
    if code != 0:
        sys.exit(f"{label} failed (exit {code}); see {log}")
    print(f"  {label:<30} {seconds:8.1f} s", flush=True)
    return round(seconds, 1)


def node_seconds(target: Path) -> dict[str, float]:
    """Seconds per model of the last dbt command (its run_results.json), data and unit
    tests summed, slowest first: where a build's time goes."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    out: dict[str, float] = {}
    for result in results:
        kind, _, name = result["unique_id"].split(".", 2)
        key = name.split(".")[-1] if kind == "model" else f"{kind}s (all)"
        out[key] = round(out.get(key, 0.0) + result["execution_time"], 1)
    return dict(sorted(out.items(), key=lambda item: -item[1]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


STORAGE_KEYS = ("files", "bytes", "metadata_files", "metadata_bytes")


def storage(hdfs_url: str) -> dict[str, dict[str, int]]:
    """Files and bytes under each layer's schema folder in the warehouse, and how many of
    them are table metadata (Iceberg's ``metadata/``: table versions, manifest lists and
    manifests; Delta's ``_delta_log/``) rather than data files."""
    from hdfs_native import Client

    client = Client(hdfs_url)
    out = {}
    for layer in LAYERS:
        counts = dict.fromkeys(STORAGE_KEYS, 0)
        try:
            for status in client.list_status(f"/warehouse/{layer}.db", recursive=True):
                if status.isdir:
                    continue
                counts["files"] += 1
                counts["bytes"] += status.length
                if "/metadata/" in status.path or "/_delta_log/" in status.path:
                    counts["metadata_files"] += 1
                    counts["metadata_bytes"] += status.length
        except FileNotFoundError:
            pass
        out[layer] = counts
    return out


def measure_queries(connection, repeats: int = 3) -> dict[str, float]:
    medians = {}
    for query in catalogue():
        times = []
        for _ in range(repeats):
            t0 = time.monotonic()
            sql.run(connection, query.text)
            times.append(time.monotonic() - t0)
        medians[query.name] = round(statistics.median(times), 3)
    return medians


def metastore_entries(connection) -> dict[str, int]:
    """Tables and partitions the metastore holds for the warehouse's layers, as Spark's
    catalog reports them (a format that keeps partitions in its own metadata registers
    none)."""
    tables = partitions = 0
    for layer in LAYERS:
        for row in sql.run(connection, f"show tables in {layer}").rows:
            tables += 1
            name = f"{layer}.{row[1]}"
            # A table whose format keeps its partitions itself has none in the metastore.
            with contextlib.suppress(Exception):
                partitions += len(sql.run(connection, f"show partitions {name}").rows)
    return {"tables": tables, "partitions": partitions}


def private_stack(
    fmt: str, name: str, offset: int, workdir: Path
) -> tuple[StackConfig, Stack, dict[str, str]]:
    """A stack of its own under ``workdir`` (state, dbt target: ``name``), and the
    environment that points edtrack and dbt at it, whatever the caller's environment."""
    env_base = {k: v for k, v in os.environ.items() if not k.startswith(("EDTRACK_", "DBT_"))}
    config = from_env(
        {**env_base, "EDTRACK_TABLE_FORMAT": fmt},
        state_dir=workdir / f"state-{name}",
        port_offset=offset,
    )
    config = dataclasses.replace(config, start_timeout_s=600.0)
    env = {
        **env_base,
        "EDTRACK_STATE_DIR": str(config.state_dir),
        "EDTRACK_PORT_OFFSET": str(offset),
        "EDTRACK_TABLE_FORMAT": fmt,
        "DBT_PROFILES_DIR": "profiles",
        "DBT_THRIFT_PORT": str(config.ports["thrift"]),
        "DBT_TARGET": "local",
        "DBT_TARGET_PATH": str(workdir / f"target-{name}"),
    }
    return config, Stack(config, log=lambda m: None), env


def run_format(fmt: str, data: Path, extra: Path, offset: int, workdir: Path) -> dict:
    config, stack, env = private_stack(fmt, fmt, offset, workdir)
    log = workdir / f"{fmt}.log"
    edtrack = str(BIN / "edtrack")
    dbt = [str(BIN / "dbt"), "build", "--vars", json.dumps({"file_format": fmt})]
    print(f"{fmt}", flush=True)
    stack.up()
    try:
        pids = {row["service"]: row["pid"] for row in stack.status()}
        out: dict[str, object] = {"format": fmt}
        run("publish", [edtrack, "publish", str(data)], env, log)
        run("land", [edtrack, "land", "--until-caught-up"], env, log)
        cpu0 = {n: cpu_seconds(pids[n]) for n in ("metastore", "thrift")}
        out["full_s"] = run("dbt build (full)", dbt, env, log)
        out["full_nodes_s"] = node_seconds(Path(env["DBT_TARGET_PATH"]))
        cpu1 = {n: cpu_seconds(pids[n]) for n in ("metastore", "thrift")}
        out["full_cpu_s"] = {n: round(cpu1[n] - cpu0[n], 1) for n in cpu0}
        out["storage_after_full"] = storage(config.hdfs_url)
        connection = sql.connect(config.host, config.ports["thrift"])
        try:
            out["query_p50_s"] = measure_queries(connection)
            out["metastore_entries"] = metastore_entries(connection)
            prints = {}
            # every mart the project builds: the list is dbt's, not the benchmark's
            for mart in sorted(row[1] for row in sql.run(connection, "show tables in marts").rows):
                described = sql.run(connection, f"describe table marts.{mart}").rows
                prints[mart] = list(
                    sql.run(connection, sql.fingerprint_query(f"marts.{mart}", described)).rows[0]
                )
            out["fingerprints"] = prints
        finally:
            connection.close()
        run("publish +1 %", [edtrack, "publish", str(extra)], env, log)
        run("land +1 %", [edtrack, "land", "--until-caught-up"], env, log)
        out["incremental_s"] = run("dbt build (incremental)", dbt, env, log)
        out["incremental_nodes_s"] = node_seconds(Path(env["DBT_TARGET_PATH"]))
        cpu2 = {n: cpu_seconds(pids[n]) for n in ("metastore", "thrift")}
        out["incremental_cpu_s"] = {n: round(cpu2[n] - cpu1[n], 1) for n in cpu0}
        out["storage_after_incremental"] = storage(config.hdfs_url)
        out["incremental_ratio"] = round(out["incremental_s"] / out["full_s"], 3)
        return out
    finally:
        stack.down()


def generate(count: int, seed: int, path: Path, *extra: str) -> None:
    subprocess.run(
        [str(BIN / "edtrack"), "generate", "--count", str(count), "--seed", str(seed)]
        + ["--output", str(path), *extra],
        check=True,
        cwd=PROJECT_ROOT,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3280])
    parser.add_argument("--formats", nargs="+", default=["parquet", "iceberg", "delta"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-offset", type=int, default=13000)
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "table_formats.json"
    )
    args = parser.parse_args()
    results = []
    # Kept when a step fails: its logs say why (removed after a complete run).
    workdir = Path(tempfile.mkdtemp(prefix="edtrack-formats-"))
    print(f"work dir {workdir}", flush=True)
    for count in args.sizes:
        data, extra = workdir / f"attempts-{count}.jsonl", workdir / f"extra-{count}.jsonl"
        generate(count, args.seed, data)
        generate(max(1, count // 100), args.seed + 1, extra, "--start", NEXT_DAY, "--days", "1")
        print(f"{count:,} attempts", flush=True)
        for fmt in args.formats:
            where = workdir / str(count)
            where.mkdir(exist_ok=True)
            result = run_format(fmt, data, extra, args.port_offset, where)
            results.append({"attempts": count, **result})
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(workdir)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
