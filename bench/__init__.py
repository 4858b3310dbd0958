"""The benchmark suite: ``make bench`` (see bench/suite.py and the README)."""
