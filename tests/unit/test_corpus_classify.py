"""Every case of the bad-input corpus through the lander's pure pieces: ``classify``
decides the table and the reason, ``envelope`` writes the row that lands."""

from __future__ import annotations

import base64
import collections
from types import SimpleNamespace

import orjson
import pytest

from ingestion.landing.envelope import envelope
from ingestion.landing.lander import LandConfig
from ingestion.landing.quarantine import QUARANTINE, RAW, classify
from tests.reliability.corpus import CASES, DUPLICATE, PARSED, Case

PARAMS = [pytest.param(case, id=case.id) for case in CASES]


def message(case: Case) -> SimpleNamespace:
    return SimpleNamespace(
        topic="bad-input",
        partition=0,
        offset=7,
        timestamp=1516717442735,
        key=case.key,
        value=case.value,
    )


@pytest.mark.parametrize("case", PARAMS)
def test_classify_sends_each_case_to_its_table_with_its_reason(case):
    payload, error = classify(case.value, LandConfig.max_message_bytes)
    assert (RAW if error is None else QUARANTINE) == case.table, error
    if case.table == QUARANTINE:
        assert payload is None
        assert case.error in error
    else:
        assert payload == case.value.decode("utf-8")


@pytest.mark.parametrize("case", PARAMS)
def test_the_landed_row_is_one_json_line_that_keeps_the_message(case):
    payload, error = classify(case.value, LandConfig.max_message_bytes)
    line = envelope(message(case), payload, error, "2026-01-01T00:00:00.000Z")
    assert line.endswith(b"\n") and b"\n" not in line[:-1] and b"\r" not in line
    row = orjson.loads(line)
    assert row["kafka_key"] == (None if case.key is None else case.key.decode("utf-8", "replace"))
    if case.table == RAW:
        assert row["payload"].encode("utf-8") == case.value
        assert "error" not in row and "payload_base64" not in row
    else:
        assert row["error"] == error
        exact = None if row["payload_base64"] is None else base64.b64decode(row["payload_base64"])
        assert exact == case.value


def test_the_corpus_names_at_least_thirty_kinds_once_each():
    ids = [case.id for case in CASES]
    assert len(ids) >= 30
    assert [i for i, n in collections.Counter(ids).items() if n > 1] == []


def test_each_staged_attempt_has_its_own_keen_id_except_the_duplicates():
    landed = [c for c in CASES if c.table == RAW]
    by_id = {c.id: c for c in landed}
    keen_ids = collections.Counter(orjson.loads(c.value)["keen_id"] for c in landed)
    for case in landed:
        keen_id = orjson.loads(case.value)["keen_id"]
        if case.staging == DUPLICATE:
            original = by_id[case.duplicate_of]
            assert original.staging == PARSED
            assert orjson.loads(original.value)["keen_id"] == keen_id
        elif not any(c.duplicate_of == case.id for c in landed):
            assert keen_ids[keen_id] == 1, case.id
        if case.staging == PARSED:
            assert case.fields["attempt_id"] == keen_id
