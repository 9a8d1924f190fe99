"""Hand tracking as MediaPipe Hands does it: palm detection, hand ROI, 21-point hand landmarks.

The pipeline follows MediaPipe 0.10.21's legacy Hands graphs (facts, not code):

- Palm detection: the frame letterboxed to 192x192, RGB in [0, 1]. 2016 SSD anchors from
  strides (8, 16, 16, 16) with two anchors per layer and a fixed anchor size of 1: a 24x24 grid
  with 2 anchors per cell, then a 12x12 grid with 6. Each row is box cx, cy, w, h and 7 palm
  keypoints (wrist, index/middle/ring/pinky MCP, thumb CMC, thumb MCP) as offsets in 192-pixel
  units from the anchor centre. Score = sigmoid(logit) >= min_detection_confidence; weighted
  NMS at IoU 0.3; at most max_num_hands palms, best first.
- Hand ROI from a palm: rotation that points wrist -> middle-finger MCP (keypoints 0 -> 2)
  straight up, centre shifted by half the box height towards the fingers, the long side of
  the box times 2.6, square.
- Landmarks: the ROI cropped to 224x224 (RGB in [0, 1]); 21 x (x, y, z) in crop pixels
  (z scaled like x, divided by 0.4 as MediaPipe does), a presence score (dropped below
  min_tracking_confidence), a handedness score and 21 world landmarks in metres around the
  hand's centre (rotated by the ROI's rotation back into the image's axes).
- ROI from landmarks (next frame): rotation from the wrist to the mean of the middle MCP and
  the midpoint of the index and ring MCPs; the box of the wrist, thumb and finger-base joints
  in that rotated frame, shifted 0.1 of its height towards the fingers, long side times 2.0,
  square.
- Video mode: palm detection runs only while fewer than max_num_hands ROIs came out of the
  previous frame. The palms' ROIs, then the tracked ROIs, are merged as MediaPipe's
  AssociationNormRectCalculator merges them: a later ROI replaces every earlier one whose
  axis-aligned box it overlaps by IoU > 0.5, so a tracked hand wins over its re-detected palm.
  Every ROI that finds a hand is tracked into the next frame, as in MediaPipe. Static mode
  detects on every frame.
- A hand found twice (a palm ROI and a tracked ROI of different sizes can both land on one hand
  without overlapping enough to be merged) is tracked twice, as MediaPipe does, until the two
  ROIs merge, but reported once (MediaPipe reports it twice), under one id. At most
  max_num_hands hands are reported (MediaPipe can report more).
- Crops and the palm letterbox are sampled as the OpenCV inside MediaPipe samples them
  (arfx.tracking.roi.mediapipe_remap): the models then see the same pixels and give the same
  answers, which matters in video mode, where each frame's landmarks place the next crop and
  a difference far below a pixel can grow from frame to frame on an uncertain hand.

Handedness: MediaPipe's model (and its "Left"/"Right" labels) assume a mirrored, selfie-view
image. arfx reports the person's own hand: on an unmirrored frame (what a camera or a video
file delivers) MediaPipe's "Left" is the person's right hand, and arfx says "right". Pass
`mirrored=True` when the frames given to the tracker were flipped horizontally.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from arfx.tracking._runner import ModelRunner
from arfx.tracking.roi import Roi, crop_into
from arfx.tracking import ssd
from arfx.tracking.ssd import SsdDetector, anchor_centres, decode

log = logging.getLogger(__name__)

PALM_DETECTION = {0: "palm_detection_lite.onnx", 1: "palm_detection_full.onnx"}
HAND_LANDMARK = {0: "hand_landmark_lite.onnx", 1: "hand_landmark_full.onnx"}

PALM_SIZE = 192
PALM_STRIDES = (8, 16, 16, 16)
PALM_ANCHORS_PER_LAYER = 2  # aspect ratio 1 plus the interpolated-scale anchor
# Palm keypoints (only the wrist and the middle finger's base set the ROI)
PALM_WRIST, PALM_INDEX_MCP, PALM_MIDDLE_MCP, PALM_RING_MCP, PALM_PINKY_MCP, PALM_THUMB_CMC, PALM_THUMB_MCP = range(7)
PALM_ROI_SCALE = 2.6
PALM_ROI_SHIFT_Y = -0.5

CROP_SIZE = 224
Z_SCALE = 0.4  # MediaPipe divides the model's z by this (its training data's z range)
LANDMARK_ROI_SCALE = 2.0
LANDMARK_ROI_SHIFT_Y = -0.1
# Wrist, thumb CMC/MCP/IP and the MCP and PIP joints of the four fingers: the stable joints
# the next frame's ROI is fitted around.
ROI_JOINTS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
SAME_HAND_IOU = 0.5
DUPLICATE_DISTANCE = 0.2  # see same_hand()
# Hand landmark model outputs: landmarks [1, 63] (crop px), presence [1, 1] (a probability),
# handedness [1, 1] (probability of MediaPipe's "Left"), world landmarks [1, 63] (metres).
OUTPUTS = ("Identity", "Identity_1", "Identity_2", "Identity_3")

# The 21 landmarks
WRIST = 0
THUMB_CMC, THUMB_MCP, THUMB_IP, THUMB_TIP = 1, 2, 3, 4
INDEX_MCP, INDEX_PIP, INDEX_DIP, INDEX_TIP = 5, 6, 7, 8
MIDDLE_MCP, MIDDLE_PIP, MIDDLE_DIP, MIDDLE_TIP = 9, 10, 11, 12
RING_MCP, RING_PIP, RING_DIP, RING_TIP = 13, 14, 15, 16
PINKY_MCP, PINKY_PIP, PINKY_DIP, PINKY_TIP = 17, 18, 19, 20
LANDMARK_NAMES = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
# Bones of the hand skeleton (for drawing)
CONNECTIONS = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10),
               (10, 11), (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17),
               (17, 18), (18, 19), (19, 20))

_UNIT = np.float32(1 / 255)  # uint8 -> [0, 1]; a float32 scalar keeps the arithmetic in float32


@dataclass
class Hand:
    """One hand in one frame.

    landmarks: float32 [21, 3]: x, y in image pixels; z depth relative to the wrist in the
    same pixel units (smaller is closer to the camera), as MediaPipe's z times the image width.
    world_landmarks: float32 [21, 3] in metres, origin near the hand's centre, x right, y down,
    z away from the camera (MediaPipe's world landmarks).
    handedness: "left" or "right", the person's own hand (see the module notes).
    handedness_score: confidence of that label, 0.5..1. score: hand presence 0..1.
    id: stable while the hand is tracked. roi: the region the landmarks came from.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    handedness: str
    handedness_score: float
    score: float
    id: int
    roi: Roi | None = None


@dataclass
class Palm:
    """One palm detection in image pixels: box (xmin, ymin, width, height) and 7 keypoints."""

    box: np.ndarray        # float32 [4]
    keypoints: np.ndarray  # float32 [7, 2]
    score: float


# ----- anchors, decoding, ROIs -----------------------------------------------------------

def ssd_anchor_grids(input_size: int, strides: tuple[int, ...] = PALM_STRIDES,
                     per_layer: int = PALM_ANCHORS_PER_LAYER) -> tuple[tuple[int, int], ...]:
    """The palm model's feature-map grids (arfx.tracking.ssd.ssd_anchor_grids with its strides)."""
    return ssd.ssd_anchor_grids(input_size, strides, per_layer)


def palm_anchors(input_size: int = PALM_SIZE) -> np.ndarray:
    """Anchor centres [2016, 2] in [0, 1] (fixed anchor size: width = height = 1), model order."""
    return anchor_centres(input_size, PALM_STRIDES, PALM_ANCHORS_PER_LAYER)


def decode_palms(boxes: np.ndarray, logits: np.ndarray, anchors: np.ndarray, min_score: float,
                 size: int = PALM_SIZE) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Palms in tensor pixels from raw outputs [N, 18] and [N]: (corners [4], keypoints [7, 2], score),
    best first, overlapping boxes merged by weighted NMS."""
    return decode(boxes, logits, anchors, min_score, size, keypoints=7)


def normalize_radians(angle: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _upright_rotation(start: np.ndarray, end: np.ndarray) -> float:
    """Rotation (Roi.angle) that makes start -> end point up the crop (image y down)."""
    return normalize_radians(math.pi / 2 - math.atan2(-(float(end[1]) - float(start[1])),
                                                      float(end[0]) - float(start[0])))


def _transformed_roi(cx: float, cy: float, width: float, height: float, angle: float,
                     scale: float, shift_y: float) -> Roi:
    """Shift the box along its own (rotated) y axis by shift_y * height, square it on its
    long side and scale it (MediaPipe's rect transformation, in pixels)."""
    cx -= height * shift_y * math.sin(angle)
    cy += height * shift_y * math.cos(angle)
    return Roi(cx=cx, cy=cy, size=max(width, height) * scale, angle=angle)


def roi_from_palm(palm: Palm) -> Roi:
    """The hand's ROI from a palm detection."""
    x, y, w, h = (float(v) for v in palm.box)
    angle = _upright_rotation(palm.keypoints[PALM_WRIST], palm.keypoints[PALM_MIDDLE_MCP])
    return _transformed_roi(x + w / 2, y + h / 2, w, h, angle, PALM_ROI_SCALE, PALM_ROI_SHIFT_Y)


def roi_from_hand_landmarks(landmarks: np.ndarray) -> Roi:
    """The next frame's ROI from this frame's 21 landmarks (image pixels)."""
    xy = landmarks[list(ROI_JOINTS), :2].astype(np.float64)
    wrist = xy[0]
    # In ROI_JOINTS order: 4 = index MCP, 6 = middle MCP, 8 = ring MCP.
    towards = ((xy[4] + xy[8]) / 2 + xy[6]) / 2
    angle = _upright_rotation(wrist, towards)
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    c, s = math.cos(angle), math.sin(angle)
    # Into the ROI's frame (rotate by -angle), box there, its centre back out.
    local = (xy - centre) @ np.array([[c, -s], [s, c]])
    lo, hi = local.min(axis=0), local.max(axis=0)
    mid = (lo + hi) / 2
    cx = centre[0] + c * mid[0] - s * mid[1]
    cy = centre[1] + s * mid[0] + c * mid[1]
    width, height = hi - lo
    return _transformed_roi(cx, cy, float(width), float(height), angle, LANDMARK_ROI_SCALE,
                            LANDMARK_ROI_SHIFT_Y)


def same_hand(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two landmark sets are one hand found twice: their joints lie on top of each
    other (mean distance under DUPLICATE_DISTANCE of the larger hand's size)."""
    size = max(float((points[:, :2].max(axis=0) - points[:, :2].min(axis=0)).max()) for points in (a, b))
    return float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean()) < DUPLICATE_DISTANCE * max(size, 1e-6)


def person_handedness(model_score: float, mirrored: bool = False) -> tuple[str, float]:
    """The person's own hand and its confidence from the model's handedness score.

    The model's score is the probability of MediaPipe's label "Left", which names the hand as
    it would look in a mirrored (selfie) image: on an unmirrored frame that is the person's
    right hand.
    """
    mp_left = model_score >= 0.5
    confidence = model_score if mp_left else 1.0 - model_score
    person_right = mp_left != mirrored
    return ("right" if person_right else "left"), float(confidence)


# ----- models ----------------------------------------------------------------------------

class PalmDetector(SsdDetector):
    """Palms in an RGB frame (MediaPipe's palm detection, lite or full)."""

    like_mediapipe = True  # MediaPipe's sampling of the letterbox (see arfx.tracking.roi.mediapipe_remap)

    def __init__(self, model_complexity: int = 1, min_confidence: float = 0.5, threads: int = 1) -> None:
        super().__init__(PALM_DETECTION[model_complexity], PALM_SIZE, palm_anchors(), 7, min_confidence,
                         scale=1 / 255, offset=0.0, threads=threads)

    def detect(self, rgb: np.ndarray) -> list[Palm]:
        """Palms in `rgb` (HxWx3 uint8), best first."""
        return [Palm(box, keypoints, score) for box, keypoints, score in self.detect_boxes(rgb)]


class HandLandmarkModel:
    """21 hand landmarks in a rotated square ROI (MediaPipe's hand landmark model, lite or full)."""

    def __init__(self, model_complexity: int = 1, threads: int = 1) -> None:
        self._model = ModelRunner(HAND_LANDMARK[model_complexity], threads=threads)
        # The converted model keeps TFLite's output names.
        self._points, self._presence, self._handedness, self._world = OUTPUTS
        self._patch = np.empty((CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
        self._input = np.empty((1, CROP_SIZE, CROP_SIZE, 3), dtype=np.float32)
        # The model reads self._input and writes into outputs allocated once (IO binding).
        self._run = self._model.bound(self._input)

    def crop(self, rgb: np.ndarray, roi: Roi) -> np.ndarray:
        return crop_into(rgb, roi, self._patch, self._input, _UNIT, like_mediapipe=True)

    def run(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(landmarks [21, 3] image px, world [21, 3] m, presence 0..1, model handedness score)."""
        self.crop(rgb, roi)
        outputs = self._run()  # arrays reused by the next run: everything kept is a new array
        presence = float(outputs[self._presence][0, 0])
        handedness = float(outputs[self._handedness][0, 0])
        points = outputs[self._points].reshape(21, 3).copy()
        points[:, 2] /= Z_SCALE
        landmarks = roi.to_image(points, CROP_SIZE)
        world = roi.world_to_image_axes(outputs[self._world].reshape(21, 3))
        return landmarks, world, presence, handedness

    def close(self) -> None:
        self._model = self._run = None


# ----- the tracker -------------------------------------------------------------------------

@dataclass(eq=False)
class _Track:
    id: int | None  # None: a palm's ROI not yet given an id
    roi: Roi


class HandTracker:
    """MediaPipe-Hands-compatible hand tracker on ONNX Runtime.

    Options as `mediapipe.solutions.hands.Hands`: static_image_mode, max_num_hands,
    model_complexity (0: lite models, 1: full models), min_detection_confidence (palm score),
    min_tracking_confidence (hand presence; below it a tracked hand is dropped and palm
    detection looks for it again). `mirrored`: the frames are selfie-view (flipped), which
    only changes what handedness means (see the module notes).
    """

    def __init__(self, static_image_mode: bool = False, max_num_hands: int = 2, model_complexity: int = 1,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 mirrored: bool = False, threads: int = 1) -> None:
        if max_num_hands < 1:
            raise ValueError("max_num_hands must be at least 1")
        if model_complexity not in (0, 1):
            raise ValueError(f"model_complexity must be 0 or 1, not {model_complexity!r}")
        self.static_image_mode = bool(static_image_mode)
        self.max_num_hands = int(max_num_hands)
        self.model_complexity = int(model_complexity)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.mirrored = bool(mirrored)
        self._palms = PalmDetector(model_complexity, min_detection_confidence, threads=threads)
        self._landmarks = HandLandmarkModel(model_complexity, threads=threads)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self.palm_detection_ran = False  # whether the last process() ran palm detection

    def reset(self) -> None:
        """Forget tracked hands (the next frame starts from palm detection)."""
        self._tracks = []

    def _candidates(self, rgb: np.ndarray) -> list[_Track]:
        """The ROIs to run the landmark model on, in MediaPipe's order (its AssociationNormRect step).

        Palm detection runs while fewer than max_num_hands ROIs came out of the last frame
        (counting a hand found twice twice, as MediaPipe does); its best max_num_hands palms go
        first, the tracked ROIs after them. A later ROI replaces each earlier one whose box it
        overlaps by IoU > 0.5 (rotation ignored), so a tracked hand wins over its palm
        re-detection and over an older ROI of itself; nothing else is dropped.
        """
        tracked = [] if self.static_image_mode else self._tracks
        self.palm_detection_ran = len(tracked) < self.max_num_hands
        candidates: list[_Track] = []
        if self.palm_detection_ran:
            candidates = [_Track(None, roi_from_palm(p)) for p in self._palms.detect(rgb)[: self.max_num_hands]]
        kept: list[_Track] = []
        for candidate in candidates + tracked:
            replaced = [t for t in kept if t.roi.iou(candidate.roi) > SAME_HAND_IOU]
            ids = [t.id for t in replaced + [candidate] if t.id is not None]
            kept = [t for t in kept if t not in replaced]
            kept.append(_Track(min(ids) if ids else None, candidate.roi))
        return kept

    def process(self, rgb: np.ndarray) -> list[Hand]:
        """Hands in one HxWx3 uint8 RGB frame."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        if not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)
        found: list[tuple[Hand, _Track]] = []  # each hand with its ROI for the next frame
        for candidate in self._candidates(rgb):
            landmarks, world, presence, handed = self._landmarks.run(rgb, candidate.roi)
            if presence < self.min_tracking_confidence:
                continue
            label, confidence = person_handedness(handed, self.mirrored)
            hand = Hand(landmarks, world, label, confidence, presence, -1, candidate.roi)
            found.append((hand, _Track(candidate.id, roi_from_hand_landmarks(landmarks))))
        groups = self._same_hands(found)
        for group in groups:
            ids = [found[k][1].id for k in group if found[k][1].id is not None]
            if ids:
                hand_id = min(ids)
            else:
                hand_id = self._next_id
                self._next_id += 1
                log.debug("hand %d found (%s, presence %.2f)", hand_id, found[group[0]][0].handedness,
                          found[group[0]][0].score)
            for k in group:
                found[k][0].id = found[k][1].id = hand_id
        if log.isEnabledFor(logging.DEBUG):
            for hand_id in sorted({t.id for t in self._tracks} - {t.id for _, t in found}):
                log.debug("hand %d lost", hand_id)
        # MediaPipe tracks every ROI that found a hand, twins included (they merge by overlap on
        # a later frame); a hand found twice is reported once, as its later twin, which is the
        # one MediaPipe keeps when they merge.
        self._tracks = [] if self.static_image_mode else [track for _, track in found]
        hands = [found[group[-1]][0] for group in groups]
        if len(hands) > self.max_num_hands:
            # MediaPipe can report more (max_num_hands palms beside the tracked hands); the
            # hands followed longest (lowest ids) are the ones kept.
            keep = sorted(h.id for h in hands)[: self.max_num_hands]
            hands = [h for h in hands if h.id in keep]
        return hands

    @staticmethod
    def _same_hands(found: list[tuple[Hand, _Track]]) -> list[list[int]]:
        """Indices of `found` grouped by hand, in order: two ROIs of very different sizes (a palm
        ROI and a tracked hand's ROI) can both land on one hand without overlapping enough to be
        merged before the landmark model; their landmarks then coincide (same_hand) or their
        next ROIs overlap. Twins tracked from the last frame share their id."""
        groups: list[list[int]] = []
        for k, (hand, track) in enumerate(found):
            for group in groups:
                other, other_track = found[group[-1]]
                if (other_track.roi.iou(track.roi) > SAME_HAND_IOU or same_hand(other.landmarks, hand.landmarks)
                        or (track.id is not None and any(found[j][1].id == track.id for j in group))):
                    group.append(k)
                    break
            else:
                groups.append([k])
        return groups

    def close(self) -> None:
        self._tracks = []
        self._palms.close()
        self._landmarks.close()

    def __enter__(self) -> "HandTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
