import gzip
import json

import pytest

from core.errors import UserError
from ingestion.source import Input, compact

RECS = [{"keen_id": "a", "n": 1}, {"keen_id": "b", "nested": {"x": [1, 2]}}]


def read(path):
    with Input(path) as source:
        return source.layout, list(source.records())


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("export.json", json.dumps(RECS).encode(), id="array"),
        pytest.param("lines.jsonl", b"\n".join(json.dumps(r).encode() for r in RECS), id="jsonl"),
        pytest.param("export.json.gz", gzip.compress(json.dumps(RECS).encode()), id="array-gz"),
        pytest.param(
            "odd-name.txt",
            gzip.compress(b"\n".join(json.dumps(r).encode() for r in RECS)),
            id="jsonl-gz",
        ),
        pytest.param("bom.json", b"\xef\xbb\xbf" + json.dumps(RECS).encode(), id="bom-array"),
        pytest.param(
            "blank.jsonl",
            b"\n\n" + json.dumps(RECS[0]).encode() + b"\n\n" + json.dumps(RECS[1]).encode() + b"\n",
            id="blank-lines",
        ),
    ],
)
def test_every_accepted_layout_yields_the_same_records(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    _, items = read(path)
    assert [i.value for i in items] == RECS
    assert [i.index for i in items] == [0, 1]


def test_non_objects_are_reported_with_their_position(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"keen_id": "a"}\n[1]\n{broken\n"s"\n{"keen_id": "b"}\n')
    _, items = read(path)
    assert [(i.index, i.ok) for i in items] == [
        (0, True),
        (1, False),
        (2, False),
        (3, False),
        (4, True),
    ]
    assert "array, not an object" in items[1].error
    assert "not valid JSON" in items[2].error
    assert items[2].raw == b"{broken"


def test_array_elements_that_are_not_objects_are_rejected(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[{"keen_id": "a"}, 3, null]')
    _, items = read(path)
    assert [i.error for i in items] == [
        None,
        "array element is a number, not an object",
        "array element is a null, not an object",
    ]


def test_a_broken_array_stops_with_a_clear_sentence(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[{"keen_id": "a"}, {"keen_id": ')
    with pytest.raises(UserError, match="not valid JSON after record 1"):
        read(path)


def test_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        Input(tmp_path / "nope.json")


def test_nan_is_not_json(tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_text('{"keen_id": "a", "x": NaN}\n')
    _, items = read(path)
    assert not items[0].ok


def test_big_integers_survive_compact_serialisation(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"keen_id": "a", "n": 123456789012345678901234567890}\n')
    _, items = read(path)
    assert compact(items[0].value) == b'{"keen_id":"a","n":123456789012345678901234567890}'


def test_compact_keeps_key_order_and_non_ascii():
    assert compact({"b": 1, "a": "é"}) == '{"b":1,"a":"é"}'.encode()


def test_a_lone_surrogate_escape_survives_compact_serialisation(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text('{"keen_id": "a", "exam_name": "\\ud800 É"}\n')
    with Input(path) as source:
        (item,) = list(source.records())
    out = compact(item.value)
    assert out == b'{"keen_id":"a","exam_name":"\\ud800 \\u00c9"}'
    assert json.loads(out) == item.value
