"""Per-frame time of arfx's tracking loop against MediaPipe's loop, both in arfx, same frames.

Usage: python scripts/bench_tracker_loops.py [--media ../shared/media] [--repeats 4]
The frames of scripts/bench_vs_mediapipe.py (the Hamilton clip in video mode, 512x512 stills
in static mode). Three trackers per setting, their passes interleaved (order swapped every
repeat), each frame's best time kept, median over frames:
- old loop: MediaPipe's loop (mediapipe_compat=True) with MediaPipe's options (short-range
  detector, no tiling, no smoothing): what FaceTracker did before issue 12;
- new loop: arfx's loop (motion prediction, landmark check, re-detection, dedupe) with the
  same options: the "MediaPipe-equivalent options" rows of bench_vs_mediapipe.py;
- defaults: FaceTracker's defaults (auto detector, tiling, smoothing).
No MediaPipe needed; a ratio between two rows of one run holds on a busy machine better than
a ratio between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_vs_mediapipe import decode, static_frames  # noqa: E402

from arfx.tracking import FaceTracker  # noqa: E402

MEDIAPIPE_OPTIONS = {"detector": "short", "tiling": False, "smooth": False}


def one_pass(frames, options: dict) -> tuple[list[float], int]:
    with FaceTracker(threads=1, **options) as tracker:
        tracker.process(frames[0])
        tracker.reset()
        times, faces = [], 0
        for i, frame in enumerate(frames):
            t0 = time.perf_counter()
            faces += len(tracker.process(frame, timestamp=i / 30))
            times.append((time.perf_counter() - t0) * 1000)
    return times, faces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="../shared/media", type=Path)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    clip = decode(args.media / "short_hamilton_clip.mp4", None)
    stills = static_frames(args.media, clip, 512, 5)
    rows = [("video, max_num_faces=1", clip, {"max_num_faces": 1}),
            ("video, max_num_faces=4", clip, {"max_num_faces": 4}),
            ("static 512x512", stills, {"static_image_mode": True}),
            ("static 512x512, refine_landmarks", stills,
             {"static_image_mode": True, "refine_landmarks": True})]
    print(f"best of {args.repeats} interleaved passes per frame; median ms over frames (faces found)")
    print(f"{'setting':34} {'old loop':>15} {'new loop':>22} {'defaults':>22}")
    for label, frames, options in rows:
        variants = {"old": dict(options, **MEDIAPIPE_OPTIONS, mediapipe_compat=True),
                    "new": dict(options, **MEDIAPIPE_OPTIONS),
                    "defaults": dict(options)}
        best: dict[str, list[float]] = {}
        faces: dict[str, int] = {}
        for r in range(args.repeats):
            for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
                times, faces[name] = one_pass(frames, variants[name])
                best[name] = times if name not in best else [min(a, b) for a, b in zip(best[name], times)]
        ms = {name: statistics.median(times) for name, times in best.items()}
        cells = [f"{ms['old']:6.3f} ({faces['old']:4d})"]
        cells += [f"{ms[n]:6.3f} {ms[n] / ms['old']:4.2f}x ({faces[n]:4d})" for n in ("new", "defaults")]
        print(f"{label:34} {cells[0]:>15} {cells[1]:>22} {cells[2]:>22}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
