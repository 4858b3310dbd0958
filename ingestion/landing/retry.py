"""How the lander rides out a service that is away for a while (a restart): one retry
policy for Kafka, HDFS and the metastore, and for each service the errors it treats as
transient. Anything else is raised at once: a lasting refusal (a quota, permissions)
or a bug is not retried."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import ServiceUnavailable
from ingestion.catalog import transient_registration_failure

# hdfs-native raises OSError (its IOError, FileNotFoundError, FileExistsError) and
# RuntimeError (RPC and data-transfer errors) for what HDFS does (python/src/error.rs).
HDFS_ERRORS = (OSError, RuntimeError)
# Refusals that last until someone acts; any other HDFS error (a NameNode in safe mode or
# restarting, no DataNode yet) is worth writing again after a while.
LASTING_HDFS_REFUSALS = (
    "quota",
    "accesscontrolexception",
    "permission denied",
    "no space left",
    "read-only",
)


@dataclass(frozen=True)
class Away:
    """A service the lander waits for while it restarts: which errors say it is away, and
    what to tell the operator when it stays away."""

    name: str  # "Kafka at 127.0.0.1:9092"
    retriable: Callable[[BaseException], bool]
    advice: str


def kafka_away(bootstrap: str) -> Away:
    """Kafka marks its transient errors ``retriable = True`` (connection refused,
    timeouts, no leader yet)."""
    return Away(
        f"Kafka at {bootstrap}",
        lambda exc: bool(getattr(exc, "retriable", False)),
        "Landed files are safe on HDFS: start the lander again once Kafka is back; "
        "it resumes from HDFS.",
    )


def metastore_away(connection: str) -> Away:
    """Registering a date goes through the Thrift Server to the metastore, which checks
    the folder on HDFS: a NameNode restarting fails it with a connection error."""
    return Away(
        f"The Thrift Server at {connection}",
        transient_registration_failure,
        "Landed files are safe on HDFS: start the lander again once HDFS and the "
        "Thrift Server are back; it registers every landed date at start.",
    )


def hdfs_refusal_lasts(reason: str) -> bool:
    return any(word in reason.lower() for word in LASTING_HDFS_REFUSALS)


def hdfs_away(root: str) -> Away:
    """An HDFS error that is not a lasting refusal: the batch's parts are written again
    (their final names are fixed, so a part renamed before the error gets the same
    bytes)."""
    return Away(
        f"HDFS under {root}",
        lambda exc: isinstance(exc, HDFS_ERRORS) and not hdfs_refusal_lasts(first_line(exc)),
        "Nothing of this batch was committed: start the lander again once HDFS is back; "
        "it resumes after the last complete batch.",
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Only errors the service's ``Away`` calls retriable are retried, ``attempts`` times
    in all, waiting ``backoff_s`` doubled each time up to ``max_backoff_s`` (about two
    minutes with the defaults). ``sleep`` is injectable so tests never wait."""

    attempts: int = 30
    backoff_s: float = 0.5
    max_backoff_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, fn: Callable[[], object], what: str, report: Callable[[str], None], away: Away):
        wait = self.backoff_s
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if not away.retriable(exc):
                    raise
                if attempt == self.attempts:
                    raise ServiceUnavailable(
                        f"{away.name} did not answer for {waited:.0f} s while {what} "
                        f"({type(exc).__name__}). {away.advice}"
                    ) from exc
                report(
                    f"{away.name} unavailable while {what} ({type(exc).__name__}: "
                    f"{first_line(exc)}); retry {attempt} in {wait:.1f} s"
                )
                self.sleep(wait)
                waited += wait
                wait = min(wait * 2, self.max_backoff_s)
        raise AssertionError("unreachable")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line if len(line) <= 300 else line[:297] + "..."
