"""The head occluder: a canonical head (skull, jaw, ears, neck) fitted to each tracked face.

The mesh (assets/head/head.npz, made by scripts/make_head.py) is in canonical face space,
its front pushed 1 cm behind the canonical face surface, so that the face mesh decides what
the face hides and the head hides what lies behind and beside it (a glasses temple behind
the ear, the back half of a crown, a scarf behind the neck).

Each frame it is fitted to the tracked mesh in face space (the mesh brought back by the
inverse pose): scaled by the face's width and height against the canonical face's, then
every head vertex near the face follows the displacement of its nearest face vertices (an
open jaw takes the jaw of the head with it), fading to rigid 6 cm away from the face.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from arfx.errors import RenderError
from arfx.resources import resource_dir

log = logging.getLogger(__name__)

#: Face vertices that measure the face's width (the face edge at ear height) and height
#: (hairline to the base of the nose, which an open jaw does not change) in face space.
WIDTH_VERTICES = (234, 454)
HEIGHT_VERTICES = (10, 2)
#: Nearest face vertices each head vertex follows, and the distance (cm) over which that
#: following fades to rigid.
NEIGHBOURS = 6
FOLLOW_FULL_CM, FOLLOW_NONE_CM = 1.0, 6.0


@dataclass(frozen=True, eq=False)
class HeadModel:
    """Head vertices (canonical cm) with their skinning to the canonical face's vertices."""

    vertices: np.ndarray  # float32 [N, 3]
    triangles: np.ndarray  # uint32 [T, 3]
    followers: np.ndarray  # int64 [F]: the head vertices near enough to the face to follow it
    neighbours: np.ndarray  # int64 [F, K] face vertex indices
    weights: np.ndarray  # float32 [F, K], rows sum to the follow factor (0..1]
    canonical: np.ndarray  # float32 [468, 3] canonical face vertices

    @staticmethod
    def load() -> "HeadModel":
        return _load_cached()

    def fit(self, pose: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """float32 [N, 3]: the head in camera space (cm) for one tracked face."""
        pose = np.asarray(pose, dtype=np.float64)
        linear = pose[:3, :3]
        try:
            to_face = np.linalg.inv(linear)
        except np.linalg.LinAlgError as error:
            raise RenderError(f"face pose cannot be inverted ({error})") from None
        mesh = np.asarray(mesh, dtype=np.float64)[: len(self.canonical)]
        local = (mesh - pose[:3, 3]) @ to_face.T  # the tracked mesh in face space
        canonical = self.canonical.astype(np.float64)
        scale = np.ones(3)
        scale[0] = _span(local, WIDTH_VERTICES) / max(_span(canonical, WIDTH_VERTICES), 1e-6)
        scale[1] = _span(local, HEIGHT_VERTICES) / max(_span(canonical, HEIGHT_VERTICES), 1e-6)
        scale[2] = scale[0]
        scale = np.clip(scale, 0.6, 1.6)  # a broken fit must not blow the head up
        displacement = local - canonical * scale
        head = self.vertices * scale
        head[self.followers] += np.einsum("nk,nkc->nc", self.weights, displacement[self.neighbours])
        return (head @ linear.T + pose[:3, 3]).astype(np.float32)


def _span(points: np.ndarray, pair: tuple[int, int]) -> float:
    return float(np.linalg.norm(points[pair[0]] - points[pair[1]]))


def skinning(vertices: np.ndarray, canonical: np.ndarray, k: int = NEIGHBOURS):
    """Nearest canonical face vertices of each head vertex and their weights (inverse
    distance, scaled by a follow factor that is 1 within FOLLOW_FULL_CM and 0 beyond
    FOLLOW_NONE_CM)."""
    from scipy.spatial import cKDTree

    distances, neighbours = cKDTree(canonical).query(vertices, k=k)
    inverse = 1.0 / (distances + 0.5)
    weights = inverse / inverse.sum(axis=1, keepdims=True)
    follow = np.clip((FOLLOW_NONE_CM - distances[:, 0]) / (FOLLOW_NONE_CM - FOLLOW_FULL_CM), 0.0, 1.0)
    return neighbours.astype(np.int64), (weights * follow[:, None]).astype(np.float32)


def head_path():
    return resource_dir("assets") / "head" / "head.npz"


@functools.lru_cache(maxsize=1)
def _load_cached() -> HeadModel:
    from arfx.geometry.canonical import CanonicalFace

    path = head_path()
    try:
        with np.load(path, allow_pickle=False) as data:
            vertices = np.ascontiguousarray(data["vertices"], dtype=np.float32)
            triangles = np.ascontiguousarray(data["triangles"], dtype=np.uint32)
    except (OSError, KeyError, ValueError) as error:
        raise RenderError(f"head occluder mesh {path} cannot be read ({error}); "
                          "regenerate it with scripts/make_head.py") from None
    if vertices.ndim != 2 or vertices.shape[1] != 3 or triangles.ndim != 2 or triangles.shape[1] != 3 \
            or triangles.size == 0 or int(triangles.max()) >= len(vertices):
        raise RenderError(f"head occluder mesh {path} is malformed; regenerate it with scripts/make_head.py")
    canonical = CanonicalFace.load().vertices
    neighbours, weights = skinning(vertices.astype(np.float64), canonical.astype(np.float64))
    followers = np.nonzero(weights.sum(axis=1) > 0)[0]
    log.debug("head occluder: %d vertices (%d follow the face), %d triangles", len(vertices),
              len(followers), len(triangles))
    return HeadModel(vertices, triangles, followers, neighbours[followers], weights[followers],
                     np.asarray(canonical, np.float32))
