"""Where the stack finds PostgreSQL's programs, and the account it runs them as (the
metastore database of ``stack up --metastore postgres``)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from core.errors import UserError
from stack.config import StackConfig


def postgres_bin(config: StackConfig) -> Path:
    """PostgreSQL's server programs: the configured folder or Debian's newest."""
    if config.postgres_bin is not None:
        candidates = [config.postgres_bin]
    else:
        root = Path("/usr/lib/postgresql")
        versions = sorted(
            (p for p in root.glob("*/bin") if p.parent.name.isdigit()),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
        candidates = versions
    for folder in candidates:
        if (folder / "postgres").exists() and (folder / "initdb").exists():
            return folder
    raise UserError(
        "The PostgreSQL metastore needs PostgreSQL's server programs and none were found "
        "in /usr/lib/postgresql/*/bin: apt-get install postgresql (or set "
        "EDTRACK_POSTGRES_BIN), then run the command again."
    )


def postgres_os_user() -> str | None:
    """The account PostgreSQL runs as: None (ourselves) unless we are root.

    PostgreSQL refuses to run as root; as root the stack runs it as Debian's
    ``postgres`` account, which must be able to reach the state dir.
    """
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise UserError(
            "PostgreSQL refuses to run as root and there is no 'postgres' account to run it "
            "as: install Debian's postgresql package or run the stack as another user."
        ) from None
    return "postgres"
