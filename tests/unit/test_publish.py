"""The publisher against a fake producer: message shape, failures, resume, rejects."""

from __future__ import annotations

import json

import pytest

from edtrack.errors import UserError
from ingestion.publish import PublishConfig, PublishFailed, publish


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def add_errback(self, callback):
        if self.error is not None:
            callback(self.error)
        return self


class FakeProducer:
    """Records what was sent; the deliveries of ``fail_keys`` fail."""

    def __init__(self, fail_keys: frozenset[bytes] = frozenset()) -> None:
        self.sent: list[dict] = []
        self.fail_keys = fail_keys
        self.closed = False

    def send(self, topic, value, key, headers, timestamp_ms):
        self.sent.append(
            {
                "topic": topic,
                "value": value,
                "key": key,
                "headers": dict(headers),
                "ts": timestamp_ms,
            }
        )
        return FakeFuture(RuntimeError("broker said no") if key in self.fail_keys else None)

    def flush(self):
        pass

    def close(self):
        self.closed = True


CONFIG = PublishConfig(bootstrap="unused", topic="t")


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.jsonl"
    records = [
        {"keen_id": f"k{i}", "keen_timestamp": f"151671744{i}.5", "exam_name": "É"}
        for i in range(4)
    ]
    lines = [json.dumps(r) for r in records]
    lines.insert(2, "[1, 2]")  # index 2 is not an object
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_record_is_one_message_keyed_by_keen_id_with_its_origin(export):
    producer = FakeProducer()
    summary = publish(export, CONFIG, producer=producer)
    assert [m["key"] for m in producer.sent] == [b"k0", b"k1", b"k2", b"k3"]
    first = producer.sent[0]
    assert json.loads(first["value"]) == {
        "keen_id": "k0",
        "keen_timestamp": "1516717440.5",
        "exam_name": "É",
    }
    assert b" " not in first["value"]
    assert first["headers"] == {"source_file": b"export.jsonl", "record_index": b"0"}
    assert first["ts"] == 1516717440500
    assert [m["headers"]["record_index"] for m in producer.sent] == [b"0", b"1", b"3", b"4"]
    assert (summary.records, summary.published, summary.rejected) == (5, 4, 1)
    assert producer.closed


def test_failed_deliveries_are_named_by_index_and_point_to_resume(export):
    producer = FakeProducer(fail_keys=frozenset({b"k1", b"k3"}))
    with pytest.raises(PublishFailed, match=r"2 record\(s\) were not delivered: 1 .*--resume") as e:
        publish(export, CONFIG, producer=producer)
    assert e.value.summary.failed == [1, 4]
    assert e.value.summary.published == 2


def test_resume_sends_only_what_is_missing(export):
    producer = FakeProducer()
    summary = publish(export, CONFIG, producer=producer, skip={0, 1, 4})
    assert [m["key"] for m in producer.sent] == [b"k2"]
    assert (summary.published, summary.skipped) == (1, 3)
    assert "3 already on the topic" in summary.line()


def test_non_objects_go_to_the_rejects_file_with_their_position(export, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    publish(
        export, PublishConfig(bootstrap="unused", rejects_path=rejects), producer=FakeProducer()
    )
    (line,) = rejects.read_text().splitlines()
    reject = json.loads(line)
    assert reject["index"] == 2
    assert "not an object" in reject["error"]
    assert reject["raw"] == "[1, 2]"


def test_strict_stops_at_the_first_bad_record(export):
    producer = FakeProducer()
    strict = PublishConfig(bootstrap="unused", strict=True)
    with pytest.raises(UserError, match="Record 2 of .*--strict"):
        publish(export, strict, producer=producer)
    assert len(producer.sent) == 2
