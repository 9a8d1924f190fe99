"""Transform math shared by geometry, rendering and effects, through pyrr: rotations from
Euler angles, translate-rotate-scale placement, the OpenGL perspective projection.

All matrices here act on column vectors (p' = M @ p); pyrr's 4x4 helpers are written for row
vectors, so their results are transposed on the way out.
"""

from __future__ import annotations

import numpy as np
import pyrr


def rotation_xyz(degrees) -> np.ndarray:
    """float64 [3,3]: rotate about x, then y, then z (fixed axes), angles in degrees."""
    x, y, z = np.radians(np.asarray(degrees, dtype=np.float64).reshape(3))
    return (pyrr.matrix33.create_from_z_rotation(z) @ pyrr.matrix33.create_from_y_rotation(y)
            @ pyrr.matrix33.create_from_x_rotation(x))


def translate_rotate_scale(offset=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0), scale=1.0) -> np.ndarray:
    """float64 [4,4]: scale, then rotate (rotation_xyz), then translate by `offset`."""
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    matrix = np.eye(4)
    matrix[:3, :3] = rotation_xyz(rotation) @ np.diag(scale)
    matrix[:3, 3] = np.asarray(offset, dtype=np.float64).reshape(3)
    return matrix


def perspective(fov_y: float, aspect: float, near: float, far: float) -> np.ndarray:
    """float64 [4,4] OpenGL projection (camera looking down -z; clip z in [-w, w])."""
    return np.asarray(pyrr.matrix44.create_perspective_projection(fov_y, aspect, near, far,
                                                                  dtype=np.float64)).T
