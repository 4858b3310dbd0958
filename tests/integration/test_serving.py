"""The README's client examples, run as written (port aside) against the private stack:
PyHive from Python and beeline over JDBC. Runs after the marts are built (file order).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from collections import Counter
from urllib.request import urlopen

import pytest

from core.project import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
SECTION = README[README.index("## Query it yourself") :]


def block(language: str) -> str:
    """The first fenced block of ``language`` in the README's 'Query it yourself'."""
    match = re.search(rf"```{language}\n(.*?)```", SECTION, re.S)
    assert match, f"no {language} block in 'Query it yourself'"
    return match.group(1)


def on_port(text: str, port: int) -> str:
    assert "10000" in text
    return text.replace("10000", str(port))


def popular(cli, minimum: int) -> list[tuple[str, int]]:
    rows = cli.sql(
        "select exam_name, distinct_attempts from marts.mart_exam_popularity "
        f"where distinct_attempts >= {minimum} order by 2 desc"
    )
    return [(r["exam_name"], r["distinct_attempts"]) for r in rows]


def test_the_readme_pyhive_example_answers(cli):
    code = on_port(block("python"), cli.config.ports["thrift"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    printed = eval(out.getvalue())  # noqa: S307 - a list of tuples printed by the example
    expected = popular(cli, 50)
    assert [tuple(row) for row in printed] == expected
    assert expected, "the example should return rows on the test data"


def test_the_readme_beeline_example_answers_over_jdbc(cli):
    jdbc = SECTION[SECTION.index("With beeline") :]
    script = on_port(jdbc.split("```sh\n", 1)[1].split("```", 1)[0], cli.config.ports["thrift"])
    assert "bin/beeline -u jdbc:hive2://127.0.0.1:" in script
    result = subprocess.run(
        ["bash", "-c", f"set -e\n{script}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    count = cli.sql("select count(*) as n from marts.mart_exam_popularity")[0]["n"]
    # beeline prints a table: | count(1) | and then | <n> |
    assert re.search(rf"\|\s*{count}\s*\|", result.stdout), result.stdout[-2000:]


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_stopped_server_is_one_sentence_in_every_format(cli, fmt):
    result = cli.run(
        "sql", "--format", fmt, "select 1", check=False, env={"EDTRACK_THRIFT_PORT": "1"}
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr


def test_a_connection_held_open_reads_each_commit_of_another_session_at_once(cli):
    """dbt rewrites marts from its own session; a client that keeps its connection
    open reads the table's newest snapshot on its next query, never a removed file."""
    from pyhive import hive

    port = cli.config.ports["thrift"]
    cli.sql("create database if not exists serving_cache")
    cli.sql("create table serving_cache.counts (n int) using iceberg")
    writer = hive.connect(host="127.0.0.1", port=port).cursor()
    reader = hive.connect(host="127.0.0.1", port=port).cursor()
    try:
        for values, total in (("(1), (2)", 3), ("(10), (20), (30)", 60), ("(5)", 5)):
            writer.execute(f"insert overwrite table serving_cache.counts values {values}")
            reader.execute("select sum(n) from serving_cache.counts")
            assert reader.fetchall() == [(total,)]
        # Every commit stays readable by its snapshot id (time travel).
        reader.execute(
            "select snapshot_id from serving_cache.counts.snapshots order by committed_at"
        )
        snapshots = [row[0] for row in reader.fetchall()]
        assert len(snapshots) == 3
        reader.execute(f"select sum(n) from serving_cache.counts version as of {snapshots[0]}")
        assert reader.fetchall() == [(3,)]
    finally:
        writer.close()
        reader.close()
        cli.sql("drop database serving_cache cascade")


def test_dbt_and_client_queries_run_in_their_own_scheduler_pools(cli):
    """dbt's sessions ask for the "builds" pool (profiles.yml); a client's query runs in
    "default", the pool that the FAIR scheduler lets start before a build's next task."""
    base = f"http://{cli.config.host}:{cli.config.ports['spark_ui']}/api/v1/applications"

    def stages_by_pool() -> Counter:
        with urlopen(base, timeout=30) as response:
            app = json.load(response)[0]["id"]
        with urlopen(f"{base}/{app}/stages", timeout=30) as response:
            stages = json.load(response)
        # A stage that a job skips (its shuffle output reused) is listed in "default".
        return Counter(s["schedulingPool"] for s in stages if s["status"] != "SKIPPED")

    before = stages_by_pool()
    assert before["builds"] > 0, f"no stage of the dbt builds ran in the builds pool: {before}"
    # A sum scans the table (Iceberg answers a bare count(*) from its metadata, no job).
    cli.sql("select sum(distinct_attempts) as n from marts.mart_exam_popularity")
    after = stages_by_pool()
    assert after["default"] > before["default"]
    assert after["builds"] == before["builds"]
    assert set(after) <= {"default", "builds"}
