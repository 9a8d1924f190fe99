"""A wide-angle camera (85 degrees vertical) with the face in the frame's corners: the pose's
depth and the glasses, tracked by arfx's own tracker with the right and with the default field
of view.

The clip: the astronaut's face warped onto the canonical face mesh (scripts/measure_fov.py's
PhotoFace) at a known pose, 31 cm from the camera (a third of the frame height), turned to
look at the camera, in each corner and in the centre of a 640x480 frame. The canonical mesh is
drawn at its own size, so the true depth is known, and so are the true places of the glasses'
lens centres (the glasses' model on the true pose, projected with the true camera).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import arfx
from arfx.effects.registry import EffectRegistry
from arfx.geometry import CanonicalFace, rotation_from_euler
from arfx.geometry.camera import PerspectiveCamera
from makers import load_script

W, H = 640, 480
WIDE = 85.0  # degrees, vertical: a wide-angle phone selfie
FACE_FRACTION = 0.3  # the face's height over the frame's
EYES = (33, 133, 263, 362)  # outer and inner corners, right eye then left


def facing_camera(centre: np.ndarray) -> np.ndarray:
    """The rotation turning the face's forward axis (+z) towards the camera from `centre`."""
    distance = float(np.linalg.norm(centre))
    yaw = math.degrees(math.atan2(-centre[0], -centre[2]))
    pitch = -math.degrees(math.asin(centre[1] / distance))
    return rotation_from_euler(yaw, pitch, 0.0)


@pytest.fixture(scope="module")
def clip():
    """[(rgb, rotation, centre cm)] for the four corners and the centre, seen at WIDE degrees."""
    script = load_script("measure_fov")
    photo = script.PhotoFace()
    vertices = CanonicalFace.load().vertices.astype(np.float64)
    tan = math.tan(math.radians(WIDE) / 2)
    depth = script.FACE_HEIGHT_CM / (2 * tan * FACE_FRACTION)
    # As far out as the face fits: 80 % of the way from the centre to where its edge meets the frame's.
    free_x = 0.8 * (tan * depth * W / H - 0.6 * script.FACE_HEIGHT_CM)
    free_y = 0.8 * (tan * depth - 0.6 * script.FACE_HEIGHT_CM)
    yy, xx = np.mgrid[0:H, 0:W]
    background = np.stack([60 + 40 * xx / W, 70 + 30 * yy / H, 90 + 0 * xx], axis=2).astype(np.uint8)
    frames = []
    for sx, sy in ((-1, 1), (1, 1), (-1, -1), (1, -1), (0, 0)):
        centre = np.array([sx * free_x, sy * free_y, -depth])
        rotation = facing_camera(centre)
        frames.append((photo.render(vertices @ rotation.T + centre, WIDE, W, H, background), rotation, centre))
    return frames


def lens_centres() -> np.ndarray:
    """[2,3] the glasses' lens centres in canonical face space (cm), as the effect places them."""
    glasses = EffectRegistry().load("glasses")
    lenses = [m for m in glasses.meshes if m.name in ("lens_right", "lens_left")]
    return np.array([(glasses.placement @ m.transform @ np.append(m.centroid_local(), 1.0))[:3]
                     for m in lenses])


@pytest.fixture(scope="module")
def tracked(clip):
    """fov -> [(pose, camera)] per frame of the clip, from FaceEffects drawing the glasses."""
    out = {}
    for fov in (WIDE, 63.0):
        poses = []
        with arfx.FaceEffects("glasses", fov=fov, static=True) as fx:
            for rgb, _, _ in clip:
                fx(rgb)
                assert len(fx.faces) == 1 and fx.faces[0].pose is not None
                poses.append((fx.faces[0].pose.astype(np.float64), fx.result.camera))
        out[fov] = poses
    return out


def lens_errors(clip, tracked, fov: float) -> np.ndarray:
    """[frames, 2]: how far each drawn lens centre is from its true place, in inter-ocular distances."""
    lenses, truth_camera = lens_centres(), PerspectiveCamera(WIDE)
    vertices = CanonicalFace.load().vertices.astype(np.float64)
    errors = []
    for (_, rotation, centre), (pose, camera) in zip(clip, tracked[fov]):
        assert camera.fov_y == fov
        drawn = camera.project(lenses @ pose[:3, :3].T + pose[:3, 3], W, H)
        truth = truth_camera.project(lenses @ rotation.T + centre, W, H)
        eyes = truth_camera.project(vertices[list(EYES)] @ rotation.T + centre, W, H)
        iod = np.linalg.norm(eyes[:2].mean(axis=0) - eyes[2:].mean(axis=0))
        errors.append(np.linalg.norm(drawn - truth, axis=1) / iod)
    return np.asarray(errors)


def test_pose_depth_scales_with_the_field_of_view(clip, tracked):
    true_depth = np.array([-centre[2] for _, _, centre in clip])
    right = np.array([-pose[2, 3] for pose, _ in tracked[WIDE]])
    wrong = np.array([-pose[2, 3] for pose, _ in tracked[63.0]])
    # The canonical face at its own size: with the right camera the pose is about as far as it is
    # (measured: 1.01-1.06 of it), at most half as far off as with the default's narrower view.
    right_error, wrong_error = np.abs(right / true_depth - 1), np.abs(wrong / true_depth - 1)
    assert np.all(right_error < 0.2) and np.all(right_error < 0.5 * wrong_error), (right_error, wrong_error)
    # The default's narrower view puts the same picture farther: in the centre by the ratio of the
    # focal lengths (1.50; measured 1.45). In the corners by less (measured 1.34): it sees the face
    # at 29 instead of 40 degrees off the axis, and a face's picture there is stretched by 1 / cos
    # of that angle across the ray and 1 / cos^2 along it, so the same picture is a nearer face
    # (the pose is fitted in perspective, `GeometryPipeline(refine=True)`).
    tan_wide, tan_default = math.tan(math.radians(WIDE) / 2), math.tan(math.radians(63.0) / 2)
    focal_ratio = tan_wide / tan_default
    ratio = wrong / right
    assert ratio[-1] == pytest.approx(focal_ratio, rel=0.05)
    off_axis = np.array([math.atan(math.hypot(*centre[:2]) / -centre[2]) for _, _, centre in clip[:4]])
    seen_default = np.arctan(np.tan(off_axis) / focal_ratio)
    stretch = np.cos(off_axis) / np.cos(seen_default)
    assert np.all((focal_ratio * stretch ** 2 < ratio[:4]) & (ratio[:4] < focal_ratio * stretch ** 0.5)), \
        (ratio, focal_ratio * stretch ** 2, focal_ratio * stretch ** 0.5)


def test_glasses_on_the_eyes_in_the_centre(clip, tracked):
    errors = lens_errors(clip, tracked, WIDE)
    assert errors[-1].max() < 0.08, errors[-1]


def test_glasses_stay_on_the_eyes_in_the_corners(clip, tracked):
    # MediaPipe's geometry pipeline alone adds the landmark model's relative depth along the
    # camera's axis: 40 degrees off it, the pose came out 20-24 degrees turned and the lenses
    # 27-28 % of the eye distance off. Refined in perspective (a known fov): 2-8 %, the pose
    # 2.8-4.9 degrees off (in the centre 3.7, MediaPipe's 2.1); with 63 degrees 6-11 %.
    right, wrong = lens_errors(clip, tracked, WIDE), lens_errors(clip, tracked, 63.0)
    assert right[:4].max() < 0.08, right
    assert right[:4].mean() < wrong[:4].mean()
