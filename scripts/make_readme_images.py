#!/usr/bin/env python3
"""The README's pictures: every showcase effect (and the older built-ins) on scikit-image's
astronaut, from the front and turned to a three-quarter view, and the animated demo preview.

    python scripts/make_readme_images.py [--size 240] [--no-gif]

Writes docs/<effect>.png (front) and docs/<effect>-turned.png (the showcase set), and
docs/demo.gif (the `arfx demo` video, scaled down, under 3 MB).

The astronaut (public domain) gets room above her head (her backdrop, blurred) for the hats.
The three-quarter view is generated: her tracked face mesh is turned 30 degrees about the
head's vertical axis, and the photo is warped piecewise-affinely so that each landmark still
visible goes where the turned mesh projects (parts hidden behind the nose are left out; the
hair and the background follow less and less away from the face).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import arfx  # noqa: E402
from arfx.demo import SHOWCASE, padded_astronaut, run_demo  # noqa: E402

OLDER = ("glasses", "facepaint", "mesh", "axis", "landmarks")
#: Whole-frame pictures of effects that reach beyond the face: docs/extras.png.
EXTRAS = ("blur+glasses", "avatar", "pose")


def turned_view(rgb: np.ndarray, yaw_deg: float = 30.0) -> np.ndarray:
    """The photo with its (first) face turned by yaw_deg to the person's left."""
    import cv2
    import trimesh
    from skimage.transform import PiecewiseAffineTransform, warp

    from arfx.geometry.camera import PerspectiveCamera
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.pipeline import GeometryPipeline

    h, w = rgb.shape[:2]
    with arfx.FaceTracker(static_image_mode=True) as tracker:
        face = tracker.process(rgb)[0]
    camera = PerspectiveCamera()
    geometry = GeometryPipeline(camera).estimate(face.landmarks, w, h)
    pose, mesh = geometry.pose.astype(np.float64), geometry.mesh.astype(np.float64)
    a = np.radians(yaw_deg)
    turn = np.array([[np.cos(a), 0, np.sin(a), 0], [0, 1, 0, 0], [-np.sin(a), 0, np.cos(a), 0], [0, 0, 0, 1]])
    moved = pose @ turn @ np.linalg.inv(pose)
    turned = mesh @ moved[:3, :3].T + moved[:3, 3]
    before, after = camera.project(mesh, w, h)[:, :2], camera.project(turned, w, h)[:, :2]
    source = face.landmarks[:468, :2].astype(np.float64)
    target = source + (after - before)
    triangles = CanonicalFace.load().triangles
    # Visible after the turn: facing the camera, and not behind a nearer triangle (painter's order).
    normals = trimesh.Trimesh(turned, triangles, process=False).vertex_normals
    visible = (normals * -turned / np.linalg.norm(turned, axis=1, keepdims=True)).sum(axis=1) > 0.2
    depth = np.full((h, w), -1e9)
    for i in np.argsort(turned[triangles][:, :, 2].mean(axis=1)):
        cover = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(cover, np.round(after[triangles[i]] * 4).astype(np.int32), 1, cv2.LINE_8, 2)
        depth[cover > 0] = turned[triangles[i]][:, 2].mean()
    pixel = np.clip(np.round(after).astype(int), 0, [w - 1, h - 1])
    visible &= depth[pixel[:, 1], pixel[:, 0]] <= turned[:, 2] + 0.4
    # Rings around the face that follow it less and less, and the frame's border, fixed.
    shift = (after - before)[visible].mean(axis=0)
    centre, size = source.mean(axis=0), np.ptp(source, axis=0).max()
    hull_after = cv2.convexHull(target[visible].astype(np.float32))
    hull_before = cv2.convexHull(source[visible].astype(np.float32))
    ring_from, ring_to = [], []
    for scale, follow in ((1.3, 0.6), (1.9, 0.1)):
        for t in np.linspace(0.0, 2 * np.pi, 24, endpoint=False):
            p = centre + scale * size * 0.5 * np.array([np.cos(t), 1.15 * np.sin(t)])
            q = p + follow * shift
            if (cv2.pointPolygonTest(hull_after, (float(q[0]), float(q[1])), True) > -6
                    or cv2.pointPolygonTest(hull_before, (float(p[0]), float(p[1])), True) > -6):
                continue
            ring_from.append(p)
            ring_to.append(q)
    border = ([(x, y) for x in np.linspace(0, w - 1, 6) for y in (0, h - 1)]
              + [(x, y) for y in np.linspace(0, h - 1, 6) for x in (0, w - 1)])
    transform = PiecewiseAffineTransform()
    transform.estimate(np.vstack([target[visible], ring_to, border]), np.vstack([source[visible], ring_from, border]))
    out = warp(rgb, transform, output_shape=(h, w), order=1, preserve_range=True)
    return np.round(out).astype(np.uint8)


def face_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """A square around the face with room above it for hats and crowns."""
    xy = landmarks[:, :2]
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    half = max(np.ptp(xy, axis=0)) * 1.25
    centre[1] -= half * 0.32
    x0 = int(np.clip(centre[0] - half, 0, width - 2 * half))
    y0 = int(np.clip(centre[1] - half, 0, height - 2 * half))
    return x0, y0, x0 + int(2 * half), y0 + int(2 * half)


def render_views(views: dict[str, np.ndarray], names, size: int, out: Path) -> None:
    from PIL import Image

    for view, rgb in views.items():
        with arfx.FaceEffects(names[0], static=True, max_faces=1) as fx:
            for name in names:
                fx.effect = name
                image = fx(rgb, 0.3)
                if len(fx.faces) != 1:
                    raise SystemExit(f"{view}: {len(fx.faces)} faces found, expected 1")
                box = face_box(fx.faces[0].landmarks, rgb.shape[1], rgb.shape[0])
                picture = Image.fromarray(image).crop(box).resize((size, size), Image.LANCZOS)
                path = out / (f"{name}.png" if view == "front" else f"{name}-{view}.png")
                picture.save(path, optimize=True)
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def render_strip(rgb: np.ndarray, names, height: int, path: Path) -> None:
    """The whole frame with each effect, side by side, `height` px tall (docs/extras.png)."""
    from PIL import Image

    panels = []
    for name in names:
        with arfx.FaceEffects(name, static=True) as fx:
            image = Image.fromarray(fx(rgb, 0.3))
        panels.append(image.resize((round(image.width * height / image.height), height), Image.LANCZOS))
    strip = Image.new("RGB", (sum(p.width for p in panels), height))
    x = 0
    for panel in panels:
        strip.paste(panel, (x, 0))
        x += panel.width
    strip.save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def make_gif(out: Path, width: int = 360, fps: int = 8, colors: int = 128, limit: int = 3_000_000) -> Path:
    """docs/demo.gif: `arfx demo`'s video at `fps`, `width` wide, one shared palette."""
    import av
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="arfx-gif-") as folder:
        video = run_demo(Path(folder) / "demo.mp4", window=False).output
        frames = []
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            step = max(1, round(float(stream.average_rate) / fps))
            for i, frame in enumerate(container.decode(stream)):
                if i % step == 0:
                    picture = frame.to_image()
                    frames.append(picture.resize((width, round(width * picture.height / picture.width)),
                                                 Image.LANCZOS))
    # A palette per frame (small colourful parts, a pink nose or a red band, keep their colour).
    quantized = [f.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
                 for f in frames]
    path = out / "demo.gif"
    quantized[0].save(path, save_all=True, append_images=quantized[1:], duration=round(1000 / fps), loop=0,
                      optimize=True)
    size = path.stat().st_size
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
          f"({len(frames)} frames, {size / 1e6:.2f} MB)")
    if size > limit:
        raise SystemExit(f"{path} is {size / 1e6:.1f} MB, over {limit / 1e6:.0f} MB: lower --gif-width")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=240)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--no-gif", action="store_true", help="skip docs/demo.gif (renders the demo)")
    parser.add_argument("--gif-width", type=int, default=360)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    front = padded_astronaut(160)
    render_views({"front": front}, list(SHOWCASE) + list(OLDER), args.size, out)
    render_views({"turned": turned_view(front)}, list(SHOWCASE), args.size, out)
    from skimage import data

    render_strip(np.ascontiguousarray(data.astronaut()), EXTRAS, args.size, out / "extras.png")
    if not args.no_gif:
        make_gif(out, args.gif_width)
    return 0


if __name__ == "__main__":
    sys.exit(main())
