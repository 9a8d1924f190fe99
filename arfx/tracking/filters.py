"""Temporal smoothing of landmarks: a One Euro filter per tracked face."""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter (Casiez et al. 2012) over arrays of any fixed shape.

    Values are filtered as they are (pixels); only the speed that sets the cutoff is divided
    by a per-call `scale` (the face size), so "fast" means the same for near and far faces.
    Dividing the values themselves would turn a change of face size into motion of points
    that did not move.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 10.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, value: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(value, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x, np.zeros_like(x), t
            return np.asarray(value, dtype=np.float32).copy()
        dt = t - self._t
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * (x - self._x) / dt + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx) / max(scale, 1e-6)
        a = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt))
        self._x = a * x + (1 - a) * self._x
        self._t = t
        return self._x.astype(np.float32)


class LandmarkSmoother:
    """Keeps one OneEuroFilter per face id; forgets ids that stop appearing."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 10.0, d_cutoff: float = 1.0) -> None:
        self._params = (min_cutoff, beta, d_cutoff)
        self._filters: dict[int, OneEuroFilter] = {}

    def __call__(self, face_id: int, landmarks: np.ndarray, t: float) -> np.ndarray:
        filt = self._filters.get(face_id)
        if filt is None:
            filt = self._filters[face_id] = OneEuroFilter(*self._params)
        extent = landmarks[:, :2].max(axis=0) - landmarks[:, :2].min(axis=0)
        return filt(landmarks, t, scale=float(max(extent.max(), 1.0)))

    def keep_only(self, ids) -> None:
        live = set(ids)
        for face_id in list(self._filters):
            if face_id not in live:
                del self._filters[face_id]
