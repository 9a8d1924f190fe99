"""The live soak (scripts/soak_live.py), short: the live app with no window, streaming over UDP
on 127.0.0.1, every effect loaded and switched through twice in no-drop mode. Nothing is
dropped, and later rounds of the effects create no GL objects and no threads."""

from __future__ import annotations

from makers import load_script


def test_short_live_soak_leaks_no_gl_objects_or_threads_and_drops_nothing(no_user_effects) -> None:
    from arfx.effects.registry import EffectRegistry

    soak = load_script("soak_live")
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
