"""refine_landmarks: 478 points with irises from the attention model, on the astronaut."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from skimage import data

from arfx.tracking import FaceTracker
from arfx.tracking.attention import (EYE_CONTOUR, AttentionLandmarkModel, LEFT_EYE, LEFT_IRIS, LIPS, RIGHT_EYE,
                                     RIGHT_IRIS, refine)


@pytest.fixture(scope="module")
def astronaut_faces():
    rgb = np.ascontiguousarray(data.astronaut())
    with FaceTracker(static_image_mode=True) as plain:
        base = plain.process(rgb)
    with FaceTracker(static_image_mode=True, refine_landmarks=True) as refined:
        faces = refined.process(rgb)
    return base, faces


def _eye_polygon(points: np.ndarray, subset: np.ndarray) -> np.ndarray:
    # the contour is the lower lid corner to corner, then the upper lid without corners
    lower, upper = subset[:9], subset[9:EYE_CONTOUR]
    return points[np.concatenate([lower, upper[::-1]]), :2].astype(np.float32)


def test_refined_face_has_478_points_and_irises_in_the_eyes(astronaut_faces):
    _, faces = astronaut_faces
    assert len(faces) == 1
    points = faces[0].landmarks
    assert points.shape == (478, 3) and points.dtype == np.float32
    assert faces[0].score > 0.9
    for iris, eye in ((LEFT_IRIS, LEFT_EYE), (RIGHT_IRIS, RIGHT_EYE)):
        polygon = _eye_polygon(points, eye)
        centre = points[iris[0], :2]
        assert cv2.pointPolygonTest(polygon, (float(centre[0]), float(centre[1])), False) > 0
        # the iris is smaller than the eye: its edges lie around the centre, within the eye width
        eye_width = np.linalg.norm(polygon[0] - polygon[8])
        radius = np.linalg.norm(points[iris[1:], :2] - centre, axis=1)
        assert np.all(radius > 0.05 * eye_width) and np.all(radius < 0.6 * eye_width)
        # irises carry the eye contour's mean depth (the model predicts none)
        assert np.allclose(points[iris, 2], points[eye[:EYE_CONTOUR], 2].mean(), atol=1e-3)
    # the two irises are the two different eyes
    assert points[LEFT_IRIS[0], 0] < points[RIGHT_IRIS[0], 0]


def test_refined_mesh_close_to_plain_mesh(astronaut_faces):
    base, faces = astronaut_faces
    plain, refined = base[0].landmarks, faces[0].landmarks[:468]
    iod = np.linalg.norm(plain[33, :2] - plain[263, :2])
    nme = np.linalg.norm(plain[:, :2] - refined[:, :2], axis=1).mean() / iod
    assert nme < 0.02
    assert not np.allclose(plain[LIPS, :2], refined[LIPS, :2])  # the lips did get refined


def test_refine_places_each_subset():
    rng = np.random.default_rng(1)
    mesh = rng.normal(size=(468, 3)).astype(np.float32)
    parts = [rng.normal(size=(n, 2)).astype(np.float32) for n in (80, 71, 71, 5, 5)]
    out = refine(mesh, np.concatenate(parts))
    assert out.shape == (478, 3)
    for subset, part in zip((LIPS, LEFT_EYE, RIGHT_EYE, LEFT_IRIS, RIGHT_IRIS), parts):
        np.testing.assert_array_equal(out[subset, :2], part)
    touched = np.concatenate([LIPS, LEFT_EYE, RIGHT_EYE])
    assert len(set(touched.tolist())) == len(touched) and touched.max() < 468
    untouched = np.setdiff1d(np.arange(468), touched)
    np.testing.assert_array_equal(out[untouched], mesh[untouched])
    np.testing.assert_array_equal(out[:468, 2], mesh[:, 2])  # refined subsets keep mesh depth


def test_refine_runs_beside_the_468_point_model_with_the_same_result():
    # Fast jumps make the tracker look at some faces twice (the attention run on the first
    # crop is then wasted); every face's 478 points must still be the attention model's
    # refinement of its 468-point mesh in its own crop, as if both models ran one after the
    # other.
    rgb = np.ascontiguousarray(data.astronaut())
    frames = [np.roll(rgb, (dy, dx), axis=(0, 1)) for dx, dy in
              ((0, 0), (45, 10), (95, 5), (60, -30), (0, 0), (-70, 20))]
    with FaceTracker(refine_landmarks=True, smooth=False) as refined:
        faces = [refined.process(f) for f in frames]
        assert any(t.name.startswith("arfx-refine") for t in threading.enumerate())
    with FaceTracker(smooth=False) as plain:
        meshes = [plain.process(f) for f in frames]
    serial = AttentionLandmarkModel()
    assert [len(f) for f in faces] == [len(m) for m in meshes] == [1] * len(frames)
    for frame, (face,), (mesh,) in zip(frames, faces, meshes):
        assert face.roi == mesh.roi
        expected = serial.refine_mesh(frame, mesh.roi, mesh.landmarks)
        np.testing.assert_array_equal(face.landmarks, expected)
