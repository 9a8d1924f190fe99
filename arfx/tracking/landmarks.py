"""Face landmarks in a region of interest: affine crop, landmark model, back to image pixels."""

from __future__ import annotations

import math

import numpy as np

from arfx.tracking._runner import ModelRunner
from arfx.tracking.roi import RgbxCropper, Roi

CROP_SIZE = 192
_INPUT_SCALE = np.float32(1 / 255)  # a float32 scalar keeps the scaling in float32


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 80.0), -80.0)))


class LandmarkModel:
    """468-point face mesh model; returns landmarks in image pixels and a presence score."""

    model_name = "face_landmark.onnx"

    def __init__(self, threads: int = 1) -> None:
        self._model = ModelRunner(self.model_name, threads=threads)
        self._patch = np.empty((CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
        self._cropper = RgbxCropper(CROP_SIZE)
        self._input = np.empty((1, CROP_SIZE, CROP_SIZE, 3), dtype=np.float32)
        # the model bound to the input buffer and to outputs allocated once (no per-run wrapping)
        self._run = self._model.bound(self._input)

    def crop(self, rgb: np.ndarray, roi: Roi) -> np.ndarray:
        """Fill the model input with the ROI resampled to 192x192 (edges replicated)."""
        self._cropper(rgb, roi, self._patch, self._input, _INPUT_SCALE)
        return self._input

    def run(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Landmarks float32 [468, 3] (x, y pixels; z pixels, relative) and presence 0..1."""
        self.crop(rgb, roi)
        return self.run_crop(roi)

    def run_crop(self, roi: Roi) -> tuple[np.ndarray, float]:
        """`run` on the model input as the last `crop` (of `roi`) left it."""
        outputs = self._run()
        points = outputs["conv2d_21"].reshape(-1, 3)
        presence = sigmoid(float(outputs["conv2d_31"].reshape(-1)[0]))
        return roi.to_image(points, CROP_SIZE), presence

    def close(self) -> None:
        self._model = self._run = None
