"""edtrack: nested assessment-attempt exports to a SQL warehouse.

The top of the project: the ``edtrack`` command and the demo, wired over ``ingestion``,
``stack`` and ``serving``, which stand on the kernel in ``core``.
"""

from importlib.metadata import version

__version__ = version("edtrack")  # pyproject.toml's
