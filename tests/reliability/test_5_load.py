"""Load with consistent reads: 16 clients, each on one connection held for the whole
test (as a BI tool's connection pool keeps them), query the marts over the Thrift Server
for 60 s while a lander lands new attempts and ``dbt run`` rebuilds the warehouse again
and again. Each client alternates a query of the catalogue (``queries/*.sql``) and a
fingerprint of one mart (row count and a hash of every row).

Every query must answer, and every fingerprint must equal the mart at one of its
committed versions, read back afterwards with time travel: a client sees the mart before
or after a build, never a mix of the two. Latency (p50/p95), the builds and the answers
are printed and written to ``load.json`` (in ``EDTRACK_RELIABILITY_RESULTS``, which
``make reliability`` sets to ``tests/reliability/results``).
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from core import sql
from core.project import catalogue
from tests.reliability.conftest import LanderProcess, check, land_until_caught_up
from tests.reliability.data import attempts_file
from tests.reliability.reconcile import Place
from tests.reliability.snapshots import fingerprints_of_every_version
from tests.reliability.warehouse import MARTS, dbt

pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2700)]

PLACE = Place()
CLIENTS = 16
SECONDS = 60.0
QUERIES = catalogue()


def fingerprint_queries(config) -> dict[str, str]:
    connection = sql.connect(config.host, config.ports["thrift"])
    try:
        out = {}
        for mart in MARTS:
            described = sql.run(connection, f"describe table marts.{mart}").rows
            out[mart] = sql.fingerprint_query(f"marts.{mart}", described)
        return out
    finally:
        connection.close()


def client(config, index: int, prints: dict, stop: threading.Event, out: dict) -> None:
    try:
        connection = sql.connect(config.host, config.ports["thrift"], username=f"client{index}")
    except Exception as exc:
        out["errors"].append(("connect", repr(exc)))
        return
    try:
        i = index
        while not stop.is_set():
            i += 1
            mart = MARTS[i % len(MARTS)]
            query = QUERIES[i % len(QUERIES)]
            for name, text in ((query.name, query.text), (mart, prints[mart])):
                t0 = time.monotonic()
                try:
                    result = sql.run(connection, text)
                except Exception as exc:
                    out["errors"].append((name, str(exc).splitlines()[0][:300]))
                    continue
                out["timings"].append((name, time.monotonic() - t0))
                if name == mart:
                    out["answers"].append((mart, tuple(result.rows[0])))
    finally:
        connection.close()


def build_again_and_again(rcli, where: Path, stop: threading.Event, runs: list) -> None:
    """``dbt run`` after ``dbt run`` until ``stop``; each one's exit code and seconds."""
    while not stop.is_set():
        t0 = time.monotonic()
        code = dbt(rcli, where, "run").wait(1500)
        runs.append((code, round(time.monotonic() - t0, 1)))
        if code != 0:
            return


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def test_sixteen_held_connections_read_consistent_marts_while_builds_replace_them(rcli, tmp_path):
    path = attempts_file(tmp_path, "load", 6000, seed=501, day=55)
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    prints = fingerprint_queries(rcli.config)
    lander = LanderProcess(rcli, PLACE, tmp_path / "lander.log", "--batch-records", "500")
    stop, builds_done = threading.Event(), threading.Event()
    runs: list = []
    out: dict[str, list] = {"timings": [], "errors": [], "answers": []}
    builder = threading.Thread(
        target=build_again_and_again, args=(rcli, tmp_path / "dbt", builds_done, runs)
    )
    threads = [
        threading.Thread(target=client, args=(rcli.config, i, prints, stop, out))
        for i in range(CLIENTS)
    ]
    t0 = time.monotonic()
    builder.start()
    for thread in threads:
        thread.start()
    while time.monotonic() - t0 < SECONDS or not runs:
        time.sleep(10)
        print(
            f"[load] {time.monotonic() - t0:.0f} s: {len(out['timings'])} queries, "
            f"{len(out['errors'])} errors, {len(runs)} dbt runs done",
            flush=True,
        )
    stop.set()
    for thread in threads:
        thread.join(600)
    elapsed = time.monotonic() - t0
    builds_done.set()
    builder.join(1800)
    lander_alive = lander.proc.poll() is None
    assert lander.stop() == 0, lander.tail()
    assert runs and all(code == 0 for code, _ in runs), (
        runs,
        (tmp_path / "dbt" / "dbt-run.out").read_text()[-3000:],
    )
    land_until_caught_up(rcli, PLACE)
    check(rcli.config, PLACE, "landing under query load", 0)

    connection = sql.connect(rcli.config.host, rcli.config.ports["thrift"])
    try:
        committed = {m: fingerprints_of_every_version(connection, f"marts.{m}") for m in MARTS}
    finally:
        connection.close()
    states = {mart: set(versions.values()) for mart, versions in committed.items()}
    mixed = [(mart, answer) for mart, answer in out["answers"] if answer not in states[mart]]
    seen = collections.Counter(mart for mart, _ in out["answers"])
    distinct = {mart: len({a for m, a in out["answers"] if m == mart}) for mart in MARTS}

    latencies = [seconds for _, seconds in out["timings"]]
    result = {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "queries": len(out["timings"]),
        "failed": len(out["errors"]),
        "fingerprints_read": len(out["answers"]),
        "mixed_answers": len(mixed),
        "dbt_runs": runs,
        "versions_per_mart": {mart: len(v) for mart, v in committed.items()},
        "distinct_answers_per_mart": distinct,
        "p50_s": round(percentile(latencies, 50), 3) if len(latencies) > 1 else None,
        "p95_s": round(percentile(latencies, 95), 3) if len(latencies) > 1 else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "per_query_p50_s": {
            q.name: round(statistics.median([s for n, s in out["timings"] if n == q.name]), 3)
            for q in QUERIES
            if any(n == q.name for n, _ in out["timings"])
        },
        "lander_landed_during_the_load": lander_alive,
        "first_errors": out["errors"][:10],
        "first_mixed": mixed[:5],
    }
    print(f"[load] {json.dumps(result)}")
    results = Path(os.environ.get("EDTRACK_RELIABILITY_RESULTS") or tmp_path)
    results.mkdir(parents=True, exist_ok=True)
    (results / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    assert out["errors"] == []
    assert mixed == []
    assert all(seen[mart] > 0 for mart in MARTS), seen  # every mart was read
    # The builds replaced the marts while the clients read them: some client saw a
    # mart change (its answers took more than one value).
    assert max(distinct.values()) > 1, distinct
    assert lander_alive  # the lander worked during the load
