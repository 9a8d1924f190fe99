"""Gesture triggers: a held gesture fires its action once; the live app acts on them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from arfx.triggers import HeldTrigger

HAND_PHOTO = Path("/usr/share/doc/opencv-doc/examples/data/right04.jpg")


def test_a_gesture_fires_once_after_its_hold_time_and_again_only_after_release():
    trigger = HeldTrigger({"victory": "screenshot", "thumbs_up": "next"}, hold=0.5)
    fired = []
    for i in range(30):  # 1 s of victory at 30 fps
        fired += trigger.update({"victory"}, i / 30)
    assert fired == ["screenshot"]
    assert trigger.update(set(), 1.0) == []            # let go
    assert trigger.update({"victory"}, 1.1) == []      # held again: not yet
    assert trigger.update({"victory"}, 1.65) == ["screenshot"]
    # A gesture that only flickers through never fires; an unmapped one is ignored.
    flicker = [trigger.update({"thumbs_up"} if i % 2 else {"fist"}, 2 + i / 30) for i in range(60)]
    assert not any(flicker)


@pytest.mark.skipif(not HAND_PHOTO.is_file(), reason="needs opencv-doc's right04.jpg (apt install opencv-doc)")
def test_live_app_takes_a_screenshot_on_a_held_gesture(display, tmp_path, monkeypatch):
    """The photo's hand points; with pointing mapped to a screenshot, holding it 0.6 s (the
    still repeated at 30 fps) saves one screenshot with no key pressed."""
    from arfx import triggers
    from arfx.app import AppOptions, LiveApp

    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setattr(triggers, "GESTURE_ACTIONS", {"pointing": "screenshot"})
    still = tmp_path / "hand.jpg"
    shutil.copy(HAND_PHOTO, still)
    app = LiveApp(AppOptions(effect="hands", input=str(still), frames=30, gestures=True, mirror=False,
                             output_dir=tmp_path))
    result = app.run()
    assert result.frames == 30
    assert len(result.screenshots) == 1 and result.screenshots[0].is_file()


def test_trigger_conditions_parse_with_one_line_reasons():
    from arfx.effects.registry import parse_manifest
    from arfx.effects.schema import ManifestError

    base = 'kind = "object3d"\nasset = "a.glb"\n'
    manifest = parse_manifest(base + '[[trigger]]\nwhen = "jawOpen > 0.5"\n[[trigger]]\nwhen = "gesture == pinch"\n')
    assert [(t.condition.signal, t.condition.op, t.condition.value) for t in manifest.trigger] == [("jawOpen", ">", 0.5),
                                                                     ("gesture", "==", "pinch")]
    for when, message in (("jawOpn > 0.5", "did you mean jawOpen"), ("jawOpen > 2", "number from 0 to 1"),
                          ("gesture > 1", "gesture == <name>"), ("smile", "must read like")):
        with pytest.raises(ManifestError, match=message):
            parse_manifest(base + f'[[trigger]]\nwhen = "{when}"\n')
    with pytest.raises(ManifestError, match="unknown key 'if'"):
        parse_manifest(base + '[[trigger]]\nif = "jawOpen > 0.5"\n')


def test_flames_show_only_while_the_mouth_is_open_with_hysteresis(no_user_effects):
    """The built-in flames: hidden on the closed-mouth astronaut, shown once jawOpen passes 0.35,
    kept while it hovers just under (0.3), gone when the mouth closes (0.2)."""
    import numpy as np
    from skimage import data as skdata

    import arfx

    rgb = np.ascontiguousarray(skdata.astronaut())
    with arfx.FaceEffects("flames", static=True) as fx:
        result = fx.track(rgb)
        face = result.faces[0]
        drawn = []
        for score in (face.expressions["jawOpen"], 0.8, 0.3, 0.2):
            face.expressions["jawOpen"] = score
            out = fx._pipeline.renderer.render(rgb, result, fx.effect)
            drawn.append(int((np.abs(out.astype(int) - rgb.astype(int)).max(axis=2) > 40).sum()))
    assert drawn[0] == 0 and drawn[1] > 500 and drawn[2] > 500 and drawn[3] == 0, drawn


def test_gesture_map_is_configurable_with_hold_times():
    from arfx.triggers import parse_gesture_map

    actions, holds = parse_gesture_map("victory=next, pinch=screenshot,open_palm=record:2")
    assert actions == {"victory": "next", "pinch": "screenshot", "open_palm": "record"}
    assert holds == {"open_palm": 2.0}
    trigger = HeldTrigger(actions=actions, holds=holds)
    fired = [a for i in range(90) for a in trigger.update({"open_palm"}, i / 30)]
    assert fired == ["record"] and trigger.update(set(), 3.0) == []
    early = [a for i in range(50) for a in HeldTrigger(actions=actions, holds=holds).update({"open_palm"}, i / 30)]
    assert early == []  # 1.6 s is not long enough for the recording toggle
    for text, message in (("wave=next", "unknown gesture 'wave'"), ("victory=dance", "unknown action 'dance'"),
                          ("victory=next:soon", "not a number of seconds"), ("", "no gesture given")):
        with pytest.raises(ValueError, match=message):
            parse_gesture_map(text)
    from arfx.cli import main

    assert main(["run", "glasses", "--gestures", "wave=next", "--frames", "1"]) == 2
