"""Rigid fits of a known point set: weighted orthogonal Procrustes in 3D, and a perspective
(reprojection) refinement of a rigid pose against 2D observations.

Procrustes solves  min over (s, R, t) of  sum_i w_i |s R a_i + t - b_i|^2  with R a proper
rotation (det +1, reflections excluded) and s > 0, in closed form: weighted centroids, the SVD
of the 3x3 weighted cross-covariance, then the optimal scale and translation.

`perspective_step` is one Gauss-Newton step of  sum_i w_i |proj(R a_i + t) - b_i|^2  over
(R, t), where proj(x, y, z) = (x, y) / -z (the camera looks down -z, see
arfx.geometry.camera); batched, so the field-of-view estimator runs it for many candidate
cameras and frames at once, and the geometry pipeline for one face.
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


def rotate_by(omega: np.ndarray) -> np.ndarray:
    """Rotation matrices [...,3,3] for rotation vectors [...,3] (Rodrigues:
    cos I + sin [a]_x + (1 - cos) a a^T for the unit axis a)."""
    omega = np.asarray(omega, dtype=np.float64)
    if omega.shape == (3,):  # one rotation (the geometry pipeline's steps): plain floats are cheaper
        return _rotate_one(*omega.tolist())
    angle = np.sqrt(np.square(omega).sum(axis=-1))[..., None]
    axis = omega / np.maximum(angle, 1e-12)
    sin, cos = np.sin(angle), np.cos(angle)
    out = ((1.0 - cos) * axis)[..., :, None] * axis[..., None, :]
    x, y, z = np.moveaxis(axis * sin, -1, 0)
    out[..., 0, 1] -= z
    out[..., 1, 0] += z
    out[..., 0, 2] += y
    out[..., 2, 0] -= y
    out[..., 1, 2] -= x
    out[..., 2, 1] += x
    out += cos[..., None] * np.eye(3)
    return out


def _rotate_one(x: float, y: float, z: float) -> np.ndarray:
    angle = math.sqrt(x * x + y * y + z * z)
    if angle < 1e-12:
        return np.eye(3)
    sin, cos = math.sin(angle), math.cos(angle)
    x, y, z = x / angle, y / angle, z / angle
    c1 = 1.0 - cos
    return np.array([[cos + c1 * x * x, c1 * x * y - sin * z, c1 * x * z + sin * y],
                     [c1 * y * x + sin * z, cos + c1 * y * y, c1 * y * z - sin * x],
                     [c1 * z * x - sin * y, c1 * z * y + sin * x, cos + c1 * z * z]])


# Rows: a u, a v, b u, b v, a, b, c, 1, u, v; columns: du (6) then dv (6), see perspective_step.
_JACOBIAN_TERMS = np.zeros((10, 12))
for _row, _column, _sign in ((2, 0, 1), (6, 1, 1), (0, 1, -1), (5, 2, -1), (7, 3, 1), (8, 5, 1),
                             (3, 6, 1), (6, 6, -1), (1, 7, -1), (4, 8, 1), (7, 10, 1), (9, 11, 1)):
    _JACOBIAN_TERMS[_row, _column] = _sign


def perspective_step(points: np.ndarray, seen: np.ndarray, rotation: np.ndarray,
                     translation: np.ndarray, weights: np.ndarray | None = None,
                     robust: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One Gauss-Newton step of the (weighted) reprojection error over rotation and translation.

    `points` [N,3]: the rigid model (best centred: rotation and translation then decouple);
    `seen` [...,N,2]: where each point is seen, as (x, y) / depth in camera space;
    `rotation` [...,3,3], `translation` [...,3]: the current pose (model -> camera);
    `weights` [N] or [...,N]: per point (None: all 1).
    `robust`: when given, points whose reprojection error is more than `robust` times the
    median error get the weight of a Huber loss (their pull grows with the error's square root,
    not linearly), so a few misplaced landmarks cannot drag the pose.
    Returns the stepped rotation and translation.
    """
    # One product gives each point turned, R p = (a, b, c), and placed, R p + t = (x, y, z).
    n = points.shape[0]
    transform = np.zeros(rotation.shape[:-2] + (4, 7))
    transposed = np.swapaxes(rotation, -1, -2)
    transform[..., :3, :3] = transposed
    transform[..., :3, 3:6] = transposed
    transform[..., 3, :3] = translation
    transform[..., 3, 6] = 1.0
    both = np.concatenate([points, np.ones((n, 1))], axis=1) @ transform  # [...,N,7]: x y z a b c 1
    inv = 1.0 / np.maximum(-both[..., 2], 1e-6)  # 1 / depth
    projected = both[..., :2] * inv[..., None]  # (u, v) = (x, y) / depth
    residual = projected - seen
    # The Jacobian of (u, v) over (omega, t), for a small rotation exp([omega]_x) R:
    # d(u, v)/dQ = [[1, 0, u], [0, 1, v]] / depth and dQ/d(omega) = -[R p]_x, so
    # du = (b u, c - a u, -b, 1, 0, u) / depth and dv = (b v - c, -a v, a, 0, 1, v) / depth:
    # linear in (a u, a v, b u, b v, a, b, c, 1, u, v).
    products = (both[..., 3:5, None] * projected[..., None, :]).reshape(both.shape[:-1] + (4,))
    terms = np.concatenate([products, both[..., 3:7], projected], axis=-1)
    jacobian = terms @ _JACOBIAN_TERMS  # [...,N,12]: du then dv, times the depth
    scale = inv
    if weights is not None or robust is not None:
        w = np.ones(inv.shape) if weights is None else weights
        if robust is not None:
            error = np.sqrt(np.square(residual).sum(axis=-1))
            limit = robust * np.partition(error, n // 2, axis=-1)[..., n // 2: n // 2 + 1] + 1e-12
            w = w * np.minimum(1.0, limit / np.maximum(error, 1e-12))
        root = np.sqrt(w)
        residual = residual * root[..., None]
        scale = scale * root
    jacobian *= scale[..., None]  # rows of sqrt(w) d(u, v) / d(omega, t)
    jacobian = jacobian.reshape(inv.shape[:-1] + (2 * n, 6))
    transposed = np.swapaxes(jacobian, -1, -2)  # [...,6,2N]
    normal = transposed @ jacobian
    normal += np.eye(6) * (1e-9 + 1e-6 * np.einsum("...ii->...", normal))[..., None, None]
    flat = residual.reshape(inv.shape[:-1] + (2 * n, 1))
    step = -np.linalg.solve(normal, transposed @ flat)[..., 0]
    return rotate_by(step[..., :3]) @ rotation, translation + step[..., 3:]
