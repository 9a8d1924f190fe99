"""Fixtures shared by the test files (a private virtual display, an empty user effects folder)
and the markers the quick loop leaves out: `gui` (every test that opens a window under Xvfb:
it uses the `display` fixture) and `slow` (the tests that take over 3 s, listed in SLOW_TESTS
from `pytest --durations=25`, plus the install tests). `pytest -m "not slow and not gui"`."""

from __future__ import annotations

import os
import shutil
import subprocess

from pathlib import Path

import numpy as np
import pytest

from arfx.demo import write_clip

#: Tests that take over 3 s on a 2-core CPU machine (`--durations=25`), by file and name
#: (every parametrisation of a name).
SLOW_TESTS: frozenset[str] = frozenset({
    "test_app.py::test_input_file_recording_keeps_every_frame_from_the_first",
    "test_app.py::test_camera_loss_ends_session_with_recording_kept",
    "test_app.py::test_keys_switch_effect_screenshot_record_and_quit",
    "test_app.py::test_signal_while_recording_keeps_every_frame",
    "test_bench.py::test_bench_shows_where_the_cpu_goes_by_thread",
    "test_inputs.py::test_input_8000x6000_image",
    "test_showcase.py::test_generated_showcase_is_deterministic_and_matches_the_committed_files",
    "test_stream.py::test_cli_streams_a_file_without_a_window",
    "test_soak_live.py::test_short_live_soak_leaks_no_gl_objects_or_threads_and_drops_nothing",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "display" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gui)
        name = getattr(item, "originalname", None) or item.name
        if f"{item.path.name}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 160, 120, count=12, fps=24)


@pytest.fixture
def geometries_drawn(monkeypatch: pytest.MonkeyPatch) -> list[list]:
    """The face geometries of every frame result handed to the renderer (the real one still draws)."""
    from arfx.render.renderer import Renderer

    seen: list[list] = []
    original = Renderer.render

    def spy(self, rgb, result, *args, **kwargs):
        seen.append([face.geometry for face in result.entities("face")])
        return original(self, rgb, result, *args, **kwargs)

    monkeypatch.setattr(Renderer, "render", spy)
    return seen
