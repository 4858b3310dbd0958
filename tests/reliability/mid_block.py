"""Write one file through the lander's HDFS client, pausing in the middle of its first
block until told to go on (a line on stdin): a test kills a DataNode of the block's
pipeline meanwhile. Run as ``python -m tests.reliability.mid_block URL CONF_DIR PATH``, in
a process of its own, because hdfs-native can block for good after such a kill and
Python cannot interrupt it. Prints ``open`` at the pause and ``written <bytes>`` at the
end. A fourth argument, ``KEY=VALUE``, overrides one client setting of CONF_DIR."""

from __future__ import annotations

import sys
from pathlib import Path

from ingestion.landing.wiring import make_hdfs_client

CHUNK = b"x" * 2**20
CHUNKS = 12  # 12 MiB, one block: the kill lands after 5
PAUSE_AFTER = 5


def main(url: str, conf_dir: str, path: str, setting: str | None = None) -> None:
    if setting is None:
        client = make_hdfs_client(url, conf_dir=Path(conf_dir))
    else:
        from hdfs_native import Client

        key, value = setting.split("=", 1)
        client = Client(url, config_dir=conf_dir, config={key: value})
    with client.create(path) as out:
        for i in range(CHUNKS):
            out.write(CHUNK)
            if i + 1 == PAUSE_AFTER:
                print("open", flush=True)
                sys.stdin.readline()
    print(f"written {client.get_file_info(path).length}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
