"""Draw the face-paint UV template: the canonical face mesh laid out in texture space.

    python scripts/make_uv_template.py            # writes docs/uv_template.png

Paint on a copy of it (keep the size square; any size works) and drop the PNG into an effects
folder: pixels land on the face where the wireframe shows them. Texture row 0 is the top of
the image (v = 0 at the top), so the forehead is up and the chin down, as you see a face.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from arfx.geometry.canonical import CanonicalFace  # noqa: E402

# A few landmarks worth naming on the template (MediaPipe's face mesh indices).
LABELS = {"forehead": 10, "nose tip": 1, "chin": 152, "right eye": 33, "left eye": 263,
          "mouth": 13}


def template(face: CanonicalFace, size: int = 1024) -> np.ndarray:
    image = np.full((size, size, 3), 255, np.uint8)
    pixels = face.uvs * (size - 1)  # v already counts from the top of the image
    for a, b, c in face.triangles:
        points = np.round(pixels[[a, b, c]]).astype(np.int32)
        cv2.polylines(image, [points], True, (200, 200, 200), 1, cv2.LINE_AA)
    for x, y in np.round(pixels).astype(np.int32):
        cv2.circle(image, (int(x), int(y)), 2, (120, 120, 120), -1, cv2.LINE_AA)
    for name, index in LABELS.items():
        x, y = np.round(pixels[index]).astype(int)
        cv2.circle(image, (int(x), int(y)), 6, (0, 0, 255), -1, cv2.LINE_AA)
        cv2.putText(image, name, (int(x) + 10, int(y) - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 0, 200), 1, cv2.LINE_AA)
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent.parent / "docs" / "uv_template.png"))
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    cv2.imwrite(args.output, template(CanonicalFace.load(), args.size))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
