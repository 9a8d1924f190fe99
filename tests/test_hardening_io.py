"""Hardening of inputs, cameras, outputs and tracking, run through the real CLI as a user would.

Every case either works or fails with one `arfx: error:` line naming the file and the
problem and a non-zero exit code, never a traceback (only `--verbose` shows one). Video
outputs are either absent or decode with PyAV; no half-written (partial) file is left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from arfx import cli
from arfx.demo import astronaut_image, write_clip
from fakes import FakeCamera

REPO = Path(__file__).resolve().parents[1]


# -- helpers ------------------------------------------------------------------------------


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    """Non-zero exit, exactly one `arfx: error:` line containing every needle, no traceback."""
    assert code != 0
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("arfx: error:")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def decode(path: Path) -> tuple[int, int, int]:
    """(frames, width, height) of a video, decoded to the last frame with PyAV."""
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
    assert frames, f"{path} decodes to no frames"
    return len(frames), frames[0].width, frames[0].height


def assert_absent_or_playable(path: Path) -> None:
    if path.exists():
        decode(path)
    assert not [p.name for p in path.parent.iterdir() if ".partial" in p.name]


def face_crop(size: int = 160, tight: bool = False) -> np.ndarray:
    """The astronaut's head (or, `tight`, just the face) as a size x size RGB image."""
    box = astronaut_image()[40:240, 150:350] if tight else astronaut_image()[20:300, 110:390]
    return np.ascontiguousarray(cv2.resize(box, (size, size), interpolation=cv2.INTER_AREA))


def encode(path: Path, frames: list[np.ndarray], fps: int = 10, codec: str = "libx264",
           rotation: float | None = None, options: dict | None = None) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p" if codec == "libx264" else "yuv444p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


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


def assert_finite(geometries: list[list]) -> int:
    count = 0
    for frame in geometries:
        for g in frame:
            assert np.isfinite(g.pose).all() and np.isfinite(g.mesh).all()
            count += 1
    return count


# -- input --------------------------------------------------------------------------------


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


# -- camera -------------------------------------------------------------------------------


def test_camera_missing_index(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rec.mp4"
    code, _, err = run_cli(["run", "--camera", "57", "--record", str(out)], capsys)
    assert_one_line_error(code, err, "camera 57", "no camera at this index")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_camera_opens_but_yields_no_frames(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", lambda index: FakeCamera(good=0))
    out = tmp_path / "rec.mp4"
    code, _, err = run_cli(["run", "--camera", "3", "--record", str(out)], capsys)
    assert_one_line_error(code, err, "camera 3", "opened but delivered no frames")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_camera_stops_mid_session_recording_kept(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch, display: str) -> None:
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setattr(cv2, "VideoCapture", lambda index: FakeCamera(good=20, image=np.ascontiguousarray(face_crop(240)[:, :, ::-1])))
    out = tmp_path / "rec.mp4"
    code, stdout, err = run_cli(["run", "glasses", "--camera", "0", "--record", str(out)], capsys)
    line = assert_one_line_error(code, err, "camera 0: stopped delivering frames", f"recording kept: {out}")
    assert code == 2, line
    assert f"recording saved: {out}" in stdout
    count, w, h = decode(out)
    assert 0 < count <= 20 and (w, h) == (240, 240)
    assert f"arfx: {count} frame(s); ended: camera 0: stopped delivering frames" in err
    assert_absent_or_playable(out)


# -- output -------------------------------------------------------------------------------


def test_output_in_missing_folder(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "no" / "such" / "folder" / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(clip), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(out), "does not exist")
    code, _, err = run_cli(["track", str(clip), "-o", str(out.with_suffix(".npz"))], capsys)
    assert_one_line_error(code, err, "does not exist")
    assert not (tmp_path / "no").exists()


def test_output_in_unwritable_folder(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Root ignores permission bits, so the folder is a path under a regular file: no one can write there."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    out = blocker / "out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(clip), "-o", str(out)], capsys)
    assert_one_line_error(code, err, str(out), "is not a folder")
    code, _, err = run_cli(["track", str(clip), "-o", str(blocker / "t.npz")], capsys)
    assert_one_line_error(code, err, "is not a folder")
    assert blocker.read_text() == "a file, not a folder"


@contextlib.contextmanager
def tiny_filesystem(folder: Path, size: str):
    folder.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True)
    except OSError:
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); see the RLIMIT_FSIZE test")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_output_disk_full(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A real ENOSPC: the output folder is a 12 KB tmpfs that fills up mid-video."""
    with tiny_filesystem(tmp_path / "full", "12k") as folder:
        out = folder / "out.mp4"
        code, _, err = run_cli(["render", "glasses", "-i", str(clip), "-o", str(out)], capsys)
        assert_one_line_error(code, err, str(out), os.strerror(errno.ENOSPC))
        assert list(folder.iterdir()) == []  # neither the output nor a partial file


def test_output_write_error_file_size_limit(clip: Path, tmp_path: Path) -> None:
    """A write error from the kernel (EFBIG under RLIMIT_FSIZE, works without root), in a subprocess
    so the exit code and the absence of a traceback are what a shell would see."""
    out = tmp_path / "out.mp4"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8000, 8000))

    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "arfx", "render", "glasses", "-i", str(clip), "-o", str(out)],
                          preexec_fn=limit, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert_one_line_error(done.returncode, done.stderr, str(out), os.strerror(errno.EFBIG))
    assert list(tmp_path.iterdir()) == []


def test_output_existing_file_refused_before_work(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from arfx.tracking.tracker import FaceTracker

    def no_work(*args, **kwargs):
        raise AssertionError("tracking started although the output exists")

    monkeypatch.setattr(FaceTracker, "__init__", no_work)
    for name, args in [("out.mp4", ["render", "glasses", "-i", str(clip), "-o"]),
                       ("out.npz", ["track", str(clip), "-o"]),
                       ("rec.mp4", ["run", "--input", str(clip), "--record"]),
                       ("demo.mp4", ["demo", "--no-window", "-o"])]:
        existing = tmp_path / name
        existing.write_bytes(b"precious")
        code, _, err = run_cli(args + [str(existing)], capsys)
        assert_one_line_error(code, err, str(existing), "already exists", "--overwrite")
        assert existing.read_bytes() == b"precious"
    monkeypatch.undo()
    code, _, err = run_cli(["render", "glasses", "-i", str(clip), "-o", str(tmp_path / "out.mp4"),
                            "--overwrite"], capsys)
    assert code == 0, err
    assert decode(tmp_path / "out.mp4")[0] == 12


def test_output_no_partial_file_after_failure_mid_render(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A folder whose third image has another size fails mid-video: nothing is left behind."""
    folder = tmp_path / "shots"
    folder.mkdir()
    face = face_crop(128)
    for i in range(4):
        image = face if i != 2 else cv2.resize(face, (96, 96))
        Image.fromarray(image).save(folder / f"shot{i}.png")
    out = tmp_path / "shots.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(folder), "-o", str(out)], capsys)
    assert_one_line_error(code, err, "shot2.png", "96x96", "128x128")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shots"]


def test_unexpected_failure_is_one_line_unless_verbose(tmp_path: Path) -> None:
    """A bug (here: an effect folder arfx cannot list) shows one line; --verbose shows the traceback."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = ("import sys, arfx.cli as c\n"
              "def boom(args): raise RuntimeError('something broke')\n"
              "c._cmd_list = boom\n"
              "sys.exit(c.main(sys.argv[1:]))\n")
    quiet = subprocess.run([sys.executable, "-c", script, "list"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=60)
    assert quiet.returncode == 1
    assert_one_line_error(quiet.returncode, quiet.stderr, "RuntimeError: something broke", "--verbose")
    loud = subprocess.run([sys.executable, "-c", script, "--verbose", "list"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert loud.returncode != 0 and "Traceback" in loud.stderr


# -- tracking -----------------------------------------------------------------------------


def test_tracking_black_white_noise_frames(tmp_path: Path, capsys: pytest.CaptureFixture,
                                          geometries_drawn: list[list]) -> None:
    rng = np.random.default_rng(7)
    face = np.pad(face_crop(120), ((0, 0), (20, 20), (0, 0)), constant_values=80)
    frames = [np.zeros((120, 160, 3), np.uint8), np.full((120, 160, 3), 255, np.uint8),
              rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), face,
              np.zeros((120, 160, 3), np.uint8), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8),
              np.full((120, 160, 3), 255, np.uint8), face]
    src = encode(tmp_path / "flat.mp4", frames)
    out = tmp_path / "flat-out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert decode(out)[0] == len(frames)
    assert len(geometries_drawn) == len(frames)
    assert assert_finite(geometries_drawn) >= 2  # the two face frames
    code, _, err = run_cli(["track", str(src), "-o", str(tmp_path / "t.npz")], capsys)
    assert code == 0, err
    tracked = np.load(tmp_path / "t.npz")
    assert np.isfinite(tracked["face_landmarks"]).all()
    assert tracked["face_count"][3] == 1


def test_tracking_twenty_faces(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                               geometries_drawn: list[list]) -> None:
    """20 faces (5x4 tiles) with --max-faces 3: at most 3 faces a frame and a landmark-model cost
    bounded by max faces (detections + tracks, each at most max faces), not by faces present."""
    from arfx.tracking.landmarks import LandmarkModel

    runs: list[int] = []
    original = LandmarkModel.run

    def counting(self, rgb, roi):
        runs[-1] += 1
        return original(self, rgb, roi)

    monkeypatch.setattr(LandmarkModel, "run", counting)
    tile = np.vstack([np.hstack([face_crop(96, tight=True)] * 5)] * 4)  # 480x384
    src = encode(tmp_path / "crowd.mp4", [np.ascontiguousarray(np.roll(tile, 4 * i, axis=1)) for i in range(4)])
    from arfx.tracking import tracker as tracker_module

    process = tracker_module.FaceTracker.process

    def per_frame(self, rgb, timestamp=None):
        runs.append(0)
        return process(self, rgb, timestamp)

    monkeypatch.setattr(tracker_module.FaceTracker, "process", per_frame)
    out = tmp_path / "crowd-out.mp4"
    code, stdout, err = run_cli(["render", "glasses", "-i", str(src), "-o", str(out), "--max-faces", "3",
                                   "--detector", "full"], capsys)
    assert code == 0, err
    assert decode(out)[0] == 4
    assert len(runs) == 4 and max(runs) <= 2 * 3
    assert all(len(frame) <= 3 for frame in geometries_drawn)
    assert assert_finite(geometries_drawn) >= 4
    code, _, err = run_cli(["track", str(src), "-o", str(tmp_path / "t.npz"), "--max-faces", "3",
                            "--detector", "full"], capsys)
    assert code == 0, err
    counts = np.load(tmp_path / "t.npz")["face_count"]
    assert counts.max() <= 3 and counts.min() >= 1


def test_tracking_face_at_border(tmp_path: Path, capsys: pytest.CaptureFixture,
                                 geometries_drawn: list[list]) -> None:
    """The face slides out over the left edge and the top-left corner: tracked with landmarks
    outside the frame until it is lost, no crash, no NaN drawn."""
    face = face_crop(150, tight=True)
    frames = []
    for dx, dy in [(20, 5), (5, 5), (-10, 5), (-25, 5), (-40, 5), (-50, -10), (-55, -25), (-70, -40)]:
        frame = np.full((160, 200, 3), 50, np.uint8)
        x0, y0 = max(dx, 0), max(dy, 0)
        crop = face[max(-dy, 0):, max(-dx, 0):]
        h, w = min(crop.shape[0], 160 - y0), min(crop.shape[1], 200 - x0)
        frame[y0:y0 + h, x0:x0 + w] = crop[:h, :w]
        frames.append(frame)
    src = encode(tmp_path / "edge.mp4", frames)
    out = tmp_path / "edge-out.mp4"
    code, _, err = run_cli(["render", "glasses", "-i", str(src), "-o", str(out)], capsys)
    assert code == 0, err
    assert decode(out)[0] == len(frames)
    assert assert_finite(geometries_drawn) >= 5
    code, _, err = run_cli(["track", str(src), "-o", str(tmp_path / "t.npz")], capsys)
    assert code == 0, err
    tracked = np.load(tmp_path / "t.npz")
    assert np.isfinite(tracked["face_landmarks"]).all()
    assert tracked["face_landmarks"][:, :, 0].min() < 0  # tracked while cut by the left edge
    assert tracked["face_count"][:5].tolist() == [1] * 5
    assert np.isfinite(tracked["face_pose"]).all() and np.isfinite(tracked["face_mesh"]).all()


def test_tracking_never_more_faces_than_max_faces(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """One tracked face plus two new ones while fewer than max faces are tracked."""
    face = face_crop(128, tight=True)

    def canvas(slots: tuple[int, ...]) -> np.ndarray:
        frame = np.full((256, 512, 3), 60, np.uint8)
        for slot in slots:
            row, col = divmod(slot, 4)
            frame[row * 128:(row + 1) * 128, col * 128:(col + 1) * 128] = face
        return frame

    src = encode(tmp_path / "faces.mp4", [canvas(s) for s in [(0, 1), (0, 5, 6), (0, 5, 6), (0, 5, 6, 7)]])
    code, _, err = run_cli(["track", str(src), "-o", str(tmp_path / "t.npz"), "--max-faces", "2",
                            "--detector", "full"], capsys)
    assert code == 0, err
    assert np.load(tmp_path / "t.npz")["face_count"].max() <= 2


@pytest.mark.parametrize("args, needle", [
    (["--max-faces", "0"], "argument --max-faces: 0 is too small"),
    (["--max-faces", "two"], "argument --max-faces: 'two' is not a whole number"),
    (["--min-detection-confidence", "7"], "argument --min-detection-confidence: 7.0 is outside 0..1"),
    (["--min-tracking-confidence", "-1"], "argument --min-tracking-confidence: -1.0 is outside 0..1"),
])
def test_option_values_out_of_range_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                args: list[str], needle: str) -> None:
    image = tmp_path / "face.png"
    Image.fromarray(face_crop(128)).save(image)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["track", str(image), "-o", str(tmp_path / "t.npz"), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "t.npz").exists()


def test_sigterm_mid_render_leaves_no_file(tmp_path: Path) -> None:
    """`kill PID` during `arfx render`: cleanup runs like Ctrl-C (exit 130), nothing half-written stays."""
    clip = write_clip(tmp_path / "long.mp4", 320, 240, count=300, fps=30)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "out.mp4"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "arfx", "render", "glasses", "-i", str(clip), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not any(".partial" in p.name for p in folder.iterdir()):  # frames are being encoded
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "frame(s)" not in stdout  # stopped mid-way, not after finishing
    assert "arfx: interrupted" in stderr and "Traceback" not in stderr
    assert list(folder.iterdir()) == []


def _open_paths() -> set[str]:
    paths = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            paths.add(os.readlink(f"/proc/self/fd/{fd}"))
    return paths


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_bench_measures_what_render_runs_and_closes_its_input(clip: Path, capsys: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`arfx bench` smooths like `arfx render` on videos, and leaves no handle on its input open."""
    from arfx.tracking.tracker import FaceTracker

    smooth: list[bool] = []
    original = FaceTracker.__init__

    def spy(self, *args, **kwargs):
        smooth.append(kwargs.get("smooth"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(FaceTracker, "__init__", spy)
    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "6", "--json"], capsys)
    assert code == 0, err
    assert smooth == [True]
    import json

    report = json.loads(out)  # the one report structure later measurements add to
    assert {"machine", "stages_median_ms", "ratios"} <= set(report)
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["gl_renderer"]
    assert report["ratios"]["realtime"] > 0 and report["stages_median_ms"]["track"] > 0
    assert str(clip) not in _open_paths()
    code, _, err = run_cli(["render", "glasses", "-i", str(clip), "-o", str(clip.with_name("r.mp4")),
                            "--overwrite"], capsys)
    assert code == 0, err
    assert smooth == [True, True]  # the same tracker settings as the render it stands for


def test_bench_compares_two_effects_in_one_run(clip: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "4", "--effect", "mesh",
                              "--compare", "blur+mesh", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["ratios"]["blur+mesh_vs_mesh_fps"] > 0
    assert report["stages_median_ms"]["blur+mesh/segmentation"] > 0  # the background needs the mask
    assert "segmentation" not in report["stages_median_ms"]           # the mesh alone does not


def test_bench_refuses_a_photo_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(face_crop(96)).save(photo)
    code, _, err = run_cli(["bench", "--input", str(photo)], capsys)
    line = assert_one_line_error(code, err, str(photo), "bench needs a video input")
    assert "arfx-bench-" not in line and ".partial" not in line


def test_output_that_is_the_input_is_refused_even_with_overwrite(clip: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    video = tmp_path / "mine.mp4"
    video.write_bytes(clip.read_bytes())
    image = tmp_path / "mine.png"
    Image.fromarray(face_crop(128)).save(image)
    for args in (["render", "glasses", "-i", str(video), "-o", str(tmp_path / "." / "mine.mp4")],
                 ["render", "glasses", "-i", str(image), "-o", str(image)],
                 ["run", "--input", str(video), "--record", str(video)]):
        before = Path(args[args.index("-i") + 1] if "-i" in args else args[2]).read_bytes()
        code, _, err = run_cli(args + ["--overwrite"], capsys)
        assert_one_line_error(code, err, "is the input file")
        assert Path(args[args.index("-i") + 1] if "-i" in args else args[2]).read_bytes() == before
