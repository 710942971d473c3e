"""The data directory: where it is, and the AMI secret generated once and kept private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sipnotify.config.datadir import default_data_dir, ensure_secret, read_secret, secret_path


def test_the_secret_is_generated_once_private_and_read_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path, secret = ensure_secret(data)
    assert path == secret_path(data)
    assert len(secret) >= 24
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert ensure_secret(data) == (path, secret)
    assert read_secret(path) == secret


def test_no_secret_where_there_is_no_file(tmp_path: Path) -> None:
    assert read_secret(tmp_path / "missing.conf") is None


def test_the_default_place_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "sipnotify"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "sipnotify"
