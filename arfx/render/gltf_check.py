"""Checking a GLB/glTF file before anything is built: its container, JSON, extensions, buffers,
accessors, images and triangle count, against arfx's limits (`inspect_model`, what `arfx list`
and loading both run). Failures name the file and the problem in one line."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from arfx.errors import EffectError

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
