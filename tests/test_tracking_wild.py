"""Tracking on generated clips with known truth: fast motion, spare capacity, cuts, small faces.

Every clip is made here from scikit-image's astronaut: a head-and-shoulders patch of the photo
(with a feathered mask) warped onto a background by a known affine per frame. The true
landmarks of a frame are the photo's static landmarks mapped through that affine. Each test
also runs MediaPipe's own loop (`mediapipe_compat=True`, short-range detector, the tracker's
behaviour before these fixes) on the same frames and checks that it fails there, so the test
is known to be able to fail.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data

from arfx.tracking import FaceTracker

W, H = 480, 360
EYES = (33, 263)
OLD = {"detector": "short", "smooth": False, "tiling": False, "mediapipe_compat": True}


class Sprite:
    """The astronaut's head and shoulders scaled so the face is `face_px` wide."""

    def __init__(self, face_px: float, mirror: bool = False) -> None:
        rgb = np.ascontiguousarray(data.astronaut())
        if mirror:
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        with FaceTracker(static_image_mode=True) as tracker:
            points = tracker.process(rgb)[0].landmarks[:, :2].astype(np.float64)
        lo, hi = points.min(axis=0), points.max(axis=0)
        centre = (lo + hi) / 2
        k = face_px / (hi[0] - lo[0])
        side = int(round(face_px * 2.4))
        m = np.array([[k, 0, side / 2 - k * centre[0]], [0, k, side / 2 - k * centre[1]]])
        self.rgb = cv2.warpAffine(rgb, m, (side, side), flags=cv2.INTER_AREA,
                                  borderMode=cv2.BORDER_REFLECT)
        yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
        r = np.hypot((xx - side / 2) / (0.47 * side), (yy - side / 2) / (0.49 * side))
        self.mask = np.clip((1 - r) / 0.12, 0, 1).astype(np.float32)
        self.points = points * k + m[:, 2]

    def at(self, cx: float, cy: float, degrees: float = 0.0, scale: float = 1.0) -> np.ndarray:
        """2x3 affine putting the patch centre at (cx, cy), turned and scaled."""
        side = self.rgb.shape[0]
        a = math.radians(degrees)
        c, s = math.cos(a) * scale, math.sin(a) * scale
        return np.array([[c, -s, cx - c * side / 2 + s * side / 2],
                         [s, c, cy - s * side / 2 - c * side / 2]])


def background(w: int = W, h: int = H, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.uniform(40, 190, (4, 6, 3)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_CUBIC)


def compose(bg: np.ndarray, placed) -> tuple[np.ndarray, list[np.ndarray]]:
    frame, truth = bg.copy(), []
    h, w = bg.shape[:2]
    for sprite, m in placed:
        rgb = cv2.warpAffine(sprite.rgb, m, (w, h)).astype(np.float32)
        alpha = cv2.warpAffine(sprite.mask, m, (w, h))[..., None]
        frame = frame * (1 - alpha) + rgb * alpha
        truth.append(sprite.points @ m[:, :2].T + m[:, 2])
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), truth


def iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYES[0], :2] - points[EYES[1], :2]))


def error(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean landmark error, % of the true inter-ocular distance."""
    return float(np.linalg.norm(found[:468, :2] - truth, axis=1).mean() / iod(truth) * 100)


def run(frames, **options) -> list[list]:
    with FaceTracker(**options) as tracker:
        return [tracker.process(f, timestamp=i / 30) for i, f in enumerate(frames)]


def duplicated(faces) -> bool:
    """Two faces whose landmark centroids are closer than one inter-ocular distance."""
    centres = [f.landmarks[:468, :2].mean(axis=0) for f in faces]
    return any(np.linalg.norm(centres[a] - centres[b]) < iod(faces[a].landmarks)
               for a in range(len(faces)) for b in range(a + 1, len(faces)))


@pytest.fixture(scope="module")
def face() -> Sprite:
    return Sprite(110)


@pytest.fixture(scope="module")
def fast_clip(face):
    """40 frames of fast translation (up to ~25 px/frame), roll (+-35 deg) and zoom."""
    bg = background()
    frames, truth = [], []
    for i in range(40):
        t = i / 30
        m = face.at(W / 2 + 130 * math.sin(2 * math.pi * 0.9 * t),
                    H / 2 + 50 * math.sin(2 * math.pi * 1.3 * t),
                    35 * math.sin(2 * math.pi * 1.0 * t),
                    1 + 0.3 * math.sin(2 * math.pi * 0.8 * t + 1))
        frame, points = compose(bg, [(face, m)])
        frames.append(frame)
        truth.append(points[0])
    return frames, truth


def test_fast_motion_does_not_slide_off(fast_clip):
    frames, truth = fast_clip
    errors = []
    for faces, points in zip(run(frames), truth):
        assert len(faces) == 1  # the face is fully visible on every frame
        errors.append(error(faces[0].landmarks, points))
    assert max(errors) < 10 and np.mean(errors) < 3
    # MediaPipe's loop (the old tracker) slides off this clip
    old = [error(faces[0].landmarks, points) if faces else np.inf
           for faces, points in zip(run(frames, **OLD), truth)]
    assert max(old) > 10


def test_no_duplicates_with_spare_capacity(fast_clip):
    frames, truth = fast_clip
    tracked = run(frames, max_num_faces=4)
    assert all(len(faces) == 1 for faces in tracked)
    assert len({faces[0].id for faces in tracked}) == 1  # one id all along
    assert max(error(faces[0].landmarks, p) for faces, p in zip(tracked, truth)) < 10
    old = run(frames, max_num_faces=4, **OLD)
    assert any(duplicated(faces) for faces in old)


def test_no_duplicates_across_a_cut():
    """Two people; at the cut each jumps to where the other was (tracks land on the other
    face), and a spare max_num_faces lets detections start new tracks."""
    a, b = Sprite(100), Sprite(100, mirror=True)
    bg = background()
    frames = []
    for i in range(16):
        s = 1 if i >= 8 else 0
        shift = 6 * (i % 8)
        placed = [(a, a.at(130 + 220 * s + shift, 170, 8)), (b, b.at(350 - 220 * s - shift, 190, -8))]
        frames.append(compose(bg, placed)[0])
    tracked = run(frames, max_num_faces=4)
    for faces in tracked:
        assert len(faces) == 2 and not duplicated(faces)
    ids_before = {f.id for f in tracked[7]}
    assert all({f.id for f in faces} == ids_before for faces in tracked[:8])
    assert all({f.id for f in faces} == {f.id for f in tracked[8]} for faces in tracked[8:])
    old = run(frames, max_num_faces=4, **OLD)
    assert any(len(faces) != 2 or duplicated(faces) for faces in old)


def test_a_face_that_walks_in_at_the_start_is_found_at_once():
    """In a clip's first frames the search for new faces runs on every frame (later on every
    other one while faces are followed): a second person who is in the second frame on is
    tracked from that frame, not one later."""
    a, b = Sprite(110), Sprite(60, mirror=True)
    bg = background()
    frames = []
    for i in range(6):
        placed = [(a, a.at(150 + 3 * i, 180))] + ([(b, b.at(360 - 2 * i, 170))] if i >= 2 else [])
        frames.append(compose(bg, placed)[0])
    assert [len(faces) for faces in run(frames, max_num_faces=4)] == [1, 1, 2, 2, 2, 2]


def test_landmarks_right_after_a_cut():
    """At a cut two people of different sizes swap places, one 35 px higher, the other lower:
    each track's crop now holds part of the other face. Landmarks that fit it only by bending
    are looked for again with the detector, so no face-frame is off by 10% or more."""
    a, b = Sprite(100), Sprite(120, mirror=True)
    bg = background()
    frames, truth = [], []
    for i in range(12):
        shift = 5 * (i % 8)
        if i < 8:
            placed = [(a, a.at(130 + shift, 170, 8)), (b, b.at(350 - shift, 190, -8))]
        else:
            placed = [(a, a.at(350 - shift, 155, -8, 0.85)), (b, b.at(130 + shift, 205, 8, 1 / 0.85))]
        frame, points = compose(bg, placed)
        frames.append(frame)
        truth.append(points)

    def worst(tracked) -> float:
        errors = []
        for faces, points in zip(tracked, truth):
            for p in points:
                on = [f for f in faces
                      if np.linalg.norm(f.landmarks[:468, :2].mean(axis=0) - p.mean(axis=0)) < iod(p)]
                errors.append(error(on[0].landmarks, p) if on else np.inf)
        return max(errors)

    assert worst(run(frames, max_num_faces=4)) < 10
    assert worst(run(frames, max_num_faces=4, **OLD)) > 10


def small_faces_canvas(widths, w, h, seed):
    rng = np.random.default_rng(seed)
    canvas = background(w, h, seed)
    n = len(widths)
    cols = int(math.ceil(math.sqrt(n * w / h)))
    rows = int(math.ceil(n / cols))
    placed = []
    for k, px in enumerate(widths):
        sprite = Sprite(px, mirror=bool(k % 2))
        r, c = divmod(k, cols)
        cx = (c + 0.5 + rng.uniform(-0.1, 0.1)) * w / cols
        cy = (r + 0.5 + rng.uniform(-0.1, 0.1)) * h / rows
        placed.append((sprite, sprite.at(cx, cy, rng.uniform(-15, 15))))
    return compose(canvas, placed)


def found_of(faces, truth) -> int:
    centres = [f.landmarks[:468, :2].mean(axis=0) for f in faces]
    return sum(any(np.linalg.norm(c - p.mean(axis=0)) < 0.5 * iod(p) for c in centres)
               for p in truth)


def test_small_faces_found_by_tiling():
    """Nine faces 40-90 px wide in a 1280x720 frame: the default finds >= 8; no false ones."""
    frame, truth = small_faces_canvas([40, 50, 60, 70, 80, 90, 45, 65, 85], 1280, 720, 3)
    with FaceTracker(static_image_mode=True, max_num_faces=12) as tracker:
        faces = tracker.process(frame)
    assert found_of(faces, truth) >= 8
    assert len(faces) <= len(truth)
    # the best whole-frame option there was (full range) misses most of them
    with FaceTracker(static_image_mode=True, max_num_faces=12, detector="full",
                     tiling=False) as tracker:
        assert found_of(tracker.process(frame), truth) < 8


def test_default_detector_finds_a_group():
    """Six ~100 px faces on a 1000x667 canvas: all found by default (not by short range)."""
    frame, truth = small_faces_canvas([100] * 6, 1000, 667, 4)
    with FaceTracker(static_image_mode=True, max_num_faces=10) as tracker:
        assert found_of(tracker.process(frame), truth) == 6
    with FaceTracker(max_num_faces=10) as tracker:  # video mode: the first frame too
        assert found_of(tracker.process(frame), truth) == 6
    with FaceTracker(static_image_mode=True, max_num_faces=10, detector="short") as tracker:
        assert found_of(tracker.process(frame), truth) < 6


@pytest.mark.parametrize("kind", ["black", "white", "noise"])
def test_no_false_faces_on_plain_frames(kind):
    rng = np.random.default_rng(11)
    if kind == "noise":
        frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    else:
        frame = np.full((720, 1280, 3), 0 if kind == "black" else 255, np.uint8)
    with FaceTracker(static_image_mode=True, max_num_faces=8) as tracker:
        assert tracker.process(frame) == []
    frames = [frame] * 3 if kind != "noise" else [
        rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    assert all(faces == [] for faces in run(frames, max_num_faces=8))


def test_refine_does_not_change_which_faces_are_found(fast_clip, face):
    bg = background()
    leaving = [compose(bg, [(face, face.at(300 + 8 * i, 180))])[0] for i in range(40)]
    for frames, n in ((fast_clip[0], 4), (leaving, 1)):
        plain = run(frames, max_num_faces=n)
        refined = run(frames, max_num_faces=n, refine_landmarks=True)
        assert [[f.id for f in faces] for faces in plain] == \
               [[f.id for f in faces] for faces in refined]
        for p, r in zip(plain, refined):
            for a, b in zip(p, r):
                assert b.landmarks.shape == (478, 3)
                # the refined points stay on the same face
                assert np.linalg.norm(a.landmarks[:, :2] - b.landmarks[:468, :2], axis=1).mean() \
                    < 0.1 * iod(a.landmarks)
    # MediaPipe's loop (attention model alone) finds different faces on these clips
    differs = False
    for frames, n in ((fast_clip[0], 4), (leaving, 1)):
        plain = run(frames, max_num_faces=n, **OLD)
        refined = run(frames, max_num_faces=n, refine_landmarks=True, **OLD)
        differs |= [len(f) for f in plain] != [len(f) for f in refined]
    assert differs


def test_refine_does_not_change_which_faces_are_found_in_static_mode(face):
    """Faces at the frame edges, blurred and noisy: the attention model's presence score
    differs from the 468-point model's there, and only the latter decides."""
    bg = background()
    rng = np.random.default_rng(3)
    frames = []
    for x in (-10, 10, 30, 450, 470, 490):
        for noise in (0, 30, 60):
            for blur in (0, 9):
                frame = compose(bg, [(face, face.at(x, 180))])[0]
                if blur:
                    frame = cv2.GaussianBlur(frame, (blur, blur), 0)
                frames.append(np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255)
                              .astype(np.uint8))

    def counts(**options) -> list[int]:
        return [len(faces) for faces in run(frames, static_image_mode=True, **options)]

    plain = counts()
    assert 0 < sum(plain) < len(frames)
    assert counts(refine_landmarks=True) == plain
    # MediaPipe's loop (attention model alone) finds different faces here
    assert counts(refine_landmarks=True, **OLD) != counts(**OLD)


def test_default_smoothing_has_no_lag_and_removes_jitter(fast_clip, face):
    frames, truth = fast_clip
    raw = [error(f[0].landmarks, p) for f, p in zip(run(frames, smooth=False), truth)]
    smoothed = [error(f[0].landmarks, p) for f, p in zip(run(frames), truth)]
    assert np.mean(smoothed) <= np.mean(raw) + 0.05
    # a still face with fresh sensor noise on every frame
    rng = np.random.default_rng(5)
    still, points = compose(background(), [(face, face.at(240, 180, 8, 1.1))])
    noisy = [np.clip(still + rng.normal(0, 6, still.shape), 0, 255).astype(np.uint8)
             for _ in range(24)]

    def jitter(tracked) -> float:
        xy = np.array([f[0].landmarks[:, :2] for f in tracked])
        return float(np.linalg.norm(np.diff(xy, axis=0), axis=2).mean())

    assert jitter(run(noisy)) <= 0.25 * jitter(run(noisy, smooth=False))
    # a slow drift (0.5 px a frame) under the same noise is not trailed by more than a
    # fraction of a percent of the eye distance
    drift, truth = [], []
    for i in range(40):
        frame, points = compose(background(), [(face, face.at(200 + 0.5 * i, 180, 0.1 * i, 1.1))])
        drift.append(np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8))
        truth.append(points[0])
    raw = [error(f[0].landmarks, p) for f, p in zip(run(drift, smooth=False), truth)]
    smoothed = [error(f[0].landmarks, p) for f, p in zip(run(drift), truth)]
    assert np.mean(smoothed[10:]) <= np.mean(raw[10:]) + 0.15
