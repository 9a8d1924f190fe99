"""Frame sources: files, folders and cameras deliver frames in order and fail with clear messages."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from arfx.demo import write_clip
from arfx.errors import InputError
from arfx.sources import (CameraSource, FolderSource, ImageSource, LatestFrameSlot, ThreadedFeed,
                          VideoSource, open_source, parse_size)
from fakes import FakeCamera


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 160, 96, count=12, fps=24)


def test_video_source_reports_and_delivers_every_frame_in_order(clip: Path) -> None:
    with open_source(clip) as source:
        assert isinstance(source, VideoSource)
        assert source.fps == pytest.approx(24.0)
        assert source.frame_count == 12
        assert source.duration == pytest.approx(0.5, abs=1e-3)
        frames = list(source)
    assert [f.index for f in frames] == list(range(12))
    assert [f.timestamp for f in frames] == pytest.approx([i / 24 for i in range(12)], abs=1e-3)
    assert all(f.rgb.shape == (96, 160, 3) and f.rgb.dtype == np.uint8 for f in frames)
    # The clip moves: consecutive frames differ.
    assert np.abs(frames[0].rgb.astype(int) - frames[6].rgb.astype(int)).mean() > 2


def test_video_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    picture = np.zeros((32, 64, 3), np.uint8)
    picture[:, :8] = 255  # a white band along the left edge
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(90)  # a quarter turn counter-clockwise when shown
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    rgb = next(iter(VideoSource(path))).rgb
    assert rgb.shape == (64, 32, 3)  # portrait now
    # Turned counter-clockwise, the left edge becomes the bottom edge.
    assert rgb[-6:, :, 0].mean() > 200
    assert rgb[:40, :, 0].mean() < 30


@pytest.mark.parametrize("mode", ["L", "I;16", "RGBA", "P"])
def test_image_modes_become_rgb8(tmp_path: Path, mode: str) -> None:
    base = np.zeros((20, 30, 3), np.uint8)
    base[:, :15] = (200, 100, 50)
    image = Image.fromarray(base)
    if mode == "I;16":
        image = Image.fromarray((base[:, :, 0].astype(np.uint16) * 257))
    elif mode == "RGBA":
        rgba = np.dstack([base, np.full((20, 30), 255, np.uint8)])
        rgba[0, 0, 3] = 0
        image = Image.fromarray(rgba)
    else:
        image = image.convert(mode)
    path = tmp_path / "img.png"
    image.save(path)
    rgb = ImageSource(path).rgb
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert rgb[5, 5].max() > 40 and rgb[5, 25].max() < 10
    if mode == "RGBA":
        assert rgb[0, 0].tolist() == [0, 0, 0]  # transparent pixel composited over black


def test_folder_in_natural_order(tmp_path: Path) -> None:
    for i in (10, 2, 1):
        Image.fromarray(np.full((8, 8, 3), i * 10, np.uint8)).save(tmp_path / f"frame{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path)
    assert isinstance(source, FolderSource)
    assert [p.name for p in source.files] == ["frame1.png", "frame2.png", "frame10.png"]
    values = [int(f.rgb[0, 0, 0]) for f in source]
    assert values == [10, 20, 100]


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"),
    ("empty_folder", "folder has no images"),
    ("zero_bytes", "empty (0 bytes)"),
    ("text_as_mp4", "not a video"),
    ("text_as_png", "not an image"),
])
def test_bad_inputs_fail_with_one_line_naming_the_file(tmp_path: Path, case: str, message: str) -> None:
    path = {
        "missing": tmp_path / "nope.mp4",
        "empty_folder": tmp_path / "empty",
        "zero_bytes": tmp_path / "zero.mp4",
        "text_as_mp4": tmp_path / "text.mp4",
        "text_as_png": tmp_path / "text.png",
    }[case]
    if case == "empty_folder":
        path.mkdir()
    elif case == "zero_bytes":
        path.write_bytes(b"")
    elif case.startswith("text"):
        path.write_text("hello, I am not media\n" * 20)
    with pytest.raises(InputError) as info:
        open_source(path)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_parse_size() -> None:
    assert parse_size("1280x720") == (1280, 720)
    with pytest.raises(InputError):
        parse_size("big")


def test_latest_frame_wins_and_order_is_kept() -> None:
    from arfx.sources import Frame

    slot = LatestFrameSlot()
    blank = np.zeros((2, 2, 3), np.uint8)
    for i in range(3):
        slot.put(Frame(blank, i, i / 30))
    assert slot.take(0).index == 2  # the two older unread frames were replaced
    assert slot.take(0) is None
    assert slot.dropped == 2
    slot.end("done")
    assert slot.take(1) is None and slot.ended


def test_paced_feed_with_slow_consumer_skips_but_never_reorders(clip: Path) -> None:
    feed = ThreadedFeed(VideoSource(clip), paced=True)
    seen = []
    for frame in feed.frames():
        seen.append(frame.index)
        time.sleep(0.06)  # slower than the clip's 24 fps
    assert seen == sorted(set(seen))
    assert seen[-1] == 11  # the last frame is still delivered
    assert len(seen) < 12


@pytest.mark.parametrize("failure", ["error", "hang"])
def test_camera_that_stops_ends_the_stream_cleanly(failure: str) -> None:
    camera = CameraSource(0, device=FakeCamera(good=15, failure=failure, fps=100.0), timeout=0.5)
    with camera:
        frames = list(camera)
    assert 1 <= len(frames) <= 15
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    assert camera.end_reason
    assert [f.timestamp for f in frames] == sorted(f.timestamp for f in frames)


def test_camera_that_opens_but_never_delivers_is_an_input_error() -> None:
    camera = CameraSource(3, device=FakeCamera(good=0, failure="hang", fps=100.0), timeout=0.3)
    with pytest.raises(InputError, match="camera 3"):
        list(camera)
    camera.close()


def test_no_camera_at_index_is_an_input_error() -> None:
    with pytest.raises(InputError, match="camera 57"):
        CameraSource(57)
