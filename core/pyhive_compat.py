"""PyHive 0.7 and the Spark Thrift Server: empty results of statements without rows.

Spark answers a statement that returns no rows (DDL such as ``create table``) with an
empty *row-based* result set. PyHive 0.7 only reads column-based sets and fails with
``TypeError: 'NoneType' object is not iterable``. dbt-spark hits this wherever dbt
fetches the result of DDL (unit tests create their fixtures that way), and so does any
client running DDL.

:func:`install` fixes ``Cursor._fetch_more`` in every interpreter of the virtualenv:
``make setup`` writes a ``.pth`` file that calls it at start-up, and the patch is applied
lazily, only when ``pyhive.hive`` is imported. The fixed method is PyHive's own
(Apache License 2.0), with an empty row-based set read as "no more rows".
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import site
import sys
from pathlib import Path

PTH_NAME = "edtrack_pyhive_compat.pth"
PTH_LINE = "import core.pyhive_compat as _m; _m.install()\n"


def _fetch_more(self) -> None:
    """PyHive's ``Cursor._fetch_more``, reading an empty row-based set as the end."""
    from pyhive.exc import ProgrammingError
    from pyhive.hive import _check_status, _unwrap_column
    from TCLIService import ttypes

    assert self._state == self._STATE_RUNNING, "Should be running when in _fetch_more"
    assert self._operationHandle is not None, "Should have an op handle in _fetch_more"
    if not self._operationHandle.hasResultSet:
        raise ProgrammingError("No result set")
    req = ttypes.TFetchResultsReq(
        operationHandle=self._operationHandle,
        orientation=ttypes.TFetchOrientation.FETCH_NEXT,
        maxRows=self.arraysize,
    )
    response = self._connection.client.FetchResults(req)
    _check_status(response)
    results = response.results
    if results.columns is None and not results.rows:
        self._state = self._STATE_FINISHED
        return
    assert not results.rows, "expected data in columnar format"
    columns = [
        _unwrap_column(col, col_schema[1])
        for col, col_schema in zip(results.columns, self.description, strict=False)
    ]
    new_data = list(zip(*columns, strict=False))
    self._data += new_data
    if not new_data:
        self._state = self._STATE_FINISHED


def apply(module=None) -> None:
    if module is None:
        from pyhive import hive as module
    module.Cursor._fetch_more = _fetch_more


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Applies the fix right after ``pyhive.hive`` is first imported."""

    def find_spec(self, name, path, target=None):
        if name != "pyhive.hive":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            apply(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    if "pyhive.hive" in sys.modules:
        apply(sys.modules["pyhive.hive"])
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def write_pth() -> Path:
    """Write the start-up hook into this interpreter's site-packages."""
    target = Path(site.getsitepackages()[0]) / PTH_NAME
    target.write_text(PTH_LINE)
    return target


if __name__ == "__main__":
    print(f"wrote {write_pth()}")
