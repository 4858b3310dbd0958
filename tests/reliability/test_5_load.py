"""Load: 16 clients run the query catalogue (``queries/*.sql``) over the Thrift Server
with PyHive for 60 s while a lander lands new attempts and ``dbt run`` rebuilds the
warehouse. Every query must answer; p50/p95 latency is printed and written to
``load.json`` (in ``EDTRACK_RELIABILITY_RESULTS``, which ``make reliability`` sets to
``tests/reliability/results``).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from edtrack import sql
from stack.config import PROJECT_ROOT
from tests.reliability.conftest import LanderProcess, check, land_until_caught_up
from tests.reliability.data import attempts_file
from tests.reliability.reconcile import Place
from tests.reliability.warehouse import dbt

pytestmark = [pytest.mark.reliability, pytest.mark.reliability_full, pytest.mark.timeout(2700)]

PLACE = Place()
CLIENTS = 16
SECONDS = 60.0
QUERIES = sorted((PROJECT_ROOT / "queries").glob("*.sql"))


def client(config, index: int, stop: threading.Event, out: list, errors: list) -> None:
    try:
        connection = sql.connect(config.host, config.ports["thrift"], username=f"client{index}")
    except Exception as exc:
        errors.append(("connect", repr(exc)))
        return
    try:
        i = index
        while not stop.is_set():
            query = QUERIES[i % len(QUERIES)]
            i += 1
            t0 = time.monotonic()
            try:
                result = sql.run(connection, query.read_text())
            except Exception as exc:
                errors.append((query.name, str(exc).splitlines()[0][:300]))
                continue
            out.append((query.name, time.monotonic() - t0, len(result.rows)))
    finally:
        connection.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def test_sixteen_clients_query_for_a_minute_while_landing_and_dbt_run_proceed(rcli, tmp_path):
    path = attempts_file(tmp_path, "load", 6000, seed=501, day=55)
    rcli.run("publish", "--topic", PLACE.topic, str(path))
    lander = LanderProcess(rcli, PLACE, tmp_path / "lander.log", "--batch-records", "500")
    build = dbt(rcli, tmp_path / "dbt", "run")
    stop = threading.Event()
    timings: list = []
    errors: list = []
    threads = [
        threading.Thread(target=client, args=(rcli.config, i, stop, timings, errors))
        for i in range(CLIENTS)
    ]
    t0 = time.monotonic()
    for thread in threads:
        thread.start()
    while time.monotonic() - t0 < SECONDS:
        time.sleep(10)
        print(f"[load] {time.monotonic() - t0:.0f} s: {len(timings)} queries, {len(errors)} errors")
    stop.set()
    for thread in threads:
        thread.join(600)
    elapsed = time.monotonic() - t0
    lander_alive, dbt_alive = lander.proc.poll() is None, build.poll() is None
    assert lander.stop() == 0, lander.tail()
    assert build.wait(1500) == 0, (tmp_path / "dbt" / "dbt-run.out").read_text()[-3000:]
    land_until_caught_up(rcli, PLACE)
    check(rcli.config, PLACE, "landing under query load", 0)

    latencies = [seconds for _, seconds, _ in timings]
    result = {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "queries": len(timings),
        "errors": len(errors),
        "p50_s": round(percentile(latencies, 50), 3) if len(latencies) > 1 else None,
        "p95_s": round(percentile(latencies, 95), 3) if len(latencies) > 1 else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "per_query_p50_s": {
            q.name: round(statistics.median([s for n, s, _ in timings if n == q.name]), 3)
            for q in QUERIES
            if any(n == q.name for n, _, _ in timings)
        },
        "landing_and_dbt_run_during_the_load": {"lander": lander_alive, "dbt_run": dbt_alive},
        "first_errors": errors[:10],
    }
    print(f"[load] {json.dumps(result)}")
    out = Path(os.environ.get("EDTRACK_RELIABILITY_RESULTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    assert errors == []
    assert len(timings) >= CLIENTS  # every client answered, at least once on average
    assert lander_alive and dbt_alive  # the load ran while both worked
