"""A tracked body in the metric camera space: its 33 points in cm and a torso frame (body -> camera).

Placed like hands (arfx.geometry.hand_space.place_points: metric world landmarks at the depth
where their spread matches the pixels). The torso frame (what `body.<point>` anchors use):
origin between the shoulders, +y from between the hips up to between the shoulders, +x from
the person's right shoulder to their left (the person's left, as on the face), +z = x cross y
(out of the chest).
"""

from __future__ import annotations

import numpy as np

from arfx.geometry.camera import PerspectiveCamera
from arfx.geometry.hand_space import frame_matrix, place_points

LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 11, 12, 23, 24


def body_in_camera_space(landmarks: np.ndarray, world: np.ndarray, width: int, height: int,
                         camera: PerspectiveCamera) -> tuple[np.ndarray, np.ndarray] | None:
    """(pose float32 [4,4], points float32 [33,3] cm) for one body, or None if degenerate."""
    points = place_points(landmarks, world, width, height, camera)
    if points is None:
        return None
    shoulders = (points[LEFT_SHOULDER] + points[RIGHT_SHOULDER]) / 2.0
    hips = (points[LEFT_HIP] + points[RIGHT_HIP]) / 2.0
    pose = frame_matrix(shoulders, shoulders - hips, points[LEFT_SHOULDER] - points[RIGHT_SHOULDER])
    return None if pose is None else (pose, points.astype(np.float32))
