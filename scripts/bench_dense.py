"""Per-face cost of the dense outputs at 720p, and face swap against face paint in the same run.

    python scripts/bench_dense.py [--repeats 30]

The astronaut's face is placed on a 1280x720 canvas and tracked once; then, per face: the 68
points and box, the JSON Lines and CSV rows, an OBJ and a PLY of the mesh, the texture capture
(visibility, UV render, read-back) and its mirror fill are timed (median ms). Last, face swap and
face paint are rendered in turn through FaceEffects (tracking included) and their frame rates compared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import arfx  # noqa: E402


def median_ms(function, repeats: int) -> float:
    function()  # warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def main() -> int:
    from skimage import data

    from arfx.export import (capture_face_texture, jsonl_lines, csv_text, mirror_fill, obj_text, ply_bytes,
                             vertex_visibility)
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.ibug68 import landmarks68
    from arfx.render.context import create_headless_context
    from arfx.track import TrackResult, _append, to_arrays

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    canvas = np.full((720, 1280, 3), 90, np.uint8)
    canvas[100:612, 384:896] = data.astronaut()
    with arfx.FaceEffects("mesh", static=True) as fx:
        result = fx.track(canvas)
    face = result.faces[0]
    canonical = CanonicalFace.load()
    track = TrackResult()
    faces = 20  # the text formats are timed over 20 frames of one face, per face
    for _ in range(faces):
        _append(track, "frame", result)
    track.fov, track.near, track.fovs = 63.0, 1.0, [63.0] * faces
    arrays = to_arrays(track, 468)
    ctx = create_headless_context()
    rows = {
        "landmarks68 + box": lambda: (landmarks68(face.landmarks), face.landmarks[:, :2].min(0),
                                      face.landmarks[:, :2].max(0)),
        "JSON Lines line": lambda: list(jsonl_lines(arrays)),
        "CSV row": lambda: list(csv_text(arrays)),
        "OBJ text": lambda: obj_text(face.mesh, canonical.uvs, canonical.triangles),
        "PLY bytes": lambda: ply_bytes(face.mesh, canonical.uvs, canonical.triangles),
        "visibility": lambda: vertex_visibility(face.mesh, canonical.triangles, 1280, 720, result.camera),
        "capture 512 (incl. visibility)": lambda: capture_face_texture(ctx, canvas, face.mesh, result.camera, 512),
        "capture 256 (incl. visibility)": lambda: capture_face_texture(ctx, canvas, face.mesh, result.camera, 256),
    }
    texture = capture_face_texture(ctx, canvas, face.mesh, result.camera, 512)
    rows["mirror fill 512"] = lambda: mirror_fill(texture)
    print(f"per face, 1280x720, median of {args.repeats} ({ctx.info['GL_RENDERER']}):")
    for name, function in rows.items():
        per = faces if name in ("JSON Lines line", "CSV row") else 1
        print(f"  {name:32s} {median_ms(function, args.repeats) / per:7.2f} ms")
    ctx.release()

    times = {"facepaint": [], "faceswap": []}
    from arfx.effects.registry import EffectRegistry

    registry = EffectRegistry()
    effects = {name: registry.load(name) for name in times}  # one effect each: the swap's capture is made once
    with arfx.FaceEffects("faceswap") as fx:
        for name in times:
            fx.effect = effects[name]
            fx(canvas)
        for _ in range(args.repeats):
            for name in times:
                fx.effect = effects[name]
                start = time.perf_counter()
                fx(canvas)
                times[name].append(time.perf_counter() - start)
    paint, swap = (float(np.median(times[k]) * 1000) for k in ("facepaint", "faceswap"))
    print(f"FaceEffects frame, tracking included: facepaint {paint:.2f} ms, faceswap {swap:.2f} ms; "
          f"faceswap runs at {paint / swap:.2f}x facepaint's frame rate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
