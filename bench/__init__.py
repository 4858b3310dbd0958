"""The benchmark suite: ``make bench`` (see bench/suite.py and docs/benchmarks.md)."""
