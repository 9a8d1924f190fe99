"""Make the built-in `reactions` effect: one 3D file whose parts react to expressions through
[[trigger]] actions (assets/effects/reactions).

    .venv/bin/python scripts/make_reactions.py [--check]

- a gold halo over the head, swapped for a red "!" while the brows are raised (swap);
- a round face in a bubble beside the head that grins while you smile (texture: the file's
  own image is the plain face, grin.png the smiling one);
- the bubble spins one turn each time the mouth opens (play: the file's "spin" clip);
- hearts fly up from the eyes on each blink (burst: heart.png; blinks need refined landmarks,
  `arfx reactions --refine`: without them the eyelid points never meet).

Everything is drawn here (no image files are read); --check compares with the files on disk.
--sheet OUT.png renders the effect on the astronaut photo with its scores set by hand (the
tracked face, each score overwritten), one panel per action firing, for looking at.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from arfx.geometry.canonical import CanonicalFace  # noqa: E402
from make_assets import write_outputs  # noqa: E402
from make_showcase import Glb, add_part  # noqa: E402

FOLDER = ROOT / "assets" / "effects" / "reactions"
SIZE = 256  # sprite and face images, pixels
BUBBLE_AT = (-14.0, 5.0, -2.0)  # cm in face space: beside the head on the person's right

TOML = """\
# Built-in: parts that react to expressions ([[trigger]] actions; scripts/make_reactions.py).
name = "reactions"
kind = "object3d"
asset = "reactions.glb"
description = "halo, a bubble face and hearts that react to brows, smile, open mouth and blinks"

[placement]
units = "m"

[[trigger]]                  # raise your brows: the halo turns into a "!"
when = "browInnerUp > 0.5"
swap = {part = "halo", with = "exclaim"}

[[trigger]]                  # smile: the bubble's face grins
when = "mouthSmileLeft > 0.5"
texture = {part = "bubble", image = "grin.png"}

[[trigger]]                  # open your mouth: the bubble spins once
when = "jawOpen > 0.35"
play = "spin"

[[trigger]]                  # blink (track with --refine): hearts fly up from the eyes
when = "eyeBlinkLeft > 0.5"
burst = {sprite = "heart.png", count = 14, speed = 18.0, life = 1.2, size = 2.2, gravity = -25.0, at = "face.eyes"}
"""


def png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _canvas(scale: int = 4):
    """A transparent RGBA drawing 4x the final size (drawn large, then shrunk: smooth edges)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    return image, ImageDraw.Draw(image), SIZE * scale / 256.0


def _finish(image) -> np.ndarray:
    from PIL import Image

    return np.asarray(image.resize((SIZE, SIZE), Image.LANCZOS), np.uint8).copy()


def heart_rgba() -> np.ndarray:
    """A red heart with a lighter rim, on transparency (the burst sprite)."""
    image, draw, k = _canvas()
    t = np.linspace(0.0, 2.0 * math.pi, 400)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    for scale, colour in ((7.4, (255, 150, 175, 255)), (6.6, (225, 30, 70, 255))):
        points = [(128 * k + scale * k * a, 120 * k - scale * k * b) for a, b in zip(x, y)]
        draw.polygon(points, fill=colour)
    draw.ellipse([78 * k, 52 * k, 104 * k, 78 * k], fill=(255, 210, 220, 200))  # a highlight
    return _finish(image)


def face_rgba(grin: bool) -> np.ndarray:
    """A yellow round face: plain (a straight mouth) or grinning (open smile, raised cheeks)."""
    image, draw, k = _canvas()
    draw.ellipse([8 * k, 8 * k, 248 * k, 248 * k], fill=(60, 40, 10, 255))
    draw.ellipse([16 * k, 16 * k, 240 * k, 240 * k], fill=(255, 205, 40, 255))
    dark = (70, 40, 10, 255)
    if grin:
        for cx in (88, 168):  # closed, happy eyes
            draw.arc([(cx - 22) * k, 80 * k, (cx + 22) * k, 122 * k], 200, 340, fill=dark, width=int(9 * k))
        draw.chord([58 * k, 110 * k, 198 * k, 210 * k], 0, 180, fill=dark)
        draw.chord([84 * k, 160 * k, 172 * k, 208 * k], 200, 340, fill=(230, 80, 90, 255))
        for cx in (52, 204):
            draw.ellipse([(cx - 20) * k, 140 * k, (cx + 20) * k, 165 * k], fill=(255, 140, 90, 200))
    else:
        for cx in (88, 168):
            draw.ellipse([(cx - 14) * k, 82 * k, (cx + 14) * k, 118 * k], fill=dark)
        draw.rounded_rectangle([84 * k, 168 * k, 172 * k, 180 * k], radius=6 * k, fill=dark)
    return _finish(image)


def reactions_glb(face: CanonicalFace) -> bytes:
    import trimesh

    glb = Glb()
    gold = glb.material("halo gold", (1.0, 0.78, 0.2, 1.0), 0.9, 0.25, emissive=(0.35, 0.25, 0.02))
    red = glb.material("exclaim red", (0.9, 0.08, 0.1, 1.0), 0.0, 0.4, emissive=(0.25, 0.0, 0.0))
    plain = glb.material("bubble face", (1.0, 1.0, 1.0, 1.0), 0.0, 0.6, emissive=(0.2, 0.2, 0.2),
                         texture=glb.texture(face_rgba(grin=False)))
    top = float(face.vertices[10, 1])  # the canonical mesh's top of the forehead
    roots = []

    halo = trimesh.creation.torus(major_radius=5.5, minor_radius=0.7, major_sections=64, minor_sections=16)
    halo.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (1, 0, 0)))  # lie flat
    halo.apply_translation((0.0, top + 4.5, -3.0))
    add_part(glb, "halo", halo, gold, roots)

    bar = trimesh.creation.capsule(height=2.6, radius=0.75, count=(16, 16))
    bar.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (1, 0, 0)))
    bar.apply_translation((0.0, top + 7.9, -1.0))
    dot = trimesh.creation.icosphere(subdivisions=3, radius=0.85)
    dot.apply_translation((0.0, top + 4.7, -1.0))
    add_part(glb, "exclaim", trimesh.util.concatenate([bar, dot]), red, roots)

    # The bubble: a thin disc facing the viewer, textured on its front by planar UVs; its node
    # sits beside the head so the "spin" clip turns it about its own vertical axis.
    disc = trimesh.creation.cylinder(radius=4.5, height=0.4, sections=64)
    vertices = np.asarray(disc.vertices)
    uvs = np.stack([0.5 + vertices[:, 0] / 9.0, 0.5 - vertices[:, 1] / 9.0], axis=1)
    vertices_flat = vertices[disc.faces.reshape(-1)]
    faces = np.arange(len(vertices_flat)).reshape(-1, 3)
    normals = np.repeat(disc.face_normals, 3, axis=0)
    mesh = glb.mesh("bubble", vertices_flat, faces, plain, normals, uvs[disc.faces.reshape(-1)])
    bubble = glb.node("bubble", mesh, translation_cm=BUBBLE_AT)
    roots.append(bubble)
    turns = np.linspace(0.0, 2.0 * math.pi, 9)
    glb.animation("spin", bubble, "rotation", np.linspace(0.0, 0.8, 9),
                  [(0.0, math.sin(a / 2), 0.0, math.cos(a / 2)) for a in turns])
    return glb.to_bytes(roots)


def outputs(face: CanonicalFace) -> dict[Path, bytes]:
    return {FOLDER / "reactions.glb": reactions_glb(face),
            FOLDER / "grin.png": png(face_rgba(grin=True)),
            FOLDER / "heart.png": png(heart_rgba()),
            FOLDER / "effect.toml": TOML.encode()}


#: Sheet panels: (caption, scores set on the tracked face, seconds since the frame before).
PANELS = (
    ("at rest", {}, 0.0),
    ("browInnerUp 0.8: swap", {"browInnerUp": 0.8}, 0.1),
    ("mouthSmileLeft 0.8: texture", {"mouthSmileLeft": 0.8}, 0.1),
    ("", {"jawOpen": 0.6}, 0.1),  # the clip starts
    ("jawOpen 0.6: play, 0.15 s", {"jawOpen": 0.6}, 0.15),
    ("play, 0.3 s", {"jawOpen": 0.6}, 0.15),
    ("", {"eyeBlinkLeft": 0.9}, 0.1),  # the burst is thrown
    ("eyeBlinkLeft 0.9: burst, 0.1 s", {}, 0.1),
    ("burst, 0.45 s", {}, 0.35),
    ("burst, 0.9 s", {}, 0.45),
)


def sheet(path: Path) -> None:
    """Render PANELS (the photo cropped around the face) side by side into `path`."""
    import cv2

    import arfx
    from arfx.demo import astronaut_image

    rgb = np.ascontiguousarray(astronaut_image())
    panels, timestamp = [], 0.0
    with arfx.FaceEffects("reactions", static=True) as fx:
        result = fx.track(rgb)
        face = result.faces[0]
        rest = dict(face.expressions)
        for caption, scores, step in PANELS:
            timestamp += step
            face.expressions.clear()
            face.expressions.update({**{k: 0.0 for k in rest}, **scores})
            result.timestamp = timestamp
            out = fx._pipeline.renderer.render(rgb, result, fx.effect)
            if not caption:  # the frame before the clip starts is not shown
                continue
            crop = cv2.resize(cv2.cvtColor(out[0:300, 90:390], cv2.COLOR_RGB2BGR), (220, 220),
                              interpolation=cv2.INTER_AREA)
            cv2.putText(crop, caption, (4, 213), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (255, 255, 255), 1, cv2.LINE_AA)
            panels.append(crop)
    sheet_bgr = np.concatenate([np.concatenate(panels[:4], axis=1), np.concatenate(panels[4:], axis=1)], axis=0)
    cv2.imwrite(str(path), sheet_bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk")
    parser.add_argument("--sheet", type=Path, help="render the actions firing into this PNG")
    args = parser.parse_args()
    if args.sheet:
        sheet(args.sheet)
        return 0
    return write_outputs(outputs(CanonicalFace.load()), args.check, "reactions effect")


if __name__ == "__main__":
    sys.exit(main())
