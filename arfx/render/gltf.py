"""GLB/glTF scenes -> flat lists of meshes with world transforms and PBR base colour (trimesh)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arfx.errors import EffectError

log = logging.getLogger(__name__)

# GL_SRGB8_ALPHA8: base colour textures hold sRGB values; the sampler decodes them to linear.
GL_SRGB8_ALPHA8 = 0x8C43
ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")
VERTEX_FLOATS = 12  # position 3, normal 3, uv 2, colour 4


@dataclass
class Material:
    """glTF metallic-roughness material, reduced to what the renderer uses."""

    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # linear RGBA
    texture: np.ndarray | None = None  # uint8 [H, W, 4], sRGB, first row = top of the image
    metallic: float = 0.0
    roughness: float = 0.5
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    unlit: bool = False

    @property
    def blended(self) -> bool:
        return self.alpha_mode == "BLEND"


@dataclass
class MeshData:
    """One drawable part: interleaved vertices in its node's space plus that node's world matrix."""

    vertices: np.ndarray  # float32 [N, 12]: position, normal, uv, colour (linear RGBA)
    indices: np.ndarray  # uint32 [M, 3]
    transform: np.ndarray  # float32 [4, 4], node -> asset space
    material: Material = field(default_factory=Material)
    name: str = ""

    @property
    def positions(self) -> np.ndarray:
        return self.vertices[:, :3]

    def centroid(self) -> np.ndarray:
        """Centre of the part in asset space (for back-to-front sorting of blended parts)."""
        centre = self.positions.mean(axis=0) if len(self.vertices) else np.zeros(3, np.float32)
        return (self.transform @ np.append(centre, 1.0))[:3]


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def mesh_from_trimesh(mesh, transform: np.ndarray | None = None, name: str = "") -> MeshData:
    """Convert one trimesh.Trimesh (with its visual) into MeshData."""
    import trimesh

    positions = np.asarray(mesh.vertices, dtype=np.float32)
    count = len(positions)
    # trimesh computes area-weighted vertex normals when the file has none.
    normals = np.asarray(mesh.vertex_normals, dtype=np.float32)
    uvs = np.zeros((count, 2), np.float32)
    colors = np.ones((count, 4), np.float32)
    material = Material()
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.texture.TextureVisuals):
        if visual.uv is not None and len(visual.uv) == count:
            # trimesh flips glTF's top-left UV origin to OpenGL's bottom-left; undo it so
            # images uploaded first-row-first are sampled the way glTF means.
            uvs = np.asarray(visual.uv, dtype=np.float32).copy()
            uvs[:, 1] = 1.0 - uvs[:, 1]
        material = _material_from_trimesh(visual.material)
    elif isinstance(visual, trimesh.visual.color.ColorVisuals) and visual.defined:
        rgba = np.asarray(visual.vertex_colors, dtype=np.float64) / 255.0
        colors = np.concatenate([srgb_to_linear(rgba[:, :3]), rgba[:, 3:4]], axis=1).astype(np.float32)
        if np.any(rgba[:, 3] < 1.0):
            material.alpha_mode = "BLEND"
    vertices = np.concatenate([positions, normals, uvs, colors], axis=1).astype(np.float32)
    indices = np.asarray(mesh.faces, dtype=np.uint32).reshape(-1, 3)
    matrix = np.eye(4, dtype=np.float32) if transform is None else np.asarray(transform, np.float32)
    return MeshData(np.ascontiguousarray(vertices), np.ascontiguousarray(indices), matrix, material, name)


def _material_from_trimesh(material) -> Material:
    import trimesh

    out = Material()
    if material is None:
        return out
    if isinstance(material, trimesh.visual.material.SimpleMaterial):
        material = material.to_pbr()
    factor = getattr(material, "baseColorFactor", None)
    if factor is not None:
        factor = np.asarray(factor, dtype=np.float64).reshape(-1)
        # trimesh hands the factor back as 0-255 integers; glTF stores linear 0-1 floats.
        if factor.dtype.kind in "ui" or factor.max() > 1.0:
            factor = factor / 255.0
        if factor.size == 3:
            factor = np.append(factor, 1.0)
        out.base_color = tuple(float(c) for c in factor[:4])
    image = getattr(material, "baseColorTexture", None)
    if image is not None:
        out.texture = np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    for name, attr in (("metallic", "metallicFactor"), ("roughness", "roughnessFactor")):
        value = getattr(material, attr, None)
        if value is not None:
            setattr(out, name, float(value))
    mode = getattr(material, "alphaMode", None)
    out.alpha_mode = str(mode).upper() if mode else "OPAQUE"
    if out.alpha_mode not in ALPHA_MODES:
        out.alpha_mode = "OPAQUE"
    cutoff = getattr(material, "alphaCutoff", None)
    if cutoff is not None:
        out.alpha_cutoff = float(cutoff)
    out.double_sided = bool(getattr(material, "doubleSided", False))
    return out


def load_glb(path: str | Path) -> list[MeshData]:
    """Every mesh node of a GLB/glTF file with its world transform (scene graph flattened)."""
    import trimesh

    path = Path(path)
    try:
        scene = trimesh.load(str(path), force="scene")
    except Exception as error:  # trimesh raises many types for a malformed file
        raise EffectError(f"cannot read 3D asset {path}: {error}") from error
    meshes = []
    for node in scene.graph.nodes_geometry:
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry.get(geometry_name)
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue
        meshes.append(mesh_from_trimesh(geometry, transform, name=str(node)))
    if not meshes:
        raise EffectError(f"3D asset {path} holds no triangle meshes")
    log.debug("loaded %s: %d meshes, %d triangles", path.name, len(meshes),
              sum(len(m.indices) for m in meshes))
    return meshes


class GpuMesh:
    """A MeshData uploaded to one GL context, drawable with the object program."""

    def __init__(self, ctx, program, data: MeshData):
        import moderngl

        self.data = data
        self.material = data.material
        self.vbo = ctx.buffer(data.vertices.tobytes())
        self.ibo = ctx.buffer(data.indices.tobytes())
        self.vao = ctx.vertex_array(
            program,
            [(self.vbo, "3f 3f 2f 4f", "in_position", "in_normal", "in_uv", "in_color")],
            index_buffer=self.ibo, index_element_size=4,
        )
        self.texture = None
        if data.material.texture is not None:
            image = data.material.texture
            self.texture = ctx.texture((image.shape[1], image.shape[0]), 4, image.tobytes(),
                                       internal_format=GL_SRGB8_ALPHA8)
            self.texture.build_mipmaps()
            self.texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            self.texture.repeat_x = self.texture.repeat_y = True

    def release(self) -> None:
        for resource in (self.vao, self.vbo, self.ibo, self.texture):
            if resource is not None:
                resource.release()
