"""`stack up` never stops what it did not start: a stack already running from the state
dir on other ports is left alone, taken ports are found before anything starts, and a
failed start rolls back only what this call started. No services: the "running" stack
is this test process, recorded as a service the way `stack up` records its own."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import psutil
import pytest

from core.errors import UserError
from stack import process
from stack.config import from_env, load_ports, save_settings
from stack.launcher import Stack


def record_running(config, name: str) -> None:
    """A record for a live process (this one), as `stack up` writes for a service."""
    me = psutil.Process(os.getpid())
    config.run_dir.mkdir(parents=True, exist_ok=True)
    process.record_path(config.run_dir, name).write_text(
        json.dumps(
            {"name": name, "pid": me.pid, "create_time": me.create_time(), "cmd": [], "log": ""}
        )
    )


def test_the_ports_of_an_up_are_kept_in_the_state_dir(tmp_path: Path):
    config = from_env({"EDTRACK_PORT_OFFSET": "3000"}, state_dir=tmp_path)
    save_settings(config)
    assert load_ports(tmp_path) == dict(config.ports)
    assert load_ports(tmp_path)["thrift"] == 13000


def test_up_on_other_ports_leaves_the_running_stack_alone(tmp_path: Path, monkeypatch):
    running = from_env({}, state_dir=tmp_path)
    save_settings(running)
    record_running(running, "kafka")
    stopped: list = []
    monkeypatch.setattr(process, "stop", lambda *a, **k: stopped.append(a) or True)
    other = from_env({"EDTRACK_PORT_OFFSET": "3000"}, state_dir=tmp_path)
    with pytest.raises(UserError) as refused:
        Stack(other, log=lambda m: None).up()
    message = str(refused.value)
    assert "already runs from" in message and "kafka 9092" in message, message
    assert "port offset 0" in message and "left alone" in message
    assert stopped == []
    assert load_ports(tmp_path) == dict(running.ports)  # what runs is still on record


def test_a_taken_port_is_found_before_anything_starts(tmp_path: Path, monkeypatch):
    config = from_env({"EDTRACK_PORT_OFFSET": "7321"}, state_dir=tmp_path)
    spawned: list = []
    monkeypatch.setattr(process, "spawn", lambda *a, **k: spawned.append(a))
    with socket.socket() as taken:
        taken.bind((config.host, config.ports["thrift"]))
        taken.listen()
        with pytest.raises(UserError, match=f"Port {config.ports['thrift']} .* thrift"):
            Stack(config, log=lambda m: None).up()
    assert spawned == []


def test_a_failed_start_stops_only_what_this_up_started(tmp_path: Path, monkeypatch):
    config = from_env({"EDTRACK_PORT_OFFSET": "7321"}, state_dir=tmp_path)
    stack = Stack(config, log=lambda m: None)
    names = [s.name for s in stack.services]
    already, failing = names[0], names[-1]
    monkeypatch.setattr(Stack, "_check_ports_before_starting", lambda self, services: None)
    monkeypatch.setattr(Stack, "prepare", lambda self: None)

    def start(self, service):
        return None if service.name == already else object()  # None: it was running

    def wait_healthy(self, service, deadline):
        if service.name == failing:
            raise UserError(f"{failing} did not become healthy")

    stopped: list[list[str] | None] = []
    monkeypatch.setattr(Stack, "_start", start)
    monkeypatch.setattr(Stack, "_wait_healthy", wait_healthy)
    monkeypatch.setattr(Stack, "down", lambda self, wipe=False, only=None: stopped.append(only))
    with pytest.raises(UserError, match="did not become healthy"):
        stack.up()
    assert stopped == [names[1:]]
    assert already not in stopped[0]


def test_down_with_other_ports_stops_nothing_and_says_how(tmp_path: Path, monkeypatch):
    running = from_env({"EDTRACK_PORT_OFFSET": "3000"}, state_dir=tmp_path)
    save_settings(running)
    record_running(running, "thrift")
    stopped: list = []
    monkeypatch.setattr(process, "stop", lambda *a, **k: stopped.append(a) or True)
    with pytest.raises(UserError, match="nothing was stopped; .*stack down --port-offset 3000"):
        Stack(from_env({}, state_dir=tmp_path), log=lambda m: None).down_as_asked()
    assert stopped == []
    assert Stack(running, log=lambda m: None).down_as_asked() == ["thrift"]
    assert len(stopped) == 1
