"""BlazeFace face detection: letterbox, run the model, decode anchors, weighted NMS."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from arfx.tracking._runner import ModelRunner
from arfx.tracking.roi import letterbox

# Keypoint order of the detector's six keypoints.
RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)
# uint8 RGB -> the detector's [-1, 1] input (float32 scalars keep the arithmetic in float32)
_INPUT_SCALE = np.float32(1 / 127.5)
_ONE = np.float32(1)


@dataclass(frozen=True)
class DetectorConfig:
    """What differs between the short-range and full-range BlazeFace models."""

    model: str
    size: int
    # (feature-map side, anchors per cell) for each anchor grid, in output order
    grids: tuple[tuple[int, int], ...]


SHORT_RANGE = DetectorConfig("face_detection_short_range.onnx", 128, ((16, 2), (8, 6)))
FULL_RANGE = DetectorConfig("face_detection_full_range.onnx", 192, ((48, 1),))
CONFIGS = {"short": SHORT_RANGE, "full": FULL_RANGE}


@dataclass
class Detection:
    """One detected face in image pixels: box (xmin, ymin, width, height) and 6 keypoints."""

    box: np.ndarray        # float32 [4]
    keypoints: np.ndarray  # float32 [6, 2]
    score: float


def make_anchors(config: DetectorConfig) -> np.ndarray:
    """Anchor centres [N, 2] in [0, 1] tensor coordinates (all anchors have size 1)."""
    parts = []
    for side, per_cell in config.grids:
        centres = (np.arange(side, dtype=np.float32) + 0.5) / side
        xs, ys = np.meshgrid(centres, centres)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        parts.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(parts, axis=0)


def weighted_nms(corners: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 threshold: float = 0.3) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Weighted non-maximum suppression (BlazeFace style).

    Boxes (xmin, ymin, xmax, ymax) overlapping the best remaining box by more than `threshold`
    IoU are merged into it: the result's box and keypoints are their score-weighted mean, its
    score the best. (One group at a time, as a frame holds few faces and a few candidates each:
    fewer numpy calls than an all-pairs IoU matrix.)
    """
    n = len(scores)
    if n == 0:
        return []
    order = np.argsort(-scores, kind="stable")
    rows = np.concatenate([corners, keypoints.reshape(n, -1)], axis=1)[order]  # [n, 4 + 2K]
    scores = scores[order]
    lo, hi = rows[:, :2], rows[:, 2:4]
    areas = (hi - lo).prod(axis=1)
    remaining = np.arange(n)
    merged = []
    while remaining.size:
        best = remaining[0]
        inter = np.clip(np.minimum(hi[best], hi[remaining]) - np.maximum(lo[best], lo[remaining]),
                        0, None).prod(axis=1)
        iou = inter / np.maximum(areas[best] + areas[remaining] - inter, 1e-12)
        members = iou > threshold
        members[0] = True  # a degenerate box still stands for itself
        group = remaining[members]
        weights = scores[group]
        mean = weights @ rows[group] / weights.sum()
        merged.append((mean[:4], mean[4:].reshape(-1, 2), float(scores[best])))
        remaining = remaining[~members]
    return merged


class FaceDetector:
    """Finds faces in an RGB frame with a BlazeFace model ("short" or "full" range)."""

    def __init__(self, kind: str = "short", min_confidence: float = 0.5,
                 nms_threshold: float = 0.3, threads: int = 1) -> None:
        if kind not in CONFIGS:
            raise ValueError(f"detector must be one of {sorted(CONFIGS)}, not {kind!r}")
        self.config = CONFIGS[kind]
        self.min_confidence = float(min_confidence)
        self.nms_threshold = nms_threshold
        self._model = ModelRunner(self.config.model, threads=threads)
        self._boxes_name, self._logits_name = (
            sorted(self._model.output_names,
                   key=lambda n: -self._model.output_shapes[n][-1]))
        self._anchors = make_anchors(self.config)
        # Scores are compared as logits: sigmoid is monotonic, so only survivors pay for exp.
        p = min(max(self.min_confidence, 1e-6), 1 - 1e-6)
        self._min_logit = math.log(p / (1 - p))
        size = self.config.size
        self._canvas = np.empty((size, size, 3), dtype=np.uint8)  # letterboxed frame
        self._input = np.empty((1, size, size, 3), dtype=np.float32)
        self._run = self._model.bound(self._input)  # no per-run wrapping of input and outputs

    def _letterbox(self, rgb: np.ndarray) -> tuple[float, float, float]:
        """Fill the input tensor with the frame scaled to fit, centred, zero padded.

        Returns (s, ox, oy): frame pixel = tensor pixel * s - (ox, oy). Like MediaPipe, the
        square around the frame maps corner to corner onto the tensor; the detector is
        sensitive to the sampling phase, so cv2.resize (centre-aligned samples) is not used.
        """
        mapping = letterbox(rgb, self._canvas)
        np.multiply(self._canvas, _INPUT_SCALE, out=self._input[0], casting="unsafe")
        self._input -= _ONE
        return mapping

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in `rgb` (HxWx3 uint8), best first."""
        mapping = self._letterbox(rgb)
        return self.decode(self._run(), *mapping)

    def decode(self, outputs: dict[str, np.ndarray], s: float, ox: float,
               oy: float) -> list[Detection]:
        """Detections from the model's outputs; frame pixel = tensor pixel * s - (ox, oy)."""
        logits = outputs[self._logits_name].reshape(-1)
        keep = np.flatnonzero(logits >= self._min_logit)
        if keep.size == 0:
            return []
        scores = 1.0 / (1.0 + np.exp(-np.minimum(logits[keep], 100.0)))
        reg = outputs[self._boxes_name][0, keep]
        # anchors and offsets in tensor pixels
        anchors = self._anchors[keep] * self.config.size
        centres = reg[:, 0:2] + anchors
        half = reg[:, 2:4] / 2
        corners = np.concatenate([centres - half, centres + half], axis=1)
        keypoints = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        merged = weighted_nms(corners, keypoints, scores, self.nms_threshold)
        scale = np.float32(s)
        shift = np.array([-ox, -oy], dtype=np.float32)
        detections = []
        for box, kps, score in merged:
            xy0 = box[:2] * scale + shift
            wh = (box[2:] - box[:2]) * scale
            detections.append(Detection(
                box=np.array([xy0[0], xy0[1], wh[0], wh[1]], dtype=np.float32),
                keypoints=(kps * scale + shift).astype(np.float32),
                score=score,
            ))
        return detections

    def close(self) -> None:
        self._model = self._run = None


def in_pass_order(passes: list[list[Detection]]) -> list[Detection]:
    """Detections of several passes (ranges, tiles; each already merged by weighted NMS) as
    one list: pass by pass, best score first within a pass. A face several passes find
    appears several times; the tracker takes the first detection of a face whose landmarks
    pass its check and skips the others (so a face the short-range pass finds keeps exactly
    its detection, as MediaPipe has it), and falls back to the next pass's when they fail."""
    return [d for found in passes for d in sorted(found, key=lambda d: -d.score)]


def tile_grid(width: int, height: int, min_side: int = 800,
              fraction: float = 0.6, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x0, y0, side) covering a frame whose long side is >= min_side.

    Tiles are `fraction` of the short side and overlap by at least `overlap` of their side,
    so a face the whole-frame pass sees at a few pixels is seen ~1/fraction times larger.
    Smaller frames get no tiles: the whole-frame passes already see their faces big enough.
    """
    if max(width, height) < min_side:
        return []
    side = int(round(min(width, height) * fraction))
    step = side * (1 - overlap)

    def starts(length: int) -> list[int]:
        n = max(1, math.ceil((length - side) / step) + 1) if length > side else 1
        if n == 1:
            return [max(0, (length - side) // 2)]
        return [int(round(i * (length - side) / (n - 1))) for i in range(n)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


class FaceFinder:
    """Face detection passes for the tracker: one or both ranges, whole frame and tiles.

    kind: "short", "full", or "auto" (both ranges). tiling: True, False or "auto" (on for
    the "auto" kind). A search for new faces runs every pass at once in static mode; in
    video mode one pass a frame, in turn (a face the short-range model misses is found a
    frame later by the full-range one, a small one within a cycle of tiles), so a search
    costs about one detector run a frame. `detect_near` looks again around one face, at a
    scale where the short-range model sees it large.
    """

    KINDS = ("auto", "short", "full")

    def __init__(self, kind: str = "auto", min_confidence: float = 0.5,
                 tiling: bool | str = "auto", threads: int = 1) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"detector must be one of {list(self.KINDS)}, not {kind!r}")
        if tiling not in (True, False, "auto"):
            raise ValueError(f"tiling must be True, False or 'auto', not {tiling!r}")
        self.kind = kind
        self.tiling = (kind == "auto") if tiling == "auto" else bool(tiling)
        self._short = FaceDetector("short", min_confidence, threads=threads) \
            if kind in ("short", "auto") else None
        self._full = FaceDetector("full", min_confidence, threads=threads) \
            if kind in ("full", "auto") or self.tiling else None
        self._turn = 0

    def _whole(self) -> list[FaceDetector]:
        if self.kind == "short":
            return [self._short]
        if self.kind == "full":
            return [self._full]
        return [self._short, self._full]

    def passes(self, width: int, height: int) -> list[tuple[FaceDetector, tuple | None]]:
        """(detector, tile or None for the whole frame) for one full search."""
        out = [(d, None) for d in self._whole()]
        if self.tiling:
            out += [(self._full, tile) for tile in tile_grid(width, height)]
        return out

    @staticmethod
    def _run(detector: FaceDetector, rgb: np.ndarray, tile: tuple | None) -> list[Detection]:
        if tile is None:
            return detector.detect(rgb)
        x0, y0, side = tile
        found = detector.detect(rgb[y0:y0 + side, x0:x0 + side])
        shift = np.array([x0, y0], dtype=np.float32)
        for d in found:
            d.box[:2] += shift
            d.keypoints += shift
        return found

    def detect(self, rgb: np.ndarray, every_pass: bool = True) -> list[Detection]:
        """Faces in the frame (see `in_pass_order`): every pass, or (video) the next pass."""
        passes = self.passes(rgb.shape[1], rgb.shape[0])
        if not every_pass and len(passes) > 1:
            passes = [passes[self._turn % len(passes)]]
            self._turn += 1
        return in_pass_order([self._run(detector, rgb, tile) for detector, tile in passes])

    def detect_near(self, rgb: np.ndarray, cx: float, cy: float, size: float) -> list[Detection]:
        """Faces in the square of side `size` around (cx, cy) (clipped to the frame)."""
        h, w = rgb.shape[:2]
        half = size / 2
        x0, y0 = int(max(0, math.floor(cx - half))), int(max(0, math.floor(cy - half)))
        x1, y1 = int(min(w, math.ceil(cx + half))), int(min(h, math.ceil(cy + half)))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return []
        detector = self._short if self._short is not None else self._full
        found = detector.detect(rgb[y0:y1, x0:x1])
        shift = np.array([x0, y0], dtype=np.float32)
        for d in found:
            d.box[:2] += shift
            d.keypoints += shift
        return found

    def close(self) -> None:
        for detector in (self._short, self._full):
            if detector is not None:
                detector.close()
