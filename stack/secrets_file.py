"""Generated passwords kept in the state dir, readable by their owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (set before any byte is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def password(path: Path) -> str:
    """The password kept in ``path``, generated (24 URL-safe characters) on first use.

    The file holds the password alone, without a newline, so ``ldapwhoami -y`` and
    ``initdb --pwfile`` read it as it is.
    """
    if not path.exists():
        write_private(path, secrets.token_urlsafe(18))
    return path.read_text()
