"""FaceTracker on the astronaut image and on synthetic media made from it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from arfx.tracking import Face, FaceTracker
from arfx.tracking.detector import FaceDetector, weighted_nms
from arfx.tracking.roi import RgbxCropper, Roi, crop_into, letterbox

# The astronaut's face in skimage.data.astronaut() (512x512), generously bounded.
FACE_BOX = (150, 30, 290, 200)  # x0, y0, x1, y1


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="module")
def face_patch(astronaut) -> np.ndarray:
    return astronaut[10:230, 120:320].copy()  # 220x200 head and shoulders


def _background(h: int = 360, w: int = 640) -> np.ndarray:
    rng = np.random.default_rng(7)
    grad = np.linspace(40, 160, w, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    return np.clip(grad + noise + np.array([10, 20, 30], np.float32), 0, 255).astype(np.uint8)


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    out = frame.copy()
    h, w = patch.shape[:2]
    out[y:y + h, x:x + w] = patch
    return out


def _inside(points: np.ndarray, box, margin: float = 0.0) -> float:
    x0, y0, x1, y1 = box
    ok = ((points[:, 0] >= x0 - margin) & (points[:, 0] <= x1 + margin)
          & (points[:, 1] >= y0 - margin) & (points[:, 1] <= y1 + margin))
    return float(ok.mean())


def test_one_face_with_landmarks_on_the_face(astronaut):
    with FaceTracker(static_image_mode=True) as tracker:
        faces = tracker.process(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, Face)
    assert face.landmarks.shape == (468, 3) and face.landmarks.dtype == np.float32
    assert face.score > 0.9
    assert _inside(face.landmarks, FACE_BOX) > 0.98
    # right eye outer corner (33) is left of the left one (263) in an upright, unmirrored face
    assert face.landmarks[33, 0] < face.landmarks[263, 0]
    # the nose tip (1) is nearer the camera than the face outline (234, 454)
    assert face.landmarks[1, 2] < face.landmarks[[234, 454], 2].min()


@pytest.mark.parametrize("rotation", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180])
def test_face_found_when_rotated(astronaut, rotation):
    with FaceTracker(static_image_mode=True) as tracker:
        upright = tracker.process(astronaut)[0].landmarks
        faces = tracker.process(np.ascontiguousarray(cv2.rotate(astronaut, rotation)))
    assert len(faces) == 1
    # rotate the upright landmarks the same way and compare
    h, w = astronaut.shape[:2]
    x, y = upright[:, 0], upright[:, 1]
    if rotation == cv2.ROTATE_90_CLOCKWISE:
        expected = np.stack([h - y, x], axis=1)
    else:
        expected = np.stack([w - x, h - y], axis=1)
    iod = np.linalg.norm(upright[33, :2] - upright[263, :2])
    found = faces[0].landmarks[:, :2]
    # the face is found where the rotated face is: same centre, points inside its box
    assert np.linalg.norm(found.mean(axis=0) - expected.mean(axis=0)) < 0.3 * iod
    lo, hi = expected.min(axis=0) - 0.2 * iod, expected.max(axis=0) + 0.2 * iod
    assert np.all((found >= lo) & (found <= hi), axis=1).mean() > 0.95


@pytest.mark.parametrize("image", ["coffee", "noise", "blank"])
def test_no_face_on_non_face_images(image):
    if image == "coffee":
        rgb = data.coffee()
    elif image == "noise":
        rgb = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    else:
        rgb = np.full((240, 320, 3), 128, np.uint8)
    with FaceTracker(static_image_mode=True, max_num_faces=4) as tracker:
        assert tracker.process(np.ascontiguousarray(rgb)) == []


def test_video_tracks_loses_and_redetects(face_patch):
    background = _background()
    frames, present = [], []
    for i in range(8):  # moving face
        frames.append(_paste(background, face_patch, 40 + 25 * i, 60 + 5 * i)); present.append(True)
    for _ in range(3):  # face gone
        frames.append(background.copy()); present.append(False)
    for i in range(4):  # back, elsewhere
        frames.append(_paste(background, face_patch, 400 - 10 * i, 100)); present.append(True)
    ids, centres = [], []
    with FaceTracker() as tracker:
        for frame, expected in zip(frames, present):
            faces = tracker.process(frame)
            assert len(faces) == int(expected)
            if faces:
                ids.append(faces[0].id)
                centres.append(faces[0].landmarks[:, :2].mean(axis=0))
            else:
                ids.append(None)
    assert len(set(ids[:8])) == 1  # tracked: one id while the face moves
    assert ids[11] is not None and ids[11] != ids[0]  # re-detected as a new face
    assert len(set(ids[11:])) == 1
    # the landmarks follow the face: 7 steps of 25 px right
    assert centres[7][0] - centres[0][0] == pytest.approx(175, abs=12)


def test_two_faces_get_two_stable_ids(face_patch):
    background = _background()
    with FaceTracker(max_num_faces=2) as tracker:
        history = []
        for i in range(6):
            frame = _paste(background, face_patch, 30 + 3 * i, 80)
            frame = _paste(frame, face_patch, 400 - 3 * i, 100)
            faces = tracker.process(frame)
            assert len(faces) == 2
            history.append({f.id: f.landmarks[:, 0].mean() for f in faces})
    assert all(set(h) == set(history[0]) for h in history)
    left = min(history[0], key=history[0].get)
    assert all(h[left] < 320 for h in history)  # the same id stays on the same face


def test_tracking_does_not_duplicate_a_face(face_patch):
    frame = _paste(_background(), face_patch, 200, 70)
    with FaceTracker(max_num_faces=3) as tracker:
        for _ in range(4):
            assert len(tracker.process(frame)) == 1


def test_static_mode_equals_per_frame_detection(face_patch):
    frames = [_paste(_background(), face_patch, 60 + 40 * i, 70) for i in range(3)]
    with FaceTracker(static_image_mode=True) as tracker:
        static = [tracker.process(f) for f in frames]
    for frame, faces in zip(frames, static):
        with FaceTracker(static_image_mode=True) as fresh:
            single = fresh.process(frame)
        assert len(faces) == len(single) == 1
        np.testing.assert_allclose(faces[0].landmarks, single[0].landmarks, atol=1e-4)


def test_smoothing_reduces_jitter(face_patch):
    """Landmark noise on a still face (fresh sensor noise every frame) is smoothed away,
    while a face that really moves (a shaking camera) is followed, not trailed."""
    background = _background()
    rng = np.random.default_rng(3)
    still = _paste(background, face_patch, 200, 70).astype(np.float32)
    noisy = [np.clip(still + rng.normal(0, 6, still.shape), 0, 255).astype(np.uint8)
             for _ in range(16)]
    offsets = rng.integers(-2, 3, (12, 2))
    shaken = [_paste(background, face_patch, 200 + dx, 70 + dy) for dx, dy in offsets]

    def centres(frames, smooth: bool) -> np.ndarray:
        with FaceTracker(smooth=smooth) as tracker:
            return np.array([tracker.process(f)[0].landmarks[:, :2].mean(axis=0) for f in frames])

    def jitter(xs: np.ndarray) -> float:
        return float(np.abs(np.diff(xs, axis=0)).mean())

    assert jitter(centres(noisy, True)) < 0.5 * jitter(centres(noisy, False))
    raw, smoothed = centres(shaken, False), centres(shaken, True)
    truth = offsets - offsets.mean(axis=0)
    def error(xs):
        return float(np.abs((xs - xs.mean(axis=0)) - truth).mean())
    assert error(smoothed) <= error(raw) + 0.3


def test_smoothing_keeps_still_points_still_while_the_face_grows():
    """A landmark that does not move stays put when other landmarks spread (a face coming closer)."""
    from arfx.tracking.filters import LandmarkSmoother

    smoother = LandmarkSmoother()
    rng = np.random.default_rng(5)
    base = rng.uniform(400, 600, (468, 3)).astype(np.float32)
    base[0] = (1000.0, 600.0, 0.0)  # far from the others, never moves
    centre = base[1:].mean(axis=0)
    for i in range(30):
        frame = base.copy()
        frame[1:] = centre + (base[1:] - centre) * (1.0 + 0.01 * i)  # grows 1% a frame
        out = smoother(0, frame, i / 30)
        np.testing.assert_allclose(out[0], base[0], atol=1e-3)
    # ...and a moving face is followed, not frozen: after a jump the output catches up.
    moved = base + 40.0
    for i in range(30, 45):
        out = smoother(0, moved, i / 30)
    np.testing.assert_allclose(out, moved, atol=1.0)


def test_full_range_detector_finds_a_small_face(astronaut):
    small = cv2.resize(astronaut, (80, 80), interpolation=cv2.INTER_AREA)
    frame = _paste(_background(480, 854), small[:, :], 600, 300)
    detections = FaceDetector("full").detect(frame)
    assert len(detections) >= 1
    x, y, w, h = detections[0].box
    assert 600 <= x + w / 2 <= 680 and 300 <= y + h / 2 <= 380


def test_weighted_nms_merges_overlaps():
    boxes = np.array([[0, 0, 1, 1], [0.05, 0, 1.05, 1], [3, 3, 4, 4]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    merged = weighted_nms(boxes, kps, scores, 0.3)
    assert len(merged) == 2
    box, _, score = merged[0]
    assert score == pytest.approx(0.9)
    assert box[0] == pytest.approx(0.05 * 0.6 / 1.5)
    assert merged[1][2] == pytest.approx(0.7) and merged[1][0][0] == pytest.approx(3)
    assert weighted_nms(boxes[:0], kps[:0], scores[:0]) == []


def test_rgbx_crop_gives_the_bytes_of_the_rgb_warp(astronaut):
    # The landmark crop goes through 4-channel pixels for speed; it must be the very warp of
    # the RGB frame, for crops inside, across and wholly off the frame, on strided views too.
    rng = np.random.default_rng(3)
    cropper = RgbxCropper(192)
    frames = [astronaut, astronaut[40:300, 60:500], astronaut[::-1, 7:]]
    ours, theirs = np.empty((192, 192, 3), np.uint8), np.empty((192, 192, 3), np.uint8)
    a, b = np.empty((1, 192, 192, 3), np.float32), np.empty((1, 192, 192, 3), np.float32)
    for i in range(300):
        rgb = frames[i % 3]
        h, w = rgb.shape[:2]
        roi = Roi(rng.uniform(-0.5 * w, 1.5 * w), rng.uniform(-0.5 * h, 1.5 * h),
                  rng.uniform(5, 2 * max(h, w)), rng.uniform(-4, 4))
        cropper(rgb, roi, ours, a, np.float32(1 / 255))
        crop_into(rgb, roi, theirs, b, np.float32(1 / 255))
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("height, width", [(512, 512), (360, 640), (480, 640), (640, 480),
                                           (1080, 1920), (128, 128), (361, 640), (500, 500)])
def test_letterbox_gives_the_bytes_of_the_corner_to_corner_warp(height, width, monkeypatch):
    # Frame sizes with a whole-pixel step into the detector are copied by nearest-neighbour
    # resize instead of warped; both must give the warp's bytes, padding included, whatever
    # the canvas held before.
    import arfx.tracking.roi as roi_module

    rgb = np.random.default_rng(height + width).integers(0, 256, (height, width, 3), np.uint8)
    strided = []
    real = roi_module._letterbox_by_stride
    monkeypatch.setattr(roi_module, "_letterbox_by_stride",
                        lambda *a: (strided.append(1), real(*a)))
    for size in (128, 192):
        canvas = np.full((size, size, 3), 77, np.uint8)
        s, ox, oy = letterbox(rgb, canvas)
        side = max(height, width)
        assert (s, ox, oy) == (side / size, (side - width) / 2, (side - height) / 2)
        matrix = np.array([[1 / s, 0, ox / s], [0, 1 / s, oy / s]])
        warped = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        np.testing.assert_array_equal(canvas, warped)
    # the copy is taken for the common video and square sizes (at 128 px), not for the others
    assert bool(strided) == ((height, width) not in ((361, 640), (500, 500)))
