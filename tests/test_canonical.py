"""The canonical face imported from MediaPipe's npm package has the shape a right parse gives."""

import numpy as np
import pytest

from arfx.geometry.canonical import CanonicalFace


@pytest.fixture(scope="module")
def face() -> CanonicalFace:
    return CanonicalFace.load()


def test_sizes_and_dtypes(face):
    assert face.vertices.shape == (468, 3) and face.vertices.dtype == np.float32
    assert face.uvs.shape == (468, 2) and face.uvs.dtype == np.float32
    assert face.triangles.shape == (898, 3) and face.triangles.dtype == np.int32
    assert face.landmark_ids.shape == (33,) and face.landmark_weights.shape == (33,)


def test_indices_cover_every_vertex(face):
    assert face.triangles.min() >= 0 and face.triangles.max() < 468
    assert len(np.unique(face.triangles)) == 468
    # No degenerate triangles (a misread index buffer repeats or zeroes indices).
    t = face.triangles
    assert np.all((t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2]))
    assert len(np.unique(face.landmark_ids)) == 33 and face.landmark_ids.max() < 468


def test_uvs_and_weights(face):
    assert np.all(face.uvs >= 0) and np.all(face.uvs <= 1)
    # The UVs spread over most of the texture (a wrong float offset squeezes them).
    assert np.ptp(face.uvs, axis=0).min() > 0.8
    assert np.all(face.landmark_weights > 0) and face.landmark_weights.sum() > 0
    # v grows downwards: the forehead is near the top of the texture, the chin near the bottom.
    top, bottom = face.vertices[:, 1].argmax(), face.vertices[:, 1].argmin()
    assert face.uvs[top, 1] < 0.2 and face.uvs[bottom, 1] > 0.8


def test_metric_size_and_orientation(face):
    v = face.vertices
    assert 13.0 < np.ptp(v[:, 0]) < 18.0  # about 15 cm ear to ear
    assert 15.0 < np.ptp(v[:, 1]) < 20.0  # chin to forehead
    # Landmark 1 (nose tip) is at the front of the face.
    assert v[1, 2] > v[:, 2].max() - 0.5
    assert abs(v[1, 0]) < 0.01  # on the symmetry plane


def test_triangles_face_forwards(face):
    v, t = face.vertices, face.triangles
    normals = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    assert np.mean(normals[:, 2] > 0) > 0.9


def test_symmetric_face(face):
    # Mirroring x maps the vertex set onto itself: a real face model, not shuffled floats.
    v = face.vertices.astype(np.float64)
    mirrored = v * np.array([-1.0, 1.0, 1.0])
    d = np.sqrt(((mirrored[:, None, :] - v[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert np.median(d) < 0.05
