#!/usr/bin/env python3
"""Build the head occluder mesh (assets/head/head.npz) in canonical face space (cm).

    python scripts/make_head.py          # writes assets/head/head.npz (byte-identical on rerun)

The head is a depth-only occluder: skull, jaw, ears and neck as overlapping closed shapes
(the depth buffer keeps the nearest surface, so no boolean union is needed). Every vertex
that lies in front of the canonical face (inside its outline, seen from the front) is pushed
to FACE_MARGIN_CM behind the face surface, so the tracked face mesh, not the head, decides
what the face hides; the head only hides what is behind and beside the face (ear, skull,
neck). arfx.render.head fits it to each tracked face.

Proportions (adult head, canonical face space: x to the person's left, y up, z towards the
viewer; the canonical face spans x +-7.7, chin y -9.4, hairline y 8.3, nose tip z 7.5):
crown at y ~13, back of the skull at z ~-12.5, ears behind the face edge from y -2.6 to 3.8,
sticking out to |x| ~9.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from arfx.geometry.canonical import CanonicalFace  # noqa: E402

#: How far behind the face surface the head's front is pushed (cm).
FACE_MARGIN_CM = 1.0


def ellipsoid(centre, radii, subdivisions: int, rotation_y_deg: float = 0.0):
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    vertices = np.asarray(sphere.vertices, np.float64) * np.asarray(radii, np.float64)
    if rotation_y_deg:
        a = np.radians(rotation_y_deg)
        rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        vertices = vertices @ rot.T
    return vertices + np.asarray(centre, np.float64), np.asarray(sphere.faces, np.int64)


def neck(centre_xz=(0.0, -4.5), radii=(5.6, 5.4), top=-3.0, bottom=-26.0, sections: int = 32):
    """A closed elliptic cylinder, counter-clockwise from outside."""
    angles = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    ring = np.stack([centre_xz[0] + radii[0] * np.cos(angles), centre_xz[1] + radii[1] * np.sin(angles)], 1)
    vertices = [[x, y, z] for y in (top, bottom) for x, z in ring]
    vertices += [[centre_xz[0], top, centre_xz[1]], [centre_xz[0], bottom, centre_xz[1]]]
    triangles = []
    for i in range(sections):
        j = (i + 1) % sections
        triangles += [[i, j, sections + i], [j, sections + j, sections + i]]
        triangles += [[2 * sections, j, i], [2 * sections + 1, sections + i, sections + j]]
    return np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)


def push_behind_face(vertices: np.ndarray, face: CanonicalFace, margin: float = FACE_MARGIN_CM) -> np.ndarray:
    """Move every vertex that is in front of (face surface - margin) back to it."""
    from scipy.interpolate import LinearNDInterpolator

    v = face.vertices.astype(np.float64)
    surface = LinearNDInterpolator(v[:, :2], v[:, 2])
    face_z = surface(vertices[:, :2])
    inside = np.isfinite(face_z)
    out = vertices.copy()
    limit = face_z - margin
    move = inside & (out[:, 2] > limit)
    out[move, 2] = limit[move]
    return out


def build_head(face: CanonicalFace, detail: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The head's vertices (cm) and triangles; `detail` is the skull's icosphere subdivision
    (3: 1280 triangles, ~1.4 cm edges; each step quadruples the triangles)."""
    parts = [
        ellipsoid((0.0, 2.5, -3.2), (7.45, 10.6, 9.4), detail),       # skull
        ellipsoid((0.0, -3.6, -1.8), (6.6, 6.2, 6.6), detail - 1),    # jaw and cheeks, behind the face
    ]
    for side in (-1.0, 1.0):
        # Ear: a flattened ellipsoid behind the face edge, its back edge flaring out.
        parts.append(ellipsoid((side * 7.9, 0.6, -5.0), (1.0, 3.3, 1.75), 2, rotation_y_deg=side * 12.0))
    parts.append(neck())
    vertices, triangles, offset = [], [], 0
    for v, t in parts:
        vertices.append(v)
        triangles.append(t + offset)
        offset += len(v)
    vertices = push_behind_face(np.concatenate(vertices), face)
    return vertices.astype(np.float32), np.concatenate(triangles).astype(np.int32)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz with fixed entry dates, so reruns are byte-identical."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "assets" / "head" / "head.npz"))
    parser.add_argument("--detail", type=int, default=3, help="skull subdivision (3: 1280 triangles)")
    args = parser.parse_args()
    vertices, triangles = build_head(CanonicalFace.load(), args.detail)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(npz_bytes({"vertices": vertices, "triangles": triangles}))
    print(f"wrote {out}: {len(vertices)} vertices, {len(triangles)} triangles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
