import dataclasses
import sys
import time

import psutil

from stack import process


def test_spawned_process_is_found_by_pid_and_start_time_and_stopped(tmp_path):
    record = process.spawn(
        "sleeper",
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
        env={},
        cwd=tmp_path,
        log_path=tmp_path / "logs" / "sleeper.log",
        run_dir=tmp_path / "run",
    )
    assert process.read_record(tmp_path / "run", "sleeper") == record
    proc = process.live_process(record)
    assert proc is not None and proc.pid == record.pid
    deadline = time.monotonic() + 30
    while "up" not in process.tail(tmp_path / "logs" / "sleeper.log").splitlines()[-1:]:
        assert time.monotonic() < deadline, "the child never wrote to its log"
        time.sleep(0.05)
    # Measured once the interpreter is up: right after the fork it may not be yet.
    assert process.rss_bytes(proc) > 1_000_000
    assert process.stop(record, tmp_path / "run", timeout_s=10)
    assert (
        not psutil.pid_exists(record.pid)
        or psutil.Process(record.pid).status() == psutil.STATUS_ZOMBIE
    )
    assert process.read_record(tmp_path / "run", "sleeper") is None


def test_a_reused_pid_is_not_taken_for_ours(tmp_path):
    record = process.ProcessRecord("x", pid=psutil.Process().pid, create_time=1.0, cmd=[], log="")
    assert process.live_process(record) is None


def test_a_clock_step_does_not_disown_a_running_service():
    me = psutil.Process()
    since_boot = process.started_since_boot(me.pid)
    assert since_boot is not None and 0 < since_boot < time.monotonic() + 1
    # The wall-clock start recorded a few seconds off (the boot time moved since).
    stepped = process.ProcessRecord(
        "x",
        me.pid,
        create_time=me.create_time() - 3.0,
        cmd=[],
        log="",
        started_since_boot=since_boot,
    )
    assert process.live_process(stepped) is not None
    reused = dataclasses.replace(stepped, started_since_boot=since_boot - 1.0)
    assert process.live_process(reused) is None
    # A record of an earlier version (no start since boot) is compared by wall clock.
    old = dataclasses.replace(stepped, create_time=me.create_time() - 1.0, started_since_boot=None)
    assert process.live_process(old) is not None


def test_stopping_a_dead_record_only_removes_it(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = process.ProcessRecord("gone", pid=2**22 + 7, create_time=1.0, cmd=[], log="")
    process.record_path(run_dir, "gone").write_text(
        __import__("json").dumps(dataclasses.asdict(record))
    )
    assert process.stop(record, run_dir) is False
    assert not process.record_path(run_dir, "gone").exists()


def test_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert process.tail(log, 3).splitlines() == ["line 97", "line 98", "line 99"]
