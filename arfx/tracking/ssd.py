"""The SSD-style detectors MediaPipe's palm and pose detection share: anchors on feature-map
grids, raw box/keypoint regressions decoded against them, weighted NMS, and a detector that
letterboxes the frame into the model and maps its answers back to frame pixels."""

from __future__ import annotations

import math

import numpy as np

from arfx.tracking._runner import ModelRunner
from arfx.tracking.detector import weighted_nms
from arfx.tracking.roi import letterbox

LOGIT_CLIP = 100.0
NMS_IOU = 0.3


def ssd_anchor_grids(input_size: int, strides: tuple[int, ...], per_layer: int) -> tuple[tuple[int, int], ...]:
    """(grid side, anchors per cell) per feature map: consecutive layers of one stride share a map."""
    grids: list[list[int]] = []
    previous = None
    for stride in strides:
        if stride == previous:
            grids[-1][1] += per_layer
        else:
            grids.append([math.ceil(input_size / stride), per_layer])
        previous = stride
    return tuple((side, count) for side, count in grids)


def anchor_centres(input_size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres [N, 2] in [0, 1] (fixed anchor size: width = height = 1), in model order."""
    parts = []
    for side, per_cell in ssd_anchor_grids(input_size, strides, per_layer):
        centres = (np.arange(side, dtype=np.float32) + 0.5) / side
        xs, ys = np.meshgrid(centres, centres)  # row-major: y outer, x inner
        parts.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(parts, axis=0)


def decode(boxes: np.ndarray, logits: np.ndarray, anchors: np.ndarray, min_score: float, size: int,
           keypoints: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Detections in tensor pixels from raw outputs [N, 4 + 2K] and [N]: (corners [4],
    keypoints [K, 2], score), best first, overlapping boxes merged by weighted NMS."""
    logits = np.clip(logits.reshape(-1).astype(np.float64), -LOGIT_CLIP, LOGIT_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    reg = boxes.reshape(len(anchors), -1)[keep].astype(np.float64)
    centres_anchor = anchors[keep].astype(np.float64) * size
    centres = reg[:, 0:2] + centres_anchor
    half = reg[:, 2:4] / 2
    corners = np.concatenate([centres - half, centres + half], axis=1)
    points = reg[:, 4:4 + 2 * keypoints].reshape(-1, keypoints, 2) + centres_anchor[:, None, :]
    return weighted_nms(corners, points, scores[keep], NMS_IOU)


class SsdDetector:
    """A letterboxed SSD detector: `detect_boxes(rgb)` -> (box xywh, keypoints, score) in frame
    pixels, best first. Pixels go into the model as value * scale - offset. A subclass sets
    `like_mediapipe` to letterbox with MediaPipe's own sampling (arfx.tracking.roi.letterbox)."""

    like_mediapipe = False

    def __init__(self, model: str, size: int, anchors: np.ndarray, keypoints: int, min_confidence: float,
                 scale: float, offset: float, threads: int = 1) -> None:
        self._model = ModelRunner(model, threads=threads)
        self._boxes_name, self._logits_name = sorted(self._model.output_names,
                                                     key=lambda n: -self._model.output_shapes[n][-1])
        self.size, self.keypoints = size, keypoints
        self.min_confidence = float(min_confidence)
        self._anchors = anchors
        self._scale, self._offset = np.float32(scale), np.float32(offset)
        self._canvas = np.empty((size, size, 3), dtype=np.uint8)
        self._input = np.empty((1, size, size, 3), dtype=np.float32)
        self._run = self._model.bound(self._input)  # no per-run wrapping of input and outputs

    def _letterbox(self, rgb: np.ndarray) -> tuple[float, float, float]:
        """The frame into the model input; frame px = tensor px * s - (ox, oy)."""
        mapping = letterbox(rgb, self._canvas, self.like_mediapipe)
        np.multiply(self._canvas, self._scale, out=self._input[0], casting="unsafe")
        if self._offset:
            self._input -= self._offset
        return mapping

    def detect_boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        s, ox, oy = self._letterbox(rgb)
        outputs = self._run()
        merged = decode(outputs[self._boxes_name][0], outputs[self._logits_name][0], self._anchors,
                        self.min_confidence, self.size, self.keypoints)
        shift = np.array([ox, oy])
        found = []
        for corners, keypoints, score in merged:
            xy0 = corners[:2] * s - shift
            wh = (corners[2:] - corners[:2]) * s
            found.append((np.array([xy0[0], xy0[1], wh[0], wh[1]], dtype=np.float32),
                          (keypoints * s - shift).astype(np.float32), float(score)))
        return found

    def close(self) -> None:
        self._model = self._run = None
