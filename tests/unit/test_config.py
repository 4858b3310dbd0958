from pathlib import Path

import pytest

from core.errors import UserError
from stack.config import DEFAULT_PORTS, from_env


def test_defaults_bind_loopback_on_the_documented_ports():
    config = from_env({})
    assert config.host == "127.0.0.1"
    assert config.ports["kafka"] == 9092
    assert config.ports["thrift"] == 10000
    assert config.kafka_bootstrap == "127.0.0.1:9092"
    assert config.hdfs_url == "hdfs://127.0.0.1:8020"
    assert config.metastore_uri == "thrift://127.0.0.1:9083"


def test_port_offset_shifts_every_default():
    config = from_env({"EDTRACK_PORT_OFFSET": "20000"})
    assert dict(config.ports) == {name: port + 20000 for name, port in DEFAULT_PORTS.items()}


def test_one_port_variable_wins_over_the_offset():
    config = from_env({"EDTRACK_PORT_OFFSET": "100", "EDTRACK_THRIFT_PORT": "12345"})
    assert config.ports["thrift"] == 12345
    assert config.ports["kafka"] == 9192


def test_flags_win_over_environment(tmp_path: Path):
    config = from_env(
        {"EDTRACK_STATE_DIR": "/nowhere", "EDTRACK_PORT_OFFSET": "5"},
        state_dir=tmp_path,
        port_offset=7,
    )
    assert config.state_dir == tmp_path.resolve()
    assert config.ports["kafka"] == 9099


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param({"EDTRACK_PORT_OFFSET": "ten"}, "whole number", id="offset-not-a-number"),
        pytest.param({"EDTRACK_KAFKA_PORT": "70000"}, "outside 1-65535", id="port-too-big"),
        pytest.param({"EDTRACK_KAFKA_PORT": "10000"}, "same port", id="two-services-one-port"),
        pytest.param({"EDTRACK_START_TIMEOUT": "soon"}, "whole number", id="timeout-not-a-number"),
        pytest.param({"EDTRACK_START_TIMEOUT": "0"}, "at least 1", id="timeout-zero"),
        pytest.param({"EDTRACK_QUERY_TIMEOUT": "1m"}, "whole number", id="query-timeout-unit"),
        pytest.param(
            {"EDTRACK_QUERY_TIMEOUT": "-5"}, "0 \\(no limit\\)", id="query-timeout-negative"
        ),
    ],
)
def test_bad_settings_give_one_clear_sentence(env, fragment):
    with pytest.raises(UserError, match=fragment):
        from_env(env)


def test_client_env_points_dbt_at_the_thrift_port():
    config = from_env({"EDTRACK_PORT_OFFSET": "3"})
    env = config.client_env()
    assert env["DBT_THRIFT_PORT"] == "10003"
    assert env["EDTRACK_KAFKA_PORT"] == "9095"
    assert env["EDTRACK_PORT_OFFSET"] == "3"
    # Read back, the exported variables give the same ports: the offset is not applied twice.
    assert dict(from_env(env).ports) == dict(config.ports)


def test_start_timeout_comes_from_the_environment():
    assert from_env({}).start_timeout_s == 300.0
    assert from_env({"EDTRACK_START_TIMEOUT": "900"}).start_timeout_s == 900.0


def test_query_timeout_comes_from_the_environment():
    assert from_env({}).query_timeout_s == 0
    assert from_env({"EDTRACK_QUERY_TIMEOUT": "120"}).query_timeout_s == 120
