#!/usr/bin/env python3
"""Generate the showcase effects (deterministic output): procedural geometry and drawn textures.

    python scripts/make_showcase.py            # writes assets/effects/<name>/...
    python scripts/make_showcase.py --check    # exit 1 if the committed files differ

Every shape is built here with numpy/trimesh in canonical face space (cm: x to the person's
left, y up, z towards the viewer) and saved in metres; every texture is drawn here with
numpy/OpenCV on the canonical face UVs (v = 0 at the top). Nothing is copied from elsewhere.

    aviators   metal-framed teardrop sunglasses, tinted see-through lenses (object3d)
    tophat     a top hat with a satin band, worn on face.head_top with fit_width (object3d)
    crown      a gold crown with jewels, on face.head_top (object3d)
    cat        cat ears, a pink nose and whiskers (object3d, one file)
    venetian   a black-and-gold Venetian eye mask shaped on the face (object3d, textured)
    makeup     lipstick, blush, eyeshadow and eyeliner that keep the skin (facepaint)
    tiger      a tiger face-paint design (facepaint)
    stars      gold stars circling the head (object3d with a glTF animation)
"""

from __future__ import annotations

import argparse
import io
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from arfx.geometry.canonical import CanonicalFace  # noqa: E402
from arfx.render.gltf import srgb_to_linear  # noqa: E402
from make_assets import _smooth_polyline, _wrap, tube, write_outputs  # noqa: E402

EFFECTS = ROOT / "assets" / "effects"
SHOWCASE = ("aviators", "tophat", "crown", "cat", "venetian", "makeup", "tiger", "stars")
#: glTF minFilter LINEAR_MIPMAP_NEAREST: one mip level sampled bilinearly, half the texel reads
#: of trilinear on llvmpipe; on a texture seen at about its own size the levels barely differ.
MIP_NEAREST = 9985

EYE_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_LEFT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
UPPER_LID_RIGHT = (33, 246, 161, 160, 159, 158, 157, 173, 133)
UPPER_LID_LEFT = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)


# -- a small deterministic glTF (GLB) writer --------------------------------------------------

class Glb:
    """Meshes, materials, textures, nodes and animations into one .glb (positions in metres)."""

    def __init__(self) -> None:
        self.tree: dict = {"asset": {"version": "2.0", "generator": "arfx scripts/make_showcase.py"}}
        self.blob = bytearray()

    def _add(self, key: str, item: dict) -> int:
        self.tree.setdefault(key, []).append(item)
        return len(self.tree[key]) - 1

    def _view(self, data: bytes, target: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob.extend(data)
        return self._add("bufferViews", view)

    def accessor(self, array, kind: str, minmax: bool = False, target: int | None = None) -> int:
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array, component = array.astype("<f4"), 5126
        else:
            array, component = array.astype("<u4"), 5125
        item = {"bufferView": self._view(array.tobytes(), target), "componentType": component,
                "count": int(array.shape[0]), "type": kind}
        if minmax:
            flat = array.reshape(array.shape[0], -1)
            item["min"] = [float(x) for x in flat.min(axis=0)]
            item["max"] = [float(x) for x in flat.max(axis=0)]
        return self._add("accessors", item)

    def texture(self, rgba: np.ndarray, min_filter: int = 9987) -> int:
        """A PNG texture; min_filter: GL's (9987 trilinear, 9985 one mip level, bilinear)."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(rgba).save(buffer, format="PNG", optimize=False)
        image = self._add("images", {"bufferView": self._view(buffer.getvalue()), "mimeType": "image/png"})
        sampler = self._add("samplers", {"magFilter": 9729, "minFilter": min_filter, "wrapS": 33071, "wrapT": 33071})
        return self._add("textures", {"source": image, "sampler": sampler})

    def material(self, name: str, color, metallic: float, roughness: float, emissive=None,
                 blend: bool = False, double_sided: bool = False, texture: int | None = None) -> int:
        pbr = {"baseColorFactor": [float(c) for c in color], "metallicFactor": float(metallic),
               "roughnessFactor": float(roughness)}
        if texture is not None:
            pbr["baseColorTexture"] = {"index": texture}
        item = {"name": name, "pbrMetallicRoughness": pbr}
        if emissive is not None:
            item["emissiveFactor"] = [float(c) for c in emissive]
        if blend:
            item["alphaMode"] = "BLEND"
        if double_sided:
            item["doubleSided"] = True
        return self._add("materials", item)

    def mesh(self, name: str, vertices_cm, faces, material: int, normals=None, uvs=None, colors=None) -> int:
        """A mesh from cm vertices; smooth normals from trimesh unless given (rounded: see below);
        colors: linear RGBA per vertex (COLOR_0, multiplying the material's base colour)."""
        import trimesh

        vertices_cm = np.asarray(vertices_cm, np.float64)
        faces = np.asarray(faces, np.int64)
        if normals is None:
            normals = trimesh.Trimesh(vertices_cm, faces, process=False).vertex_normals
        # Rounded (and -0 made +0) so the file is byte-identical across numpy and BLAS builds.
        normals = np.round(np.asarray(normals, np.float64), 5) + 0.0
        positions = np.round(vertices_cm * 0.01, 7) + 0.0
        attributes = {"POSITION": self.accessor(positions, "VEC3", minmax=True, target=34962),
                      "NORMAL": self.accessor(normals, "VEC3", target=34962)}
        if uvs is not None:
            attributes["TEXCOORD_0"] = self.accessor(np.round(np.asarray(uvs, np.float64), 6) + 0.0, "VEC2",
                                                     target=34962)
        if colors is not None:
            attributes["COLOR_0"] = self.accessor(np.round(np.asarray(colors, np.float64), 6) + 0.0, "VEC4",
                                                  target=34962)
        primitive = {"attributes": attributes, "indices": self.accessor(faces.reshape(-1), "SCALAR", target=34963),
                     "material": material}
        return self._add("meshes", {"name": name, "primitives": [primitive]})

    def node(self, name: str, mesh: int | None = None, children=None, translation_cm=None, rotation=None) -> int:
        item: dict = {"name": name}
        if mesh is not None:
            item["mesh"] = mesh
        if children:
            item["children"] = list(children)
        if translation_cm is not None:
            item["translation"] = [round(float(c) * 0.01, 7) + 0.0 for c in translation_cm]
        if rotation is not None:
            item["rotation"] = [round(float(c), 7) + 0.0 for c in rotation]
        return self._add("nodes", item)

    def animation(self, name: str, node: int, path: str, times, values) -> int:
        sampler = {"input": self.accessor(np.asarray(times, np.float64), "SCALAR", minmax=True),
                   "output": self.accessor(np.round(np.asarray(values, np.float64), 7) + 0.0,
                                           {3: "VEC3", 4: "VEC4"}[np.shape(values)[1]]),
                   "interpolation": "LINEAR"}
        return self._add("animations", {"name": name, "samplers": [sampler],
                                        "channels": [{"sampler": 0, "target": {"node": node, "path": path}}]})

    def to_bytes(self, roots) -> bytes:
        tree = dict(self.tree)
        tree["scenes"] = [{"nodes": list(roots)}]
        tree["scene"] = 0
        blob = bytes(self.blob) + b"\0" * (-len(self.blob) % 4)
        tree["buffers"] = [{"byteLength": len(blob)}]
        text = json.dumps(tree, separators=(",", ":"), sort_keys=True).encode()
        text += b" " * (-len(text) % 4)
        body = (struct.pack("<II", len(text), 0x4E4F534A) + text
                + struct.pack("<II", len(blob), 0x004E4942) + blob)
        return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def add_part(glb: Glb, name: str, mesh, material: int, parts: list, flat: bool = False, uvs=None,
             colors=None, front_first: bool = False) -> None:
    """A trimesh (cm), or a list of them joined, as one mesh and node; flat: faceted (vertices
    split per triangle). Parts of one material are joined: every draw call costs llvmpipe (and
    the pass's per-mesh uniforms) about as much as a small part's pixels. front_first: the
    triangles ordered from the front (+z) back, so that seen from the front those behind fail
    the depth test before they are shaded."""
    if isinstance(mesh, (list, tuple)):
        import trimesh

        mesh = trimesh.util.concatenate(list(mesh))
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    if front_first:
        # Depths rounded to a micrometre: triangles at the same depth keep their order on any
        # CPU (the last bit of a float sum differs between numpy's SIMD paths, which reordered
        # such ties and changed the committed file's bytes).
        depth = np.round(vertices[faces][:, :, 2].mean(axis=1), 4)
        faces = faces[np.argsort(-depth, kind="stable")]
        mesh = type(mesh)(vertices, faces, process=False)
    normals = None
    if flat:
        vertices = vertices[faces.reshape(-1)]
        normals = np.repeat(mesh.face_normals, 3, axis=0)
        faces = np.arange(len(vertices)).reshape(-1, 3)
    parts.append(glb.node(name, glb.mesh(name, vertices, faces, material, normals, uvs, colors)))


def grid_faces(rows: int, cols: int, wrap: bool = False) -> np.ndarray:
    """Two triangles per cell of a rows x cols vertex grid (columns wrapped around when wrap)."""
    faces = []
    last = cols if wrap else cols - 1
    for r in range(rows - 1):
        for c in range(last):
            a, b = r * cols + c, r * cols + (c + 1) % cols
            d, e = a + cols, b + cols
            faces += [(a, b, d), (b, e, d)]
    return np.asarray(faces)


def revolve(profile, sections: int = 96, squash_z: float = 1.0, inward: bool = False):
    """A surface of revolution about y from (radius, y) profile points (an open tube of rings),
    facing away from the axis where it is widest (towards it with inward)."""
    import trimesh

    profile = np.asarray(profile, np.float64)
    t = np.linspace(0.0, 2.0 * math.pi, sections, endpoint=False)
    rows = [np.stack([r * np.sin(t), np.full_like(t, y), r * np.cos(t) * squash_z], axis=1) for r, y in profile]
    vertices = np.concatenate(rows)
    faces = grid_faces(len(profile), sections, wrap=True)[:, ::-1]
    mesh = trimesh.Trimesh(vertices, faces, process=True)
    centres = mesh.triangles_center
    widest = int(np.argmax(np.hypot(centres[:, 0], centres[:, 2])))
    radial = centres[widest] * np.array([1.0, 0.0, 1.0])
    if (mesh.face_normals[widest] @ radial > 0) == inward:
        mesh.invert()
    return mesh


def sphere(centre, radius, scale=(1.0, 1.0, 1.0), subdivisions: int = 2):
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    mesh.apply_scale(scale)
    mesh.apply_translation(centre)
    return mesh


def eye_centre(face: CanonicalFace) -> np.ndarray:
    """The canonical face's right eye (on -x) centre, cm."""
    return face.vertices[list(EYE_RIGHT)].astype(np.float64).mean(axis=0)


# -- aviators --------------------------------------------------------------------------------

def aviator_outline(side: float, count: int = 48) -> np.ndarray:
    """Teardrop lens outline in the lens plane (cm, centred): flat top, deep rounded outer bottom."""
    t = np.linspace(0.0, 2.0 * math.pi, count, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = 2.75 * np.sign(c) * np.abs(c) ** 0.8
    y = np.where(s > 0, 1.45 * np.sign(s) * np.abs(s) ** 0.6, 2.45 * s)
    x = x + 0.75 * np.maximum(-s, 0.0) * np.maximum(-c, 0.0)  # the inner bottom slopes up to the nose
    return np.stack([side * x, y, np.zeros_like(x)], axis=1)


def aviators_bytes(face: CanonicalFace) -> bytes:
    import trimesh

    v = face.vertices.astype(np.float64)
    eye = eye_centre(face)
    eye_x, eye_y = abs(float(eye[0])) + 0.15, float(eye[1]) - 0.45
    inside = ((np.abs(v[:, 0]) - eye_x) / 2.9) ** 2 + ((v[:, 1] - eye_y) / 2.5) ** 2 <= 1.1
    lens_z = float(v[inside, 2].max()) + 0.5
    wrap = 10.0

    glb = Glb()
    gold = glb.material("gold metal", (0.92, 0.74, 0.42, 1.0), 1.0, 0.22)
    tip = glb.material("temple tips", (0.03, 0.025, 0.02, 1.0), 0.0, 0.45)
    pad = glb.material("nose pads", (0.9, 0.9, 0.88, 0.55), 0.0, 0.15, blend=True)
    # Gradient tint, darker at the top and lighter at the bottom: vertex colours rather than a
    # texture, whose lookup every lens pixel would pay. The ramp runs in linear RGB along the
    # lens's height, as GL interpolates colours, so coarse rings reproduce it exactly.
    top, bottom = (np.append(srgb_to_linear(np.array(rgb) / 255.0), alpha / 255.0)
                   for rgb, alpha in (((40, 52, 38), 235), ((120, 112, 70), 130)))
    glass = glb.material("tinted lens", (1.0, 1.0, 1.0, 1.0), 0.0, 0.04, blend=True, double_sided=True)

    # Parts of one material are joined into one mesh each (see add_part).
    metal, tips, pads, lenses, tints = [], [], [], [], []
    tops = []
    for side, name in ((-1.0, "right"), (1.0, "left")):
        centre = np.array([side * eye_x, eye_y, lens_z])
        turn = -side * wrap
        outline = aviator_outline(side)
        rim = _wrap(outline, centre, turn)
        metal.append(tube(rim, 0.085, 0.1, closed=True, sides=6))
        # Lens: rings scaled towards the centre, gently domed.
        rings = 4
        points = [np.array([[0.0, 0.0, 0.22]])]
        for r in range(1, rings + 1):
            f = r / rings
            ring = outline * f * 0.985
            ring[:, 2] = 0.22 * (1.0 - f * f)
            points.append(ring)
        local = np.concatenate(points)
        count = len(outline)
        faces = [(0, 1 + k, 1 + (k + 1) % count) for k in range(count)]
        for r in range(1, rings):
            base, nxt = 1 + (r - 1) * count, 1 + r * count
            for k in range(count):
                a, b = base + k, base + (k + 1) % count
                faces += [(a, nxt + k, b), (b, nxt + k, nxt + (k + 1) % count)]
        faces = np.asarray(faces)
        if side < 0:
            faces = faces[:, ::-1]
        ramp = np.clip((1.5 - local[:, 1]) / 4.0, 0.0, 1.0)[:, None]
        tints.append(top + (bottom - top) * ramp)
        lens_mesh = trimesh.Trimesh(_wrap(local, centre, turn), faces, process=False)
        if lens_mesh.vertex_normals[:, 2].mean() < 0:
            lens_mesh.invert()
        lenses.append(lens_mesh)
        # Hinge point on the outer top of the rim, temple back to the ear.
        outer = _wrap(np.array([[side * 2.75, 0.95, 0.0]]), centre, turn)[0]
        tops.append(_wrap(np.array([[-side * 2.2, 1.38, 0.0]]), centre, turn)[0])
        ear_x = float(np.abs(v[:, 0]).max()) + 0.3
        path = np.array([outer + np.array([side * 0.1, 0.0, -0.15]),
                         [side * (ear_x - 0.2), outer[1] - 0.05, lens_z - 3.0],
                         [side * ear_x, outer[1] - 0.3, -3.0],
                         [side * ear_x, outer[1] - 0.8, -4.5],
                         [side * (ear_x - 0.3), outer[1] - 2.0, -5.4]])
        path = _smooth_polyline(path, 10)
        metal.append(tube(path[:-12], 0.08, 0.08, sides=6))
        tips.append(tube(path[-14:], 0.14, 0.12, sides=6))
        # Nose pad on a short arm below the inner rim.
        inner = _wrap(np.array([[-side * 2.05, -0.6, 0.0]]), centre, turn)[0]
        pad_centre = inner + np.array([side * 0.45, -0.2, -0.55])
        metal.append(tube(np.array([inner, pad_centre]), 0.04, 0.04, sides=6))
        pads.append(sphere(pad_centre, 0.4, (0.45, 1.0, 0.25), subdivisions=1))
    # Double bridge: a straight top bar and a lower arch over the nose.
    t = np.linspace(0.0, 1.0, 15)
    bar = np.outer(1 - t, tops[0]) + np.outer(t, tops[1])
    bar[:, 2] += 0.12 * np.sin(np.pi * t)
    metal.append(tube(bar, 0.075, 0.075, sides=8))
    low = [_wrap(np.array([[-side * 2.55, 0.55, 0.0]]), (side * eye_x, eye_y, lens_z), -side * wrap)[0]
           for side in (-1.0, 1.0)]
    arch = np.outer(1 - t, low[0]) + np.outer(t, low[1])
    arch[:, 1] += 0.45 * np.sin(np.pi * t)
    arch[:, 2] += 0.2 * np.sin(np.pi * t)
    metal.append(tube(arch, 0.08, 0.09, sides=8))
    parts: list[int] = []
    add_part(glb, "frame", metal, gold, parts)
    add_part(glb, "tips", tips, tip, parts)
    add_part(glb, "pads", pads, pad, parts)
    add_part(glb, "lenses", lenses, glass, parts, colors=np.concatenate(tints))
    return glb.to_bytes(parts)


# -- top hat ---------------------------------------------------------------------------------

def tophat_bytes() -> bytes:
    """A top hat around y (its own unit: fitted by fit_width on face.head_top)."""
    glb = Glb()
    # Sections around: at 48 a 14 cm brim's outline is within 0.03 cm (half a pixel where the
    # hat fills a third of a 720p frame) of the circle. Every triangle costs llvmpipe set-up
    # and binning time, seen or not, the tall ones most: at 64 the hat took ~1 ms more a frame.
    sections = 48
    felt = glb.material("black felt", (0.035, 0.033, 0.04, 1.0), 0.0, 0.72)
    satin = glb.material("satin band", (0.55, 0.03, 0.06, 1.0), 0.0, 0.3)
    squash = 1.15  # deeper front to back than wide, like a head
    # Brim: flat in the middle, curled up at the sides; built as a closed profile (top and under side).
    brim = [(9.0, 0.2), (12.5, 0.35), (13.6, 0.9), (14.1, 1.45), (14.25, 1.7), (14.0, 1.8), (13.4, 1.35),
            (12.4, 0.75), (9.0, 0.55)]
    crown = [(9.05, 0.4), (9.0, 4.0), (9.15, 8.8), (9.5, 14.1), (9.55, 14.6), (9.3, 14.9), (0.01, 15.0)]
    band = [(9.12, 0.5), (9.14, 0.55), (9.14, 3.6), (9.1, 3.7)]
    # The lining shows only through the opening around the head, so it stops 5 cm up: a full
    # one (up to the top) was ~1 ms a frame of hidden pixels and tall triangles.
    lining = [(8.9, 5.0), (8.9, 0.45)]
    parts: list[int] = []
    # Drawn front to back as a hat is mostly seen (level or from below): the brim, which hides
    # the band from below, then the band, which hides the crown's felt from the front, so the
    # pixels behind each fail the depth test before they are shaded.
    add_part(glb, "brim", revolve(brim, sections, squash), felt, parts)
    add_part(glb, "band", revolve(band, sections, squash), satin, parts)
    add_part(glb, "crown", [revolve(crown, sections, squash), revolve(lining, sections, squash, inward=True)],
             felt, parts)
    return glb.to_bytes(parts)


# -- crown -----------------------------------------------------------------------------------

def crown_bytes() -> bytes:
    import trimesh

    glb = Glb()
    gold = glb.material("gold", (1.0, 0.77, 0.34, 1.0), 1.0, 0.24)
    velvet = glb.material("velvet", (0.42, 0.02, 0.08, 1.0), 0.0, 0.85)
    jewels = [glb.material("ruby", (0.75, 0.02, 0.06, 1.0), 0.0, 0.06, emissive=(0.12, 0.0, 0.01)),
              glb.material("sapphire", (0.03, 0.12, 0.8, 1.0), 0.0, 0.06, emissive=(0.0, 0.02, 0.12)),
              glb.material("emerald", (0.02, 0.6, 0.2, 1.0), 0.0, 0.06, emissive=(0.0, 0.1, 0.03))]
    pearl = glb.material("pearl", (0.95, 0.93, 0.88, 1.0), 0.0, 0.25)
    parts: list[int] = []
    rx, rz = 8.0, 9.0
    # 8 sections a point: the tips and valleys on vertices, 4 along each flank. Every
    # triangle costs llvmpipe set-up and binning time, seen or not, and at 12 a point the
    # gold alone took ~5,300 triangles.
    points, sections = 8, 64
    t = np.linspace(0.0, 2.0 * math.pi, sections, endpoint=False)
    phase = (t * points / (2 * math.pi)) % 1.0
    peak = 1.0 - np.abs(2.0 * phase - 1.0)  # 0 at the valleys, 1 at the points
    top = 2.6 + 4.2 * peak ** 1.6
    rows = 3  # straight up but for the slight flare (its chords within 0.05 cm of the curve)
    verts = []
    for k in range(rows):
        f = k / (rows - 1)
        y = top * f
        flare = 1.0 + 0.08 * f * f  # the points lean out
        verts.append(np.stack([rx * flare * np.sin(t), y, rz * flare * np.cos(t)], axis=1))
    outer = np.concatenate(verts)
    faces = grid_faces(rows, sections, wrap=True)[:, ::-1]
    shell = trimesh.Trimesh(outer, faces, process=False)
    # Thickness: an inner copy 0.3 cm in, faces reversed, joined along the top edge.
    inner = outer.copy()
    inner[:, 0] *= (rx - 0.3) / rx
    inner[:, 2] *= (rz - 0.3) / rz
    n = len(outer)
    top_row = np.arange((rows - 1) * sections, rows * sections)
    bottom_row = np.arange(sections)
    rim = []
    for row in (top_row, bottom_row):
        for c in range(sections):
            a, b = row[c], row[(c + 1) % sections]
            rim += [(a, n + a, b), (b, n + a, n + b)] if row is top_row else [(a, b, n + a), (b, n + b, n + a)]
    solid = trimesh.Trimesh(np.concatenate([outer, inner]),
                            np.concatenate([shell.faces, shell.faces[:, ::-1] + n, np.asarray(rim)]), process=True)
    # Rolled rims at the base and above the jewels. Front to back within the draw order (the
    # jewels and pearls, then the rims, then the band they stand on): the band's pixels behind
    # them fail the depth test before they are shaded (~4,000 at 720p).
    golden = []
    for y in (0.15, 2.3):
        ring = np.stack([(rx + 0.15) * np.sin(t), np.full_like(t, y), (rz + 0.15) * np.cos(t)], axis=1)
        golden.append(tube(ring, 0.28, 0.28, closed=True, sides=6))
    golden.append(solid)
    # A pearl on every point, a jewel in every valley band, a velvet cap inside.
    pearls, gems = [], [[] for _ in jewels]
    for k in range(points):
        a = (k + 0.5) * 2 * math.pi / points
        tip = np.array([rx * 1.08 * math.sin(a), 2.6 + 4.2 + 0.35, rz * 1.08 * math.cos(a)])
        pearls.append(sphere(tip, 0.55, subdivisions=1))
        b = k * 2 * math.pi / points + math.pi / points
        at = np.array([(rx + 0.25) * math.sin(b), 1.25, (rz + 0.25) * math.cos(b)])
        gem = trimesh.creation.icosphere(subdivisions=0, radius=0.62)
        gem.apply_scale((1.0, 1.25, 0.55))
        gem.apply_transform(trimesh.transformations.rotation_matrix(b, (0, 1, 0)))
        gem.apply_translation(at)
        gems[k % 3].append(gem)
    # A ball finial on the cap.
    golden.append(sphere((0.0, 5.6, 0.0), 0.7, subdivisions=1))
    for kind, material, stones in zip(("rubies", "sapphires", "emeralds"), jewels, gems):
        add_part(glb, kind, stones, material, parts, flat=True, front_first=True)
    add_part(glb, "pearls", pearls, pearl, parts, front_first=True)
    add_part(glb, "gold", golden, gold, parts, front_first=True)
    cap = [(0.01, 5.2), (4.0, 4.8), (6.5, 3.6), (7.6, 2.0), (7.7, 0.6)]
    add_part(glb, "cap", revolve(cap, 32, rz / rx), velvet, parts)
    return glb.to_bytes(parts)


# -- cat -------------------------------------------------------------------------------------

def ear(base_centre, half_width: float, height: float, tilt_deg: float, cup: float, rows: int = 14,
        cols: int = 15):
    """A curved triangular shell: base along x at base_centre, tip up, cupped towards -z."""
    import trimesh

    u = np.linspace(-1.0, 1.0, cols)
    w = np.linspace(0.0, 1.0, rows)
    uu, ww = np.meshgrid(u, w)
    width = half_width * (1.0 - ww) ** 0.85
    x = uu * width
    y = height * ww
    z = -cup * (1.0 - uu ** 2) * (1.0 - ww) + 0.8 * ww ** 2 * -1.0
    local = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    a = math.radians(tilt_deg)
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    mesh = trimesh.Trimesh(local @ rot.T + np.asarray(base_centre), grid_faces(rows, cols)[:, ::-1], process=True)
    return mesh


def cat_bytes(face: CanonicalFace) -> bytes:
    v = face.vertices.astype(np.float64)
    glb = Glb()
    fur = glb.material("fur", (0.16, 0.13, 0.12, 1.0), 0.0, 0.9, double_sided=True)
    pink = glb.material("inner ear", (0.95, 0.55, 0.62, 1.0), 0.0, 0.7, double_sided=True)
    nose = glb.material("nose", (0.92, 0.42, 0.52, 1.0), 0.0, 0.3)
    whisker = glb.material("whiskers", (0.05, 0.045, 0.045, 1.0), 0.0, 0.4)
    parts: list[int] = []
    for side, name in ((-1.0, "right"), (1.0, "left")):
        base = np.array([side * 5.2, 10.6, -1.2])
        add_part(glb, f"ear_{name}", ear(base, 2.9, 6.2, -side * 18.0, 1.2), fur, parts)
        inner = ear(base + np.array([0.0, 0.5, 0.16]), 2.0, 4.8, -side * 18.0, 0.95)
        add_part(glb, f"ear_inner_{name}", inner, pink, parts)
        # Whiskers: three gently curved strands fanning out from the upper lip.
        root = np.array([side * 2.0, -2.55, float(v[1, 2]) - 1.2])
        for k, (rise, reach) in enumerate(((0.9, 7.5), (0.0, 8.0), (-0.9, 7.3))):
            start = root + np.array([0.0, 0.35 * (1 - k), 0.0])
            mid = start + np.array([side * reach * 0.5, rise * 0.6 + 0.15, -0.6])
            end = start + np.array([side * reach, rise, -2.4])
            path = _smooth_polyline(np.array([start, mid, end]), 8)
            add_part(glb, f"whisker_{name}_{k}", tube(path, 0.06, 0.06, sides=6), whisker, parts)
    tip = v[1]
    add_part(glb, "nose", sphere(tip + np.array([0.0, 0.05, 0.15]), 1.0, (0.95, 0.62, 0.5), 3), nose, parts)
    return glb.to_bytes(parts)


# -- painting on the canonical face UVs ------------------------------------------------------

class UVCanvas:
    """Canonical face positions at every texel of a size x size UV image, and cm -> pixel maps."""

    def __init__(self, face: CanonicalFace, size: int = 1024) -> None:
        from scipy.interpolate import LinearNDInterpolator

        self.face, self.size = face, size
        uv = face.uvs.astype(np.float64)
        xyz = face.vertices.astype(np.float64)
        grid = (np.arange(size) + 0.5) / size
        u, vv = np.meshgrid(grid, grid)
        position = LinearNDInterpolator(uv, xyz)(u, vv)
        self.on_face = np.isfinite(position[..., 0])
        self.x = np.where(self.on_face, position[..., 0], 0.0)
        self.y = np.where(self.on_face, position[..., 1], 100.0)
        self._to_uv = LinearNDInterpolator(xyz[:, :2], uv)

    def px(self, points_cm) -> np.ndarray:
        """Canonical (x, y) points (cm, on the front of the face) -> pixel coordinates."""
        uv = self._to_uv(np.asarray(points_cm, np.float64)[:, :2])
        return uv * self.size

    def landmarks(self, ids) -> np.ndarray:
        return self.face.uvs[list(ids)].astype(np.float64) * self.size

    def coverage(self, draw, blur: float = 0.0, scale: int = 4) -> np.ndarray:
        """0..1 coverage of shapes drawn by draw(image, to_px) on a `scale`x supersampled canvas."""
        import cv2

        big = np.zeros((self.size * scale, self.size * scale), np.uint8)

        def to_px(points):
            return np.round(np.asarray(points) * scale * 16).astype(np.int32)  # 4 fractional bits

        draw(big, to_px)
        small = cv2.resize(big, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float64) / 255
        if blur > 0:
            small = cv2.GaussianBlur(small, (0, 0), blur)
        return small


def fill(polygons):
    import cv2

    def draw(image, to_px):
        cv2.fillPoly(image, [to_px(p) for p in polygons], 255, cv2.LINE_8, 4)
    return draw


def stroke(polylines, width_px: float, closed: bool = False):
    import cv2

    def draw(image, to_px):
        for p in polylines:
            cv2.polylines(image, [to_px(p)], closed, 255, max(1, int(round(width_px * 4))), cv2.LINE_8, 4)
    return draw


def _smoothstep(edge0, edge1, x):
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def layer(rgb, alpha, colour, weight):
    """Paint `colour` over (rgb, alpha) with coverage `weight` (0..1 per texel), in place."""
    weight = np.clip(weight, 0.0, 1.0)
    out_alpha = weight + alpha * (1 - weight)
    safe = np.where(out_alpha > 0, out_alpha, 1.0)
    rgb[...] = (np.asarray(colour)[None, None, :] * weight[..., None]
                + rgb * (alpha * (1 - weight))[..., None]) / safe[..., None]
    alpha[...] = out_alpha


def png_bytes(rgb: np.ndarray, alpha: np.ndarray) -> bytes:
    from PIL import Image

    out = np.zeros(alpha.shape + (4,), np.uint8)
    out[..., :3] = np.round(np.clip(rgb, 0, 1) * 255)
    out[..., 3] = np.round(np.clip(alpha, 0, 1) * 255)
    out[out[..., 3] == 0, :3] = 0
    buffer = io.BytesIO()
    Image.fromarray(out, "RGBA").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def makeup_bytes(canvas: UVCanvas) -> bytes:
    size = canvas.size
    rgb = np.zeros((size, size, 3))
    alpha = np.zeros((size, size))
    x, y = canvas.x, canvas.y
    eye = eye_centre(canvas.face)
    # Blush: soft and wide on the cheekbones.
    for side in (-1.0, 1.0):
        d2 = ((x - side * 4.7) / 1.9) ** 2 + ((y - (-0.9 - 0.25 * (np.abs(x) - 4.7))) / 1.25) ** 2
        layer(rgb, alpha, (0.8, 0.32, 0.32), 0.3 * np.exp(-d2) * canvas.on_face)
    # Eyeshadow: bronze to plum above the upper lid, fading towards the brow.
    for side, lid in ((-1.0, UPPER_LID_RIGHT), (1.0, UPPER_LID_LEFT)):
        cx, cy = side * abs(float(eye[0])), float(eye[1])
        d2 = ((x - cx - side * 0.3) / 2.1) ** 2 + ((y - cy - 0.55) / 0.95) ** 2
        above = _smoothstep(cy - 0.3, cy + 0.25, y)
        shade = 0.55 * np.exp(-d2 ** 1.3) * above * canvas.on_face
        mix = _smoothstep(-0.6, 1.4, side * (x - cx))[..., None]
        tone = np.array([0.62, 0.38, 0.22]) * (1 - mix) + np.array([0.42, 0.16, 0.28]) * mix
        w = np.clip(shade, 0, 1)
        out_alpha = w + alpha * (1 - w)
        safe = np.where(out_alpha > 0, out_alpha, 1.0)
        rgb[...] = (tone * w[..., None] + rgb * (alpha * (1 - w))[..., None]) / safe[..., None]
        alpha[...] = out_alpha
    # Eyeliner: along the upper lash line, thickening outwards into a lifted wing.
    liner = []
    for side, lid in ((-1.0, UPPER_LID_RIGHT), (1.0, UPPER_LID_LEFT)):
        lash = canvas.landmarks(lid)  # from the outer corner to the inner corner
        corner = canvas.face.vertices[lid[0]].astype(np.float64)
        wing = canvas.px(np.array([corner[:2] + np.array([side * 0.9, 0.38])]))[0]
        t = np.linspace(0.0, 1.0, len(lash))
        thick = np.interp(t, [0.0, 0.35, 1.0], [10.0, 6.5, 1.5])
        upper = lash - np.stack([np.zeros_like(thick), thick], axis=1)
        liner.append(np.vstack([wing[None], lash, upper[::-1]]))
    layer(rgb, alpha, (0.03, 0.02, 0.03), 0.95 * canvas.coverage(fill(liner), blur=0.6))
    # Lipstick: the lips, soft-edged, the inner lips (mouth opening) left out.
    lips = canvas.coverage(fill([canvas.landmarks(LIPS_OUTER)]), blur=1.2)
    mouth = canvas.coverage(fill([canvas.landmarks(LIPS_INNER)]), blur=0.8)
    layer(rgb, alpha, (0.66, 0.04, 0.14), 0.82 * np.clip(lips - mouth, 0, 1))
    alpha *= canvas.on_face
    return png_bytes(rgb, alpha)


def tiger_bytes(canvas: UVCanvas) -> bytes:
    import cv2

    size = canvas.size
    x, y = canvas.x, canvas.y
    ax = np.abs(x)
    rgb = np.zeros((size, size, 3))
    alpha = np.zeros((size, size))
    # The face's edge fades out (distance from the UV outline, in texels).
    inside = cv2.distanceTransform(canvas.on_face.astype(np.uint8), cv2.DIST_L2, 5)
    edge = _smoothstep(2.0, 18.0, inside)
    orange = np.array([0.98, 0.5, 0.07])
    deep = np.array([0.85, 0.3, 0.03])
    base = np.clip(0.5 + 0.12 * ax - 0.05 * y, 0.0, 1.0)[..., None]
    colour = orange * (1 - base) + deep * base
    layer(rgb, alpha, (0, 0, 0), np.zeros_like(x))
    rgb[...] = colour
    alpha[...] = edge
    white = np.array([0.98, 0.96, 0.92])
    # White muzzle and chin, white patches above the eyes.
    muzzle = np.zeros_like(x)
    for side in (-1.0, 1.0):
        muzzle = np.maximum(muzzle, 1 - _smoothstep(0.85, 1.05, np.hypot((x - side * 1.35) / 1.75,
                                                                         (y + 2.85) / 1.3)))
        brow = np.hypot((x - side * 3.1) / 1.9, (y - 3.55) / 0.85)
        muzzle = np.maximum(muzzle, 1 - _smoothstep(0.8, 1.05, brow))
    muzzle = np.maximum(muzzle, 1 - _smoothstep(0.85, 1.05, np.hypot(x / 2.2, (y + 6.3) / 1.5)))
    layer(rgb, alpha, white, muzzle * canvas.on_face)
    # Black stripes: tapered waves coming in from the sides and down from the forehead.
    black = np.array([0.04, 0.03, 0.03])
    stripes = np.zeros_like(x)
    for y0, length, bend in ((5.0, 3.0, 0.6), (2.4, 2.9, 0.45), (-0.6, 3.2, -0.3), (-3.6, 2.7, -0.5), (-6.2, 2.2, -0.6)):
        s = np.clip((7.8 - ax) / length, 0.0, 1.0)  # 0 at the face edge, 1 at the stripe's tip
        centre = y0 + bend * s * s + 0.35 * np.sin(s * 5.0)
        width = 0.5 * (1 - s) ** 0.9 + 1e-6
        stripes = np.maximum(stripes, (1 - _smoothstep(width * 0.75, width, np.abs(y - centre))) * (s < 1))
    for x0, length in ((0.0, 2.6), (-1.9, 2.0), (1.9, 2.0)):
        s = np.clip((8.3 - y) / length, 0.0, 1.0)
        centre = x0 + 0.25 * np.sin(s * 4.0) * np.sign(x0 + 1e-9)
        width = 0.42 * (1 - s) ** 0.9 + 1e-6
        stripes = np.maximum(stripes, (1 - _smoothstep(width * 0.7, width, np.abs(x - centre))) * (s < 1))
    layer(rgb, alpha, black, stripes * canvas.on_face)
    # Black nose tip, a line down to the lip, and rims around the eyes.
    nose = 1 - _smoothstep(0.9, 1.05, np.hypot(x / (0.9 + 0.25 * (y + 0.5)), (y + 0.9) / 0.75))
    philtrum = (1 - _smoothstep(0.12, 0.2, ax)) * (y < -1.0) * (y > -2.9)
    layer(rgb, alpha, black, np.maximum(nose, philtrum) * canvas.on_face)
    rims = canvas.coverage(stroke([canvas.landmarks(EYE_RIGHT), canvas.landmarks(EYE_LEFT)], 7.0, closed=True),
                           blur=0.8)
    layer(rgb, alpha, black, rims)
    # Lips stay bare.
    lips = canvas.coverage(fill([canvas.landmarks(LIPS_OUTER)]), blur=1.0)
    alpha *= (1 - lips) * canvas.on_face
    return png_bytes(rgb, alpha)


# -- Venetian mask ---------------------------------------------------------------------------

def venetian_texture(canvas: UVCanvas) -> tuple[np.ndarray, np.ndarray]:
    """RGBA of the mask on the face UVs: its outline is the alpha."""
    import cv2

    x, y = canvas.x, canvas.y
    ax = np.abs(x)
    eye = eye_centre(canvas.face)
    ey = float(eye[1])
    ex = abs(float(eye[0]))
    top = ey + 1.9 + 3.2 * _smoothstep(3.8, 7.6, ax) ** 1.4 + 0.9 * np.exp(-(x / 0.9) ** 2)
    bottom = ey - 1.9 + 0.8 * _smoothstep(3.0, 7.6, ax) + 1.65 * np.exp(-(x / 1.25) ** 2)
    shape = _smoothstep(-0.06, 0.06, top - y) * _smoothstep(-0.06, 0.06, y - bottom)
    # Almond eye holes with pointed corners.
    hole = np.zeros_like(x)
    for side in (-1.0, 1.0):
        dx = (x - side * (ex + 0.1)) / 1.85
        dy = (y - ey - 0.05) / (0.95 * np.sqrt(np.clip(1 - dx ** 2, 0, 1)) + 1e-6)
        hole = np.maximum(hole, (np.abs(dx) < 1) * (1 - _smoothstep(0.9, 1.0, np.abs(dy))))
    alpha = shape * (1 - hole) * canvas.on_face
    black = np.array([0.02, 0.02, 0.03])
    gold = np.array([0.95, 0.72, 0.3])
    rgb = np.zeros(x.shape + (3,)) + black
    # Gold trim along every edge (outline and eye holes), from the coverage's distance.
    solid = (alpha > 0.5).astype(np.uint8)
    inside = cv2.distanceTransform(solid, cv2.DIST_L2, 5)
    trim = 1 - _smoothstep(7.0, 9.0, inside)
    inner_line = (1 - _smoothstep(1.2, 2.2, np.abs(inside - 15.0)))
    # Scrolls: spirals curling on the wings and the forehead.
    curls = []
    for side in (-1.0, 1.0):
        for cx, cy, r0, turns, spin in ((5.7, ey + 2.4, 1.0, 1.6, 1), (3.2, ey + 2.2, 0.6, 1.3, -1),
                                        (6.3, ey - 0.7, 0.55, 1.2, -1)):
            t = np.linspace(0.0, turns * 2 * math.pi, 90)
            r = r0 * (1 - t / (turns * 2 * math.pi + 1.0))
            pts = np.stack([side * (cx + r * np.cos(spin * t)), cy + r * np.sin(spin * t)], axis=1)
            curls.append(canvas.px(pts))
    curls = [c[np.isfinite(c).all(axis=1)] for c in curls]
    swirl = canvas.coverage(stroke(curls, 4.0), blur=0.5)
    dots = np.zeros_like(x)
    for side in (-1.0, 1.0):
        for k in range(5):
            a = math.pi * (0.2 + 0.15 * k)
            px, py = side * (ex + 0.1 + 2.35 * math.cos(a) * 0.95), ey + 1.45 * math.sin(a) + 0.05
            dots = np.maximum(dots, 1 - _smoothstep(0.12, 0.17, np.hypot(x - px, y - py)))
    gilt = np.clip(np.maximum.reduce([trim, inner_line * 0.9, swirl, dots]), 0, 1)
    rgb = rgb * (1 - gilt[..., None]) + gold * gilt[..., None]
    # A little sheen variation in the lacquer so it reads as a surface.
    rgb += 0.03 * _smoothstep(0.0, 3.0, y - ey)[..., None] * (1 - gilt[..., None])
    return rgb, alpha


def venetian_bytes(face: CanonicalFace, canvas: UVCanvas) -> bytes:
    import trimesh
    from PIL import Image

    rgb, alpha = venetian_texture(canvas)
    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    rgba[..., :3] = np.round(np.clip(rgb, 0, 1) * 255)
    rgba[..., 3] = np.round(np.clip(alpha, 0, 1) * 255)
    # The face mesh, twice subdivided, pushed 0.35 cm out along its normals, kept where the mask is.
    vertices, faces = face.vertices.astype(np.float64), face.triangles.astype(np.int64)
    normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    attributes = {"uv": face.uvs.astype(np.float64), "normal": normals}
    for _ in range(2):
        vertices, faces, attributes = trimesh.remesh.subdivide(vertices, faces, vertex_attributes=attributes)
    normals = attributes["normal"] / np.linalg.norm(attributes["normal"], axis=1, keepdims=True)
    uvs = attributes["uv"]
    # Triangles reaching within 5 texels of the paint are kept (the subdivided triangles are
    # ~10 texels across; checked: none dropped holds a painted texel): a wider margin is only
    # transparent pixels that llvmpipe shades and blends all the same.
    grown = Image.fromarray(rgba[..., 3]).filter(__import__("PIL.ImageFilter").ImageFilter.MaxFilter(11))
    reach = np.asarray(grown)
    centroid_uv = uvs[faces].mean(axis=1)
    corners = np.concatenate([centroid_uv[:, None], uvs[faces]], axis=1)
    pix = np.clip((corners * canvas.size).astype(int), 0, canvas.size - 1)
    keep = (reach[pix[..., 1], pix[..., 0]] > 0).any(axis=1)
    faces = faces[keep]
    used = np.unique(faces)
    remap = np.full(len(vertices), -1)
    remap[used] = np.arange(len(used))
    depth = 0.35 + 0.25 * np.clip((np.abs(vertices[used, 0]) - 4.0) / 3.5, 0, 1)  # the wings stand off more
    shell = vertices[used] + normals[used] * depth[:, None]
    small = Image.fromarray(rgba).resize((512, 512), Image.LANCZOS)
    glb = Glb()
    material = glb.material("lacquer and gold leaf", (1.0, 1.0, 1.0, 1.0), 0.35, 0.32, blend=True,
                            double_sided=True, texture=glb.texture(np.asarray(small), MIP_NEAREST))
    parts = [glb.node("mask", glb.mesh("mask", shell, remap[faces], material, normals[used], uvs[used]))]
    return glb.to_bytes(parts)


# -- stars (animated) ------------------------------------------------------------------------

def star_prism(outer: float, inner: float, depth: float, points: int = 5):
    """A 5-pointed star in the xy plane, depth along z (centred), faceted."""
    import trimesh

    angles = np.arange(2 * points) * math.pi / points + math.pi / 2
    radii = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    ring = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    n = len(ring)
    front = np.column_stack([ring, np.full(n, 0.0)])
    vertices = np.vstack([[0.0, 0.0, depth / 2], [0.0, 0.0, -depth / 2], front])
    faces = []
    for k in range(n):
        a, b = 2 + k, 2 + (k + 1) % n
        faces += [(0, a, b), (1, b, a)]
    return trimesh.Trimesh(vertices, np.asarray(faces), process=True)


def stars_bytes() -> bytes:
    glb = Glb()
    gold = glb.material("star gold", (1.0, 0.8, 0.2, 1.0), 0.8, 0.3, emissive=(0.35, 0.25, 0.02))
    white = glb.material("star white", (1.0, 0.97, 0.85, 1.0), 0.2, 0.3, emissive=(0.45, 0.42, 0.3))
    count, radius = 8, 11.0
    children = []
    for k in range(count):
        a = 2 * math.pi * k / count
        star = star_prism(1.9 if k % 2 == 0 else 1.4, 0.8 if k % 2 == 0 else 0.58, 0.8)
        mesh = glb.mesh(f"star_{k}", np.asarray(star.vertices)[star.faces.reshape(-1)],
                        np.arange(len(star.faces) * 3).reshape(-1, 3), gold if k % 2 == 0 else white,
                        np.repeat(star.face_normals, 3, axis=0))
        # Each star faces outwards from the ring (its +z along the radius), bobbing a little in y.
        q = (0.0, math.sin(a / 2), 0.0, math.cos(a / 2))
        children.append(glb.node(f"star_{k}", mesh, translation_cm=(radius * math.sin(a), 0.8 * math.sin(3 * a),
                                                                    radius * math.cos(a)), rotation=q))
    orbit = glb.node("orbit", children=children)
    tilt = math.radians(10.0)
    root = glb.node("tilt", children=[orbit], rotation=(math.sin(tilt / 2), 0.0, 0.0, math.cos(tilt / 2)))
    period = 2.4
    times = np.linspace(0.0, period, 5)
    values = [(0.0, math.sin(a / 2), 0.0, math.cos(a / 2)) for a in np.linspace(0.0, 2 * math.pi, 5)]
    glb.animation("orbit", orbit, "rotation", times, values)
    return glb.to_bytes([root])


# -- manifests -------------------------------------------------------------------------------

TOML = {
    "aviators": """\
# Showcase: gold-framed aviator sunglasses with gradient-tinted lenses (scripts/make_showcase.py).
# Designed in canonical face space and saved in metres, so it is worn as authored.
name = "aviators"
kind = "object3d"
asset = "aviators.glb"
description = "gold aviator sunglasses, tinted see-through lenses"

[placement]
units = "m"
""",
    "tophat": """\
# Showcase: a top hat (scripts/make_showcase.py). On face.head_top with fit_width the hat's
# bounding box is scaled to that width and its bottom centre put on the crown of the head;
# offset and rotation then seat it (y down onto the head, tipped forward a little).
name = "tophat"
kind = "object3d"
asset = "tophat.glb"
description = "a black top hat with a red band"
anchor = "face.head_top"

[placement]
fit_width = 26.0             # cm, brim to brim
offset = [0.0, -5.0, 0.3]
rotation = [3.0, 0.0, 0.0]
""",
    "crown": """\
# Showcase: a gold crown with pearls and jewels (scripts/make_showcase.py), fitted to the head.
name = "crown"
kind = "object3d"
asset = "crown.glb"
description = "a gold crown with pearls and jewels"
anchor = "face.head_top"

[placement]
fit_width = 17.5             # cm across
offset = [0.0, -3.4, 0.8]
rotation = [-10.0, 0.0, 0.0]
""",
    "cat": """\
# Showcase: cat ears, a pink nose and whiskers in one file, in canonical face space (metres).
name = "cat"
kind = "object3d"
asset = "cat.glb"
description = "cat ears, nose and whiskers"

[placement]
units = "m"
""",
    "venetian": """\
# Showcase: a Venetian eye mask shaped on the canonical face and standing 3-6 mm off it; its
# outline and eye holes are the texture's alpha (drawn on the face UVs like face paint).
name = "venetian"
kind = "object3d"
asset = "venetian.glb"
description = "a black-and-gold Venetian eye mask"

[placement]
units = "m"
""",
    "makeup": """\
# Showcase: lipstick, blush, eyeshadow and eyeliner (scripts/make_showcase.py).
# shading = 1 keeps the skin's highlights, shadows and texture under the colour.
name = "makeup"
kind = "facepaint"
asset = "makeup.png"
description = "lipstick, blush, eyeshadow and winged eyeliner"

[paint]
blend = "normal"
opacity = 0.85
shading = 1.0
""",
    "tiger": """\
# Showcase: a tiger face-paint design (scripts/make_showcase.py) on the canonical face UVs.
name = "tiger"
kind = "facepaint"
asset = "tiger.png"
description = "tiger face paint"

[paint]
blend = "normal"
opacity = 0.92
shading = 0.75
""",
    "stars": """\
# Showcase: gold stars circling the head, a glTF node animation (looped, 2.4 s a turn).
name = "stars"
kind = "object3d"
asset = "stars.glb"
description = "stars circling the head (animated)"
anchor = "face.head_top"

[placement]
units = "m"
offset = [0.0, -3.5, 0.5]

[placement.animation]
speed = 1.0                  # 2 = twice as fast
play = "loop"                # or "once"
""",
}


def outputs(face: CanonicalFace) -> dict[Path, bytes]:
    canvas = UVCanvas(face)
    files = {
        EFFECTS / "aviators" / "aviators.glb": aviators_bytes(face),
        EFFECTS / "tophat" / "tophat.glb": tophat_bytes(),
        EFFECTS / "crown" / "crown.glb": crown_bytes(),
        EFFECTS / "cat" / "cat.glb": cat_bytes(face),
        EFFECTS / "venetian" / "venetian.glb": venetian_bytes(face, canvas),
        EFFECTS / "makeup" / "makeup.png": makeup_bytes(canvas),
        EFFECTS / "tiger" / "tiger.png": tiger_bytes(canvas),
        EFFECTS / "stars" / "stars.glb": stars_bytes(),
    }
    for name in SHOWCASE:
        files[EFFECTS / name / "effect.toml"] = TOML[name].encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk")
    parser.add_argument("--only", nargs="*", help="write only these effects (for development)")
    args = parser.parse_args()
    files = {path: data for path, data in outputs(CanonicalFace.load()).items()
             if not args.only or path.parent.name in args.only}
    return write_outputs(files, args.check, "showcase effects")


if __name__ == "__main__":
    sys.exit(main())
