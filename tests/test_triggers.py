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
