"""Runs last (file order): 'stack down' stops every process the stack started."""

import psutil


def test_stack_down_leaves_no_process_of_the_stack(stack, cli):
    procs = []
    for row in stack.status():
        proc = psutil.Process(row["pid"])
        procs += [proc, *proc.children(recursive=True)]
    assert len(procs) >= 5
    cli.run("stack", "down")
    still = [p.pid for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert still == []
    result = cli.run("stack", "status", check=False)
    assert result.returncode == 1
    assert result.stdout.count("not running") == 5
