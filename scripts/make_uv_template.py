"""Draw the face-paint UV template: feature outlines and markers on a transparent image.

    python scripts/make_uv_template.py            # writes docs/uv_template.png

Paint on a copy of it (keep the size square; any size works), delete or hide the template's
own layer, and drop the PNG into an effects folder: pixels land on the face where the outlines
show them, and transparent pixels leave the face as it is. Texture row 0 is the top of the
image (v = 0 at the top), so the forehead is up and the chin down, the person's right eye on
the left, as you see a face.

Drawn: the face oval (the mesh's outer edge), eyes, brows, nostrils, outer and inner lips, a
grid every 1/16 of the image, and a marker at the centre of each feature (eyes, brows, nose
tip, mouth, chin, forehead), all placed at the canonical face's UVs.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from arfx.geometry.canonical import CanonicalFace  # noqa: E402

# Feature outlines as closed loops of MediaPipe face-mesh vertex indices ("right" is the
# person's right: canonical -x, the left side of the template).
EYE_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_LEFT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
BROW_RIGHT = (46, 53, 52, 65, 55, 107, 66, 105, 63, 70)
BROW_LEFT = (276, 283, 282, 295, 285, 336, 296, 334, 293, 300)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
# Nostrils: the vertices around each opening under the nose (ordered around their centre).
NOSTRIL_RIGHT = (20, 60, 75, 240, 98, 97, 99, 242, 141)
NOSTRIL_LEFT = (250, 290, 305, 460, 327, 326, 328, 462, 370)

OUTLINES = {"eye": (EYE_RIGHT, EYE_LEFT), "brow": (BROW_RIGHT, BROW_LEFT),
            "nostril": (NOSTRIL_RIGHT, NOSTRIL_LEFT), "lips": (LIPS_OUTER, LIPS_INNER)}

#: Marker name -> the vertices whose mean UV it sits on.
MARKERS = {
    "right eye": EYE_RIGHT, "left eye": EYE_LEFT,
    "right brow": BROW_RIGHT, "left brow": BROW_LEFT,
    "nose tip": (1,), "mouth": LIPS_INNER, "chin": (152,), "forehead": (151,),
}

# RGBA colours (straight alpha).
OUTLINE_COLOR = (20, 20, 20, 230)
OVAL_COLOR = (0, 90, 200, 230)
GRID_COLOR = (120, 120, 120, 70)
MARKER_COLOR = (230, 0, 0, 255)
LABEL_COLOR = (150, 0, 0, 255)


def face_oval(face: CanonicalFace) -> list[int]:
    """The mesh's outer boundary, in order: edges used by one triangle only."""
    counts = collections.Counter()
    for a, b, c in face.triangles:
        for edge in ((a, b), (b, c), (c, a)):
            counts[tuple(sorted((int(edge[0]), int(edge[1]))))] += 1
    neighbours = collections.defaultdict(list)
    for (a, b), count in counts.items():
        if count == 1:
            neighbours[a].append(b)
            neighbours[b].append(a)
    start = min(neighbours, key=lambda i: face.uvs[i][1])  # the top of the forehead
    loop, previous = [start], None
    while True:
        options = [n for n in neighbours[loop[-1]] if n != previous]
        if not options or options[0] == start:
            return loop
        previous = loop[-1]
        loop.append(options[0])


def marker_uvs(face: CanonicalFace) -> dict[str, np.ndarray]:
    """Marker name -> (u, v) of the feature's centre."""
    return {name: face.uvs[list(indices)].mean(axis=0) for name, indices in MARKERS.items()}


def _ordered_loop(face: CanonicalFace, indices) -> list[int]:
    """Nostril vertices are listed unordered: order them by angle around their centre."""
    uv = face.uvs[list(indices)]
    angles = np.arctan2(*(uv - uv.mean(axis=0)).T[::-1])
    return [indices[i] for i in np.argsort(angles)]


def _over(image: np.ndarray, coverage: np.ndarray, color) -> None:
    """Composite a solid colour with per-pixel coverage (0..255) over a straight-alpha RGBA image."""
    a = (coverage.astype(np.float32) / 255.0) * (color[3] / 255.0)
    base_a = image[..., 3].astype(np.float32) / 255.0
    out_a = a + base_a * (1.0 - a)
    for channel in range(3):
        mixed = color[channel] * a + image[..., channel] * base_a * (1.0 - a)
        image[..., channel] = np.where(out_a > 0, np.round(mixed / np.maximum(out_a, 1e-6)), 0).astype(np.uint8)
    image[..., 3] = np.round(out_a * 255.0).astype(np.uint8)


def template(face: CanonicalFace, size: int = 1024) -> np.ndarray:
    """uint8 RGBA [size, size, 4]: transparent except for the drawn outlines and markers."""
    image = np.zeros((size, size, 4), np.uint8)
    pixels = face.uvs.astype(np.float64) * (size - 1)  # v already counts from the top
    shift = 4  # cv2 sub-pixel coordinates: 1/16 px

    def points(indices) -> np.ndarray:
        return np.round(pixels[list(indices)] * (1 << shift)).astype(np.int32)

    def layer(draw) -> np.ndarray:
        mask = np.zeros((size, size), np.uint8)
        draw(mask)
        return mask

    line = max(1, size // 512)
    step = size / 16
    def grid(mask: np.ndarray) -> None:
        for i in range(1, 16):
            at = round(i * step)
            cv2.line(mask, (at, 0), (at, size - 1), 255, 1)
            cv2.line(mask, (0, at), (size - 1, at), 255, 1)

    _over(image, layer(grid), GRID_COLOR)
    oval = layer(lambda m: cv2.polylines(m, [points(face_oval(face))], True, 255, line + 1, cv2.LINE_AA, shift))
    _over(image, oval, OVAL_COLOR)
    loops = []
    for name, pair in OUTLINES.items():
        for indices in pair:
            loops.append(points(_ordered_loop(face, indices) if name == "nostril" else indices))
    _over(image, layer(lambda m: cv2.polylines(m, loops, True, 255, line, cv2.LINE_AA, shift)), OUTLINE_COLOR)
    radius = max(3, size // 170)
    centres = {name: uv * (size - 1) for name, uv in marker_uvs(face).items()}

    def dots(mask: np.ndarray) -> None:
        for centre in centres.values():
            at = tuple(int(v) for v in np.round(centre * (1 << shift)))
            cv2.circle(mask, at, radius << shift, 255, -1, cv2.LINE_AA, shift)

    def labels(mask: np.ndarray) -> None:
        for name, centre in centres.items():
            cv2.putText(mask, name, (int(centre[0]) + radius + 3, int(centre[1]) - radius - 3),
                        cv2.FONT_HERSHEY_SIMPLEX, size / 1700, 255, max(1, size // 1024), cv2.LINE_AA)

    _over(image, layer(dots), MARKER_COLOR)
    _over(image, layer(labels), LABEL_COLOR)
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent.parent / "docs" / "uv_template.png"))
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    from PIL import Image

    Image.fromarray(template(CanonicalFace.load(), args.size), "RGBA").save(args.output, optimize=True)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
