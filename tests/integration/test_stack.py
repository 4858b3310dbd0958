"""The local stack: every service healthy, on loopback, within its memory budget."""

import ipaddress

import psutil

from stack import jars

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def test_every_service_is_healthy(stack):
    rows = stack.status()
    assert [r["service"] for r in rows] == ["kafka", "namenode", "metastore", "datanode", "thrift"]
    assert [r["detail"] for r in rows if not r["healthy"]] == []
    assert all(r["pid"] for r in rows)


def test_status_command_prints_each_service_healthy(cli):
    out = cli.run("stack", "status").stdout
    assert out.count("healthy") == 5
    for port in (cli.config.ports["kafka"], cli.config.ports["thrift"]):
        assert str(port) in out


def test_every_listening_socket_of_the_stack_is_on_loopback(stack):
    pids = set()
    for row in stack.status():
        proc = psutil.Process(row["pid"])
        pids |= {proc.pid, *(c.pid for c in proc.children(recursive=True))}
    listening = [
        c
        for c in psutil.net_connections(kind="inet")
        if c.pid in pids and c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 10  # kafka 2, namenode 2, datanode 3+, metastore 1, thrift 1+
    outside = [
        (c.pid, c.laddr.ip, c.laddr.port)
        for c in listening
        if c.laddr.ip not in LOOPBACK and not ipaddress.ip_address(c.laddr.ip).is_loopback
    ]
    assert outside == []
    ports = {c.laddr.port for c in listening}
    for name in (
        "kafka",
        "kafka_controller",
        "namenode",
        "namenode_http",
        "datanode",
        "metastore",
        "thrift",
    ):
        assert stack.config.ports[name] in ports, name


def test_whole_stack_stays_within_4_gb_rss(stack):
    total_mb = sum(r["rss_mb"] for r in stack.status())
    assert 500 < total_mb < 4096


def test_jars_are_fetched_once(stack):
    # Iceberg (the table format), no PostgreSQL driver by default
    assert jars.poms_for(stack.config) == ["kafka", "hdfs", "iceberg"]
    for name in jars.poms_for(stack.config):
        assert jars.is_fetched(stack.config.jars_dir, name)
    kafka_jars = {p.name for p in (stack.config.jars_dir / "kafka").glob("*.jar")}
    assert any(n.startswith("kafka_2.13-4.") for n in kafka_jars)
    hdfs_jars = {p.name for p in (stack.config.jars_dir / "hdfs").glob("*.jar")}
    assert "hadoop-hdfs-3.5.0.jar" in hdfs_jars


def test_a_second_up_starts_nothing_new(stack):
    before = {r["service"]: r["pid"] for r in stack.status()}
    messages = []
    type(stack)(stack.config, log=messages.append).up()
    after = {r["service"]: r["pid"] for r in stack.status()}
    assert after == before
    assert sum("already running" in m for m in messages) == 5
    assert not any("fetching" in m or "formatting" in m for m in messages)


def test_an_up_on_other_ports_leaves_the_running_stack_alone(stack, cli):
    """`stack up --port-offset N` on the state dir of a running stack: one sentence with
    the ports it runs on, nothing started, nothing stopped, the stack still healthy."""
    before = {r["service"]: r["pid"] for r in stack.status()}
    running_offset = stack.config.ports["kafka"] - 9092
    other = str(running_offset + 700)
    env = {"EDTRACK_PORT_OFFSET": other}
    result = cli.run("stack", "up", "--port-offset", other, check=False, env=env)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "already runs from" in lines[0] and "left alone" in lines[0]
    assert f"thrift {stack.config.ports['thrift']}" in lines[0]
    assert f"port offset {running_offset}" in lines[0]
    after = {r["service"]: r["pid"] for r in stack.status()}
    assert after == before
    assert all(r["healthy"] for r in stack.status())
    # `stack down` with those wrong ports (the option after the subcommand) stops nothing.
    down = cli.run("stack", "down", "--port-offset", other, check=False, env=env)
    assert down.returncode == 2 and "nothing was stopped" in down.stderr, down.stderr
    assert f"stack down --port-offset {running_offset}" in down.stderr
    assert {r["service"]: r["pid"] for r in stack.status()} == before
