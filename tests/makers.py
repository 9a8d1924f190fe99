"""Small test assets made at run time (so no binary test fixtures are committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def box_glb(path: Path, centre=(0.0, 0.0, 9.0), color=(0, 255, 0, 255), node_offset=None,
            size: float = 3.0) -> Path:
    """A small box GLB in canonical face space (in front of the nose by default).

    centre, node_offset and size are in cm; the file is written in metres (glTF's unit).
    """
    import trimesh
    from trimesh.visual.material import PBRMaterial

    box = trimesh.creation.box(extents=(size, size, size))
    # metallicFactor 0: glTF's default is 1 (a metal), which would make the test box a mirror.
    box.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(baseColorFactor=list(color), metallicFactor=0.0,
                                                                    roughnessFactor=0.5))
    scene = trimesh.Scene()
    transform = np.eye(4)
    transform[:3, 3] = centre if node_offset is None else node_offset
    if node_offset is not None:
        box.apply_translation(np.asarray(centre) - np.asarray(node_offset))
    box.apply_scale(0.01)
    transform[:3, 3] *= 0.01
    scene.add_geometry(box, node_name="box", geom_name="box", transform=transform)
    path.write_bytes(scene.export(file_type="glb", include_normals=True))
    return path


# -- glTF files written with numpy (no trimesh): materials, animations, skins ----------------

from arfx.render.gltf_write import GltfBuilder  # noqa: E402  (the builder the asset scripts use)


def uv_sphere(radius: float, rows: int = 24, columns: int = 48):
    """(positions, normals, uvs, triangles) of a sphere; u around (from +x towards -z), v down."""
    v = np.linspace(0.0, 1.0, rows + 1)
    u = np.linspace(0.0, 1.0, columns + 1)
    vv, uu = np.meshgrid(v, u, indexing="ij")
    theta, phi = vv * np.pi, uu * 2.0 * np.pi
    normals = np.stack([np.sin(theta) * np.cos(phi), np.cos(theta), -np.sin(theta) * np.sin(phi)], axis=-1)
    normals = normals.reshape(-1, 3)
    uvs = np.stack([uu, vv], axis=-1).reshape(-1, 2)
    triangles = []
    for r in range(rows):
        for c in range(columns):
            a, b = r * (columns + 1) + c, (r + 1) * (columns + 1) + c
            triangles += [(a, b, a + 1), (a + 1, b, b + 1)]
    return normals * radius, normals, uvs, np.asarray(triangles, np.uint32)


def quad(width: float, height: float, z: float = 0.0):
    """(positions, normals, uvs, triangles) of a rectangle facing +z, u along +x, v down."""
    w, h = width / 2.0, height / 2.0
    positions = np.array([[-w, h, z], [w, h, z], [-w, -h, z], [w, -h, z]], np.float32)
    normals = np.tile([0.0, 0.0, 1.0], (4, 1))
    uvs = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
    return positions, normals, uvs, np.array([[0, 2, 1], [1, 2, 3]], np.uint32)
