"""Object shader variants (arfx.effects.object3d.shader_variant): the frame's reflection is
compiled only for materials where it shows, and leaving it out of a rough dielectric changes
no pixel a viewer could see, while a metal without it would look different (so the choice
matters). Drawn under the light estimated from a colourful frame, on llvmpipe."""

from __future__ import annotations

import numpy as np
import pytest

import arfx.effects.object3d as object3d
from arfx.effects.object3d import Object3DEffect
from makers import GltfBuilder, frontal_face, headless_renderer, uv_sphere

W, H = 320, 240


@pytest.fixture(scope="module")
def renderer():
    with headless_renderer(W, H) as r:
        yield r


def render_sphere(renderer, tmp_path, name, metallic, roughness) -> np.ndarray:
    b = GltfBuilder()
    positions, normals, uvs, triangles = uv_sphere(0.04)
    m = b.material(pbrMetallicRoughness={"baseColorFactor": [0.5, 0.3, 0.2, 1.0],
                                         "metallicFactor": metallic, "roughnessFactor": roughness})
    b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=m), translation=[0, 0, 0.09])
    effect = Object3DEffect.from_file(name, b.write(tmp_path / f"{name}.glb"), occlusion=frozenset())
    # A frame with strong colour left and right: what the reflection would show.
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, : W // 2] = (240, 60, 30)
    frame[:, W // 2:] = (30, 90, 250)
    return renderer.render(frame, [frontal_face()], effect).astype(np.float64)


def both_variants(renderer, tmp_path, monkeypatch, metallic, roughness):
    chosen = render_sphere(renderer, tmp_path, "chosen", metallic, roughness)
    monkeypatch.setattr(object3d, "shows_reflections", lambda material: True)
    forced = render_sphere(renderer, tmp_path, "forced", metallic, roughness)
    return chosen, forced


def test_rough_dielectric_skips_the_reflection_without_a_visible_change(renderer, tmp_path, monkeypatch):
    chosen, forced = both_variants(renderer, tmp_path, monkeypatch, metallic=0.0, roughness=object3d.ROUGH_ENOUGH)
    assert np.abs(chosen - forced).max() <= 2.0  # of 255, on a frame of saturated colour


def test_metal_keeps_its_reflection(renderer, tmp_path, monkeypatch):
    chosen, forced = both_variants(renderer, tmp_path, monkeypatch, metallic=1.0, roughness=0.25)
    assert np.array_equal(chosen, forced)  # metals get the reflection anyway
    monkeypatch.setattr(object3d, "shows_reflections", lambda material: False)
    without = render_sphere(renderer, tmp_path, "without", 1.0, 0.25)
    assert np.abs(without - chosen).max() > 20.0  # leaving it out would show
