"""The camera's field of view: the option end to end, EXIF (rotation included), and `auto`."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from arfx.cli import main
from arfx.geometry import CanonicalFace, rotation_from_euler
from arfx.geometry.fov import FovEstimator, fov_from_35mm, parse_fov
from arfx.options import RenderOptions, TrackingOptions
from arfx.sources import Frame, ImageSource

W, H = 1280, 720


def exif_jpeg(path, rgb: np.ndarray, orientation: int = 1, **tags) -> None:
    """Write `rgb` as a JPEG with an EXIF Orientation and Exif sub-IFD tags (name -> tag id below)."""
    ids = {"focal_35mm": 0xA405, "focal": 0x920A, "x_resolution": 0xA20E, "y_resolution": 0xA20F,
           "unit": 0xA210, "pixel_x": 0xA002, "pixel_y": 0xA003}
    exif = Image.Exif()
    exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    for name, value in tags.items():
        sub[ids[name]] = value
    Image.fromarray(rgb).save(path, exif=exif, quality=95)


def upright_of(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for a picture stored as `stored` with an EXIF Orientation."""
    return {1: stored, 6: np.rot90(stored, -1), 8: np.rot90(stored, 1)}[orientation]


# --- option ------------------------------------------------------------------------------------


def test_option_values_and_errors(capsys):
    assert parse_fov(None) is None and parse_fov("auto") == "auto" and parse_fov("55") == 55.0
    assert TrackingOptions(fov=45).fov == 45.0 and TrackingOptions().fov is None
    for bad in (5, 170, "wide", float("nan")):
        with pytest.raises(ValueError):
            TrackingOptions(fov=bad)
    with pytest.raises(SystemExit):
        main(["track", "x.jpg", "-o", "x.npz", "--fov", "200"])
    assert "outside 10..150" in capsys.readouterr().err


def test_every_command_takes_fov():
    from arfx.cli import _tracking_options, build_parser

    parser = build_parser()
    for argv in (["run", "glasses"], ["render", "glasses", "-i", "a.mp4", "-o", "b.mp4"],
                 ["track", "a.mp4", "-o", "a.npz"], ["bench"]):
        args = parser.parse_args(argv + ["--fov", "48"])
        assert _tracking_options(args).fov == 48.0
        assert _tracking_options(parser.parse_args(argv + ["--fov", "auto"])).fov == "auto"


# --- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_exif_35mm_focal_length_gives_upright_vertical_fov(tmp_path, orientation):
    stored = np.zeros((300, 400, 3), np.uint8)
    stored[:100, :200] = 255  # marks the top-left, to see the rotation applied
    path = tmp_path / f"o{orientation}.jpg"
    exif_jpeg(path, stored, orientation, focal_35mm=26)
    source = ImageSource(path)
    upright = upright_of(stored, orientation)
    assert source.rgb.shape == upright.shape
    h, w = upright.shape[:2]
    # 26 mm on the 43.27 mm diagonal of 35 mm film: the diagonal spans 2 atan(43.27 / 52).
    half_diagonal = math.atan(math.hypot(36, 24) / (2 * 26))
    expected = math.degrees(2 * math.atan(math.tan(half_diagonal) * h / math.hypot(w, h)))
    assert source.fov == pytest.approx(expected, abs=1e-6)
    assert next(iter(source)).fov == pytest.approx(expected, abs=1e-6)
    if orientation != 1:  # portrait: the long side is vertical
        assert source.fov > fov_from_35mm(26, 400, 300) + 10


@pytest.mark.parametrize("orientation,pixel_y,expected", [
    (1, None, 2 * math.atan(240 / 400)),    # 4 mm at 1000 px/cm = 400 px; 480 px tall
    (8, None, 2 * math.atan(320 / 400)),    # stored sideways: the 640 px side is vertical
    (1, 960, 2 * math.atan(240 / 200)),     # resized to half of the sensor's 960 px
])
def test_exif_focal_length_and_focal_plane_resolution(tmp_path, orientation, pixel_y, expected):
    path = tmp_path / "f.jpg"
    tags = dict(focal=4.0, x_resolution=1000.0, y_resolution=1000.0, unit=3)
    if pixel_y:
        tags.update(pixel_x=pixel_y * 4 // 3, pixel_y=pixel_y)
    exif_jpeg(path, np.full((480, 640, 3), 90, np.uint8), orientation, **tags)
    assert ImageSource(path).fov == pytest.approx(math.degrees(expected), abs=1e-6)


def test_no_or_broken_exif_means_no_fov(tmp_path):
    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(plain)
    assert ImageSource(plain).fov is None
    odd = tmp_path / "odd.jpg"
    exif_jpeg(odd, np.zeros((20, 30, 3), np.uint8), focal=0.0, unit=3, x_resolution=10.0, y_resolution=10.0)
    assert ImageSource(odd).fov is None


@pytest.mark.parametrize("rotation", [0, 90])
def test_video_35mm_metadata_gives_upright_vertical_fov(tmp_path, rotation):
    """A phone video: a 35 mm equivalent focal length in QuickTime metadata, maybe stored sideways."""
    from fractions import Fraction

    import av

    from arfx.sources import VideoSource

    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata["com.apple.quicktime.camera.focal_length.35mm_equivalent"] = "26"
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    source = VideoSource(path)
    first = next(iter(source))
    height, width = first.rgb.shape[:2]
    assert (width, height) == ((32, 64) if rotation else (64, 32))
    assert first.fov == pytest.approx(fov_from_35mm(26, width, height)) and source.fov == first.fov
    source.close()


# --- end to end --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("fov") / "astronaut.jpg"
    exif_jpeg(path, skdata.astronaut(), focal_35mm=35)
    return path


def test_track_reports_metadata_option_and_depth(astronaut_jpeg, tmp_path, capsys):
    outputs = {}
    for name, extra in (("metadata", []), ("option", ["--fov", "45"]), ("default", ["--fov", "63"]),
                        ("auto", ["--fov", "auto"])):
        out = tmp_path / f"{name}.npz"
        assert main(["track", str(astronaut_jpeg), "-o", str(out)] + extra) == 0
        outputs[name] = np.load(out)
    assert "field of view" in capsys.readouterr().out
    metadata = outputs["metadata"]
    assert float(metadata["fov"]) == pytest.approx(fov_from_35mm(35, 512, 512), abs=1e-4)
    assert str(metadata["fov_source"]) == "metadata" and metadata["frame_fov"].shape == (1,)
    assert float(outputs["option"]["fov"]) == 45.0 and str(outputs["option"]["fov_source"]) == "option"
    assert np.isnan(float(outputs["option"]["fov_uncertainty"]))
    # One photo cannot show the field of view: auto falls back to the photo's metadata.
    auto = outputs["auto"]
    assert str(auto["fov_source"]) == "metadata" and float(auto["fov"]) == float(metadata["fov"])
    assert np.isinf(float(auto["fov_uncertainty"])) and np.isnan(float(auto["fov_estimate"]))
    np.testing.assert_allclose(auto["face_pose"], metadata["face_pose"], atol=1e-4)
    # Same landmarks, a narrower camera: the face is farther by about the ratio of the focal
    # lengths (not exactly: its own relief is seen with less perspective and refitted).
    z45 = outputs["option"]["face_pose"][0, 2, 3]
    z63 = outputs["default"]["face_pose"][0, 2, 3]
    ratio = math.tan(math.radians(31.5)) / math.tan(math.radians(22.5))
    assert z45 / z63 == pytest.approx(ratio, rel=0.03)
    np.testing.assert_allclose(outputs["option"]["face_landmarks"], outputs["default"]["face_landmarks"])


def test_render_differs_with_fov_and_result_carries_camera():
    import arfx

    rgb = np.ascontiguousarray(skdata.astronaut())
    outs = {}
    for fov in (45, 63):
        with arfx.FaceEffects("glasses", fov=fov) as fx:
            outs[fov] = fx(rgb)
            assert fx.result.camera.fov_y == fov and fx._pipeline.renderer.camera.fov_y == fov
            assert fx.faces and fx.faces[0].geometry is not None
    changed = np.abs(outs[45].astype(np.int16) - outs[63].astype(np.int16)).max(axis=2) > 30
    assert changed.sum() > 200  # the glasses' perspective differs


# --- auto --------------------------------------------------------------------------------------


def landmarks(points: np.ndarray, fov: float) -> np.ndarray:
    """Camera-space points (cm) -> tracker landmarks (pixels; z relative depth scaled like x)."""
    f = 0.5 * H / math.tan(math.radians(fov) / 2)
    depth = -points[:, 2]
    z = (depth - depth.mean()) * f / depth.mean()
    return np.column_stack([0.5 * W + f * points[:, 0] / depth, 0.5 * H - f * points[:, 1] / depth, z])


def clip(fov: float, frames: int = 60, depth_range=(35.0, 70.0), across: float = 0.6, seed: int = 0,
         shape: np.ndarray | None = None, noise: float = 0.7, turn: float = 1.0) -> list[np.ndarray]:
    """A face turning (`turn` times 20 degrees of yaw), moving across the frame (`across` of the
    half-width) and in depth."""
    rng = np.random.default_rng(seed)
    vertices = CanonicalFace.load().vertices.astype(np.float64) if shape is None else shape
    tan = math.tan(math.radians(fov) / 2)
    out = []
    for t in np.linspace(0.0, 1.0, frames):
        depth = depth_range[0] + (depth_range[1] - depth_range[0]) * t
        rotation = rotation_from_euler(*(turn * np.array([20, 10, 5]) * np.sin([6 * t, 4 * t, 3 * t])))
        centre = np.array([across * tan * depth * W / H * math.sin(5 * t), 0.5 * across * tan * depth * math.cos(3 * t),
                           -depth])
        out.append(landmarks(vertices @ rotation.T + centre, fov) + rng.normal(0, noise, (468, 3)))
    return out


def exact() -> FovEstimator:
    """An estimator for exact landmarks (no allowance for the tracker's muted perspective, nor
    for its spread from face to face)."""
    return FovEstimator(perspective_gain=1.0, gain_spread=0.0)


@pytest.mark.parametrize("fov", [42.0, 58.0, 74.0])
def test_auto_estimate_within_a_few_degrees(fov):
    estimator = exact()
    for lm in clip(fov, seed=int(fov)):
        estimator.add(lm, W, H)
    estimate = estimator.estimate()
    assert estimate.confident and abs(estimate.fov - fov) < 2.0, estimate
    assert 0 < estimate.uncertainty < 3.0


def test_auto_is_not_fooled_by_a_face_unlike_the_canonical_one():
    """Another person's face (10 % larger, every point 3 mm off the canonical one at random) is
    the same in every frame: no bias. (What does bias it is other proportions of depth to size:
    the estimate leans on the canonical face's relief; see arfx.geometry.fov.)"""
    rng = np.random.default_rng(11)
    vertices = 1.1 * CanonicalFace.load().vertices.astype(np.float64) + rng.normal(0, 0.3, (468, 3))
    estimator = exact()
    for lm in clip(55.0, shape=vertices, seed=3):
        estimator.add(lm, W, H)
    estimate = estimator.estimate()
    assert estimate.confident and abs(estimate.fov - 55.0) < 3.0, estimate


def test_auto_uncertainty_allows_for_how_the_landmark_model_sees_each_face():
    """The landmark model shows a change of perspective differently on each face (its gain was
    0.83-1.04 over six rendered faces): however well the motion pins down the landmarks' own best
    fit, an estimate from the tracker is no more certain than that spread allows, and says so."""
    landmarks = clip(55.0, seed=4)
    tracker, exact_landmarks = FovEstimator(), exact()
    for lm in landmarks:
        tracker.add(lm, W, H)
        exact_landmarks.add(lm, W, H)
    pinned, estimate = exact_landmarks.estimate(), tracker.estimate()
    assert pinned.confident and pinned.uncertainty < 2.0
    assert estimate.confident and 4.0 < estimate.uncertainty < 8.0, estimate
    assert "landmark model" in estimate.reason
    # The gain scales the landmarks' best fit back: less perspective shown, a wider camera.
    assert estimate.estimated > pinned.estimated + 3.0


def test_auto_leaves_out_frames_where_the_tracker_lost_the_face():
    """Six frames of sixty where the landmarks are 15 % squashed (as when the tracker half loses a
    face turned far at the frame's edge) are left out, not averaged in (they pulled the estimate
    5 degrees wide), and the reason says so."""
    landmarks = clip(55.0, seed=1)
    for lm in landmarks[20:26]:
        centre = lm[:, 1].mean()
        lm[:, 1] = centre + 0.85 * (lm[:, 1] - centre)
    estimator = exact()
    for lm in landmarks:
        estimator.add(lm, W, H)
    estimate = estimator.estimate()
    assert estimate.confident and abs(estimate.fov - 55.0) < 1.5, estimate
    assert estimate.frames == 54 and "6 stray" in estimate.reason


def test_auto_falls_back_when_the_face_does_not_move():
    estimator = FovEstimator(fallback=50.0, perspective_gain=1.0, gain_spread=0.0)
    for lm in clip(70.0, depth_range=(50.0, 50.0), across=0.0, noise=1.0, seed=5, turn=0.0):
        estimator.add(lm, W, H)
    estimate = estimator.estimate()
    assert not estimate.confident and estimate.fov == 50.0
    # Nearer and farther alone is not enough either (the tracker's points mislead it so).
    depth_only = exact()
    for lm in clip(60.0, across=0.0, seed=2):
        depth_only.add(lm, W, H)
    assert not depth_only.estimate().confident and "move" in depth_only.estimate().reason
    # Turning alone tells nothing either (the tracker's points drift as the head turns).
    turning = exact()
    for lm in clip(70.0, depth_range=(50.0, 50.0), across=0.0, noise=1.0, seed=5):
        turning.add(lm, W, H)
    assert not turning.estimate().confident
    few = FovEstimator()
    few.add(clip(60.0, frames=3)[0], W, H)
    assert few.estimate().fov == 63.0 and few.estimate().estimated is None


def test_pipeline_auto_switches_the_shared_camera():
    """fov='auto' in the shared pipeline: geometry (and the renderer) switch to the estimate."""
    from arfx.pipeline import FOV_ESTIMATE_EVERY, FramePipeline

    faces = clip(48.0, frames=12 * FOV_ESTIMATE_EVERY, seed=7)

    class Tracker:  # stands in for FaceTracker: the synthetic clip's landmarks
        def __init__(self):
            self.frame = 0

        def process(self, rgb, timestamp):
            face = SimpleNamespace(landmarks=faces[self.frame].astype(np.float32), id=0, score=1.0)
            self.frame += 1
            return [face]

        def reset(self):
            pass

        def close(self):
            pass

    pipeline = FramePipeline(None, RenderOptions(tracking=TrackingOptions(fov="auto")))
    pipeline.fov_estimator = exact()  # these landmarks are exact, not the tracker's
    pipeline.fov_in_background = False  # estimates land on known frames
    pipeline.faces.tracker.close()
    pipeline.faces.tracker = Tracker()
    estimated_at = []  # the frames at which an estimate was made
    use = pipeline._use_estimate
    pipeline._use_estimate = lambda estimate: (estimated_at.append(pipeline.faces.tracker.frame), use(estimate))
    rgb = np.zeros((H, W, 3), np.uint8)
    results = [pipeline.analyse(Frame(rgb, i, i / 30.0)) for i in range(len(faces))]
    pipeline.close()
    # Once settled, the estimate is made less and less often (it costs a core for a second).
    gaps = np.diff(estimated_at)
    assert gaps[0] == FOV_ESTIMATE_EVERY and gaps.max() >= 4 * FOV_ESTIMATE_EVERY, estimated_at
    assert len(estimated_at) <= len(faces) // FOV_ESTIMATE_EVERY - 4, estimated_at
    assert results[0].camera.fov_y == 63.0 and pipeline.fov_source == "auto"
    assert abs(results[-1].camera.fov_y - 48.0) < 2.0 and pipeline.geometry.camera is results[-1].camera
    # Each result's geometry was lifted with its own camera: it projects back onto the landmarks.
    last = results[-1].faces[0]
    projected = last.geometry and results[-1].camera.project(last.geometry.mesh, W, H)
    np.testing.assert_allclose(projected, last.landmarks[:, :2], atol=0.05)
