import base64
import json
from types import SimpleNamespace

import pytest

from ingestion.landing.envelope import envelope, iso_ms, partition_date
from ingestion.landing.quarantine import classify
from ingestion.landing.store import LandedFile

GOOD = b'{"keen_id": "5a6745820eb8ab00016be1f1", "exam_name": "x"}'


@pytest.mark.parametrize(
    ("value", "error_fragment"),
    [
        pytest.param(None, "null value", id="tombstone"),
        pytest.param(b"", "empty message", id="empty"),
        pytest.param(b"   \n", "empty message", id="whitespace"),
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
        pytest.param(b'{"keen_id": "a"', "not JSON", id="truncated-json"),
        pytest.param(b"NaN", "not JSON", id="nan"),
        pytest.param(b"null", "JSON null, not an object", id="json-null"),
        pytest.param(b"[1, 2]", "JSON list, not an object", id="array"),
        pytest.param(b"42", "JSON int, not an object", id="number"),
        pytest.param(b'"text"', "JSON str, not an object", id="string"),
        pytest.param(b'{"exam_name": "x"}', "no keen_id", id="missing-keen-id"),
        pytest.param(b'{"keen_id": 12}', "no keen_id", id="keen-id-not-string"),
        pytest.param(b'{"keen_id": ""}', "no keen_id", id="keen-id-empty"),
        pytest.param(b'{"keen_id": "' + b"a" * 200 + b'"}', "exceeds the 100-byte", id="too-big"),
    ],
)
def test_bad_messages_are_quarantined_with_a_reason(value, error_fragment):
    payload, error = classify(value, max_bytes=100)
    assert payload is None
    assert error_fragment in error


def test_a_good_message_keeps_its_text_untouched():
    payload, error = classify(GOOD, max_bytes=1000)
    assert error is None
    assert payload == GOOD.decode()


def test_landed_file_names_round_trip_and_sort_by_offset():
    files = [LandedFile("assessment-attempts", 2, first, first + 9, 1, 2) for first in (100, 20, 3)]
    names = sorted(f.name for f in files)
    assert [LandedFile.parse(n).first for n in names] == [3, 20, 100]
    one = LandedFile.parse(files[0].name)
    assert one == files[0]
    assert files[0].name == (
        "assessment-attempts+2+00000000000000000100+00000000000000000109.1of2.jsonl"
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("assessment-attempts+0+1+2.jsonl", id="no-part"),
        pytest.param("assessment-attempts+0+5+2.1of1.jsonl", id="first-after-last"),
        pytest.param("assessment-attempts+0+1+2.3of2.jsonl", id="part-beyond-parts"),
        pytest.param("part-00000.json", id="foreign-file"),
    ],
)
def test_names_that_are_not_landed_files_are_ignored(name):
    assert LandedFile.parse(name) is None


def test_partition_date_and_timestamps_are_utc():
    # 2018-01-23T14:24:02.735Z
    assert partition_date(1516717442735) == "2018-01-23"
    assert iso_ms(1516717442735) == "2018-01-23T14:24:02.735Z"
    assert partition_date(1516751999999) == "2018-01-23"
    assert partition_date(1516752000000) == "2018-01-24"


def test_timestamps_equal_the_datetime_modules_across_days_years_and_before_1970():
    import datetime as dt
    import random

    rng = random.Random(7)
    moments = [-1, 0, 1, 86_399_999, 86_400_000, 951_782_400_000, 4_102_444_799_999]
    moments += [rng.randrange(-(10**12), 4 * 10**12) for _ in range(5000)]
    for ms in moments:
        moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
        assert partition_date(ms) == moment.strftime("%Y-%m-%d"), ms
        # fromtimestamp rounds the float; the whole seconds come from integer division.
        whole = dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC)
        assert iso_ms(ms) == whole.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z", ms


def message(value, key=b"k1"):
    return SimpleNamespace(
        topic="t", partition=1, offset=42, timestamp=1516717442735, key=key, value=value
    )


def test_raw_envelope_carries_kafka_coordinates_and_the_payload():
    row = json.loads(envelope(message(GOOD), GOOD.decode(), None, "2026-01-01T00:00:00.000Z"))
    assert row == {
        "kafka_topic": "t",
        "kafka_partition": 1,
        "kafka_offset": 42,
        "kafka_timestamp": "2018-01-23T14:24:02.735Z",
        "kafka_key": "k1",
        "ingested_at": "2026-01-01T00:00:00.000Z",
        "payload": GOOD.decode(),
    }


def test_quarantine_envelope_keeps_the_exact_bytes():
    raw = b"\xff\x00not utf8"
    row = json.loads(envelope(message(raw, key=None), None, "not UTF-8", "x"))
    assert row["error"] == "not UTF-8"
    assert base64.b64decode(row["payload_base64"]) == raw
    assert row["kafka_key"] is None
