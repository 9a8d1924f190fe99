"""`arfx track` on generated images and a generated video."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from skimage import data

from arfx.cli import main


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    cv2.imwrite(str(folder / "astronaut.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "coffee.png"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    return folder


def _video(path, frames: int = 6) -> None:
    face = data.astronaut()[10:230, 120:320]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(frames):
            frame = np.full((360, 640, 3), 90, np.uint8)
            if i < frames - 2:  # the last two frames have no face
                frame[60:280, 100 + 10 * i:300 + 10 * i] = face
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_track_image_writes_reference_format(astronaut_png, tmp_path):
    out = tmp_path / "a.npz"
    assert main(["track", str(astronaut_png / "astronaut.png"), "-o", str(out)]) == 0
    result = np.load(out)
    assert result["face_count"].tolist() == [1]
    assert result["face_offset"].tolist() == [0, 1]
    assert result["face_landmarks"].shape == (1, 468, 3)
    assert int(result["width"]) == 512 and int(result["height"]) == 512
    xy = result["face_landmarks"][0, :, :2]
    # normalized by the 512x512 size, on the face (x 150-290, y 30-200 pixels)
    assert xy[:, 0].min() > 150 / 512 and xy[:, 0].max() < 290 / 512
    assert xy[:, 1].min() > 30 / 512 and xy[:, 1].max() < 200 / 512
    assert result["face_pose"].shape == (1, 4, 4) and result["face_mesh"].shape == (1, 468, 3)
    assert result["face_euler"].shape == (1, 3) and np.isfinite(result["face_pose"]).all()
    assert float(result["fov"]) == 63.0 and float(result["near"]) == 1.0
    # The file holds exactly the documented keys, at the documented schema version.
    from arfx.track import SCHEMA_VERSION, TRACK_KEYS

    assert set(result.files) == set(TRACK_KEYS) and int(result["schema_version"]) == SCHEMA_VERSION
    names = result["expression_names"].tolist()
    scores = dict(zip(names, result["face_expressions"][0].tolist()))
    assert scores["jawOpen"] < 0.5 and scores["mouthSmileLeft"] > 0.5 and all(0 <= v <= 1 for v in scores.values())


def test_readme_documents_every_track_key():
    """The README's key table is the contract users code against: it lists exactly TRACK_KEYS."""
    import re
    from pathlib import Path

    from arfx.track import BODY_KEYS, HAND_KEYS, TRACK_KEYS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### `arfx track` output", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    assert documented == set(TRACK_KEYS) | set(HAND_KEYS) | set(BODY_KEYS)


def test_track_refine_writes_478_points(astronaut_png, tmp_path):
    out = tmp_path / "r.npz"
    assert main(["track", str(astronaut_png / "astronaut.png"), "-o", str(out), "--refine"]) == 0
    result = np.load(out)
    assert result["face_landmarks"].shape == (1, 478, 3)
    xy = result["face_landmarks"][0, 468:, :2] * 512  # both irises on the face
    assert xy[:, 0].min() > 150 and xy[:, 0].max() < 290
    assert xy[:, 1].min() > 30 and xy[:, 1].max() < 200


def test_track_folder_and_refuses_to_overwrite(astronaut_png, tmp_path, capsys):
    out = tmp_path / "f.npz"
    assert main(["track", str(astronaut_png), "-o", str(out), "--max-faces", "2"]) == 0
    result = np.load(out)
    assert result["face_count"].tolist() == [1, 0]  # astronaut.png, coffee.png
    assert main(["track", str(astronaut_png), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_track_video(tmp_path):
    video = tmp_path / "clip.mp4"
    _video(video)
    out = tmp_path / "v.npz"
    assert main(["track", str(video), "-o", str(out), "--smooth"]) == 0
    result = np.load(out)
    assert result["face_count"].tolist() == [1, 1, 1, 1, 0, 0]
    assert len(set(result["face_id"].tolist())) == 1
    assert float(result["fps"]) == pytest.approx(25)
    xs = result["face_landmarks"][:, :, 0].mean(axis=1) * 640
    assert np.all(np.diff(xs) > 3)  # follows the face to the right


@pytest.mark.parametrize("name", ["missing.mp4", "notes.txt"])
def test_bad_inputs_are_one_line_errors(tmp_path, capsys, name):
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("hello")
    assert main(["track", str(path), "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arfx: error:") and "\n" not in err
