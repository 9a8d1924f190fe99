"""GLB/glTF scenes -> flat lists of meshes with world transforms and glTF PBR materials, and
their GPU side (GpuMesh).

The file's structure is checked first (inspect_model, arfx.render.gltf_check); arfx.render.gltf_load then reads
it with numpy (materials with every map, skins, morph targets, animations) and
arfx.render.gltf_anim plays its animations.

glTF's unit is the metre; arfx's face space is in centimetres. `load_glb` reads a file in
metres (or the units its effect declares: UNITS) and hands back meshes whose transforms
convert them to centimetres.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arfx.errors import EffectError

log = logging.getLogger(__name__)

# GL_SRGB8_ALPHA8: base colour textures hold sRGB values; the sampler decodes them to linear.
GL_SRGB8_ALPHA8 = 0x8C43
ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")
VERTEX_FLOATS = 18  # position 3, normal 3, uv 2, colour 4, tangent 4 (w 0: none), uv set 1 2
#: Centimetres per file unit: glTF files are in metres; `units` in effect.toml overrides it.
UNITS = {"m": 100.0, "cm": 1.0, "mm": 0.1}


@dataclass
class Material:
    """glTF metallic-roughness material.

    The dataclass defaults (metallic 0, roughness 0.5) are for meshes arfx makes itself;
    materials read from glTF files get the spec's defaults (metallic 1, roughness 1).
    `maps` holds the textures by role: "base" (also `texture`), "metallic_roughness" (G
    roughness, B metallic), "normal", "occlusion" (R), "emissive" (arfx.render.gltf_load.TextureMap).
    """

    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # linear RGBA
    texture: np.ndarray | None = None  # uint8 [H, W, 4], sRGB, first row = top of the image
    metallic: float = 0.0
    roughness: float = 0.5
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    unlit: bool = False
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)  # linear, strength included
    maps: dict = field(default_factory=dict)

    @property
    def blended(self) -> bool:
        return self.alpha_mode == "BLEND"


@dataclass
class MeshData:
    """One drawable part: interleaved vertices in its node's space plus that node's world matrix."""

    vertices: np.ndarray  # float32 [N, 18]: position, normal, uv, colour (linear RGBA), tangent, uv1
    indices: np.ndarray  # uint32 [M, 3]
    transform: np.ndarray  # float32 [4, 4], node -> asset space
    material: Material = field(default_factory=Material)
    name: str = ""
    node: int | None = None  # the glTF node that places it (animations move it)
    skin: int | None = None  # index into the model's skins when skinned
    joints: np.ndarray | None = None  # int [N, 4]
    weights: np.ndarray | None = None  # float [N, 4], rows summing to 1
    morph_positions: np.ndarray | None = None  # float32 [T, N, 3]
    morph_normals: np.ndarray | None = None  # float32 [T, N, 3]
    morph_weights: np.ndarray | None = None  # the file's default weights [T]
    rest_vertices: np.ndarray | None = None  # undeformed vertices (morphed/skinned meshes)

    def __post_init__(self) -> None:
        self.vertices = pad_vertices(self.vertices)

    @property
    def deformable(self) -> bool:
        return self.skin is not None or self.morph_positions is not None

    @property
    def positions(self) -> np.ndarray:
        return self.vertices[:, :3]

    def centroid_local(self) -> np.ndarray:
        """Centre of the part's vertices in its own space."""
        return self.positions.mean(axis=0) if len(self.vertices) else np.zeros(3, np.float32)

    def centroid(self) -> np.ndarray:
        """Centre of the part in asset space (for back-to-front sorting of blended parts)."""
        centre = self.positions.mean(axis=0) if len(self.vertices) else np.zeros(3, np.float32)
        return (self.transform @ np.append(centre, 1.0))[:3]


def pad_vertices(vertices: np.ndarray) -> np.ndarray:
    """Rows of the older 12-float layout (no tangent, no second UV set) widened to VERTEX_FLOATS."""
    vertices = np.asarray(vertices, dtype=np.float32)
    if vertices.ndim == 2 and vertices.shape[1] == 12:
        vertices = np.concatenate([vertices, np.zeros((len(vertices), 4), np.float32), vertices[:, 6:8]],
                                  axis=1)
    return np.ascontiguousarray(vertices)


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def mesh_from_trimesh(mesh, transform: np.ndarray | None = None, name: str = "",
                      source: Path | None = None) -> MeshData:
    """Convert one trimesh.Trimesh (with its visual) into MeshData.

    `source` (the file it came from) only names the file in error messages.
    """
    import trimesh

    where = f"3D asset {source}" if source is not None else "mesh"
    positions = np.asarray(mesh.vertices, dtype=np.float32)
    count = len(positions)
    if not np.isfinite(positions).all():
        raise EffectError(f"{where}: mesh '{name}' has vertex positions that are not finite numbers")
    faces = np.asarray(mesh.faces)
    if faces.size and (faces.min() < 0 or faces.max() >= count):
        raise EffectError(f"{where}: mesh '{name}' has triangle indices past its {count} vertices")
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
        material = _material_from_trimesh(visual.material, f"texture of mesh '{name}' in {where}")
    elif isinstance(visual, trimesh.visual.color.ColorVisuals) and visual.defined:
        rgba = np.asarray(visual.vertex_colors, dtype=np.float64) / 255.0
        colors = np.concatenate([srgb_to_linear(rgba[:, :3]), rgba[:, 3:4]], axis=1).astype(np.float32)
        if np.any(rgba[:, 3] < 1.0):
            material.alpha_mode = "BLEND"
    vertices = np.concatenate([positions, normals, uvs, colors], axis=1).astype(np.float32)
    indices = faces.astype(np.uint32).reshape(-1, 3)
    matrix = np.eye(4, dtype=np.float32) if transform is None else np.asarray(transform, np.float32)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise EffectError(f"{where}: node '{name}' has a transform that is not a finite 4x4 matrix")
    return MeshData(np.ascontiguousarray(vertices), np.ascontiguousarray(indices), matrix, material, name)


def _material_from_trimesh(material, what: str = "texture") -> Material:
    import trimesh

    from arfx.render.texture import image_to_rgba

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
        if factor.size >= 4:
            factor = np.clip(np.nan_to_num(factor[:4], nan=1.0), 0.0, 1.0)
            out.base_color = tuple(float(c) for c in factor)
    image = getattr(material, "baseColorTexture", None)
    if image is not None:
        out.texture = image_to_rgba(image, what)
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


# Limits checked from the file's JSON before trimesh builds anything (see inspect_model).
# The file checks live in arfx.render.gltf_check; these names are re-exported for callers.
from arfx.render.gltf_check import (  # noqa: E402
    MAX_ASSET_BYTES, MAX_JSON_BYTES, MAX_NODES, MAX_TRIANGLES, MESHOPT_EXTENSIONS, ModelSummary, _Invalid,
    _read_model, _split_glb, _uri_bytes, draco_available, inspect_model, meshopt_available, meshopt_extension,
    referenced_files,
)


def load_glb(path: str | Path, units: str = "m") -> list[MeshData]:
    """Every mesh of a GLB/glTF file with its world transform (scene graph flattened), in its
    rest pose; see load_model for the file's nodes, skins and animations too."""
    return load_model(path, units).meshes


def load_model(path: str | Path, units: str = "m"):
    """The file's meshes, nodes, skins and animations (arfx.render.gltf_load.Model).

    The file is read in `units` (glTF's metre unless its effect declares otherwise, see
    UNITS); each mesh's transform maps it into centimetres. The file is checked first
    (inspect_model); anything still wrong becomes an EffectError naming the file.
    """
    from arfx.render.gltf_anim import rest_pose
    from arfx.render.gltf_load import parse_json, read_model

    if units not in UNITS:
        raise EffectError(f"unknown units '{units}' for a 3D asset; use one of {', '.join(UNITS)}")
    to_cm = np.diag([UNITS[units]] * 3 + [1.0])
    path = Path(path)
    data, binary_format = _read_model(path)
    summary = inspect_model(path, data)
    try:
        if binary_format:
            text, binary = _split_glb(data)
        else:
            text, binary = data, None
        tree = parse_json(text, path)
        model = read_model(tree, binary, path.parent, path, to_cm)
        rest_pose(model)
    except _Invalid as error:
        raise EffectError(f"cannot use 3D asset {path}: {error}") from error
    except EffectError:
        raise
    except Exception as error:  # numpy raises many types for malformed content
        raise EffectError(f"cannot read 3D asset {path}: malformed glTF content "
                          f"({type(error).__name__}: {error})") from error
    if not model.meshes:
        raise EffectError(f"3D asset {path} holds no triangle meshes")
    for mesh in model.meshes:
        if not np.isfinite(mesh.transform).all():
            raise EffectError(f"3D asset {path}: node '{mesh.name}' has a transform that is not a "
                              "finite 4x4 matrix")
    log.debug("loaded %s: %d meshes, %d triangles (%d in its JSON), %d animations", path.name,
              len(model.meshes), sum(len(m.indices) for m in model.meshes), summary.triangles,
              len(model.animations))
    return model


def bounds(meshes: list[MeshData]) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) corner of the meshes' bounding box in asset space (float64 [3] each)."""
    corners = []
    for mesh in meshes:
        if len(mesh.vertices):
            points = mesh.positions.astype(np.float64) @ mesh.transform[:3, :3].T.astype(np.float64)
            points += mesh.transform[:3, 3]
            corners += [points.min(axis=0), points.max(axis=0)]
    if not corners:
        return np.zeros(3), np.zeros(3)
    corners = np.asarray(corners)
    return corners.min(axis=0), corners.max(axis=0)


#: Texture unit of each material map in the object program (1 is the frame's reflection,
#: 2 the contact shadow's distance field).
TEXTURE_UNITS = {"base": 0, "metallic_roughness": 3, "normal": 4, "occlusion": 5, "emissive": 6}
_SRGB_MAPS = ("base", "emissive")
_GL_CLAMP, _GL_MIRROR = 33071, 33648
_NEAREST_MIN = {9728: False, 9729: False, 9984: True, 9985: True, 9986: True, 9987: True}


class GpuMesh:
    """A MeshData uploaded to one GL context, drawable with the object program.

    `textures` maps a material map's role to its GL texture; deformable meshes (skins, morph
    targets) keep a dynamic vertex buffer that `update_vertices` rewrites.
    """

    def __init__(self, ctx, program, data: MeshData, gpu_skin: bool = False):
        self.data = data
        self.material = data.material
        #: Skinned in the vertex shader: the buffer holds the unskinned (bind-pose) vertices.
        self.gpu_skin = bool(gpu_skin and data.skin is not None and data.rest_vertices is not None)
        vertices = data.rest_vertices if self.gpu_skin else data.vertices
        self.vbo = ctx.buffer(np.ascontiguousarray(vertices, np.float32).tobytes(), dynamic=data.deformable)
        self.ibo = ctx.buffer(data.indices.tobytes(), dynamic=data.material.blended)
        buffers = [(self.vbo, "3f 3f 2f 4f 4f 2f", "in_position", "in_normal", "in_uv", "in_color",
                    "in_tangent", "in_uv1")]
        self.skin_vbo = None
        if self.gpu_skin:
            influences = np.concatenate([data.joints, data.weights], axis=1).astype(np.float32)
            self.skin_vbo = ctx.buffer(np.ascontiguousarray(influences).tobytes())
            buffers.append((self.skin_vbo, "4f 4f", "in_joints", "in_weights"))
        # skip_errors: a shader variant without maps has no use for the uvs or tangents.
        self.vao = ctx.vertex_array(program, buffers, index_buffer=self.ibo, index_element_size=4,
                                    skip_errors=True)
        self.textures = {}
        maps = dict(data.material.maps)
        if data.material.texture is not None and "base" not in maps:
            from arfx.render.gltf_load import TextureMap

            maps["base"] = TextureMap(data.material.texture)
        for role, texture_map in maps.items():
            if role in TEXTURE_UNITS:
                self.textures[role] = _upload(ctx, texture_map, srgb=role in _SRGB_MAPS)
        self.maps = maps
        self.texture = self.textures.get("base")

    def update_vertices(self, vertices: np.ndarray) -> None:
        self.vbo.write(np.ascontiguousarray(vertices, dtype=np.float32).tobytes())

    def update_indices(self, indices: np.ndarray) -> None:
        self.ibo.write(np.ascontiguousarray(indices, dtype=np.uint32).tobytes())

    def release(self) -> None:
        for resource in (self.vao, self.vbo, self.ibo, self.skin_vbo, *self.textures.values()):
            if resource is not None:
                resource.release()
        self.textures = {}


def _upload(ctx, texture_map, srgb: bool):
    import moderngl

    image = texture_map.image
    texture = ctx.texture((image.shape[1], image.shape[0]), 4, image.tobytes(),
                          internal_format=GL_SRGB8_ALPHA8 if srgb else None)
    mipmaps = _NEAREST_MIN.get(texture_map.min_filter, True)
    nearest_min = texture_map.min_filter in (9728, 9984, 9986)
    nearest_mag = texture_map.mag_filter == 9728
    if mipmaps:
        texture.build_mipmaps()
        minify = moderngl.NEAREST_MIPMAP_NEAREST if texture_map.min_filter == 9984 else \
            moderngl.LINEAR_MIPMAP_NEAREST if texture_map.min_filter == 9985 else \
            moderngl.NEAREST_MIPMAP_LINEAR if texture_map.min_filter == 9986 else moderngl.LINEAR_MIPMAP_LINEAR
    else:
        minify = moderngl.NEAREST if nearest_min else moderngl.LINEAR
    texture.filter = (minify, moderngl.NEAREST if nearest_mag else moderngl.LINEAR)
    # Mirrored repeat is done in the shader (u_mirror) on a repeating texture.
    texture.repeat_x = texture_map.wrap[0] != _GL_CLAMP
    texture.repeat_y = texture_map.wrap[1] != _GL_CLAMP
    return texture
