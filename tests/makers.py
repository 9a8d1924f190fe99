"""Small test assets made at run time (so no binary test fixtures are committed)."""

from __future__ import annotations

import importlib.util
import io
import json
import struct
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(name: str):
    """scripts/<name>.py imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"_arfx_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def green_mask(image: np.ndarray) -> np.ndarray:
    """Pixels clearly green (a green box_glb drawn over a photo): G above max(R, B) by 60+."""
    out = image.astype(np.int16)
    return (out[..., 1] - np.maximum(out[..., 0], out[..., 2])) > 60


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


#: An unlit white, double-sided glTF material.
WHITE = {"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1]}, "extensions": {"KHR_materials_unlit": {}},
         "doubleSided": True}


def bar_file(tmp_path, animated: bool, skinned: bool = True, name: str = "bar.glb") -> object:
    """A bar 8 cm long along x (from the origin), 1 cm tall; two joints at x = 0 and 4 cm; the
    second turns 90 degrees about z over 1 s when animated."""
    xs = np.linspace(0.0, 0.08, 17)
    positions = np.array([[x, y, 0.0] for x in xs for y in (0.005, -0.005)], np.float32)
    normals = np.tile([0.0, 0.0, 1.0], (len(positions), 1))
    triangles = np.array([[2 * i, 2 * i + 1, 2 * i + 2] for i in range(16)]
                         + [[2 * i + 2, 2 * i + 1, 2 * i + 3] for i in range(16)], np.uint32)
    b = GltfBuilder()
    material = b.material(**WHITE)
    if not skinned:
        b.node(mesh=b.mesh(positions, triangles, normals, material=material), translation=[-0.04, 0, 0.09])
        return b.write(tmp_path / name)
    share = np.clip((positions[:, 0] - 0.035) / 0.01, 0.0, 1.0)  # blended over 1 cm at the joint
    weights = np.stack([1 - share, share, np.zeros_like(share), np.zeros_like(share)], axis=1)
    joints = np.tile([0, 1, 0, 0], (len(positions), 1))
    mesh = b.mesh(positions, triangles, normals, material=material, joints=joints, weights=weights)
    root = b.node(translation=[-0.04, 0, 0.09], children=[1])
    elbow = b.node(translation=[0.04, 0, 0])
    inverse = np.stack([np.eye(4), np.eye(4)])
    inverse[1, 0, 3] = -0.04
    skin = b.skin([root, elbow], inverse)
    b.node(mesh=mesh, skin=skin)
    if animated:
        half = np.sin(np.pi / 4)
        b.animation("bend", [(elbow, "rotation", [0.0, 1.0], [[0, 0, 0, 1], [0, 0, half, half]], "LINEAR")])
    return b.write(tmp_path / name)


def draco_sphere(tmp_path, payload: bytes | None = None):
    """A sphere whose primitive is Draco-compressed (KHR_draco_mesh_compression); `payload`
    replaces the compressed bytes."""
    import DracoPy

    positions, normals, uvs, triangles = uv_sphere(0.04)
    data = DracoPy.encode(positions, triangles, quantization_bits=14, normals=normals, tex_coord=uvs)
    b = GltfBuilder()
    view = b.view(payload if payload is not None else data)
    accessors = []
    for count, kind in ((len(positions), "VEC3"), (len(positions), "VEC3"), (len(positions), "VEC2"),
                        (triangles.size, "SCALAR")):
        accessors.append(b._add("accessors", {"componentType": 5125 if kind == "SCALAR" else 5126,
                                              "count": count, "type": kind}))
    b.tree["accessors"][accessors[0]].update(min=[-0.04] * 3, max=[0.04] * 3)
    primitive = {"attributes": {"POSITION": accessors[0], "NORMAL": accessors[1], "TEXCOORD_0": accessors[2]},
                 "indices": accessors[3], "material": b.material(pbrMetallicRoughness={
                     "baseColorFactor": [0.2, 0.6, 0.9, 1], "metallicFactor": 0.0}),
                 "extensions": {"KHR_draco_mesh_compression": {
                     "bufferView": view, "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2}}}}
    mesh = b._add("meshes", {"primitives": [primitive]})
    b.node(mesh=mesh, translation=[0, 0, 0.09])
    b.tree["extensionsUsed"] = b.tree["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    return b.write(tmp_path / "draco.glb"), positions, triangles


# -- hand-packed files: GLB containers and PNGs that lie about themselves --------------------

def png_bytes(width: int, height: int, rows: int = 0, color_type: int = 6) -> bytes:
    """A PNG whose header says width x height; only `rows` rows of pixel data (cheap bombs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    channels = {0: 1, 2: 3, 6: 4}[color_type]
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + bytes(width * channels) for _ in range(rows)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def glb_bytes(tree: dict, binary: bytes = b"") -> bytes:
    """Pack a glTF JSON tree and a binary buffer into a GLB container."""
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def triangle_glb(index_count: int = 3, real_indices: bool = True, image: bytes | None = None) -> bytes:
    """One triangle mesh (3 vertices, `index_count` indices), optionally with a base colour image.

    With real_indices=False the JSON claims `index_count` indices but the buffer holds only 3:
    a huge claimed mesh costs a few bytes.
    """
    positions = np.array([[0, 0, 9], [1, 0, 9], [0, 1, 9]], np.float32).tobytes()
    uvs = np.array([[0, 0], [1, 0], [0, 1]], np.float32).tobytes()
    indices = np.zeros(index_count if real_indices else 3, np.uint32)
    indices[:3] = (0, 1, 2)
    binary = positions + uvs + indices.tobytes()
    views = [{"buffer": 0, "byteOffset": 0, "byteLength": 36},
             {"buffer": 0, "byteOffset": 36, "byteLength": 24},
             {"buffer": 0, "byteOffset": 60, "byteLength": indices.nbytes}]
    primitive = {"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "indices": 2, "mode": 4}
    tree = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}], "meshes": [{"primitives": [primitive]}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
             "min": [0, 0, 9], "max": [1, 1, 9]},
            {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"},
            {"bufferView": 2, "componentType": 5125, "count": index_count, "type": "SCALAR"},
        ],
        "bufferViews": views,
    }
    if image is not None:
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(image)})
        binary += image
        tree["images"] = [{"bufferView": 3, "mimeType": "image/png"}]
        tree["textures"] = [{"source": 0}]
        tree["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
        primitive["material"] = 0
    tree["buffers"] = [{"byteLength": len(binary)}]
    return glb_bytes(tree, binary)


def small_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (16, 16), (255, 0, 0, 255)).save(buffer, "PNG")
    return buffer.getvalue()


# -- media made at run time, and running the CLI as a user would --------------------------

from fractions import Fraction  # noqa: E402

import av  # noqa: E402
import cv2  # noqa: E402
import pytest  # noqa: E402

from arfx import cli  # noqa: E402
from arfx.demo import astronaut_image  # noqa: E402


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    """Non-zero exit, exactly one `arfx: error:` line containing every needle, no traceback."""
    assert code != 0
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("arfx: error:")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def decode(path: Path) -> tuple[int, int, int]:
    """(frames, width, height) of a video, decoded to the last frame with PyAV."""
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
    assert frames, f"{path} decodes to no frames"
    return len(frames), frames[0].width, frames[0].height


def assert_absent_or_playable(path: Path) -> None:
    if path.exists():
        decode(path)
    assert not [p.name for p in path.parent.iterdir() if ".partial" in p.name]


def face_crop(size: int = 160, tight: bool = False) -> np.ndarray:
    """The astronaut's head (or, `tight`, just the face) as a size x size RGB image."""
    box = astronaut_image()[40:240, 150:350] if tight else astronaut_image()[20:300, 110:390]
    return np.ascontiguousarray(cv2.resize(box, (size, size), interpolation=cv2.INTER_AREA))


def encode(path: Path, frames: list[np.ndarray], fps: int = 10, codec: str = "libx264",
           rotation: float | None = None, options: dict | None = None) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p" if codec == "libx264" else "yuv444p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def assert_finite(geometries: list[list]) -> int:
    count = 0
    for frame in geometries:
        for g in frame:
            assert np.isfinite(g.pose).all() and np.isfinite(g.mesh).all()
            count += 1
    return count


@contextmanager
def headless_renderer(width: int, height: int, **options):
    """A Renderer of width x height on its own headless GL context, released afterwards."""
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    ctx = create_headless_context()
    renderer = Renderer(ctx, width, height, **options)
    try:
        yield renderer
    finally:
        renderer.release()
        ctx.release()


def frontal_face(distance: float = 45.0):
    """The canonical face looking straight at the camera, `distance` cm in front of it."""
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.pipeline import FaceGeometry

    pose = np.eye(4, dtype=np.float32)
    pose[2, 3] = -distance
    return FaceGeometry(pose, (CanonicalFace.load().vertices + pose[:3, 3]).astype(np.float32))
