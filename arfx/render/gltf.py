"""GLB/glTF scenes -> flat lists of meshes with world transforms and glTF PBR materials.

The file's structure is checked first (inspect_model, here); arfx.render.gltf_load then reads
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
MAX_TRIANGLES = 500_000
MAX_ASSET_BYTES = 256 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_NODES = 10_000
_GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
# Extensions a file may require that arfx cannot decode, with what to do instead.
_UNSUPPORTED_EXTENSIONS = {
    "KHR_draco_mesh_compression": "export it again without Draco compression (or install DracoPy, "
                                  "Apache-2.0, which arfx then decodes it with)",
    "EXT_meshopt_compression": "export it again without meshopt compression (gltfpack without -c), "
                               "or install meshopt (MIT), which arfx then decodes it with",
    "KHR_meshopt_compression": "export it again without meshopt compression (gltfpack without -c), "
                               "or install meshopt (MIT), which arfx then decodes it with",
    "KHR_texture_basisu": "export it again with PNG or JPEG textures instead of KTX2",
}
MESHOPT_EXTENSIONS = ("EXT_meshopt_compression", "KHR_meshopt_compression")


def meshopt_available() -> bool:
    """Whether meshopt-compressed buffer views can be decoded (the optional meshopt package)."""
    import importlib.util

    return importlib.util.find_spec("meshopt") is not None


def meshopt_extension(item: dict) -> dict | None:
    """A bufferView's or buffer's meshopt extension object, if it has one."""
    extensions = item.get("extensions") if isinstance(item, dict) else None
    if not isinstance(extensions, dict):
        return None
    return next((extensions[name] for name in MESHOPT_EXTENSIONS if isinstance(extensions.get(name), dict)), None)


def draco_available() -> bool:
    """Whether Draco-compressed meshes can be decoded (the optional DracoPy package)."""
    import importlib.util

    return importlib.util.find_spec("DracoPy") is not None


_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


@dataclass(frozen=True)
class ModelSummary:
    """What the cheap check of a GLB/glTF file found (no geometry built)."""

    meshes: int
    triangles: int  # drawn triangles: each mesh counted once per node that places it
    images: int
    extensions: tuple[str, ...] = ()  # extensionsUsed


class _Invalid(Exception):
    """Internal: a structural problem in a glTF file (turned into EffectError with the path)."""


def _is_int(value, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _items(tree: dict, key: str) -> list:
    value = tree.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _Invalid(f"'{key}' must be a list of objects")
    return value


def _index(item: dict, key: str, items: list, what: str, required: bool = False):
    value = item.get(key)
    if value is None:
        if required:
            raise _Invalid(f"{what} has no '{key}'")
        return None
    if not _is_int(value) or value >= len(items):
        raise _Invalid(f"{what} refers to {key} {value!r}, which does not exist")
    return value


def _split_glb(data: bytes) -> tuple[bytes, bytes | None]:
    if len(data) < 12:
        raise _Invalid(f"it is not a GLB file ({len(data)} bytes; too short)")
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != _GLB_MAGIC:
        raise _Invalid("it is not a GLB file (it does not start with 'glTF')")
    if version != 2:
        raise _Invalid(f"glTF version {version} is not supported (only 2)")
    if length > len(data):
        raise _Invalid(f"the file is truncated (its header says {length} bytes, it has {len(data)})")
    offset, chunks = 12, []
    while offset < length:
        if offset + 8 > length:
            raise _Invalid("the file is truncated (a chunk header is cut off)")
        size, kind = struct.unpack_from("<II", data, offset)
        if offset + 8 + size > length:
            raise _Invalid(f"the file is truncated (a chunk of {size} bytes runs past the end)")
        chunks.append((kind, data[offset + 8:offset + 8 + size]))
        offset += 8 + size + (-size % 4)
    if not chunks or chunks[0][0] != _CHUNK_JSON:
        raise _Invalid("the first chunk is not the JSON chunk")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == _CHUNK_BIN else None
    return chunks[0][1], binary


def _inside(root: Path, uri: str) -> Path:
    from urllib.parse import unquote

    relative = unquote(uri)
    if "\x00" in relative or Path(relative).is_absolute() or ":" in relative.split("/")[0]:
        raise _Invalid(f"refers to '{uri}', which is not a file next to it")
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise _Invalid(f"refers to '{uri}', which lies outside its folder")
    return target


def _uri_bytes(root: Path, uri, what: str) -> bytes:
    import base64
    import binascii

    if not isinstance(uri, str):
        raise _Invalid(f"{what} has a uri that is not text")
    if uri.startswith("data:"):
        head, _, payload = uri.partition(",")
        if not head.endswith(";base64"):
            raise _Invalid(f"{what} has a data uri that is not base64")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as error:
            raise _Invalid(f"{what} has a broken base64 data uri ({error})") from error
    target = _inside(root, uri)
    try:
        if target.stat().st_size > MAX_ASSET_BYTES:
            raise _Invalid(f"{what} file '{uri}' is larger than {MAX_ASSET_BYTES // 2**20} MiB")
        return target.read_bytes()
    except OSError as error:
        raise _Invalid(f"{what} file '{uri}' cannot be read ({error.strerror or error})") from error


def _uri_size(root: Path, uri, what: str) -> int:
    """Byte size behind a buffer uri; external files are measured, not read."""
    if isinstance(uri, str) and not uri.startswith("data:"):
        target = _inside(root, uri)
        try:
            return target.stat().st_size
        except OSError as error:
            raise _Invalid(f"{what} file '{uri}' cannot be read ({error.strerror or error})") from error
    return len(_uri_bytes(root, uri, what))


def _check_tree(tree, binary: bytes | None, root: Path, path: Path) -> ModelSummary:
    from arfx.render.texture import check_image

    if not isinstance(tree, dict):
        raise _Invalid("its JSON is not an object")
    required = tree.get("extensionsRequired", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise _Invalid("'extensionsRequired' must be a list of names")
    from arfx.render.gltf_load import SUPPORTED_EXTENSIONS

    for name in required:
        if name == "KHR_draco_mesh_compression" and draco_available():
            continue  # decoded by DracoPy (arfx.render.gltf_load)
        if name in MESHOPT_EXTENSIONS and meshopt_available():
            continue  # buffer views decoded by meshopt (arfx.render.gltf_load)
        if name in _UNSUPPORTED_EXTENSIONS:
            raise _Invalid(f"it needs the glTF extension {name}, which arfx does not read; "
                           f"{_UNSUPPORTED_EXTENSIONS[name]}")
        if name not in SUPPORTED_EXTENSIONS:
            raise _Invalid(f"it needs the glTF extension {name}, which arfx does not read; "
                           "export it again without it")
    accessors = _items(tree, "accessors")
    for i, accessor in enumerate(accessors):
        count = accessor.get("count")
        kind, component = accessor.get("type"), accessor.get("componentType")
        if not (_is_int(count) and _is_int(component) and isinstance(kind, str)
                and component in _COMPONENT_BYTES and kind in _TYPE_SIZES):
            raise _Invalid(f"accessor {i} has a bad count, type or componentType")

    meshes = _items(tree, "meshes")
    if not meshes:
        raise _Invalid("it holds no meshes")
    mesh_triangles = []
    for i, mesh in enumerate(meshes):
        primitives = mesh.get("primitives")
        if not isinstance(primitives, list) or not all(isinstance(p, dict) for p in primitives):
            raise _Invalid(f"mesh {i} has no list of primitives")
        triangles = 0
        for primitive in primitives:
            attributes = primitive.get("attributes")
            if not isinstance(attributes, dict):
                raise _Invalid(f"a primitive of mesh {i} has no attributes")
            for name in attributes:
                _index(attributes, name, accessors, f"mesh {i} attribute {name}")
            position = _index(attributes, "POSITION", accessors, f"mesh {i}", required=True)
            indices = _index(primitive, "indices", accessors, f"mesh {i}")
            count = accessors[indices if indices is not None else position]["count"]
            mode = primitive.get("mode", 4)
            if not _is_int(mode):
                raise _Invalid(f"mesh {i} has a primitive mode that is not an integer: {mode!r}")
            if mode == 4:
                triangles += count // 3
            elif mode in (5, 6):
                triangles += max(count - 2, 0)
            elif mode not in (0, 1, 2, 3):
                raise _Invalid(f"mesh {i} has an unknown primitive mode {mode!r}")
        mesh_triangles.append(triangles)

    nodes = _items(tree, "nodes")
    if len(nodes) > MAX_NODES:
        raise _Invalid(f"it has {len(nodes)} nodes; the limit is {MAX_NODES}")
    parents: dict[int, int] = {}
    placed = [0] * len(meshes)
    for i, node in enumerate(nodes):
        children = node.get("children", [])
        if not isinstance(children, list):
            raise _Invalid(f"node {i} has children that are not a list")
        for child in children:
            if not _is_int(child) or child >= len(nodes) or child == i or child in parents:
                raise _Invalid(f"node {i} has a bad child {child!r} (glTF nodes form a tree)")
            parents[child] = i
        mesh = _index(node, "mesh", meshes, f"node {i}")
        if mesh is not None:
            placed[mesh] += 1
    for start in parents:  # a cycle would make trimesh walk forever
        seen, node = set(), start
        while node in parents:
            if node in seen:
                raise _Invalid(f"node {start} is its own ancestor")
            seen.add(node)
            node = parents[node]
    triangles = sum(t * max(n, 1) for t, n in zip(mesh_triangles, placed))
    if not any(t and n for t, n in zip(mesh_triangles, placed)):
        raise _Invalid("no node places a mesh with triangles (only points or lines, or meshes "
                       "no node uses); arfx draws triangle meshes")
    if triangles > MAX_TRIANGLES:
        raise _Invalid(f"it has {triangles:,} triangles; the limit is {MAX_TRIANGLES:,} "
                       "(decimate it in a 3D editor)")

    # Only now, with the triangle count known to be acceptable, are buffers read and checked.
    buffers = _items(tree, "buffers")
    sizes = []
    for i, buffer in enumerate(buffers):
        length = buffer.get("byteLength")
        if not _is_int(length):
            raise _Invalid(f"buffer {i} has no valid byteLength")
        if "uri" in buffer:
            actual = _uri_size(root, buffer["uri"], f"buffer {i}")
        elif i == 0 and binary is not None:
            actual = len(binary)
        elif (meshopt_extension(buffer) or {}).get("fallback") and meshopt_available():
            actual = length  # a meshopt fallback: its views are decoded from another buffer
        else:
            raise _Invalid(f"buffer {i} has no data")
        if actual < length:
            raise _Invalid(f"buffer {i} is truncated ({actual} of {length} bytes)")
        sizes.append(length)
    views = _items(tree, "bufferViews")
    for i, view in enumerate(views):
        what = f"bufferView {i}"
        buffer = _index(view, "buffer", buffers, what, required=True)
        start, length = view.get("byteOffset", 0), view.get("byteLength")
        stride = view.get("byteStride", 0)
        if not (_is_int(start) and _is_int(length) and _is_int(stride)):
            raise _Invalid(f"{what} has a bad byteOffset/byteLength/byteStride")
        compressed = meshopt_extension(view)
        if compressed is not None and meshopt_available():
            source = _index(compressed, "buffer", buffers, what, required=True)
            offset, size = compressed.get("byteOffset", 0), compressed.get("byteLength")
            count, stride = compressed.get("count"), compressed.get("byteStride")
            if not all(_is_int(v) for v in (offset, size, count, stride)) or offset + size > sizes[source] \
                    or count * stride != length or compressed.get("mode") not in ("ATTRIBUTES", "TRIANGLES", "INDICES"):
                raise _Invalid(f"{what} has a bad meshopt compression record")
            continue
        if start + length > sizes[buffer]:
            raise _Invalid(f"{what} runs past the end of buffer {buffer}")
    for i, accessor in enumerate(accessors):
        what = f"accessor {i}"
        count = accessor["count"]
        kind, component = accessor["type"], accessor["componentType"]
        if count > 3 * MAX_TRIANGLES:
            raise _Invalid(f"{what} holds {count} elements; the limit is {3 * MAX_TRIANGLES}")
        if "sparse" in accessor:
            raise _Invalid(f"{what} is sparse, which arfx does not support")
        view = _index(accessor, "bufferView", views, what)
        if view is None:
            continue  # all zeros (the spec)
        element = _COMPONENT_BYTES[component] * _TYPE_SIZES[kind]
        start = accessor.get("byteOffset", 0)
        stride = views[view].get("byteStride") or element
        if not _is_int(start):
            raise _Invalid(f"{what} has a bad byteOffset")
        if count and start + stride * (count - 1) + element > views[view]["byteLength"]:
            raise _Invalid(f"{what} claims {count} elements but its bufferView {view} is too short")

    images = _items(tree, "images")
    for i, image in enumerate(images):
        what = f"texture image {i} in {path}"
        if "uri" in image:
            blob = _uri_bytes(root, image["uri"], f"image {i}")
        else:
            view = _index(image, "bufferView", views, f"image {i}", required=True)
            buffer_bytes = binary if "uri" not in buffers[views[view]["buffer"]] else None
            if buffer_bytes is None:
                blob = _uri_bytes(root, buffers[views[view]["buffer"]]["uri"], f"image {i}")
            else:
                blob = buffer_bytes
            start = views[view].get("byteOffset", 0)
            blob = blob[start:start + views[view]["byteLength"]]
        check_image(blob, what)
    used = tree.get("extensionsUsed", [])
    used = tuple(str(name) for name in used) if isinstance(used, list) else ()
    return ModelSummary(len(meshes), triangles, len(images), used)


def _read_model(path: Path) -> tuple[bytes, bool]:
    """(file bytes, is_binary) after the size check; EffectError when unreadable."""
    try:
        size = path.stat().st_size
        if size > MAX_ASSET_BYTES:
            raise EffectError(f"3D asset {path} is {size / 2**20:.0f} MiB; the limit is "
                              f"{MAX_ASSET_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as error:
        raise EffectError(f"cannot read 3D asset {path}: {error.strerror or error}") from error
    return data, path.suffix.lower() != ".gltf"


def inspect_model(path: str | Path, data: bytes | None = None) -> ModelSummary:
    """Check a GLB/glTF file from its header and JSON only, before any geometry is built.

    Refuses (EffectError naming the file and the problem) a file that is not GLB/glTF, is
    truncated, holds no meshes, has more than MAX_TRIANGLES triangles, has references that
    point outside its buffers or outside its folder, or a texture that is not an image or is
    over the texture size limit (arfx.render.texture).
    """
    path = Path(path)
    binary_format = path.suffix.lower() != ".gltf"
    if data is None:
        data, binary_format = _read_model(path)
    try:
        if binary_format:
            text, binary = _split_glb(data)
        else:
            text, binary = data, None
        if len(text) > MAX_JSON_BYTES:
            raise _Invalid(f"its JSON is larger than {MAX_JSON_BYTES // 2**20} MiB")
        try:
            tree = json.loads(bytes(text).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise _Invalid(f"its JSON cannot be read ({error})") from error
        return _check_tree(tree, binary, path.parent, path)
    except _Invalid as error:
        raise EffectError(f"cannot use 3D asset {path}: {error}") from error


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


def referenced_files(path: str | Path) -> set[Path]:
    """The files a loose .gltf names as its own (buffers, images) next to it; empty when the
    file cannot be read (a broken .gltf is reported by its own check, not here)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return set()
        tree = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return set()
    if not isinstance(tree, dict):
        return set()
    found = set()
    for key in ("buffers", "images"):
        items = tree.get(key)
        for item in items if isinstance(items, list) else []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                try:
                    found.add(_inside(path.parent, uri))
                except (_Invalid, OSError, ValueError, RuntimeError):
                    continue
    return found


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
        self.vao = ctx.vertex_array(program, buffers, index_buffer=self.ibo, index_element_size=4)
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
