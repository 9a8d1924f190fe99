#!/usr/bin/env python3
"""Benchmark the geometry pipeline: median microseconds per face for GeometryPipeline.estimate().

The landmarks are the canonical face under a few head poses, projected into a 1280x720
frame with MediaPipe's landmark conventions (what the tracker hands over).

Usage: python scripts/bench_geometry.py [--runs 3000] [--width 1280 --height 720]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arfx.geometry import CanonicalFace, GeometryPipeline, PerspectiveCamera, rotation_from_euler  # noqa: E402


def screen_landmarks(camera: PerspectiveCamera, points: np.ndarray, width: int, height: int) -> np.ndarray:
    xy = camera.project(points, width, height)
    depth = -points[:, 2].mean()
    z = -(points[:, 2] - points[:, 2].mean()) * camera.focal_pixels(height) / depth
    return np.column_stack([xy, z]).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()

    camera = PerspectiveCamera()
    canonical = CanonicalFace.load()
    pipeline = GeometryPipeline(camera, canonical)
    poses = [((0, 0, 0), (0, 0, -60)), ((25, -10, 5), (8, 3, -45)), ((-40, 15, -10), (-12, -5, -80))]
    faces = []
    for (yaw, pitch, roll), t in poses:
        pts = canonical.vertices.astype(np.float64) @ rotation_from_euler(yaw, pitch, roll).T + t
        faces.append(screen_landmarks(camera, pts, args.width, args.height))

    for lm in faces:  # warm-up
        pipeline.estimate(lm, args.width, args.height)
    times = []
    for i in range(args.runs):
        lm = faces[i % len(faces)]
        t0 = time.perf_counter()
        pipeline.estimate(lm, args.width, args.height)
        times.append(time.perf_counter() - t0)
    times.sort()
    median = statistics.median(times) * 1e6
    p90 = times[int(0.9 * len(times))] * 1e6
    print(f"geometry estimate(): median {median:.1f} us/face, p90 {p90:.1f} us "
          f"({args.runs} runs, {args.width}x{args.height}, numpy {np.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
