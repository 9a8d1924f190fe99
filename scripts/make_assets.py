#!/usr/bin/env python3
"""Generate the built-in effect assets from the canonical face (deterministic output).

    python scripts/make_assets.py            # writes assets/effects/{glasses,facepaint}/...
    python scripts/make_assets.py --check    # exit 1 if the committed files differ

glasses/glasses.glb: a pair of glasses designed in canonical face space (cm) and saved in
metres, glTF's unit: frames around both eyes, a bridge over the nose, temples running back to
the ears, dark semi-transparent lenses. facepaint/paint.png: stripes on the cheeks and a zigzag band on the forehead, laid
out on the canonical face UVs (v from the top of the image), transparent elsewhere.
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

from arfx.geometry.canonical import CanonicalFace  # noqa: E402

EFFECTS = ROOT / "assets" / "effects"

# Eye contour landmark ids (one eye; the other is its mirror image in x).
EYE_CONTOUR = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]


# -- glasses ---------------------------------------------------------------------------------

def _frames_along(points: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unit normal/binormal at each point of a polyline, rotated along it without twisting."""
    count = len(points)
    if closed:
        tangents = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    else:
        tangents = np.gradient(points, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    normals = np.empty_like(points)
    seed = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    normal = seed - tangents[0] * (seed @ tangents[0])
    normals[0] = normal / np.linalg.norm(normal)
    for i in range(1, count):
        # Parallel transport: drop the part of the previous normal along the new tangent.
        normal = normals[i - 1] - tangents[i] * (normals[i - 1] @ tangents[i])
        normals[i] = normal / np.linalg.norm(normal)
    binormals = np.cross(tangents, normals)
    return normals, binormals


def tube(points, radius_normal: float, radius_binormal: float, closed: bool = False,
         sides: int = 12):
    """A tube with an elliptical cross-section swept along a polyline (capped when open)."""
    import trimesh

    points = np.asarray(points, dtype=np.float64)
    normals, binormals = _frames_along(points, closed)
    angles = np.linspace(0.0, 2.0 * math.pi, sides, endpoint=False)
    ring = (np.cos(angles)[None, :, None] * normals[:, None, :] * radius_normal
            + np.sin(angles)[None, :, None] * binormals[:, None, :] * radius_binormal)
    vertices = (points[:, None, :] + ring).reshape(-1, 3)
    faces = []
    segments = len(points) if closed else len(points) - 1
    for i in range(segments):
        j = (i + 1) % len(points)
        for k in range(sides):
            a, b = i * sides + k, i * sides + (k + 1) % sides
            c, d = j * sides + k, j * sides + (k + 1) % sides
            faces += [(a, c, b), (b, c, d)]
    vertices = list(vertices)
    if not closed:
        for end, flip in ((0, True), (len(points) - 1, False)):
            centre = len(vertices)
            vertices.append(points[end])
            for k in range(sides):
                a, b = end * sides + k, end * sides + (k + 1) % sides
                faces.append((centre, b, a) if flip else (centre, a, b))
    mesh = trimesh.Trimesh(np.asarray(vertices), np.asarray(faces), process=True)
    trimesh.repair.fix_normals(mesh)
    return mesh


def ellipse(centre, half_width: float, half_height: float, count: int, wrap_deg: float,
            bulge: float = 0.0) -> np.ndarray:
    """Points of an ellipse in a plane facing +z, turned about y by wrap_deg around its centre."""
    t = np.linspace(0.0, 2.0 * math.pi, count, endpoint=False)
    local = np.stack([half_width * np.cos(t), half_height * np.sin(t), np.zeros_like(t) + bulge], axis=1)
    return _wrap(local, centre, wrap_deg)


def _wrap(local: np.ndarray, centre, wrap_deg: float) -> np.ndarray:
    a = math.radians(wrap_deg)
    rotation = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    return local @ rotation.T + np.asarray(centre, dtype=np.float64)


def lens(centre, half_width: float, half_height: float, wrap_deg: float, bulge: float, rings: int = 8,
         count: int = 48):
    """A gently domed elliptical lens surface (single surface, drawn double-sided)."""
    import trimesh

    vertices = [np.array([0.0, 0.0, bulge])]
    faces = []
    t = np.linspace(0.0, 2.0 * math.pi, count, endpoint=False)
    for r in range(1, rings + 1):
        f = r / rings
        ring = np.stack([half_width * f * np.cos(t), half_height * f * np.sin(t),
                         np.full_like(t, bulge * (1.0 - f * f))], axis=1)
        vertices.extend(ring)
    vertices = np.asarray(vertices)
    for k in range(count):
        faces.append((0, 1 + k, 1 + (k + 1) % count))
    for r in range(1, rings):
        base, nxt = 1 + (r - 1) * count, 1 + r * count
        for k in range(count):
            a, b = base + k, base + (k + 1) % count
            c, d = nxt + k, nxt + (k + 1) % count
            faces += [(a, c, b), (b, c, d)]
    return trimesh.Trimesh(_wrap(vertices, centre, wrap_deg), np.asarray(faces), process=True)


def build_glasses(face: CanonicalFace):
    import trimesh
    from trimesh.visual.material import PBRMaterial

    v = face.vertices.astype(np.float64)
    eye = v[EYE_CONTOUR].mean(axis=0)  # the eye on -x (the face's right eye)
    eye_x, eye_y = abs(float(eye[0])), float(eye[1]) - 0.05
    half_w, half_h = 2.55, 1.95
    # Lens plane just in front of the highest point of the face inside the lens outline,
    # so the frame never cuts into the nose or cheeks.
    inside = ((np.abs(v[:, 0]) - eye_x) / half_w) ** 2 + ((v[:, 1] - eye_y) / half_h) ** 2 <= 1.15
    lens_z = float(v[inside, 2].max()) + 0.45
    wrap = 8.0
    frame_r = (0.16, 0.26)  # cross-section half sizes: along the lens plane normal, in-plane

    black = PBRMaterial(name="frame", baseColorFactor=[0.015, 0.015, 0.02, 1.0], metallicFactor=0.0,
                        roughnessFactor=0.28)
    metal = PBRMaterial(name="metal", baseColorFactor=[0.75, 0.75, 0.78, 1.0], metallicFactor=1.0,
                        roughnessFactor=0.25)
    glass = PBRMaterial(name="lens", baseColorFactor=[0.02, 0.03, 0.06, 0.62], metallicFactor=0.0,
                        roughnessFactor=0.05, alphaMode="BLEND", doubleSided=True)

    parts = {}
    hinges = []
    for side in (-1.0, 1.0):
        centre = (side * eye_x, eye_y, lens_z)
        # Wrap: the outer edge of each lens turns back towards the ear.
        turn = -side * wrap
        rim = ellipse(centre, half_w, half_h, 64, turn)
        name = "right" if side < 0 else "left"
        parts[f"rim_{name}"] = (tube(rim, *frame_r, closed=True), black)
        parts[f"lens_{name}"] = (lens(centre, half_w - 0.05, half_h - 0.05, turn, 0.25), glass)
        outer = _wrap(np.array([[side * half_w, 0.35, 0.0]]), centre, turn)[0]
        hinges.append(outer)
        # Temple: from the hinge straight back along the side of the head, bending down
        # behind the ear (the canonical face edge at ear height is at |x| ~ 7.7, z ~ -2).
        ear_x = float(np.abs(v[:, 0]).max()) + 0.35
        path = [outer + np.array([side * 0.15, 0.0, -0.25]),
                np.array([side * (ear_x - 0.25), outer[1] - 0.1, lens_z - 3.0]),
                np.array([side * ear_x, outer[1] - 0.5, -3.0]),
                np.array([side * ear_x, outer[1] - 0.9, -4.4]),
                np.array([side * (ear_x - 0.3), outer[1] - 1.9, -5.2])]
        path = _smooth_polyline(np.asarray(path), 10)
        parts[f"temple_{name}"] = (tube(path, 0.22, 0.11, sides=10), black)
        hinge = trimesh.creation.box(extents=(0.5, 0.6, 0.7))
        hinge.apply_translation(outer + np.array([side * 0.05, 0.0, -0.25]))
        parts[f"hinge_{name}"] = (hinge, metal)
    # Bridge: an arch over the nose joining the inner edges of the two rims.
    inner = [_wrap(np.array([[-side * half_w * 0.97, 0.55, 0.0]]), (side * eye_x, eye_y, lens_z),
                   -side * wrap)[0] for side in (-1.0, 1.0)]
    t = np.linspace(0.0, 1.0, 13)
    bridge = np.outer(1 - t, inner[0]) + np.outer(t, inner[1])
    bridge[:, 1] += 0.35 * np.sin(np.pi * t)
    bridge[:, 2] += 0.15 * np.sin(np.pi * t)
    parts["bridge"] = (tube(bridge, 0.17, 0.2), black)

    scene = trimesh.Scene()
    for name, (mesh, material) in parts.items():
        mesh.apply_scale(0.01)  # designed in cm, saved in metres (glTF's unit)
        mesh.visual = trimesh.visual.TextureVisuals(material=material)
        # Normals rounded (and -0 made +0) so that the file is byte-identical across numpy
        # and BLAS builds, whose last-bit differences otherwise change it.
        mesh.vertex_normals = np.round(mesh.vertex_normals, 5) + 0.0
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    return scene


def _smooth_polyline(points: np.ndarray, per_segment: int) -> np.ndarray:
    """Catmull-Rom through the control points (for rounded temple bends)."""
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1: i + 3]
        for s in np.linspace(0.0, 1.0, per_segment, endpoint=False):
            out.append(0.5 * ((2 * p1) + (-p0 + p2) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s * s
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * s ** 3))
    out.append(points[-1])
    return np.asarray(out)


def glasses_bytes(face: CanonicalFace) -> bytes:
    scene = build_glasses(face)
    return scene.export(file_type="glb", include_normals=True)


# -- flames (a triggered effect) ------------------------------------------------------------

def flames_bytes() -> bytes:
    """Tongues of fire coming out of an open mouth: cones in anchor space (face.mouth, metres),
    pointing forward and fanning out, hot yellow inside, orange outside."""
    import trimesh
    from trimesh.visual.material import PBRMaterial

    scene = trimesh.Scene()
    layers = (("outer", (1.0, 0.35, 0.02, 0.75), 1.0), ("inner", (1.0, 0.85, 0.2, 0.9), 0.6))
    for name, colour, size in layers:
        material = PBRMaterial(name=name, baseColorFactor=list(colour), metallicFactor=0.0, roughnessFactor=1.0,
                               emissiveFactor=list(colour[:3]), alphaMode="BLEND", doubleSided=True)
        for k, (yaw, pitch, length) in enumerate(((0, -50, 14), (-35, -40, 11), (35, -40, 11), (-15, -65, 10),
                                                  (15, -65, 10))):
            cone = trimesh.creation.cone(radius=1.6 * size, height=length * size, sections=20)
            # Built along +z from its base: turn it out of the mouth (z towards the viewer).
            cone.apply_transform(trimesh.transformations.euler_matrix(np.radians(-pitch), np.radians(yaw), 0, "sxyz"))
            cone.apply_translation((0.0, -0.3, 0.6))
            cone.apply_scale(0.01)  # cm -> m
            cone.vertex_normals = np.round(cone.vertex_normals, 5) + 0.0
            cone.visual = trimesh.visual.TextureVisuals(material=material)
            scene.add_geometry(cone, node_name=f"{name}_{k}", geom_name=f"{name}_{k}")
    return scene.export(file_type="glb", include_normals=True)


FACESWAP_TOML = """\
# Built-in: the face of scikit-image's astronaut photo (Eileen Collins, NASA; public domain) worn
# over tracked faces, its colour moved onto each face's skin, eyes and mouth left open.
name = "faceswap"
kind = "faceswap"
asset = "astronaut.png"
description = "face swap with the astronaut photo's face"

[faceswap]
opacity = 1.0
feather = 0.04               # soft edge, a fraction of the texture size
color_match = 1.0            # 0: the photo's own colour, 1: the target skin's
"""


def astronaut_bytes() -> bytes:
    """The head of scikit-image's astronaut (public domain), cropped: the face swap's photo."""
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()[20:240, 130:330]).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


FLAMES_TOML = """\
# Built-in: fire from the mouth, shown only while the mouth is open (a triggered effect).
name = "flames"
kind = "object3d"
asset = "flames.glb"
description = "fire from an open mouth (open your mouth)"
anchor = "face.mouth"

[placement]
units = "m"

[[trigger]]
when = "jawOpen > 0.35"      # shown while the mouth is open (off again below 0.25)
"""


BLUR_TOML = """\
# Built-in: the person kept sharp, the background behind them blurred (person segmentation).
name = "blur"
kind = "background"
description = "background blur (the person stays sharp)"

[background]
mode = "blur"                # blur | color | image (set asset = "picture.jpg" for image)
strength = 0.03              # blur radius as a fraction of the frame height
"""


# -- face paint ------------------------------------------------------------------------------

def _smoothstep(edge0, edge1, x):
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def paint_image(face: CanonicalFace, size: int = 512) -> np.ndarray:
    """RGBA uint8 [size, size, 4]: the paint as a function of canonical face position."""
    from scipy.interpolate import LinearNDInterpolator

    uv = face.uvs.astype(np.float64)
    xyz = face.vertices.astype(np.float64)
    grid = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(grid, grid)  # row index = v (from the top), column = u
    position = LinearNDInterpolator(uv, xyz)(u, v)  # NaN outside the face's UV outline
    x, y = position[..., 0], position[..., 1]
    on_face = np.isfinite(x)
    x = np.where(on_face, x, 0.0)
    y = np.where(on_face, y, 100.0)

    rgb = np.zeros((size, size, 3))
    alpha = np.zeros((size, size))
    soft = 0.12  # cm of edge softening

    # Cheeks: three diagonal stripes on each side, magenta -> violet -> cyan.
    ax = np.abs(x)
    cheek = _smoothstep(2.4, 2.4 + soft, ax) * (1 - _smoothstep(6.6 - soft, 6.6, ax))
    cheek *= _smoothstep(-3.6, -3.6 + soft, y) * (1 - _smoothstep(0.9 - soft, 0.9, y))
    diagonal = (ax - 2.6) * 0.55 + (y + 3.4) * 0.85  # runs up and out along the cheekbone
    stripe_colors = np.array([[0.95, 0.1, 0.55], [0.55, 0.2, 0.95], [0.1, 0.8, 0.95]])
    for index, color in enumerate(stripe_colors):
        centre = 1.1 + index * 1.2
        band = 1 - _smoothstep(0.42 - soft, 0.42, np.abs(diagonal - centre))
        weight = band * cheek
        rgb += weight[..., None] * color
        alpha = np.maximum(alpha, weight)

    # Forehead: a gold zigzag band.
    zig = 5.6 + 0.55 * (2 * np.abs(((x / 1.6) % 2.0) - 1.0) - 1.0)
    band = (1 - _smoothstep(0.45 - soft, 0.45, np.abs(y - zig))) * (1 - _smoothstep(5.0, 5.6, ax))
    rgb = rgb * (1 - band[..., None]) + band[..., None] * np.array([1.0, 0.75, 0.1])
    alpha = np.maximum(alpha, band)
    # Dots above the zigzag.
    dot_x = (np.round(x / 1.6 - 0.5) + 0.5) * 1.6
    dots = 1 - _smoothstep(0.34 - soft, 0.34, np.hypot(x - dot_x, y - 7.0))
    dots *= 1 - _smoothstep(4.2, 4.8, ax)
    rgb = rgb * (1 - dots[..., None]) + dots[..., None] * np.array([1.0, 1.0, 1.0])
    alpha = np.maximum(alpha, dots)

    alpha *= on_face
    out = np.zeros((size, size, 4), dtype=np.uint8)
    out[..., :3] = np.round(np.clip(rgb, 0, 1) * 255)
    out[..., 3] = np.round(np.clip(alpha, 0, 1) * 255)
    out[out[..., 3] == 0, :3] = 0
    return out


def paint_bytes(face: CanonicalFace) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(paint_image(face), "RGBA").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


GLASSES_TOML = """\
# Built-in: a pair of glasses in canonical face space, in metres, by scripts/make_assets.py.
name = "glasses"
kind = "object3d"
asset = "glasses.glb"

[placement]
units = "m"                  # glTF's unit (the default); "cm" or "mm" for files that ignore it
offset = [0.0, 0.0, 0.0]
scale = 1.0
rotation = [0.0, 0.0, 0.0]
"""

FACEPAINT_TOML = """\
# Built-in: face paint on the canonical face UVs, made by scripts/make_assets.py.
name = "facepaint"
kind = "facepaint"
asset = "paint.png"

[paint]
blend = "normal"
opacity = 0.9
"""


def debug_toml(name: str, what: str) -> str:
    return f'# Built-in debug view: {what}.\nname = "{name}"\nkind = "{name}"\n'


def outputs(face: CanonicalFace) -> dict[Path, bytes]:
    return {
        EFFECTS / "glasses" / "glasses.glb": glasses_bytes(face),
        EFFECTS / "glasses" / "effect.toml": GLASSES_TOML.encode(),
        EFFECTS / "facepaint" / "paint.png": paint_bytes(face),
        EFFECTS / "facepaint" / "effect.toml": FACEPAINT_TOML.encode(),
        EFFECTS / "mesh" / "effect.toml": debug_toml("mesh", "the tracked face mesh").encode(),
        EFFECTS / "axis" / "effect.toml": debug_toml("axis", "the head pose axes").encode(),
        EFFECTS / "landmarks" / "effect.toml": debug_toml("landmarks", "the 468 landmarks").encode(),
        EFFECTS / "hands" / "effect.toml": debug_toml("hands", "tracked hands, 21 points joined").encode(),
        EFFECTS / "pose" / "effect.toml": debug_toml("pose", "the tracked body, 33 points joined").encode(),
        EFFECTS / "posebox" / "effect.toml": debug_toml("posebox", "a 3D box fixed to the head pose").encode(),
        EFFECTS / "depth" / "effect.toml": debug_toml("depth", "the face mesh's depth as a grey ramp").encode(),
        EFFECTS / "normals" / "effect.toml": debug_toml("normals", "the face mesh's normals as colours").encode(),
        EFFECTS / "sparse68" / "effect.toml": debug_toml("sparse68", "the 68 iBUG landmarks joined").encode(),
        EFFECTS / "blur" / "effect.toml": BLUR_TOML.encode(),
        EFFECTS / "flames" / "flames.glb": flames_bytes(),
        EFFECTS / "flames" / "effect.toml": FLAMES_TOML.encode(),
        EFFECTS / "faceswap" / "astronaut.png": astronaut_bytes(),
        EFFECTS / "faceswap" / "effect.toml": FACESWAP_TOML.encode(),
    }


def write_outputs(files: dict[Path, bytes], check: bool, what: str) -> int:
    """Write the generated files that differ from the disk (or, with `check`, only list them);
    the exit status: 1 when checking finds a difference. Shared by the asset scripts."""
    changed = [path for path, data in files.items() if not (path.is_file() and path.read_bytes() == data)]
    for path in changed:
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[path])
        print(("differs: " if check else "wrote: ") + str(path.relative_to(ROOT)))
    if not changed:
        print(f"{what} are up to date")
    return 1 if check and changed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk")
    args = parser.parse_args()
    return write_outputs(outputs(CanonicalFace.load()), args.check, "assets")


if __name__ == "__main__":
    sys.exit(main())
