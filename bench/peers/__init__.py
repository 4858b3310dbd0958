"""Peer jobs the benchmark runs with spark-submit (PySpark scripts, not imported)."""
