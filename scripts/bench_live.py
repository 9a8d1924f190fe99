#!/usr/bin/env python3
"""The live loop's honesty and latency on a synthetic camera: achieved fps, frames dropped,
capture-to-display (and capture-to-stream) latency p50/p95, per-stage medians.

The camera is a stand-in device delivering a face picture at `--fps` (1280x720 by default)
through arfx's real CameraSource thread; the window needs a display (Xvfb works), or use
--no-window with --stream. Frames are stamped when captured; a frame counts as displayed
when the window's buffer swap returns.

Usage: xvfb-run -a python scripts/bench_live.py [--frames 150] [--effect glasses] [--size 1280x720]
       python scripts/bench_live.py --no-window --stream udp://127.0.0.1:5099
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class SyntheticCamera:
    """cv2.VideoCapture's read() at a steady frame rate, always the same BGR picture."""

    def __init__(self, image: np.ndarray, fps: float) -> None:
        self.image, self.period = image, 1.0 / fps
        self.next = time.monotonic()
        self.released = threading.Event()

    def isOpened(self) -> bool:
        return True

    def read(self):
        self.next += self.period
        delay = self.next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self.next = time.monotonic()  # a real camera does not catch up either
        return True, self.image

    def release(self) -> None:
        self.released.set()


def face_frame(width: int, height: int) -> np.ndarray:
    import cv2

    from arfx.demo import astronaut_image

    face = astronaut_image()
    side = min(width, height)
    face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 90, np.uint8)
    x = (width - side) // 2
    canvas[(height - side) // 2:(height - side) // 2 + side, x:x + side] = face
    return np.ascontiguousarray(canvas[:, :, ::-1])  # BGR, as OpenCV delivers


def main() -> int:
    from arfx.app import AppOptions, LiveApp
    from arfx.sources import CameraSource, parse_size

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=15, help="frames left out of the statistics")
    parser.add_argument("--effect", default="glasses")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--no-window", action="store_true")
    parser.add_argument("--stream", metavar="URL")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    width, height = parse_size(args.size)
    camera = CameraSource(0, device=SyntheticCamera(face_frame(width, height), args.fps), timeout=5.0)
    app = LiveApp(AppOptions(effect=args.effect, frames=args.frames, window=not args.no_window,
                             stream=args.stream, mirror=False), source=camera)
    sent: list[float] = []
    close = LiveApp._close_outputs

    def keep_send_times(self) -> None:
        for output in self.outputs:
            sent.extend(output.send_latencies)
        close(self)

    LiveApp._close_outputs = keep_send_times
    t0 = time.monotonic()
    result = app.run()
    wall = time.monotonic() - t0
    lat = np.asarray(result.latencies[args.warmup:]) * 1000.0
    loop = np.asarray(app._loop_times) if app._loop_times else np.zeros(0)
    ms = app.times.median_ms()
    report = {
        "effect": args.effect, "size": f"{width}x{height}", "camera_fps": args.fps,
        "window": not args.no_window, "frames": result.frames, "delivered": result.delivered,
        "dropped": result.dropped, "wall_s": round(wall, 2),
        "achieved_fps": round(result.frames / max(1e-6, wall), 1),
        "recent_fps": round(len(loop) / max(1e-6, float(loop.sum())), 1) if len(loop) else None,
        "display_latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                               "p95": round(float(np.percentile(lat, 95)), 1)} if len(lat) else None,
        "stages_ms": {k: round(v, 1) for k, v in ms.items() if v == v},
    }
    if sent:
        s = np.asarray(sent[args.warmup:] or sent) * 1000.0
        report["stream_send_latency_ms"] = {"p50": round(float(np.percentile(s, 50)), 1),
                                            "p95": round(float(np.percentile(s, 95)), 1)}
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:22s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
