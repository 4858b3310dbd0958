"""Fakes that mimic the slice of the kafka-python and hdfs-native APIs the lander uses."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace


@dataclass(frozen=True)
class FileStatus:
    path: str
    isdir: bool


class FakeHdfs:
    """An in-memory HDFS namespace: files map path -> bytes; folders are those made with
    ``mkdirs`` and those implied by a path below them. As in HDFS, ``create`` makes the
    file at once, refuses an existing one without overwrite and a missing parent without
    ``create_parent``; a file deleted while it is being written fails at close; a rename
    needs its source."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()
        self.renames: list[tuple[str, str]] = []
        self._writing: dict[str, object] = {}  # path -> the writer that created it

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return (
            path.rstrip("/") in self.dirs
            or any(d.startswith(prefix) for d in self.dirs)
            or any(f.startswith(prefix) for f in self.files)
        )

    def list_status(self, path: str, recursive: bool = False):
        if not self.is_dir(path):
            raise FileNotFoundError(path)
        prefix = path.rstrip("/") + "/"
        below = {p for p in (*self.files, *self.dirs) if p.startswith(prefix)}
        folders = {
            prefix + rest.rsplit("/", n)[0]
            for p in below
            for rest in [p[len(prefix) :]]
            for n in range(1, rest.count("/") + 1)
        } | {d for d in self.dirs if d.startswith(prefix)}
        entries = [(p, False) for p in self.files if p.startswith(prefix)]
        entries += [(d, True) for d in folders]
        for p, isdir in sorted(entries):
            if recursive or "/" not in p[len(prefix) :]:
                yield FileStatus(p, isdir)

    def mkdirs(self, path: str, create_parent: bool = False) -> None:
        self.dirs.add(path)

    def delete(self, path: str, recursive: bool = False) -> bool:
        if path in self.files:
            del self.files[path]
            self._writing.pop(path, None)
            return True
        if not self.is_dir(path):
            return False
        prefix = path.rstrip("/") + "/"
        inside = [f for f in self.files if f.startswith(prefix)]
        if inside and not recursive:
            raise OSError(f"{path} is not empty")
        for f in inside:
            del self.files[f]
            self._writing.pop(f, None)
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)}
        return True

    def create(self, path: str, write_options=None):
        overwrite = bool(getattr(write_options, "overwrite", False))
        create_parent = getattr(write_options, "create_parent", True)
        if path in self.files and not overwrite:
            raise FileExistsError(path)
        parent = path.rpartition("/")[0]
        if not create_parent and not self.is_dir(parent):
            raise FileNotFoundError(f"Parent directory doesn't exist: {parent}")
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
                if fs._writing.get(path) is not self:
                    raise FileNotFoundError(f"File does not exist: {path} (deleted while open)")
                del fs._writing[path]
                fs.files[path] = b"".join(self.chunks)

        writer = Writer()
        self.files[path] = b""
        self._writing[path] = writer
        return writer

    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        if src not in self.files:
            raise FileNotFoundError(f"rename source {src} is not found")
        if dst in self.files and not overwrite:
            raise FileExistsError(dst)
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

    def resume(self, *tps):
        pass

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
