"""Rerun logging: recordings read back with rerun's own reader, the CLI flag, the optional dependency."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from skimage import data

from arfx.cli import main
from arfx.geometry.expressions import EXPRESSION_NAMES
from arfx.rerun_log import (CLASS_ID, INSTALL_HINT, KEYPOINT_NAMES, feature_classes, keypoints_from_landmarks,
                            landmark_class_ids, vertex_normals)
from arfx.track import to_arrays, track_file

HAS_RERUN = importlib.util.find_spec("rerun") is not None
needs_rerun = pytest.mark.skipif(not HAS_RERUN, reason='rerun-sdk not installed (pip install "arfx[rerun]")')
ROOT = Path(__file__).resolve().parents[1]
FRAMES, WITH_FACE, FPS = 8, 6, 25


@pytest.fixture(autouse=True)
def rerun_dirs(tmp_path, monkeypatch):
    """Rerun's CLI and SDK keep config and analytics in the user's folders: use temp ones."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RERUN_TELEMETRY", "0")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """640x360, 25 fps: the astronaut turning and sliding for 6 frames, then 2 frames without her."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    face = data.astronaut()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(FRAMES):
            frame = np.full((360, 640, 3), 90, np.uint8)
            if i < WITH_FACE:
                warp = cv2.getRotationMatrix2D((256, 256), 3 * i, 0.6)
                warp[:, 2] += (80 + 8 * i, -60)
                frame = cv2.warpAffine(face, warp, (640, 360), borderValue=(90, 90, 90))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _read(path: Path):
    """(entity path -> rows per timeline ('static' for static rows), entity path -> record batches)."""
    import rerun.chunk as rc

    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    batches = defaultdict(list)
    for chunk in rc.RrdReader(path).stream().to_chunks():
        if chunk.is_static:
            rows[chunk.entity_path]["static"] += chunk.num_rows
        for timeline in chunk.timeline_names:
            rows[chunk.entity_path][timeline] += chunk.num_rows
        batches[chunk.entity_path].append(chunk.to_record_batch())
    return rows, batches


def _column(batches, name: str):
    """(frame_idx, value) of every row holding a component column whose name ends with `name`."""
    out = []
    for batch in batches:
        columns = [c for c in batch.schema.names if c.endswith(name)]
        if not columns or "frame_idx" not in batch.schema.names:
            continue
        for frame, value in zip(batch.column("frame_idx").to_pylist(), batch.column(columns[0]).to_pylist()):
            if value is not None:
                out.append((frame, value))
    return sorted(out, key=lambda item: item[0])


@needs_rerun
def test_track_recording_reads_back(clip, tmp_path):
    recording = tmp_path / "clip.rrd"
    npz = tmp_path / "clip.npz"
    assert main(["track", str(clip), "-o", str(npz), "--rerun", str(recording)]) == 0
    rows, batches = _read(recording)

    # Per frame, on both timelines: the image; per frame with a face: 2D, 3D and scalars.
    assert rows["/world/camera/image"] == {"frame_idx": FRAMES, "time": FRAMES}
    for entity in ("world/camera/image/face/0/landmarks", "world/camera/image/face/0/box",
                   "world/camera/image/face/0/keypoints", "world/face/0/landmarks",
                   ):
        assert rows["/" + entity]["frame_idx"] == WITH_FACE, entity
        assert rows["/" + entity]["time"] == WITH_FACE, entity
    assert len(_column(batches["/world/face/0"], "Transform3D:translation")) == WITH_FACE  # + 1 clear row
    for entity in ("/score/face/0", "/pose/face/0", "/expressions/face/0"):  # + 1 clear row each
        assert len(_column(batches[entity], "Scalars:scalars")) == WITH_FACE, entity
    assert rows["/pose/face/0"]["static"] == 1 and rows["/expressions/face/0"]["static"] == 1  # series names
    static = [b for b in batches["/expressions/face/0"] if "frame_idx" not in b.schema.names]
    assert static[0].column("SeriesLines:names").to_pylist()[0] == list(EXPRESSION_NAMES)
    # Static data once: annotation context and view coordinates; the mesh's triangles.
    assert rows["/world"] == {"static": 2}
    assert rows["/world/face/0/mesh"]["static"] == 1 and rows["/world/face/0/mesh"]["frame_idx"] == WITH_FACE
    # The face leaves: one recursive clear at each of its subtrees, on the first frame without it.
    assert _column(batches["/world/camera/image/face/0"], "Clear:is_recursive")[0] == (WITH_FACE, [True])

    # Values: the 2D landmarks are the tracked pixels; time is the frame's timestamp.
    track = np.load(npz)
    landmarks = _column(batches["/world/camera/image/face/0/landmarks"], "Points2D:positions")
    assert [frame for frame, _ in landmarks] == list(range(WITH_FACE))
    expected = track["face_landmarks"][3, 1, :2] * [640, 360]  # frame 3, nose tip, normalized -> px
    np.testing.assert_allclose(landmarks[3][1][1], expected, rtol=0, atol=1e-3)
    times = sorted(t for batch in batches["/world/camera/image"] for t in batch.column("time").to_pylist())
    np.testing.assert_allclose([t.total_seconds() for t in times], np.arange(FRAMES) / FPS, atol=1e-6)
    classes = _column(batches["/world/camera/image/face/0/landmarks"], "Points2D:class_ids")[0][1]
    assert classes[33] == CLASS_ID["right_eye"] and classes[61] == CLASS_ID["lips"]
    pose = [value for _, value in _column(batches["/pose/face/0"], "Scalars:scalars")]
    np.testing.assert_allclose(pose, track["face_euler"][:WITH_FACE], atol=1e-4)  # yaw, pitch, roll
    scores = np.array([value for _, value in _column(batches["/expressions/face/0"], "Scalars:scalars")])
    np.testing.assert_allclose(scores, track["face_expressions"][:WITH_FACE], atol=1e-6)

    # Rerun's own tool loads the file.
    rerun = Path(sys.executable).with_name("rerun")
    if rerun.exists():
        result = subprocess.run([str(rerun), "rrd", "verify", str(recording)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr


@needs_rerun
def test_tracking_is_identical_with_and_without_logging(clip, tmp_path):
    from arfx.rerun_log import RerunLogger

    plain = to_arrays(track_file(clip), 468)
    with RerunLogger(tmp_path / "a.rrd") as logger:
        logged = to_arrays(track_file(clip, on_frame=lambda frame, result: logger.log(frame.rgb, result)), 468)
    assert logger.frames == FRAMES
    assert plain.keys() == logged.keys()
    for key in plain:
        np.testing.assert_array_equal(plain[key], logged[key], err_msg=key)


@needs_rerun
def test_face_effects_and_render_log(tmp_path):
    import arfx
    from arfx.rerun_log import RerunLogger

    rgb = data.astronaut()
    with arfx.FaceEffects(None, rerun=tmp_path / "api.rrd") as fx:
        for _ in range(3):
            fx.track(rgb)
    rows, _ = _read(tmp_path / "api.rrd")
    assert rows["/world/camera/image/face/0/landmarks"]["frame_idx"] == 3

    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert main(["render", "landmarks", "-i", str(image), "-o", str(tmp_path / "out.png"),
                 "--rerun", str(tmp_path / "render.rrd")]) == 0
    rows, _ = _read(tmp_path / "render.rrd")
    assert rows["/world/camera/image"]["frame_idx"] == 1 and rows["/world/face/0/mesh"]["frame_idx"] == 1

    # An existing recording is not replaced without --overwrite; a logger of the user's own stays open.
    with pytest.raises(arfx.OutputError, match="already exists"):
        RerunLogger(tmp_path / "api.rrd")
    with RerunLogger(tmp_path / "own.rrd") as own:
        with arfx.FaceEffects(None, rerun=own) as fx:
            fx.track(rgb)
        own.log(rgb, fx.result)
    assert own.frames == 2


@needs_rerun
def test_cli_messages(clip, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        assert main(["track", str(clip), "--rerun"]) == 2
        error = capsys.readouterr().err.strip()
        assert "no display" in error and "--rerun FILE.rrd" in error and len(error.splitlines()) == 1
    assert main(["track", str(clip)]) == 2
    assert "nothing to write: give -o OUT.npz, --rerun FILE.rrd" in capsys.readouterr().err
    assert main(["track", str(clip), "--rerun", str(tmp_path / "x.mp4")]) == 2
    assert ".rrd" in capsys.readouterr().err
    # A run that fails before its first frame leaves no recording behind.
    assert main(["render", "glasses", "-i", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4"),
                 "--rerun", str(tmp_path / "failed.rrd")]) != 0
    assert not (tmp_path / "failed.rrd").exists()


@needs_rerun
def test_live_window_logs_every_frame(display, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", display)
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    recording = tmp_path / "live.rrd"
    assert main(["run", "glasses", "--input", str(image), "--frames", "4", "--no-mirror",
                 "--rerun", str(recording)]) == 0
    assert f"{recording}: Rerun recording of 4 frame(s)" in capsys.readouterr().out
    rows, _ = _read(recording)
    assert rows["/world/camera/image"]["frame_idx"] == 4


def test_without_rerun_sdk_one_line_error(clip, tmp_path):
    """rerun-sdk blocked by a meta-path finder: `--rerun` says how to install it, in one line."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'rerun' or name.startswith(('rerun.', 'rerun_bindings')):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from arfx.cli import main\n"
        f"sys.exit(main(['track', {str(clip)!r}, '--rerun', {str(tmp_path / 'x.rrd')!r}]))\n")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and INSTALL_HINT in lines[0], result.stderr
    assert not (tmp_path / "x.rrd").exists()


def test_feature_classes_from_the_mesh():
    features = feature_classes()
    points = {name: set(indices) for name, (indices, _) in features.items()}
    assert len(points["face_oval"]) == 36 and len(features["face_oval"][1]) == 36  # a closed loop
    for eye, (corner, other, top, bottom) in {"right_eye": (33, 133, 159, 145),
                                               "left_eye": (263, 362, 386, 374)}.items():
        assert len(points[eye]) == 16 and {corner, other, top, bottom} <= points[eye]
    assert len(points["lips"]) == 40 and {61, 291, 0, 17, 78, 308, 13, 14} <= points["lips"]
    assert {70, 107, 46, 55} <= points["right_eyebrow"] and {300, 336, 276, 285} <= points["left_eyebrow"]
    assert {168, 1, 2} <= points["nose"] and points["right_iris"] == set(range(468, 473))
    # Every connection joins two points of its own class; no landmark is in two classes.
    for name, (indices, pairs) in features.items():
        assert all(a in indices and b in indices for a, b in pairs), name
    assert sum(len(p) for p in points.values()) == len(set().union(*points.values()))
    # Mesh edges only (irises are not on the 468-vertex mesh).
    from arfx.geometry.canonical import CanonicalFace

    triangles = CanonicalFace.load().triangles
    edges = {frozenset(pair) for t in triangles for pair in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    for name, (_, pairs) in features.items():
        if "iris" not in name:
            assert all(frozenset(pair) in edges for pair in pairs), name
    ids = landmark_class_ids()
    assert ids.shape == (478,) and ids[1] == CLASS_ID["nose"] and ids[4 + 100] in CLASS_ID.values()


def test_keypoints_and_normals():
    from arfx.geometry.canonical import CanonicalFace

    canonical = CanonicalFace.load()
    keypoints = keypoints_from_landmarks(canonical.vertices)
    assert keypoints.shape == (len(KEYPOINT_NAMES), 2)
    assert keypoints[0, 0] < 0 < keypoints[1, 0]  # the person's right eye is on their right (-x)
    normals = vertex_normals(canonical.vertices, canonical.triangles)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    assert normals[1, 2] > 0.9  # the nose tip faces the viewer (+z, counter-clockwise winding)


@needs_rerun
def test_hands_and_bodies_log_as_skeletons(tmp_path):
    from types import SimpleNamespace

    from arfx.result import FrameResult, HandResult
    from arfx.rerun_log import RerunLogger
    from arfx.tracking.hands import CONNECTIONS as HAND_BONES

    rng = np.random.default_rng(0)
    hand = HandResult(3, rng.uniform(100, 200, (21, 3)).astype(np.float32), np.zeros((21, 3), np.float32),
                      "left", 0.9, mesh=rng.uniform(-5, 5, (21, 3)).astype(np.float32), gesture="victory")
    body = SimpleNamespace(landmarks=rng.uniform(0, 300, (33, 4)).astype(np.float32), score=0.8)  # no id, no mesh
    with RerunLogger(tmp_path / "skeletons.rrd", jpeg_quality=None) as logger:
        logger.log(None, FrameResult(0, 0.0, 320, 240, hands=[hand], bodies=[body]))
        logger.log(None, FrameResult(1, 0.04, 320, 240))  # both gone
    rows, batches = _read(tmp_path / "skeletons.rrd")
    assert "/world/camera/image" not in rows  # no frame given: no image
    classes = _column(batches["/world/camera/image/hand/3/landmarks"], "Points2D:class_ids")
    assert classes == [(0, [CLASS_ID["hand"]] * 21)]
    positions = _column(batches["/world/hand/3/landmarks"], "Points3D:positions")
    np.testing.assert_allclose(positions[0][1], hand.mesh, atol=1e-6)
    assert _column(batches["/world/camera/image/hand/3/box"], "Boxes2D:labels")[0][1] == ["hand 3 left victory 0.90"]
    assert _column(batches["/world/camera/image/body/0/landmarks"], "Points2D:class_ids")[0][1] == \
        [CLASS_ID["body"]] * 33
    for entity in ("/world/camera/image/hand/3", "/world/hand/3", "/world/camera/image/body/0"):
        assert _column(batches[entity], "Clear:is_recursive")[-1] == (1, [True]), entity
    context = [b for b in batches["/world"] if "AnnotationContext:context" in b.schema.names]
    classes = {entry["class_description"]["info"]["label"]: entry["class_description"]
               for entry in context[0].column("AnnotationContext:context").to_pylist()[0][0]}
    bones = [(c["keypoint0"], c["keypoint1"]) for c in classes["hand"]["keypoint_connections"]]
    assert bones == [tuple(pair) for pair in HAND_BONES]
    assert len(classes["body"]["keypoint_connections"]) > 30 and len(classes["left_eye"]["keypoint_connections"]) == 16


@needs_rerun
def test_spawn_finds_the_viewer_beside_python_and_fails_in_one_line(monkeypatch):
    import rerun

    import arfx
    from arfx.rerun_log import RerunLogger

    calls = []
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setenv("PATH", "/nonexistent")  # a venv's bin not on PATH, as with .venv/bin/arfx
    monkeypatch.setattr(rerun, "spawn", lambda **kwargs: calls.append(kwargs))
    logger = RerunLogger(spawn=True)
    beside = Path(sys.executable).with_name("rerun")
    assert calls[0]["executable_path"] == (str(beside) if beside.exists() else None)
    assert calls[0]["recording"] is logger._stream
    logger.close()

    def broken(**kwargs):
        raise RuntimeError("Failed to find Rerun Viewer executable in PATH.\nsecond line")

    monkeypatch.setattr(rerun, "spawn", broken)
    with pytest.raises(arfx.ArfxError) as error:
        RerunLogger(spawn=True)
    assert str(error.value).startswith("could not start the Rerun viewer") and "\n" not in str(error.value)
