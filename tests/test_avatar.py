"""The avatar kind: a GLB head whose morph targets (named after expressions) follow the face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

import arfx
from makers import load_script

ROOT = Path(__file__).resolve().parent.parent


def test_built_in_avatar_is_generated_deterministically():
    module = load_script("make_avatar")
    first, second = module.outputs(), module.outputs()
    assert first == second
    for path, data in first.items():
        assert path.read_bytes() == data, f"{path} is stale: run scripts/make_avatar.py"


def test_avatar_mouth_opens_and_left_eye_blinks_with_the_face(no_user_effects):
    from arfx.effects.avatar import morph_target_names

    names = {n for targets in morph_target_names(ROOT / "assets/effects/avatar/avatar.glb").values() for n in targets}
    assert {"jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "browInnerUp"} <= names
    rgb = np.ascontiguousarray(skdata.astronaut())
    with arfx.FaceEffects("avatar", static=True) as fx:
        result = fx.track(rgb)
        face = result.faces[0]

        def render(**scores) -> np.ndarray:
            for name in list(face.expressions):
                face.expressions[name] = 0.0
            face.expressions.update(scores)
            return fx._pipeline.renderer.render(rgb, result, fx.effect)

        neutral, mouth_open, left_blink = render(), render(jawOpen=1.0), render(eyeBlinkLeft=1.0)
    points = face.landmarks[:, :2]

    def changed(a, b, centre, radius=18):
        x, y = centre.astype(int)
        window = (slice(y - radius, y + radius), slice(x - radius, x + radius))
        return (np.abs(a[window].astype(int) - b[window].astype(int)).max(axis=2) > 40).mean()

    mouth, left_eye, right_eye = points[[13, 14]].mean(axis=0), points[[263, 362]].mean(axis=0), \
        points[[33, 133]].mean(axis=0)
    assert not np.array_equal(neutral, rgb)                      # the head covers the face
    assert changed(neutral, mouth_open, mouth + (0, 12)) > 0.05   # the mouth opens downwards
    # The person's left eye (the image's right) closes; the right eye does not move.
    assert changed(neutral, left_blink, left_eye) > 0.02
    assert changed(neutral, left_blink, right_eye) == 0


def test_a_glb_without_expression_targets_is_refused(tmp_path, no_user_effects):
    from makers import box_glb

    folder = tmp_path / "plain"
    folder.mkdir()
    box_glb(folder / "box.glb")
    (folder / "effect.toml").write_text('kind = "avatar"\nasset = "box.glb"\n')
    with pytest.raises(arfx.EffectError, match="no morph targets named after expressions"):
        arfx.EffectRegistry([tmp_path]).load("plain")


def test_avatar_renders_in_its_box_whatever_its_expressions(no_user_effects):
    """The avatar's box holds every expression's reach (each morph target at full weight): the
    render uploads, draws and reads back only that box, and its picture is the whole-frame
    render's, neutral, with every expression at full and with a few."""
    rgb = np.ascontiguousarray(skdata.astronaut())
    with arfx.FaceEffects("avatar", static=True) as fx:
        result = fx.track(rgb)
        face = result.faces[0]
        renderer = fx._pipeline.renderer
        try:
            for scores in ({}, {name: 1.0 for name in face.expressions},
                           {"jawOpen": 1.0, "eyeBlinkLeft": 1.0, "browInnerUp": 1.0, "mouthSmileRight": 1.0}):
                for name in list(face.expressions):
                    face.expressions[name] = scores.get(name, 0.0)
                renderer.box_only = False
                whole = renderer.render(rgb, result, fx.effect)
                renderer.box_only = True
                boxed = renderer.render(rgb, result, fx.effect)
                x, y, w, h = renderer.last_box
                assert 0 < w * h < 0.6 * rgb.shape[0] * rgb.shape[1]
                np.testing.assert_array_equal(boxed, whole)
        finally:
            renderer.box_only = True
