"""Acceptance of the offscreen renderer's speed-ups on a real photo, as a user sees them.

The renderer uploads, draws and reads back only the screen box its effects draw in
(Renderer._render_box, Object3DPass.screen_box) and sorts blended meshes again only after the
view has turned by SORT_ANGLE_DEG. A user must not be able to tell: with two tracked faces,
stacked effects, mirrored output and effects cut by the frame's edge, the box render is the
whole-frame render pixel for pixel, each face wears its own effect, and lenses seen while the
head turns are drawn as a fresh sort draws them. Real models track the astronaut photo (and a
two-face frame of her and her mirror image); real EGL renders it.
"""

from __future__ import annotations

import numpy as np
import pytest

skdata = pytest.importorskip("skimage.data")

from arfx.effects.registry import EffectRegistry  # noqa: E402
from arfx.geometry.pipeline import FaceGeometry, GeometryPipeline, rotation_from_euler  # noqa: E402
from makers import headless_renderer  # noqa: E402

#: Built-in effects that tell the renderer their box (static objects and the avatar), and
#: stacks of them (the box is the union, occluders are written per group).
BOX_EFFECTS = ["glasses", "aviators", "tophat", "crown", "cat", "venetian", "avatar",
               "glasses+tophat", "cat+crown"]


def tracked(rgb: np.ndarray, faces: int) -> list:
    """Geometries of the faces the real tracker finds in `rgb` (exactly `faces` of them)."""
    from arfx.tracking import FaceTracker

    with FaceTracker(max_num_faces=faces, static_image_mode=True) as tracker:
        found = tracker.process(rgb)
    assert len(found) == faces
    estimator = GeometryPipeline()
    geometries = [estimator.estimate(face.landmarks, rgb.shape[1], rgb.shape[0]) for face in found]
    assert all(g is not None for g in geometries)
    return geometries


@pytest.fixture(scope="module")
def registry():
    return EffectRegistry(include_user=False)


@pytest.fixture(scope="module")
def two_faces():
    """The astronaut beside her mirror image (1024x512), and both faces' geometries, left first."""
    one = skdata.astronaut()
    rgb = np.ascontiguousarray(np.hstack([one, one[:, ::-1]]))
    geometries = tracked(rgb, 2)
    return rgb, sorted(geometries, key=lambda g: float(np.asarray(g.mesh)[:, 0].mean()))


def load(registry, name: str):
    effects = [registry.load(part) for part in name.split("+")]
    return effects[0] if len(effects) == 1 else effects


def box_and_whole(renderer, rgb, geometries, effect, mirror: bool):
    """(box render, its box, whole-frame render) of one frame."""
    renderer.box_only = True
    boxed = renderer.render(rgb, geometries, effect, mirror=mirror)
    box = renderer.last_box
    renderer.box_only = False
    try:
        whole = renderer.render(rgb, geometries, effect, mirror=mirror)
    finally:
        renderer.box_only = True
    return boxed, box, whole


def projected(geometry, renderer, rgb) -> np.ndarray:
    """The face mesh's vertices in image pixels (x, y)."""
    return renderer.camera.project(np.asarray(geometry.mesh, np.float64), rgb.shape[1], rgb.shape[0])


@pytest.mark.parametrize("name", BOX_EFFECTS)
def test_two_faces_box_render_is_the_whole_frame_render(registry, two_faces, name):
    """Two tracked faces, plain and mirrored: the box holds both faces' effects and the
    picture is the whole-frame render's, pixel for pixel (no part cut at the box, no stale
    pixels at its edge)."""
    rgb, geometries = two_faces
    effect = load(registry, name)
    with headless_renderer(rgb.shape[1], rgb.shape[0]) as renderer:
        for mirror in (False, True):
            boxed, box, whole = box_and_whole(renderer, rgb, geometries, effect, mirror)
            assert box is not None, "these effects tell their box"
            x, y, w, h = box
            assert w * h < rgb.shape[0] * rgb.shape[1] * 0.5
            # Both faces' effects are inside: the box spans from one face to the other.
            assert w > rgb.shape[1] * 0.5
            np.testing.assert_array_equal(boxed, whole)


@pytest.mark.parametrize("name", ["tophat", "aviators", "cat+crown"])
@pytest.mark.parametrize("crop", ["top-left", "right"])
def test_effects_cut_by_the_frame_edge_box_render_is_the_whole_frame_render(registry, name, crop):
    """A face partly out of the picture (its hat or glasses reach past the frame's edge):
    the box is clipped to the frame and the picture is still the whole-frame render's."""
    one = skdata.astronaut()
    rgb = np.ascontiguousarray(one[80:, 170:] if crop == "top-left" else one[:, :260])
    geometries = tracked(rgb, 1)
    effect = load(registry, name)
    with headless_renderer(rgb.shape[1], rgb.shape[0]) as renderer:
        for mirror in (False, True):
            boxed, box, whole = box_and_whole(renderer, rgb, geometries, effect, mirror)
            assert box is not None
            x, y, w, h = box
            assert x >= 0 and y >= 0 and x + w <= rgb.shape[1] and y + h <= rgb.shape[0]
            assert (x == 0 or x + w == rgb.shape[1] or y == 0), "the effect reaches the frame's edge"
            np.testing.assert_array_equal(boxed, whole)


def test_each_of_two_faces_wears_its_own_glasses(registry, two_faces):
    """Glasses on both tracked faces, each over its own eyes, and nothing drawn in the gap
    between the two heads (a box render that mixed the faces up would show it)."""
    rgb, geometries = two_faces
    with headless_renderer(rgb.shape[1], rgb.shape[0]) as renderer:
        out = renderer.render(rgb, geometries, registry.load("glasses"))
        assert renderer.last_box is not None
        points = [projected(g, renderer, rgb) for g in geometries]
    changed = np.abs(out.astype(np.int16) - rgb.astype(np.int16)).max(axis=2) > 24
    for face in points:
        eyes = face[[33, 133, 263, 362]].mean(axis=0)  # between the eye corners
        cx, cy = int(round(eyes[0])), int(round(eyes[1]))
        # The frame's lower rim and the bridge lie within a few pixels of the eye line.
        assert changed[cy - 25:cy + 25, cx - 60:cx + 60].mean() > 0.05
    # The gap between the faces' outlines (ears), with the temples' reach left out.
    gap = changed[:, int(points[0][:, 0].max()) + 30:int(points[1][:, 0].min()) - 30]
    assert gap.size and not gap.any()


def turned(geometry, yaw: float) -> FaceGeometry:
    """`geometry` turned by `yaw` degrees about its own vertical axis (a head turning)."""
    pose = np.asarray(geometry.pose, np.float64)
    mesh = np.asarray(geometry.mesh, np.float64)
    turn = pose[:3, :3] @ rotation_from_euler(yaw, 0.0, 0.0) @ pose[:3, :3].T
    out = pose.copy()
    out[:3, :3] = turn @ pose[:3, :3]
    return FaceGeometry(out.astype(np.float32), ((mesh - pose[:3, 3]) @ turn.T + pose[:3, 3]).astype(np.float32))


def test_a_mask_turning_slowly_is_drawn_as_a_fresh_sort_draws_it(registry):
    """The Venetian mask (one blended mesh whose parts overlap when seen from the side) on a
    head turning 0.45 degrees a frame from 60 degrees one way to 60 the other: each step
    alone is under the re-sort angle, yet the turns add up, and every frame checked equals a
    render whose pass sorts the mask's triangles anew (the order of the first view, kept,
    draws the far side wrongly from about 30 degrees the other way)."""
    rgb = np.ascontiguousarray(skdata.astronaut())
    geometry = tracked(rgb, 1)[0]
    effect = registry.load("venetian")
    # The studio light in both: a light estimated from the frame may be reused across frames
    # (Renderer._face_light), and the fresh renderer sees only every sixth frame.
    with headless_renderer(512, 512, lighting="fixed") as kept, \
            headless_renderer(512, 512, lighting="fixed") as fresh:
        for step in range(267):
            frame = [turned(geometry, -60.0 + 0.45 * step)]
            drawn = kept.render(rgb, frame, effect)
            if step % 6 == 5:
                fresh.release_effect(effect)  # a new pass: its first draw sorts the mask anew
                np.testing.assert_array_equal(drawn, fresh.render(rgb, frame, effect),
                                              err_msg=f"turned {-60.0 + 0.45 * step:.2f} degrees")
