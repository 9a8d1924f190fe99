"""The on-screen interface: drawn with GL over the picture in the live window (Xvfb), read back
from the window's framebuffer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from arfx.demo import astronaut_image
from arfx.overlay import AMBER, RED, draw_status

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")


def shots(tmp_path: Path) -> Path:
    """Where window captures go: $ARFX_TEST_SHOTS (to look at them) or the test's temp folder."""
    import os

    folder = Path(os.environ.get("ARFX_TEST_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def grey_still(tmp_path: Path, size=(480, 640)) -> Path:
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((*size, 3), 128, np.uint8)).save(path)
    return path


def run_window(tmp_path: Path, display: str, monkeypatch, actions=(), overlay=True, frames=6,
               still: Path | None = None):
    from arfx.app import AppOptions, LiveApp

    monkeypatch.setenv("DISPLAY", display)
    app = LiveApp(AppOptions(effect="axis", input=str(still or grey_still(tmp_path)), frames=frames,
                             overlay=overlay, output_dir=tmp_path))
    app.grab_window = True
    for action in actions:
        app.act(action)
    result = app.run()
    return app, result


def red(pixels: np.ndarray) -> np.ndarray:
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return (r > 180) & (g < 90) & (b < 90)


def white(pixels: np.ndarray) -> np.ndarray:
    return (pixels.min(axis=-1) > 220)


def test_overlay_pixels_in_the_window(display: str, tmp_path: Path, monkeypatch) -> None:
    """Recording and help on: a REC dot and text top left, a help line along the bottom; the
    picture elsewhere untouched. Without the overlay the window is the picture alone."""
    app, result = run_window(tmp_path, display, monkeypatch, actions=("record", "help"))
    assert result.frames == 6 and len(result.recordings) == 1
    shown = app.window_pixels
    h, w = shown.shape[:2]
    assert (w, h) == (640, 480)
    Image.fromarray(shown).save(shots(tmp_path) / "overlay_window.png")
    top_left = shown[: h // 5, : w // 3]
    assert red(top_left).sum() > 30, "no REC indicator"
    assert white(top_left).sum() > 30, "no status text"
    assert (top_left.max(axis=-1) < 100).sum() > 300, "no dark box behind the text"
    bottom = shown[-12:]
    assert white(shown[-24:]).sum() > 100 and (bottom.max(axis=-1) < 100).mean() > 0.5, "no help line"
    middle = shown[h // 3: 2 * h // 3, w // 3: 2 * w // 3]
    assert np.abs(middle.astype(int) - 128).max() <= 2  # the grey picture, nothing over it
    # The recording has the picture without the interface.
    import av

    with av.open(str(result.recordings[0])) as container:
        recorded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert not red(recorded).any() and np.abs(recorded.astype(int) - 128).max() <= 3

    (tmp_path / "plain").mkdir()
    plain, _ = run_window(tmp_path / "plain", display, monkeypatch, overlay=False)
    assert np.abs(plain.window_pixels.astype(int) - 128).max() <= 2


def test_help_toggles_and_effect_name_is_announced(display: str, tmp_path: Path, monkeypatch) -> None:
    import arfx.overlay

    monkeypatch.setattr(arfx.overlay, "ANNOUNCE_S", 600.0)  # however slow the machine is today
    app, _ = run_window(tmp_path, display, monkeypatch, actions=("next",))
    shown = app.window_pixels
    h = shown.shape[0]
    assert not white(shown[-24:]).any(), "help shown before H"
    # The new effect's name in the middle of the picture (for ANNOUNCE_S seconds).
    assert white(shown[h // 3: h // 2]).sum() > 50


def test_status_image_colours() -> None:
    image = draw_status(320, 240, {"fps": 12.0, "dropped": 4, "recording": 65.0, "latency_ms": 80.0},
                        None)
    assert image.shape == (240, 320, 4)
    rgb = image[..., :3]
    assert (np.abs(rgb.astype(int) - RED[:3]).sum(axis=-1) < 60).any()
    assert (np.abs(rgb.astype(int) - AMBER[:3]).sum(axis=-1) < 60).any()
    assert image[-20:].max() == 0  # no help line asked for: the bottom stays transparent


def test_overlay_over_a_face(display: str, tmp_path: Path, monkeypatch) -> None:
    """A look at it ($ARFX_TEST_SHOTS/overlay_face.png): the astronaut with glasses and the interface."""
    still = tmp_path / "face.png"
    Image.fromarray(astronaut_image()[:400, 60:460]).save(still)
    from arfx.app import AppOptions, LiveApp

    monkeypatch.setenv("DISPLAY", display)
    app = LiveApp(AppOptions(effect="glasses", input=str(still), frames=4, output_dir=tmp_path))
    app.grab_window = True
    app.act("record")
    app.act("help")
    app.run()
    Image.fromarray(app.window_pixels).save(shots(tmp_path) / "overlay_face.png")
    assert red(app.window_pixels[:80, :200]).sum() > 20


def test_recording_includes_the_interface_when_asked(display: str, tmp_path: Path, monkeypatch) -> None:
    """overlay_in_outputs (--record-overlay): the recording shows the REC dot and the text too."""
    import av

    from arfx.app import AppOptions, LiveApp

    monkeypatch.setenv("DISPLAY", display)
    app = LiveApp(AppOptions(effect="axis", input=str(grey_still(tmp_path)), frames=4,
                             overlay_in_outputs=True, output_dir=tmp_path))
    app.grab_window = True
    app.act("record")
    result = app.run()
    with av.open(str(result.recordings[0])) as container:
        recorded = list(container.decode(video=0))[-1].to_ndarray(format="rgb24")
    assert red(recorded[:96, :213]).sum() > 20 and white(recorded[:96, :213]).sum() > 20
    assert np.abs(recorded[200:300, 250:400].astype(int) - 128).max() <= 3
    # The window shows the same picture, the interface once (not blended twice).
    shown = app.window_pixels
    box = shown[:96, :213].astype(int)
    assert np.abs(box - recorded[:96, :213].astype(int)).mean() < 6


def test_composite_blends_only_where_the_overlay_covers() -> None:
    from arfx.overlay import composite

    rgb = np.full((40, 60, 3), 200, np.uint8)
    over = np.zeros((40, 60, 4), np.uint8)
    over[5:10, 5:20] = (0, 0, 0, 255)  # opaque black
    over[30:35, :] = (50, 0, 0, 128)  # half-transparent, premultiplied
    out = composite(rgb, over)
    assert (out[5:10, 5:20] == 0).all() and (out[12:28] == 200).all()
    assert abs(int(out[32, 0, 0]) - (50 + 200 * 127 // 255)) <= 1 and rgb[32, 0, 0] == 200


def test_text_bands_cover_every_overlay_pixel_and_little_else() -> None:
    """The window blends the overlay only inside these boxes (a whole-picture blend costs ~10 ms
    per frame on llvmpipe), so they must hold every pixel it draws."""
    from arfx.overlay import text_bands

    image = draw_status(1280, 720, {"fps": 30.0, "latency_ms": 60.0, "help": "H: help  Esc: quit"}, "glasses")
    bands = text_bands(image)
    assert len(bands) >= 3  # status top left, the announced name, the help line at the bottom
    covered = np.zeros(image.shape[:2], bool)
    for x, y, w, h in bands:
        covered[y:y + h, x:x + w] = True
    assert not image[~covered].any()
    assert covered.mean() < 0.25
    assert text_bands(np.zeros((8, 8, 4), np.uint8)) == []


def test_window_shows_the_picture_rendered_offscreen_as_a_recording_gets_it(display: str, tmp_path: Path,
                                                                           monkeypatch) -> None:
    """Without outputs the window shows the offscreen picture straight from the GPU (no read
    back): the same pixels, upright and unmirrored, as when a recording needs them read back."""
    from arfx.render.renderer import Renderer

    readbacks: list[bool] = []
    original = Renderer.render

    def spy(self, *args, **kwargs):
        readbacks.append(kwargs.get("readback", True))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Renderer, "render", spy)
    face = tmp_path / "face.png"
    Image.fromarray(astronaut_image()).save(face)
    app, _ = run_window(tmp_path, display, monkeypatch, overlay=False, frames=3, still=face)
    shown = app.window_pixels
    assert readbacks == [False] * 3 and shown.shape == (512, 512, 3)
    readbacks.clear()
    recorded, _ = run_window(tmp_path, display, monkeypatch, overlay=False, frames=3, still=face,
                             actions=["record"])
    assert readbacks == [True] * 3  # recording: the pixels come back for the file
    assert np.abs(shown.astype(int) - recorded.window_pixels.astype(int)).mean() < 2.0
    assert np.abs(shown.astype(int) - astronaut_image().astype(int)).mean() < 20  # upright, not mirrored
