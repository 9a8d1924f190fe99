"""The head occluder: a canonical head (skull, jaw, ears, neck) fitted to each tracked face.

The mesh (assets/head/head.npz, made by scripts/make_head.py) is in canonical face space,
its front pushed 1 cm behind the canonical face surface, so that the face mesh decides what
the face hides and the head hides what lies behind and beside it (a glasses temple behind
the ear, the back half of a crown, a scarf behind the neck).

Each frame it is fitted to the tracked mesh in face space (the mesh brought back by the
inverse pose): scaled by the face's width and height against the canonical face's, then
every head vertex near the face follows the displacement of its nearest face vertices (an
open jaw takes the jaw of the head with it), fading to rigid 6 cm away from the face.

That fit is linear in the tracked mesh once the scale is known, so it is precomputed as one
sparse [head, face] matrix: a frame costs a 3x3 product over the head's vertices and a sparse
product with the mesh (~0.05 ms), not a gather of every follower's neighbours.
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
    follow: object  # scipy.sparse csr [N, 468]: each head vertex's weights on the face vertices
    rest: np.ndarray  # float64 [N, 3]: vertices less what they follow of the canonical face
    rigid: np.ndarray  # float64 [N, 1]: 1 - the vertex's follow factor
    canonical: np.ndarray  # float32 [468, 3] canonical face vertices
    spans: tuple[float, float]  # the canonical face's width and height (cm), see WIDTH_VERTICES

    @staticmethod
    def load() -> "HeadModel":
        return _load_cached()

    def fit(self, pose: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """float32 [N, 3]: the head in camera space (cm) for one tracked face.

        In face space (the mesh brought back by the inverse pose, `local`) the head is
        vertices * scale + follow @ (local - canonical * scale); in camera space the pose's
        linear part cancels its inverse on the followed term, which leaves
        (rest * scale) @ linear.T + follow @ mesh + rigid * translation.
        """
        pose = np.asarray(pose, dtype=np.float64)
        linear, translation = pose[:3, :3], pose[:3, 3]
        try:
            to_face = np.linalg.inv(linear)
        except np.linalg.LinAlgError as error:
            raise RenderError(f"face pose cannot be inverted ({error})") from None
        mesh = np.asarray(mesh, dtype=np.float64)[: len(self.canonical)]
        scale = np.ones(3)
        scale[0] = _span(mesh, WIDTH_VERTICES, to_face) / self.spans[0]
        scale[1] = _span(mesh, HEIGHT_VERTICES, to_face) / self.spans[1]
        scale[2] = scale[0]
        scale = np.clip(scale, 0.6, 1.6)  # a broken fit must not blow the head up
        head = (self.rest * scale) @ linear.T
        head += self.follow @ mesh
        head += self.rigid * translation
        return head.astype(np.float32)


def _span(points: np.ndarray, pair: tuple[int, int], to_face: np.ndarray | None = None) -> float:
    """Distance between two of the points (in face space when `to_face` is given)."""
    difference = points[pair[0]] - points[pair[1]]
    return float(np.linalg.norm(difference if to_face is None else to_face @ difference))


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
    from scipy.sparse import csr_matrix

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
    canonical = CanonicalFace.load().vertices.astype(np.float64)
    neighbours, weights = skinning(vertices.astype(np.float64), canonical)
    rows = np.repeat(np.arange(len(vertices)), neighbours.shape[1])
    follow = csr_matrix((weights.astype(np.float64).ravel(), (rows, neighbours.ravel())),
                        shape=(len(vertices), len(canonical)))
    follow.eliminate_zeros()
    rest = vertices.astype(np.float64) - follow @ canonical
    rigid = 1.0 - np.asarray(follow.sum(axis=1)).reshape(-1, 1)
    log.debug("head occluder: %d vertices (%d follow the face), %d triangles", len(vertices),
              int(np.count_nonzero(rigid < 1.0)), len(triangles))
    spans = tuple(max(_span(canonical, pair), 1e-6) for pair in (WIDTH_VERTICES, HEIGHT_VERTICES))
    return HeadModel(vertices, triangles, follow, rest, rigid, np.asarray(canonical, np.float32), spans)

