"""Hand tracking: palm anchors and decoding, hand ROIs, handedness, and the tracker on real hands."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from arfx.tracking import hands
from arfx.tracking.hands import Hand, HandTracker, Palm, roi_from_hand_landmarks, roi_from_palm
from arfx.tracking.roi import Roi

# Debian's opencv-doc package ships OpenCV's sample data; two of its photos show a real hand.
OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")

# MediaPipe 0.10.21 Hands (static_image_mode, max_num_hands=2, model_complexity=1) on
# right04.jpg: the hand holding the calibration board, image pixels (MediaPipe label "Right":
# the person's left hand). Complexity 0 finds no hand in this image.
MEDIAPIPE_RIGHT04 = np.array([
    [442.78, 345.20], [418.29, 315.82], [406.84, 280.87], [405.51, 253.85], [402.48, 233.38], [435.53, 239.96],
    [433.22, 221.35], [429.16, 207.87], [423.21, 194.88], [462.39, 241.98], [438.92, 248.44], [423.06, 281.86],
    [415.72, 306.14], [483.87, 255.95], [461.90, 264.33], [442.47, 292.08], [430.70, 313.29], [501.93, 276.42],
    [502.18, 269.99], [483.85, 278.62], [466.39, 287.42]])
# Its palm detection there (full model): score and box (xmin, ymin, width, height) in pixels.
MEDIAPIPE_RIGHT04_PALM = (0.727489, [418.173, 270.800, 89.662, 89.603])
# MediaPipe in video mode (max_num_hands=1, complexity 1) on right04.jpg given four times: the
# first frame is the static result above, the next three come from the landmark ROIs.
MEDIAPIPE_RIGHT04_TRACKED = [np.array(frame) for frame in (
    [[439.4, 343.8], [415.1, 315.4], [401.0, 279.0], [394.6, 252.2], [389.6, 233.9], [434.6, 239.6],
     [430.4, 222.8], [426.3, 210.1], [419.9, 197.9], [461.0, 241.9], [440.2, 242.4], [421.9, 272.2],
     [412.8, 294.7], [481.7, 256.4], [460.9, 263.2], [440.4, 291.1], [429.1, 313.1], [499.6, 277.4],
     [502.4, 269.3], [484.2, 277.2], [466.7, 286.4]],
    [[437.6, 342.1], [413.8, 315.0], [400.0, 277.3], [394.5, 250.6], [389.3, 231.8], [432.4, 240.7],
     [430.1, 223.7], [426.7, 211.5], [421.4, 199.2], [458.8, 243.9], [439.2, 242.8], [420.6, 273.2],
     [411.2, 295.3], [480.1, 258.3], [461.1, 262.0], [440.4, 291.2], [428.7, 313.7], [499.1, 278.7],
     [501.7, 267.9], [483.1, 276.8], [466.3, 286.6]],
    [[439.5, 341.8], [416.0, 315.2], [403.2, 278.7], [398.8, 252.6], [393.6, 233.7], [434.3, 243.2],
     [431.3, 224.7], [427.0, 211.7], [420.7, 198.8], [459.6, 246.0], [440.0, 244.1], [421.6, 273.9],
     [412.2, 295.8], [480.4, 259.6], [461.9, 261.8], [441.7, 289.9], [430.4, 311.7], [499.4, 279.1],
     [501.3, 267.9], [483.0, 277.1], [466.7, 287.1]])]
# The same on messi5.jpg (his left hand, about 25 px across), complexity 0 and 1.
MEDIAPIPE_MESSI5 = {
    0: np.array([
        [343.3, 164.7], [349.7, 170.2], [357.5, 173.1], [363.7, 175.1], [368.4, 177.1], [362.3, 167.0],
        [369.8, 166.3], [373.9, 166.1], [377.2, 165.8], [361.2, 164.0], [368.4, 162.6], [372.4, 162.0],
        [375.5, 161.7], [358.8, 161.8], [365.1, 159.8], [368.7, 159.1], [371.9, 158.7], [355.6, 160.1],
        [359.2, 157.4], [362.0, 156.1], [364.7, 155.1]]),
    1: np.array([
        [344.5, 163.6], [350.7, 170.2], [357.8, 173.3], [363.7, 175.6], [368.4, 177.0], [363.4, 167.1],
        [371.1, 166.1], [374.1, 165.9], [376.5, 166.2], [362.3, 164.0], [370.1, 163.0], [373.6, 163.0],
        [375.9, 163.3], [360.0, 161.7], [366.2, 159.8], [370.0, 159.3], [373.1, 159.3], [356.7, 160.1],
        [359.7, 157.5], [361.9, 156.4], [363.7, 155.6]]),
}


def _sample(name: str) -> np.ndarray:
    path = OPENCV_SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is missing (install Debian's opencv-doc package for the real-hand tests)")
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def nme(points: np.ndarray, reference: np.ndarray) -> float:
    """Mean point error over the size (long side of the bounding box) of the reference hand."""
    size = float((reference.max(axis=0) - reference.min(axis=0)).max())
    return float(np.linalg.norm(points[:, :2] - reference, axis=1).mean() / size)


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _upright_hand(centre=(300.0, 200.0), scale=1.0) -> np.ndarray:
    """A flat open right hand seen palm-on, fingers up (image y down): [21, 3] pixels."""
    xy = np.array([
        [0, 0],                                                # wrist
        [-22, -12], [-38, -30], [-50, -48], [-60, -62],       # thumb
        [-18, -60], [-20, -88], [-21, -106], [-22, -120],     # index
        [0, -62], [0, -94], [0, -114], [0, -130],             # middle
        [18, -58], [19, -86], [20, -104], [21, -118],         # ring
        [32, -50], [36, -70], [38, -84], [40, -96],           # pinky
    ], float) * scale + centre
    return np.concatenate([xy, np.zeros((21, 1))], axis=1).astype(np.float32)


# ----- anchors and decoding ---------------------------------------------------------------

def test_anchor_grids_follow_the_ssd_strides():
    assert hands.ssd_anchor_grids(192) == ((24, 2), (12, 6))
    anchors = hands.palm_anchors()
    assert anchors.shape == (24 * 24 * 2 + 12 * 12 * 6, 2) == (2016, 2)
    # The first grid: two anchors per cell, x varying fastest, centred in their cells.
    np.testing.assert_allclose(anchors[:4], [[0.5 / 24, 0.5 / 24]] * 2 + [[1.5 / 24, 0.5 / 24]] * 2)
    np.testing.assert_allclose(anchors[2 * 24], [0.5 / 24, 1.5 / 24])
    # The second grid starts after the first's 1152 anchors, six per cell.
    np.testing.assert_allclose(anchors[1152:1158], [[0.5 / 12, 0.5 / 12]] * 6)
    np.testing.assert_allclose(anchors[-1], [11.5 / 12, 11.5 / 12])


def test_anchor_count_matches_the_models():
    for complexity in (0, 1):
        detector = hands.PalmDetector(complexity)
        shapes = detector._model.output_shapes
        assert shapes[detector._boxes_name] == (1, 2016, 18)
        assert shapes[detector._logits_name] == (1, 2016, 1)
        detector.close()


def _raw_outputs(entries: dict[int, tuple[float, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.zeros((2016, 18), np.float32)
    logits = np.full((2016, 1), -20.0, np.float32)
    for anchor, (logit, row) in entries.items():
        boxes[anchor, : len(row)] = row
        logits[anchor] = logit
    return boxes, logits


def test_decode_palm_box_and_keypoints_are_offsets_from_the_anchor():
    anchors = hands.palm_anchors()
    index = 1152 + 6 * (12 * 5 + 7)  # second grid, row 5, column 7: centre (7.5, 5.5) * 16 px
    keypoints = [(2 * k, -3 * k) for k in range(7)]
    boxes, logits = _raw_outputs({index: (2.0, [4, -2, 30, 40] + [v for kp in keypoints for v in kp])})
    (corners, points, score), = hands.decode_palms(boxes, logits, anchors, 0.5)
    centre = np.array([7.5 * 16 + 4, 5.5 * 16 - 2])
    np.testing.assert_allclose(corners, [*(centre - [15, 20]), *(centre + [15, 20])], atol=1e-4)
    np.testing.assert_allclose(points, np.array(keypoints) + [7.5 * 16, 5.5 * 16], atol=1e-4)
    assert score == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_decode_applies_the_score_threshold_and_merges_overlaps():
    anchors = hands.palm_anchors()
    # Two neighbouring anchors of the first grid that see the same palm, and a weak third one.
    a, b, weak = 2 * (24 * 10 + 10), 2 * (24 * 10 + 10) + 1, 2 * (24 * 2 + 2)
    boxes, logits = _raw_outputs({a: (3.0, [0, 0, 40, 40]), b: (1.0, [4, 0, 40, 40]),
                                  weak: (-1.0, [0, 0, 40, 40])})
    merged = hands.decode_palms(boxes, logits, anchors, 0.5)
    assert len(merged) == 1
    corners, _, score = merged[0]
    wa, wb = 1 / (1 + math.exp(-3.0)), 1 / (1 + math.exp(-1.0))
    centre_x = 10.5 * 8 + 4 * wb / (wa + wb)  # score-weighted mean of the two boxes
    assert (corners[0] + corners[2]) / 2 == pytest.approx(centre_x, abs=1e-4)
    assert score == pytest.approx(wa)
    assert hands.decode_palms(boxes, logits, anchors, 0.99) == []
    assert len(hands.decode_palms(boxes, logits, anchors, 0.2)) == 2  # the weak one is elsewhere


def test_decode_recorded_palm_outputs():
    """palm_detection_full's outputs on OpenCV's right04.jpg (640x480, letterboxed: 3.33 image px
    per tensor px, 80 px of padding above), recorded where the logit exceeds -4 (30 anchors)."""
    recorded = np.load(Path(__file__).parent / "data" / "palm_full_right04.npz")
    boxes = np.zeros((2016, 18), np.float32)
    logits = np.full(2016, -20.0, np.float32)
    boxes[recorded["anchor_index"]] = recorded["boxes"]
    logits[recorded["anchor_index"]] = recorded["logits"]
    (corners, keypoints, score), = hands.decode_palms(boxes, logits, hands.palm_anchors(), 0.5)
    scale, shift = 640 / 192, np.array([0.0, 80.0])
    keypoints = keypoints * scale - shift
    x0, y0 = corners[:2] * scale - shift
    x1, y1 = corners[2:] * scale - shift
    palm = Palm(np.array([x0, y0, x1 - x0, y1 - y0], np.float32), keypoints.astype(np.float32), score)
    reference = MEDIAPIPE_RIGHT04  # MediaPipe's landmarks of this hand
    size = (reference.max(axis=0) - reference.min(axis=0)).max()
    assert 0.6 < score < 0.8
    assert np.linalg.norm(keypoints[hands.PALM_WRIST] - reference[hands.WRIST]) < 0.15 * size
    assert np.linalg.norm(keypoints[hands.PALM_MIDDLE_MCP] - reference[hands.MIDDLE_MCP]) < 0.3 * size
    # The hand's ROI from this palm holds the whole hand, fingers up the crop.
    roi = roi_from_palm(palm)
    crop = _crop_coordinates(roi, reference)
    assert (crop > 0).all() and (crop < 224).all()
    assert crop[hands.MIDDLE_TIP, 1] < crop[hands.WRIST, 1]


def _crop_coordinates(roi, points: np.ndarray) -> np.ndarray:
    """Image points in the 224-pixel crop of `roi` (the inverse of Roi.to_image)."""
    matrix = roi.crop_matrix(224)
    return (points - matrix[:, 2]) @ np.linalg.inv(matrix[:, :2]).T


# ----- ROIs ---------------------------------------------------------------------------------

def test_palm_roi_upright_hand():
    palm = Palm(box=np.array([100, 200, 40, 50], np.float32),
                keypoints=np.array([[120, 245], [110, 210], [120, 205], [130, 210], [138, 215],
                                    [100, 230], [104, 220]], np.float32), score=0.9)
    roi = roi_from_palm(palm)
    assert roi.angle == pytest.approx(0.0, abs=1e-9)
    assert (roi.cx, roi.cy) == pytest.approx((120.0, 225.0 - 25.0))  # half the box height up
    assert roi.size == pytest.approx(50 * 2.6)


@pytest.mark.parametrize("degrees", [90, -90, 30, 180])
def test_palm_roi_follows_the_wrist_to_middle_finger_direction(degrees):
    angle = math.radians(degrees)
    rotate = _rotation(angle)
    centre = np.array([300.0, 300.0])
    up = rotate @ [0.0, -1.0]  # where the fingers point
    palm = Palm(box=np.array([280, 280, 40, 40], np.float32),
                keypoints=np.stack([centre - 20 * up, centre - 20 * up + 5 * rotate @ [-1, 0], centre + 20 * up,
                                    *([centre] * 4)]).astype(np.float32), score=0.9)
    roi = roi_from_palm(palm)
    assert hands.normalize_radians(roi.angle - angle) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose([roi.cx, roi.cy], centre + 20 * up, atol=1e-4)  # shifted towards the fingers
    # The crop's top edge (tensor y = 0) lies on the finger side of the centre.
    top = roi.to_image(np.array([[112.0, 0.0, 0.0]]), 224)[0, :2]
    assert np.dot(top - [roi.cx, roi.cy], up) == pytest.approx(roi.size / 2, rel=1e-4)


def test_landmark_roi_upright_and_rotated():
    hand = _upright_hand()
    roi = roi_from_hand_landmarks(hand)
    assert roi.angle == pytest.approx(0.0, abs=1e-9)  # the finger bases lie straight above the wrist
    joints = hand[list(hands.ROI_JOINTS), :2]
    width, height = joints.max(0) - joints.min(0)
    assert roi.size == pytest.approx(2.0 * max(width, height), rel=1e-6)
    assert roi.cy == pytest.approx((joints[:, 1].min() + joints[:, 1].max()) / 2 - 0.1 * height, abs=1e-3)
    # Turning the hand about a point turns and moves the ROI with it; its size stays.
    pivot, angle = np.array([250.0, 250.0]), 0.7
    turned = hand.copy()
    turned[:, :2] = (hand[:, :2] - pivot) @ _rotation(angle).T + pivot
    other = roi_from_hand_landmarks(turned)
    assert hands.normalize_radians(other.angle - roi.angle - angle) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose([other.cx, other.cy], _rotation(angle) @ ([roi.cx, roi.cy] - pivot) + pivot,
                               atol=1e-3)
    assert other.size == pytest.approx(roi.size, rel=1e-6)


def test_handedness_means_the_persons_own_hand():
    # The model scores MediaPipe's "Left", a label for a mirrored (selfie) image.
    assert hands.person_handedness(0.9) == ("right", pytest.approx(0.9))
    assert hands.person_handedness(0.2) == ("left", pytest.approx(0.8))
    assert hands.person_handedness(0.9, mirrored=True) == ("left", pytest.approx(0.9))
    assert hands.person_handedness(0.2, mirrored=True) == ("right", pytest.approx(0.8))


# ----- the tracker ----------------------------------------------------------------------------

def test_options_are_checked():
    with pytest.raises(ValueError, match="model_complexity"):
        HandTracker(model_complexity=2)
    with pytest.raises(ValueError, match="max_num_hands"):
        HandTracker(max_num_hands=0)
    with HandTracker() as tracker:
        with pytest.raises(ValueError, match="uint8 RGB"):
            tracker.process(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("complexity", [0, 1])
def test_no_hands_in_empty_or_handless_frames(complexity):
    from skimage import data
    with HandTracker(static_image_mode=True, model_complexity=complexity) as tracker:
        assert tracker.process(np.zeros((240, 320, 3), np.uint8)) == []
        assert tracker.process(np.full((480, 360, 3), 128, np.uint8)) == []
        assert tracker.process(data.coffee()) == []


def test_real_hand_matches_mediapipe():
    rgb = _sample("right04.jpg")
    with HandTracker(static_image_mode=True, max_num_hands=2, model_complexity=1) as tracker:
        found = tracker.process(rgb)
    assert len(found) == 1
    hand = found[0]
    assert isinstance(hand, Hand)
    assert hand.landmarks.shape == (21, 3) and hand.landmarks.dtype == np.float32
    assert hand.world_landmarks.shape == (21, 3) and hand.world_landmarks.dtype == np.float32
    assert hand.score > 0.9
    # MediaPipe's own sampling of the crop: the model sees the same pixels and answers the same
    # (OpenCV 5's warpAffine crop was 0.2% off here).
    assert nme(hand.landmarks, MEDIAPIPE_RIGHT04) < 0.0005
    assert hand.handedness == "left" and hand.handedness_score > 0.9  # MediaPipe: "Right"
    # World landmarks: metres around the hand's centre; a hand is about 0.1-0.25 m long.
    span = np.linalg.norm(hand.world_landmarks[hands.MIDDLE_TIP] - hand.world_landmarks[hands.WRIST])
    assert 0.08 < span < 0.25
    assert np.abs(hand.world_landmarks.mean(axis=0)).max() < 0.05
    # The world skeleton points the same way in the image as the image landmarks.
    image_dir = hand.landmarks[hands.MIDDLE_MCP, :2] - hand.landmarks[hands.WRIST, :2]
    world_dir = hand.world_landmarks[hands.MIDDLE_MCP, :2] - hand.world_landmarks[hands.WRIST, :2]
    cosine = np.dot(image_dir, world_dir) / np.linalg.norm(image_dir) / np.linalg.norm(world_dir)
    assert cosine > 0.9


def test_palm_detection_matches_mediapipe_to_the_last_digit():
    """The letterbox sampled as MediaPipe samples it: the same palm score and box (OpenCV 5's
    warpAffine letterbox gave 0.7257 and a box 0.07 px off)."""
    (palm,) = hands.PalmDetector(1).detect(_sample("right04.jpg"))
    score, box = MEDIAPIPE_RIGHT04_PALM
    assert palm.score == pytest.approx(score, abs=2e-6)
    np.testing.assert_allclose(palm.box, box, atol=0.002)


@pytest.mark.parametrize("complexity", [0, 1])
def test_small_real_hand_matches_mediapipe(complexity):
    rgb = _sample("messi5.jpg")
    with HandTracker(static_image_mode=True, model_complexity=complexity) as tracker:
        found = tracker.process(rgb)
    assert len(found) == 1
    assert nme(found[0].landmarks, MEDIAPIPE_MESSI5[complexity]) < 0.02  # a 25-px hand


def test_mirrored_frame_swaps_the_hand_unless_declared_mirrored():
    rgb = np.ascontiguousarray(_sample("right04.jpg")[:, ::-1])
    with HandTracker(static_image_mode=True) as tracker:
        (hand,) = tracker.process(rgb)
    assert hand.handedness == "right"
    with HandTracker(static_image_mode=True, mirrored=True) as tracker:
        (hand,) = tracker.process(rgb)
    assert hand.handedness == "left"


def test_video_mode_tracks_without_palm_detection_and_keeps_the_id():
    rgb = _sample("right04.jpg")
    with HandTracker(max_num_hands=1) as tracker:
        first = tracker.process(rgb)
        assert tracker.palm_detection_ran and len(first) == 1
        for reference in MEDIAPIPE_RIGHT04_TRACKED:
            again = tracker.process(rgb)
            assert not tracker.palm_detection_ran  # one hand tracked: no palm detection
            assert [h.id for h in again] == [first[0].id]
            assert nme(again[0].landmarks, reference) < 0.01  # the same ROIs as MediaPipe's
        tracker.process(np.zeros_like(rgb))  # the hand is lost ...
        back = tracker.process(rgb)         # ... and found again as a new hand
        assert tracker.palm_detection_ran and [h.id for h in back] == [first[0].id + 1]


def test_video_mode_does_not_count_a_tracked_hand_twice():
    rgb = _sample("right04.jpg")
    with HandTracker(max_num_hands=2) as tracker:
        ids = [[h.id for h in tracker.process(rgb)] for _ in range(4)]
        assert tracker.palm_detection_ran  # fewer than two hands tracked: detection keeps running
    assert ids == [[0]] * 4


def test_static_mode_detects_every_frame():
    rgb = _sample("right04.jpg")
    with HandTracker(static_image_mode=True, max_num_hands=1) as tracker:
        for _ in range(2):
            assert len(tracker.process(rgb)) == 1
            assert tracker.palm_detection_ran


def test_two_hands_from_two_frames_side_by_side():
    """Two copies of the hand, side by side: two hands, distinct ids, one each side."""
    rgb = _sample("right04.jpg")[:, 200:]
    pair = np.ascontiguousarray(np.concatenate([rgb, rgb[:, ::-1]], axis=1))
    with HandTracker(static_image_mode=True, max_num_hands=2) as tracker:
        found = tracker.process(pair)
    assert len(found) == 2
    assert len({h.id for h in found}) == 2
    sides = sorted((float(h.landmarks[:, 0].mean()) < pair.shape[1] / 2, h.handedness) for h in found)
    assert sides == [(False, "right"), (True, "left")]


def test_same_hand_means_coinciding_joints():
    hand = _upright_hand()
    assert hands.same_hand(hand, hand + [3, -2, 0])            # a few pixels apart: one hand
    assert not hands.same_hand(hand, hand + [60, 0, 0])        # beside it: another hand
    mirrored = hand.copy()
    mirrored[:, 0] = 2 * hand[0, 0] - hand[:, 0]                # the other hand, wrists together
    assert not hands.same_hand(hand, mirrored)


def test_a_hand_found_twice_is_reported_once_and_counted_twice_as_mediapipe_counts_it():
    """Two ROIs on one hand (sizes too different to merge before the landmark model): MediaPipe
    tracks both into the next frame and, counting two hands, skips palm detection there; arfx
    does the same but reports the hand once, under one id."""
    rgb = _sample("right04.jpg")
    with HandTracker(max_num_hands=2) as tracker:
        (hand,) = tracker.process(rgb)
        roi = roi_from_hand_landmarks(hand.landmarks)
        # A second ROI 1.5 times the size on the same hand: IoU 0.44, not merged.
        tracker._tracks.append(hands._Track(None, Roi(roi.cx, roi.cy, roi.size * 1.5, roi.angle)))
        assert [h.id for h in tracker.process(rgb)] == [hand.id]
        assert [h.id for h in tracker.process(rgb)] == [hand.id]
        assert not tracker.palm_detection_ran  # two ROIs came out of the frame before
        tracker.process(rgb)
        assert tracker.palm_detection_ran  # they merged into one: one hand, look for another


def test_hands_keep_their_landmarks_while_later_frames_are_tracked():
    """The landmark model writes into output arrays allocated once (IO binding): a Hand
    returned earlier must not change when the next frames are processed."""
    rgb = _sample("right04.jpg")
    with HandTracker(max_num_hands=2) as tracker:
        (hand,) = tracker.process(rgb)
        landmarks, world = hand.landmarks.copy(), hand.world_landmarks.copy()
        later = tracker.process(np.ascontiguousarray(rgb[:, ::-1]))  # the hand moves and turns
        assert later and not np.allclose(later[0].landmarks, landmarks)
    np.testing.assert_array_equal(hand.landmarks, landmarks)
    np.testing.assert_array_equal(hand.world_landmarks, world)


@pytest.mark.parametrize("complexity", [0, 1])
def test_bound_landmark_model_answers_as_a_plain_run(complexity):
    """ModelRunner.bound (preallocated input and outputs) gives a plain session run's answer."""
    model = hands.HandLandmarkModel(complexity)
    x = model.crop(_sample("right04.jpg"), Roi(cx=455.0, cy=270.0, size=230.0, angle=0.2))
    plain = {name: value.copy() for name, value in model._model(x).items()}
    bound = model._run()
    assert bound.keys() == plain.keys()
    for name in plain:
        np.testing.assert_array_equal(bound[name], plain[name])
