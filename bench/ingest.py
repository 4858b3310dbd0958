"""Ingestion throughput: ``edtrack publish`` and ``edtrack land`` against kcat.

One private stack (ports shifted by ``--port-offset``, a temporary state dir, stopped at
the end whatever happens) serves the whole run, so both tools of a pair meet the same
broker, disks and neighbours within minutes of each other. The machine is small and
shared: read the ratios edtrack / kcat (target >= 0.5 for both), not the absolute rates.

1. Publish the same generated JSON Lines file twice, each run into an empty topic of 3
   partitions created beforehand by edtrack's ``ensure_topic`` (so neither run pays for
   creating it): ``edtrack publish FILE --topic A`` against ``kcat -P -l -K TAB`` into
   topic B. Both producers use ``acks=all``, idempotence, no compression, and edtrack's
   own ``linger_ms`` and ``batch_size``. Both send the same value bytes (the generated
   lines are already compact JSON) keyed by ``keen_id``: kcat reads ``keen_id<TAB>line``
   from a copy of the file prepared before the clock starts. The two hash keys to
   partitions differently (murmur2 in kafka-python, CRC32 in librdkafka), which only
   changes which partition a key lands on. What remains different is edtrack's own
   work, which is the point of comparing: edtrack parses every line (to validate it and
   to find the key and the event time) and re-encodes it, checks every delivery, and
   sends two headers (``source_file``, ``record_index``) and the attempt's
   ``keen_timestamp`` as the Kafka timestamp; kcat sends no headers and stamps messages
   with the time of sending.
2. Land topic A: ``edtrack land --until-caught-up --topic A`` (classify each message,
   wrap it in the raw table's envelope, write JSON Lines to HDFS, rename, register the
   partitions in the metastore, commit offsets) against
   ``kcat -C -t A -o beginning -e -f '%s\\n' > FILE`` (the same messages to a local
   file, nothing else). The lander's wall time includes its start-up: the Thrift
   connection, creating the raw tables and registering each date partition.
3. The lander's peak RSS (its process tree polled with psutil, and the kernel's
   high-water mark of the process) and the batch settings it ran with.

Rates are messages and megabytes (10^6 bytes of message values) per second of wall
time, from starting the command to its exit. Every count is checked: both topics hold
N messages, the lander reports N landed, kcat's file holds N lines.

    .venv/bin/python bench/ingest.py                  # 1,000,000 attempts
    .venv/bin/python bench/ingest.py --count 100000

kcat comes from Debian: ``apt-get install -y kcat``. Disk: the input, its keyed copy,
two topics, the landed files and kcat's output, about 16 GB at 1,000,000 attempts, in
the system's temporary directory (``TMPDIR``), deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from importlib import metadata
from pathlib import Path

import orjson
import psutil

from core.errors import UserError
from core.project import PROJECT_ROOT
from ingestion.topic import topic_size
from stack.config import from_env
from stack.launcher import Stack

BIN = Path(sys.executable).parent
RESULTS = PROJECT_ROOT / "bench" / "results"
TOPIC_EDTRACK = "bench-edtrack"
TOPIC_KCAT = "bench-kcat"
PARTITIONS = 3
TARGET_RATIO = 0.5
KCAT_MISSING = (
    "kcat is not on PATH: install it with 'apt-get install -y kcat' "
    "(prefix sudo if you are not root) and run the benchmark again."
)

_t0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _t0:7.1f} s] {message}", file=sys.stderr, flush=True)


class Phase:
    """Logs a phase's start and end on stderr and keeps its duration."""

    durations: dict[str, float] = {}

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> Phase:
        say(f"{self.name} ...")
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.start
        Phase.durations[self.name] = round(seconds, 2)
        say(f"{self.name}: {seconds:.1f} s")


class PeakRss:
    """Polls the RSS of a process and its children; keeps the peak of their sum, and a
    sample a second (elapsed seconds, MB) to show whether memory levels off."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak = 0
        self.samples: list[tuple[float, float]] = []
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for proc in procs:
                    with contextlib.suppress(psutil.Error):  # a child that just exited
                        total += proc.memory_info().rss
                self.peak = max(self.peak, total)
                elapsed = time.monotonic() - self._start
                if not self.samples or elapsed - self.samples[-1][0] >= 1.0:
                    self.samples.append((round(elapsed, 1), round(total / 2**20, 1)))
            except psutil.Error:
                return
            self._stop.wait(self.interval_s)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_measured(
    label: str, cmd: list[str], env: dict[str, str], log_dir: Path, stdout: Path | None = None
) -> dict[str, float]:
    """Run ``cmd`` to completion: wall time, CPU time (user + sys) and memory.

    Memory two ways: the peak of the process tree's summed RSS, polled with psutil every
    0.1 s (may miss a short spike), and the kernel's high-water mark of the process's own
    RSS (``ru_maxrss`` from ``wait4``; threads included, child processes not).
    """
    err_path = log_dir / f"{label}.stderr"
    out_path = stdout or log_dir / f"{label}.stdout"
    with Phase(label), open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=err)
        rss = PeakRss(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        peak = rss.stop()
    if code != 0:
        tail = err_path.read_bytes()[-3000:].decode("utf-8", "replace")
        sys.exit(f"{label} failed (exit {code}): {' '.join(cmd)}\n{tail}")
    return {
        "seconds": round(seconds, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": peak / 2**20,
        "max_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "rss_series": rss.samples,
    }


def rates(measured: dict[str, float], messages: int, value_bytes: int) -> dict[str, float]:
    seconds = measured["seconds"]
    return {
        **measured,
        "messages": messages,
        "messages_per_s": round(messages / seconds, 1),
        "mb_per_s": round(value_bytes / 1e6 / seconds, 2),
        "cpu_us_per_message": round(measured["cpu_s"] / messages * 1e6, 1),
        "peak_rss_mb": round(measured["peak_rss_mb"], 1),
        "max_rss_mb": round(measured["max_rss_mb"], 1),
    }


def prepare_kcat_input(source: Path, target: Path) -> tuple[int, int]:
    """Write ``keen_id<TAB>line`` per line for kcat -K; return (lines, value bytes)."""
    lines = value_bytes = 0
    with open(source, "rb") as src, open(target, "wb", buffering=1 << 20) as dst:
        for line in src:
            value = line.rstrip(b"\n")
            key = orjson.loads(value)["keen_id"].encode()
            dst.write(key + b"\t" + value + b"\n")
            lines += 1
            value_bytes += len(value)
    return lines, value_bytes


def count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            count += chunk.count(b"\n")
    return count


def check(what: str, got: int, expected: int) -> None:
    if got != expected:
        sys.exit(f"{what}: {got:,} messages where {expected:,} were expected; figures discarded.")
    say(f"{what}: {got:,} messages, as expected")


def lander_settings() -> dict[str, object]:
    """The settings 'edtrack land' runs with when given no flags: LandConfig's defaults
    (the CLI's options take theirs from it)."""
    from ingestion.landing.lander import LandConfig

    config = LandConfig(bootstrap="-")
    keep = (
        "batch_records",
        "batch_bytes",
        "batch_age_s",
        "write_threads",
        "poll_timeout_ms",
        "poll_max_records",
        "max_message_bytes",
        "fetch_max_bytes",
    )
    return {**{name: getattr(config, name) for name in keep}, "partitions": PARTITIONS}


def landed_summary(stderr: Path) -> dict[str, float]:
    """The landers' last progress lines (one lander, or each of a group, whose lines
    name it): landed, quarantined, files and their own rates, added up."""
    pattern = re.compile(
        r"(?:\[lander (\d+)\] )?landed ([\d,]+) \(([\d,]+) quarantined\) in ([\d,]+) files, "
        r"([\d,.]+) records/s"
    )
    last: dict[str, tuple[str, ...]] = {}
    for match in pattern.findall(stderr.read_text(errors="replace")):
        last[match[0]] = tuple(value.replace(",", "") for value in match[1:])
    if not last:
        sys.exit(f"the lander printed no progress line; see {stderr}")
    return {
        "landed": sum(int(v[0]) for v in last.values()),
        "quarantined": sum(int(v[1]) for v in last.values()),
        "files": sum(int(v[2]) for v in last.values()),
        "records_per_s_reported": round(sum(float(v[3]) for v in last.values()), 1),
        "landers": len(last),
    }


def kcat_version() -> dict[str, str]:
    text = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    kcat = re.search(r"Version (\S+)", text)
    rdkafka = re.search(r"librdkafka (\S+)", text)
    return {
        "kcat": kcat.group(1) if kcat else "unknown",
        "librdkafka": rdkafka.group(1) if rdkafka else "unknown",
    }


def machine_info() -> dict[str, object]:
    pom = (PROJECT_ROOT / "stack" / "maven" / "kafka.pom.xml").read_text()
    broker = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    packages = ("edtrack", "kafka-python", "crc32c", "hdfs-native", "orjson", "psutil")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores_logical": psutil.cpu_count(),
            "cores_physical": psutil.cpu_count(logical=False),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {
            "python": platform.python_version(),
            **{name: metadata.version(name) for name in packages},
            "kafka_broker": broker.group(1) if broker else "unknown",
            **kcat_version(),
        },
    }


def plot_memory(results: dict, path: Path) -> None:
    """The lander's RSS over its run: a bound shows as a level line, not a slope."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = results["land"]["edtrack"]["rss_series"]
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=120)
    ax.plot([t for t, _ in series], [mb for _, mb in series], color="#1f77b4")
    ax.set_xlabel("seconds since the lander started")
    ax.set_ylabel("RSS, MB")
    ax.set_ylim(0, max(mb for _, mb in series) * 1.15)
    ax.set_title(
        f"Lander memory while landing {results['attempts']:,} attempts "
        f"({results['settings']['land']})",
        fontsize=10,
    )
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    stages = ["publish", "land"]
    width = 0.38
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    top = 0.0
    for i, stage in enumerate(stages):
        for j, (tool, color) in enumerate((("edtrack", "#1f77b4"), ("kcat", "#aaaaaa"))):
            value = results[stage][tool]["messages_per_s"]
            x = i + (j - 0.5) * width
            ax.bar(x, value, width, color=color, label=tool if i == 0 else None)
            ax.text(x, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=9)
            top = max(top, value)
        ratio = results[stage]["ratio"]
        ax.annotate(
            f"edtrack / kcat = {ratio:.{2 if ratio >= 0.1 else 3}f}\n(target >= {TARGET_RATIO})",
            (i, max(results[stage][t]["messages_per_s"] for t in ("edtrack", "kcat"))),
            xytext=(0, 18),
            textcoords="offset points",
            ha="center",
            fontsize=9,
            fontweight="bold",
        )
    ax.set_ylim(0, top * 1.3)
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    names = {"publish": "publish", "land": "land (kcat: consume to a file)"}
    labels = [f"{names[s]}\n{textwrap.fill(results['settings'][s], 40)}" for s in stages]
    ax.set_xticks(range(len(stages)), labels, fontsize=9)
    ax.set_ylabel("messages / s")
    machine = results["machine"]
    ax.set_title(
        f"Ingestion, {results['attempts']:,} attempts "
        f"({results['value_bytes'] / 1e9:.2f} GB of values), "
        f"{machine['cores_logical']} cores, {results['date'][:10]}",
        fontsize=10,
    )
    ax.legend(loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="attempts to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-offset", type=int, default=13000)
    parser.add_argument("--output", type=Path, default=RESULTS / "ingest.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "ingest.png")
    args = parser.parse_args()
    if shutil.which("kcat") is None:
        sys.exit(KCAT_MISSING)

    from ingestion.publish import PublishConfig, ensure_topic

    results: dict = {"benchmark": "ingest", **machine_info()}
    producer = PublishConfig(bootstrap="-")
    with tempfile.TemporaryDirectory(prefix="edtrack-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        env_base = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
        config = from_env(env_base, state_dir=tmp / "state", port_offset=args.port_offset)
        env = {
            **env_base,
            "EDTRACK_STATE_DIR": str(config.state_dir),
            "EDTRACK_PORT_OFFSET": str(args.port_offset),
        }
        bootstrap = config.kafka_bootstrap
        edtrack = str(BIN / "edtrack")
        stack = Stack(config, log=lambda m: say(f"stack: {m}"))
        try:
            with Phase("stack up"):
                try:
                    stack.up()
                except UserError as error:
                    sys.exit(f"the private stack did not start: {error}")
            data, keyed = tmp / "attempts.jsonl", tmp / "attempts.keyed.tsv"
            with Phase("generate"):
                generated = subprocess.run(
                    [edtrack, "generate", "--count", str(args.count), "--seed", str(args.seed)]
                    + ["--output", str(data)],
                    env=env,
                    cwd=PROJECT_ROOT,
                    capture_output=True,
                    text=True,
                )
            if generated.returncode != 0:
                sys.exit(f"edtrack generate failed:\n{generated.stderr[-3000:]}")
            with Phase("prepare kcat input"):
                count, value_bytes = prepare_kcat_input(data, keyed)
            with Phase("create topics"):
                for topic in (TOPIC_EDTRACK, TOPIC_KCAT):
                    ensure_topic(bootstrap, topic, PARTITIONS)
            kcat_producer = [
                "-X",
                "acks=all",
                "-X",
                "enable.idempotence=true",
                "-X",
                f"linger.ms={producer.linger_ms}",
                "-X",
                f"batch.size={producer.batch_size}",
                "-X",
                "compression.codec=none",
            ]
            publish = {
                "edtrack": run_measured(
                    "publish edtrack",
                    [edtrack, "publish", str(data), "--topic", TOPIC_EDTRACK],
                    env,
                    tmp,
                ),
                "kcat": run_measured(
                    "publish kcat",
                    ["kcat", "-P", "-b", bootstrap, "-t", TOPIC_KCAT, "-K", "\t", "-l"]
                    + kcat_producer
                    + [str(keyed)],
                    env,
                    tmp,
                ),
            }
            check("topic " + TOPIC_EDTRACK, topic_size(bootstrap, TOPIC_EDTRACK), count)
            check("topic " + TOPIC_KCAT, topic_size(bootstrap, TOPIC_KCAT), count)
            consumed = tmp / "consumed.jsonl"
            land = {
                "edtrack": run_measured(
                    "land edtrack",
                    [edtrack, "land", "--until-caught-up", "--topic", TOPIC_EDTRACK],
                    env,
                    tmp,
                ),
                "kcat": run_measured(
                    "consume kcat",
                    ["kcat", "-C", "-b", bootstrap, "-t", TOPIC_EDTRACK]
                    + ["-o", "beginning", "-e", "-q", "-f", "%s\\n"],
                    env,
                    tmp,
                    stdout=consumed,
                ),
            }
            landed = landed_summary(tmp / "land edtrack.stderr")
            check("landed by edtrack", landed["landed"], count)
            check("consumed by kcat", count_lines(consumed), count)
            hdfs_written = _hdfs_bytes(config.hdfs_url)
        finally:
            with Phase("stack down"):
                stack.down()

    results.update(attempts=count, seed=args.seed, value_bytes=value_bytes)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    lander = lander_settings()
    results["settings"] = {
        "publish": f"acks=all, idempotent, linger {producer.linger_ms} ms, "
        f"batch {producer.batch_size // 1024} KiB",
        "land": f"batches of {lander['batch_records']:,} records, "
        f"{lander.get('write_threads', '?')} write threads",
        "edtrack_producer": {
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": producer.linger_ms,
            "batch_size": producer.batch_size,
            "compression": None,
        },
        "kcat_producer": " ".join(kcat_producer),
        "lander": lander,
        "partitions": PARTITIONS,
    }
    for stage, measured in (("publish", publish), ("land", land)):
        results[stage] = {tool: rates(m, count, value_bytes) for tool, m in measured.items()}
        edtrack_rate = results[stage]["edtrack"]["messages_per_s"]
        results[stage]["ratio"] = round(edtrack_rate / results[stage]["kcat"]["messages_per_s"], 3)
        results[stage]["target_ratio"] = TARGET_RATIO
    results["land"]["edtrack"].update(landed, hdfs_bytes_written=hdfs_written)
    results["lander_peak_rss_mb"] = results["land"]["edtrack"]["peak_rss_mb"]
    results["lander_max_rss_mb"] = results["land"]["edtrack"]["max_rss_mb"]
    results["phases_s"] = Phase.durations

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.plot)
    plot_memory(results, args.plot.with_name(args.plot.stem + "-lander-memory.png"))
    print(f"\n{count:,} attempts, {value_bytes / 1e6:,.0f} MB of message values")
    print("| stage | edtrack msg/s | edtrack MB/s | kcat msg/s | kcat MB/s | ratio |")
    print("|---|---|---|---|---|---|")
    for stage in ("publish", "land"):
        e, k = results[stage]["edtrack"], results[stage]["kcat"]
        print(
            f"| {stage} | {e['messages_per_s']:,.0f} | {e['mb_per_s']:.1f} "
            f"| {k['messages_per_s']:,.0f} | {k['mb_per_s']:.1f} | {results[stage]['ratio']:.2f} |"
        )
    print(
        f"lander peak RSS {results['lander_peak_rss_mb']:,.0f} MB polled, "
        f"{results['lander_max_rss_mb']:,.0f} MB high-water mark"
    )
    print(f"wrote {args.output} and {args.plot}")


def _hdfs_bytes(hdfs_url: str) -> int | None:
    """Bytes the lander left on HDFS (both raw tables), or None when unknown."""
    from hdfs_native import Client

    from ingestion.catalog import DEFAULT_ROOT

    try:
        return Client(hdfs_url).get_content_summary(DEFAULT_ROOT).length
    except Exception:  # the figure is informative only
        return None


if __name__ == "__main__":
    main()
