"""3DDFA-style outputs (issue 23): 68-point landmarks, track formats, dense debug views, mesh export."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

import arfx
from arfx.geometry.ibug68 import CONNECTIONS, GROUPS, IBUG68, landmarks68


@pytest.fixture(scope="module")
def astronaut():
    rgb = data.astronaut()
    with arfx.FaceEffects("mesh", static=True) as fx:
        result = fx.track(rgb)
    assert len(result.faces) == 1
    return rgb, result


# -- 68-point iBUG landmarks ----------------------------------------------------------------

def _derived_ibug68() -> list[int]:
    """The table from ibug68's rules, on the canonical mesh."""
    from arfx.geometry.canonical import CanonicalFace
    from arfx.rerun_log import _boundary_loop, _edges, _rings, _through

    canonical = CanonicalFace.load()
    vertices = np.asarray(canonical.vertices, dtype=np.float64)
    adjacency = _edges(canonical.triangles)
    loop = _boundary_loop(canonical.triangles)

    def steps(path, count):  # the path's vertices nearest `count` equal frontal arc-length steps
        xy = vertices[path][:, :2]
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
        return [path[int(np.argmin(abs(s / s[-1] - t)))] for t in np.linspace(0, 1, count)]

    def oval(a, b):
        i, j = loop.index(a), loop.index(b)
        return loop[j:i + 1][::-1] if j < i else loop[i:j + 1]

    def through(*points, allowed=None):
        return _through(adjacency, vertices, points, allowed)

    def halves(path, middle, count):
        k = path.index(middle)
        return steps(path[:k + 1], count), steps(path[k:], count)

    jaw_right, jaw_left = steps(oval(127, 152), 9), steps(oval(356, 152), 9)
    table = jaw_right + jaw_left[::-1][1:]
    table += through(70, 107) + through(336, 300)
    table += steps(through(168, 4), 4) + through(98, 2, 327)
    for outer, top, inner, bottom in ((33, 159, 133, 145), (362, 386, 263, 374)):
        upper, lower = steps(through(outer, top, inner), 4), steps(through(inner, bottom, outer), 4)
        table += upper + lower[1:3]
    inner_loop = through(78, 13, 308, 14, 78)
    hops = _rings(adjacency, inner_loop)
    ring = {v for v, h in hops.items() if h == hops[61]}  # the outer lip line's ring
    (a, b), (c, d) = halves(through(61, 0, 291, allowed=ring), 0, 4), halves(through(291, 17, 61, allowed=ring), 17, 4)
    table += a + b[1:] + c[1:] + d[1:-1]
    (a, b), (c, d) = halves(through(78, 13, 308), 13, 3), halves(through(308, 14, 78), 14, 3)
    table += a + b[1:] + c[1:] + d[1:-1]
    return table


def test_ibug68_table_follows_its_documented_rules():
    assert len(IBUG68) == 68 and len(set(IBUG68)) == 68
    assert list(IBUG68) == _derived_ibug68()
    assert sum(last - first + 1 for first, last, _ in GROUPS.values()) == 68
    assert len(CONNECTIONS) == 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8 + 1


def test_ibug68_mirror_symmetric_on_the_canonical_face():
    from arfx.geometry.canonical import CanonicalFace

    points = np.asarray(CanonicalFace.load().vertices)[list(IBUG68)]
    # iBUG's left-right pairs: jaw k <-> 16-k, brows, eyes, nose base, lips
    pairs = [(k, 16 - k) for k in range(8)] + [(17 + k, 26 - k) for k in range(5)] + [(31, 35), (32, 34)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
    for a, b in pairs:
        assert np.allclose(points[a] * [-1, 1, 1], points[b], atol=0.05), (a, b)
    for k in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66):
        assert abs(points[k, 0]) < 0.05, k


# Read off the 512x512 astronaut at 10x zoom by hand (pixels, x right, y down).
HAND_PLACED = {
    8: (220, 177),   # chin, where the skin meets the collar
    30: (223, 127),  # nose tip (its highlight)
    33: (225, 134),  # under the nose, between the nostrils
    36: (192, 100), 39: (212, 103),  # her right eye: outer and inner corner
    42: (237, 104), 45: (258, 103),  # her left eye: inner and outer corner
    48: (202, 139), 54: (245, 142),  # mouth corners
}
# The face contour's x at the height of a jaw point (the skin's edge against hair or background).
CONTOUR_X = {0: 180, 2: 180, 4: 183, 12: 266, 14: 270, 16: 270}


def test_ibug68_on_the_astronaut_matches_hand_placed_points(astronaut):
    _, result = astronaut
    points = landmarks68(result.faces[0].landmarks)
    assert points.shape == (68, 3)
    for k, expected in HAND_PLACED.items():
        error = float(np.linalg.norm(points[k, :2] - expected))
        assert error < 4.5, f"iBUG point {k} at {points[k, :2].round(1)}, {error:.1f} px from {expected}"
    for k, x in CONTOUR_X.items():
        assert abs(points[k, 0] - x) < 4.0, f"jaw point {k} at x {points[k, 0]:.1f}, contour at {x}"
    jaw = points[:17, :2]
    assert np.all(np.diff(jaw[:9, 1]) > 0) and np.all(np.diff(jaw[8:, 1]) < 0)  # down to the chin, up again
    assert jaw[:, 1].max() == jaw[8, 1]
    assert points[17:22, 1].max() < points[36:42, 1].min()  # brows above the eyes
    assert points[36:42, 0].max() < points[42:48, 0].min()  # her right eye on the image's left


def test_landmarks68_takes_any_batch_and_refuses_short_arrays():
    batch = np.random.default_rng(0).random((2, 478, 3))
    assert landmarks68(batch).shape == (2, 68, 3)
    assert np.array_equal(landmarks68(batch)[1, 30], batch[1, 4])
    with pytest.raises(ValueError, match="468"):
        landmarks68(np.zeros((68, 2)))
