"""Tracked hands (and bodies) in the metric camera space: their points in cm and a pose (entity
frame -> camera).

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


def place_points(landmarks: np.ndarray, world: np.ndarray, width: int, height: int,
                 camera: PerspectiveCamera) -> np.ndarray | None:
    """float64 [N,3] camera-space points (cm) for metric world landmarks seen at `landmarks`
    (pixels), or None if degenerate: depth from the ratio of metric to pixel spread, each
    point on its landmark's camera ray (so they project back onto the landmarks)."""
    pixels = np.asarray(landmarks, dtype=np.float64)[:, :2]
    metric = np.asarray(world, dtype=np.float64) * np.array([100.0, -100.0, -100.0])  # cm, camera axes
    metric -= metric.mean(axis=0)
    spread_px = np.sqrt(((pixels - pixels.mean(axis=0)) ** 2).sum(axis=1).mean())
    spread_cm = np.sqrt((metric[:, :2] ** 2).sum(axis=1).mean())
    if not (np.isfinite(spread_px) and spread_px > 1e-3 and spread_cm > 1e-3):
        return None
    focal = camera.focal_pixels(height)
    distance = focal * spread_cm / spread_px - metric[:, 2]
    return np.stack([(pixels[:, 0] - width / 2.0) / focal * distance,
                     -(pixels[:, 1] - height / 2.0) / focal * distance, -distance], axis=1)


def frame_matrix(origin: np.ndarray, up: np.ndarray, across: np.ndarray) -> np.ndarray | None:
    """float32 [4,4] with +y along `up`, +x along `across` made orthogonal to it, +z = x cross y,
    and its origin at `origin`; None when the directions are degenerate."""
    y = up / max(np.linalg.norm(up), 1e-9)
    x = across - y * (across @ y)
    if np.linalg.norm(x) < 1e-6 or np.linalg.norm(up) < 1e-9:
        return None
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, y, np.cross(x, y)
    pose[:3, 3] = origin
    return pose.astype(np.float32)


def hand_in_camera_space(landmarks: np.ndarray, world: np.ndarray, width: int, height: int,
                         camera: PerspectiveCamera) -> tuple[np.ndarray, np.ndarray] | None:
    """(pose float32 [4,4], points float32 [21,3] cm) for one hand, or None if degenerate."""
    points = place_points(landmarks, world, width, height, camera)
    if points is None:
        return None
    pose = frame_matrix(points[WRIST], points[MIDDLE_MCP] - points[WRIST], points[INDEX_MCP] - points[PINKY_MCP])
    return None if pose is None else (pose, points.astype(np.float32))


# The hand's bones (MediaPipe's 21-point topology) and the palm outline.
BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12),
         (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20), (5, 9), (9, 13), (13, 17))
PALM = (0, 1, 5, 9, 13, 17)


def hand_silhouette(points: np.ndarray, radius: float = 0.85, sides: int = 8) -> np.ndarray:
    """float32 [N*3, 3] triangles covering a hand seen from the camera: a camera-facing strip
    `radius` cm wide on each side of every bone, a disc at every joint, and the palm.

    The occluder that lets a hand in front of the face hide what is drawn behind it; depths
    follow the hand's points, so a hand behind the face hides nothing.
    """
    p = np.asarray(points, dtype=np.float64)
    bones = np.asarray(BONES)
    a, b = p[bones[:, 0]], p[bones[:, 1]]
    side = np.cross(b - a, -(a + b) / 2.0)  # across the bone, facing the camera
    norm = np.linalg.norm(side, axis=1, keepdims=True)
    keep = norm[:, 0] >= 1e-9
    side = side[keep] * (radius / norm[keep])
    a, b = a[keep], b[keep]
    a0, a1, b0, b1 = a - side, a + side, b - side, b + side
    strips = np.stack([a0, a1, b1, a0, b1, b0], axis=1).reshape(-1, 3, 3)
    # A disc at every joint, in the plane facing the camera.
    view = -p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9)
    helper = np.where(np.abs(view[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(view, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(view, u)
    angles = np.linspace(0.0, 2.0 * np.pi, sides, endpoint=False)
    rim = p[:, None, :] + radius * (np.cos(angles)[None, :, None] * u[:, None, :]
                                    + np.sin(angles)[None, :, None] * v[:, None, :])
    centre = np.repeat(p[:, None, :], sides, axis=1)
    discs = np.stack([centre, rim, np.roll(rim, -1, axis=1)], axis=2).reshape(-1, 3, 3)
    palm = p[list(PALM)]
    fan = np.stack([np.repeat(palm.mean(axis=0)[None], len(palm), axis=0), palm, np.roll(palm, -1, axis=0)],
                   axis=1)
    return np.concatenate([strips, discs, fan]).astype(np.float32).reshape(-1, 3)
