"""The whole pipeline against a stack found only through the endpoints file.

A stack of its own on another loopback address (127.0.0.2) and other ports; every
command runs without the stack's state dir or port variables, so the local-stack
defaults point at nothing, and only ``EDTRACK_CONFIG`` says where Kafka, HDFS and the
Thrift Server are: what a user of existing clusters does. publish, land, ``dbt build``
and ``edtrack sql`` must give the same answers as plain Python on the same records.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from core.project import PROJECT_ROOT
from ingestion.generate import generate, write

from .conftest import BIN, private_stack
from .expected import popularity

pytestmark = pytest.mark.integration
HOST = "127.0.0.2"
OFFSET_SHIFT = 700  # beside the main stack (+0) and the secured one (+500)
RECORDS = 400


@pytest.fixture(scope="module")
def elsewhere():
    with private_stack(
        f"stack on {HOST}", OFFSET_SHIFT, env={"EDTRACK_STACK_HOST": HOST}
    ) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def user(elsewhere, tmp_path_factory):
    """A user's shell: no stack variables, an empty state dir, an endpoints file."""
    home = tmp_path_factory.mktemp("user")
    ports = elsewhere.config.ports
    endpoints = home / "endpoints.toml"
    endpoints.write_text(
        f'[kafka]\nbootstrap_servers = ["{HOST}:{ports["kafka"]}"]\n\n'
        f'[hdfs]\nurl = "hdfs://{HOST}:{ports["namenode"]}"\n'
        # The cluster's Hadoop client configuration, as a cluster user gives theirs.
        f'conf_dir = "{elsewhere.config.hdfs_conf_dir}"\n\n'
        f'[thrift]\nhost = "{HOST}"\nport = {ports["thrift"]}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDTRACK_", "DBT_"))}
    env |= {
        "EDTRACK_CONFIG": str(endpoints),
        "EDTRACK_STATE_DIR": str(home / "no-stack-here"),
        "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
        "DBT_TARGET": "cluster",
        "DBT_THRIFT_HOST": HOST,
        "DBT_THRIFT_PORT": str(ports["thrift"]),
    }
    return home, env


def run(env: dict, *command: str, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(
        list(command), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def test_the_pipeline_runs_on_a_stack_named_only_by_the_endpoints_file(user):
    home, env = user
    edtrack = str(BIN / "edtrack")
    shown = json.loads(run(env, edtrack, "config", "--format", "json").stdout)
    sources = {row["setting"]: row["source"] for row in shown}
    for key in (
        "kafka.bootstrap_servers",
        "hdfs.url",
        "hdfs.conf_dir",
        "thrift.host",
        "thrift.port",
    ):
        assert sources[key] == f"file {home / 'endpoints.toml'}", shown
    records = list(generate(RECORDS, seed=5, days=3))
    export = home / "export.jsonl"
    write(iter(records), export)
    run(env, edtrack, "publish", str(export))
    run(env, edtrack, "land", "--until-caught-up")
    run(env, str(BIN / "dbt"), "build", timeout=1800)
    answer = json.loads(
        run(
            env,
            edtrack,
            "sql",
            "--format",
            "json",
            "select base_exam_id, distinct_attempts from marts.mart_exam_popularity",
        ).stdout
    )
    expected = {exam: e["distinct_attempts"] for exam, e in popularity(records).items()}
    assert {row["base_exam_id"]: row["distinct_attempts"] for row in answer} == expected
