"""The publisher against a fake producer: message shape, failures, resume, rejects."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from core.errors import UserError
from ingestion.publish import (
    PublishConfig,
    PublishFailed,
    plan_resume,
    publish,
    record_digest,
)


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
    assert first["headers"] == {
        "source_file": b"export.jsonl",
        "record_index": b"0",
        "record_blake2b": record_digest(first["value"]),
    }
    assert len(first["headers"]["record_blake2b"]) == 16
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


# --- what a file holds, and every outcome said --------------------------------------------


def test_rejects_go_beside_the_input_and_never_over_an_older_file(export):
    first = publish(export, CONFIG, producer=FakeProducer())
    second = publish(export, CONFIG, producer=FakeProducer())
    assert first.rejects_path == export.with_name("export.jsonl.rejects.jsonl")
    assert second.rejects_path == export.with_name("export.jsonl.rejects.1.jsonl")
    for path in (first.rejects_path, second.rejects_path):
        assert [json.loads(line)["index"] for line in path.read_text().splitlines()] == [2]
    assert f"rejects in {second.rejects_path}" in second.line()


def test_no_rejects_file_when_nothing_is_rejected(tmp_path):
    path = tmp_path / "clean.jsonl"
    path.write_text('{"keen_id": "a"}\n')
    summary = publish(path, CONFIG, producer=FakeProducer())
    assert summary.rejects_path is None and not list(tmp_path.glob("*.rejects*"))


def test_rejects_keep_the_exact_bytes_of_a_line_that_is_not_utf8(tmp_path):
    path = tmp_path / "bytes.jsonl"
    bad = b'{"keen_id": "\xff\xfe"}'
    path.write_bytes(b'{"keen_id": "a"}\n' + bad + b"\n")
    summary = publish(path, CONFIG, producer=FakeProducer())
    (line,) = summary.rejects_path.read_text().splitlines()
    assert base64.b64decode(json.loads(line)["raw_base64"]) == bad


@pytest.mark.parametrize(
    "content",
    [b"", b"  \n\n", gzip.compress(b"")],
    ids=["empty", "blank", "gzip-of-nothing"],
)
def test_an_empty_input_is_an_error(tmp_path, content):
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    producer = FakeProducer()
    with pytest.raises(UserError, match="is empty: there is nothing to publish"):
        publish(path, CONFIG, producer=producer)
    assert producer.sent == []


def test_an_input_without_a_single_object_is_an_error_naming_the_rejects(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 8 + b"\n" + b"\x00\x01 not json\n")
    producer = FakeProducer()
    with pytest.raises(PublishFailed, match=r"None of the \d+ record\(s\) of .* could be") as e:
        publish(path, CONFIG, producer=producer)
    assert producer.sent == []
    assert str(e.value.summary.rejects_path) in str(e.value)
    assert e.value.summary.rejected == e.value.summary.records > 0


WRAPPED = {"exported_at": "2018-01-28", "attempts": [{"keen_id": "a"}, {"keen_id": "b"}]}


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        pytest.param(json.dumps(WRAPPED), "holding 2 records under 'attempts'", id="one-line"),
        pytest.param(json.dumps(WRAPPED, indent=2), "'attempts' (2 elements)", id="pretty"),
    ],
)
def test_a_json_object_around_the_records_is_refused_then_published_with_path(
    tmp_path, text, sentence
):
    path = tmp_path / "wrapped.json"
    path.write_text(text)
    producer = FakeProducer()
    with pytest.raises(UserError, match="--path attempts") as refused:
        publish(path, CONFIG, producer=producer)
    assert sentence in str(refused.value)
    assert producer.sent == []
    config = PublishConfig(bootstrap="unused", topic="t", array_path="attempts")
    summary = publish(path, config, producer=producer)
    assert [m["key"] for m in producer.sent] == [b"a", b"b"]
    assert summary.published == 2


def test_a_truncated_array_says_what_was_sent_and_how_to_go_on(tmp_path):
    path = tmp_path / "truncated.json"
    path.write_text('[{"keen_id": "a"}, {"keen_id": "b"}, {"keen_id": "c", "exam')
    producer = FakeProducer()
    with pytest.raises(PublishFailed) as failed:
        publish(path, CONFIG, producer=producer)
    message = str(failed.value)
    assert "not valid JSON after record 2" in message
    assert "2 record(s) before it were sent" in message and "--resume" in message
    assert "\n" not in message  # one sentence: no caret drawing of the parser's
    assert [m["key"] for m in producer.sent] == [b"a", b"b"]


def test_a_record_over_the_size_limit_is_rejected_not_sent(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"keen_id": "a"}\n' + json.dumps({"keen_id": "b", "x": "y" * 500}) + "\n")
    producer = FakeProducer()
    config = PublishConfig(bootstrap="unused", topic="t", max_message_bytes=100)
    summary = publish(path, config, producer=producer)
    assert [m["key"] for m in producer.sent] == [b"a"]
    (line,) = summary.rejects_path.read_text().splitlines()
    assert "over the 100-byte message limit (--max-message-bytes)" in json.loads(line)["error"]
    assert json.loads(json.loads(line)["raw"])["keen_id"] == "b"  # the record, whole


# --- resume by content --------------------------------------------------------------------


def published_digests(path, indexes) -> dict[int, bytes]:
    producer = FakeProducer()
    publish(path, CONFIG, producer=producer)
    sent = {
        int(m["headers"]["record_index"]): m["headers"]["record_blake2b"] for m in producer.sent
    }
    return {i: sent[i] for i in indexes}


def test_resume_skips_the_records_on_the_topic_with_the_same_content(export):
    assert plan_resume(export, "t", published_digests(export, [0, 1])) == {0, 1}
    assert plan_resume(export, "t", {}) == set()


def test_resume_of_a_longer_file_that_starts_the_same(export, tmp_path):
    whole = tmp_path / "longer" / "export.jsonl"
    whole.parent.mkdir()
    whole.write_text(export.read_text() + json.dumps({"keen_id": "k9"}) + "\n")
    assert plan_resume(whole, "t", published_digests(export, [0, 1, 3, 4])) == {0, 1, 3, 4}


def test_resume_refuses_a_file_with_the_same_name_and_other_content(export, tmp_path):
    on_topic = published_digests(export, [0, 1, 3, 4])
    today = tmp_path / "today" / "export.jsonl"
    today.parent.mkdir()
    today.write_text("".join(json.dumps({"keen_id": f"new{i}"}) + "\n" for i in range(9)))
    with pytest.raises(UserError, match="is not the file published to t .* record 0 differs"):
        plan_resume(today, "t", on_topic)


def test_resume_refuses_a_file_shorter_than_what_was_published(export, tmp_path):
    on_topic = published_digests(export, [0, 1, 3, 4])
    short = tmp_path / "short" / "export.jsonl"
    short.parent.mkdir()
    short.write_text("".join(export.read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(UserError, match="fewer records .*record 3 is on the topic"):
        plan_resume(short, "t", on_topic)


def test_resume_refuses_records_published_without_a_digest(export):
    with pytest.raises(UserError, match="no content digest"):
        plan_resume(export, "t", {0: None, 1: None})


def test_resume_reads_the_records_where_path_says(tmp_path):
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps(WRAPPED))
    producer = FakeProducer()
    publish(path, PublishConfig(bootstrap="unused", array_path="attempts"), producer=producer)
    first = {0: producer.sent[0]["headers"]["record_blake2b"]}
    assert plan_resume(path, "t", first, array_path="attempts") == {0}
