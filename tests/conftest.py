"""Fixtures shared by the test files: a private virtual display, an empty user effects folder."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def display() -> str:
    """A private Xvfb server; its display number is chosen by Xvfb itself (-displayfd)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(10)


@pytest.fixture
def no_user_effects(tmp_path, monkeypatch):
    """An empty user effects folder ($ARFX_EFFECTS), so only what a test adds is found."""
    folder = tmp_path / "user-effects"
    folder.mkdir()
    monkeypatch.setenv("ARFX_EFFECTS", str(folder))
    return folder
