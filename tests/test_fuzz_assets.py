"""Fuzzing the asset loaders: random and mutated GLBs, textures and manifests.

The GLB loader, the texture loader and the manifest parser get random bytes and mutations of
the built-in glasses.glb, paint.png and effect.toml (byte flips, truncations, inserted junk,
rewritten glTF JSON, rewritten PNG headers). Only arfx's own EffectError may escape, its
message must name the file, and whatever loads must be safe to hand to the renderer.
Bounded for CI: 150 examples per target (ARFX_FUZZ_EXAMPLES overrides), no deadline.
"""

from __future__ import annotations

import copy
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arfx.effects.facepaint import load_texture
from arfx.effects.registry import scan_folder, parse_manifest
from arfx.errors import EffectError
from arfx.render.gltf import MAX_TRIANGLES, VERTEX_FLOATS, load_glb
from arfx.render.texture import MAX_TEXTURE_SIDE
from makers import bar_file, draco_sphere, glb_bytes, png_bytes, small_png, triangle_glb

ROOT = Path(__file__).resolve().parent.parent
EFFECTS = ROOT / "assets" / "effects"
GLASSES = (EFFECTS / "glasses" / "glasses.glb").read_bytes()
PAINT = (EFFECTS / "facepaint" / "paint.png").read_bytes()
MANIFESTS = [(EFFECTS / name / "effect.toml").read_bytes() for name in ("glasses", "facepaint", "mesh")]

# ARFX_FUZZ_EXAMPLES=5000 for a longer hunt on a workstation.
FUZZ = settings(max_examples=int(os.environ.get("ARFX_FUZZ_EXAMPLES", "150")), deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ---------------------------------------------------------------------------- mutations

@st.composite
def mutated(draw, seed: bytes, hot_end: int | None = None) -> bytes:
    """`seed` with 1-4 edits; positions favour the first `hot_end` bytes (headers, JSON)."""
    data = bytearray(seed)
    hot = hot_end or len(seed)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.one_of(st.integers(0, hot), st.integers(0, max(len(data), 1))))
        where = min(where, len(data))
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite"]))
        if op == "flip" and where < len(data):
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[where:]
        elif op == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[where:where + draw(st.integers(1, 64))]
        else:
            junk = draw(st.binary(min_size=1, max_size=16))
            data[where:where + len(junk)] = junk
    return bytes(data)


EDGE_INTS = st.sampled_from([0, 1, -1, 3, 4, 5, 6, 7, 255, 256, 5121, 5123, 5125, 5126, 2**31 - 1,
                             2**31, 2**32, 2**53, 15_000_000, 3 * MAX_TRIANGLES + 3])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | EDGE_INTS | st.integers(-2**40, 2**40)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["SCALAR", "VEC2", "VEC3", "VEC4", "MAT4", "BLEND", "MASK", "../x.bin",
                       "data:application/octet-stream;base64,AAAA", "/etc/passwd"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=8)


@st.composite
def mutated_tree(draw, tree: dict) -> dict:
    """The glTF JSON with 1-3 values replaced, deleted or duplicated somewhere in it."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = tree
        while isinstance(node, (dict, list)) and node and (parent is None or draw(st.booleans())):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        if parent is None:
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        if action == "replace":
            parent[key] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = [parent[key], parent[key]]
    return tree


def _split(glb: bytes) -> tuple[dict, bytes]:
    size = struct.unpack_from("<I", glb, 12)[0]
    tree = json.loads(glb[20:20 + size])
    rest = glb[20 + size:]
    return tree, rest[8:] if len(rest) >= 8 else b""


GLASSES_TREE, GLASSES_BIN = _split(GLASSES)
TEXTURED_TREE, TEXTURED_BIN = _split(triangle_glb(index_count=6, image=small_png()))


# ---------------------------------------------------------------------------- checks

def _try_glb(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        meshes = load_glb(path)
    except EffectError as error:
        assert str(path) in str(error)
        return
    assert meshes
    assert sum(len(m.indices) for m in meshes) <= MAX_TRIANGLES
    for mesh in meshes:
        assert mesh.vertices.dtype == np.float32 and mesh.vertices.shape[1] == VERTEX_FLOATS
        assert np.isfinite(mesh.positions).all()
        assert mesh.indices.dtype == np.uint32
        assert len(mesh.indices) == 0 or mesh.indices.max() < len(mesh.vertices)
        assert mesh.transform.shape == (4, 4) and np.isfinite(mesh.transform).all()
        texture = mesh.material.texture
        if texture is not None:
            assert texture.dtype == np.uint8 and texture.ndim == 3 and texture.shape[2] == 4
            assert max(texture.shape[:2]) <= MAX_TEXTURE_SIDE


def _try_texture(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        texture = load_texture(path)
    except EffectError as error:
        assert str(path) in str(error)
        return
    assert texture.dtype == np.uint8 and texture.ndim == 3 and texture.shape[2] == 4
    assert 0 < max(texture.shape[:2]) <= MAX_TEXTURE_SIDE


# ---------------------------------------------------------------------------- GLB loader

@FUZZ
@given(data=st.one_of(
    st.binary(max_size=512),
    st.binary(max_size=512).map(lambda b: struct.pack("<4sII", b"glTF", 2, 12 + len(b)) + b),
    mutated(GLASSES, hot_end=20 + struct.unpack_from("<I", GLASSES, 12)[0]),
))
def test_fuzz_glb_bytes(workdir, data):
    _try_glb(workdir / "fuzz.glb", data)


@FUZZ
@given(case=st.one_of(
    mutated_tree(GLASSES_TREE).map(lambda t: (t, GLASSES_BIN)),
    mutated_tree(TEXTURED_TREE).map(lambda t: (t, TEXTURED_BIN)),
))
def test_fuzz_glb_json(workdir, case):
    tree, binary = case
    _try_glb(workdir / "fuzzjson.glb", glb_bytes(tree, binary))


# ---------------------------------------------------------------------------- texture loader

def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)).save(buffer, "JPEG")
    return buffer.getvalue()


JPEG = _jpeg()


@st.composite
def png_with_header(draw) -> bytes:
    """paint.png's pixel data behind a rewritten (CRC-correct) IHDR: odd sizes, depths, modes."""
    width = draw(st.one_of(st.integers(0, 64), st.sampled_from([512, 8192, 8193, 30000, 2**31 - 1])))
    height = draw(st.one_of(st.integers(0, 64), st.sampled_from([512, 8192, 8193, 30000, 2**31 - 1])))
    depth = draw(st.sampled_from([1, 2, 4, 8, 16, 3, 0, 255]))
    color = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 7]))
    interlace = draw(st.sampled_from([0, 1, 2]))
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    ihdr = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return PAINT[:8] + ihdr + PAINT[33:]


@FUZZ
@given(data=st.one_of(
    st.binary(max_size=512),
    st.binary(max_size=256).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
    mutated(PAINT, hot_end=256),
    mutated(JPEG, hot_end=700),
    png_with_header(),
    st.tuples(st.integers(1, 40000), st.integers(1, 40000), st.integers(0, 2)).map(
        lambda t: png_bytes(t[0], t[1], rows=t[2], color_type=6) if t[0] <= 4096 or t[2] == 0
        else png_bytes(t[0], t[1], rows=0)),
))
def test_fuzz_texture(workdir, data):
    _try_texture(workdir / "fuzz.png", data)


# ---------------------------------------------------------------------------- manifest parser

KEYS = ["name", "kind", "asset", "description", "placement", "paint", "offset", "scale",
        "rotation", "blend", "opacity", "nme", "colour", "units", "fit_width", "anchor"]
TOML_VALUES = ['"../../outside.glb"', '"glasses"', '"object3d"', '"facepaint"', '"mesh"', '"glasses.glb"', '"paint.png"',
               '"../glasses.glb"', '"/etc/passwd"', '"' + "a" * 300 + '.glb"', '"normal"', '"add"',
               "1.0", "0", "-1", "3", "nan", "inf", "true", "[1, 2]", "[1, 2, 3]", "[[1], 2, 3]",
               '["a", 1, 2]', "{ x = 1 }", "1979-05-27", '"\\u0000"', "[" * 40 + "]" * 40,
               '"m"', '"cm"', '"mm"', '"inch"', '"face.head_top"', '"face.eyes"', "0.05", "1e9", "0.1", "1000"]


@st.composite
def toml_lines(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(f"[{draw(st.sampled_from(KEYS))}]")
        else:
            lines.append(f"{draw(st.sampled_from(KEYS))} = {draw(st.sampled_from(TOML_VALUES))}")
    return "\n".join(lines) + "\n"


MANIFEST_INPUTS = st.one_of(
    st.binary(max_size=256),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(MANIFESTS).flatmap(lambda seed: mutated(seed)),
    toml_lines().map(str.encode),
)


@FUZZ
@given(data=MANIFEST_INPUTS)
def test_fuzz_manifest_parser(data):
    try:
        manifest = parse_manifest(data)
    except EffectError:
        return
    assert manifest.kind in ("object3d", "facepaint", "mesh", "axis", "landmarks")
    for key in ("offset", "scale", "rotation"):
        if key in manifest.options:
            assert len(manifest.options[key]) == 3 and np.isfinite(manifest.options[key]).all()
    if "opacity" in manifest.options:
        assert 0.0 <= manifest.options["opacity"] <= 1.0
    if manifest.kind == "object3d":
        assert manifest.options["units"] in (None, "m", "cm", "mm")
        assert manifest.options["fit_width"] is None or 0.1 <= manifest.options["fit_width"] <= 1000


@pytest.fixture(scope="module")
def effect_dir(workdir) -> Path:
    folder = workdir / "effects" / "fuzzed"
    folder.mkdir(parents=True)
    (folder / "glasses.glb").write_bytes(GLASSES)
    (folder / "paint.png").write_bytes(PAINT)
    (workdir / "outside.glb").write_bytes(GLASSES)  # a target for `../outside.glb`
    return folder


@FUZZ
@given(data=MANIFEST_INPUTS)
def test_fuzz_manifest_in_an_effects_folder(effect_dir, data):
    """Scanning never raises: a bad manifest is one BROKEN entry with a reason."""
    (effect_dir / "effect.toml").write_bytes(data)
    (info,) = scan_folder(effect_dir.parent, "dir")
    if info.ok:
        assert info.asset is None or info.asset.resolve().is_relative_to(effect_dir.resolve())
    else:
        assert isinstance(info.broken, str) and info.broken and "\n" not in info.broken.strip()


# ---------------------------------------------------------------------------- list = load (issue 13)

PLACEMENTS = st.sampled_from(["", 'units = "cm"', 'units = "mm"', "fit_width = 0.1", "fit_width = 1000",
                              'units = "mm"\nscale = 1e-3', "scale = 1e6\noffset = [1e30, 0, 0]"])
ANCHORS = st.sampled_from(["", 'anchor = "face.head_top"\n', 'anchor = "face.eyes"\n'])


def _verify_then_load(folder: Path) -> None:
    """What `arfx list` says OK loads; what it says BROKEN does not; nothing else escapes."""
    from arfx.effects.registry import EffectRegistry

    empty = folder.parent / "no-built-ins"
    empty.mkdir(exist_ok=True)
    registry = EffectRegistry([folder], include_user=False, builtin_dir=empty)
    registry.verify()
    for info in registry.effects().values():  # what each name loads
        if not info.ok:
            assert info.broken.strip() and "\n" not in info.broken.strip()
            with pytest.raises(EffectError):
                registry.load(info.name)
            continue
        effect = EffectRegistry([folder], include_user=False, builtin_dir=empty).load(info.name)
        placement = getattr(effect, "placement", None)
        if placement is not None:
            assert placement.shape == (4, 4) and np.isfinite(placement).all()


@FUZZ
@given(case=st.one_of(
    mutated_tree(GLASSES_TREE).map(lambda t: (t, GLASSES_BIN)),
    mutated_tree(TEXTURED_TREE).map(lambda t: (t, TEXTURED_BIN)),
), placement=PLACEMENTS, anchor=ANCHORS, loose=st.booleans())
def test_fuzz_list_says_ok_only_for_what_loads(workdir, case, placement, anchor, loose):
    """Mutated glTF JSON in a manifest (random units/fit/anchor) and as a bare file (GLB or a
    loose .gltf with its buffer and a texture next to it)."""
    import base64
    import shutil

    tree, binary = case
    folder = workdir / "listed"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "fx").mkdir(parents=True)
    (folder / "fx" / "thing.glb").write_bytes(glb_bytes(tree, binary))
    (folder / "fx" / "effect.toml").write_text(
        f'kind = "object3d"\nasset = "thing.glb"\n{anchor}[placement]\n{placement}\n')
    if loose:
        loose_tree = copy.deepcopy(tree)
        if isinstance(loose_tree, dict) and isinstance(loose_tree.get("buffers"), list) and loose_tree["buffers"]:
            if isinstance(loose_tree["buffers"][0], dict):
                loose_tree["buffers"][0]["uri"] = "thing.bin"
        if isinstance(loose_tree, dict) and isinstance(loose_tree.setdefault("images", []), list):
            loose_tree["images"].append({"uri": "thing.png"})
        (folder / "thing.bin").write_bytes(binary)
        (folder / "thing.png").write_bytes(small_png())
        (folder / "thing.gltf").write_text(json.dumps(loose_tree))
    else:
        (folder / "thing.glb").write_bytes(glb_bytes(tree, binary))
    _verify_then_load(folder)


# ------------------------------------------------- materials, animations, skins, Draco (issue 14/15)

def _feature_seeds() -> list[bytes]:
    """GLBs that reach the newer reader's paths: every material map with a texture transform,
    a skinned bar with an animation, a morph target; a Draco mesh when DracoPy is installed."""
    import tempfile

    from makers import GltfBuilder, quad

    seeds = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        seeds.append(bar_file(folder, animated=True).read_bytes())
        b = GltfBuilder()
        positions, normals, uvs, triangles = quad(0.04, 0.04)
        image = np.full((4, 4, 4), 200, np.uint8)
        info = lambda: {"index": b.texture(image, {"wrapS": 33648, "minFilter": 9987}),
                        "extensions": {"KHR_texture_transform": {"offset": [0.5, 0], "rotation": 1.0}}}
        material = b.material(pbrMetallicRoughness={"baseColorTexture": info(), "metallicRoughnessTexture": info()},
                              normalTexture=info(), occlusionTexture=info(), emissiveTexture=info(),
                              emissiveFactor=[1, 1, 1], alphaMode="BLEND")
        target = np.zeros_like(positions)
        target[:, 1] = 0.01
        node = b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=material, targets=[target]),
                      translation=[0, 0, 0.09])
        b.animation("w", [(node, "weights", [0.0, 1.0], [0.0, 1.0], "LINEAR")])
        seeds.append(b.write(folder / "maps.glb").read_bytes())
        try:
            seeds.append(draco_sphere(folder)[0].read_bytes())
        except ImportError:  # no DracoPy
            pass
    return seeds


FEATURE_SEEDS = _feature_seeds()


@FUZZ
@given(data=st.one_of(*[mutated(seed, hot_end=20 + struct.unpack_from("<I", seed, 12)[0]) for seed in FEATURE_SEEDS]))
def test_fuzz_glb_features(workdir, data):
    _try_glb(workdir / "features.glb", data)


@FUZZ
@given(case=st.one_of(*[mutated_tree(_split(seed)[0]).map(lambda t, s=seed: (t, _split(s)[1]))
                        for seed in FEATURE_SEEDS]))
def test_fuzz_glb_features_json(workdir, case):
    tree, binary = case
    _try_glb(workdir / "featuresjson.glb", glb_bytes(tree, binary))


def test_nan_bit_patterns_are_refused_without_numpy_warnings(tmp_path):
    """A position stored as a signalling NaN (a pattern the fuzzer finds): one error naming the
    file and the problem, and no RuntimeWarning leaking from the float cast."""
    import warnings

    data = triangle_glb()
    first = np.array([0, 0, 9], np.float32).tobytes()
    assert data.count(first) == 1
    path = tmp_path / "nan.glb"
    path.write_bytes(data.replace(first, bytes.fromhex("0100807f") + first[4:]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EffectError, match="nan.glb.*not finite"):
            load_glb(path)
