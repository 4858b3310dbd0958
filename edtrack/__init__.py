"""edtrack: nested assessment-attempt exports to a SQL warehouse."""

__version__ = "0.1.0"
