#!/usr/bin/env python3
"""The offline floor: a clip decoded to RGB on a prefetch thread and encoded by arfx's recorder
(same x264 preset as `arfx render`), with no tracking and no rendering between them. No
render of the clip can be faster on this machine; `arfx bench` reports its render's fps as a
ratio of this one's (arfx.bench.run_floor).

    python scripts/offline_floor.py clip.mp4 [--frames N] [--preset superfast]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arfx.bench import run_floor  # noqa: E402
from arfx.options import EncodeOptions  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip")
    parser.add_argument("--frames", type=int, help="stop after N frames (default: all)")
    parser.add_argument("--preset", default=EncodeOptions.preset, help=f"x264 preset (default {EncodeOptions.preset})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arfx-floor-") as folder:
        result = run_floor(args.clip, Path(folder) / "floor.mp4", args.frames, args.preset)
    print(f"floor: {result.frames} frames in {result.seconds:.2f} s = {result.fps:.1f} fps "
          f"(decode -> RGB -> encode, {args.preset})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
