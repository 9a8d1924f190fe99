"""Expression scores: synthetic faces made from the canonical face, head pose, calibration, a real image."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from arfx.geometry import CanonicalFace, GeometryPipeline, PerspectiveCamera, rotation_from_euler
from arfx.geometry.expressions import DEPTH_SCALE, EXPRESSION_NAMES, FEATURE_NAMES, ExpressionEstimator
from makers import load_script

REQUIRED = {
    "eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight", "jawOpen", "mouthSmileLeft",
    "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthPucker", "mouthFunnel",
    "browInnerUp", "browDownLeft", "browDownRight", "browOuterUpLeft", "browOuterUpRight",
}
# MediaPipe mesh vertices. The person's LEFT is +x in canonical face space.
UPPER_LID = {"L": (386, 385, 387), "R": (159, 158, 160)}
LOWER_LID = {"L": (374, 380, 373), "R": (145, 153, 144)}
MOUTH_CORNER = {"L": 291, "R": 61}
BROW = {"L": (336, 285, 334, 296, 300, 276), "R": (107, 55, 105, 66, 70, 46)}
W, H = 1280, 720

# yaw, pitch, roll (degrees), uniform scale, translation (cm)
POSES = [
    (0, 0, 0, 1.0, (0, 0, -60)),
    (35, 0, 0, 1.0, (8, 3, -50)),
    (-30, 15, 5, 1.1, (-10, 4, -45)),
    (10, -25, -20, 0.9, (0, -6, -70)),
    (-15, 20, 40, 1.0, (12, 8, -90)),
]


@pytest.fixture(scope="module")
def canonical() -> CanonicalFace:
    return CanonicalFace.load()


def neutral(canonical) -> np.ndarray:
    return canonical.vertices.astype(np.float64).copy()


def close_eye(v: np.ndarray, side: str, amount: float = 1.0) -> np.ndarray:
    v = v.copy()
    for up, low in zip(UPPER_LID[side], LOWER_LID[side]):
        v[up] = v[up] + amount * 0.95 * (v[low] - v[up])
    return v


def open_jaw(v: np.ndarray, drop_cm: float = 2.0) -> np.ndarray:
    """The lower face drops; the lip corners go half way (the model's assumption, see expressions.py)."""
    v = v.copy()
    below = v[:, 1] < -4.40  # under the mouth corners (y -4.34): lower lip, chin, jaw
    v[below, 1] -= drop_cm
    for corner in MOUTH_CORNER.values():
        v[corner, 1] -= 0.5 * drop_cm
    return v


def smile(v: np.ndarray, sides: str = "LR", lift_cm: float = 0.7, out_cm: float = 0.5) -> np.ndarray:
    v = v.copy()
    for side in sides:
        corner = MOUTH_CORNER[side]
        v[corner, 1] += lift_cm
        v[corner, 0] += out_cm if side == "L" else -out_cm
    return v


def frown(v: np.ndarray, drop_cm: float = 0.6) -> np.ndarray:
    v = v.copy()
    for corner in MOUTH_CORNER.values():
        v[corner, 1] -= drop_cm
    return v


def pucker(v: np.ndarray, inward_cm: float = 0.7) -> np.ndarray:
    v = v.copy()
    v[MOUTH_CORNER["L"], 0] -= inward_cm
    v[MOUTH_CORNER["R"], 0] += inward_cm
    return v


def move_brows(v: np.ndarray, dy_cm: float, sides: str = "LR") -> np.ndarray:
    v = v.copy()
    for side in sides:
        v[list(BROW[side]), 1] += dy_cm
    return v


def geometry(face_space: np.ndarray, yaw=0.0, pitch=0.0, roll=0.0, scale=1.0,
             translation=(0.0, 0.0, -60.0), depth_error: float = 1.0 / DEPTH_SCALE) -> SimpleNamespace:
    """A FaceGeometry-like object: the face-space mesh placed in camera space by a pose, its
    depth about the head's centre stretched by `depth_error` as the landmark model's is
    (measured: arfx.geometry.expressions.DEPTH_SCALE undoes it)."""
    pose = np.eye(4)
    pose[:3, :3] = scale * rotation_from_euler(yaw, pitch, roll)
    pose[:3, 3] = translation
    mesh = face_space @ pose[:3, :3].T + pose[:3, 3]
    sight = pose[:3, 3] / np.linalg.norm(pose[:3, 3])  # the model measures depth along it
    mesh += np.outer((mesh - pose[:3, 3]) @ sight * (depth_error - 1.0), sight)
    return SimpleNamespace(pose=pose.astype(np.float32), mesh=mesh.astype(np.float32))


def calibrated(canonical, face_id: int = 0, seconds: float = 3.5, depth_scale: float = DEPTH_SCALE,
               **pose) -> tuple[ExpressionEstimator, float]:
    """An estimator that has watched `face_id`'s neutral canonical face for `seconds`
    (`depth_scale` 1: a tracker with exact depth)."""
    estimator = ExpressionEstimator(canonical, depth_scale=depth_scale)
    t = 0.0
    for t in np.arange(0.0, seconds, 1 / 30):
        estimator.update(face_id, geometry(neutral(canonical), **pose, depth_error=1.0 / depth_scale), float(t))
    return estimator, float(t) + 1 / 30


def pose_kwargs(pose) -> dict:
    yaw, pitch, roll, scale, translation = pose
    return dict(yaw=yaw, pitch=pitch, roll=roll, scale=scale, translation=translation)


# --- names and output -----------------------------------------------------------------------


def test_names_cover_the_required_blendshapes(canonical):
    assert REQUIRED <= set(EXPRESSION_NAMES)
    assert len(set(EXPRESSION_NAMES)) == len(EXPRESSION_NAMES)
    scores = ExpressionEstimator(canonical).update(3, geometry(neutral(canonical)), 0.0)
    assert list(scores) == list(EXPRESSION_NAMES)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores.values())


def test_neutral_face_scores_near_zero_at_every_pose(canonical):
    estimator, t = calibrated(canonical)
    for pose in POSES:
        scores = estimator.update(0, geometry(neutral(canonical), **pose_kwargs(pose)), t)
        t += 1 / 30
        assert max(scores.values()) < 0.05, (pose, {k: v for k, v in scores.items() if v >= 0.05})


# --- single expressions, left is the person's left --------------------------------------------


@pytest.mark.parametrize("pose", POSES)
def test_left_eye_closed_is_eye_blink_left(canonical, pose):
    estimator, t = calibrated(canonical)
    scores = estimator.update(0, geometry(close_eye(neutral(canonical), "L"), **pose_kwargs(pose)), t)
    assert scores["eyeBlinkLeft"] > 0.9
    assert scores["eyeBlinkRight"] < 0.05
    assert scores["jawOpen"] < 0.05 and scores["mouthSmileLeft"] < 0.05


def test_right_eye_closed_is_eye_blink_right(canonical):
    estimator, t = calibrated(canonical)
    scores = estimator.update(0, geometry(close_eye(neutral(canonical), "R")), t)
    assert scores["eyeBlinkRight"] > 0.9 and scores["eyeBlinkLeft"] < 0.05


def test_half_closed_eye_scores_in_between(canonical):
    estimator, t = calibrated(canonical)
    half = estimator.update(0, geometry(close_eye(neutral(canonical), "L", 0.5)), t)["eyeBlinkLeft"]
    assert 0.2 < half < 0.8


def test_wide_eyes(canonical):
    estimator, t = calibrated(canonical)
    wide = close_eye(neutral(canonical), "L", -0.5)  # upper lids pulled up by half the gap
    wide = close_eye(wide, "R", -0.5)
    scores = estimator.update(0, geometry(wide), t)
    assert scores["eyeWideLeft"] > 0.5 and scores["eyeWideRight"] > 0.5
    assert scores["eyeBlinkLeft"] == 0.0 and scores["eyeBlinkRight"] == 0.0


@pytest.mark.parametrize("pose", POSES)
def test_open_jaw(canonical, pose):
    estimator, t = calibrated(canonical)
    scores = estimator.update(0, geometry(open_jaw(neutral(canonical)), **pose_kwargs(pose)), t)
    assert scores["jawOpen"] > 0.6
    assert scores["eyeBlinkLeft"] < 0.05 and scores["eyeBlinkRight"] < 0.05
    assert max(scores["mouthSmileLeft"], scores["mouthSmileRight"]) < 0.3
    assert max(scores["mouthPucker"], scores["cheekPuff"]) < 0.05


@pytest.mark.parametrize("pose", POSES)
def test_smile(canonical, pose):
    estimator, t = calibrated(canonical)
    scores = estimator.update(0, geometry(smile(neutral(canonical)), **pose_kwargs(pose)), t)
    assert scores["mouthSmileLeft"] > 0.7 and scores["mouthSmileRight"] > 0.7
    assert scores["mouthFrownLeft"] == 0.0 and scores["mouthFrownRight"] == 0.0
    assert scores["jawOpen"] < 0.05 and scores["mouthPucker"] == 0.0


def test_one_sided_smile_is_the_persons_left(canonical):
    estimator, t = calibrated(canonical)
    scores = estimator.update(0, geometry(smile(neutral(canonical), "L")), t)
    assert scores["mouthSmileLeft"] > 0.5
    assert scores["mouthSmileRight"] < 0.1


def test_frown(canonical):
    estimator, t = calibrated(canonical)
    scores = estimator.update(0, geometry(frown(neutral(canonical))), t)
    assert scores["mouthFrownLeft"] > 0.7 and scores["mouthFrownRight"] > 0.7
    assert scores["mouthSmileLeft"] == 0.0 and scores["mouthSmileRight"] == 0.0


def test_pucker_and_funnel(canonical):
    estimator, t = calibrated(canonical)
    puckered = estimator.update(0, geometry(pucker(neutral(canonical))), t)
    assert puckered["mouthPucker"] > 0.7 and puckered["mouthFunnel"] < 0.1
    funnel = pucker(neutral(canonical))
    funnel[14, 1] -= 0.8  # the lips part: an "O"
    funnel[13, 1] += 0.2
    funneled = estimator.update(0, geometry(funnel), t + 1 / 30)
    assert funneled["mouthFunnel"] > 0.7 and funneled["mouthPucker"] < 0.3


def test_brows(canonical):
    estimator, t = calibrated(canonical)
    up = estimator.update(0, geometry(move_brows(neutral(canonical), 0.8)), t)
    assert up["browInnerUp"] > 0.7 and up["browOuterUpLeft"] > 0.7 and up["browOuterUpRight"] > 0.7
    assert up["browDownLeft"] == 0.0 and up["browDownRight"] == 0.0
    down = estimator.update(0, geometry(move_brows(neutral(canonical), -0.4, "L")), t + 1 / 30)
    assert down["browDownLeft"] > 0.7 and down["browDownRight"] == 0.0
    assert down["browInnerUp"] == 0.0 and down["browOuterUpLeft"] == 0.0


def test_cheek_puff(canonical):
    estimator, t = calibrated(canonical)
    puffed = neutral(canonical)
    for a, b in ((50, 280), (205, 425)):
        puffed[a, 0] -= 0.4
        puffed[b, 0] += 0.4
    assert estimator.update(0, geometry(puffed), t)["cheekPuff"] > 0.7


# --- head pose -------------------------------------------------------------------------------


def test_scores_do_not_change_with_head_pose(canonical):
    estimator, t = calibrated(canonical)
    face = smile(close_eye(open_jaw(neutral(canonical), 1.0), "R", 0.6), "L", 0.4, 0.3)
    reference = estimator.update(0, geometry(face), t)
    assert 0.2 < reference["jawOpen"] < 1.0 and 0.2 < reference["eyeBlinkRight"] < 1.0
    for i, pose in enumerate(POSES):
        scores = estimator.update(0, geometry(face, **pose_kwargs(pose)), t + (i + 1) / 30)
        for name in EXPRESSION_NAMES:
            assert scores[name] == pytest.approx(reference[name], abs=1e-4), (pose, name)


def mediapipe_landmarks(points: np.ndarray, fov_y: float = 63.0) -> np.ndarray:
    """Camera-space points -> tracker-style landmarks (pixels, relative z scaled like x)."""
    f = 0.5 * H / math.tan(math.radians(fov_y) / 2)
    depth = -points[:, 2]
    x = 0.5 * W + f * points[:, 0] / depth
    y = 0.5 * H - f * points[:, 1] / depth
    z = (depth - depth.mean()) * f / depth.mean()
    return np.column_stack([x, y, z]).astype(np.float32)


def test_scores_through_the_geometry_pipeline_do_not_change_with_head_pose(canonical):
    """Screen landmarks of a posed, expressive face -> GeometryPipeline -> the same scores (a
    tracker with exact depth, so no DEPTH_SCALE: the real model's is measured on photos, see
    test_a_nodding_photo_keeps_its_brow_and_frown_scores)."""
    pipeline = GeometryPipeline(PerspectiveCamera(), canonical)
    estimator, t = calibrated(canonical, depth_scale=1.0)
    face = smile(close_eye(neutral(canonical), "L", 0.6), "LR", 0.4, 0.3)
    reference = estimator.update(0, geometry(face, depth_error=1.0), t)
    for i, pose in enumerate(POSES):
        placed = geometry(face, **pose_kwargs(pose), depth_error=1.0)
        result = pipeline.estimate(mediapipe_landmarks(placed.mesh.astype(np.float64)), W, H)
        scores = estimator.update(0, result, t + (i + 1) / 30)
        for name in EXPRESSION_NAMES:
            assert scores[name] == pytest.approx(reference[name], abs=0.03), (pose, name)


# --- calibration -----------------------------------------------------------------------------


def test_calibration_converges_to_the_persons_own_neutral(canonical):
    """A person whose resting face is not the canonical one: low brows, narrow eyes, a wide mouth.

    At first the face is judged against the prior (tracked resting faces have lower brows than
    the canonical face, so these brows read as raised); after a few seconds of the person's
    stream (with noise and a blink now and then) their resting face scores near zero and
    blinks still score high.
    """
    rng = np.random.default_rng(7)
    person = move_brows(close_eye(neutral(canonical), "L", 0.2), -0.1)
    person = close_eye(person, "R", 0.2)
    person[MOUTH_CORNER["L"], 0] += 0.2
    person[MOUTH_CORNER["R"], 0] -= 0.2
    estimator = ExpressionEstimator(canonical)
    first = estimator.update(0, geometry(person), 0.0)
    assert first["browInnerUp"] > 0.5
    blink_scores = []
    for i in range(1, 300):  # 10 s at 30 fps
        t = i / 30
        blinking = i % 60 in (0, 1, 2)  # a 100 ms blink every 2 s
        face = close_eye(close_eye(person, "L"), "R") if blinking else person
        face = face + rng.normal(0.0, 0.01, face.shape)  # 0.1 mm landmark noise
        scores = estimator.update(0, geometry(face, yaw=10 * math.sin(t), pitch=5 * math.cos(t)), t)
        if blinking and t > 3:
            blink_scores.append(min(scores["eyeBlinkLeft"], scores["eyeBlinkRight"]))
    settled = estimator.update(0, geometry(person, roll=10), 10.0)
    assert max(settled.values()) < 0.1, {k: v for k, v in settled.items() if v >= 0.1}
    assert min(blink_scores) > 0.8
    expected = estimator.features(geometry(person))
    np.testing.assert_allclose(estimator.neutral(0), expected, rtol=0.03, atol=0.005)


def test_turned_head_frames_do_not_calibrate(canonical):
    """Frames in near profile are scored but not taken as the person's neutral."""
    estimator, t = calibrated(canonical)
    lowered = move_brows(neutral(canonical), -0.4)
    for i in range(300):  # 10 s turned 50 degrees with lowered brows
        scores = estimator.update(0, geometry(lowered, yaw=50), t + i / 30)
    assert scores["browDownLeft"] > 0.7
    np.testing.assert_allclose(estimator.neutral(0), estimator.features(geometry(neutral(canonical))),
                               atol=1e-5)


def test_faces_are_calibrated_separately_and_forgotten(canonical):
    estimator, t = calibrated(canonical, face_id=1)
    lowered = move_brows(neutral(canonical), -0.4)
    for i in range(60):  # face 2 rests with lowered brows
        estimator.update(2, geometry(lowered), t + i / 30)
    assert estimator.update(1, geometry(lowered), t + 2)["browDownLeft"] > 0.7
    assert estimator.update(2, geometry(lowered), t + 2)["browDownLeft"] < 0.1
    estimator.forget([2])
    assert estimator.face_ids == [2]
    np.testing.assert_array_equal(estimator.neutral(1), estimator.prior)
    estimator.reset()
    assert estimator.face_ids == []


def test_time_going_backwards_restarts_calibration(canonical):
    estimator, t = calibrated(canonical)
    lowered = move_brows(neutral(canonical), -0.4)
    estimator.update(0, geometry(lowered), 0.0)  # a new clip starts
    for i in range(1, 60):
        estimator.update(0, geometry(lowered), i / 30)
    assert estimator.update(0, geometry(lowered), 2.0)["browDownLeft"] < 0.1


def test_degenerate_geometry_scores_zero(canonical):
    estimator = ExpressionEstimator(canonical)
    flat = SimpleNamespace(pose=np.zeros((4, 4), np.float32), mesh=np.zeros((468, 3), np.float32))
    assert set(estimator.update(0, flat, 0.0).values()) == {0.0}
    with pytest.raises(ValueError):
        estimator.update(0, SimpleNamespace(pose=np.eye(4), mesh=np.zeros((10, 3))), 0.1)
    with pytest.raises(ValueError):
        ExpressionEstimator(canonical, window=0)


def test_features_are_named(canonical):
    estimator = ExpressionEstimator(canonical)
    assert estimator.features(geometry(neutral(canonical))).shape == (len(FEATURE_NAMES),)


# --- a real face ------------------------------------------------------------------------------


def test_astronaut_smiles_with_open_eyes(canonical):
    """scikit-image's astronaut (Eileen Collins) smiles with her eyes open; one frame only."""
    from skimage.data import astronaut

    from arfx.tracking import FaceTracker

    rgb = np.ascontiguousarray(astronaut())
    with FaceTracker(max_num_faces=1, static_image_mode=True) as tracker:
        faces = tracker.process(rgb)
    assert len(faces) == 1
    pipeline = GeometryPipeline(PerspectiveCamera(), canonical)
    [face] = pipeline.estimate_faces(faces, rgb.shape[1], rgb.shape[0])
    scores = ExpressionEstimator(canonical).update(face.face_id, face, 0.0)
    assert scores["eyeBlinkLeft"] < 0.1 and scores["eyeBlinkRight"] < 0.1
    assert scores["mouthSmileLeft"] > 0.5 and scores["mouthSmileRight"] > 0.5
    assert scores["mouthFrownLeft"] == 0.0 and scores["mouthFrownRight"] == 0.0
    assert scores["jawOpen"] < 0.5 and scores["mouthPucker"] < 0.1


def test_a_nodding_photo_keeps_its_brow_and_frown_scores(canonical):
    """The astronaut's face turned 20 degrees up and down (its tracked mesh warped, as
    `scripts/measure_expressions.py --turn pitch` does), scored against the unturned photo:
    the brow and frown scores stay low with DEPTH_SCALE; with the mesh's depth as tracked
    (depth_scale 1) the same frames read as a frown or lowered brows."""
    
    from arfx.demo import astronaut_image
    from arfx.geometry.expressions import scores_from_features
    from arfx.tracking import FaceTracker

    script = load_script("measure_expressions")
    photo = script.centred_photo(astronaut_image())
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera, canonical)
    watched = ("browInnerUp", "browDownLeft", "browDownRight", "mouthFrownLeft", "mouthFrownRight")
    worst = {}
    with FaceTracker(static_image_mode=True) as tracker:
        base = pipeline.estimate(tracker.process(photo)[0].landmarks, *photo.shape[1::-1])
        turned = [script.turned_face(photo, np.asarray(base.mesh, np.float64), np.asarray(base.pose, np.float64),
                                     camera, pitch=pitch) for pitch in (-20, 20)]
        geometries = [pipeline.estimate(tracker.process(image)[0].landmarks, *photo.shape[1::-1])
                      for image in turned]
    for depth_scale in (DEPTH_SCALE, 1.0):
        estimator = ExpressionEstimator(canonical, depth_scale=depth_scale)
        neutral_features = estimator.features(base)
        worst[depth_scale] = max(scores_from_features(estimator.features(g), neutral_features)[name]
                                 for g in geometries for name in watched)
    assert worst[DEPTH_SCALE] < 0.25 and worst[1.0] > 0.4, worst


def test_shut_eyes_read_as_a_blink_with_refined_landmarks(canonical):
    """The astronaut with her eyelids warped shut (scripts/measure_expressions.py's
    closed_eyes), scored against her open-eyed photo: refined landmarks (the attention model's
    eye contours) read a full blink; the plain model's eyelid points do not meet."""
    
    from arfx.demo import astronaut_image
    from arfx.geometry.expressions import scores_from_features
    from arfx.tracking import FaceTracker

    script = load_script("measure_expressions")
    photo = script.centred_photo(astronaut_image())
    size = photo.shape[1::-1]
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera, canonical)
    estimator = ExpressionEstimator(canonical)
    blink = {}
    for refine in (True, False):
        with FaceTracker(static_image_mode=True, refine_landmarks=refine) as tracker:
            base = pipeline.estimate(tracker.process(photo)[0].landmarks, *size)
            shut = script.closed_eyes(photo, np.asarray(base.mesh, np.float64), camera, 1.0)
            closed = pipeline.estimate(tracker.process(shut)[0].landmarks, *size)
        scores = scores_from_features(estimator.features(closed), estimator.features(base))
        blink[refine] = (scores["eyeBlinkLeft"], scores["eyeBlinkRight"])
    assert min(blink[True]) > 0.8 and max(blink[False]) < 0.5, blink
