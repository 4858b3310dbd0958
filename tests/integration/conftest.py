"""A private stack for the integration tests: its own state dir and ports.

Started once per test session from an empty state dir and stopped at the end, also when
tests fail. ``EDTRACK_TEST_PORT_OFFSET`` (default 20000) shifts every port so a user's
own stack on the default ports is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.project import PROJECT_ROOT
from stack.config import StackConfig, from_env
from stack.launcher import Stack

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "assessment-attempts-sample.jsonl"


@pytest.fixture(scope="session")
def stack_config(tmp_path_factory) -> StackConfig:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
    offset = int(os.environ.get("EDTRACK_TEST_PORT_OFFSET", "20000"))
    return from_env(env, state_dir=tmp_path_factory.mktemp("stack-state"), port_offset=offset)


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def running(config: StackConfig, label: str = "stack") -> Iterator[Stack]:
    """A private stack, up for the duration and stopped at the end, also when tests fail.
    SIGTERM (a CI timeout, `kill`) interrupts like Ctrl-C, so the stack is still stopped
    instead of leaving its daemons holding the test ports."""
    signal.signal(signal.SIGTERM, _interrupt)
    launcher = Stack(config, log=lambda m: print(f"[{label}] {m}", flush=True))
    try:
        launcher.up()
        yield launcher
    finally:
        launcher.down()


@contextlib.contextmanager
def private_stack(
    label: str, shift: int, env: dict[str, str] | None = None, **choices
) -> Iterator[Stack]:
    """A module's own stack beside the suite's: a fresh state dir (mode 0711: as root the
    stack runs PostgreSQL as its own account, which must reach it), ports at the test
    offset + ``shift``, ``choices`` as the flags of ``stack up``; stopped at the end and
    its state removed."""
    state = Path(tempfile.mkdtemp(prefix="edtrack-" + label.replace(" ", "-") + "-"))
    state.chmod(0o711)
    base = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
    offset = int(os.environ.get("EDTRACK_TEST_PORT_OFFSET", "20000")) + shift
    config = from_env({**base, **(env or {})}, state_dir=state, port_offset=offset, **choices)
    try:
        with running(config, label) as launcher:
            yield launcher
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig):
    with running(stack_config) as launcher:
        yield launcher


class Cli:
    """Runs ``edtrack`` and ``dbt`` as a user would, pointed at the private stack."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.env = {
            **os.environ,
            "EDTRACK_STATE_DIR": str(config.state_dir),
            "EDTRACK_PORT_OFFSET": str(config.ports["kafka"] - 9092),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "DBT_TARGET": "ci",
            "DBT_THRIFT_HOST": config.host,
            "DBT_THRIFT_PORT": str(config.ports["thrift"]),
        }
        if config.tls:  # what `stack env` exports for dbt
            self.env["EDTRACK_THRIFT_SSL_CAFILE"] = str(config.tls_cert_file)

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 600,
        env: dict | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "edtrack"), *args],
            env={**self.env, **(env or {})},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"edtrack {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def sql(self, statement: str) -> list[dict]:
        return json.loads(self.run("sql", "--format", "json", statement).stdout)

    def dbt(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "dbt"), *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}"
        return result


@pytest.fixture(scope="session")
def cli(stack) -> Cli:
    return Cli(stack.config)
