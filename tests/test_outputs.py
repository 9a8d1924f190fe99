"""Outputs are safe: missing or unwritable folders, a full disk, size limits, existing files, failures
and SIGTERM mid-render never leave a half-written file; unexpected failures are one line.
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
from pathlib import Path

import cv2
import pytest
from PIL import Image

from arfx.demo import write_clip
from makers import assert_one_line_error, decode, face_crop, run_cli

REPO = Path(__file__).resolve().parents[1]


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
