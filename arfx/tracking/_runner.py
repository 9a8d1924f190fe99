"""Runs one face model (an ONNX Runtime session) on one NHWC float32 input."""

from __future__ import annotations

from typing import Callable

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

    def bound(self, x: np.ndarray) -> Callable[[], dict[str, np.ndarray]]:
        """A call without arguments that runs the model on `x` as it is at the time (a caller's
        fixed, C-contiguous float32 input buffer) into output arrays allocated once here: ONNX
        Runtime then neither wraps the input nor allocates outputs on every run. The arrays are
        reused by the next run: copy what must outlive it. Needs outputs of fixed shape."""
        binding = self._session.io_binding()
        binding.bind_cpu_input(self._input, x)
        outputs = {}
        for name, shape in self.output_shapes.items():
            if not all(isinstance(d, int) and d > 0 for d in shape):
                raise ValueError(f"{self.name}: output {name} has no fixed shape {shape}")
            outputs[name] = np.empty(shape, np.float32)
            binding.bind_output(name, "cpu", 0, np.float32, shape, outputs[name].ctypes.data)
        session = self._session

        def run() -> dict[str, np.ndarray]:
            session.run_with_iobinding(binding)
            return outputs

        run.keep = (x, outputs)  # the bound buffers live as long as the call
        return run
