"""The live soak (scripts/soak_live.py), short: the live app with no window, streaming over UDP
on 127.0.0.1, every effect loaded and switched through twice in no-drop mode. Nothing is
dropped, and later rounds of the effects create no GL objects and no threads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak_live", ROOT / "scripts" / "soak_live.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_short_live_soak_leaks_no_gl_objects_or_threads_and_drops_nothing(no_user_effects) -> None:
    from arfx.effects.registry import EffectRegistry

    soak = _soak_module()
    effects = sum(info.ok for info in EffectRegistry().effects().values())
    # Every effect for 3 frames: the first round (warm-up) loads them, the next two must not grow.
    frames = 3 * effects * 3
    report = soak.soak(frames=frames, switch_every=3, size=(256, 144), fps=1000.0)
    assert report.frames == frames and report.dropped == 0
    assert report.switches == frames // 3 and report.effects == effects
    assert [c.frame for c in report.checkpoints] == [report.warm_up, 2 * report.warm_up, frames]
    # Exactly as many GL objects at the end of each round as after the first, and never more
    # threads (fewer happens in a long test session: earlier tests' native pools wind down).
    assert len({c.gl_objects for c in report.checkpoints}) == 1, report.checkpoints
    for before, after in zip(report.checkpoints, report.checkpoints[1:]):
        assert after.python_threads <= before.python_threads and after.threads <= before.threads, \
            report.checkpoints
    assert report.stream_sent > 0
