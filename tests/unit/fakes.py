"""Fakes that mimic the slice of the kafka-python and hdfs-native APIs the lander uses."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace


@dataclass(frozen=True)
class FileStatus:
    path: str
    isdir: bool


class FakeHdfs:
    """An in-memory HDFS: files map path -> bytes; directories are implied."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()
        self.renames: list[tuple[str, str]] = []

    def list_status(self, path: str, recursive: bool = False):
        prefix = path.rstrip("/") + "/"
        found = [p for p in self.files if p.startswith(prefix)]
        if not found:
            raise FileNotFoundError(path)
        for p in sorted(found):
            if recursive or "/" not in p[len(prefix) :]:
                yield FileStatus(p, False)

    def mkdirs(self, path: str, create_parent: bool = False) -> None:
        self.dirs.add(path)

    def delete(self, path: str, recursive: bool = False) -> bool:
        return self.files.pop(path, None) is not None

    def create(self, path: str):
        fs = self

        class Writer:
            def __init__(self) -> None:
                self.chunks: list[bytes] = []

            def write(self, data: bytes) -> None:
                self.chunks.append(data)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.close()

            def close(self) -> None:
                fs.files[path] = b"".join(self.chunks)

        return Writer()

    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        self.files[dst] = self.files.pop(src)
        self.renames.append((src, dst))


class FakeConsumer:
    """Messages per partition; poll returns what lies past each position."""

    def __init__(self, topic: str, messages: dict[int, list[tuple[int, bytes | None]]]) -> None:
        self.topic = topic
        self.messages = messages  # partition -> [(timestamp_ms, value)]
        self.positions: dict[int, int] = {}
        self.commits: list[dict] = []

    def partitions_for_topic(self, topic):
        return set(self.messages) if topic == self.topic else None

    def assign(self, tps):
        self.assigned = list(tps)

    def seek(self, tp, offset):
        self.positions[tp.partition] = offset

    def seek_to_beginning(self, tp):
        self.positions[tp.partition] = 0

    def position(self, tp):
        return self.positions[tp.partition]

    def end_offsets(self, tps):
        return {tp: len(self.messages[tp.partition]) for tp in tps}

    def poll(self, timeout_ms=0, max_records=500):
        out = {}
        for tp in self.assigned:
            start = self.positions[tp.partition]
            chunk = self.messages[tp.partition][start : start + max_records]
            if chunk:
                out[tp] = [
                    SimpleNamespace(
                        topic=self.topic,
                        partition=tp.partition,
                        offset=start + i,
                        timestamp=ts,
                        key=None,
                        value=v,
                    )
                    for i, (ts, v) in enumerate(chunk)
                ]
                self.positions[tp.partition] = start + len(chunk)
        return out

    def offsets_for_times(self, timestamps):
        found = {}
        for tp, ms in timestamps.items():
            messages = self.messages[tp.partition]
            first = next((i for i, (ts, _) in enumerate(messages) if ts >= ms), None)
            found[tp] = None if first is None else SimpleNamespace(offset=first, timestamp=ms)
        return found

    def commit(self, offsets):
        self.commits.append({tp.partition: om.offset for tp, om in offsets.items()})


class FakeCatalog:
    where = "thrift:10000"

    def __init__(self) -> None:
        self.partitions: list[tuple[str, str]] = []
        self.ensured = 0

    def ensure_tables(self) -> None:
        self.ensured += 1

    def add_partitions(self, table: str, dates) -> None:
        for date in sorted(set(dates)):
            if (table, date) not in self.partitions:
                self.partitions.append((table, date))


class FakeCursor:
    """A PyHive cursor whose answers come from ``answers(statement) -> (columns, rows)``;
    every statement is logged."""

    def __init__(self, log: list, answers) -> None:
        self.log, self.answers = log, answers
        self.description = None
        self._rows: list[tuple] = []

    def execute(self, statement, parameters=None):
        self.log.append((statement, parameters))
        columns, self._rows = self.answers(statement)
        self.description = [(c, "STRING_TYPE") for c in columns] if columns else None

    def fetchall(self):
        return self._rows

    def close(self):
        pass
