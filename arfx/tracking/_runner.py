"""Runs one face model by name: ONNX Runtime when models/ has it, else a development fallback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from arfx.resources import resource_dir

log = logging.getLogger(__name__)

# Development fallback only: the TFLite originals, read straight from the MediaPipe wheel,
# until the converted ONNX files are committed. Removed once models/ holds them.
_TFLITE_DIR = Path(os.environ.get("ARFX_TFLITE_DIR", "/tmp/t3/mediapipe/modules"))
_TFLITE_NAMES = {
    "face_detection_short_range.onnx": "face_detection/face_detection_short_range.tflite",
    "face_detection_full_range.onnx": "face_detection/face_detection_full_range_sparse.tflite",
    "face_landmark.onnx": "face_landmark/face_landmark.tflite",
    "face_landmark_with_attention.onnx": "face_landmark/face_landmark_with_attention.tflite",
}


class ModelRunner:
    """Feeds one NHWC float32 array to a model and returns its outputs by name."""

    def __init__(self, name: str, threads: int = 1) -> None:
        self.name = name
        if (resource_dir("models") / name).is_file():
            from arfx.tracking.models import create_session

            self._session = create_session(name, threads=threads)
            self._input = self._session.get_inputs()[0].name
            self.output_names = [o.name for o in self._session.get_outputs()]
            self._interpreter = None
        else:
            from ai_edge_litert.interpreter import Interpreter

            log.warning("%s not in models/; using the TFLite original", name)
            self._interpreter = Interpreter(model_path=str(_TFLITE_DIR / _TFLITE_NAMES[name]),
                                            num_threads=threads)
            self._interpreter.allocate_tensors()
            self._in_index = self._interpreter.get_input_details()[0]["index"]
            outs = self._interpreter.get_output_details()
            self.output_names = [o["name"] for o in outs]
            self._out_index = [o["index"] for o in outs]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self._interpreter is None:
            values = self._session.run(self.output_names, {self._input: x})
            return dict(zip(self.output_names, values))
        self._interpreter.set_tensor(self._in_index, x)
        self._interpreter.invoke()
        return {n: self._interpreter.get_tensor(i).copy()
                for n, i in zip(self.output_names, self._out_index)}
