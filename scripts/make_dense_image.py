"""docs/dense.png: the 3DDFA-style views and the face swap on scikit-image's astronaut (public domain).

    python scripts/make_dense_image.py

Panels, left to right: posebox, sparse68, depth, normals, the face's texture capture (over grey,
by `arfx capture-face`), and faceswap on a blue-tinted copy of the photo (colour matched).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import arfx  # noqa: E402


def main() -> int:
    import cv2
    from skimage import data

    from arfx.export import capture_face_texture
    from arfx.render.context import create_headless_context

    rgb = data.astronaut()
    crop = (slice(15, 235), slice(125, 325))  # 220 x 200 around the head
    panels = []
    with arfx.FaceEffects("posebox", static=True) as fx:
        for name in ("posebox", "sparse68", "depth", "normals"):
            fx.effect = name
            panels.append(fx(rgb)[crop])
        result = fx.result
    ctx = create_headless_context()
    try:
        texture = capture_face_texture(ctx, rgb, result.faces[0].mesh, result.camera, 220)
    finally:
        ctx.release()
    alpha = texture[..., 3:4] / 255.0
    unwrapped = (texture[..., :3] * alpha + 110 * (1 - alpha)).astype(np.uint8)
    panels.append(unwrapped[:, 10:210])  # 220 x 220 -> the panels' 220 x 200
    tinted = np.clip(rgb * np.array([0.8, 0.92, 1.12]), 0, 255).astype(np.uint8)
    with arfx.FaceEffects("faceswap", static=True) as fx:
        panels.append(fx(tinted)[crop])
    image = np.hstack(panels)
    out = ROOT / "docs" / "dense.png"
    cv2.imwrite(str(out), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out.relative_to(ROOT)} ({image.shape[1]}x{image.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
