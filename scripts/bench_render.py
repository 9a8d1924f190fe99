#!/usr/bin/env python3
"""Milliseconds per rendered frame (upload, occluder, effect, readback) on this machine's GL.

    python scripts/bench_render.py [--size 1280x720] [--frames 100] [--faces 1] [--samples 0]
        [--lighting frame|fixed] [--occlusion face,head] [--no-contact]

Uses the astronaut scaled to the frame size as the camera image and a face of canonical
shape under a fixed pose (so no tracker time is included). Prints one line per effect.
--lighting, --occlusion (3D objects' occluders) and --no-contact (no soft contact shadows)
take the look's parts away one at a time, to see what each costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arfx.effects.registry import EffectRegistry  # noqa: E402
from arfx.geometry.canonical import CanonicalFace  # noqa: E402
from arfx.geometry.pipeline import FaceGeometry, rotation_from_euler  # noqa: E402
from arfx.render.context import create_headless_context  # noqa: E402
from arfx.render.renderer import Renderer  # noqa: E402


def face_at(x: float, yaw: float) -> FaceGeometry:
    canonical = CanonicalFace.load()
    pose = np.eye(4)
    pose[:3, :3] = rotation_from_euler(yaw, 5.0, 0.0)
    pose[:3, 3] = (x, 0.0, -50.0)
    mesh = canonical.vertices @ pose[:3, :3].T + pose[:3, 3]
    return FaceGeometry(pose.astype(np.float32), mesh.astype(np.float32))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--faces", type=int, default=1)
    parser.add_argument("--samples", type=int, default=0, help="MSAA samples (0: off)")
    parser.add_argument("--effects", default="none,glasses,facepaint,mesh,axis,landmarks")
    parser.add_argument("--lighting", default="frame", choices=("frame", "fixed"))
    parser.add_argument("--occlusion", default=None, help="occluders of 3D objects, e.g. face (default: the kind's)")
    parser.add_argument("--no-contact", action="store_true", help="no soft contact shadows")
    args = parser.parse_args()
    if args.no_contact:
        import arfx.render.contact as contact

        contact.object_field = lambda effect: None
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PIL import Image
    from skimage import data

    frame = np.asarray(Image.fromarray(data.astronaut()).resize((width, height)), dtype=np.uint8)
    faces = [face_at(-12.0 + 24.0 * i / max(args.faces - 1, 1) if args.faces > 1 else 0.0, 15.0)
             for i in range(args.faces)]
    ctx = create_headless_context()
    print(f"{ctx.info['GL_RENDERER']}, {width}x{height}, {args.faces} face(s), "
          f"MSAA {args.samples or 'off'}, {args.frames} frames, lighting {args.lighting}, "
          f"occlusion {args.occlusion or 'default'}, contact {'off' if args.no_contact else 'on'}")
    renderer = Renderer(ctx, width, height, samples=args.samples, lighting=args.lighting)
    registry = EffectRegistry(include_user=False)
    for name in args.effects.split(","):
        effect = None if name == "none" else registry.load(name)
        if args.occlusion is not None and getattr(effect, "kind", "") == "object3d":
            from dataclasses import replace

            effect = replace(effect, occlusion=frozenset(filter(None, args.occlusion.split(","))))
        for _ in range(5):
            renderer.render(frame, faces, effect)
        times, cpu = [], []
        for _ in range(args.frames):
            start, start_cpu = time.perf_counter(), time.process_time()
            renderer.render(frame, faces, effect)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        times.sort()
        # CPU time of all the process's threads (llvmpipe's included): the work a frame takes,
        # which other load on a shared machine changes far less than the wall time.
        print(f"{name:10s} median {statistics.median(times) * 1000:6.2f} ms   "
              f"p90 {times[int(len(times) * 0.9)] * 1000:6.2f} ms   "
              f"cpu {statistics.mean(cpu) * 1000:6.2f} ms")
    renderer.release()
    ctx.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
