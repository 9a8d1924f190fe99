"""Measure arfx's expression scores on a video: ranges, noise on still segments, pose correlation.

    .venv/bin/python scripts/measure_expressions.py [VIDEO] [--max-faces N] [--csv OUT.csv]

VIDEO defaults to ../shared/media/short_hamilton_clip.mp4 when it exists, else a clip generated
at run time (the astronaut photo moving in the frame: one still expression, the pose changing).
The face with the most frames is measured. Printed per score and per raw feature:
- range: 5th, 50th and 95th percentile and the maximum over the face's frames;
- noise: the frame-to-frame standard deviation on still segments, i.e. std(x[t+1] - x[t]) / sqrt(2)
  over consecutive frames where the head moves less than --still-deg degrees and --still-cm cm
  (for a raw feature also the ratio of its 5-95 % range to that noise);
- pose correlation: Pearson r of the value with yaw, pitch and roll over all the face's frames
  (near 0 means the pose compensation works; on a real clip expressions may co-vary with pose).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arfx.geometry import GeometryPipeline  # noqa: E402
from arfx.geometry.camera import PerspectiveCamera  # noqa: E402
from arfx.geometry.expressions import EXPRESSION_NAMES, FEATURE_NAMES, ExpressionEstimator  # noqa: E402
from arfx.tracking import FaceTracker  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "media" / "short_hamilton_clip.mp4"


def _frames(video: str | None):
    if video is None:
        from arfx.demo import GeneratedSource

        source = GeneratedSource(640, 360, count=150, fps=30.0, cycles=2.0)
        print(f"video: {source.name}, {source.frame_count} frames")
    else:
        from arfx.sources import VideoSource

        source = VideoSource(video)
        print(f"video: {video}")
    with source:
        for frame in source:
            yield frame


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", default=None,
                        help="a video file (default: the shared Hamilton clip, else a generated clip)")
    parser.add_argument("--generated", action="store_true", help="use the generated clip")
    parser.add_argument("--max-faces", type=int, default=1)
    parser.add_argument("--still-deg", type=float, default=1.0,
                        help="max yaw/pitch/roll change per frame on a still segment")
    parser.add_argument("--still-cm", type=float, default=0.5,
                        help="max head translation per frame on a still segment")
    parser.add_argument("--csv", help="write the per-frame values of the measured face here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    video = None if args.generated else (args.video or (str(DEFAULT_VIDEO) if DEFAULT_VIDEO.exists() else None))
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    estimator = ExpressionEstimator(pipeline.canonical)
    rows: dict[int, list[dict[str, float]]] = {}
    cost = []
    with FaceTracker(max_num_faces=args.max_faces) as tracker:
        for frame in _frames(video):
            h, w = frame.rgb.shape[:2]
            faces = tracker.process(frame.rgb, frame.timestamp)
            for geometry in pipeline.estimate_faces(faces, w, h):
                start = time.perf_counter()
                scores = estimator.update(geometry.face_id, geometry, frame.timestamp)
                cost.append(time.perf_counter() - start)
                feats = estimator.features(geometry)
                yaw, pitch, roll = geometry.euler
                row = {"frame": frame.index, "t": frame.timestamp, "yaw": yaw, "pitch": pitch,
                       "roll": roll, "x": float(geometry.pose[0, 3]), "y": float(geometry.pose[1, 3]),
                       "z": float(geometry.pose[2, 3])}
                row.update(scores)
                row.update({"f_" + n: float(v) for n, v in zip(FEATURE_NAMES, feats)})
                rows.setdefault(geometry.face_id, []).append(row)
            estimator.forget(f.id for f in faces)
    if not rows:
        print("no face found")
        return 1
    face_id, face_rows = max(rows.items(), key=lambda kv: len(kv[1]))
    print(f"face {face_id}: {len(face_rows)} frames "
          f"({face_rows[0]['frame']}-{face_rows[-1]['frame']}); faces seen: {len(rows)}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(face_rows[0]))
            writer.writeheader()
            writer.writerows(face_rows)

    col = {k: np.array([r[k] for r in face_rows]) for k in face_rows[0]}
    frames = col["frame"]
    pose = np.stack([col["yaw"], col["pitch"], col["roll"]], axis=1)
    pos = np.stack([col["x"], col["y"], col["z"]], axis=1)
    consecutive = np.diff(frames) == 1
    still = (consecutive & (np.abs(np.diff(pose, axis=0)).max(axis=1) < args.still_deg)
             & (np.linalg.norm(np.diff(pos, axis=0), axis=1) < args.still_cm))
    print(f"pose: yaw {np.ptp(col['yaw']):.1f}, pitch {np.ptp(col['pitch']):.1f}, "
          f"roll {np.ptp(col['roll']):.1f} deg peak to peak; still frame pairs: {int(still.sum())} "
          f"of {len(still)}")
    print(f"cost: {1e3 * np.median(cost):.3f} ms median per face per frame "
          f"({1e3 * np.percentile(cost, 95):.3f} ms p95)")

    def noise(x: np.ndarray) -> float:
        d = np.diff(x)[still]
        return float(np.std(d) / math.sqrt(2)) if len(d) > 2 else float("nan")

    print()
    print(f"{'score':18s} {'p5':>6s} {'p50':>6s} {'p95':>6s} {'max':>6s} {'noise':>7s} "
          f"{'r(yaw)':>7s} {'r(pit)':>7s} {'r(roll)':>7s}")
    for name in EXPRESSION_NAMES:
        x = col[name]
        p5, p50, p95 = np.percentile(x, [5, 50, 95])
        rs = [_pearson(x, pose[:, i]) for i in range(3)]
        print(f"{name:18s} {p5:6.3f} {p50:6.3f} {p95:6.3f} {x.max():6.3f} {noise(x):7.4f} "
              + " ".join(f"{r:7.2f}" for r in rs))
    print()
    print(f"{'raw feature':18s} {'p5':>7s} {'p50':>7s} {'p95':>7s} {'noise':>7s} {'range/n':>7s} "
          f"{'r(yaw)':>7s} {'r(pit)':>7s} {'r(roll)':>7s}")
    for name in FEATURE_NAMES:
        x = col["f_" + name]
        p5, p50, p95 = np.percentile(x, [5, 50, 95])
        n = noise(x)
        rs = [_pearson(x, pose[:, i]) for i in range(3)]
        print(f"{name:18s} {p5:7.3f} {p50:7.3f} {p95:7.3f} {n:7.4f} {(p95 - p5) / n:7.1f} "
              + " ".join(f"{r:7.2f}" for r in rs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
