"""Bad inputs through the real CLI: missing, empty, truncated, mislabelled, huge, odd-sized, rotated and
exotic files each end in one `arfx: error:` line naming the file and the problem, or just work.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from arfx.demo import astronaut_image
from makers import assert_absent_or_playable, assert_finite, assert_one_line_error, decode, encode, face_crop, run_cli


def test_input_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nothing-here.mp4"
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(missing), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(missing), "no such file")
    assert not out.exists()
    code, _, err = run_cli(["track", str(missing), "-o", str(tmp_path / "t.npz")], capsys)
    assert_one_line_error(code, err, str(missing), "no such file")


def test_input_directory_without_media(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no pictures here")
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(folder), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(folder), "no images")
    assert not out.exists()
    code, _, err = run_cli(["track", str(folder), "-o", str(tmp_path / "t.npz")], capsys)
    assert_one_line_error(code, err, str(folder), "no images")


def test_input_text_file_named_mp4(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is a shopping list, not a video\n")
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(fake), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(fake), "not a video")
    assert_absent_or_playable(out)
    assert not out.exists()


@pytest.mark.parametrize("layout", ["index_at_end", "index_at_start"])
def test_input_truncated_mp4(tmp_path: Path, capsys: pytest.CaptureFixture, layout: str) -> None:
    """Cut in half. With the index (moov) at the end nothing is decodable: a clean error.
    With the index first (faststart), the frames before the cut are rendered, with a warning."""
    from arfx.demo import GeneratedSource

    frames = [f.rgb for f in GeneratedSource(160, 120, count=24, fps=24)]
    whole = encode(tmp_path / "whole.mp4", frames, fps=24,
                   options={"movflags": "faststart"} if layout == "index_at_start" else None)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(cut), "-o", str(out)], capsys)
    if layout == "index_at_end":
        assert_one_line_error(code, err, str(cut), "cut off or damaged")
        assert not out.exists()
    else:
        assert code == 0, err
        assert f"{cut}: video ends early" in err and "of 24 frames decoded" in err
        count, w, h = decode(out)
        assert 0 < count < 24 and (w, h) == (160, 120)
    assert_absent_or_playable(out)


@pytest.mark.parametrize("suffix", [".mp4", ".png"])
def test_input_zero_byte_file(tmp_path: Path, capsys: pytest.CaptureFixture, suffix: str) -> None:
    empty = tmp_path / f"empty{suffix}"
    empty.touch()
    out = tmp_path / f"out{suffix}"
    code, _, err = run_cli(["render", "glasses", "-i", str(empty), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(empty), "empty (0 bytes)")
    assert not out.exists()
    code, _, err = run_cli(["track", str(empty), "-o", str(tmp_path / "t.npz")], capsys)
    assert_one_line_error(code, err, str(empty), "empty (0 bytes)")


def test_input_one_pixel_image(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dot = tmp_path / "dot.png"
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(dot)
    out = tmp_path / "dot-out.png"
    code, stdout, err = run_cli(["render", "glasses", "-i", str(dot), "-o", str(out)], capsys)
    assert code == 0, err
    assert "0 face(s)" in stdout
    assert np.asarray(Image.open(out)).shape[:2] == (1, 1)
    code, stdout, err = run_cli(["track", str(dot), "-o", str(tmp_path / "t.npz")], capsys)
    assert code == 0, err
    assert np.load(tmp_path / "t.npz")["face_count"].tolist() == [0]


def test_input_8000x6000_image(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Works at full size (tracking letterboxes to the models' input; llvmpipe renders 48 MP)."""
    big = np.full((6000, 8000, 3), 70, np.uint8)
    big[1500:4500, 2500:5500] = cv2.resize(astronaut_image()[20:300, 110:390], (3000, 3000))
    src = tmp_path / "huge.jpg"
    Image.fromarray(big).save(src, quality=80)
    out = tmp_path / "huge-out.jpg"
    code, stdout, err = run_cli(["render", "glasses", "-i", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert "1 face(s)" in stdout
    with Image.open(out) as image:
        assert image.size == (8000, 6000)


def test_input_wider_than_opengl_can_render(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Past the GL limit (16384 px on llvmpipe) the image is refused with the limit named."""
    wide = tmp_path / "panorama.png"
    Image.fromarray(np.full((64, 20000, 3), 90, np.uint8)).save(wide)
    out = tmp_path / "pano-out.png"
    code, _, err = run_cli(["render", "glasses", "-i", str(wide), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(wide), "20000x64", "px per side")
    assert not out.exists()


@pytest.mark.parametrize("kind", ["grayscale", "16-bit", "16-bit-gray", "rgba"])
def test_input_grayscale_16bit_rgba_png(tmp_path: Path, capsys: pytest.CaptureFixture, kind: str) -> None:
    face = face_crop(256)
    path = tmp_path / f"{kind}.png"
    if kind == "grayscale":
        Image.fromarray(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)).save(path)
    elif kind == "16-bit":
        cv2.imwrite(str(path), face[:, :, ::-1].astype(np.uint16) * 257)
    elif kind == "16-bit-gray":
        Image.fromarray(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257).save(path)
    else:
        rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
        rgba[:40, :, 3] = 0  # a transparent strip on top
        Image.fromarray(rgba).save(path)
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(["render", "glasses", "-i", str(path), "-o", str(out)], capsys)
    assert code == 0, err
    assert "1 face(s)" in stdout
    rendered = np.asarray(Image.open(out).convert("RGB"))
    assert rendered.shape == (256, 256, 3)
    # Decoded with the right scale: the picture is neither blown out nor black.
    assert 40 < rendered.mean() < 200
    code, _, err = run_cli(["track", str(path), "-o", str(tmp_path / "t.npz")], capsys)
    assert code == 0, err
    assert np.load(tmp_path / "t.npz")["face_count"].tolist() == [1]


def test_input_video_with_odd_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """H.264 4:2:0 needs even sizes: a 161x121 input is padded by one row/column, every frame kept."""
    face = cv2.resize(face_crop(), (161, 121))
    src = encode(tmp_path / "odd.mkv", [face] * 4, codec="ffv1")
    out = tmp_path / "odd-out.mp4"
    code, stdout, err = run_cli(["render", "glasses", "-i", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert decode(out) == (4, 162, 122)
    assert "faces on 4" in stdout


def test_input_video_without_frames(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A container with a video stream but zero frames (AVI keeps the stream header)."""
    empty = tmp_path / "empty.avi"
    container = av.open(str(empty), "w")
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    container.start_encoding()
    container.close()
    with av.open(str(empty)) as check:
        assert len(check.streams.video) == 1
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(empty), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(empty), "no frames")
    assert not out.exists()
    assert_absent_or_playable(out)
    code, _, err = run_cli(["track", str(empty), "-o", str(tmp_path / "t.npz")], capsys)
    assert_one_line_error(code, err, str(empty), "no frames")
    assert not (tmp_path / "t.npz").exists()


def test_input_rotated_phone_video(tmp_path: Path, capsys: pytest.CaptureFixture,
                                   geometries_drawn: list[list]) -> None:
    """A portrait clip stored landscape with a 90-degree display matrix, as phones write it."""
    portrait = np.full((192, 128, 3), 60, np.uint8)
    portrait[32:160] = face_crop(128)
    # Stored turned clockwise; the display matrix turns it back counter-clockwise.
    stored = np.ascontiguousarray(np.rot90(portrait, k=-1))
    src = encode(tmp_path / "phone.mp4", [stored] * 3, rotation=90)
    out = tmp_path / "phone-out.mp4"
    code, stdout, err = run_cli(["render", "glasses", "-i", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert decode(out) == (3, 128, 192)  # portrait, as the phone showed it
    assert "faces on 3" in stdout  # upright, so the face is found on every frame
    with av.open(str(out)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    # The face is in the middle band, the grey margins above and below.
    assert abs(first[:24].astype(float).mean() - 60) < 12
    assert abs(first[-24:].astype(float).mean() - 60) < 12
    assert assert_finite(geometries_drawn) == 3
