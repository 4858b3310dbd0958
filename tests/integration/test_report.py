"""The report and the notebook over the marts the pipeline tests built (this file sorts
after test_pipeline*.py, so the marts hold the generated attempts by now)."""

from __future__ import annotations

import base64
import html
import os
import re
import sys
import time

import pytest

from core.project import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "edtrack_report.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGES = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def venv_kernel_manager_class():
    """A kernel manager whose ``python3`` kernel is run by this interpreter (the venv's
    python), whatever kernelspecs Jupyter's search path holds.

    Its kernel spec comes from the ipykernel imported here (argv[0] = sys.executable),
    never from a kernel.json found on disk, where a user-level ``python3`` spec pointing
    at another python would win over the venv's. nbclient creates it, so nbclient also
    shuts the kernel down."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class VenvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True)

    return VenvKernelManager


def most_popular(cli, n: int) -> list[str]:
    rows = cli.sql(
        "select exam_name from marts.mart_exam_popularity "
        f"order by distinct_attempts desc, base_exam_id limit {n}"
    )
    assert len(rows) == n, "the pipeline tests should have built the marts"
    return [r["exam_name"] for r in rows]


def test_report_embeds_the_charts_and_names_the_most_taken_exams(cli, tmp_path):
    output = tmp_path / "report.html"
    t0 = time.monotonic()
    result = cli.run("report", "-o", str(output))
    print(f"edtrack report took {time.monotonic() - t0:.1f} s")
    charts = re.search(r"^wrote .*: (\d+) charts in", result.stderr, re.M)
    assert charts and int(charts.group(1)) >= 5, result.stderr
    page = output.read_text(encoding="utf-8")
    images = IMAGES.findall(page)
    assert len(images) >= 5
    assert all(base64.b64decode(image).startswith(PNG_MAGIC) for image in images)
    for name in most_popular(cli, 3):
        assert html.escape(name) in page, name


def test_the_notebook_runs_headless_and_draws_every_plot(cli):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    manager_class = venv_kernel_manager_class()
    assert manager_class(kernel_name="python3").kernel_spec.argv[0] == sys.executable
    client = NotebookClient(
        notebook,
        kernel_manager_class=manager_class,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDTRACK_")},
        "EDTRACK_THRIFT_PORT": str(cli.config.ports["thrift"]),
    }
    t0 = time.monotonic()
    client.execute(env=env)  # raises CellExecutionError on the first failing cell
    print(f"the notebook ran in {time.monotonic() - t0:.1f} s")

    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    plots = [c for c in code if "plot" in c.metadata.get("tags", [])]
    assert len(plots) >= 5
    for cell in plots:
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert images, f"cell {cell.id} drew no image"
        assert base64.b64decode(images[0].data["image/png"]).startswith(PNG_MAGIC)
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert f"Spark Thrift Server at 127.0.0.1:{cli.config.ports['thrift']}" in text
    assert "offsets spanned" in text
