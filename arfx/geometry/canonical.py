"""The canonical face model: MediaPipe's neutral 468-vertex face in centimetres.

Loaded from models/canonical_face.npz (written by scripts/import_canonical_face.py).
Face space: x to the face's left (image right when it looks at the camera), y up,
z out of the face towards the viewer (the nose tip has the largest z), origin near
the centre of the head. UVs are (u, v) with v measured from the TOP of a texture image
(row order, as MediaPipe's face-paint textures are drawn): a texture uploaded to GL with
its first row first is sampled with these UVs unchanged. Triangles are wound
counter-clockwise when seen from the front (+z).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from arfx.errors import ModelError

FILE_NAME = "canonical_face.npz"
NUM_VERTICES = 468


@dataclass(frozen=True, eq=False)
class CanonicalFace:
    """The canonical face mesh and its Procrustes landmark basis (arrays are read-only)."""

    vertices: np.ndarray  # float32 [468, 3], cm
    uvs: np.ndarray  # float32 [468, 2]
    triangles: np.ndarray  # int32 [898, 3]
    landmark_ids: np.ndarray  # int32 [33]
    landmark_weights: np.ndarray  # float32 [33]

    @staticmethod
    def load() -> "CanonicalFace":
        """The canonical face from models/ (verified against the manifest, cached)."""
        return _load_cached()

    @staticmethod
    def from_arrays(arrays) -> "CanonicalFace":
        keys = ("vertices", "uvs", "triangles", "landmark_ids", "landmark_weights")
        dtypes = (np.float32, np.float32, np.int32, np.int32, np.float32)
        values = {}
        for key, dtype in zip(keys, dtypes):
            if key not in arrays:
                raise ModelError(f"{FILE_NAME} has no '{key}' array")
            value = np.ascontiguousarray(arrays[key], dtype=dtype)
            value.setflags(write=False)
            values[key] = value
        face = CanonicalFace(**values)
        face._check()
        return face

    def _check(self) -> None:
        ok = (
            self.vertices.shape == (NUM_VERTICES, 3)
            and self.uvs.shape == (NUM_VERTICES, 2)
            and self.triangles.ndim == 2
            and self.triangles.shape[1] == 3
            and self.landmark_ids.shape == self.landmark_weights.shape
            and self.landmark_ids.ndim == 1
            and self.triangles.min() >= 0
            and self.triangles.max() < NUM_VERTICES
            and self.landmark_ids.min() >= 0
            and self.landmark_ids.max() < NUM_VERTICES
            and float(self.landmark_weights.sum()) > 0
        )
        if not ok:
            raise ModelError(f"{FILE_NAME} does not hold a valid canonical face; "
                             "regenerate it with scripts/import_canonical_face.py")


def _model_file():
    from arfx.tracking.models import model_path

    return model_path(FILE_NAME)


@functools.lru_cache(maxsize=1)
def _load_cached() -> CanonicalFace:
    path = _model_file()
    with np.load(path, allow_pickle=False) as arrays:
        return CanonicalFace.from_arrays(arrays)
