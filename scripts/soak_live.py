#!/usr/bin/env python3
"""Soak test of the live pipeline: thousands of frames through arfx's live app with no window,
sending to a network stream, the effect switched every `--switch-every` frames through all
effects in turn. Prints memory (RSS), live GL objects and threads at checkpoints, the growth
after warm-up, and the frames dropped; exits 1 when anything grew or was dropped.

The input is a synthetic clip (arfx.synthetic: a drifting face) played in no-drop mode, so
every frame must be shown and sent; `--camera` uses a 30 fps synthetic camera instead (latest
frame wins: drops are then reported, not failed). Checkpoints fall at the end of each round of
the effects, so each compares like with like (the same effect on screen, as what is held in
GL differs from effect to effect); the first round (each effect loads on first use and is
kept) is the warm-up, so growth is measured from its end.

    python scripts/soak_live.py --frames 20000            # the issue's soak (about an hour here)
    python scripts/soak_live.py --frames 300 --switch-every 10 --size 320x180   # CI's short run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arfx.app import AppOptions, LiveApp  # noqa: E402
from arfx.bench import live_gl_objects, rss_mib, thread_counts  # noqa: E402
from arfx.sources import CameraSource, parse_size  # noqa: E402
from arfx.stream import local_udp_url  # noqa: E402
from arfx.synthetic import SyntheticCamera, SyntheticClip  # noqa: E402


@dataclass
class Checkpoint:
    frame: int
    seconds: float
    rss_mib: float
    gl_objects: int
    python_threads: int
    threads: int
    effect: str


@dataclass
class SoakReport:
    frames: int
    seconds: float
    switches: int
    effects: int
    warm_up: int
    dropped: int
    delivered: int
    stream_sent: int
    stream_skipped: int
    checkpoints: list[Checkpoint] = field(default_factory=list)

    def growth(self) -> dict[str, float]:
        """Change after warm-up: medians of the last three checkpoints minus the first three
        (a trend, not the allocator's or the garbage collector's moment-to-moment noise);
        with fewer than six, the last minus the first."""
        after = [c for c in self.checkpoints if c.frame >= self.warm_up]
        head, tail = (after[:3], after[-3:]) if len(after) >= 6 else (after[:1], after[-1:])

        def change(name: str) -> float:
            return float(np.median([getattr(c, name) for c in tail]) - np.median([getattr(c, name) for c in head]))

        return {name: change(name) for name in ("rss_mib", "gl_objects", "python_threads", "threads")}


def soak(frames: int = 20000, switch_every: int = 100, size: tuple[int, int] = (640, 360),
         camera: bool = False, fps: float = 30.0, effect: str = "glasses",
         progress: bool = False) -> SoakReport:
    """Run the live app for `frames` frames, switching effects; measure at the end of each round."""
    width, height = size
    stream = local_udp_url()  # nobody listens: UDP needs no receiver
    if camera:
        source = CameraSource(0, device=SyntheticCamera(width, height, fps), timeout=5.0)
    else:
        source = SyntheticClip(width, height, fps=fps)  # endless: the app stops it
    app = LiveApp(AppOptions(effect=effect, frames=frames, window=False, stream=stream,
                             no_drop=not camera, mirror=False), source=source)
    report = SoakReport(frames, 0.0, 0, 0, 0, 0, 0, 0, 0)
    t0 = time.monotonic()
    sent = {"frames": 0, "skipped": 0}

    def watch(live: LiveApp) -> None:
        n = live.frames
        if n == 1:
            report.effects = len(live.effect_names)
            report.warm_up = report.effects * switch_every  # one round: every effect loaded once
        if n % switch_every == 0:
            live.act("next")
            report.switches += 1
        if n % report.warm_up == 0:
            python_threads, threads = thread_counts()
            report.checkpoints.append(Checkpoint(n, time.monotonic() - t0, rss_mib(), live_gl_objects(),
                                                 python_threads, threads, live.current))
            if progress:
                c = report.checkpoints[-1]
                print(f"  {n:>6} frames {c.seconds:7.0f} s  RSS {c.rss_mib:7.1f} MiB  GL {c.gl_objects:4d}  "
                      f"threads {c.python_threads}/{c.threads}  {c.effect}", file=sys.stderr, flush=True)
        for output in live.outputs:
            sent["frames"], sent["skipped"] = output.frames_sent, output.dropped

    app.after_frame = watch
    result = app.run()
    report.seconds = time.monotonic() - t0
    report.frames, report.dropped, report.delivered = result.frames, result.dropped, result.delivered
    report.stream_sent, report.stream_skipped = sent["frames"], sent["skipped"]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--switch-every", type=int, default=100, metavar="N", help="frames per effect")
    parser.add_argument("--size", default="640x360", help="frame size (default 640x360)")
    parser.add_argument("--camera", action="store_true", help="a 30 fps synthetic camera instead of no-drop")
    parser.add_argument("--fps", type=float, default=30.0, help="the source's frame rate")
    parser.add_argument("--tolerance-mib", type=float, default=20.0, help="allowed RSS growth after warm-up")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = soak(args.frames, args.switch_every, parse_size(args.size), args.camera,
                  args.fps, progress=not args.json)
    growth = report.growth()
    ok = (growth["rss_mib"] <= args.tolerance_mib and growth["gl_objects"] <= 0
          and growth["python_threads"] <= 0 and growth["threads"] <= 0
          and (args.camera or report.dropped == 0))
    if args.json:
        print(json.dumps({**{k: v for k, v in vars(report).items() if k != "checkpoints"},
                          "checkpoints": [vars(c) for c in report.checkpoints], "growth": growth, "ok": ok}))
        return 0 if ok else 1
    print(f"{report.frames} frames ({args.size}, no window, stream) in {report.seconds:.0f} s "
          f"({report.frames / max(report.seconds, 1e-6):.1f} fps); {report.switches} effect switches "
          f"over {report.effects} effects; warm-up {report.warm_up} frames")
    print(f"{'frame':>6} {'seconds':>8} {'RSS MiB':>9} {'GL objects':>11} {'threads':>8} {'native':>7}  effect")
    for c in report.checkpoints:
        print(f"{c.frame:>6} {c.seconds:>8.0f} {c.rss_mib:>9.1f} {c.gl_objects:>11} {c.python_threads:>8} "
              f"{c.threads:>7}  {c.effect}")
    print(f"after warm-up (checkpoints {len([c for c in report.checkpoints if c.frame >= report.warm_up])}): RSS {growth['rss_mib']:+.1f} MiB, "
          f"GL objects {growth['gl_objects']:+.0f}, Python threads {growth['python_threads']:+.0f}, "
          f"all threads {growth['threads']:+.0f}")
    mode = "latest frame wins (camera)" if args.camera else "no-drop"
    print(f"dropped by the app ({mode}): {report.dropped} of {report.delivered}; stream sent "
          f"{report.stream_sent}, skipped {report.stream_skipped} (its encoder fell behind)")
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
