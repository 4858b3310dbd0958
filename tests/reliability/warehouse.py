"""dbt runs of the reliability suite and fingerprints of the marts they build."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from core import sql
from core.project import PROJECT_ROOT, models
from ingestion.topic import DEFAULT_TOPIC, topic_size
from tests.reliability.conftest import BIN

MARTS = tuple(models("marts"))
# The staging models: the CI subset builds and tests only these (a full build of every
# layer takes minutes on two busy cores); the full suite builds everything.
STAGING = tuple(models("staging"))


def full_suite(config) -> bool:
    """True when the run selects the tests marked reliability_full (make reliability)."""
    return "not reliability_full" not in (config.getoption("markexpr") or "")


def dbt(cli, where: Path, *args: str, vars: dict | None = None, **popen) -> subprocess.Popen:
    """Start dbt against the suite's stack, with target and log paths of its own."""
    where.mkdir(parents=True, exist_ok=True)
    command = [str(BIN / "dbt"), *args, "--target-path", str(where / "target")]
    command += ["--log-path", str(where / "logs")]
    if vars:
        command += ["--vars", json.dumps(vars)]
    log = open(where / f"dbt-{args[0]}.out", "a")  # noqa: SIM115 - closed by the caller's wait
    return subprocess.Popen(
        command, env=cli.env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, **popen
    )


# Messages on the suite's topic when the usual marts were last built (None: not yet).
BUILT_FROM: dict[str, int | None] = {"messages": None}


def dbt_run(cli, where: Path, *args: str, vars: dict | None = None, timeout=1500) -> str:
    """``dbt run``; fails the test if it fails. Remembers what the usual marts hold."""
    on_topic = topic_size(cli.config.kafka_bootstrap, DEFAULT_TOPIC)
    t0 = time.monotonic()
    if "--select" not in args:
        # The shared tables read the ownership seeds, which `dbt run` does not load.
        seed = dbt(cli, where, "seed", vars=vars)
        assert seed.wait(timeout) == 0, (where / "dbt-seed.out").read_text()[-4000:]
    proc = dbt(cli, where, "run", *args, vars=vars)
    code = proc.wait(timeout)
    out = (where / "dbt-run.out").read_text()
    assert code == 0, f"dbt run {' '.join(args)} exited {code}:\n{out[-4000:]}"
    print(f"[reliability] dbt run {' '.join(args)} in {time.monotonic() - t0:.0f} s", flush=True)
    if not vars:
        BUILT_FROM["messages"] = on_topic
    return out


def fingerprints(config, schema: str = "marts", skip: frozenset = frozenset()) -> dict:
    """Per mart: row count and a hash of every row (fingerprint_query), the columns in
    ``skip`` and the write times left out."""
    connection = sql.connect(config.host, config.ports["thrift"])
    out = {}
    try:
        for model in MARTS:
            table = f"{schema}.{model}"
            described = sql.run(connection, f"describe table {table}").rows
            query = sql.fingerprint_query(table, described, sql.WHEN_WRITTEN | skip)
            count, digest = sql.run(connection, query).rows[0]
            out[model] = (count, digest)
    finally:
        connection.close()
    return out


def query(config, statement: str) -> list[tuple]:
    connection = sql.connect(config.host, config.ports["thrift"])
    try:
        return [tuple(r) for r in sql.run(connection, statement).rows]
    finally:
        connection.close()
