"""Runs one face model (an ONNX Runtime session) on one NHWC float32 input."""

from __future__ import annotations

import numpy as np

from arfx.tracking.models import create_session


class ModelRunner:
    """Feeds one input array to a model and returns its outputs by name."""

    def __init__(self, name: str, threads: int = 1) -> None:
        self.name = name
        self._session = create_session(name, threads=threads)
        self._input = self._session.get_inputs()[0].name
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.output_shapes = {o.name: tuple(o.shape) for o in self._session.get_outputs()}

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        values = self._session.run(self.output_names, {self._input: x})
        return dict(zip(self.output_names, values))
