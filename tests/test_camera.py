"""Cameras that fail (missing index, no frames, unplugged mid-session) end in one line, and a recording
in progress is kept and playable.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fakes import FakeCamera
from makers import assert_absent_or_playable, assert_one_line_error, decode, face_crop, run_cli


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
