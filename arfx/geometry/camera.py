"""The virtual perspective camera shared by the geometry pipeline and the renderer.

Camera space (centimetres, right-handed): the camera sits at the origin looking down -Z,
+X points to the image's right and +Y up; visible points have z < 0. The view matrix is
the identity, so a face's pose matrix is its model-view matrix.

Matrices are numpy float32 [4,4] acting on COLUMN vectors: clip = P @ [x, y, z, 1].
GLSL's mat4 is column-major, so upload `gl_matrix_bytes(M)` (the bytes of M.T) to a
uniform; the shader then writes `gl_Position = u_projection * u_model_view * vec4(p, 1)`.

Pixel coordinates are continuous with the origin at the top-left corner of the image and
y down: (0, 0) is the top-left corner of the top-left pixel, (width, height) the
bottom-right corner of the last one (MediaPipe's normalized landmark x*width, y*height).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The vertical field of view assumed when neither the user nor the input says (MediaPipe's).
DEFAULT_FOV = 63.0


@dataclass(frozen=True)
class PerspectiveCamera:
    """A pinhole camera by vertical field of view (degrees) and clip planes (cm)."""

    fov_y: float = DEFAULT_FOV
    near: float = 1.0
    far: float = 10000.0

    def __post_init__(self) -> None:
        if not (0.0 < self.fov_y < 180.0):
            raise ValueError(f"fov_y must be in (0, 180) degrees, got {self.fov_y}")
        if not (0.0 < self.near < self.far):
            raise ValueError(f"need 0 < near < far, got near={self.near} far={self.far}")

    @property
    def focal(self) -> float:
        """cot(fov_y / 2): NDC y per unit of y/(-z)."""
        return 1.0 / math.tan(math.radians(self.fov_y) / 2.0)

    def with_fov(self, fov_y: float) -> "PerspectiveCamera":
        """The same camera with another vertical field of view (degrees)."""
        return self if float(fov_y) == self.fov_y else PerspectiveCamera(float(fov_y), self.near, self.far)

    def focal_pixels(self, height: int) -> float:
        """Pixels per unit of x/(-z) (and y/(-z)) in a frame `height` pixels tall."""
        return 0.5 * height * self.focal

    def projection_matrix(self, aspect: float) -> np.ndarray:
        """The OpenGL projection matrix for a frame of `aspect` = width / height."""
        from arfx.geometry.transforms import perspective

        return perspective(self.fov_y, aspect, self.near, self.far).astype(np.float32)

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """Camera-space points [N,3] (cm) -> pixel coordinates [N,2] (float32).

        The same mapping as `projection_matrix` followed by the viewport transform.
        """
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        fp = self.focal_pixels(height)
        inv_depth = 1.0 / -p[:, 2]
        out = np.empty((len(p), 2), dtype=np.float64)
        out[:, 0] = 0.5 * width + fp * p[:, 0] * inv_depth
        out[:, 1] = 0.5 * height - fp * p[:, 1] * inv_depth
        return out.astype(np.float32)


def gl_matrix_bytes(matrix: np.ndarray) -> bytes:
    """Bytes of a column-vector 4x4 matrix in the column-major order GLSL expects."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float32).T).tobytes()
