"""Soak test of the Python API: thousands of frames through several FaceEffects used in turn,
effects switched, instances closed and made again. Prints memory (RSS) and live GL objects at
checkpoints and fails (exit 1) when either grows after warm-up.

    python scripts/soak_api.py --frames 3000
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np
from skimage import data

import arfx
from arfx.bench import live_gl_objects, rss_mib

EFFECTS = ["glasses", "facepaint", "mesh", "axis", "landmarks", "facepaint+glasses", ["mesh", "axis"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--size", type=int, default=320, help="frame side in pixels")
    parser.add_argument("--tolerance-mib", type=float, default=8.0)
    args = parser.parse_args()

    image = cv2.resize(data.astronaut(), (args.size, args.size), interpolation=cv2.INTER_AREA)
    frames = [np.ascontiguousarray(np.roll(image, shift, axis=1)) for shift in range(0, 12, 3)]
    pool = [arfx.FaceEffects("glasses"), arfx.FaceEffects("facepaint", max_faces=2), arfx.FaceEffects("mesh")]
    checkpoints = []
    warm_up = args.frames // 5
    t0 = time.perf_counter()
    created = closed = switched = 0
    for i in range(args.frames):
        fx = pool[i % len(pool)]
        fx(frames[i % len(frames)])
        if i % 25 == 0:
            fx.effect = EFFECTS[(i // 25) % len(EFFECTS)]
            switched += 1
        if i % 150 == 149:  # close one instance and make a new one in its place
            slot = (i // 150) % len(pool)
            pool[slot].close()
            pool[slot] = arfx.FaceEffects(EFFECTS[i % len(EFFECTS)])
            created += 1
            closed += 1
        if i + 1 == warm_up or (i + 1) % max(1, args.frames // 10) == 0:
            # Compare like with like: every instance on the same effect, one frame drawn.
            for each in pool:
                each.effect = "glasses"
                each(frames[0])
            checkpoints.append((i + 1, rss_mib(), live_gl_objects()))
    seconds = time.perf_counter() - t0
    for fx in pool:
        fx.close()
    print(f"{args.frames} frames ({args.size}x{args.size}) in {seconds:.1f} s through {len(pool)} FaceEffects "
          f"used in turn; {switched} effect switches, {created} instances closed and made again")
    print(f"{'frame':>6} {'RSS MiB':>9} {'GL objects':>11}")
    for frame, rss, objects in checkpoints:
        print(f"{frame:>6} {rss:>9.1f} {objects:>11}")
    after = [c for c in checkpoints if c[0] >= warm_up]
    # Medians of the first and last three checkpoints after warm-up: a trend, not the
    # allocator's and the garbage collector's moment-to-moment noise.
    head, tail = after[:3], after[-3:]
    rss_growth = float(np.median([c[1] for c in tail]) - np.median([c[1] for c in head]))
    object_growth = int(np.median([c[2] for c in tail]) - np.median([c[2] for c in head]))
    print(f"after warm-up (frames {head[0][0]}-{head[-1][0]} -> {tail[0][0]}-{tail[-1][0]}, medians): "
          f"RSS {rss_growth:+.1f} MiB, GL objects {object_growth:+d}")
    ok = rss_growth <= args.tolerance_mib and object_growth <= 2
    print("OK: no growth" if ok else "FAIL: growth after warm-up")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
