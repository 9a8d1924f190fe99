"""Body pose as MediaPipe Pose does it: pose detection, body ROI, 33 landmarks, person mask.

The pipeline follows MediaPipe 0.10.21's legacy Pose graphs (facts, not code):

- Pose detection: the frame letterboxed to 224x224, RGB in [-1, 1]. 2254 SSD anchors from
  strides (8, 16, 32, 32, 32), two anchors per layer, fixed anchor size 1: a 28x28 grid with 2
  anchors per cell, a 14x14 grid with 2 and a 7x7 grid with 6. Each row is box cx, cy, w, h and
  4 keypoints (mid-hip, a point whose distance from the mid-hip gives the full body's size and
  direction, mid-shoulder, the same for the upper body) as offsets in 224-pixel units from the
  anchor centre. Score = sigmoid(logit clipped to +-100) >= min_detection_confidence; weighted
  NMS at IoU 0.3; the best detection is the person (MediaPipe Pose follows one person).
- Body ROI from a detection: centred on the mid-hip keypoint, rotated so that mid-hip ->
  full-body point points straight up, side 2 x that distance x 1.25, square.
- Landmarks: the ROI cropped to 256x256, RGB in [0, 1], the frame's edge pixels repeated
  where the ROI leaves the frame (it often does: the ROI spans the whole body; with a zero
  border instead the astronaut's landmarks land 28% of her torso away from MediaPipe's, with
  repeated edges 0.02%). The crop, like the detector's letterbox, is sampled as the OpenCV
  inside MediaPipe samples it (arfx.tracking.roi.mediapipe_remap): with OpenCV's own warpAffine
  the detection ROI moved by 0.05-0.17% of its side and the landmarks by 0.05-0.2% of the
  torso, enough to send two trackers apart. The model gives 39
  points x (x, y, z, visibility logit, presence logit) in crop pixels (33 body landmarks, then 2
  auxiliary points for the next ROI: body centre and the full-body size/rotation point), a pose
  flag (a probability; below min_tracking_confidence there is no person and detection runs
  again), a 256x256 segmentation logit map, a 64x64x39 heatmap and 39 world points in metres.
  x and y are refined from the heatmap: in a 9x9 window of heatmap cells around each point,
  when the largest sigmoid there is >= 0.5, the point moves to the sigmoid-weighted mean cell
  position (cell index / 64, no half-cell offset). Visibility and presence are sigmoids. (The
  window is measured: given MediaPipe's ROI and the same model outputs (TFLite's equal ONNX's to
  1e-3 px), a 9x9 window puts the photos' landmarks within 0.006% of the torso of MediaPipe's,
  a 7x7 one 0.2-0.4% away.)
- ROI from landmarks (next frame): as from a detection, with the two auxiliary points in place
  of the detection's mid-hip and full-body keypoints.
- World landmarks: rotated by the ROI's rotation back into the image's axes; metres, origin
  between the hips.
- Mask: sigmoid of the logits, warped from the crop back into the frame (zero outside the ROI).
- Video mode: detection runs only when no person is tracked. The two auxiliary points that
  set the next ROI always pass a One Euro filter (min cutoff 0.01, beta 10, derivative cutoff
  1), with or without smooth_landmarks (MediaPipe's PoseLandmarkFiltering graph). Smoothing
  (smooth_landmarks): visibility low-passed with alpha 0.1, then One Euro filters on the
  landmarks (0.05, 80, 1) and on the world landmarks (0.1, 40, 1; metres, unscaled). The
  image-space filters measure speed as MediaPipe's do: between the raw values of consecutive
  frames (arfx.tracking.filters.OneEuroFilter), in units of the object scale MediaPipe gives
  them, the side of the square the frame's raw auxiliary points span (2 x centre to body
  point; without the ROI's 1.25). With the speed taken from the filtered value and the
  crop's side as the scale instead, arfx's ROI crept away from MediaPipe's within 10 frames
  of the Hamilton clip (1.1% of its side; 0.03% now). Mask smoothing (smooth_segmentation):
  each new value pulled towards the previous frame's by 0.7 x its uncertainty (MediaPipe's
  SegmentationSmoothingCalculator; see arfx.tracking.segmentation). Frames are 1/30 s apart
  unless timestamps are given (MediaPipe's Python solutions assume the same).
- Static mode: detection on every frame, no smoothing; every image's person gets a new id.

Parity (scripts/compare_pose.py against MediaPipe 0.10.21 on the same frames): given the same
ROI, arfx's landmarks lie 0.6% of the torso from MediaPipe's (median over the frames of
short_hamilton_clip.mp4), and static mode gives 0.54%. In video mode each ROI comes out of a
loop (landmarks -> 0.01 Hz filter -> ROI -> landmarks) that amplifies any difference where the
body is guessed: the clip's first shot agrees to 0.37%, but from the cut at frame 20 to an
extreme close-up (the body far outside the frame) the two trackers part, and so do two runs of
MediaPipe itself when one gets the frames with +-1 grey level of noise (per shot, median:
arfx vs MediaPipe 0.37 / 36 / 2.4 / 3.4%, MediaPipe vs itself 0.28 / 29 / 2.0 / 3.7%).

Left and right: MediaPipe's pose landmark names are the person's own sides (on an unmirrored
photo of someone facing the camera, `left_shoulder` is on the image's right), unlike its hand
labels, so arfx keeps them as they are; tests/test_pose.py checks it on the astronaut image.

model_complexity: only 1 (the "full" landmark model). MediaPipe's lite (0) and heavy (2) pose
landmark models are not in the 0.10.21 wheel (MediaPipe downloads them at run time), so arfx
cannot ship converted copies of them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from arfx.tracking._runner import ModelRunner
from arfx.tracking.filters import OneEuroFilter
from arfx.tracking.hands import normalize_radians
from arfx.tracking.roi import Roi, crop_into
from arfx.tracking.ssd import SsdDetector, anchor_centres, decode
from arfx.tracking.segmentation import blend_with_previous

log = logging.getLogger(__name__)

POSE_DETECTION = "pose_detection.onnx"
POSE_LANDMARK = "pose_landmark_full.onnx"

DETECTION_SIZE = 224
DETECTION_STRIDES = (8, 16, 32, 32, 32)
DETECTION_ANCHORS_PER_LAYER = 2
# Detection keypoints
KP_HIP_CENTRE, KP_BODY_POINT, KP_SHOULDER_CENTRE, KP_UPPER_BODY_POINT = range(4)
ROI_SCALE = 1.25

CROP_SIZE = 256
MODEL_POINTS = 39
NUM_LANDMARKS = 33
AUX_CENTRE, AUX_BODY_POINT = 33, 34
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5
# Landmark model outputs: points [1, 195], pose flag [1, 1] (a probability), mask logits
# [1, 256, 256, 1], heatmap [1, 64, 64, 39] (logits), world points [1, 117] (metres).
OUTPUTS = ("Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4")

# Smoothing (MediaPipe Pose's filter settings)
LANDMARK_FILTER = (0.05, 80.0, 1.0)   # min cutoff, beta, derivative cutoff
AUX_FILTER = (0.01, 10.0, 1.0)
WORLD_FILTER = (0.1, 40.0, 1.0)
VISIBILITY_ALPHA = 0.1
MASK_SMOOTHING = 0.7
FRAME_INTERVAL = 1 / 30  # seconds between frames when no timestamps are given

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
LANDMARK_INDEX = {name: i for i, name in enumerate(LANDMARK_NAMES)}
NOSE = 0
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = range(11, 17)
LEFT_HIP, RIGHT_HIP = 23, 24
# Bones of the body skeleton (for drawing)
CONNECTIONS = ((0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12),
               (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16),
               (16, 18), (16, 20), (16, 22), (18, 20), (11, 23), (12, 24), (23, 24), (23, 25),
               (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32))

_UNIT = np.float32(1 / 255)           # uint8 -> [0, 1] for the landmark model


@dataclass
class Body:
    """One person in one frame.

    landmarks: float32 [33, 3]: x, y in image pixels; z depth relative to the hips in the same
    pixel units (smaller is closer to the camera), as MediaPipe's z times the image width.
    world_landmarks (also `world`): float32 [33, 3] in metres, origin between the hips, x right,
    y down, z away from the camera (MediaPipe's world landmarks).
    visibility, presence: float32 [33], 0..1: how likely each landmark is visible (not
    occluded) and inside the frame. score: the pose flag 0..1. id: stable while the person is
    tracked. mask: float32 HxW person probability in [0, 1] when segmentation is enabled.
    Names (LANDMARK_NAMES) are the person's own sides. roi: the region the landmarks came from.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float
    id: int
    mask: np.ndarray | None = None
    roi: Roi | None = field(default=None, repr=False)

    @property
    def world(self) -> np.ndarray:
        return self.world_landmarks

    def point(self, name: str) -> np.ndarray:
        """One landmark by name (image px + z), e.g. body.point("left_shoulder")."""
        return self.landmarks[LANDMARK_INDEX[name]]


@dataclass
class PoseDetection:
    """One pose detection in image pixels: box (xmin, ymin, width, height) and 4 keypoints."""

    box: np.ndarray        # float32 [4]
    keypoints: np.ndarray  # float32 [4, 2]
    score: float


# ----- anchors, decoding, ROIs -----------------------------------------------------------

def pose_anchors(input_size: int = DETECTION_SIZE) -> np.ndarray:
    """Anchor centres [2254, 2] in [0, 1] (fixed anchor size), in the model's output order."""
    return anchor_centres(input_size, DETECTION_STRIDES, DETECTION_ANCHORS_PER_LAYER)


def decode_pose_detections(boxes: np.ndarray, logits: np.ndarray, anchors: np.ndarray, min_score: float,
                           size: int = DETECTION_SIZE) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Detections in tensor pixels from raw outputs [N, 12] and [N]: (corners [4], keypoints [4, 2],
    score), best first, overlapping boxes merged by weighted NMS."""
    return decode(boxes, logits, anchors, min_score, size, keypoints=4)


def roi_from_points(centre: np.ndarray, towards: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """The body ROI around `centre`, rotated so centre -> towards points up, side
    2 |towards - centre| x scale (MediaPipe's alignment-points rectangle, then its scale)."""
    cx, cy = float(centre[0]), float(centre[1])
    dx, dy = float(towards[0]) - cx, float(towards[1]) - cy
    angle = normalize_radians(math.pi / 2 - math.atan2(-dy, dx))
    return Roi(cx=cx, cy=cy, size=2.0 * math.hypot(dx, dy) * scale, angle=angle)


def roi_from_detection(detection: PoseDetection) -> Roi:
    return roi_from_points(detection.keypoints[KP_HIP_CENTRE], detection.keypoints[KP_BODY_POINT])


def roi_from_pose_landmarks(points: np.ndarray) -> Roi:
    """The next frame's ROI from this frame's 39 model points (or the 2 auxiliary points)."""
    if len(points) == 2:
        return roi_from_points(points[0], points[1])
    return roi_from_points(points[AUX_CENTRE], points[AUX_BODY_POINT])


def refine_from_heatmap(points: np.ndarray, heatmap: np.ndarray, crop_size: int = CROP_SIZE,
                        kernel: int = HEATMAP_KERNEL, min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> np.ndarray:
    """x, y of `points` [N, >=2] (crop pixels) moved to the sigmoid-weighted centre of their
    heatmap window (heatmap [rows, cols, >=N] logits); points whose window's largest sigmoid
    is below `min_confidence`, or that lie outside the heatmap, keep their place."""
    rows, cols = heatmap.shape[:2]
    n = len(points)
    out = np.array(points, dtype=np.float32, copy=True)
    col = np.trunc(points[:, 0] / crop_size * cols).astype(np.int64)  # toward zero, as C++ casts
    row = np.trunc(points[:, 1] / crop_size * rows).astype(np.int64)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    offsets = np.arange(kernel) - (kernel - 1) // 2
    rr = row[:, None] + offsets  # [N, k]
    cc = col[:, None] + offsets
    valid = ((rr >= 0) & (rr < rows))[:, :, None] & ((cc >= 0) & (cc < cols))[:, None, :]
    values = heatmap[np.clip(rr, 0, rows - 1)[:, :, None], np.clip(cc, 0, cols - 1)[:, None, :],
                     np.arange(n)[:, None, None]].astype(np.float64)
    weights = np.where(valid, 1.0 / (1.0 + np.exp(-np.clip(values, -80, 80))), 0.0)
    total = weights.sum(axis=(1, 2))
    best = weights.max(axis=(1, 2))
    use = inside & (best >= min_confidence) & (total > 0)
    if use.any():
        safe = np.where(total > 0, total, 1.0)
        mean_col = (weights * cc[:, None, :]).sum(axis=(1, 2)) / safe
        mean_row = (weights * rr[:, :, None]).sum(axis=(1, 2)) / safe
        out[use, 0] = (mean_col[use] / cols * crop_size).astype(np.float32)
        out[use, 1] = (mean_row[use] / rows * crop_size).astype(np.float32)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))).astype(np.float32)


# ----- models ----------------------------------------------------------------------------

class PoseDetector(SsdDetector):
    """People in an RGB frame (MediaPipe's pose detection model), best first."""

    like_mediapipe = True  # MediaPipe's sampling of the letterbox (see arfx.tracking.roi.mediapipe_remap)

    def __init__(self, min_confidence: float = 0.5, threads: int = 1) -> None:
        super().__init__(POSE_DETECTION, DETECTION_SIZE, pose_anchors(), 4, min_confidence,
                         scale=1 / 127.5, offset=1.0, threads=threads)  # uint8 -> [-1, 1]

    def detect(self, rgb: np.ndarray) -> list[PoseDetection]:
        return [PoseDetection(box, keypoints, score) for box, keypoints, score in self.detect_boxes(rgb)]


@dataclass
class PoseOutput:
    """The landmark model's answer for one ROI, in image space (39 points; mask in crop space)."""

    points: np.ndarray      # float32 [39, 3] image px (z in px)
    world: np.ndarray       # float32 [39, 3] metres, image axes
    visibility: np.ndarray  # float32 [39]
    presence: np.ndarray    # float32 [39]
    flag: float
    mask_crop: np.ndarray | None  # float32 [256, 256] probabilities in the crop, when asked for


class PoseLandmarkModel:
    """39 body points in a rotated square ROI (MediaPipe's full pose landmark model)."""

    # The crop sampled as MediaPipe's own OpenCV samples it (arfx.tracking.roi.mediapipe_remap).
    like_mediapipe = True

    def __init__(self, threads: int = 1) -> None:
        self._model = ModelRunner(POSE_LANDMARK, threads=threads)
        self._points, self._flag, self._mask, self._heatmap, self._world = OUTPUTS
        self._patch = np.empty((CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
        self._input = np.empty((1, CROP_SIZE, CROP_SIZE, 3), dtype=np.float32)
        self._run = self._model.bound(self._input)  # no per-run wrapping of input and outputs

    def crop(self, rgb: np.ndarray, roi: Roi) -> np.ndarray:
        return crop_into(rgb, roi, self._patch, self._input, _UNIT, like_mediapipe=self.like_mediapipe)

    def run(self, rgb: np.ndarray, roi: Roi, with_mask: bool = False) -> PoseOutput:
        self.crop(rgb, roi)
        outputs = self._run()  # arrays reused by the next run: everything kept is a new array
        flag = float(outputs[self._flag].reshape(-1)[0])
        raw = outputs[self._points].reshape(MODEL_POINTS, 5)
        crop_points = refine_from_heatmap(raw[:, :3], outputs[self._heatmap][0])
        points = roi.to_image(crop_points, CROP_SIZE)
        world = roi.world_to_image_axes(outputs[self._world].reshape(MODEL_POINTS, 3))
        mask = _sigmoid(outputs[self._mask][0, :, :, 0]) if with_mask else None
        return PoseOutput(points, world, _sigmoid(raw[:, 3]), _sigmoid(raw[:, 4]), flag, mask)

    def close(self) -> None:
        self._model = self._run = None


def warp_mask_to_frame(mask_crop: np.ndarray, roi: Roi, height: int, width: int) -> np.ndarray:
    """A crop-space mask [256, 256] placed in the frame (float32 HxW, zero outside the ROI)."""
    # crop_matrix maps crop px to image px, the direction warpAffine inverts by itself
    return cv2.warpAffine(mask_crop, roi.crop_matrix(mask_crop.shape[0]), (width, height),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def _previous_mask_in_crop(previous: np.ndarray, previous_roi: Roi, roi: Roi) -> np.ndarray:
    """Last frame's crop-space mask resampled into this frame's crop (zero where it had none)."""
    size = previous.shape[0]
    current = np.vstack([roi.crop_matrix(size), [0.0, 0.0, 1.0]])        # crop px -> image px
    before = np.vstack([previous_roi.crop_matrix(size), [0.0, 0.0, 1.0]])
    crop_to_previous = np.linalg.inv(before) @ current
    return cv2.warpAffine(previous, crop_to_previous[:2], (size, size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0.0)


# ----- the tracker -------------------------------------------------------------------------

class _Smoothing:
    """MediaPipe Pose's filters for one tracked person."""

    def __init__(self) -> None:
        self.landmarks = OneEuroFilter(*LANDMARK_FILTER)
        self.aux = OneEuroFilter(*AUX_FILTER)
        self.world = OneEuroFilter(*WORLD_FILTER)
        self.visibility: np.ndarray | None = None

    def smooth_visibility(self, value: np.ndarray) -> np.ndarray:
        if self.visibility is None:
            self.visibility = value.copy()
        else:
            self.visibility = (VISIBILITY_ALPHA * value + (1 - VISIBILITY_ALPHA) * self.visibility).astype(np.float32)
        return self.visibility.copy()


class PoseTracker:
    """MediaPipe-Pose-compatible body tracker on ONNX Runtime (one person, as MediaPipe Pose).

    Options as `mediapipe.solutions.pose.Pose`: static_image_mode (detect on every frame, no
    smoothing), model_complexity (1 only: see the module notes), smooth_landmarks,
    enable_segmentation (Body.mask), smooth_segmentation, min_detection_confidence (detection
    score), min_tracking_confidence (pose flag; below it the person is dropped and detection
    looks again on the next frame).
    """

    def __init__(self, static_image_mode: bool = False, model_complexity: int = 1, smooth_landmarks: bool = True,
                 enable_segmentation: bool = False, smooth_segmentation: bool = True,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 threads: int = 1) -> None:
        if model_complexity != 1:
            raise ValueError(f"model_complexity must be 1 (only MediaPipe's full pose model ships in its wheel; "
                             f"lite and heavy are downloaded at run time), not {model_complexity!r}")
        self.static_image_mode = bool(static_image_mode)
        self.model_complexity = 1
        self.smooth_landmarks = bool(smooth_landmarks)
        self.enable_segmentation = bool(enable_segmentation)
        self.smooth_segmentation = bool(smooth_segmentation)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self._detector = PoseDetector(min_detection_confidence, threads=threads)
        self._landmarks = PoseLandmarkModel(threads=threads)
        self._roi: Roi | None = None      # next frame's ROI while a person is tracked
        self._id: int | None = None
        self._next_id = 0
        self._smoothing: _Smoothing | None = None
        self._mask: tuple[np.ndarray, Roi] | None = None  # last crop-space mask and its ROI
        self._frames = 0
        self.detection_ran = False  # whether the last process() ran pose detection

    def reset(self) -> None:
        """Forget the tracked person (the next frame starts from detection)."""
        self._roi, self._id, self._smoothing, self._mask = None, None, None, None

    def _lose(self) -> None:
        if self._id is not None:
            log.debug("pose %d lost", self._id)
        self.reset()

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> list[Body]:
        """The person in one HxWx3 uint8 RGB frame: a list of at most one Body.

        timestamp: seconds (for smoothing); frames are taken as 1/30 s apart when omitted.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        if not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)
        t = self._frames * FRAME_INTERVAL if timestamp is None else float(timestamp)
        self._frames += 1
        if self.static_image_mode:
            self.reset()
        roi = self._roi
        self.detection_ran = roi is None
        if roi is None:
            detections = self._detector.detect(rgb)
            if not detections:
                return []
            roi = roi_from_detection(detections[0])
        out = self._landmarks.run(rgb, roi, with_mask=self.enable_segmentation)
        if out.flag < self.min_tracking_confidence:
            self._lose()
            return []
        if self._id is None:
            self._id = self._next_id
            self._next_id += 1
            self._smoothing = _Smoothing()
            log.debug("pose %d found (detection at %.0f,%.0f)", self._id, roi.cx, roi.cy)

        landmarks = out.points[:NUM_LANDMARKS]
        world = out.world[:NUM_LANDMARKS]
        visibility = out.visibility[:NUM_LANDMARKS]
        aux = out.points[[AUX_CENTRE, AUX_BODY_POINT]]
        if not self.static_image_mode:
            f = self._smoothing
            # MediaPipe's object scale for both filters: the side of the square the raw
            # auxiliary points span (2 x centre-to-body-point), not the crop's side
            scale = 2.0 * float(np.hypot(*(aux[1, :2] - aux[0, :2])))
            if self.smooth_landmarks:
                landmarks = f.landmarks(landmarks, t, scale=scale)
                world = f.world(world, t)
                visibility = f.smooth_visibility(visibility)
            aux = f.aux(aux, t, scale=scale)  # the ROI's points: smoothed even without smooth_landmarks
        mask = None
        if out.mask_crop is not None:
            crop_mask = out.mask_crop
            if self.smooth_segmentation and not self.static_image_mode and self._mask is not None:
                previous = _previous_mask_in_crop(*self._mask, roi)
                crop_mask = blend_with_previous(crop_mask, previous, MASK_SMOOTHING)
            self._mask = (crop_mask, roi)
            mask = warp_mask_to_frame(crop_mask, roi, rgb.shape[0], rgb.shape[1])
        body = Body(landmarks=landmarks.astype(np.float32), world_landmarks=world.astype(np.float32),
                    visibility=visibility.astype(np.float32), presence=out.presence[:NUM_LANDMARKS].copy(),
                    score=out.flag, id=self._id, mask=mask, roi=roi)
        self._roi = None if self.static_image_mode else roi_from_pose_landmarks(aux)
        return [body]

    def close(self) -> None:
        self.reset()
        self._detector.close()
        self._landmarks.close()

    def __enter__(self) -> "PoseTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
