"""The kernel every other package stands on: user-facing errors, service probes and the
SQL client of the Thrift Server. It imports nothing else of the project."""
