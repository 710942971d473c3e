"""The data directory: what sipnotify generates and keeps between runs.

Owns the default location (`$XDG_DATA_HOME/sipnotify`, else `~/.local/share/sipnotify`) and
the AMI secret of the embedded default configuration, generated on first start into
`manager-secret.conf`: an Asterisk-syntax `[admin]` section read after manager.conf, so the
secret never ships in the package and is never a well-known password.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sipnotify.config.parser import parse_file

SECRET_FILE = "manager-secret.conf"
DEFAULT_USER = "admin"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sipnotify"


def secret_path(data_dir: Path) -> Path:
    return data_dir / SECRET_FILE


def read_secret(path: Path) -> str | None:
    """The default user's secret from `path`, or None if it is not there."""
    for section in parse_file(path).objects():
        item = section.first("secret")
        if section.name.lower() == DEFAULT_USER and item is not None and item.value:
            return item.value
    return None


def ensure_secret(data_dir: Path) -> tuple[Path, str]:
    """The default user's secret, generated (mode 0600, in a 0700 folder) if missing."""
    path = secret_path(data_dir)
    existing = read_secret(path)
    if existing is not None:
        return path, existing
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(18)
    text = (
        "; sipnotify: the AMI secret of the embedded default configuration, generated on\n"
        "; first start. Delete this file to have a new one generated.\n"
        f"[{DEFAULT_USER}]\nsecret = {secret}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path, secret
