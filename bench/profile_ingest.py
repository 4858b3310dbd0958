"""CPU per message of ``edtrack publish`` and ``edtrack land``, by stage, with cProfile.

Runs both commands, each in a process of its own, against the stack that the
usual settings name (``--port-offset`` / ``--state-dir`` / ``EDTRACK_*``, as for
``edtrack``), on a topic and raw root of its own, then attributes each function's own
time (cProfile's tottime) to a stage by the module it belongs to:

- **edtrack**: edtrack's own code (``core``, ``ingestion``, ``edtrack``);
- **json**: parsing and encoding JSON (orjson, json);
- **hashing**: BLAKE2b digests and hashlib;
- **kafka-python**: the client's own Python (record building and decoding, partitioning,
  the accumulator and fetcher);
- **hdfs**: hdfs-native, the lander's HDFS client;
- **other**: everything else (the interpreter's builtins, threads' waits, logging).

Each command runs twice: once plain, for its wall time and CPU (of the main thread and
of the whole process), once under cProfile (timing each thread's CPU, not the clock),
whose shares by stage split the plain run's main-thread CPU; cProfile's own cost per
call would otherwise inflate the small functions. Stages are microseconds of CPU per
message of the main thread: cProfile sees only the thread that runs the command; the
producer's I/O thread and hdfs-native's runtime run beside it, in the process line. The floor is
kafka-python's own cost of decoding the same messages from a record batch
(``DefaultRecordBatch``), measured here on batches built from the input.

    .venv/bin/edtrack --port-offset 41000 stack up
    .venv/bin/python -m bench.profile_ingest --port-offset 41000 --count 100000

Writes ``bench/results/ingest_profile.json`` and prints the table (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from core.project import PROJECT_ROOT
from ingestion.publish import DIGEST_HEADER

STAGES = ("edtrack", "json", "hashing", "kafka-python", "hdfs", "other")


def stage_of(filename: str, function: str) -> str:
    """The stage of one cProfile entry (its file, or ``~`` and the builtin's name)."""
    if filename == "~":
        if "json" in function:  # orjson's and json's
            return "json"
        if "blake2b" in function or "hashlib" in function:
            return "hashing"
        if "hdfs_native" in function:
            return "hdfs"
        if "crc32c" in function:
            return "kafka-python"
        return "other"
    path = filename.replace("\\", "/")
    for marker, stage in (
        ("/kafka/", "kafka-python"),
        ("/hdfs_native/", "hdfs"),
        ("/json/", "json"),
        ("hashlib", "hashing"),
    ):
        if marker in path:
            return stage
    root = str(PROJECT_ROOT) + "/"
    if path.startswith(root) and path[len(root) :].split("/")[0] in (
        "core",
        "ingestion",
        "edtrack",
    ):
        return "edtrack"
    return "other"


def by_stage(profile) -> dict[str, float]:
    """Seconds of own time per stage (``profile`` as for top_functions)."""
    totals = dict.fromkeys(STAGES, 0.0)
    for (filename, _line, function), row in pstats.Stats(profile).stats.items():
        totals[stage_of(filename, function)] += row[2]  # tottime
    return totals


def top_functions(profile, n: int = 12, only: str | None = None) -> list[tuple[str, float]]:
    """The ``n`` functions of most own time (of stage ``only``, if given); ``profile`` is
    a cProfile.Profile or the path of its dump, as for pstats.Stats."""
    rows = []
    for (filename, line, function), row in pstats.Stats(profile).stats.items():
        if only is not None and stage_of(filename, function) != only:
            continue
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else "~"
        rows.append((f"{short}:{line}({function})", row[2]))
    return sorted(rows, key=lambda r: -r[1])[:n]


# Runs one edtrack command in a child process, under cProfile or not, and writes its
# figures (and profile) beside OUT: the benchmark drives edtrack as users do, from outside.
RUNNER = """
import cProfile, json, resource, runpy, sys, time
out, profiled, sys.argv = sys.argv[1], sys.argv[2] == "1", ["edtrack", *sys.argv[3:]]
# The thread's own CPU time, not the wall clock: waits (sockets, locks) cost nothing.
profile = cProfile.Profile(time.thread_time) if profiled else None
usage0, thread0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time(), time.monotonic()
code = 0
if profile is not None:
    profile.enable()
try:
    runpy.run_module("edtrack", run_name="__main__")
except SystemExit as exc:
    code = exc.code
finally:
    if profile is not None:
        profile.disable()
usage1 = resource.getrusage(resource.RUSAGE_SELF)
figures = {
    "wall_s": time.monotonic() - t0,
    "main_thread_s": time.thread_time() - thread0,
    "process_s": sum(getattr(usage1, f) - getattr(usage0, f) for f in ("ru_utime", "ru_stime")),
}
with open(out + ".json", "w") as file:
    json.dump(figures, file)
if profile is not None:
    profile.dump_stats(out + ".prof")
sys.exit(code)
"""


def run_command(args: list[str], out: Path, profiled: bool) -> tuple[str | None, dict]:
    """Run ``edtrack ARGS`` in a child process: (its profile's path or None, figures)."""
    cmd = [sys.executable, "-c", RUNNER, str(out), "1" if profiled else "0", *args]
    subprocess.run(cmd, check=True, cwd=PROJECT_ROOT)
    figures = json.loads(out.with_name(out.name + ".json").read_text())
    return (str(out) + ".prof" if profiled else None), figures


def decoding_floor_us(path: Path, limit: int = 20_000) -> float:
    """kafka-python's own µs per message to decode record batches of these values."""
    from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

    values = []
    with path.open("rb") as lines:
        for line in lines:
            values.append(line.rstrip(b"\n"))
            if len(values) == limit:
                break
    batches = []
    for start in range(0, len(values), 500):
        builder = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=0,
            is_transactional=False,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=64 * 1024 * 1024,
        )
        for offset, value in enumerate(values[start : start + 500]):
            headers = [("source_file", b"x"), ("record_index", b"1"), (DIGEST_HEADER, b"d" * 16)]
            builder.append(offset, timestamp=0, key=b"k" * 36, value=value, headers=headers)
        batches.append(bytes(builder.build()))
    t0 = time.process_time()
    decoded = 0
    for raw in batches:
        for _record in DefaultRecordBatch(raw):
            decoded += 1
    return (time.process_time() - t0) / decoded * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--port-offset", type=int, default=None)
    parser.add_argument("--state-dir", default=None)
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "ingest_profile.json"
    )
    args = parser.parse_args(argv)
    common = []
    if args.port_offset is not None:
        common += ["--port-offset", str(args.port_offset)]
    if args.state_dir is not None:
        common += ["--state-dir", args.state_dir]
    run = uuid.uuid4().hex[:8]

    def command(name: str, data: Path, suffix: str) -> list[str]:
        """``name``'s arguments on a topic (and raw root and schema) of this run's own."""
        topic = f"profile-{run}{suffix}"
        if name == "publish":
            return [*common, "publish", str(data), "--topic", topic]
        root, schema = f"/edtrack/profile-{run}{suffix}", f"profile_{run}{suffix}"
        land = [*common, "land", "--topic", topic, "--root", root, "--schema", schema]
        return [*land, "--until-caught-up"]

    results: dict[str, object] = {"count": args.count}
    with tempfile.TemporaryDirectory(prefix="edtrack-profile-") as tmp:
        data = Path(tmp) / "attempts.jsonl"
        subprocess.run(
            [sys.executable, "-m", "edtrack", "generate", "--count", str(args.count)]
            + ["--output", str(data)],
            check=True,
            cwd=PROJECT_ROOT,
        )
        results["decoding_floor_us"] = round(decoding_floor_us(data), 2)
        for name in ("publish", "land"):
            # Unprofiled first: the figures. Then the same again (another topic, another
            # root) under cProfile, whose shares split the unprofiled main thread's CPU:
            # cProfile's own cost per call inflates small functions' times.
            _, plain = run_command(
                command(name, data, ""), Path(tmp) / f"{name}-plain", profiled=False
            )
            profile, _ = run_command(
                command(name, data, "_p"),
                Path(tmp) / f"{name}-profiled",
                profiled=True,
            )
            assert profile is not None
            stages = by_stage(profile)
            total = sum(stages.values()) or 1.0
            per = 1e6 / args.count
            results[name] = {
                "wall_s": round(plain["wall_s"], 2),
                "process_cpu_us_per_message": round(plain["process_s"] * per, 1),
                "main_thread_cpu_us_per_message": round(plain["main_thread_s"] * per, 1),
                "main_thread_us_per_message": {
                    k: round(v / total * plain["main_thread_s"] * per, 1) for k, v in stages.items()
                },
                "top_functions_s": [(f, round(s, 2)) for f, s in top_functions(profile)],
                "edtrack_functions_s": [
                    (f, round(s, 2)) for f, s in top_functions(profile, 15, only="edtrack")
                ],
            }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))


def render(results: dict) -> str:
    lines = [
        f"µs of CPU per message, {results['count']:,} attempts "
        f"(kafka-python's own decoding: {results['decoding_floor_us']} µs)",
        "",
        "| stage | " + " | ".join(n for n in ("publish", "land") if n in results) + " |",
        "|---|" + "---|" * sum(n in results for n in ("publish", "land")),
    ]
    commands = [results[n] for n in ("publish", "land") if n in results]
    for stage in STAGES:
        cells = " | ".join(str(c["main_thread_us_per_message"][stage]) for c in commands)
        lines.append(f"| {stage} | {cells} |")
    cells = " | ".join(str(c["main_thread_cpu_us_per_message"]) for c in commands)
    lines.append(f"| main thread | {cells} |")
    cells = " | ".join(str(c["process_cpu_us_per_message"]) for c in commands)
    lines.append(f"| whole process (all threads) | {cells} |")
    cells = " | ".join(str(c["wall_s"]) for c in commands)
    lines.append(f"| wall seconds | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
