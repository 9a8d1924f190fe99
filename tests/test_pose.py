"""Body pose: detection anchors and decoding, body ROIs, heatmap refinement, and the tracker on a
real photo (scikit-image's astronaut) against MediaPipe's recorded answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arfx.tracking import pose
from arfx.tracking.pose import Body, PoseTracker, refine_from_heatmap, roi_from_points

# MediaPipe 0.10.21 Pose (static_image_mode=True, model_complexity=1) on skimage's astronaut
# (512x512): the 33 landmarks in image pixels. Her hips and legs lie below the frame.
MEDIAPIPE_ASTRONAUT = np.array([
    [222.7, 128.0], [240.9, 111.3], [248.9, 112.5], [256.4, 113.7], [214.5, 105.7], [205.0, 103.3],
    [196.6, 101.5], [268.0, 122.8], [190.4, 107.4], [233.8, 153.9], [205.8, 147.7], [306.2, 256.6],
    [112.7, 240.0], [322.5, 374.9], [64.6, 413.6], [326.4, 461.3], [135.2, 477.3], [331.4, 496.0],
    [158.5, 523.8], [325.3, 485.2], [173.4, 503.6], [318.0, 471.2], [170.4, 487.4], [241.9, 501.7],
    [128.3, 531.4], [245.0, 738.6], [129.8, 741.5], [237.1, 918.5], [127.3, 923.6], [236.7, 946.0],
    [121.7, 952.6], [222.4, 984.5], [144.1, 981.6]])
# Its world landmarks (metres) for the shoulders and hips.
MEDIAPIPE_ASTRONAUT_WORLD = {11: [0.202, -0.460, -0.051], 12: [-0.126, -0.458, -0.108],
                             23: [0.118, 0.014, 0.015], 24: [-0.118, -0.021, -0.013]}
# The ROI its detection gave (the graph's pose_rect_from_detection, in pixels): cx, cy, side, rotation.
MEDIAPIPE_ASTRONAUT_ROI = (158.72919, 524.01190, 1254.92138, 0.160093)


def _astronaut() -> np.ndarray:
    from skimage import data
    return data.astronaut()


def _torso(points: np.ndarray) -> float:
    """Distance from mid-shoulder to mid-hip (the NME unit of scripts/compare_pose.py)."""
    shoulders = points[[pose.LEFT_SHOULDER, pose.RIGHT_SHOULDER], :2].mean(axis=0)
    hips = points[[pose.LEFT_HIP, pose.RIGHT_HIP], :2].mean(axis=0)
    return float(np.linalg.norm(shoulders - hips))


@pytest.fixture(scope="module")
def still_body() -> Body:
    with PoseTracker(static_image_mode=True, enable_segmentation=True) as tracker:
        bodies = tracker.process(_astronaut())
    assert len(bodies) == 1
    return bodies[0]


# ----- anchors and decoding ----------------------------------------------------------------

def test_anchors_follow_the_ssd_layout():
    anchors = pose.pose_anchors()
    assert anchors.shape == (2254, 2)
    # 28x28 cells x 2, 14x14 x 2, 7x7 x 6 (three stride-32 layers share one map)
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(anchors[1568 + 392], [0.5 / 7, 0.5 / 7])
    np.testing.assert_allclose(anchors[1568 + 392:1568 + 392 + 6], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


def _raw(anchors: np.ndarray, rows: dict[int, tuple[list[float], float]]) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.zeros((len(anchors), 12), np.float32)
    logits = np.full((len(anchors), 1), -20.0, np.float32)
    for index, (values, logit) in rows.items():
        boxes[index] = values
        logits[index] = logit
    return boxes, logits


def test_decoding_offsets_boxes_and_keypoints_from_their_anchor():
    anchors = pose.pose_anchors()
    index = 1568 + 392 + 6 * 24 + 3  # a 7x7 cell in the middle, its 4th anchor: centre (112, 112)
    values = [4.0, -8.0, 60.0, 40.0, 0.0, 50.0, 10.0, -90.0, 1.0, 2.0, -3.0, -4.0]
    boxes, logits = _raw(anchors, {index: (values, 3.0)})
    found = pose.decode_pose_detections(boxes, logits, anchors, min_score=0.5)
    assert len(found) == 1
    corners, keypoints, score = found[0]
    np.testing.assert_allclose(corners, [116 - 30, 104 - 20, 116 + 30, 104 + 20], atol=1e-4)
    np.testing.assert_allclose(keypoints, [[112, 162], [122, 22], [113, 114], [109, 108]], atol=1e-4)
    assert score == pytest.approx(1 / (1 + math.exp(-3.0)))
    assert pose.decode_pose_detections(boxes, logits, anchors, min_score=0.99) == []


def test_overlapping_detections_are_merged_by_score_weight():
    anchors = pose.pose_anchors()
    first, second = 1568 + 392 + 6 * 24, 1568 + 392 + 6 * 24 + 1  # the same cell
    box = [0.0, 0.0, 80.0, 80.0]
    boxes, logits = _raw(anchors, {first: (box + [0.0] * 8, 2.0), second: (box + [10.0, 0.0] + [0.0] * 6, 2.0)})
    (corners, keypoints, score), = pose.decode_pose_detections(boxes, logits, anchors, min_score=0.5)
    np.testing.assert_allclose(keypoints[0], [117, 112], atol=1e-4)  # the mean of 112 and 122
    assert score == pytest.approx(1 / (1 + math.exp(-2.0)))


# ----- ROIs and heatmap refinement ------------------------------------------------------------

@pytest.mark.parametrize("towards", [(0.0, -100.0), (100.0, 0.0), (-60.0, -80.0), (30.0, 90.0)])
def test_roi_points_the_body_up_the_crop(towards):
    centre = np.array([300.0, 400.0])
    roi = roi_from_points(centre, centre + towards)
    assert (roi.cx, roi.cy) == (300.0, 400.0)
    assert roi.size == pytest.approx(2 * math.hypot(*towards) * pose.ROI_SCALE)
    # The `towards` point lands straight above the crop's centre.
    matrix = np.vstack([roi.crop_matrix(pose.CROP_SIZE), [0, 0, 1]])
    u, v, _ = np.linalg.inv(matrix) @ [*(centre + towards), 1.0]
    half = pose.CROP_SIZE / 2
    assert u == pytest.approx(half, abs=1e-6)
    assert v == pytest.approx(half - half / pose.ROI_SCALE, abs=1e-6)


def test_heatmap_moves_confident_points_to_the_weighted_centre():
    heatmap = np.full((64, 64, 4), -10.0, np.float32)
    heatmap[20, 30, 0] = heatmap[20, 31, 0] = 10.0   # point 0: a blob between cells 30 and 31
    heatmap[40, 10, 1] = -1.0                        # point 1: nothing sure enough nearby
    heatmap[50, 54, 3] = 10.0                        # point 3: a blob 4 cells to the right
    points = np.array([[29 * 4.0, 19 * 4.0, 7.0], [10 * 4.0, 40 * 4.0, 1.0], [-20.0, 300.0, 0.0],
                       [50 * 4.0, 50 * 4.0, 0.0]], np.float32)
    refined = refine_from_heatmap(points, heatmap)
    np.testing.assert_allclose(refined[0], [30.5 / 64 * 256, 20 / 64 * 256, 7.0], atol=0.05)
    # MediaPipe's pose window is 9x9 cells: a blob 4 cells off still pulls the point
    np.testing.assert_allclose(refined[3], [54 / 64 * 256, 50 / 64 * 256, 0.0], atol=0.2)
    np.testing.assert_array_equal(refined[1], points[1])   # below the confidence threshold
    np.testing.assert_array_equal(refined[2], points[2])   # outside the heatmap


def test_roi_filter_takes_speed_between_raw_points_as_mediapipe():
    """MediaPipe's One Euro filter measures speed between consecutive raw values. A point drifting
    v px a frame then opens the cutoff by beta x v / scale only, so the 0.01 Hz filter that sets the
    next body ROI trails the drift by v (1 - a) / a (about 7.7 px here). Taking the speed from the
    lagging output instead (the textbook form) opens the filter by the lag itself: it trailed by
    2 px, and arfx's ROIs crept away from MediaPipe's from the first frames of a clip."""
    from arfx.tracking.filters import OneEuroFilter

    step, scale, fps = 0.5, 500.0, 30.0
    aux = OneEuroFilter(*pose.AUX_FILTER)
    for i in range(240):
        out = aux(np.array([100.0 + step * i]), i / fps, scale=scale)
    cutoff = pose.AUX_FILTER[0] + pose.AUX_FILTER[1] * step * fps / scale
    a = 1.0 / (1.0 + fps / (2 * math.pi * cutoff))
    expected_lag = step * (1 - a) / a
    assert 100.0 + step * 239 - float(out[0]) == pytest.approx(expected_lag, rel=0.02)
    assert expected_lag > 7


# ----- the tracker on a real photo ---------------------------------------------------------------

def test_astronaut_matches_mediapipe(still_body):
    body = still_body
    assert body.landmarks.shape == (33, 3) and body.world.shape == (33, 3)
    assert body.visibility.shape == (33,) and body.presence.shape == (33,)
    assert body.landmarks.dtype == np.float32 and body.score > 0.5
    error = np.linalg.norm(body.landmarks[:, :2] - MEDIAPIPE_ASTRONAUT, axis=1)
    nme = error.mean() / _torso(MEDIAPIPE_ASTRONAUT)
    # 0.02% (the recorded values' rounding) with the crops sampled as MediaPipe's OpenCV samples
    # them and MediaPipe's 9x9 heatmap window; 0.2% with a 7x7 window, 0.9% with cv2.warpAffine too
    assert nme < 0.0008, nme
    for index, metres in MEDIAPIPE_ASTRONAUT_WORLD.items():
        np.testing.assert_allclose(body.world[index], metres, atol=0.02)


def test_detection_roi_is_mediapipes_to_the_pixel_fraction(still_body):
    # The letterbox sampled as MediaPipe samples it gives its detection exactly; with
    # cv2.warpAffine the ROI's centre lay 0.2 px away and its side 0.6 px longer.
    roi = still_body.roi
    cx, cy, side, angle = MEDIAPIPE_ASTRONAUT_ROI
    assert abs(roi.cx - cx) < 0.01 and abs(roi.cy - cy) < 0.01 and abs(roi.size - side) < 0.02
    assert abs(roi.angle - angle) < 1e-5


def test_shoulders_are_found_and_named_for_the_persons_own_side(still_body):
    left = still_body.point("left_shoulder")
    right = still_body.point("right_shoulder")
    nose = still_body.point("nose")
    # She faces the camera: her left shoulder is on the image's right.
    assert left[0] > nose[0] > right[0]
    for shoulder in (left, right):
        assert nose[1] + 60 < shoulder[1] < 320  # below the chin, above the name tag
        assert 60 < shoulder[0] < 360            # on her suit, not on the flag or the rocket
    assert 150 < left[0] - right[0] < 250
    assert still_body.visibility[[pose.LEFT_SHOULDER, pose.RIGHT_SHOULDER]].min() > 0.9
    assert still_body.world[pose.LEFT_SHOULDER, 0] > still_body.world[pose.RIGHT_SHOULDER, 0]
    # Her feet are far below the frame: present landmarks, hardly visible.
    assert still_body.visibility[27:].max() < 0.2


def test_mask_covers_her_and_not_the_corners(still_body):
    mask = still_body.mask
    assert mask.shape == (512, 512) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert mask[100, 200] > 0.9 and mask[300, 150] > 0.9   # face, suit
    assert mask[10, 10] < 0.1 and mask[10, 500] < 0.1      # flag, wall
    assert 0.3 < (mask > 0.5).mean() < 0.7


def test_tracking_keeps_the_person_and_smoothing_steadies_a_noisy_still():
    """Video mode on a still photo with fresh noise in every frame: detection runs once, the id
    holds, and smoothing cuts the frame-to-frame jitter of the landmarks and the mask edge."""
    rng = np.random.default_rng(7)
    image = _astronaut().astype(np.int16)
    frames = [np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    jitter, flicker = {}, {}
    for smooth in (False, True):
        with PoseTracker(smooth_landmarks=smooth, enable_segmentation=True, smooth_segmentation=smooth) as tracker:
            found = [tracker.process(frame) for frame in frames]
            assert all(len(bodies) == 1 for bodies in found)
            assert len({bodies[0].id for bodies in found}) == 1
            assert not tracker.detection_ran
        points = np.array([b[0].landmarks[:13, :2] for b in found])  # face and shoulders: in the frame
        masks = np.array([b[0].mask for b in found])
        jitter[smooth] = float(np.linalg.norm(np.diff(points[3:], axis=0), axis=2).mean())
        flicker[smooth] = float(np.abs(np.diff(masks[3:], axis=0)).mean())
    assert jitter[True] < 0.5 * jitter[False], jitter
    assert flicker[True] < 0.8 * flicker[False], flicker


def test_no_person_and_bad_input():
    with PoseTracker(static_image_mode=True) as tracker:
        assert tracker.process(np.full((240, 320, 3), 90, np.uint8)) == []
        with pytest.raises(ValueError, match="uint8"):
            tracker.process(np.zeros((10, 10), np.float32))


@pytest.mark.parametrize("complexity", [0, 2])
def test_only_the_full_model_ships(complexity):
    with pytest.raises(ValueError, match="lite and heavy are downloaded at run time"):
        PoseTracker(model_complexity=complexity)
