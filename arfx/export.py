"""Exports for other tools: `arfx track` as JSON Lines or CSV, face meshes (OBJ/PLY), face textures.

Track formats are written from the same arrays as the .npz (arfx.track.to_arrays, keys and
meanings in TRACK_KEYS), so every format holds the same values:

- JSON Lines (.jsonl): one object per frame, holding the file's scalars (`schema_version`, `fps`,
  `fov`, ...), the frame's own values (`frame_index`, `frame_name`, `frame_fov`, ...) and a list
  per entity (`faces`, `hands`, `bodies`) of objects with that entity's keys (`face_id`,
  `face_landmarks`, ...); counts and offsets are implied by the lists. NaN and infinity are null.
- CSV (.csv): one row per face, with its frame's values and the file's scalars; arrays are spread
  over columns named `<key>_<index>...` (`face_landmarks_12_x`, `face_pose_0_3`), a few with names
  (`face_box_x0`, `face_euler_yaw`, `face_expressions_jawOpen`). Frames without faces have no row.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from arfx.errors import OutputError

log = logging.getLogger(__name__)

#: `arfx track` output formats by file suffix.
TRACK_FORMATS = {".npz": "npz", ".jsonl": "jsonl", ".csv": "csv"}
#: entity prefix -> the JSON Lines list holding its rows
ENTITY_LISTS = {"face": "faces", "hand": "hands", "body": "bodies"}
_NAMED_COLUMNS = {"face_box": ("x0", "y0", "x1", "y1"), "face_euler": ("yaw", "pitch", "roll"),
                  "face_translation": ("x", "y", "z")}


def track_format(output: str | Path, fmt: str | None = None) -> str:
    """The format of a track output: `fmt` when given, else from the suffix (one-line error otherwise)."""
    if fmt is not None:
        if fmt not in TRACK_FORMATS.values():
            raise OutputError(f"unknown track format '{fmt}'; use one of {', '.join(TRACK_FORMATS.values())}")
        return fmt
    suffix = Path(output).suffix.lower()
    if suffix not in TRACK_FORMATS:
        raise OutputError(f"{output}: unsupported track output type {suffix or '(no suffix)'}; name it "
                          f"{' / '.join(TRACK_FORMATS)} or give --format {'|'.join(TRACK_FORMATS.values())}")
    return TRACK_FORMATS[suffix]


def _layout(arrays: dict[str, np.ndarray]) -> tuple[dict, list[str], dict[str, list[str]]]:
    """Split the arrays into file scalars, per-frame keys and per-entity keys."""
    frames = len(arrays["frame_index"])
    file_values, per_frame, per_entity = {}, [], {}
    for key, value in arrays.items():
        entity = key.split("_", 1)[0]
        if entity in ENTITY_LISTS and f"{entity}_offset" in arrays:
            if key not in (f"{entity}_count", f"{entity}_offset"):
                per_entity.setdefault(entity, []).append(key)
        elif np.ndim(value) >= 1 and len(value) == frames and key not in ("expression_names",):
            per_frame.append(key)
        else:
            file_values[key] = value
    return file_values, per_frame, per_entity


def _json(value) -> str:
    """JSON text of a value; float32 values to 9 significant digits, NaN and infinity as null."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        flat = _floats(array)
        finite = np.isfinite(array).ravel()
        if not finite.all():
            flat = [text if ok else "null" for text, ok in zip(flat, finite.tolist())]
        return _nest(flat, array.shape)
    if array.dtype.kind in "iub":
        return _nest([str(v) for v in array.astype(np.int64).ravel().tolist()], array.shape)
    if array.ndim == 0:
        return json.dumps(str(array))
    return json.dumps([str(v) for v in array.ravel()]) if array.ndim == 1 else json.dumps(array.tolist())


def _floats(array: np.ndarray) -> list[str]:
    """float32 values as text that reads back to the same float32 (9 significant digits), fast:
    one %-format over the whole array."""
    flat = np.asarray(array, dtype=np.float32).ravel().astype(np.float64).tolist()
    return ("%.9g," * len(flat) % tuple(flat)).split(",")[:-1]


def _nest(flat: list[str], shape: tuple[int, ...]) -> str:
    """Nested JSON lists of `shape` around flat value texts."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return "[" + ",".join(flat) + "]"
    if len(shape) == 2:
        row = "[" + ",".join(["%s"] * shape[1]) + "]"
        return "[" + ",".join([row] * shape[0]) % tuple(flat) + "]"
    step = len(flat) // shape[0] if shape[0] else 0
    return "[" + ",".join(_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


def jsonl_lines(arrays: dict[str, np.ndarray]) -> Iterator[str]:
    """One JSON object per frame (see the module doc)."""
    file_values, per_frame, per_entity = _layout(arrays)
    head = [f"{json.dumps(key)}:{_json(value)}" for key, value in file_values.items()]
    for i in range(len(arrays["frame_index"])):
        parts = head + [f"{json.dumps(key)}:{_json(arrays[key][i])}" for key in per_frame]
        for entity, keys in per_entity.items():
            start, end = arrays[f"{entity}_offset"][i], arrays[f"{entity}_offset"][i + 1]
            rows = ["{" + ",".join(f"{json.dumps(key)}:{_json(arrays[key][j])}" for key in keys) + "}"
                    for j in range(start, end)]
            parts.append(f"{json.dumps(ENTITY_LISTS[entity])}:[" + ",".join(rows) + "]")
        yield "{" + ",".join(parts) + "}\n"


def _columns(key: str, shape: tuple[int, ...], arrays: dict[str, np.ndarray]) -> list[str]:
    if not shape:
        return [key]
    if key in _NAMED_COLUMNS:
        return [f"{key}_{name}" for name in _NAMED_COLUMNS[key]]
    if key == "face_expressions":
        return [f"{key}_{name}" for name in arrays["expression_names"].tolist()]
    names = []
    for index in np.ndindex(*shape):
        tail = [str(i) for i in index]
        if shape[-1] == 3 and len(shape) == 2:  # points: x, y, z
            tail[-1] = "xyz"[index[-1]]
        names.append(key + "_" + "_".join(tail))
    return names


def _cells(value) -> list[str]:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return _floats(array)
    if array.dtype.kind in "iub":
        return array.astype(np.int64).ravel().astype(str).tolist()
    return [str(v) for v in array.ravel()]


def csv_text(arrays: dict[str, np.ndarray]) -> Iterator[str]:
    """CSV, one row per face (see the module doc); hands and bodies do not fit it."""
    file_values, per_frame, per_entity = _layout(arrays)
    others = sorted(set(per_entity) - {"face"})
    if others:
        raise OutputError(f"CSV holds one row per face and cannot hold {' or '.join(ENTITY_LISTS[e] for e in others)}; "
                          "write .npz or .jsonl (--format jsonl) for them")
    scalars = {key: value for key, value in file_values.items() if np.ndim(value) == 0}
    face_keys = per_entity.get("face", [])
    header = list(scalars) + per_frame
    for key in face_keys:
        header += _columns(key, arrays[key].shape[1:], arrays)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    fixed = [cell for value in scalars.values() for cell in _cells(value)]
    offsets = arrays["face_offset"]
    for i in range(len(arrays["frame_index"])):
        frame_cells = fixed + [cell for key in per_frame for cell in _cells(arrays[key][i])]
        for j in range(offsets[i], offsets[i + 1]):
            writer.writerow(frame_cells + [cell for key in face_keys for cell in _cells(arrays[key][j])])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def write_track_text(arrays: dict[str, np.ndarray], path: Path, fmt: str) -> None:
    """Write JSON Lines or CSV to `path` (the caller renames it into place)."""
    chunks = jsonl_lines(arrays) if fmt == "jsonl" else csv_text(arrays)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a track CSV as dicts (for tests and quick looks)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def check_track_output(output: str | Path, overwrite: bool = False, fmt: str | None = None) -> tuple[Path, str]:
    """Refuse, before any tracking, an output that cannot be written; its path and format."""
    from arfx.outputs import check_output_path

    fmt = track_format(output, fmt)
    return check_output_path(output, overwrite, None, "track output"), fmt


def write_track(result, output: str | Path, fmt: str | None = None, refine: bool = False,
                overwrite: bool = False) -> Path:
    """Write an `arfx track` result (arfx.track.TrackResult) as .npz, JSON Lines or CSV, atomically."""
    from arfx.outputs import write_atomically
    from arfx.track import to_arrays

    out, fmt = check_track_output(output, overwrite, fmt)
    arrays = to_arrays(result, 478 if refine else 468)

    def write(temp: Path) -> None:
        if fmt == "npz":
            with open(temp, "wb") as handle:  # a file object: numpy would append .npz to a name
                np.savez_compressed(handle, **arrays)
        else:
            write_track_text(arrays, temp, fmt)

    return write_atomically(out, write, overwrite, "landmarks")


# -- face meshes: OBJ, PLY, GLB ----------------------------------------------------------------

#: Mesh file types by suffix.
MESH_FORMATS = {".obj": "obj", ".ply": "ply", ".glb": "glb"}


def _file_uvs(uvs: np.ndarray) -> np.ndarray:
    """Canonical UVs (v from the top of the image) -> the files' convention (v from the bottom)."""
    uvs = np.asarray(uvs, dtype=np.float32)
    return np.c_[uvs[:, 0], 1.0 - uvs[:, 1]]


def obj_text(vertices: np.ndarray, uvs: np.ndarray, triangles: np.ndarray, material: str | None = None,
             comment: str = "") -> str:
    """Wavefront OBJ of a UV-mapped triangle mesh (one vt per vertex; `material` names an .mtl)."""
    out = io.StringIO()
    for line in comment.splitlines():
        out.write(f"# {line}\n")
    if material:
        out.write(f"mtllib {material}.mtl\nusemtl {material}\n")
    vertices = np.asarray(vertices, dtype=np.float64)
    uvs = _file_uvs(uvs).astype(np.float64)
    faces = np.repeat(np.asarray(triangles, dtype=np.int64) + 1, 2, axis=1)
    # One %-format over the whole array: ~10x faster than np.savetxt's line-by-line writes.
    out.write("v %.5f %.5f %.5f\n" * len(vertices) % tuple(vertices.ravel().tolist()))
    out.write("vt %.6f %.6f\n" * len(uvs) % tuple(uvs.ravel().tolist()))
    out.write("f %d/%d %d/%d %d/%d\n" * len(faces) % tuple(faces.ravel().tolist()))
    return out.getvalue()


def mtl_text(material: str, texture_file: str) -> str:
    return f"newmtl {material}\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd {texture_file}\n"


def ply_bytes(vertices: np.ndarray, uvs: np.ndarray, triangles: np.ndarray, texture_file: str | None = None,
              comment: str = "") -> bytes:
    """Binary little-endian PLY with per-vertex texture_u / texture_v."""
    vertices = np.asarray(vertices, dtype=np.float32)
    triangles = np.asarray(triangles, dtype=np.int32)
    header = ["ply", "format binary_little_endian 1.0"]
    header += [f"comment {line}" for line in comment.splitlines()]
    if texture_file:
        header.append(f"comment TextureFile {texture_file}")
    header += [f"element vertex {len(vertices)}", "property float x", "property float y", "property float z",
               "property float texture_u", "property float texture_v",
               f"element face {len(triangles)}", "property list uchar int vertex_indices", "end_header"]
    vertex_data = np.c_[vertices, _file_uvs(uvs)].astype("<f4").tobytes()
    face_data = np.zeros(len(triangles), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face_data["n"], face_data["i"] = 3, triangles
    return ("\n".join(header) + "\n").encode("ascii") + vertex_data + face_data.tobytes()


def glb_bytes(vertices: np.ndarray, uvs: np.ndarray, triangles: np.ndarray, texture: np.ndarray | None = None) -> bytes:
    """Binary glTF (metres, glTF's unit) with the UVs and, when given, the RGB(A) texture."""
    import trimesh
    from PIL import Image

    visual = trimesh.visual.TextureVisuals(
        uv=_file_uvs(uvs), image=None if texture is None else Image.fromarray(np.asarray(texture, np.uint8)))
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64) / 100.0, np.asarray(triangles), visual=visual,
                           process=False)
    return mesh.export(file_type="glb")


def write_face_mesh(path: str | Path, vertices: np.ndarray, uvs: np.ndarray, triangles: np.ndarray,
                    texture: np.ndarray | None = None, overwrite: bool = False, comment: str = "") -> Path:
    """Write a face mesh as .obj (+ .mtl and .png when textured), .ply (+ .png) or .glb (texture inside).

    Vertices are in cm for OBJ and PLY (arfx's unit), in metres for GLB. Each file is written
    under a temp name and renamed, so a failure leaves none half-written.
    """
    import cv2

    from arfx.outputs import check_output_path, write_atomically

    out = check_output_path(path, overwrite, MESH_FORMATS, "mesh output")
    kind = MESH_FORMATS[out.suffix.lower()]
    texture_name = f"{out.stem}.png" if texture is not None and kind != "glb" else None
    if texture_name:
        image = np.asarray(texture, np.uint8)
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        ok, png = cv2.imencode(".png", cv2.cvtColor(image, code))
        if not ok:
            raise OutputError(f"{out}: cannot encode its texture as PNG")
        write_atomically(out.with_suffix(".png"), lambda temp: temp.write_bytes(png.tobytes()), overwrite, "texture")
    if kind == "obj":
        if texture_name:
            write_atomically(out.with_suffix(".mtl"),
                             lambda temp: temp.write_text(mtl_text(out.stem, texture_name)), overwrite, "material")
        text = obj_text(vertices, uvs, triangles, out.stem if texture_name else None, comment)
        return write_atomically(out, lambda temp: temp.write_text(text), overwrite, "mesh")
    data = ply_bytes(vertices, uvs, triangles, texture_name, comment) if kind == "ply" \
        else glb_bytes(vertices, uvs, triangles, texture)
    return write_atomically(out, lambda temp: temp.write_bytes(data), overwrite, "mesh")


# -- face texture capture: the frame unwrapped into the canonical UV layout ---------------------

def vertex_visibility(mesh: np.ndarray, triangles: np.ndarray, width: int, height: int, camera,
                      min_facing: float = 0.15, ramp: float = 0.2) -> np.ndarray:
    """float32 [468] 0..1: how visible each vertex is from the camera.

    Facing: the vertex normal against the direction to the camera (0 below `min_facing`, 1 above
    min_facing + ramp). Hidden: a vertex with a nearer part of the mesh (the nose over a cheek when
    the head turns) over 1 cm in front of it at its place in the image is 0. Nearness comes from a
    coarse depth map over the face's box (48 cells across, each holding the nearest of the
    vertices, triangle centres and edge midpoints that fall in it): all numpy, no drawing, under a
    millisecond. (It agrees with a rasterised depth map on all but 4-15 of the 468 vertices of the
    canonical face turned 0-70 degrees.)
    """
    from arfx.rerun_log import vertex_normals

    mesh = np.asarray(mesh, dtype=np.float32)
    triangles = np.asarray(triangles, dtype=np.int64)
    normals = vertex_normals(mesh, triangles)
    towards = -mesh / np.maximum(np.linalg.norm(mesh, axis=1, keepdims=True), 1e-6)
    facing = np.clip(((normals * towards).sum(axis=1) - min_facing) / ramp, 0.0, 1.0)
    corners = mesh[triangles]  # [T, 3, 3]
    samples = np.concatenate([mesh, corners.mean(axis=1), (corners + np.roll(corners, 1, axis=1)).reshape(-1, 3) / 2])
    pixels = camera.project(samples, width, height)
    low = pixels[: len(mesh)].min(axis=0)
    cells = 48
    scale = (cells - 1) / max(float((pixels[: len(mesh)].max(axis=0) - low).max()), 1e-6)
    cell = np.clip(np.round((pixels - low) * scale).astype(np.int64), 0, cells - 1)
    depth = -samples[:, 2]
    nearest = np.full(cells * cells, np.inf, np.float32)
    np.minimum.at(nearest, cell[:, 1] * cells + cell[:, 0], depth)
    nearest = nearest.reshape(cells, cells)
    own = cell[: len(mesh)]
    hidden = depth[: len(mesh)] > nearest[own[:, 1], own[:, 0]] + 1.0
    return (facing * ~hidden).astype(np.float32)


def capture_face_texture(ctx, rgb: np.ndarray, mesh: np.ndarray, camera, size: int = 512,
                         mirror: bool = False) -> np.ndarray:
    """uint8 [size, size, 4]: the face's pixels unwrapped into the canonical UV layout (v = 0 at
    the top, as face paint textures are); alpha is each point's visibility, 0 where the face is
    turned away or hidden. `mirror` fills what is hidden from the other side of the face (the
    layout is left-right symmetric). `ctx` is any moderngl context (made current by the caller)."""
    import cv2

    from arfx.geometry.canonical import CanonicalFace

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    canonical = CanonicalFace.load()
    mesh = np.asarray(mesh, dtype=np.float32)[: len(canonical.vertices)]
    pixels = camera.project(mesh, width, height)
    # Only the face's box of the frame is uploaded (as RGBA: Mesa uploads RGB ~10x slower).
    x0, y0 = np.clip(np.floor(pixels.min(axis=0)).astype(int) - 2, 0, [width - 1, height - 1])
    x1, y1 = np.clip(np.ceil(pixels.max(axis=0)).astype(int) + 3, [x0 + 1, y0 + 1], [width, height])
    crop = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA)
    frame_uv = (pixels - [x0, y0]) / np.array([x1 - x0, y1 - y0], np.float32)
    visible = vertex_visibility(mesh, canonical.triangles, width, height, camera)
    res = _capture_resources(ctx, size)
    res.vbo.write(np.c_[canonical.uvs, frame_uv, visible].astype(np.float32).tobytes())
    texture = ctx.texture((x1 - x0, y1 - y0), 4, crop.tobytes())
    texture.filter = (res.linear, res.linear)
    try:
        res.fbo.use()
        res.fbo.clear(0.0, 0.0, 0.0, 0.0)
        ctx.enable_only(0)
        texture.use(0)
        res.program["u_frame"] = 0
        res.vao.render()
        out = np.frombuffer(res.fbo.read(components=4, alignment=1), np.uint8).reshape(size, size, 4).copy()
    finally:
        texture.release()
    if mirror:
        out = mirror_fill(out)
    return out


class _CaptureResources:
    """The capture's program, buffers and target for one context (made once, reused)."""

    def __init__(self, ctx, size: int):
        import moderngl

        from arfx.geometry.canonical import CanonicalFace
        from arfx.render.renderer import load_program

        triangles = np.ascontiguousarray(CanonicalFace.load().triangles, dtype=np.uint32)
        self.linear = moderngl.LINEAR
        self.program = load_program(ctx, "uvcapture", "uvcapture")
        self.vbo = ctx.buffer(reserve=int(triangles.max() + 1) * 5 * 4, dynamic=True)
        self.ibo = ctx.buffer(triangles.tobytes())
        self.vao = ctx.vertex_array(self.program, [(self.vbo, "2f 2f 1f", "in_uv", "in_frame_uv", "in_visible")],
                                    index_buffer=self.ibo, index_element_size=4)
        self.size = size
        self.color = ctx.texture((size, size), 4)
        self.fbo = ctx.framebuffer(color_attachments=[self.color])


    def release(self) -> None:
        for item in (self.vao, self.vbo, self.ibo, self.fbo, self.color, self.program):
            item.release()


def _capture_resources(ctx, size: int) -> _CaptureResources:
    """Kept on the context itself (ctx.extra, a dict), so they go with it."""
    if not isinstance(ctx.extra, dict):
        ctx.extra = {}
    res = ctx.extra.get("arfx.capture")
    if res is None or res.size != size:
        if res is not None:
            res.release()
        res = ctx.extra["arfx.capture"] = _CaptureResources(ctx, size)
    return res


def mirror_fill(texture: np.ndarray) -> np.ndarray:
    """Fill a UV texture's transparent parts from the mirrored other side of the face."""
    texture = np.asarray(texture, dtype=np.uint8)
    flipped = np.ascontiguousarray(texture[:, ::-1])
    alpha = texture[..., 3].astype(np.float32) * np.float32(1 / 255)
    other = flipped[..., 3].astype(np.float32) * np.float32(1 / 255)
    take = np.clip(other - alpha, 0.0, 1.0)
    weight = alpha / np.maximum(alpha + take, np.float32(1e-6))
    out = np.empty_like(texture)
    for c in range(3):
        mixed = flipped[..., c] + weight * (texture[..., c].astype(np.float32) - flipped[..., c])
        out[..., c] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = np.maximum(texture[..., 3], flipped[..., 3])
    return out


class MeshWriter:
    """`arfx track --mesh-out DIR`: every tracked face of every frame to DIR/<stem>_<frame>_face<id>.<ext>
    (camera-space mesh in cm, canonical UVs; with `texture`, the face's pixels unwrapped into the
    UV layout as its texture). Call it with each (frame, FrameResult); close() when done."""

    def __init__(self, folder: str | Path, stem: str, fmt: str = "obj", texture: bool = False,
                 overwrite: bool = False, texture_size: int = 512):
        folder = Path(folder)
        if f".{fmt}" not in MESH_FORMATS:
            raise OutputError(f"unknown mesh format '{fmt}'; use one of {', '.join(MESH_FORMATS.values())}")
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder}: is a file; --mesh-out takes a folder")
        if not folder.parent.is_dir():
            raise OutputError(f"{folder}: folder {folder.parent} does not exist")
        folder.mkdir(exist_ok=True)
        self.folder, self.stem, self.fmt, self.texture = folder, stem, fmt, texture
        self.overwrite, self.texture_size = overwrite, texture_size
        self.written: list[Path] = []
        self._ctx = None

    def __call__(self, frame, result) -> None:
        from arfx.geometry.canonical import CanonicalFace

        canonical = CanonicalFace.load()
        for face in result.faces:
            if face.geometry is None:
                continue
            texture = None
            if self.texture:
                if self._ctx is None:
                    from arfx.render.context import create_headless_context

                    self._ctx = create_headless_context()
                texture = capture_face_texture(self._ctx, frame.rgb, face.mesh, result.camera, self.texture_size)
            path = self.folder / f"{self.stem}_{frame.index:06d}_face{face.id}.{self.fmt}"
            comment = (f"arfx face mesh: frame {frame.index}, face {face.id}; camera space, "
                       f"{'metres' if self.fmt == 'glb' else 'cm'}; canonical UVs")
            self.written.append(write_face_mesh(path, face.mesh, canonical.uvs, canonical.triangles, texture,
                                                self.overwrite, comment))
        log.debug("meshes written: %d", len(self.written))

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.release()
            self._ctx = None


def capture_face_file(photo: str | Path, output: str | Path, size: int = 512, mirror: bool = False,
                      overwrite: bool = False, which: int = 0) -> Path:
    """`arfx capture-face`: the largest (or `which`-th) face of a photo unwrapped into the canonical
    UV layout, as an RGBA PNG ready to use as face paint."""
    import cv2

    from arfx.errors import InputError
    from arfx.outputs import check_output_path, write_atomically
    from arfx.render.context import create_headless_context
    from arfx.sources import read_image

    out = check_output_path(output, overwrite, {".png": "png"}, "face texture")
    rgb = read_image(Path(photo))
    face, camera = track_photo(rgb)
    if face is None:
        raise InputError(f"{photo}: no face found; use a photo with a face seen from the front")
    ctx = create_headless_context()
    try:
        texture = capture_face_texture(ctx, rgb, face.mesh, camera, size, mirror)
    finally:
        ctx.release()
    ok, png = cv2.imencode(".png", cv2.cvtColor(texture, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise OutputError(f"{out}: cannot encode PNG")
    return write_atomically(out, lambda temp: temp.write_bytes(png.tobytes()), overwrite, "face texture")


def track_photo(rgb: np.ndarray):
    """The largest tracked face of one photo (FaceResult, or None) and the camera it was lifted with."""
    from arfx.options import RenderOptions, TrackingOptions
    from arfx.pipeline import FramePipeline
    from arfx.sources import Frame

    pipeline = FramePipeline(None, RenderOptions(tracking=TrackingOptions(static=True, max_faces=4)))
    try:
        result = pipeline.analyse(Frame(np.ascontiguousarray(rgb), 0, 0.0))
    finally:
        pipeline.close()
    faces = [face for face in result.faces if face.geometry is not None]
    if not faces:
        return None, result.camera
    area = [np.ptp(face.landmarks[:, 0]) * np.ptp(face.landmarks[:, 1]) for face in faces]
    return faces[int(np.argmax(area))], result.camera


def export_mesh(input_path: str | Path, output: str | Path, texture: bool = False, fmt: str = "obj",
                overwrite: bool = False, options=None) -> list[Path]:
    """`arfx export-mesh`: an image's largest face to OUT.obj/.ply/.glb, or every face of every
    frame of a video or folder into the folder OUT (as `arfx track --mesh-out`)."""
    from arfx.errors import InputError
    from arfx.sources import IMAGE_SUFFIXES, read_image

    source, out = Path(input_path), Path(output)
    if source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
        if out.suffix.lower() not in MESH_FORMATS:
            raise OutputError(f"{out}: name the mesh file .obj, .ply or .glb")
        from arfx.outputs import check_output_path

        check_output_path(out, overwrite, MESH_FORMATS, "mesh output")
        rgb = read_image(source)
        face, camera = track_photo(rgb)
        if face is None:
            raise InputError(f"{source}: no face found; use a photo with a face seen from the front")
        from arfx.geometry.canonical import CanonicalFace

        canonical = CanonicalFace.load()
        image = None
        if texture:
            from arfx.render.context import create_headless_context

            ctx = create_headless_context()
            try:
                image = capture_face_texture(ctx, rgb, face.mesh, camera)
            finally:
                ctx.release()
        comment = f"arfx face mesh of {source.name}; camera space, {'metres' if out.suffix.lower() == '.glb' else 'cm'}"
        return [write_face_mesh(out, face.mesh, canonical.uvs, canonical.triangles, image, overwrite, comment)]
    if out.suffix.lower() in MESH_FORMATS:
        raise OutputError(f"{out}: a video or folder gives a mesh per face and frame; give a folder for -o")
    from arfx.track import track_file

    writer = MeshWriter(out, source.stem, fmt, texture, overwrite)
    try:
        track_file(source, options, on_frame=writer)
    finally:
        writer.close()
    return writer.written
