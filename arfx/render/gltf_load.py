"""Reading a checked glTF 2.0 file with numpy: accessors, primitives, materials, nodes, skins,
morph targets and animations (no trimesh).

`read_model` runs after `arfx.render.gltf.inspect_model` has checked the file's structure
(indices in range, buffer views inside their buffers, accessors inside their views), so it
reads without bounds worries; what is still wrong becomes an EffectError naming the file.

Materials follow glTF's metallic-roughness model with the spec's defaults (metallic 1,
roughness 1); textures keep their sampler and KHR_texture_transform; spec-gloss materials
(KHR_materials_pbrSpecularGlossiness) are converted to metallic-roughness approximately.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arfx.errors import EffectError

log = logging.getLogger(__name__)

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32,
           5126: np.float32}
_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}

#: Extensions arfx reads (a file may require these).
SUPPORTED_EXTENSIONS = frozenset({
    "KHR_materials_unlit", "KHR_texture_transform", "KHR_mesh_quantization",
    "KHR_materials_emissive_strength", "KHR_materials_pbrSpecularGlossiness",
})
#: Compression extensions decoded by optional packages (DracoPy, meshopt) when they are installed.
_DECODED_EXTENSIONS = frozenset({"KHR_draco_mesh_compression", "EXT_meshopt_compression",
                                 "KHR_meshopt_compression"})
#: Extensions that only add to a picture arfx draws without them (logged once, never silent).
OPTIONAL_NOTES = {
    "KHR_lights_punctual": "its lights are not used (arfx lights objects from the frame)",
    "KHR_materials_clearcoat": "clearcoat layers are not drawn",
    "KHR_materials_transmission": "transmission is drawn as plain alpha",
    "KHR_materials_volume": "volume is not drawn",
    "KHR_materials_ior": "the index of refraction is taken as 1.5",
    "KHR_materials_specular": "specular colour and strength are taken as the defaults",
    "KHR_materials_sheen": "sheen is not drawn",
    "KHR_materials_iridescence": "iridescence is not drawn",
    "KHR_materials_anisotropy": "anisotropy is not drawn",
    "KHR_materials_variants": "only the default material variant is drawn",
    "KHR_texture_basisu": "KTX2 textures are not read (the fallback image, if any, is used)",
    "EXT_texture_webp": "WebP textures are read from the fallback image, if any",
    "KHR_animation_pointer": "animations of other properties than nodes are not played",
    "EXT_mesh_gpu_instancing": "instances beyond the node itself are not drawn",
}
_LOGGED: set[tuple[str, str]] = set()
#: Morph targets x vertices a primitive may have (memory: 24 bytes each).
MAX_MORPH_VALUES = 4_000_000


@dataclass
class TextureMap:
    """One texture a material reads: its image, sampler and UV set/transform."""

    image: np.ndarray  # uint8 [H, W, 4], first row = top
    texcoord: int = 0
    transform: np.ndarray = field(default_factory=lambda: np.eye(3, dtype=np.float32))  # uv -> uv
    wrap: tuple[int, int] = (10497, 10497)  # GL wrap modes (repeat)
    mag_filter: int | None = None
    min_filter: int | None = None
    scale: float = 1.0  # normalTexture.scale / occlusionTexture.strength


@dataclass
class Skin:
    joints: list[int]  # node indices
    inverse_bind: np.ndarray  # float64 [J, 4, 4]


@dataclass
class Channel:
    node: int
    path: str  # translation | rotation | scale | weights
    times: np.ndarray  # float64 [K]
    values: np.ndarray  # float64 [K, C] or [K, 3, C] for CUBICSPLINE (in-tangent, value, out-tangent)
    interpolation: str  # LINEAR | STEP | CUBICSPLINE


@dataclass
class Animation:
    name: str
    channels: list[Channel]

    @property
    def duration(self) -> float:
        return max((float(c.times[-1]) for c in self.channels if len(c.times)), default=0.0)


@dataclass
class Node:
    name: str
    translation: np.ndarray  # float64 [3]
    rotation: np.ndarray  # float64 [4] quaternion x, y, z, w
    scale: np.ndarray  # float64 [3]
    matrix: np.ndarray | None  # float64 [4, 4] when given as a matrix (then not animated)
    children: list[int]
    weights: np.ndarray | None = None  # default morph weights (node's, else its mesh's)

    def local(self, translation=None, rotation=None, scale=None) -> np.ndarray:
        if self.matrix is not None:
            return self.matrix
        return trs_matrix(self.translation if translation is None else translation,
                          self.rotation if rotation is None else rotation,
                          self.scale if scale is None else scale)


def quaternion_matrix(q) -> np.ndarray:
    x, y, z, w = (float(v) for v in q)
    norm = math.sqrt(x * x + y * y + z * z + w * w) or 1.0
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def trs_matrix(translation, rotation, scale) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = quaternion_matrix(rotation) * np.asarray(scale, np.float64)
    matrix[:3, 3] = translation
    return matrix


class _Reader:
    """Accessor data of one checked glTF file."""

    def __init__(self, tree: dict, binary: bytes | None, root: Path, path: Path):
        from arfx.render.gltf_check import _uri_bytes

        self.tree, self.path = tree, path
        self.buffers = []
        for i, buffer in enumerate(tree.get("buffers", [])):
            if "uri" in buffer:
                self.buffers.append(_uri_bytes(root, buffer["uri"], f"buffer {i}"))
            else:
                self.buffers.append(binary if i == 0 and binary is not None else b"")
        self._cache: dict[int, np.ndarray] = {}

    def view_bytes(self, index: int) -> bytes:
        from arfx.render.gltf_check import meshopt_extension

        view = self.tree["bufferViews"][index]
        compressed = meshopt_extension(view)
        if compressed is not None:  # EXT/KHR_meshopt_compression: decoded from its own buffer
            return self._meshopt_view(index, compressed)
        start = view.get("byteOffset", 0)
        return self.buffers[view["buffer"]][start:start + view["byteLength"]]

    def _meshopt_view(self, index: int, compressed: dict) -> bytes:
        import meshopt

        from arfx.errors import EffectError

        start = compressed.get("byteOffset", 0)
        data = self.buffers[compressed["buffer"]][start:start + compressed["byteLength"]]
        filter_name = compressed.get("filter", "NONE")
        try:
            decoded = meshopt.decode_gltf_buffer(bytes(data), compressed["count"], compressed["byteStride"],
                                                 compressed["mode"], None if filter_name == "NONE" else filter_name)
        except (ValueError, RuntimeError) as error:
            raise EffectError(f"cannot use 3D asset {self.path}: bufferView {index}'s meshopt data cannot be "
                              f"decoded ({error})") from error
        return np.ascontiguousarray(decoded).tobytes()

    def accessor(self, index: int, normalize: bool = True) -> np.ndarray:
        """Elements as [count, components] (float64 when normalized or float, else integers)."""
        key = index * 2 + int(normalize)
        if key in self._cache:
            return self._cache[key]
        accessor = self.tree["accessors"][index]
        dtype = np.dtype(_DTYPES[accessor["componentType"]]).newbyteorder("<")
        components = _SIZES[accessor["type"]]
        count = accessor["count"]
        if "bufferView" not in accessor:
            data = np.zeros((count, components), dtype)  # the spec: all zeros
        else:
            view = self.tree["bufferViews"][accessor["bufferView"]]
            raw = self.view_bytes(accessor["bufferView"])
            start = accessor.get("byteOffset", 0)
            element = dtype.itemsize * components
            # Matrices of 1- and 2-byte components pad their columns to 4 bytes.
            column = dtype.itemsize * int(math.sqrt(components)) if accessor["type"].startswith("MAT") else 0
            stride = view.get("byteStride") or element
            if column and column % 4:
                rows = int(math.sqrt(components))
                padded = (column + 3) // 4 * 4
                stride = view.get("byteStride") or padded * rows
                data = np.ndarray((count, rows, rows), dtype, raw, start, (stride, padded, dtype.itemsize))
                data = data.reshape(count, components)
            else:
                data = np.ndarray((count, components), dtype, raw, start, (stride, dtype.itemsize))
            data = np.array(data)
        if normalize:
            if accessor.get("normalized") and dtype.kind in "iu":
                data = data.astype(np.float64) / float(np.iinfo(dtype).max)
                data = np.maximum(data, -1.0)
            else:
                # NaN bit patterns in a broken file warn in the cast; non-finite values are
                # refused where they are used (positions, transforms, keyframes), with the file named
                with np.errstate(invalid="ignore"):
                    data = data.astype(np.float64)
        self._cache[key] = data
        return data


def _srgb_to_linear(values):
    values = np.asarray(values, np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(values):
    values = np.clip(np.asarray(values, np.float64), 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


class _Materials:
    def __init__(self, reader: _Reader, root: Path):
        self.reader, self.root = reader, root
        self._images: dict[int, np.ndarray] = {}
        self._materials: dict[int | None, object] = {}

    def image(self, index: int) -> np.ndarray:
        from arfx.render.gltf_check import _uri_bytes
        from arfx.render.texture import decode_rgba

        if index not in self._images:
            tree, reader = self.reader.tree, self.reader
            image = tree["images"][index]
            what = f"texture image {index} in {reader.path}"
            if "uri" in image:
                blob = _uri_bytes(self.root, image["uri"], f"image {index}")
            else:
                blob = reader.view_bytes(image["bufferView"])
            self._images[index] = decode_rgba(bytes(blob), what)
        return self._images[index]

    def texture(self, info, what: str) -> TextureMap | None:
        tree = self.reader.tree
        if not isinstance(info, dict) or not isinstance(info.get("index"), int):
            return None
        textures = tree.get("textures", [])
        if not 0 <= info["index"] < len(textures):
            raise EffectError(f"3D asset {self.reader.path}: {what} refers to texture {info['index']}, "
                              "which does not exist")
        texture = textures[info["index"]]
        source = texture.get("source")
        if source is None:  # KTX2/WebP-only textures: their own extensions hold the source
            return None
        image = self.image(source)
        out = TextureMap(image, texcoord=int(info.get("texCoord", 0)))
        if "scale" in info:
            out.scale = float(info["scale"])
        if "strength" in info:
            out.scale = float(info["strength"])
        sampler_index = texture.get("sampler")
        if isinstance(sampler_index, int) and 0 <= sampler_index < len(tree.get("samplers", [])):
            sampler = tree["samplers"][sampler_index]
            out.wrap = (int(sampler.get("wrapS", 10497)), int(sampler.get("wrapT", 10497)))
            out.mag_filter = sampler.get("magFilter")
            out.min_filter = sampler.get("minFilter")
        transform = info.get("extensions", {}).get("KHR_texture_transform")
        if isinstance(transform, dict):
            out.transform = texture_transform(transform.get("offset", (0.0, 0.0)),
                                              transform.get("rotation", 0.0),
                                              transform.get("scale", (1.0, 1.0)))
            if "texCoord" in transform:
                out.texcoord = int(transform["texCoord"])
        if out.texcoord not in (0, 1):
            log.warning("3D asset %s: %s uses UV set %d; arfx reads sets 0 and 1, so it uses set 0",
                        self.reader.path, what, out.texcoord)
            out.texcoord = 0
        return out

    def material(self, index: int | None):
        from arfx.render.gltf import ALPHA_MODES, Material

        if index in self._materials:
            return self._materials[index]
        out = Material(metallic=1.0, roughness=1.0)  # glTF's defaults
        if index is None:
            self._materials[index] = out
            return out
        source = self.reader.tree["materials"][index]
        what = f"material {index} ('{source.get('name', '')}')"
        extensions = source.get("extensions", {}) if isinstance(source.get("extensions"), dict) else {}
        pbr = source.get("pbrMetallicRoughness", {})
        factor = np.asarray(pbr.get("baseColorFactor", (1.0, 1.0, 1.0, 1.0)), np.float64).reshape(-1)
        if factor.size == 4 and np.isfinite(factor).all():
            out.base_color = tuple(float(c) for c in np.clip(factor, 0.0, 1.0))
        out.metallic = float(np.clip(pbr.get("metallicFactor", 1.0), 0.0, 1.0))
        out.roughness = float(np.clip(pbr.get("roughnessFactor", 1.0), 0.0, 1.0))
        base = self.texture(pbr.get("baseColorTexture"), f"{what} base colour")
        mr = self.texture(pbr.get("metallicRoughnessTexture"), f"{what} metallic-roughness")
        gloss = extensions.get("KHR_materials_pbrSpecularGlossiness")
        if isinstance(gloss, dict):
            base, mr = self._from_specular_glossiness(gloss, out, what)
        if base is not None:
            out.texture = base.image
            out.maps["base"] = base
        if mr is not None:
            out.maps["metallic_roughness"] = mr
        for key, name in (("normalTexture", "normal"), ("occlusionTexture", "occlusion"),
                          ("emissiveTexture", "emissive")):
            found = self.texture(source.get(key), f"{what} {name}")
            if found is not None:
                out.maps[name] = found
        emissive = np.asarray(source.get("emissiveFactor", (0.0, 0.0, 0.0)), np.float64).reshape(-1)
        if emissive.size == 3 and np.isfinite(emissive).all():
            strength = extensions.get("KHR_materials_emissive_strength", {})
            strength = float(strength.get("emissiveStrength", 1.0)) if isinstance(strength, dict) else 1.0
            out.emissive = tuple(float(c) * strength for c in np.clip(emissive, 0.0, 1.0))
        mode = str(source.get("alphaMode", "OPAQUE")).upper()
        out.alpha_mode = mode if mode in ALPHA_MODES else "OPAQUE"
        out.alpha_cutoff = float(source.get("alphaCutoff", 0.5))
        out.double_sided = bool(source.get("doubleSided", False))
        out.unlit = "KHR_materials_unlit" in extensions
        self._materials[index] = out
        return out

    def _from_specular_glossiness(self, gloss: dict, out, what: str):
        """Spec-gloss -> metallic-roughness, approximately: roughness = 1 - glossiness; the
        metalness that gives the same specular and diffuse brightness (solved per material, and
        per texel when there is a specular-glossiness texture); base colour from the diffuse."""
        diffuse = np.asarray(gloss.get("diffuseFactor", (1.0, 1.0, 1.0, 1.0)), np.float64)
        specular = np.asarray(gloss.get("specularFactor", (1.0, 1.0, 1.0)), np.float64)
        glossiness = float(gloss.get("glossinessFactor", 1.0))
        metallic = solve_metallic(diffuse[:3].max(), specular.max())
        base_rgb = converted_base(diffuse[:3], specular, metallic)
        out.base_color = (*np.clip(base_rgb, 0, 1), float(np.clip(diffuse[3], 0, 1)))
        out.roughness = float(np.clip(1.0 - glossiness, 0.0, 1.0))
        out.metallic = float(metallic)
        base = self.texture(gloss.get("diffuseTexture"), f"{what} diffuse")
        mr = None
        sg = self.texture(gloss.get("specularGlossinessTexture"), f"{what} specular-glossiness")
        if sg is not None:
            pixels = sg.image.astype(np.float64) / 255.0
            spec = _srgb_to_linear(pixels[..., :3]) * specular
            gl = pixels[..., 3] * glossiness
            bright = np.full(spec.shape[:2], diffuse[:3].max())
            metal = solve_metallic(bright, spec.max(axis=-1))
            image = np.zeros(pixels.shape, np.uint8)
            image[..., 1] = np.round(255 * np.clip(1.0 - gl, 0, 1))
            image[..., 2] = np.round(255 * np.clip(metal, 0, 1))
            image[..., 3] = 255
            mr = TextureMap(image, sg.texcoord, sg.transform, sg.wrap, sg.mag_filter, sg.min_filter)
            out.roughness, out.metallic = 1.0, 1.0  # the texture carries them
        return base, mr


def solve_metallic(diffuse, specular, dielectric: float = 0.04):
    """Metalness giving a surface whose diffuse and specular brightness match spec-gloss's
    (the root of dielectric m^2 + b m + (dielectric - specular) = 0, clamped to 0..1)."""
    diffuse, specular = np.asarray(diffuse, np.float64), np.asarray(specular, np.float64)
    one_minus = 1.0 - specular
    b = diffuse * one_minus / (1.0 - dielectric) + specular - 2.0 * dielectric
    c = dielectric - specular
    root = (-b + np.sqrt(np.maximum(b * b - 4.0 * dielectric * c, 0.0))) / (2.0 * dielectric)
    return np.where(specular < dielectric, 0.0, np.clip(root, 0.0, 1.0))


def converted_base(diffuse, specular, metallic, dielectric: float = 0.04):
    diffuse, specular = np.asarray(diffuse, np.float64), np.asarray(specular, np.float64)
    from_diffuse = diffuse * (1.0 - specular.max()) / (1.0 - dielectric) / max(1.0 - metallic, 1e-4)
    from_specular = (specular - dielectric * (1.0 - metallic)) / max(metallic, 1e-4)
    return from_diffuse + (from_specular - from_diffuse) * metallic * metallic


def texture_transform(offset, rotation, scale) -> np.ndarray:
    """KHR_texture_transform as a 3x3 uv matrix: translation x rotation x scale."""
    ox, oy = (float(v) for v in offset)
    sx, sy = (float(v) for v in scale)
    c, s = math.cos(float(rotation)), math.sin(float(rotation))
    translate = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], np.float64)
    rotate = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]], np.float64)
    return (translate @ rotate @ np.diag([sx, sy, 1.0])).astype(np.float32)


def generate_tangents(positions, normals, uvs, triangles) -> np.ndarray:
    """Per-vertex tangents [N, 4] (xyz along +u, w the handedness so that cross(n, t) * w points
    towards decreasing v, the image's up) from triangle UV gradients."""
    p = positions[triangles]  # [T, 3, 3]
    uv = uvs[triangles]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    d1, d2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    safe = np.where(np.abs(det) > 1e-12, det, 1.0)[:, None]
    along_u = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) / safe
    along_v = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) / safe
    along_u[np.abs(det) <= 1e-12] = 0.0
    along_v[np.abs(det) <= 1e-12] = 0.0
    t = np.zeros_like(positions)
    b = np.zeros_like(positions)
    for corner in range(3):
        np.add.at(t, triangles[:, corner], along_u)
        np.add.at(b, triangles[:, corner], along_v)
    t -= normals * np.sum(t * normals, axis=1, keepdims=True)  # Gram-Schmidt
    length = np.linalg.norm(t, axis=1, keepdims=True)
    fallback = np.cross(normals, np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    t = np.where(length > 1e-12, t / np.maximum(length, 1e-12), fallback)
    w = np.where(np.sum(np.cross(normals, t) * -b, axis=1) < 0.0, -1.0, 1.0)
    return np.concatenate([t, w[:, None]], axis=1)


def _triangles(mode: int, count: int, indices: np.ndarray | None) -> np.ndarray | None:
    order = indices.reshape(-1).astype(np.int64) if indices is not None else np.arange(count)
    if mode == 4:
        return order[: len(order) // 3 * 3].reshape(-1, 3)
    if mode == 5 and len(order) >= 3:
        i = np.arange(len(order) - 2)
        even = i % 2 == 0
        a = order[i]
        b = np.where(even, order[i + 1], order[i + 2])
        c = np.where(even, order[i + 2], order[i + 1])
        return np.stack([a, b, c], axis=1)
    if mode == 6 and len(order) >= 3:
        i = np.arange(1, len(order) - 1)
        return np.stack([np.full(len(i), order[0]), order[i], order[i + 1]], axis=1)
    return None  # points and lines are not drawn


def _flat_normals(positions, triangles) -> np.ndarray:
    """The spec's rule for primitives without normals: flat shading (area-weighted vertex
    normals here, as the vertices are shared)."""
    p = positions[triangles]
    face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    normals = np.zeros_like(positions)
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.maximum(length, 1e-30), [[0.0, 0.0, 1.0]])


def _draco_primitive(reader: _Reader, primitive: dict, extension: dict):
    """(attributes: name -> array, indices) of a Draco-compressed primitive (DracoPy)."""
    try:
        import DracoPy
    except ImportError as error:
        raise EffectError(f"3D asset {reader.path} is Draco-compressed (KHR_draco_mesh_compression); "
                          "install DracoPy (pip install DracoPy) or export it again without Draco") from error
    try:
        mesh = DracoPy.decode(reader.view_bytes(extension["bufferView"]))
    except Exception as error:
        raise EffectError(f"cannot read 3D asset {reader.path}: its Draco data cannot be decoded "
                          f"({type(error).__name__}: {error})") from error
    ids = extension.get("attributes", {})
    found = {}
    by_id = {}
    for attribute in getattr(mesh, "attributes", []) or []:
        unique = attribute.get("unique_id") if isinstance(attribute, dict) else None
        if unique is not None:
            by_id[unique] = np.asarray(attribute.get("data"))
    points = np.asarray(mesh.points, np.float64).reshape(-1, 3)
    for name, unique in ids.items():
        if name == "POSITION":
            found[name] = points
        elif name == "NORMAL" and getattr(mesh, "normals", None) is not None and len(mesh.normals):
            found[name] = np.asarray(mesh.normals, np.float64).reshape(-1, 3)
        elif name == "TEXCOORD_0" and getattr(mesh, "tex_coord", None) is not None and len(mesh.tex_coord):
            found[name] = np.asarray(mesh.tex_coord, np.float64).reshape(len(points), -1)
        elif name == "COLOR_0" and getattr(mesh, "colors", None) is not None and len(mesh.colors):
            colors = np.asarray(mesh.colors)
            found[name] = colors.reshape(len(points), -1).astype(np.float64) / (
                255.0 if colors.dtype == np.uint8 else 1.0)
        elif unique in by_id:
            found[name] = by_id[unique].reshape(len(points), -1).astype(np.float64)
    # Accessors the primitive names keep their declared normalization for integer attributes.
    for name, data in list(found.items()):
        accessor = reader.tree["accessors"][primitive["attributes"][name]] if name in primitive.get(
            "attributes", {}) else {}
        dtype = _DTYPES.get(accessor.get("componentType", 5126))
        if accessor.get("normalized") and np.dtype(dtype).kind in "iu" and np.abs(data).max(initial=0) > 1.0:
            found[name] = np.maximum(data / float(np.iinfo(dtype).max), -1.0)
    faces = np.asarray(mesh.faces, np.int64).reshape(-1, 3)
    return found, faces


@dataclass
class Model:
    """Everything arfx draws from one glTF file."""

    meshes: list  # MeshData, each with .node (and .skin, .morph_* when it has them)
    nodes: list[Node]
    roots: list[int]
    skins: list[Skin]
    animations: list[Animation]
    to_cm: np.ndarray  # float64 [4, 4]

    @property
    def animated(self) -> bool:
        return bool(self.animations)


def read_model(tree: dict, binary: bytes | None, root: Path, path: Path, to_cm: np.ndarray) -> Model:
    """Build the Model of a checked file (see inspect_model)."""
    from arfx.render.gltf import VERTEX_FLOATS, MeshData

    reader = _Reader(tree, binary, root, path)
    materials = _Materials(reader, root)
    used = tree.get("extensionsUsed", []) if isinstance(tree.get("extensionsUsed"), list) else []
    for name in used:
        if name in OPTIONAL_NOTES and (str(path), name) not in _LOGGED:
            _LOGGED.add((str(path), name))
            log.warning("3D asset %s uses the glTF extension %s: %s", path, name, OPTIONAL_NOTES[name])
        elif name not in SUPPORTED_EXTENSIONS and name not in _DECODED_EXTENSIONS \
                and (str(path), name) not in _LOGGED:
            _LOGGED.add((str(path), name))
            log.warning("3D asset %s uses the glTF extension %s, which arfx does not read; "
                        "it is drawn without it", path, name)

    nodes = []
    for i, source in enumerate(tree.get("nodes", [])):
        matrix = None
        if "matrix" in source:
            matrix = np.asarray(source["matrix"], np.float64).reshape(4, 4).T  # column-major
        node = Node(str(source.get("name", i)),
                    np.asarray(source.get("translation", (0.0, 0.0, 0.0)), np.float64),
                    np.asarray(source.get("rotation", (0.0, 0.0, 0.0, 1.0)), np.float64),
                    np.asarray(source.get("scale", (1.0, 1.0, 1.0)), np.float64),
                    matrix, list(source.get("children", [])))
        for name, value in (("translation", node.translation), ("rotation", node.rotation),
                            ("scale", node.scale)):
            if value.shape != ((4,) if name == "rotation" else (3,)) or not np.isfinite(value).all():
                raise EffectError(f"cannot read 3D asset {path}: node {i} has a bad {name}")
        if matrix is not None and not np.isfinite(matrix).all():
            raise EffectError(f"3D asset {path}: node '{node.name}' has a transform that is not a "
                              "finite 4x4 matrix")
        nodes.append(node)
    scenes = tree.get("scenes", [])
    scene = tree.get("scene", 0)
    if scenes and isinstance(scene, int) and 0 <= scene < len(scenes):
        roots = [n for n in scenes[scene].get("nodes", []) if isinstance(n, int) and 0 <= n < len(nodes)]
    else:
        children = {c for node in nodes for c in node.children}
        roots = [i for i in range(len(nodes)) if i not in children]

    skins = []
    for i, source in enumerate(tree.get("skins", [])):
        joints = [int(j) for j in source.get("joints", [])]
        if any(not 0 <= j < len(nodes) for j in joints):
            raise EffectError(f"cannot read 3D asset {path}: skin {i} names a joint that is not a node")
        if "inverseBindMatrices" in source:
            data = reader.accessor(source["inverseBindMatrices"])
            if data.shape != (len(joints), 16):
                raise EffectError(f"cannot read 3D asset {path}: skin {i} has {len(data)} inverse bind "
                                  f"matrices for {len(joints)} joints")
            inverse = data.reshape(-1, 4, 4).transpose(0, 2, 1)
        else:
            inverse = np.tile(np.eye(4), (len(joints), 1, 1))
        skins.append(Skin(joints, inverse))

    world = _world_matrices(nodes, roots, [None] * len(nodes))
    mesh_sources = tree.get("meshes", [])
    meshes = []
    for node_index in _walk(nodes, roots):
        source_node = tree["nodes"][node_index]
        mesh_index = source_node.get("mesh")
        if mesh_index is None:
            continue
        mesh = mesh_source = mesh_sources[mesh_index]
        skin = source_node.get("skin")
        skin = skin if isinstance(skin, int) and 0 <= skin < len(skins) else None
        weights = source_node.get("weights", mesh.get("weights"))
        for p, primitive in enumerate(mesh.get("primitives", [])):
            data = _primitive(reader, materials, primitive, f"{node_index}", path, MeshData, VERTEX_FLOATS)
            if data is None:
                continue
            name = str(source_node.get("name", mesh_source.get("name", node_index)))
            data.name = name if len(mesh.get("primitives", [])) == 1 else f"{name}.{p}"
            data.node = node_index
            data.transform = (to_cm @ world[node_index]).astype(np.float32)
            if data.morph_positions is not None:
                count = len(data.morph_positions)
                default = np.zeros(count)
                if isinstance(weights, list) and len(weights) == count:
                    default = np.asarray(weights, np.float64)
                data.morph_weights = default
                if default.any():  # the file's own weights are its rest shape
                    data.vertices = _morphed(data, default)
            if skin is not None and data.joints is not None:
                data.skin = skin
            meshes.append(data)

    animations = []
    for i, source in enumerate(tree.get("animations", [])):
        channels = []
        samplers = source.get("samplers", [])
        for channel in source.get("channels", []):
            target = channel.get("target", {})
            node, kind = target.get("node"), target.get("path")
            sampler = channel.get("sampler")
            if not (isinstance(node, int) and 0 <= node < len(nodes) and kind in
                    ("translation", "rotation", "scale", "weights") and isinstance(sampler, int)
                    and 0 <= sampler < len(samplers)):
                continue  # e.g. KHR_animation_pointer targets
            sampler = samplers[sampler]
            times = reader.accessor(sampler["input"])[:, 0]
            values = reader.accessor(sampler["output"])
            interpolation = str(sampler.get("interpolation", "LINEAR")).upper()
            if interpolation not in ("LINEAR", "STEP", "CUBICSPLINE"):
                interpolation = "LINEAR"
            if kind == "weights":
                values = values.reshape(len(times) * (3 if interpolation == "CUBICSPLINE" else 1), -1)
            if interpolation == "CUBICSPLINE":
                if len(values) != 3 * len(times):
                    raise EffectError(f"cannot read 3D asset {path}: animation {i} has a cubic spline "
                                      "sampler whose output is not 3 values per key")
                values = values.reshape(len(times), 3, -1)
            elif len(values) != len(times):
                raise EffectError(f"cannot read 3D asset {path}: animation {i} has {len(times)} key times "
                                  f"but {len(values)} values")
            if not (np.isfinite(times).all() and np.isfinite(values).all()) or np.any(np.diff(times) < 0):
                raise EffectError(f"cannot read 3D asset {path}: animation {i} has key times that are not "
                                  "increasing finite numbers")
            if len(times):
                channels.append(Channel(node, kind, times, values.astype(np.float64), interpolation))
        if channels:
            animations.append(Animation(str(source.get("name", f"animation {i}")), channels))
    return Model(meshes, nodes, roots, skins, animations, to_cm)


def _walk(nodes: list[Node], roots: list[int]):
    stack, seen = list(reversed(roots)), set()
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        yield index
        stack.extend(reversed([c for c in nodes[index].children if 0 <= c < len(nodes)]))


def _world_matrices(nodes: list[Node], roots: list[int], locals_: list) -> list:
    """World matrix of every node reachable from the roots (locals_[i] overrides node i's)."""
    world = [np.eye(4)] * len(nodes)
    stack = [(r, np.eye(4)) for r in roots]
    while stack:
        index, parent = stack.pop()
        local = locals_[index] if locals_[index] is not None else nodes[index].local()
        world[index] = parent @ local
        stack.extend((c, world[index]) for c in nodes[index].children if 0 <= c < len(nodes))
    return world


def _morphed(data, weights) -> np.ndarray:
    """Vertices with morph targets applied at `weights` (positions, normals; normals renormalised)."""
    vertices = data.rest_vertices.copy() if data.rest_vertices is not None else data.vertices.copy()
    weights = np.asarray(weights, np.float32)
    # A loop over the weighted targets: BLAS-backed tensordot is ~1000x slower here (threads).
    for t in np.flatnonzero(weights):
        vertices[:, :3] += weights[t] * data.morph_positions[t]
        if data.morph_normals is not None:
            vertices[:, 3:6] += weights[t] * data.morph_normals[t]
    if data.morph_normals is not None:
        normals = vertices[:, 3:6]
        vertices[:, 3:6] = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return vertices


def _primitive(reader: _Reader, materials: _Materials, primitive: dict, where: str, path: Path,
               mesh_type, floats: int):
    attributes = dict(primitive.get("attributes", {}))
    extensions = primitive.get("extensions", {}) if isinstance(primitive.get("extensions"), dict) else {}
    draco = extensions.get("KHR_draco_mesh_compression")
    if isinstance(draco, dict):
        found, triangles = _draco_primitive(reader, primitive, draco)
        values = dict(found)
        for name in attributes:
            if name not in values:
                values[name] = reader.accessor(attributes[name])
        mode = 4
    else:
        values = {name: reader.accessor(index) for name, index in attributes.items()
                  if name in ("POSITION", "NORMAL", "TANGENT", "TEXCOORD_0", "TEXCOORD_1", "COLOR_0")}
        mode = primitive.get("mode", 4)
        indices = reader.accessor(primitive["indices"], normalize=False) if "indices" in primitive else None
        triangles = _triangles(mode, len(values["POSITION"]), indices)
    if triangles is None or not len(triangles):
        return None
    positions = values["POSITION"][:, :3]
    count = len(positions)
    if not np.isfinite(positions).all():
        raise EffectError(f"3D asset {path}: mesh of node {where} has vertex positions that are not "
                          "finite numbers")
    if triangles.min() < 0 or triangles.max() >= count:
        raise EffectError(f"3D asset {path}: mesh of node {where} has triangle indices past its "
                          f"{count} vertices")
    material = materials.material(primitive.get("material"))
    normals = values.get("NORMAL")
    if normals is None or len(normals) != count:
        normals = _flat_normals(positions, triangles)
    else:
        normals = normals[:, :3] / np.maximum(np.linalg.norm(normals[:, :3], axis=1, keepdims=True), 1e-12)
    uv0 = values.get("TEXCOORD_0", np.zeros((count, 2)))[:, :2]
    uv1 = values.get("TEXCOORD_1", uv0)[:, :2]
    color = values.get("COLOR_0")
    colors = np.ones((count, 4))
    if color is not None and len(color) == count:
        colors[:, : color.shape[1]] = color[:, :4]  # COLOR_0 is linear (the spec)
    tangents = values.get("TANGENT")
    if tangents is None or len(tangents) != count or tangents.shape[1] != 4:
        if "normal" in material.maps:
            uvs = uv1 if material.maps["normal"].texcoord == 1 else uv0
            tangents = generate_tangents(positions, normals, uvs, triangles)
        else:
            tangents = np.zeros((count, 4))
    vertices = np.concatenate([positions, normals, uv0, colors, tangents, uv1], axis=1).astype(np.float32)
    assert vertices.shape[1] == floats
    data = mesh_type(np.ascontiguousarray(vertices), np.ascontiguousarray(triangles.astype(np.uint32)),
                     np.eye(4, dtype=np.float32), material)
    targets = primitive.get("targets")
    if isinstance(targets, list) and len(targets) * count > MAX_MORPH_VALUES:
        raise EffectError(f"3D asset {path}: mesh of node {where} has {len(targets)} morph targets of {count} "
                          f"vertices; the limit is {MAX_MORPH_VALUES:,} target vertices in all")
    if isinstance(targets, list) and targets and not isinstance(draco, dict):
        morph_positions = np.zeros((len(targets), count, 3), np.float32)
        morph_normals = np.zeros((len(targets), count, 3), np.float32)
        has_normals = False
        for t, target in enumerate(targets):
            if "POSITION" in target:
                morph_positions[t] = reader.accessor(target["POSITION"])[:count, :3]
            if "NORMAL" in target:
                morph_normals[t] = reader.accessor(target["NORMAL"])[:count, :3]
                has_normals = True
        data.morph_positions = morph_positions
        data.morph_normals = morph_normals if has_normals else None
        data.rest_vertices = data.vertices.copy()
    if "JOINTS_0" in attributes and "WEIGHTS_0" in attributes:
        joints = reader.accessor(attributes["JOINTS_0"], normalize=False)[:, :4].astype(np.int64)
        weights = reader.accessor(attributes["WEIGHTS_0"])[:, :4]
        if len(joints) == count and len(weights) == count:
            total = weights.sum(axis=1, keepdims=True)
            data.joints = joints
            data.weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 0.0)
    return data


def parse_json(text: bytes, path: Path) -> dict:
    try:
        return json.loads(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise EffectError(f"cannot use 3D asset {path}: its JSON cannot be read ({error})") from error
