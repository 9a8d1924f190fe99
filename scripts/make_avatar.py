"""Generate the built-in avatar: a cartoon head (GLB, metres) whose morph targets are named after
the expression scores arfx estimates, so it opens its mouth, blinks, smiles and raises its brows
with the face it is worn on.

    python scripts/make_avatar.py          # writes assets/effects/avatar/
    python scripts/make_avatar.py --check  # compares with the files on disk
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arfx.render.gltf_write import GltfBuilder  # noqa: E402

FOLDER = ROOT / "assets" / "effects" / "avatar"
CM = 0.01  # the file is in metres, as glTF requires; the numbers below are cm

AVATAR_TOML = """\
# Built-in: a cartoon head that copies the face's expressions (morph targets named after them).
name = "avatar"
kind = "avatar"
asset = "avatar.glb"
description = "a cartoon head that opens its mouth, blinks, smiles and raises its brows with you"

[placement]
units = "m"
"""


def ellipsoid(centre, radii, rows: int = 24, columns: int = 40):
    """Vertices, normals and triangles of an ellipsoid (cm)."""
    theta = np.linspace(0.0, np.pi, rows + 1)[:, None]
    phi = np.linspace(0.0, 2.0 * np.pi, columns + 1)[None, :]
    unit = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta) * np.ones_like(phi),
                     np.sin(theta) * np.cos(phi)], axis=-1).reshape(-1, 3)
    radii = np.asarray(radii, np.float64)
    vertices = unit * radii + centre
    normals = unit / radii
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    faces = []
    for r in range(rows):
        for c in range(columns):
            a, b = r * (columns + 1) + c, r * (columns + 1) + c + 1
            d, e = a + columns + 1, b + columns + 1
            faces += [(a, d, b), (b, d, e)]
    return vertices, normals, np.asarray(faces, np.uint32)


def add_part(builder: GltfBuilder, name: str, vertices, normals, faces, colour, targets: dict) -> int:
    """One node+mesh with vertex colours and named morph targets (offsets in cm)."""
    colours = np.tile(np.asarray(colour, np.float32), (len(vertices), 1))
    material = builder.material(pbrMetallicRoughness={"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0,
                                                      "roughnessFactor": 0.7})
    names = list(targets)
    mesh = builder.mesh(np.round(vertices * CM, 7), faces, normals=np.round(normals, 6), colors=colours,
                        material=material, targets=[np.round(targets[n] * CM, 7) for n in names] or None,
                        target_names=names or None)
    return builder.node(name=name, mesh=mesh)


def avatar_bytes() -> bytes:
    builder = GltfBuilder()
    # The head: a rounded egg around the canonical face (whose nose tip is at z 7.5 cm).
    head, head_n, head_f = ellipsoid((0.0, 0.5, -0.5), (8.6, 11.0, 9.8), 28, 48)
    jaw = np.clip((-3.0 - head[:, 1]) / 6.0, 0.0, 1.0) * (head[:, 2] > 0)  # the chin drops
    add_part(builder, "head", head, head_n, head_f, (1.0, 0.78, 0.55, 1.0),
             {"jawOpen": np.stack([0 * jaw, -2.2 * jaw, 0 * jaw], axis=1)})
    for side, name in ((1.0, "Left"), (-1.0, "Right")):  # +x is the person's left
        centre = np.array([side * 3.2, 2.4, 7.4])
        eye, eye_n, eye_f = ellipsoid(centre, (1.5, 1.7, 1.2), 14, 20)
        squash = np.stack([np.zeros(len(eye)), -(eye[:, 1] - centre[1]) * 0.9, np.zeros(len(eye))], axis=1)
        wide = np.stack([np.zeros(len(eye)), (eye[:, 1] - centre[1]) * 0.35, np.zeros(len(eye))], axis=1)
        add_part(builder, f"eye{name}", eye, eye_n, eye_f, (0.97, 0.97, 0.97, 1.0),
                 {f"eyeBlink{name}": squash, f"eyeWide{name}": wide})
        pupil_centre = centre + (0.0, -0.1, 1.05)
        pupil, pupil_n, pupil_f = ellipsoid(pupil_centre, (0.65, 0.75, 0.3), 10, 16)
        shut = np.stack([np.zeros(len(pupil)), -(pupil[:, 1] - pupil_centre[1]) * 0.9,
                         np.full(len(pupil), -0.25)], axis=1)
        add_part(builder, f"pupil{name}", pupil, pupil_n, pupil_f, (0.08, 0.06, 0.05, 1.0),
                 {f"eyeBlink{name}": shut})
        brow_centre = np.array([side * 3.2, 5.1, 8.0])
        brow, brow_n, brow_f = ellipsoid(brow_centre, (1.9, 0.35, 0.45), 6, 16)
        inner = np.clip(1.0 - (side * brow[:, 0] - 1.3) / 3.8, 0.0, 1.0)  # 1 at the inner end
        up = np.stack([np.zeros(len(brow)), 0.9 * inner, np.zeros(len(brow))], axis=1)
        outer = np.stack([np.zeros(len(brow)), 0.9 * (1.0 - inner), np.zeros(len(brow))], axis=1)
        down = np.tile((0.0, -0.6, 0.0), (len(brow), 1))
        add_part(builder, f"brow{name}", brow, brow_n, brow_f, (0.25, 0.15, 0.08, 1.0),
                 {"browInnerUp": up, f"browOuterUp{name}": outer, f"browDown{name}": down})
    # The mouth: a dark oval on the lower face that opens, smiles and puckers.
    mouth_centre = np.array([0.0, -4.6, 8.0])
    mouth, mouth_n, mouth_f = ellipsoid(mouth_centre, (2.6, 0.45, 0.6), 10, 24)
    dx, dy = mouth[:, 0] - mouth_centre[0], mouth[:, 1] - mouth_centre[1]
    zero = np.zeros(len(mouth))
    targets = {"jawOpen": np.stack([zero, np.where(dy < 0, dy * 4.0 - 1.0, zero), zero], axis=1),
               "mouthPucker": np.stack([-dx * 0.55, zero, np.full(len(mouth), 0.4)], axis=1),
               "mouthFunnel": np.stack([-dx * 0.4, dy * 1.5, np.full(len(mouth), 0.4)], axis=1)}
    for side, name in ((1.0, "Left"), (-1.0, "Right")):
        corner = np.clip(side * dx / 2.6, 0.0, 1.0) ** 2
        targets[f"mouthSmile{name}"] = np.stack([side * 0.5 * corner, 1.1 * corner, zero], axis=1)
        targets[f"mouthFrown{name}"] = np.stack([zero, -0.9 * corner, zero], axis=1)
    add_part(builder, "mouth", mouth, mouth_n, mouth_f, (0.45, 0.05, 0.08, 1.0), targets)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = builder.write(Path(folder) / "avatar.glb")
        return path.read_bytes()


def outputs() -> dict[Path, bytes]:
    return {FOLDER / "avatar.glb": avatar_bytes(), FOLDER / "effect.toml": AVATAR_TOML.encode()}


def main() -> int:
    from make_assets import write_outputs  # scripts/ is on the path when this runs as a script

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk")
    args = parser.parse_args()
    return write_outputs(outputs(), args.check, "the avatar's files")


if __name__ == "__main__":
    sys.exit(main())
