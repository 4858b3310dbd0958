"""The reliability suite's private stack, its helpers, and its summary line.

The stack runs on ports shifted by ``EDTRACK_RELIABILITY_PORT_OFFSET`` (default: the
integration suite's ``EDTRACK_TEST_PORT_OFFSET`` + 1000, so 21000), in a temporary state
dir, and is stopped at the end. Inside ``pytest tests`` the integration suite has stopped
its own stack by then (``test_zz_shutdown``), so the two never run together.
``EDTRACK_RELIABILITY_STATE_DIR`` points the suite at a stack you started yourself
(same offset); it is then left running.

Tests marked ``reliability_full`` run only with ``make reliability``; the rest (the CI
subset) also run in ``make test``. At the end the suite prints
``faults=N records=N lost=N duplicated=N``, added up from its reconciliations.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.project import PROJECT_ROOT
from stack.config import StackConfig, from_env
from stack.launcher import Stack
from tests.integration.conftest import Cli
from tests.reliability.reconcile import LEDGER, Place, Reconciliation, reconcile

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 600.0


def port_offset(env) -> int:
    if env.get("EDTRACK_RELIABILITY_PORT_OFFSET"):
        return int(env["EDTRACK_RELIABILITY_PORT_OFFSET"])
    return int(env.get("EDTRACK_TEST_PORT_OFFSET", "20000")) + 1000


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def rel_config(tmp_path_factory) -> StackConfig:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")}
    state = os.environ.get("EDTRACK_RELIABILITY_STATE_DIR") or tmp_path_factory.mktemp(
        "reliability-state"
    )
    config = from_env(env, state_dir=state, port_offset=port_offset(os.environ))
    # Services are started again after each kill, on two cores that other jobs share:
    # give each start more time than `stack up`'s two minutes.
    return dataclasses.replace(config, start_timeout_s=START_TIMEOUT_S)


@pytest.fixture(scope="session")
def rel_stack(rel_config: StackConfig):
    signal.signal(signal.SIGTERM, _interrupt)
    launcher = Stack(rel_config, log=lambda m: print(f"[stack] {m}", flush=True))
    own = not os.environ.get("EDTRACK_RELIABILITY_STATE_DIR")
    try:
        launcher.up()
        yield launcher
    finally:
        if own:
            launcher.down()


@pytest.fixture(scope="session")
def rcli(rel_stack) -> Cli:
    return Cli(rel_stack.config)


class LanderProcess:
    """``edtrack land`` as a separate process that a test can SIGKILL at any instant."""

    def __init__(self, cli: Cli, place: Place, log: Path, *args: str, fault: str | None = None):
        env = dict(cli.env)
        env.pop("EDTRACK_LANDER_FAULT", None)
        if fault:
            env["EDTRACK_LANDER_FAULT"] = fault
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "edtrack"), "land", *place.args, *args],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM: the lander flushes, commits and exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def publishing(cli: Cli, topic: str, path: Path) -> subprocess.Popen:
    """``edtrack publish`` of ``path`` in a process of its own, its output kept as text."""
    return subprocess.Popen(
        [str(BIN / "edtrack"), "publish", "--topic", topic, str(path)],
        env=cli.env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def land_until_caught_up(cli: Cli, place: Place, *args: str, attempts: int = 3) -> None:
    """Land what is left, as an operator would after a fault: rerun if a service that
    just came back makes the first try fail."""
    for attempt in range(attempts):
        result = cli.run("land", *place.args, *args, "--until-caught-up", check=False)
        if result.returncode == 0:
            return
        print(f"[reliability] land attempt {attempt + 1} failed: {result.stderr[-600:]}")
        time.sleep(5)
    raise AssertionError(f"landing did not finish after {attempts} tries:\n{result.stderr}")


def check(config: StackConfig, place: Place, scenario: str, faults: int) -> Reconciliation:
    """Reconcile ``place`` and add it to the session's ledger; fail on any difference."""
    result = reconcile(config, place)
    LEDGER.add(scenario, result, faults)
    assert result.ok, result.describe()
    assert result.on_topic > 0
    return result


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not LEDGER.reconciliations:
        return
    line = LEDGER.line()
    terminalreporter.write_sep("=", "reliability")
    for scenario in LEDGER.scenarios:
        terminalreporter.write_line(
            f"{scenario['scenario']}: faults={scenario['faults']} on_topic={scenario['on_topic']} "
            f"raw={scenario['raw']} quarantined={scenario['quarantined']} "
            f"lost={scenario['lost']} duplicated={scenario['duplicated']}"
        )
    terminalreporter.write_line(line)
    if os.environ.get("EDTRACK_RELIABILITY_RESULTS"):
        LEDGER.write(Path(os.environ["EDTRACK_RELIABILITY_RESULTS"]) / "summary.json")
