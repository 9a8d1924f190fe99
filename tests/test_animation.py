"""glTF animations: node TRS channels (LINEAR, STEP, CUBICSPLINE), morph-target weights and
skinning, played on the frames' timestamps (looped by default, or once), chosen and paced by
[placement.animation]; static files and skins in their bind pose draw their rest pose.

Assets are written with numpy (tests/makers.py GltfBuilder), drawn in front of a canonical face
at 45 cm under the fixed light on llvmpipe.
"""

from __future__ import annotations

import numpy as np
import pytest

from arfx.effects.object3d import Object3DEffect
from arfx.effects.registry import EffectRegistry
from arfx.errors import EffectError
from arfx.render.gltf import load_model
from arfx.render.gltf_anim import Player, pose_at, sample
from arfx.render.gltf_load import Channel
from arfx.result import FaceResult, FrameResult
from makers import WHITE, GltfBuilder, bar_file, frontal_face, headless_renderer, quad

W, H = 320, 240
DEPTH = 36.0  # cm from the camera to the assets' plane (face at 45 cm, assets 9 cm in front)


@pytest.fixture(scope="module")
def renderer():
    with headless_renderer(W, H, lighting="fixed") as r:
        yield r


def frame_at(timestamp: float) -> FrameResult:
    return FrameResult(0, float(timestamp), W, H, [FaceResult(0, None, 1.0, frontal_face())])


def drawn(renderer, effect, timestamp: float) -> np.ndarray:
    """Mask of the pixels the effect covers (unlit white over black) at `timestamp`."""
    out = renderer.render(np.zeros((H, W, 3), np.uint8), frame_at(timestamp), effect)
    return out.max(axis=2) > 128


def pixels_per_cm(renderer) -> float:
    return renderer.camera.focal_pixels(H) / DEPTH


def moving_quad(tmp_path, interpolation="LINEAR", name="move.glb") -> object:
    b = GltfBuilder()
    positions, normals, uvs, triangles = quad(0.02, 0.02)
    node = b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=b.material(**WHITE)),
                  translation=[0, 0, 0.09])
    times = [0.0, 1.0, 2.0]
    values = [[0, 0, 0.09], [0.04, 0, 0.09], [0, 0, 0.09]]
    if interpolation == "CUBICSPLINE":  # zero tangents: (in, value, out) per key
        values = [v for value in values for v in ([0, 0, 0], value, [0, 0, 0])]
    b.animation("slide", [(node, "translation", times, values, interpolation)])
    b.animation("still", [(node, "scale", [0.0, 1.0], [[1, 1, 1], [1, 1, 1]], "LINEAR")])
    return b.write(tmp_path / name)


def centre_x(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    assert len(xs) > 20, "nothing drawn"
    return float(xs.mean())


def test_channels_interpolate_linear_step_cubic_and_slerp():
    times = np.array([0.0, 2.0])
    linear = Channel(0, "translation", times, np.array([[0.0, 0, 0], [4.0, 0, 0]]), "LINEAR")
    step = Channel(0, "translation", times, np.array([[0.0, 0, 0], [4.0, 0, 0]]), "STEP")
    cubic = Channel(0, "translation", times, np.array([[[0, 0, 0], [0.0, 0, 0], [2.0, 0, 0]],
                                                       [[2.0, 0, 0], [4.0, 0, 0], [0, 0, 0]]]), "CUBICSPLINE")
    assert sample(linear, 0.5)[0] == pytest.approx(1.0)
    assert sample(step, 1.9)[0] == 0.0 and sample(step, 2.0)[0] == 4.0
    # Hermite with tangents 2/s x 2 s: a straight line at constant speed (t = 0.25 of the span).
    assert sample(cubic, 0.5)[0] == pytest.approx(1.0)
    assert sample(linear, -1.0)[0] == 0.0 and sample(linear, 9.0)[0] == 4.0  # clamped
    half = np.sin(np.pi / 4)
    rotation = Channel(0, "rotation", times, np.array([[0, 0, 0, 1.0], [0, 0, half, half]]), "LINEAR")
    q = sample(rotation, 1.0)
    assert np.allclose(q, [0, 0, np.sin(np.pi / 8), np.cos(np.pi / 8)])  # half of 90 degrees


@pytest.mark.parametrize("interpolation", ["LINEAR", "STEP", "CUBICSPLINE"])
def test_node_animation_moves_the_object_to_the_expected_place(tmp_path, renderer, interpolation):
    effect = Object3DEffect.from_file("a", moving_quad(tmp_path, interpolation), occlusion=frozenset())
    start = centre_x(drawn(renderer, effect, 100.0))  # the first frame starts the clip
    half = centre_x(drawn(renderer, effect, 100.5))
    full = centre_x(drawn(renderer, effect, 101.0))
    expected = 4.0 * pixels_per_cm(renderer)  # 4 cm to the right at t = 1
    assert full - start == pytest.approx(expected, abs=1.5)
    moved = {"LINEAR": 0.5, "STEP": 0.0, "CUBICSPLINE": 0.5}[interpolation]  # Hermite, zero tangents: 0.5
    assert half - start == pytest.approx(moved * expected, abs=1.5)
    # Looped: 2 s later it is where it was.
    assert centre_x(drawn(renderer, effect, 102.5)) == pytest.approx(half, abs=0.5)


def test_play_once_holds_the_last_pose_and_speed_scales_time(tmp_path, renderer):
    path = moving_quad(tmp_path)
    once = Object3DEffect.from_file("a", path, occlusion=frozenset(), animation={"play": "once"})
    start = centre_x(drawn(renderer, once, 0.0))
    assert centre_x(drawn(renderer, once, 7.0)) == pytest.approx(start, abs=0.5)  # ended at t = 2 (back)
    fast = Object3DEffect.from_file("b", path, occlusion=frozenset(), animation={"speed": 2.0})
    start = centre_x(drawn(renderer, fast, 0.0))
    assert centre_x(drawn(renderer, fast, 0.5)) - start == pytest.approx(4.0 * pixels_per_cm(renderer), abs=1.5)
    still = Object3DEffect.from_file("c", path, occlusion=frozenset(), animation={"clip": "still"})
    start = centre_x(drawn(renderer, still, 0.0))
    assert centre_x(drawn(renderer, still, 0.5)) == pytest.approx(start, abs=0.1)


def test_clip_chosen_in_effect_toml_by_name_or_index(tmp_path, no_user_effects):
    folder = tmp_path / "slider"
    folder.mkdir()
    moving_quad(folder, name="thing.glb")
    (folder / "effect.toml").write_text('kind = "object3d"\nasset = "thing.glb"\n[placement]\nunits = "m"\n'
                                        '[placement.animation]\nclip = "still"\nspeed = 0.5\nplay = "once"\n')
    effect = EffectRegistry([tmp_path]).load("slider")
    assert effect.animation == {"clip": "still", "speed": 0.5, "play": "once"}
    (folder / "effect.toml").write_text('kind = "object3d"\nasset = "thing.glb"\n'
                                        '[placement.animation]\nclip = "fly"\n')
    with pytest.raises(EffectError, match="clip 'fly' does not exist; the file has 0: 'slide', 1: 'still'"):
        EffectRegistry([tmp_path]).load("slider")
    (folder / "effect.toml").write_text('kind = "object3d"\nasset = "thing.glb"\n'
                                        '[placement.animation]\nplay = "bounce"\n')
    with pytest.raises(EffectError, match="play"):
        EffectRegistry([tmp_path]).load("slider")


def test_morph_target_weights_animate(tmp_path, renderer):
    b = GltfBuilder()
    positions, normals, uvs, triangles = quad(0.04, 0.02)
    target = np.zeros_like(positions)
    target[:2, 1] = 0.02  # the top edge rises 2 cm at weight 1
    node = b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=b.material(**WHITE),
                              targets=[target]), translation=[0, 0, 0.09])
    b.animation("grow", [(node, "weights", [0.0, 1.0, 2.0], [0.0, 1.0, 0.0], "LINEAR")])
    effect = Object3DEffect.from_file("m", b.write(tmp_path / "morph.glb"), occlusion=frozenset())
    rows = {}
    for t in (0.0, 0.5, 1.0):
        ys, _ = np.nonzero(drawn(renderer, effect, t))
        rows[t] = (ys.min(), ys.max())
    per_cm = pixels_per_cm(renderer)
    assert rows[0.0][0] - rows[1.0][0] == pytest.approx(2.0 * per_cm, abs=1.5)  # top rose 2 cm
    assert rows[0.0][0] - rows[0.5][0] == pytest.approx(1.0 * per_cm, abs=1.5)
    assert rows[0.0][1] == rows[1.0][1]  # bottom edge stays


def test_a_skinned_bar_bends(tmp_path, renderer):
    effect = Object3DEffect.from_file("bar", bar_file(tmp_path, animated=True), occlusion=frozenset())
    rest = drawn(renderer, effect, 0.0)
    bent = drawn(renderer, effect, 1.0 - 1e-6)  # just before the loop wraps: 90 degrees
    per_cm = pixels_per_cm(renderer)
    rest_ys, rest_xs = np.nonzero(rest)
    ys, xs = np.nonzero(bent)
    elbow_x = W / 2  # the elbow sits on the optical axis
    assert rest_ys.max() - rest_ys.min() == pytest.approx(1.0 * per_cm, abs=2)  # a flat bar
    # Bent 90 degrees up at the elbow: nothing right of it past half the bar's thickness,
    # and the forearm reaches 4 cm above the bar's centre line.
    assert xs.max() <= elbow_x + 0.5 * per_cm + 2
    assert (H / 2 - ys.min()) == pytest.approx(4.5 * per_cm, abs=3)
    # The upper arm (left half) has not moved.
    left = slice(0, int(elbow_x - per_cm))
    assert (rest[:, left] == bent[:, left]).all()


def test_rest_pose_is_unchanged_for_static_and_bind_pose_files(tmp_path, renderer):
    plain = Object3DEffect.from_file("p", bar_file(tmp_path, False, skinned=False, name="plain.glb"),
                                     occlusion=frozenset())
    skinned = Object3DEffect.from_file("s", bar_file(tmp_path, False, name="skinned.glb"), occlusion=frozenset())
    a, b = drawn(renderer, plain, 0.0), drawn(renderer, skinned, 0.0)
    assert (a == b).all()  # a skin in its bind pose draws the mesh as it is
    assert (drawn(renderer, skinned, 3.7) == b).all()  # and does not move without animations
    model = load_model(tmp_path / "skinned.glb")
    assert Player(model).active is False
    pose = pose_at(model, None, 0.0)
    assert np.allclose(pose.world[0][:3, 3], [-4.0, 0.0, 9.0])  # cm


def test_vertex_shader_skinning_matches_cpu_skinning(tmp_path, renderer, monkeypatch):
    """Skins up to MAX_GPU_JOINTS joints are skinned in the vertex shader; bigger ones on the
    CPU; both draw the same bent bar."""
    import arfx.render.gltf_anim as gltf_anim

    path = bar_file(tmp_path, animated=True)
    gpu = Object3DEffect.from_file("gpu", path, occlusion=frozenset())
    first = drawn(renderer, gpu, 0.0)  # its pass is made now, with the shader's skinning
    monkeypatch.setattr(gltf_anim, "MAX_GPU_JOINTS", 0)
    cpu = Object3DEffect.from_file("cpu", path, occlusion=frozenset())
    assert (first == drawn(renderer, cpu, 0.0)).all()
    for t in (0.3, 0.7):
        a, b = drawn(renderer, gpu, t), drawn(renderer, cpu, t)
        assert renderer.effect_pass(gpu).meshes[0].gpu_skin and not renderer.effect_pass(cpu).meshes[0].gpu_skin
        assert (a != b).sum() <= 4, t  # a few edge pixels of rounding


def test_an_animation_starts_when_its_effect_appears(tmp_path, renderer):
    """Shown by a trigger (or when the face comes back), a clip starts from its beginning; while
    the effect stays drawn it keeps playing."""
    from arfx.triggers import Condition, ShowWhen

    effect = Object3DEffect.from_file("a", moving_quad(tmp_path), occlusion=frozenset())
    effect.trigger = ShowWhen((Condition.parse("jawOpen > 0.5"),))

    def shown(timestamp: float, mouth: float) -> np.ndarray:
        result = frame_at(timestamp)
        result.faces[0].expressions = {"jawOpen": mouth}
        return renderer.render(np.zeros((H, W, 3), np.uint8), result, effect).max(axis=2) > 128

    start = centre_x(shown(10.0, 0.9))
    moved = centre_x(shown(10.5, 0.9))              # half a second in: moved right
    assert moved - start > 1.0 * pixels_per_cm(renderer)
    assert not shown(11.0, 0.0).any()                 # mouth closed: hidden
    assert centre_x(shown(11.5, 0.9)) == pytest.approx(start, abs=0.5)  # shown again: from the start
