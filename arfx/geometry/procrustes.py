"""Weighted orthogonal Procrustes: the similarity transform that best maps one point set onto another.

Solves  min over (s, R, t) of  sum_i w_i |s R a_i + t - b_i|^2  with R a proper rotation
(det +1, reflections excluded) and s > 0, in closed form: weighted centroids, the SVD of
the 3x3 weighted cross-covariance, then the optimal scale and translation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_EPS = 1e-9


class ProcrustesError(ValueError):
    """The point sets do not determine a transform (collapsed, NaN, or zero weights)."""


@dataclass(frozen=True)
class Similarity:
    """x -> scale * rotation @ x + translation."""

    rotation: np.ndarray  # float64 [3,3], det +1
    scale: float
    translation: np.ndarray  # float64 [3]

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * (np.asarray(points, dtype=np.float64) @ self.rotation.T) + self.translation


class WeightedProcrustes:
    """Procrustes against a fixed, weighted source point set (its centring is precomputed).

    The geometry pipeline solves against the same canonical landmarks several times per
    face, so the source-only terms are computed once here.
    """

    def __init__(self, source: np.ndarray, weights: np.ndarray) -> None:
        source = np.asarray(source, dtype=np.float64).reshape(-1, 3)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(weights) != len(source) or len(source) == 0:
            raise ProcrustesError("need one weight per source point")
        if np.any(weights < 0) or not np.all(np.isfinite(weights)) or weights.sum() <= _EPS:
            raise ProcrustesError("weights must be non-negative with a positive sum")
        if not np.all(np.isfinite(source)):
            raise ProcrustesError("source points are not finite")
        self._w = weights / weights.sum()
        self._source_mean = self._w @ source
        centred = source - self._source_mean
        # Rows pre-multiplied by their weight: the cross-covariance is then one matmul.
        self._weighted_centred = centred * self._w[:, None]
        self._source_spread = float(np.sum(self._weighted_centred * centred))
        if self._source_spread <= _EPS:
            raise ProcrustesError("source points are collapsed onto one point")

    def solve(self, target: np.ndarray) -> Similarity:
        """The similarity mapping the source onto `target` [N,3] (same order as the source)."""
        target = np.asarray(target, dtype=np.float64)
        target_mean = self._w @ target
        # Sigma = sum_i w_i (b_i - mean_b)(a_i - mean_a)^T; centring b is unnecessary
        # because the weighted source deviations sum to zero.
        cov = target.T @ self._weighted_centred
        size = float(np.abs(cov).sum())
        if not math.isfinite(size) or size <= _EPS:
            raise ProcrustesError("target points are collapsed or not finite")
        u, sv, vt = np.linalg.svd(cov)
        # det(U) det(V^T) = sign(det(cov)); -1 means the best orthogonal map is a
        # reflection, so the axis of the smallest singular value is flipped.
        d = 1.0 if _det3(cov) >= 0 else -1.0
        if d < 0:
            u = u.copy()
            u[:, 2] = -u[:, 2]
        rotation = u @ vt
        scale = (sv[0] + sv[1] + d * sv[2]) / self._source_spread
        if not np.isfinite(scale) or scale <= _EPS:
            raise ProcrustesError("degenerate scale")
        translation = target_mean - scale * (rotation @ self._source_mean)
        return Similarity(rotation=rotation, scale=float(scale), translation=translation)


def _det3(m: np.ndarray) -> float:
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def weighted_procrustes(source: np.ndarray, target: np.ndarray,
                        weights: np.ndarray | None = None) -> Similarity:
    """The similarity transform mapping `source` [N,3] onto `target` [N,3] (least squares)."""
    source = np.asarray(source, dtype=np.float64).reshape(-1, 3)
    if weights is None:
        weights = np.ones(len(source))
    return WeightedProcrustes(source, weights).solve(np.asarray(target, dtype=np.float64).reshape(-1, 3))
