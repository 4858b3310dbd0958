"""edtrack: nested assessment-attempt exports to a SQL warehouse.

The top of the project: the ``edtrack`` command and the demo, wired over ``ingestion``,
``stack`` and ``serving``, which stand on the kernel in ``core``.
"""

__version__ = "0.1.0"
