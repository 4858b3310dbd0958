"""Stopped services and wrong paths end with one sentence and a non-zero exit code."""

import socket

import pytest
from click.testing import CliRunner

from core.errors import UserError
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


def test_an_address_the_user_gave_is_named_with_where_it_came_from(tmp_path, monkeypatch):
    offset = free_port_offset()
    export = tmp_path / "export.jsonl"
    export.write_text('{"keen_id": "a"}\n')
    monkeypatch.setenv("EDTRACK_KAFKA_BOOTSTRAP_SERVERS", f"[::1]:{9092 + offset}")
    runner = CliRunner()
    result = runner.invoke(main, ["--state-dir", str(tmp_path), "publish", str(export)])
    assert result.exit_code == 3, result.output
    assert result.output == (
        f"edtrack: No Kafka broker answers at [::1]:{9092 + offset}. That address is "
        "kafka.bootstrap_servers, from environment EDTRACK_KAFKA_BOOTSTRAP_SERVERS: check it "
        "and that the service runs ('edtrack config' shows every setting and where it came "
        "from).\n"
    )
    args = ["--thrift-host", "127.0.0.1", "--thrift-port", str(10000 + offset), "sql", "select 1"]
    result = runner.invoke(main, ["--state-dir", str(tmp_path), *args])
    assert result.exit_code == 3, result.output
    assert "is not answering" in result.output
    assert "That address is thrift.host, from flag --thrift-host" in result.output


@pytest.mark.parametrize(
    ("args", "code", "sentence"),
    [
        pytest.param(["sql", "select 1"], 3, "is not answering", id="sql-server-stopped"),
        pytest.param(
            ["publish", "/nonexistent/export.json"], 2, "does not exist", id="publish-missing-file"
        ),
        pytest.param(["land", "--until-caught-up"], 3, "Start the local stack", id="land-no-stack"),
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


@pytest.mark.parametrize(
    ("args", "stdin", "sentence"),
    [
        pytest.param(["select 1", "-f", "FILE"], None, "not both", id="statement-and-file"),
        pytest.param(["-"], "  \n", "Give a SQL statement", id="empty-stdin"),
        pytest.param(["-f", "-"], "", "Give a SQL statement", id="empty-stdin-as-file"),
        pytest.param([], None, "Give a SQL statement", id="nothing"),
    ],
)
def test_sql_input_mistakes_are_one_sentence_before_connecting(tmp_path, args, stdin, sentence):
    statement_file = tmp_path / "q.sql"
    statement_file.write_text("select 2")
    args = [str(statement_file) if a == "FILE" else a for a in args]
    result = CliRunner().invoke(
        main,
        ["--state-dir", str(tmp_path), "--port-offset", str(free_port_offset()), "sql", *args],
        input=stdin,
    )
    # Exit 2 and no "is not answering": the mistake is found before any connection.
    assert result.exit_code == 2, result.output
    assert sentence in result.output and "not answering" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


class _NotKafka:
    """A TCP server on loopback that is not a Kafka broker: silent, or HTTP-ish."""

    def __init__(self, reply: bytes | None) -> None:
        import threading

        self.reply = reply
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        held = []
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            if self.reply is not None:
                conn.sendall(self.reply)
                conn.close()
            else:
                held.append(conn)  # accept and say nothing
        for conn in held:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.server.close()


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(None, id="silent"),
        pytest.param(b"HTTP/1.1 400 Bad Request\r\n\r\n", id="http"),
    ],
)
def test_a_kafka_port_answered_by_something_else_is_one_sentence(tmp_path, monkeypatch, reply):
    import time

    export = tmp_path / "export.json"
    export.write_text('[{"keen_id": "a"}]')
    server = _NotKafka(reply)
    monkeypatch.setenv("EDTRACK_KAFKA_PORT", str(server.port))
    try:
        started = time.monotonic()
        result = CliRunner().invoke(main, ["--state-dir", str(tmp_path), "publish", str(export)])
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert result.exit_code == 3, result.output
    assert "does not answer as a Kafka broker" in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert elapsed < 20, elapsed  # kafka-python alone waits 30 s, then a traceback


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--port-offset", "3000", "stack", "env"], id="before"),
        pytest.param(["stack", "env", "--port-offset", "3000"], id="after"),
        pytest.param(
            ["--port-offset", "1", "stack", "env", "--port-offset", "3000"], id="after-wins"
        ),
    ],
)
def test_global_options_work_before_and_after_the_subcommand(tmp_path, monkeypatch, args):
    for var in ("EDTRACK_PORT_OFFSET", "EDTRACK_THRIFT_PORT", "EDTRACK_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(main, [*args, "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.output.splitlines()
    )
    assert exports["EDTRACK_THRIFT_PORT"] == exports["DBT_THRIFT_PORT"] == "13000"
    assert exports["EDTRACK_STATE_DIR"] == str(tmp_path.resolve())
    assert exports["DBT_PROFILES_DIR"].endswith("/profiles")


def test_every_command_shows_the_global_options_in_its_help():
    from click import Group

    def leaves(group, path):
        for name, command in group.commands.items():
            if isinstance(command, Group):
                yield from leaves(command, [*path, name])
            else:
                yield [*path, name]

    commands = list(leaves(main, []))
    assert ["stack", "down"] in commands and ["publish"] in commands
    for path in commands:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert "--port-offset" in result.output and "--state-dir" in result.output, path


def test_one_message_size_setting_for_publish_and_land(tmp_path, monkeypatch):
    from edtrack import cli
    from ingestion.topic import MAX_MESSAGE_BYTES

    context = cli.Context(str(tmp_path), 0)
    land = {"topic": "t", "root": "/r", "schema": "s", "max_message_bytes": None}
    assert cli._land_config(context, land).max_message_bytes == MAX_MESSAGE_BYTES
    monkeypatch.setenv("EDTRACK_MAX_MESSAGE_BYTES", "5000000")
    assert cli._max_message_bytes() == 5_000_000
    assert cli._land_config(context, land).max_message_bytes == 5_000_000
    flag = {**land, "max_message_bytes": 7}
    assert cli._land_config(context, flag).max_message_bytes == 7  # the flag wins
    monkeypatch.setenv("EDTRACK_MAX_MESSAGE_BYTES", "5MB")
    with pytest.raises(UserError, match="whole number of bytes"):
        cli._max_message_bytes()
