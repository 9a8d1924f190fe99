"""Temporal smoothing of landmarks: One Euro filters per tracked face."""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter (Casiez et al. 2012) over arrays of any fixed shape, as MediaPipe runs it.

    Values are filtered as they are (pixels); only the speed that sets the cutoff is divided
    by a per-call `scale` (the object's size), so "fast" means the same for near and far
    objects. Dividing the values themselves would turn a change of size into motion of points
    that did not move. As MediaPipe's filter (its landmark smoothing), the speed is taken
    between the raw values of consecutive calls, scaled by that call's `scale` before it is
    low-passed. (Measured against the filtered previous value instead, a strongly smoothed
    output that trails a slow drift reads as fast motion and stops smoothing: MediaPipe Pose's
    ROI filter, 0.01 Hz, then follows every jitter of the raw points.)
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 10.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._raw = self._dx = self._t = None

    def __call__(self, value: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(value, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._raw, self._dx, self._t = x, x, np.zeros_like(x), t
            return np.asarray(value, dtype=np.float32).copy()
        dt = t - self._t
        a_d = _alpha(self.d_cutoff, dt)
        speed = (x - self._raw) / (dt * max(scale, 1e-6))
        self._dx = a_d * speed + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt))
        self._x = a * x + (1 - a) * self._x
        self._raw, self._t = x, t
        return self._x.astype(np.float32)


class FaceFilter:
    """One face's landmarks smoothed with one cutoff for the whole face (a One Euro variant
    with lag compensation).

    The speed that opens the filter is the face's own: the mean distance its points moved
    since the last frame, in face sizes per second, less `floor` (what landmark noise alone
    reaches on a still face). It rises at once when the face moves and falls back with the
    `d_cutoff` time constant. A still face keeps the cutoff at `min_cutoff` (strong
    smoothing); a moving face opens it, and the lag left (a low-pass filter trails a moving
    value by velocity * (1 - a) / a) is added back from the smoothed raw velocity, in full
    once the speed above the floor reaches `lead`. Motion too slow to stand out of the noise
    frame to frame (a slow drift) still makes the output trail the raw landmarks: once the
    output is more than `tolerance` face sizes away from them, the cutoff rises by
    `catch_up` Hz per face size beyond that, so a drift is never trailed by much more.
    """

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float, floor: float,
                 lead: float, catch_up: float = 0.0, tolerance: float = 0.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.floor, self.lead = floor, lead
        self.catch_up, self.tolerance = catch_up, tolerance
        self._raw: np.ndarray | None = None
        self._out: np.ndarray | None = None
        self._velocity: np.ndarray | None = None
        self._speed = 0.0
        self._t: float | None = None

    def __call__(self, value: np.ndarray, t: float, scale: float) -> np.ndarray:
        x = np.asarray(value, dtype=np.float64)
        if self._out is None or self._t is None or t <= self._t or x.shape != self._out.shape:
            self._raw, self._out, self._t = x, x.copy(), t
            self._velocity, self._speed = np.zeros_like(x), 0.0
            return np.asarray(value, dtype=np.float32).copy()
        dt = t - self._t
        step = x - self._raw
        speed = float(np.linalg.norm(step[:, :2], axis=1).mean()) / max(scale, 1e-6) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self._speed = max(speed, a_d * speed + (1 - a_d) * self._speed)
        self._velocity += a_d * (step - self._velocity)
        moving = max(self._speed - self.floor, 0.0)
        cutoff = self.min_cutoff + self.beta * moving
        if self.catch_up > 0:
            behind = float(np.linalg.norm(x[:, :2] - self._out[:, :2], axis=1).mean()) / max(scale, 1e-6)
            cutoff += self.catch_up * max(behind - self.tolerance, 0.0)
        a = _alpha(cutoff, dt)
        self._out += a * (x - self._out)
        self._raw, self._t = x, t
        lead = min(moving / self.lead, 1.0) * (1 - a) / a if self.lead > 0 else 0.0
        if lead > 0:
            return (self._out + lead * self._velocity).astype(np.float32)
        return self._out.astype(np.float32)


class LandmarkSmoother:
    """Keeps one FaceFilter per face id; forgets ids that stop appearing.

    Defaults (tuned on scripts/bench_tracking_truth.py): a still face is smoothed with a
    0.1 Hz cutoff (frame-to-frame jitter about 1/5 of the raw landmarks'); from 0.1 face
    sizes per second the filter opens and its lag is compensated, so fast motion is
    followed as closely as without smoothing; a slow drift is caught up with once the
    output trails by 0.2% of the face size.
    """

    def __init__(self, min_cutoff: float = 0.1, beta: float = 100.0, d_cutoff: float = 4.0,
                 floor: float = 0.1, lead: float = 0.3, catch_up: float = 5000.0,
                 tolerance: float = 0.002) -> None:
        self._params = (min_cutoff, beta, d_cutoff, floor, lead, catch_up, tolerance)
        self._filters: dict[int, FaceFilter] = {}

    def __call__(self, face_id: int, landmarks: np.ndarray, t: float) -> np.ndarray:
        filt = self._filters.get(face_id)
        if filt is None:
            filt = self._filters[face_id] = FaceFilter(*self._params)
        extent = landmarks[:, :2].max(axis=0) - landmarks[:, :2].min(axis=0)
        return filt(landmarks, t, scale=float(max(extent.max(), 1.0)))

    def keep_only(self, ids) -> None:
        live = set(ids)
        for face_id in list(self._filters):
            if face_id not in live:
                del self._filters[face_id]
