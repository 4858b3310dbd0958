"""The benchmark suite: edtrack against its peers, stage by stage, at several sizes.

For each size (default 3,280, 100,000 and 1,000,000 attempts) a private stack starts on
a fresh state dir (ports shifted by ``--port-offset``, stopped at the end whatever
happens), and every stage runs on the same generated data, each tool of a pair within
minutes of the other on the same broker, disks and neighbours:

=================  =================================  ==================================
stage              edtrack                            peer
=================  =================================  ==================================
stack start        ``Stack.up()`` on an empty state   the same on the kept state (warm)
                   dir (cold)
publish            ``edtrack publish``                ``kcat -P`` (same keys and values)
land               ``edtrack land --until-caught-up`` ``kcat -C`` to a local file, and
                                                      Spark Structured Streaming
                                                      (``availableNow``) to JSON on HDFS
end to end         publish + land + ``dbt build``     publish + the seed's one Spark
                                                      batch job (Kafka -> parquet on
                                                      HDFS, registered, queried)
warehouse          ``dbt build`` full, then after     (ratio incremental / full)
                   +1 % attempts (next day)
queries            the client catalogue ``queries/``  (p50 / p95 over Thrift, PyHive)
queries under      16 clients run the catalogue       (p50 / p95, failed queries)
a build            while the lander lands +1 % and
                   a ``dbt run`` rebuilds
freshness          continuous lander + a ``dbt run``  (p50 / p95 of publish -> visible
                   loop; single attempts published    in ``marts.mart_exam_popularity``)
                   at intervals
warm demo          ``edtrack demo`` (``make demo``)   (seconds; first size only)
                   on a wiped state dir
=================  =================================  ==================================

Figures: wall seconds, messages/s and MB/s (10^6 bytes of message values), CPU seconds
per 1M attempts (the command's process tree, children included, from the kernel's
``wait4`` accounting, plus the stack's service processes over the same interval, from
psutil), peak RSS per process (polled). Results: ``latest.json``, ``latest.md`` and PNG
plots in ``--output-dir`` (default ``bench/results``). Headline ratios come from the
largest size; every size's figures are under ``runs``.

    make bench                                  # 3,280, 100,000 and 1,000,000
    make bench SIZES="3280 100000"
    .venv/bin/python -m bench.suite --sizes 3280 --smoke --port-offset 17000

kcat comes from Debian (``apt-get install -y kcat``); Spark's Kafka source is fetched
once from Maven Central (``stack/maven/spark-kafka.pom.xml``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench import render
from bench.figures import GOALS, stage_times
from bench.ingest import (
    KCAT_MISSING,
    PARTITIONS,
    Phase,
    check,
    count_lines,
    landed_summary,
    machine_info,
    prepare_kcat_input,
    run_measured,
    say,
    topic_size,
)
from bench.warehouse_build import NEXT_DAY, node_times
from core.errors import UserError
from core.project import PROJECT_ROOT, catalogue, exam_id_of_test_records
from ingestion.topic import DEFAULT_TOPIC
from serving.maintain import LAYERS
from stack import jars, process
from stack.config import DEFAULT_PORTS, StackConfig, from_env
from stack.launcher import Stack
from stack.services import services_for
from stack.services.base import spark_home

BIN = Path(sys.executable).parent
PEERS = Path(__file__).resolve().parent / "peers"
TOPIC = DEFAULT_TOPIC  # the one dbt's raw table is fed from
TOPIC_KCAT = "bench-kcat"
PROBE_EXAM = "bench-fresh-"
DEFAULT_SIZES = [3280, 100_000, 1_000_000]
DEMO_COUNT = 3280  # what `make demo` generates

# --- measuring ------------------------------------------------------------------------


class StackMonitor:
    """Samples the stack's service processes (and their children): peak RSS per
    service, and CPU seconds on demand, so a stage can add the broker's, NameNode's or
    Thrift Server's work to its own."""

    def __init__(self, config: StackConfig, interval_s: float = 0.5) -> None:
        self.config = config
        self.interval_s = interval_s
        self.peak_mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _procs(self) -> dict[str, list[psutil.Process]]:
        procs = {}
        for service in services_for(self.config):
            proc = process.live_process(process.read_record(self.config.run_dir, service.name))
            if proc is not None:
                with contextlib.suppress(psutil.Error):
                    procs[service.name] = [proc, *proc.children(recursive=True)]
        return procs

    def _poll(self) -> None:
        while not self._stop.is_set():
            for name, procs in self._procs().items():
                total = 0
                for proc in procs:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
                self.peak_mb[name] = round(max(self.peak_mb.get(name, 0), total / 2**20), 1)
            self._stop.wait(self.interval_s)

    def cpu_s(self) -> float:
        total = 0.0
        for procs in self._procs().values():
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    t = proc.cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
        return total

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return dict(self.peak_mb)


class Heartbeat:
    """Every ``every_s`` seconds, prints the last progress line the command wrote to its
    stderr (tqdm bars, the lander's reports, dbt's node lines), so long stages show life."""

    def __init__(self, label: str, path: Path, every_s: float = 20.0) -> None:
        self.label, self.path, self.every_s = label, path, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            with contextlib.suppress(OSError):
                tail = self.path.read_bytes()[-2000:].decode("utf-8", "replace")
                lines = [x.strip() for x in tail.replace("\r", "\n").splitlines() if x.strip()]
                if lines:
                    say(f"  {self.label}: {lines[-1][:150]}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(
    label: str,
    cmd: list[str],
    env: dict[str, str],
    log_dir: Path,
    monitor: StackMonitor,
    stdout: Path | None = None,
) -> dict:
    """``run_measured`` (wall, CPU of the process tree, peak RSS) plus the stack's CPU
    over the same interval; exits with the command's log tail if it fails."""
    stack_before = monitor.cpu_s()
    progress_file = log_dir / f"{label}.{'stdout' if 'dbt' in label else 'stderr'}"
    beat = Heartbeat(label, progress_file)
    try:
        measured = run_measured(label, cmd, env, log_dir, stdout=stdout)
    finally:
        beat.stop()
    measured.pop("rss_series", None)
    measured["stack_cpu_s"] = round(monitor.cpu_s() - stack_before, 2)
    measured["peak_rss_mb"] = round(measured["peak_rss_mb"], 1)
    measured["max_rss_mb"] = round(measured["max_rss_mb"], 1)
    return measured


def latency_summary(latencies: list[float]) -> dict:
    """Runs, median, 95th percentile, maximum and every latency (seconds)."""
    return {
        "runs": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 95), 3),
        "max_s": round(max(latencies), 3),
        "latencies_s": [round(x, 3) for x in latencies],
    }


def with_rates(measured: dict, messages: int, value_bytes: int) -> dict:
    seconds = measured["seconds"]
    cpu = measured["cpu_s"] + measured.get("stack_cpu_s", 0.0)
    return {
        **measured,
        "messages": messages,
        "messages_per_s": round(messages / seconds, 1),
        "mb_per_s": round(value_bytes / 1e6 / seconds, 2),
        "cpu_s_total": round(cpu, 2),
        "cpu_s_per_1m": round(cpu / messages * 1e6, 1),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- stages ---------------------------------------------------------------------------


class Run:
    """One size: a private stack and every stage against it."""

    def __init__(self, args: argparse.Namespace, count: int, tmp: Path, first: bool) -> None:
        self.args, self.count, self.tmp, self.first = args, count, tmp, first
        env_base = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
        cache = os.environ.get("EDTRACK_CACHE_DIR")
        self.config = dataclasses.replace(
            from_env(
                env_base, state_dir=tmp / "state", cache_dir=cache, port_offset=args.port_offset
            ),
            start_timeout_s=args.start_timeout_s,
        )
        self.env = {
            **env_base,
            **({"EDTRACK_CACHE_DIR": cache} if cache else {}),
            "EDTRACK_STATE_DIR": str(self.config.state_dir),
            "EDTRACK_PORT_OFFSET": str(args.port_offset),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "DBT_TARGET": "local",
            "DBT_THRIFT_HOST": self.config.host,
            "DBT_THRIFT_PORT": str(self.config.ports["thrift"]),
            "DBT_TARGET_PATH": str(tmp / "target"),
            "DBT_LOG_PATH": str(tmp / "dbt-logs"),
        }
        self.stack = Stack(self.config, log=lambda m: say(f"stack: {m}"))
        self.logs = tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.edtrack = str(BIN / "edtrack")
        self.dbt = str(BIN / "dbt")
        self.out: dict = {"attempts": count}

    # .. stack ..........................................................................
    def start_stack(self) -> None:
        with Phase(f"[{self.count:,}] stack cold start"):
            t0 = time.monotonic()
            self.stack.up()
            cold = time.monotonic() - t0
        self.out["stack_start"] = {"cold_s": round(cold, 2)}
        if self.first:
            with Phase(f"[{self.count:,}] stack warm start (down, then up on the kept state)"):
                self.stack.down()
                t0 = time.monotonic()
                self.stack.up()
                self.out["stack_start"]["warm_s"] = round(time.monotonic() - t0, 2)
        self.monitor = StackMonitor(self.config)

    def stop_stack(self) -> None:
        if hasattr(self, "monitor"):
            self.out["stack_peak_rss_mb"] = self.monitor.stop()
        with Phase(f"[{self.count:,}] stack down"):
            self.stack.down()

    # .. data ...........................................................................
    def generate(self) -> None:
        self.data = self.tmp / "attempts.jsonl"
        self.extra = self.tmp / "extra.jsonl"
        self.keyed = self.tmp / "attempts.keyed.tsv"
        gen = [self.edtrack, "generate", "--seed", str(self.args.seed)]
        self._run("generate", gen + ["--count", str(self.count), "--output", str(self.data)])
        self.extra_count = max(1, self.count // 100)
        # Two more 1 % of new attempts: one for the incremental build, one landed while
        # clients query (queries_under_build).
        self.under_build = self.tmp / "under-build.jsonl"
        for seed, path in (
            (self.args.seed + 1, self.extra),
            (self.args.seed + 3, self.under_build),
        ):
            self._run(
                f"generate +1 % ({path.name})",
                [self.edtrack, "generate", "--seed", str(seed)]
                + ["--count", str(self.extra_count), "--output", str(path)]
                + ["--start", NEXT_DAY, "--days", "1"],
            )
        with Phase(f"[{self.count:,}] prepare kcat input"):
            lines, self.value_bytes = prepare_kcat_input(self.data, self.keyed)
        check("generated", lines, self.count)
        self.out["value_bytes"] = self.value_bytes

    def _run(self, label: str, cmd: list[str]) -> None:
        with Phase(f"[{self.count:,}] {label}"):
            result = subprocess.run(
                cmd, env=self.env, cwd=PROJECT_ROOT, capture_output=True, text=True
            )
        if result.returncode != 0:
            sys.exit(f"{label} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")

    def _measure(
        self, label: str, cmd: list[str], stdout: Path | None = None, env: dict | None = None
    ) -> dict:
        return measure(
            f"[{self.count:,}] {label}", cmd, env or self.env, self.logs, self.monitor, stdout
        )

    def spark_env(self) -> dict[str, str]:
        """The Thrift Server's Spark settings (HDFS, metastore, warehouse, Java, UTC)."""
        keep = ("JAVA_HOME", "SPARK_HOME", "SPARK_CONF_DIR", "HADOOP_CONF_DIR", "SPARK_LOCAL_IP")
        stack_env = self.stack.env()
        return {**self.env, **{k: stack_env[k] for k in keep}, "TZ": "UTC"}

    # .. publish ........................................................................
    def publish(self) -> None:
        from ingestion.publish import PublishConfig, ensure_topic

        bootstrap = self.config.kafka_bootstrap
        for topic in (TOPIC, TOPIC_KCAT):
            ensure_topic(bootstrap, topic, PARTITIONS)
        producer = PublishConfig(bootstrap="-")
        kcat_flags = ["-X", "acks=all", "-X", "enable.idempotence=true"]
        kcat_flags += ["-X", f"linger.ms={producer.linger_ms}"]
        kcat_flags += ["-X", f"batch.size={producer.batch_size}", "-X", "compression.codec=none"]
        edtrack = self._measure("publish edtrack", [self.edtrack, "publish", str(self.data)])
        kcat = self._measure(
            "publish kcat",
            ["kcat", "-P", "-b", bootstrap, "-t", TOPIC_KCAT, "-K", "\t", "-l"]
            + kcat_flags
            + [str(self.keyed)],
        )
        check(f"topic {TOPIC}", topic_size(bootstrap, TOPIC), self.count)
        check(f"topic {TOPIC_KCAT}", topic_size(bootstrap, TOPIC_KCAT), self.count)
        self.out["publish"] = {
            "edtrack": with_rates(edtrack, self.count, self.value_bytes),
            "kcat": with_rates(kcat, self.count, self.value_bytes),
        }

    # .. land ...........................................................................
    def land(self) -> None:
        bootstrap = self.config.kafka_bootstrap
        edtrack = self._measure("land edtrack", [self.edtrack, "land", "--until-caught-up"])
        landed = landed_summary(self.logs / f"[{self.count:,}] land edtrack.stderr")
        check("landed by edtrack", landed["landed"], self.count)
        # The same topic again, into a folder of its own, by two landers in one group.
        two_cmd = [self.edtrack, "land", "--until-caught-up", "--processes", "2"]
        two_cmd += ["--group-id", "bench-two-landers", "--root", "/bench/two-landers"]
        two = self._measure("land edtrack x2", [*two_cmd, "--schema", "bench_two_landers"])
        two_landed = landed_summary(self.logs / f"[{self.count:,}] land edtrack x2.stderr")
        check("landed by two edtrack landers", two_landed["landed"], self.count)
        consumed = self.tmp / "consumed.jsonl"
        kcat = self._measure(
            "land kcat (consume to a file)",
            ["kcat", "-C", "-b", bootstrap, "-t", TOPIC, "-o", "beginning", "-e", "-q"]
            + ["-f", "%s\\n"],
            stdout=consumed,
        )
        check("consumed by kcat", count_lines(consumed), self.count)
        consumed.unlink()
        stream_out = self.logs / "spark-streaming.stdout"
        hdfs = self.config.hdfs_url
        spark = self._measure(
            "land spark streaming",
            self.spark_submit(
                "spark_streaming_land.py",
                bootstrap,
                TOPIC,
                f"{hdfs}/bench/spark-streaming/out",
                f"{hdfs}/bench/spark-streaming/checkpoint",
            ),
            stdout=stream_out,
            env=self.spark_env(),
        )
        report = last_json(stream_out)
        check("landed by Spark Structured Streaming", report["rows"], self.count)
        self.out["land"] = {
            "edtrack": {**with_rates(edtrack, self.count, self.value_bytes), **landed},
            "edtrack_two_landers": {
                **with_rates(two, self.count, self.value_bytes),
                **two_landed,
            },
            "kcat": with_rates(kcat, self.count, self.value_bytes),
            "spark_streaming": {**with_rates(spark, self.count, self.value_bytes), **report},
        }

    def spark_submit(self, script: str, *args: str) -> list[str]:
        jar_dir = jars.fetch(self.config.jars_dir, "spark-kafka", lambda m: say(m))
        return [
            str(spark_home() / "bin" / "spark-submit"),
            "--master",
            "local[2]",
            "--driver-memory",
            "1g",
            "--jars",
            ",".join(str(p) for p in sorted(jar_dir.glob("*.jar"))),
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            f"spark.local.dir={self.tmp / 'spark-local'}",
            str(PEERS / script),
            *args,
        ]

    # .. warehouse ......................................................................
    def seed_batch(self) -> None:
        schema_file = self.tmp / "payload-schema.ddl"
        schema_file.write_text(payload_schema())
        out_file = self.logs / "seed-batch.stdout"
        seed = self._measure(
            "seed batch (Spark: Kafka -> parquet -> query)",
            self.spark_submit(
                "seed_batch.py", self.config.kafka_bootstrap, TOPIC, str(schema_file)
            ),
            stdout=out_file,
            env=self.spark_env(),
        )
        report = last_json(out_file)
        check("rows written by the seed batch job", report["rows"], self.count)
        self.out["seed_batch"] = {**with_rates(seed, self.count, self.value_bytes), **report}

    def dbt_full(self, key: str = "dbt_full", label: str = "full") -> None:
        command = self.args.dbt_command
        if command == "run":
            # `dbt run` builds models only: the reference data (the ownership seeds that
            # the shared tables read) first, as `dbt build` does itself.
            self._run("dbt seed", [self.dbt, "seed"])
        full = self._measure(f"dbt {command} ({label})", [self.dbt, command])
        self.out[key] = {
            **full,
            "command": f"dbt {command}",
            "slowest_nodes_s": dict(list(node_times(self.tmp / "target").items())[:10]),
        }

    def dbt_full_warm(self) -> None:
        """The same full build again on the same Thrift Server, whose JVM the first one
        warmed up (its JIT compiles most of the server's code during the first build).
        The warehouse's schemas are dropped first, so it creates every table anew."""
        for layer in LAYERS:
            self._run(
                f"drop schema {layer}",
                [self.edtrack, "sql", f"drop schema if exists {layer} cascade"],
            )
        self.dbt_full("dbt_full_warm", "full, again on the warm server")

    def dbt_incremental(self) -> None:
        command = self.args.dbt_command
        self._run("publish +1 %", [self.edtrack, "publish", str(self.extra)])
        self._run("land +1 %", [self.edtrack, "land", "--until-caught-up"])
        inc = self._measure(f"dbt {command} (incremental, +1 %)", [self.dbt, command])
        self.out["dbt_incremental"] = {
            **inc,
            "command": f"dbt {command}",
            "added_attempts": self.extra_count,
            "slowest_nodes_s": dict(list(node_times(self.tmp / "target").items())[:10]),
        }

    # .. serving ........................................................................
    def queries(self) -> None:
        from core import sql

        conn = sql.connect(self.config.host, self.config.ports["thrift"])
        per_query: dict[str, list[float]] = {}
        queries = catalogue()
        with Phase(f"[{self.count:,}] query catalogue ({len(queries)} queries)"):
            try:
                sql.run(conn, "select 1")  # the session's first statement pays set-up
                for rep in range(self.args.query_reps):
                    for query in queries:
                        t0 = time.monotonic()
                        sql.run(conn, query.text)
                        per_query.setdefault(query.name, []).append(time.monotonic() - t0)
                    say(f"  queries: round {rep + 1}/{self.args.query_reps} done")
            finally:
                conn.close()
        latencies = [x for xs in per_query.values() for x in xs]
        self.out["queries"] = {
            **latency_summary(latencies),
            "median_by_query_s": {k: round(statistics.median(v), 3) for k, v in per_query.items()},
        }

    def queries_under_build(self) -> None:
        """Clients during landing and a build: ``--build-clients`` connections, each of its
        own, run the query catalogue round and round (each client starting at another
        query) while the lander lands another 1 % and a ``dbt run`` then rebuilds the
        warehouse from it. A failed query is counted, not retried."""
        from core import sql

        queries, clients = catalogue(), self.args.build_clients
        host, port = self.config.host, self.config.ports["thrift"]
        self._run(
            "publish +1 % (for the queries under a build)",
            [self.edtrack, "publish", str(self.under_build)],
        )
        stop = threading.Event()
        lock = threading.Lock()
        latencies: list[float] = []
        failures: list[str] = []

        def client(index: int) -> None:
            try:
                conn = sql.connect(host, port)
            except UserError as error:
                with lock:
                    failures.append(f"client {index}: {error}")
                return
            try:
                sql.run(conn, "select 1")  # the session's set-up, as in queries()
                i = index
                while not stop.is_set():
                    query = queries[i % len(queries)]
                    i += 1
                    t0 = time.monotonic()
                    try:
                        sql.run(conn, query.text)
                    except UserError as error:
                        with lock:
                            failures.append(f"{query.name}: {error}")
                        continue
                    with lock:
                        latencies.append(time.monotonic() - t0)
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        label = f"[{self.count:,}] {clients} clients during landing and dbt run"
        with Phase(label):
            for thread in threads:
                thread.start()
            try:
                t0 = time.monotonic()
                self._run(
                    "land +1 % (clients querying)", [self.edtrack, "land", "--until-caught-up"]
                )
                land_s = time.monotonic() - t0
                t0 = time.monotonic()
                self._run("dbt run (clients querying)", [self.dbt, "run"])
                dbt_s = time.monotonic() - t0
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=self.args.start_timeout_s)
        if not latencies:
            sys.exit(f"{label}: no query answered ({len(failures)} failed); see {self.logs}")
        self.out["queries_under_build"] = {
            "clients": clients,
            "land_s": round(land_s, 2),
            "dbt_run_s": round(dbt_s, 2),
            **latency_summary(latencies),
            "failed": len(failures),
            "failures": failures[:20],
        }
        say(
            f"  under build: {len(latencies)} queries, p50 "
            f"{self.out['queries_under_build']['p50_s']} s, p95 "
            f"{self.out['queries_under_build']['p95_s']} s, {len(failures)} failed"
        )

    def freshness(self) -> None:
        """Continuous mode: the lander runs, a ``dbt run`` loop rebuilds the path to
        ``mart_exam_popularity``, single attempts (each with its own exam id) are
        published at intervals; each is timed from publish until a query finds it."""
        from core import sql
        from ingestion import generate as gen
        from ingestion.publish import PublishConfig
        from ingestion.publish import publish as publish_file

        probes, interval = self.args.fresh_probes, self.args.fresh_interval_s
        lander_log = open(self.logs / "freshness-lander.stderr", "wb")  # noqa: SIM115
        lander = subprocess.Popen(
            [self.edtrack, "land", "--batch-age", "1"],
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=lander_log,
            stderr=subprocess.STDOUT,
        )
        stop = threading.Event()
        dbt_runs: list[float] = []
        current: list[subprocess.Popen] = []
        select = ["--select", f"+{self.args.fresh_model}"]

        def dbt_loop() -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                with open(self.logs / "freshness-dbt.stdout", "ab") as log:
                    proc = subprocess.Popen(
                        [self.dbt, "run", *select],
                        env=self.env,
                        cwd=PROJECT_ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                    current[:] = [proc]
                    code = proc.wait()
                if code == 0:
                    dbt_runs.append(round(time.monotonic() - t0, 2))
                    say(f"  freshness: dbt run #{len(dbt_runs)} took {dbt_runs[-1]:.1f} s")
                elif not stop.is_set():
                    say(f"  freshness: dbt run failed (exit {code}); see freshness-dbt.stdout")
                    stop.wait(5)

        template = next(  # an ordinary attempt: not a test record, with counts
            r
            for r in gen.generate(100, self.args.seed + 2, start=_next_day(), days=1)
            if r["base_exam_id"] != exam_id_of_test_records() and "counts" in r.get("sequences", {})
        )
        published: dict[str, float] = {}
        seen: dict[str, float] = {}
        conn = sql.connect(self.config.host, self.config.ports["thrift"])
        loop = threading.Thread(target=dbt_loop, daemon=True)
        rng = random.Random(self.args.seed)
        with Phase(f"[{self.count:,}] freshness ({probes} probes every {interval:.0f} s)"):
            loop.start()
            t_start = time.monotonic()
            deadline = t_start + probes * interval + self.args.fresh_timeout_s
            try:
                while len(seen) < probes and time.monotonic() < deadline:
                    if (
                        len(published) < probes
                        and time.monotonic() >= t_start + len(published) * interval
                    ):
                        exam = f"{PROBE_EXAM}{len(published)}"
                        record = {
                            **template,
                            "base_exam_id": exam,
                            "keen_id": template["keen_id"][:8] + f"{rng.getrandbits(64):016x}",
                        }
                        path = self.tmp / f"probe-{len(published)}.jsonl"
                        path.write_text(json.dumps(record) + "\n")
                        t0 = time.monotonic()
                        publish_file(path, PublishConfig(bootstrap=self.config.kafka_bootstrap))
                        published[exam] = t0
                        say(f"  freshness: published probe {exam}")
                    try:
                        # A new session per poll, as `edtrack sql` opens: a Thrift
                        # session caches the file listing of a table it has read, so a
                        # long-lived one keeps seeing the mart as it was.
                        conn.close()
                        conn = sql.connect(self.config.host, self.config.ports["thrift"])
                        rows = sql.run(
                            conn,
                            "select base_exam_id from marts.mart_exam_popularity "
                            "where base_exam_id like %(p)s",
                            {"p": PROBE_EXAM + "%"},
                        ).rows
                    except UserError:
                        rows = []  # the mart is being overwritten: ask again
                    now = time.monotonic()
                    for (exam,) in rows:
                        if exam in published and exam not in seen:
                            seen[exam] = now - published[exam]
                            say(f"  freshness: {exam} visible after {seen[exam]:.1f} s")
                    time.sleep(self.args.fresh_poll_s)
            finally:
                stop.set()
                conn.close()
                for proc in current:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGINT)
                loop.join(timeout=120)
                lander.send_signal(signal.SIGINT)
                try:
                    lander.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    lander.kill()
                    lander.wait()
                lander_log.close()
        missing = [exam for exam in published if exam not in seen]
        if missing or not seen:
            say(
                f"  freshness: {len(missing)} of {probes} probes not visible within "
                f"{self.args.fresh_timeout_s:.0f} s; counted at that time (censored)"
            )
        end = time.monotonic()
        values = list(seen.values()) + [end - published[exam] for exam in missing]
        if not values:
            sys.exit(f"freshness: no probe was published; see {self.logs}")
        self.out["freshness"] = {
            "probes": probes,
            "interval_s": interval,
            "model": self.args.fresh_model,
            "p50_s": round(statistics.median(values), 2),
            "p95_s": round(percentile(values, 95), 2),
            "max_s": round(max(values), 2),
            "latencies_s": [round(v, 2) for v in values],
            "censored": len(missing),
            "dbt_run_s": dbt_runs,
        }

    def warm_demo(self) -> None:
        """``make demo`` as a user who has run it before: venv and jars present, the
        state wiped. Its own stack (the run's is down by now), stopped afterwards."""
        state = self.tmp / "demo-state"
        flags = ["--state-dir", str(state), "--port-offset", str(self.args.port_offset)]
        env = {k: v for k, v in self.env.items() if not k.startswith(("EDTRACK_", "DBT_"))}
        env["DBT_PROFILES_DIR"] = str(PROJECT_ROOT / "profiles")
        cache = os.environ.get("EDTRACK_CACHE_DIR")
        env.update({"EDTRACK_CACHE_DIR": cache} if cache else {})
        try:
            demo = self._measure(
                "warm demo (make demo, state wiped)",
                [self.edtrack, *flags, "demo", "--count", str(DEMO_COUNT)],
                env=env,
            )
        finally:
            subprocess.run(
                [self.edtrack, *flags, "stack", "down", "--wipe"],
                env=env,
                cwd=PROJECT_ROOT,
                capture_output=True,
            )
        self.out["demo_warm"] = {"attempts": DEMO_COUNT, "seconds": demo["seconds"]}

    # .. all ............................................................................
    def execute(self) -> dict:
        say(f"=== {self.count:,} attempts ===")
        t0 = time.monotonic()
        try:
            self.start_stack()
            self.generate()
            self.publish()
            self.land()
            self.dbt_full()
            if self.first:
                self.dbt_full_warm()
            self.queries()
            self.seed_batch()
            self.dbt_incremental()
            self.queries_under_build()
            if self.first or not self.args.freshness_first_size_only:
                self.freshness()
        finally:
            self.stop_stack()
        if self.first and self.args.demo:
            self.warm_demo()
        self.out["total_s"] = round(time.monotonic() - t0, 1)
        self.out["ratios"] = ratios(self.out)
        return self.out


def _next_day():
    import datetime as dt

    return dt.datetime.strptime(NEXT_DAY, "%Y-%m-%d").replace(tzinfo=dt.UTC)


def last_json(path: Path) -> dict:
    for line in reversed(path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"{path} holds no JSON report line")


def payload_schema() -> str:
    """The payload schema of the dbt macro, as one DDL string for ``from_json``."""
    from jinja2 import Environment

    text = (PROJECT_ROOT / "warehouse" / "macros" / "assessment_attempt_schema.sql").read_text()
    rendered = Environment().from_string(text + "{{ assessment_attempt_schema() }}").render()
    return " ".join(rendered.split())


def ratios(run: dict) -> dict:
    """Throughput ratios edtrack / peer (> 1: edtrack faster), end to end as peer time /
    edtrack time (the same thing for a fixed amount of data), incremental / full."""
    pub, land = run["publish"], run["land"]
    e2e_edtrack = pub["edtrack"]["seconds"] + land["edtrack"]["seconds"]
    e2e_edtrack += run["dbt_full"]["seconds"]
    e2e_seed = pub["edtrack"]["seconds"] + run["seed_batch"]["seconds"]
    return {
        "publish_vs_kcat": round(pub["kcat"]["seconds"] / pub["edtrack"]["seconds"], 3),
        "land_vs_kcat": round(land["kcat"]["seconds"] / land["edtrack"]["seconds"], 3),
        "land_vs_spark_streaming": round(
            land["spark_streaming"]["seconds"] / land["edtrack"]["seconds"], 3
        ),
        **two_landers(land),
        "end_to_end_vs_seed_batch": round(e2e_seed / e2e_edtrack, 3),
        "end_to_end_edtrack_s": round(e2e_edtrack, 2),
        "end_to_end_seed_batch_s": round(e2e_seed, 2),
        "incremental_vs_full": round(
            run["dbt_incremental"]["seconds"] / run["dbt_full"]["seconds"], 3
        ),
    }


def two_landers(land: dict) -> dict:
    """Two landers in one group against one, and against Spark Structured Streaming
    (absent from results written before the benchmark measured two)."""
    two = land.get("edtrack_two_landers")
    if two is None:
        return {}
    return {
        "land_two_vs_one_lander": round(land["edtrack"]["seconds"] / two["seconds"], 3),
        "land_two_landers_vs_spark_streaming": round(
            land["spark_streaming"]["seconds"] / two["seconds"], 3
        ),
    }


def under_build(run: dict) -> dict:
    """Client query latency during landing and a build (absent from results written
    before the benchmark measured it)."""
    q = run.get("queries_under_build")
    if q is None:
        return {}
    return {
        "query_under_build_p50_s": q["p50_s"],
        "query_under_build_p95_s": q["p95_s"],
        "query_under_build_failed": q["failed"],
    }


def scaling(runs: list[dict]) -> dict:
    """How each stage's time grows with size: the exponent k of time ~ size^k between
    consecutive sizes (1 = linear; below 1, fixed costs still dominate)."""
    stages = stage_times(runs[0]).keys()
    out: dict = {}
    for a, b in zip(runs, runs[1:], strict=False):
        ta, tb = stage_times(a), stage_times(b)
        key = f"{a['attempts']}->{b['attempts']}"
        out[key] = {
            s: round(math.log(tb[s] / ta[s]) / math.log(b["attempts"] / a["attempts"]), 2)
            for s in stages
            if ta[s] > 0 and tb[s] > 0
        }
    return out


def summarise(runs: list[dict], args: argparse.Namespace, started: float) -> dict:
    largest = max(runs, key=lambda r: r["attempts"])
    with_fresh = [r for r in runs if "freshness" in r]
    fresh = with_fresh[-1]["freshness"]
    out: dict = {
        "suite": "edtrack bench",
        **machine_info(),
        "sizes": [r["attempts"] for r in runs],
        "headline_size": largest["attempts"],
        **{k: v for k, v in largest["ratios"].items()},
        "query_p50_s": largest["queries"]["p50_s"],
        "query_p95_s": largest["queries"]["p95_s"],
        **under_build(largest),
        "dbt_full_smallest_s": runs[0]["dbt_full"]["seconds"],
        "dbt_full_smallest_size": runs[0]["attempts"],
        "dbt_full_warm_smallest_s": runs[0].get("dbt_full_warm", {}).get("seconds"),
        "demo_warm_s": runs[0].get("demo_warm", {}).get("seconds"),
        "freshness_p50_s": fresh["p50_s"],
        "freshness_p95_s": fresh["p95_s"],
        "freshness_size": with_fresh[-1]["attempts"],
        "stack_cold_start_s": runs[0]["stack_start"]["cold_s"],
        "stack_warm_start_s": runs[0]["stack_start"].get("warm_s"),
        "settings": {
            "port_offset": args.port_offset,
            "dbt_command": f"dbt {args.dbt_command}",
            "query_reps": args.query_reps,
            "fresh_probes": args.fresh_probes,
            "fresh_interval_s": args.fresh_interval_s,
            "fresh_model": args.fresh_model,
            "spark_peers": "spark-submit --master local[2] --driver-memory 1g",
            "smoke": args.smoke,
        },
        "runs": {str(r["attempts"]): r for r in runs},
        "scaling_exponents": scaling(runs) if len(runs) > 1 else {},
        "suite_s": round(time.monotonic() - started, 1),
    }
    out["machine"]["load_average_at_start"] = getattr(args, "load_at_start", None)
    out["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    goals = {}
    for key, op, target in GOALS:
        value = out.get(key)
        if value is None:
            continue  # not measured in this run
        holds = value >= target if op == ">=" else value <= target
        goals[key] = {"value": value, "target": f"{op} {target}", "holds": holds}
    out["goals"] = goals
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--port-offset", type=int, default=int(os.environ.get("BENCH_PORT_OFFSET", "12000"))
    )
    parser.add_argument(
        "--start-timeout-s",
        type=float,
        default=600.0,
        help="How long the stack may take to become healthy (a busy machine is slow).",
    )
    parser.add_argument("--output-dir", type=Path, default=PROJECT_ROOT / "bench" / "results")
    parser.add_argument(
        "--dbt-command",
        choices=["build", "run"],
        default="build",
        help="What the full and incremental warehouse stages run (build: models + tests).",
    )
    parser.add_argument("--query-reps", type=int, default=5, help="Rounds of the catalogue.")
    parser.add_argument("--fresh-probes", type=int, default=10)
    parser.add_argument("--fresh-interval-s", type=float, default=30.0)
    parser.add_argument("--fresh-poll-s", type=float, default=1.0)
    parser.add_argument("--fresh-timeout-s", type=float, default=600.0)
    parser.add_argument("--fresh-model", default="mart_exam_popularity")
    parser.add_argument(
        "--freshness-all-sizes",
        dest="freshness_first_size_only",
        action="store_false",
        help="Measure freshness at every size (default: the first only).",
    )
    parser.add_argument(
        "--build-clients",
        type=int,
        default=16,
        help="Client connections querying while the lander and a dbt run work.",
    )
    parser.add_argument(
        "--no-demo",
        dest="demo",
        action="store_false",
        help="Skip the warm `make demo` after the first size.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="Short settings for CI: dbt run, 1 query round, 2 freshness probes 10 s apart.",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="Draw latest.md and the plots again from the output dir's latest.json.",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        write_report(json.loads((args.output_dir / "latest.json").read_text()), args.output_dir)
        return
    if args.smoke:
        args.dbt_command, args.query_reps, args.build_clients = "run", 1, 4
        args.fresh_probes, args.fresh_interval_s, args.fresh_timeout_s = 2, 10.0, 300.0
    if shutil.which("kcat") is None:
        sys.exit(KCAT_MISSING)
    if args.port_offset < 1 or args.port_offset + max(DEFAULT_PORTS.values()) > 32767:
        sys.exit("--port-offset must be positive and keep every port below 32768.")
    started = time.monotonic()
    args.load_at_start = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for i, count in enumerate(sorted(set(args.sizes))):
        with tempfile.TemporaryDirectory(prefix=f"edtrack-bench-{count}-") as tmp:
            try:
                runs.append(Run(args, count, Path(tmp), first=(i == 0)).execute())
            except UserError as error:
                sys.exit(f"the private stack failed: {error}")
        # Written after every size, so a long run stopped part-way keeps what it measured.
        results = summarise(runs, args, started)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        (args.output_dir / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
        write_report(results, args.output_dir)
        done = ", ".join(f"{run['attempts']:,}" for run in runs)
        say(f"results for {done} attempts written to {args.output_dir}")


def write_report(results: dict, out_dir: Path) -> None:
    markdown = render.markdown(results)
    (out_dir / "latest.md").write_text(markdown)
    render.plots(results, out_dir)
    print(markdown)
    say(f"wrote latest.json, latest.md and plots to {out_dir}")


if __name__ == "__main__":
    main()
