"""A tracked hand in the metric camera space: its 21 points in cm and a pose (hand frame -> camera).

MediaPipe's hand world landmarks are metric (metres, origin near the hand's centre, x right,
y down, z away from the camera, axes aligned with the image). arfx turns them into camera
space (x right, y up, z towards the viewer, cm) and places them at the depth where their
spread matches the hand's spread in pixels (weak perspective: hands are small next to their
distance), each point on the camera ray of its landmark (the points project back onto them).

The hand frame (what `hand.<point>` anchors use): origin at the wrist, +y from the wrist to
the middle finger's base, +x across the palm from the little finger's base towards the index
finger's, +z = x cross y (out of the palm for a right hand, out of the back for a left one).
"""

from __future__ import annotations

import numpy as np

from arfx.geometry.camera import PerspectiveCamera

WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = 0, 5, 9, 17


def hand_in_camera_space(landmarks: np.ndarray, world: np.ndarray, width: int, height: int,
                         camera: PerspectiveCamera) -> tuple[np.ndarray, np.ndarray] | None:
    """(pose float32 [4,4], points float32 [21,3] cm) for one hand, or None if degenerate."""
    pixels = np.asarray(landmarks, dtype=np.float64)[:, :2]
    metric = np.asarray(world, dtype=np.float64) * np.array([100.0, -100.0, -100.0])  # cm, camera axes
    metric -= metric.mean(axis=0)
    spread_px = np.sqrt(((pixels - pixels.mean(axis=0)) ** 2).sum(axis=1).mean())
    spread_cm = np.sqrt((metric[:, :2] ** 2).sum(axis=1).mean())
    if not (np.isfinite(spread_px) and spread_px > 1e-3 and spread_cm > 1e-3):
        return None
    focal = camera.focal_pixels(height)
    depth = focal * spread_cm / spread_px
    # Each point on the camera ray of its landmark, at the hand's depth plus its own metric
    # depth offset: projecting the points gives back the landmarks exactly.
    distance = depth - metric[:, 2]
    points = np.stack([(pixels[:, 0] - width / 2.0) / focal * distance,
                       -(pixels[:, 1] - height / 2.0) / focal * distance, -distance], axis=1)
    up = points[MIDDLE_MCP] - points[WRIST]
    across = points[INDEX_MCP] - points[PINKY_MCP]
    y = up / max(np.linalg.norm(up), 1e-9)
    x = across - y * (across @ y)
    if np.linalg.norm(x) < 1e-6:
        return None
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, y, np.cross(x, y)
    pose[:3, 3] = points[WRIST]
    return pose.astype(np.float32), points.astype(np.float32)
