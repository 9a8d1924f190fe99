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
