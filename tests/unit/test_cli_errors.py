"""Stopped services and wrong paths end with one sentence and a non-zero exit code."""

import socket

import pytest
from click.testing import CliRunner

from edtrack.cli import main


def free_port_offset() -> int:
    # An offset whose Thrift and Kafka ports nobody listens on.
    for offset in range(41000, 50000, 97):
        if all(_free(p + offset) for p in (9092, 10000)):
            return offset
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("args", "code", "sentence"),
    [
        pytest.param(["sql", "select 1"], 3, "is not answering", id="sql-server-stopped"),
        pytest.param(
            ["publish", "/nonexistent/export.json"], 2, "does not exist", id="publish-missing-file"
        ),
        pytest.param(["land", "--until-caught-up"], 3, "start the stack", id="land-no-stack"),
        pytest.param(["stack", "logs", "zookeeper"], 2, "Unknown service", id="unknown-service"),
    ],
)
def test_errors_are_one_actionable_sentence(tmp_path, args, code, sentence):
    runner = CliRunner()
    result = runner.invoke(
        main, ["--state-dir", str(tmp_path), "--port-offset", str(free_port_offset()), *args]
    )
    assert result.exit_code == code, result.output
    assert sentence in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_status_of_a_stack_that_is_not_running_exits_non_zero(tmp_path):
    result = CliRunner().invoke(
        main,
        ["--state-dir", str(tmp_path), "--port-offset", str(free_port_offset()), "stack", "status"],
    )
    assert result.exit_code == 1
    assert result.output.count("not running") == 5
