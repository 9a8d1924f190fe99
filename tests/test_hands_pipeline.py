"""Hands in the shared pipeline: FrameResult.hands, hand anchors, the hands debug view, `arfx track --hands`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import arfx
from arfx.geometry.camera import PerspectiveCamera
from arfx.geometry.hand_space import hand_in_camera_space
from makers import box_glb, green_mask

# A real hand (holding a calibration board) from OpenCV's sample data, Debian package opencv-doc
# (.ci/run installs it); not committed to the repository.
HAND_PHOTO = Path("/usr/share/doc/opencv-doc/examples/data/right04.jpg")
needs_photo = pytest.mark.skipif(not HAND_PHOTO.is_file(), reason="needs opencv-doc's right04.jpg (apt install opencv-doc)")


@pytest.fixture(scope="module")
def hand_photo() -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(str(HAND_PHOTO))[:, :, ::-1])


def test_hand_depth_from_metric_spread_matches_a_projected_hand():
    """A hand of known size projected at a known depth is placed back at that depth."""
    camera = PerspectiveCamera()
    width, height = 640, 480
    rng = np.random.default_rng(0)
    world = rng.normal(0, 0.03, (21, 3))  # metres, MediaPipe axes (x right, y down, z away)
    world[9] = world[0] + [0.0, -0.09, 0.0]  # middle finger base above the wrist
    world[5], world[17] = world[9] + [0.02, 0, 0], world[9] - [0.03, 0, 0]
    centre = np.array([8.0, -5.0, -40.0])  # cm, camera space
    points = world * [100.0, -100.0, -100.0] - (world * [100.0, -100.0, -100.0]).mean(axis=0) + centre
    focal = camera.focal_pixels(height)
    pixels = np.stack([points[:, 0] / -points[:, 2] * focal + width / 2,
                       -points[:, 1] / -points[:, 2] * focal + height / 2, np.zeros(21)], axis=1)
    pose, placed = hand_in_camera_space(pixels, world, width, height, camera)
    assert abs(placed.mean(axis=0)[2] - centre[2]) < 0.05 * abs(centre[2])
    assert np.allclose(np.linalg.det(pose[:3, :3]), 1.0, atol=1e-4)
    assert pose[:3, 1] @ np.array([0.0, 1.0, 0.0]) > 0.9  # +y runs from the wrist to the fingers


@needs_photo
def test_hands_are_tracked_only_when_asked_or_needed(hand_photo):
    rgb = hand_photo
    with arfx.FaceEffects("mesh", static=True, hands=True) as fx:
        assert len(fx.track(rgb).hands) == 1  # asked for
    with arfx.FaceEffects("mesh", static=True) as fx:
        assert fx.track(rgb).hands == []  # no effect needs hands: none are tracked
        assert all(stage.name != "hand" for stage in fx._pipeline.stages)
        fx.effect = "hands"
        assert len(fx.track(rgb).hands) == 1  # the hands view needs them
        fx.effect = "mesh"  # switched away: hand tracking stops (the live app cycles effects)
        assert fx.track(rgb).hands == []
        assert all(stage.name != "hand" for stage in fx._pipeline.stages)
    with arfx.FaceEffects("hands", static=True, hands=True) as fx:
        fx.effect = "mesh"
        assert len(fx.track(rgb).hands) == 1  # asked for: kept whatever the effect


@needs_photo
def test_hands_view_and_hand_anchor_draw_on_the_hand(hand_photo, tmp_path):
    with arfx.FaceEffects("hands", static=True) as fx:
        out = fx(hand_photo)
        hands = fx.result.hands
    assert len(hands) == 1
    hand = hands[0]
    assert hand.landmarks.shape == (21, 3) and hand.world.shape == (21, 3) and hand.score > 0.5
    assert hand.handedness in ("left", "right") and hand.pose is not None and hand.pose[2, 3] < -10
    changed = np.abs(out.astype(int) - hand_photo.astype(int)).max(axis=2) > 40
    for point in hand.landmarks[[0, 4, 8, 12, 20], :2].astype(int):
        x, y = point
        assert changed[y - 3:y + 4, x - 3:x + 4].any()
    # A small green box anchored to the index finger's tip is drawn there.
    folder = tmp_path / "ring"
    folder.mkdir()
    box_glb(folder / "box.glb", centre=(0.0, 0.0, 0.0), size=1.5)
    (folder / "effect.toml").write_text('kind = "object3d"\nasset = "box.glb"\nanchor = "hand.index_tip"\n'
                                        '[occlusion]\nface = false\n')
    with arfx.FaceEffects(folder, static=True) as fx:
        out = fx(hand_photo)
        tip = fx.result.hands[0].landmarks[8, :2]
    ys, xs = np.nonzero(green_mask(out))
    assert len(xs) > 10
    assert np.hypot(np.median(xs) - tip[0], np.median(ys) - tip[1]) < 10


@needs_photo
def test_hands_view_bones_are_thick_enough_to_see_on_a_large_photo(hand_photo):
    """Bones are bands a few pixels wide that grow with the picture, not 1 px GL lines."""
    import cv2

    large = cv2.resize(hand_photo, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR)
    with arfx.FaceEffects("hands", static=True) as fx:
        out = fx(large)
        points = fx.result.hands[0].landmarks[:, :2]
    painted = np.abs(out.astype(int) - large.astype(int)).max(axis=2) > 40
    # Across the middle of the bone from the wrist to the index finger base, count painted pixels.
    start, end = points[0], points[5]
    normal = np.array([-(end - start)[1], (end - start)[0]]) / np.linalg.norm(end - start)
    middle = (start + end) / 2
    across = [painted[int(round(y)), int(round(x))]
              for x, y in (middle + normal * t for t in np.arange(-8, 8.5, 0.5))]
    assert sum(across) / 2 >= 3.0  # pixels of bone across its width (half-pixel steps)


@needs_photo
def test_track_writes_hand_keys_only_with_hands(tmp_path):
    from arfx.cli import main
    from arfx.track import HAND_KEYS

    with_hands, without = tmp_path / "h.npz", tmp_path / "n.npz"
    assert main(["track", str(HAND_PHOTO), "-o", str(with_hands), "--hands"]) == 0
    assert main(["track", str(HAND_PHOTO), "-o", str(without)]) == 0
    data = np.load(with_hands)
    assert set(HAND_KEYS) <= set(data.files) and not set(HAND_KEYS) & set(np.load(without).files)
    assert data["hand_count"].tolist() == [1] and data["hand_offset"].tolist() == [0, 1]
    xy = data["hand_landmarks"][0, :, :2]
    assert 0.5 < xy[:, 0].mean() < 0.9 and 0.3 < xy[:, 1].mean() < 0.8  # right half of the photo
    assert data["hand_handedness"][0] in ("left", "right") and np.isfinite(data["hand_pose"]).all()


def test_hand_anchor_names_are_checked():
    from arfx.effects.registry import parse_manifest
    from arfx.effects.schema import ManifestError

    parse_manifest('kind = "object3d"\nasset = "a.glb"\nanchor = "hand.thumb_tip"\n')
    with pytest.raises(ManifestError, match="unknown hand point 'thumb'"):
        parse_manifest('kind = "object3d"\nasset = "a.glb"\nanchor = "hand.thumb"\n')
    with pytest.raises(ManifestError, match="drawn on the face"):
        parse_manifest('kind = "facepaint"\nasset = "a.png"\nanchor = "hand.palm"\n')


def test_a_hand_in_front_of_the_face_hides_face_paint_and_one_behind_does_not(no_user_effects):
    """The hands occluder: paint is hidden where a hand covers the face from the camera, at the
    hand's depth (a synthetic flat hand placed over the nose, then behind the head)."""
    from skimage import data as skdata

    from arfx.result import HandResult

    rgb = np.ascontiguousarray(skdata.astronaut())
    red = np.zeros((64, 64, 4), np.uint8)
    red[..., 0] = red[..., 3] = 255
    with arfx.FaceEffects(arfx.FacePaintEffect("red", red), static=True) as fx:
        result = fx.track(rgb)
        face = result.faces[0]
        nose = face.mesh[4].astype(np.float64)  # camera space, cm
        # A flat hand-sized fan of 21 points around the line of sight through the nose.
        angles = np.linspace(0, 2 * np.pi, 21, endpoint=False)
        flat = np.stack([2.5 * np.cos(angles), 2.5 * np.sin(angles), np.zeros(21)], axis=1)

        def painted_with_hand(depth_shift: float) -> np.ndarray:
            scale = (-nose[2] + depth_shift) / -nose[2]  # same place on screen, nearer or farther
            points = (nose + flat) * scale
            hand = HandResult(0, np.zeros((21, 3), np.float32), np.zeros((21, 3), np.float32), "right", 1.0,
                              np.eye(4, dtype=np.float32), points.astype(np.float32))
            result.hands = [hand]
            return fx._pipeline.renderer.render(rgb, result, fx.effect)

        result.hands = []
        alone = fx._pipeline.renderer.render(rgb, result, fx.effect)
        in_front = painted_with_hand(-8.0)   # 8 cm nearer the camera than the nose
        behind = painted_with_hand(+25.0)    # behind the head
    x, y = face.landmarks[4, :2].astype(int)
    window = (slice(y - 6, y + 7), slice(x - 6, x + 7))
    assert np.abs(alone[window].astype(int) - rgb[window].astype(int)).max() > 20   # the nose is painted
    assert np.array_equal(in_front[window], rgb[window])                         # the hand hides the paint
    assert np.array_equal(behind[window], alone[window])                         # a hand behind hides nothing
