#!/usr/bin/env python3
"""Render each built-in effect on scikit-image's astronaut into docs/<effect>.png (for the README).

    python scripts/make_readme_images.py [--size 320]

The face region is cropped and scaled to --size pixels square.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arfx.effects.registry import EffectRegistry  # noqa: E402
from arfx.geometry.camera import PerspectiveCamera  # noqa: E402
from arfx.geometry.pipeline import GeometryPipeline  # noqa: E402
from arfx.render.context import create_headless_context  # noqa: E402
from arfx.render.renderer import Renderer  # noqa: E402
from arfx.tracking import FaceTracker  # noqa: E402

EFFECTS = ("glasses", "facepaint", "mesh", "axis", "landmarks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    from PIL import Image
    from skimage import data

    rgb = np.ascontiguousarray(data.astronaut())
    height, width = rgb.shape[:2]
    with FaceTracker(static_image_mode=True) as tracker:
        faces = tracker.process(rgb)
    if not faces:
        print("no face found on the astronaut", file=sys.stderr)
        return 1
    camera = PerspectiveCamera()
    geometry = GeometryPipeline(camera).estimate(faces[0].landmarks, width, height)
    # A square around the face, with room for the temples and the hair.
    xy = faces[0].landmarks[:, :2]
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    half = int(max(np.ptp(xy, axis=0)) * 0.95)
    x0, y0 = (int(max(c - half, 0)) for c in centre)
    box = (x0, y0, min(x0 + 2 * half, width), min(y0 + 2 * half, height))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = create_headless_context()
    renderer = Renderer(ctx, width, height, camera, samples=4)
    registry = EffectRegistry(include_user=False)
    for name in EFFECTS:
        image = renderer.render(rgb, [geometry], registry.load(name))
        picture = Image.fromarray(image).crop(box).resize((args.size, args.size), Image.LANCZOS)
        path = out / f"{name}.png"
        picture.save(path, optimize=True)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    renderer.release()
    ctx.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
