"""The README's two commands do all the set-up: `make test` and `make demo` install the
Debian packages they need first, and not as root they stop at once with the command to
run (tests run `make -n` and the install script itself; nothing is installed here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / ".ci" / "install-packages"


@pytest.mark.parametrize("target", ["test", "demo"])
def test_make_installs_the_debian_packages_before_anything_else(target):
    # Outside any make that runs this suite (`make test` sets MAKEFLAGS and MAKELEVEL).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert plan[0].strip() == ".ci/install-packages", plan[:3]


def test_ci_runs_exactly_the_readme_test_command():
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == "make test"
    assert not any("install-packages" in c for c in commands)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root")
def test_not_as_root_with_packages_missing_it_stops_with_the_command_to_run():
    # A copy the unprivileged user can read (the clone may not be); no javac, mvn, kcat
    # or ldap tools on its PATH, so the script finds them missing.
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        script = folder / "install-packages"
        shutil.copy(INSTALL, script)
        script.chmod(0o755)
        result = subprocess.run(
            [shutil.which("runuser"), "-u", "nobody", "--", "/bin/bash", str(script)],
            env={"PATH": str(folder)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert "openjdk-17-jdk-headless" in line and "maven" in line
    assert f"sudo {script}" in line
