"""[[trigger]] actions in effect.toml: show/hide/swap a part, switch its texture, play a clip,
throw a burst of sprites, when an expression score crosses its threshold (with hysteresis).

The rendering tests draw the built-in `reactions` effect (scripts/make_reactions.py) with real
GL on the astronaut photo, its tracked face's scores overwritten frame by frame."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from arfx.effects.registry import EffectRegistry, parse_manifest
from arfx.effects.schema import ManifestError
from arfx.triggers import TriggerActions

REACTIONS = Path(__file__).resolve().parents[1] / "assets" / "effects" / "reactions"
BASE = 'kind = "object3d"\nasset = "a.glb"\n'


def test_actions_parse_and_bad_ones_get_one_line_reasons():
    manifest = parse_manifest(BASE + """
[[trigger]]
when = "jawOpen > 0.5"
show = "flame"
[[trigger]]
when = "browInnerUp > 0.5"
swap = {part = "halo", with = "horns"}
[[trigger]]
when = "eyeBlinkLeft > 0.5"
burst = {sprite = "heart.png", count = 5, gravity = -10, at = "face.eyes"}
play = "wink"
texture = {part = "cheeks", image = "b.png"}
[[trigger]]
when = "mouthSmileLeft > 0.4"
""")
    show, swap, many, plain = manifest.trigger
    assert show.show == "flame" and show.acts and swap.swap == ("halo", "horns")
    assert (many.burst.count, many.burst.gravity, str(many.burst.at), many.burst.life) == (5, -10.0, "face.eyes", 1.0)
    assert many.play == "wink" and many.texture == ("cheeks", "b.png") and not plain.acts
    for table, message in (('swap = {part = "halo"}', "swap needs with"),
                           ('swap = "halo"', "must be a table like"),
                           ('burst = {sprite = "h.png", count = 0}', "burst.count must be a whole number from 1"),
                           ('burst = {sprite = "h.png", colour = 1}', "unknown key 'colour'"),
                           ('burst = {sprite = "h.png", at = "face.ear"}', "unknown face point"),
                           ('play = 3', "trigger play must be the name of an animation clip"),
                           ('hide = ""', "must be a part name"),
                           ('shwo = "x"', "did you mean 'show'")):
        with pytest.raises(ManifestError, match=message):
            parse_manifest(BASE + f'[[trigger]]\nwhen = "jawOpen > 0.5"\n{table}\n')


def _face(face_id: int, **scores) -> SimpleNamespace:
    return SimpleNamespace(id=face_id, expressions=scores)


def test_each_face_has_its_own_state_with_hysteresis_and_edges_fire_once():
    triggers = parse_manifest(BASE + """
[[trigger]]
when = "jawOpen > 0.5"
swap = {part = "halo", with = "horns"}
play = "roar"
[[trigger]]
when = "eyeBlinkLeft > 0.5"
show = "tear"
hide = "eyes"
burst = {sprite = "heart.png"}
""").trigger
    actions = TriggerActions(triggers)
    rest = actions.update(_face(1, jawOpen=0.1, eyeBlinkLeft=0.0), 0.0)
    assert rest.hidden == {"horns", "tear"} and rest.clip is None and rest.bursts == []
    opened = actions.update(_face(1, jawOpen=0.7, eyeBlinkLeft=0.0), 0.1)
    assert opened.hidden == {"halo", "tear"} and opened.clip == ("roar", 0.1)
    # Just under the threshold it stays on (hysteresis 0.1); the clip is not restarted.
    hovering = actions.update(_face(1, jawOpen=0.45, eyeBlinkLeft=0.0), 0.2)
    assert hovering.hidden == {"halo", "tear"} and hovering.clip == ("roar", 0.1)
    assert actions.update(_face(1, jawOpen=0.3), 0.3).hidden == {"horns", "tear"}
    assert actions.update(_face(1, jawOpen=0.7), 0.4).clip == ("roar", 0.4)  # opened again: restarts
    # Another face: its own edges; one burst per blink, not per frame of it.
    blinks = [actions.update(_face(2, eyeBlinkLeft=score), 0.5 + i / 30)
              for i, score in enumerate((0.0, 0.9, 0.9, 0.8, 0.1, 0.9))]
    assert [len(b.bursts) for b in blinks] == [0, 1, 0, 0, 0, 1]
    assert blinks[1].hidden == {"horns", "eyes"} and blinks[1].clip is None


def test_actions_naming_what_the_effect_lacks_make_it_broken(tmp_path, no_user_effects):
    def effect(name: str, trigger: str, kind: str = "object3d", asset: str = "reactions.glb") -> None:
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(REACTIONS / asset, folder / asset)
        shutil.copy(REACTIONS / "heart.png", folder / "heart.png")
        (folder / "effect.toml").write_text(f'kind = "{kind}"\nasset = "{asset}"\n[[trigger]]\n'
                                            f'when = "jawOpen > 0.5"\n{trigger}\n')

    effect("nopart", 'hide = "hat"')
    effect("noclip", 'play = "dance"')
    effect("outside", 'burst = {sprite = "../nopart/heart.png"}')
    effect("paint", 'burst = {sprite = "heart.png"}', kind="facepaint", asset="heart.png")
    effect("nouvs", 'texture = {part = "halo", image = "heart.png"}')
    effect("fine", 'swap = {part = "halo", with = "exclaim"}\nburst = {sprite = "heart.png"}\n'
           'texture = {part = "bubble", image = "heart.png"}')
    found = {info.name: info.broken for info in EffectRegistry([tmp_path]).verify() if info.source == "dir"}
    assert "part 'hat'" in found["nopart"] and "bubble, exclaim, halo" in found["nopart"]
    assert "clip 'dance' does not exist" in found["noclip"] and "'spin'" in found["noclip"]
    assert "outside the effect folder" in found["outside"]
    assert "not a facepaint one" in found["paint"]
    assert "part 'halo', which has no texture coordinates" in found["nouvs"]  # would be one flat colour
    assert found["fine"] is None


@pytest.fixture(scope="module")
def reactions():
    """(render(timestamp, **scores) -> frame, the frame at rest) for the built-in reactions."""
    import arfx
    from arfx.demo import astronaut_image

    rgb = np.ascontiguousarray(astronaut_image())
    with arfx.FaceEffects("reactions", static=True, effects_dirs=()) as fx:
        result = fx.track(rgb)
        face = result.faces[0]
        names = list(face.expressions)

        def render(timestamp: float, effect=None, **scores) -> np.ndarray:
            face.expressions.update({name: 0.0 for name in names}, **scores)
            result.timestamp = timestamp
            return fx._pipeline.renderer.render(rgb, result, effect or fx.effect).astype(int)

        yield render


def _changed(a: np.ndarray, b: np.ndarray) -> int:
    return int((np.abs(a - b).max(axis=2) > 40).sum())


def _top(image: np.ndarray, colour: str) -> int:
    """Red or gold pixels over the head (the top 80 rows; the suit below is orange-red)."""
    r, g, b = image[:80, :, 0], image[:80, :, 1], image[:80, :, 2]
    mask = (r > 170) & (g < 90) & (b < 110) if colour == "red" else (r > 170) & (g > 120) & (b < 90)
    return int(mask.sum())


def test_raised_brows_swap_the_halo_for_an_exclamation_mark_with_hysteresis(reactions):
    rest = reactions(0.0)
    assert _top(rest, "gold") > 500 and _top(rest, "red") == 0
    raised = reactions(0.1, browInnerUp=0.8)
    assert _top(raised, "gold") == 0 and _top(raised, "red") > 100
    assert _top(reactions(0.2, browInnerUp=0.45), "red") > 100  # still on just under 0.5
    back = reactions(0.3, browInnerUp=0.35)
    assert _top(back, "red") == 0 and _changed(back, rest) == 0


def test_smile_switches_the_bubble_texture_and_an_open_mouth_spins_it_once(reactions):
    rest = reactions(10.0)
    smile = reactions(10.1, mouthSmileLeft=0.8)
    assert _changed(smile, rest) > 150
    assert _changed(reactions(10.2), rest) == 0
    reactions(11.0, jawOpen=0.6)  # the clip starts here
    spinning = reactions(11.2, jawOpen=0.6)
    assert _changed(spinning, rest) > 1000  # the disc turned edge-on
    # The 0.8 s clip plays once: with the mouth still open the bubble is back at rest.
    assert _changed(reactions(12.0, jawOpen=0.6), rest) == 0


def test_a_blink_throws_hearts_that_fly_and_fade(reactions):
    rest = reactions(20.0)
    reactions(20.1, eyeBlinkLeft=0.9)
    flying = reactions(20.5)
    assert _changed(flying, rest) > 500
    assert _changed(reactions(20.9), flying) > 300  # they moved
    assert _changed(reactions(21.4), rest) == 0  # life 1.2 s: gone


def test_show_and_hide_parts_of_a_users_effect(reactions, tmp_path):
    from arfx.effects.registry import load_effect_path

    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(REACTIONS / "reactions.glb", folder / "reactions.glb")
    (folder / "effect.toml").write_text('kind = "object3d"\nasset = "reactions.glb"\n[placement]\nunits = "m"\n'
                                        '[[trigger]]\nwhen = "jawOpen > 0.5"\nhide = "halo"\n'
                                        '[[trigger]]\nwhen = "jawOpen > 0.5"\nshow = "exclaim"\n')
    effect = load_effect_path(folder)
    rest = reactions(30.0, effect)
    assert _top(rest, "gold") > 500 and _top(rest, "red") == 0
    opened = reactions(30.1, effect, jawOpen=0.8)
    assert _top(opened, "gold") == 0 and _top(opened, "red") > 100


def test_reactions_files_are_what_its_script_makes():
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_reactions.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"run scripts/make_reactions.py: {done.stdout}{done.stderr}"


def test_an_effect_reacting_to_blinks_tracks_refined_eyelids():
    """Blink scores need the attention model's eyelids; the pipeline turns it on by itself for
    an effect whose triggers read them, and leaves other effects on the faster model."""
    from skimage import data

    import arfx

    astronaut = np.ascontiguousarray(data.astronaut())

    with arfx.FaceEffects("reactions", static=True) as fx:
        assert fx.track(astronaut).faces[0].landmarks.shape[0] == 478
    with arfx.FaceEffects("glasses", static=True) as fx:
        assert fx.track(astronaut).faces[0].landmarks.shape[0] == 468
