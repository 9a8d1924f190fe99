"""Tracking limits through the CLI: plain frames, many faces, faces cut by the border, the max-faces
cap, and option values out of range.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from arfx import cli
from makers import assert_finite, decode, encode, face_crop, run_cli


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
