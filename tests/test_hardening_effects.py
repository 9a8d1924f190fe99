"""Hardening of effects and assets: bad manifests, escaping paths, faulty GLBs and textures.

Every case goes through the CLI the way a user meets it: `arfx list` marks the effect BROKEN
with the reason (and still lists the good ones, exit 0); `arfx render` of that effect exits 2
with a one-line message and writes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arfx import cli
from arfx.effects.facepaint import FacePaintEffect, load_texture
from arfx.effects.object3d import Object3DEffect
from arfx.effects.registry import EffectRegistry, parse_manifest
from arfx.errors import EffectError
from arfx.render.gltf import MAX_TRIANGLES, draco_available, inspect_model, load_glb, meshopt_available
from arfx.render.texture import MAX_TEXTURE_SIDE
from makers import glb_bytes, png_bytes, small_png, triangle_glb

ROOT = Path(__file__).resolve().parent.parent
GLASSES_GLB = ROOT / "assets" / "effects" / "glasses" / "glasses.glb"
PAINT_PNG = ROOT / "assets" / "effects" / "facepaint" / "paint.png"


# ---------------------------------------------------------------------------- CLI helpers

@pytest.fixture
def drop(tmp_path, no_user_effects):
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.fixture
def input_image(tmp_path):
    from PIL import Image

    path = tmp_path / "in.png"
    Image.new("RGB", (64, 48), (90, 90, 90)).save(path)
    return path


def effect_folder(drop: Path, name: str, manifest: str, files: dict | None = None) -> Path:
    folder = drop / name
    folder.mkdir()
    (folder / "effect.toml").write_text(manifest)
    for file_name, data in (files or {}).items():
        (folder / file_name).write_bytes(data)
    return folder


def list_lines(capsys, *args) -> dict[str, str]:
    """`arfx list` -> {name: line}; exit 0 asserted. (The last entry of a name wins.)"""
    assert cli.main(["list", *args]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = {}
    for line in captured.out.splitlines()[1:]:
        if line.split():
            lines.setdefault(line.split()[0], [])
            lines[line.split()[0]].append(line)
    return lines


def render_error(capsys, effect: str, drop: Path, input_image: Path) -> str:
    """`arfx render EFFECT` must fail: exit 2, one line on stderr, no output file."""
    output = input_image.parent / f"out-{effect}.png"
    code = cli.main(["render", effect, "-i", str(input_image), "-o", str(output),
                     "--effects-dir", str(drop)])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    message = captured.err.strip()
    assert message.startswith("arfx: error:") and "\n" not in message
    assert not output.exists()
    return message


def assert_broken(capsys, drop: Path, input_image: Path, name: str, *fragments: str) -> None:
    lines = list_lines(capsys, "--effects-dir", str(drop))
    assert name in lines, f"{name} missing from arfx list"
    line = lines[name][-1]
    assert "BROKEN" in line, line
    # The good ones are still there.
    assert "glasses" in lines and "BROKEN" not in lines["glasses"][0]
    message = render_error(capsys, name, drop, input_image)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
        assert fragment in message, (fragment, message)


# ---------------------------------------------------------------------------- unknown name

def test_unknown_effect_name_suggests_close_names_and_arfx_list(drop, input_image, capsys):
    message = render_error(capsys, "glases", drop, input_image)
    assert "unknown effect 'glases'" in message
    assert "did you mean glasses" in message and "arfx list" in message


def test_unknown_effect_in_a_subprocess_exits_2_without_traceback(tmp_path, input_image):
    env = dict(os.environ, ARFX_EFFECTS=str(tmp_path / "none"))
    result = subprocess.run(
        [sys.executable, "-m", "arfx", "render", "facepant", "-i", str(input_image),
         "-o", str(tmp_path / "out.png")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "unknown effect 'facepant'" in result.stderr and "facepaint" in result.stderr
    assert not (tmp_path / "out.png").exists()


# ---------------------------------------------------------------------------- manifests

MANIFEST_CASES = {
    "syntax": ('kind = "object3d\nasset = "a.glb"\n', ["effect.toml: TOML syntax error", "line 1"]),
    "unknownkey": ('kind = "mesh"\ncolour = "red"\n', ["unknown key 'colour' at the top level"]),
    "typo": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nofset = [0, 1, 0]\n',
             ["unknown key 'ofset' in [placement]", "did you mean 'offset'?"]),
    "bigscale": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nscale = "big"\n',
                 ["placement.scale must be a number or 3 numbers, got 'big'"]),
    "twooffset": ('kind = "object3d"\nasset = "a.glb"\n[placement]\noffset = [1, 2]\n',
                  ["placement.offset must be 3 numbers, got [1, 2]"]),
    "nanrotation": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nrotation = [nan, 0, 0]\n',
                    ["placement.rotation must be 3 numbers"]),
    "negscale": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nscale = -1\n',
                 ["placement.scale must be positive"]),
    "opacity3": ('kind = "facepaint"\nasset = "p.png"\n[paint]\nopacity = 3\n',
                 ["paint.opacity must be a number from 0 to 1, got 3"]),
    "opacitybool": ('kind = "facepaint"\nasset = "p.png"\n[paint]\nopacity = true\n',
                    ["paint.opacity must be a number from 0 to 1, got true (a boolean)"]),
    "kindtypo": ('kind = "objet3d"\nasset = "a.glb"\n', ["did you mean 'object3d'?"]),
    "wrongtable": ('kind = "facepaint"\nasset = "p.png"\n[placement]\nscale = 2\n',
                   ["[placement] applies to object3d and avatar effects only"]),
    "nameint": ('name = 5\nkind = "mesh"\n', ["name must be text, got 5"]),
    "assetint": ('kind = "object3d"\nasset = 7\n', ['needs asset = "<file in its folder>", got 7']),
    "units": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nunits = "inch"\n',
              ["placement.units must be one of m, cm, mm, got 'inch'"]),
    "unitsnum": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nunits = 100\n',
                 ["placement.units must be one of m, cm, mm, got 100"]),
    "fitzero": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nfit_width = 0\n',
                ["placement.fit_width must be a number from 0.1 to 1000, got 0"]),
    "fitinf": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nfit_width = inf\n',
               ["placement.fit_width must be a number from 0.1 to 1000"]),
    "fittypo": ('kind = "object3d"\nasset = "a.glb"\n[placement]\nfitwidth = 12\n',
                ["unknown key 'fitwidth' in [placement]", "did you mean 'fit_width'?"]),
    "fitpaint": ('kind = "facepaint"\nasset = "p.png"\n[placement]\nfit_width = 12\n',
                 ["[placement] applies to object3d and avatar effects only"]),
    "headtop": ('kind = "object3d"\nasset = "a.glb"\nanchor = "face.headtop"\n',
                ["unknown face point 'headtop'", "head_top"]),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_bad_manifest_is_broken_with_the_reason(case, drop, input_image, capsys):
    text, fragments = MANIFEST_CASES[case]
    effect_folder(drop, case, text, {"a.glb": triangle_glb(), "p.png": small_png()})
    assert_broken(capsys, drop, input_image, case, *fragments)


def test_unknown_keys_are_refused_not_ignored():
    """Decision: an unknown key makes the effect broken (a typo must not silently do nothing)."""
    with pytest.raises(EffectError, match="unknown key 'opacity' in \\[placement\\]"):
        parse_manifest('kind = "object3d"\nasset = "a.glb"\n[placement]\nopacity = 1\n')
    with pytest.raises(EffectError, match="unknown key 'sparkle'"):
        parse_manifest(b'kind = "mesh"\n[sparkle]\n')
    with pytest.raises(EffectError, match="not UTF-8"):
        parse_manifest(b'kind = "mesh"\nname = "\xff"\n')
    ok = parse_manifest('name = "x"\ndescription = "a test"\nkind = "object3d"\nasset = "a.glb"\n'
                        '[placement]\nscale = [1, 2, 3]\n')
    assert ok.options["scale"] == [1.0, 2.0, 3.0] and ok.name == "x"


# ---------------------------------------------------------------------------- escaping paths

def test_asset_path_with_dotdot_is_refused(drop, input_image, capsys):
    (drop / "outside.glb").write_bytes(triangle_glb())
    effect_folder(drop, "climb", 'kind = "object3d"\nasset = "../outside.glb"\n')
    assert_broken(capsys, drop, input_image, "climb", "'../outside.glb' points outside the effect folder")


def test_absolute_asset_path_is_refused(tmp_path, drop, input_image, capsys):
    target = tmp_path / "elsewhere.glb"
    target.write_bytes(triangle_glb())
    effect_folder(drop, "absolute", f'kind = "object3d"\nasset = "{target}"\n')
    assert_broken(capsys, drop, input_image, "absolute", "must be a path inside the effect folder")


def test_symlink_pointing_outside_is_refused(tmp_path, drop, input_image, capsys):
    target = tmp_path / "secret.png"
    target.write_bytes(small_png())
    folder = effect_folder(drop, "linked", 'kind = "facepaint"\nasset = "paint.png"\n')
    (folder / "paint.png").symlink_to(target)
    assert_broken(capsys, drop, input_image, "linked", "points through a symlink outside the effect folder")
    # A symlink that stays inside the folder is fine.
    inside = effect_folder(drop, "linkedinside", 'kind = "facepaint"\nasset = "paint.png"\n',
                           {"real.png": small_png()})
    (inside / "paint.png").symlink_to(inside / "real.png")
    assert isinstance(EffectRegistry([drop]).load("linkedinside"), FacePaintEffect)


def test_gltf_buffer_uri_outside_its_folder_is_refused(tmp_path, drop):
    (tmp_path / "secret.bin").write_bytes(bytes(64))
    tree = json.loads(triangle_glb()[20:20 + struct.unpack_from("<I", triangle_glb(), 12)[0]])
    tree["buffers"] = [{"uri": "../secret.bin", "byteLength": 64}]
    path = drop / "sneaky.gltf"
    path.write_text(json.dumps(tree))
    with pytest.raises(EffectError, match="refers to '../secret.bin', which lies outside its folder"):
        load_glb(path)
    # The same file with its buffer next to it loads.
    glb = triangle_glb()
    size = struct.unpack_from("<I", glb, 12)[0]
    binary = glb[20 + size + 8:]
    (drop / "tri.bin").write_bytes(binary)
    tree["buffers"] = [{"uri": "tri.bin", "byteLength": len(binary)}]
    path.write_text(json.dumps(tree))
    (mesh,) = load_glb(path)
    assert len(mesh.indices) == 1 and np.allclose(mesh.positions[1], (1, 0, 9))


# ---------------------------------------------------------------------------- faulty GLBs

def _retree(glb: bytes, change) -> bytes:
    """`glb` with its JSON changed by `change(tree)` (the binary chunk kept)."""
    size = struct.unpack_from("<I", glb, 12)[0]
    tree = json.loads(glb[20:20 + size])
    change(tree)
    return glb_bytes(tree, glb[20 + size + 8:])


def _glb_cases(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    no_meshes = glb_bytes({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0})

    def points(tree):
        tree["meshes"][0]["primitives"][0]["mode"] = 0

    def unplaced(tree):
        tree["nodes"] = [{}]

    def draco(tree):
        # Draco data that is not Draco: refused by name without DracoPy, as undecodable with it.
        tree["extensionsUsed"] = tree["extensionsRequired"] = ["KHR_draco_mesh_compression"]
        tree["meshes"][0]["primitives"][0]["extensions"] = {
            "KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}

    def meshopt(tree):
        # A position view "compressed" with bytes that are not meshopt's: refused by name without
        # the meshopt package, as undecodable with it.
        tree["extensionsUsed"] = tree["extensionsRequired"] = ["EXT_meshopt_compression"]
        tree["bufferViews"][0]["extensions"] = {"EXT_meshopt_compression": {
            "buffer": 0, "byteOffset": 0, "byteLength": 8, "byteStride": 12, "count": 3, "mode": "ATTRIBUTES"}}

    return {
        "points": (_retree(triangle_glb(), points), "no node places a mesh with triangles"),
        "unplaced": (_retree(triangle_glb(), unplaced), "no node places a mesh with triangles"),
        "draco": (_retree(triangle_glb(), draco),
                  "its Draco data cannot be decoded" if draco_available() else
                  "needs the glTF extension KHR_draco_mesh_compression, which arfx does not read; "
                  "export it again without Draco compression"),
        "meshopt": (_retree(triangle_glb(), meshopt),
                    "meshopt data cannot be decoded" if meshopt_available() else
                    "needs the glTF extension EXT_meshopt_compression"),
        "truncated": (GLASSES_GLB.read_bytes()[:60_000], "the file is truncated"),
        "textfile": (b"I am a shopping list, not a 3D model\n", "it is not a GLB file"),
        "nomeshes": (no_meshes, "it holds no meshes"),
        "huge": (triangle_glb(3 * 5_000_000, real_indices=False),
                 f"it has 5,000,000 triangles; the limit is {MAX_TRIANGLES:,}"),
    }


@pytest.mark.parametrize("case", ["truncated", "textfile", "nomeshes", "huge", "points", "unplaced", "draco",
                                  "meshopt"])
def test_faulty_glb_is_refused(case, tmp_path, drop, input_image, capsys):
    data, fragment = _glb_cases(tmp_path)[case]
    path = drop / f"{case}.glb"
    path.write_bytes(data)
    with pytest.raises(EffectError) as error:
        load_glb(path)
    assert str(path) in str(error.value) and fragment in str(error.value)
    assert_broken(capsys, drop, input_image, case, fragment)


def test_huge_triangle_count_is_refused_from_the_json_alone(tmp_path):
    """The 5M-triangle claim is refused before any buffer is read: the buffer has 3 indices."""
    path = tmp_path / "claim.glb"
    path.write_bytes(triangle_glb(3 * 5_000_000, real_indices=False))
    assert path.stat().st_size < 1000
    with pytest.raises(EffectError, match="5,000,000 triangles"):
        inspect_model(path)


def test_a_real_glb_over_the_triangle_limit_is_refused(tmp_path):
    path = tmp_path / "dense.glb"
    path.write_bytes(triangle_glb(3 * (MAX_TRIANGLES + 1)))
    with pytest.raises(EffectError, match=f"{MAX_TRIANGLES + 1:,} triangles"):
        load_glb(path)
    path.write_bytes(triangle_glb(3 * 1000))
    assert len(load_glb(path)[0].indices) == 1000


# ---------------------------------------------------------------------------- textures

@pytest.mark.parametrize("size", [(9000, 16), (12000, 12000), (30000, 30000)])
def test_texture_decompression_bomb_is_refused_from_its_header(size, drop, input_image, capsys):
    width, height = size
    data = png_bytes(width, height, rows=1)
    assert len(data) < 100_000
    path = drop / f"bomb{width}.png"
    path.write_bytes(data)
    with pytest.raises(EffectError) as error:
        load_texture(path)
    message = str(error.value)
    assert str(path) in message and f"the limit is {MAX_TEXTURE_SIDE} pixels a side" in message
    assert_broken(capsys, drop, input_image, f"bomb{width}", f"limit is {MAX_TEXTURE_SIDE} pixels")


def test_texture_that_is_not_an_image_is_refused(drop, input_image, capsys):
    effect_folder(drop, "notimage", 'kind = "facepaint"\nasset = "paint.png"\n',
                  {"paint.png": b"<html>this was a web page</html>"})
    assert_broken(capsys, drop, input_image, "notimage", "is not a PNG/JPEG/WEBP image")


def test_truncated_texture_pixels_are_refused_on_load(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(PAINT_PNG.read_bytes()[:20_000])
    with pytest.raises(EffectError, match=f"cannot decode face paint texture {path}"):
        load_texture(path)


@pytest.mark.parametrize("image,fragment", [
    (png_bytes(30000, 30000, rows=1), "the limit is 8192 pixels a side"),
    (png_bytes(9000, 9000, rows=1), "is 9000x9000 pixels"),
    (b"GIF89a not really", "is not a PNG/JPEG/WEBP image"),
], ids=["bomb", "oversize", "notimage"])
def test_glb_embedded_texture_is_guarded(image, fragment, drop, input_image, capsys):
    path = drop / "texbomb.glb"
    path.write_bytes(triangle_glb(image=image))
    with pytest.raises(EffectError) as error:
        load_glb(path)
    assert f"texture image 0 in {path}" in str(error.value) and fragment in str(error.value)
    assert_broken(capsys, drop, input_image, "texbomb", fragment)


def test_glb_with_a_good_embedded_texture_loads(tmp_path):
    path = tmp_path / "textured.glb"
    path.write_bytes(triangle_glb(image=small_png()))
    (mesh,) = load_glb(path)
    assert mesh.material.texture.shape == (16, 16, 4)
    assert tuple(mesh.material.texture[0, 0]) == (255, 0, 0, 255)


# ---------------------------------------------------------------------------- isolation

def test_broken_user_effects_never_stop_the_others(drop, no_user_effects, input_image, capsys):
    # A broken user copy of `glasses` must not hide the built-in glasses.
    effect_folder(no_user_effects, "glasses", 'kind = "object3d"\nasset = "g.glb"\n',
                  {"g.glb": b"junk"})
    effect_folder(no_user_effects, "typo", 'kind = "mesh"\nwireframe = false\n')
    (no_user_effects / "half.glb").write_bytes(GLASSES_GLB.read_bytes()[:1000])
    shutil.copy(GLASSES_GLB, no_user_effects / "specs.glb")
    lines = list_lines(capsys)
    assert any("BROKEN" in line and "user" in line for line in lines["glasses"])
    assert any("built-in" in line and "BROKEN" not in line for line in lines["glasses"])
    assert "BROKEN" in lines["typo"][0] and "unknown key 'wireframe'" in lines["typo"][0]
    assert "BROKEN" in lines["half"][0] and "truncated" in lines["half"][0]
    assert "BROKEN" not in lines["specs"][0]
    for name in ("facepaint", "mesh", "axis", "landmarks"):
        assert "BROKEN" not in lines[name][0]
    registry = EffectRegistry()
    glasses = registry.info("glasses")
    assert glasses.source == "built-in" and glasses.ok
    assert isinstance(registry.load("glasses"), Object3DEffect)
    assert isinstance(registry.load("specs"), Object3DEffect)
    with pytest.raises(EffectError, match="broken: .*unknown key 'wireframe'"):
        registry.load("typo")


# ---------------------------------------------------------------------------- issue 13: list = load, preview

def _cut_image() -> bytes:
    """A PNG whose header is sound and whose pixel data stops half way."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    data = buffer.getvalue()
    return data[:len(data) // 2]


def test_a_glb_that_passes_the_header_checks_but_cannot_load_is_broken_in_the_list(drop, input_image, capsys):
    """`arfx list` runs the checks loading runs: what it lists as OK renders."""
    path = drop / "cutpixels.glb"
    path.write_bytes(triangle_glb(image=_cut_image()))
    inspect_model(path)  # the cheap check alone passes it
    assert_broken(capsys, drop, input_image, "cutpixels", "cannot decode texture", "truncated")


def test_an_effect_listed_ok_renders_and_previews(drop, input_image, capsys, tmp_path):
    (drop / "tri.glb").write_bytes(triangle_glb())
    effect_folder(drop, "unitsmm", 'kind = "object3d"\nasset = "a.glb"\nanchor = "face.head_top"\n'
                  '[placement]\nunits = "mm"\nfit_width = 3\n', {"a.glb": triangle_glb()})
    lines = list_lines(capsys, "--effects-dir", str(drop))
    for name in ("tri", "unitsmm"):
        assert "BROKEN" not in lines[name][0]
        out = tmp_path / f"{name}.png"
        assert cli.main(["preview", name, "-o", str(out), "--size", "64", "--effects-dir", str(drop)]) == 0
        assert out.is_file()
    capsys.readouterr()


@pytest.mark.parametrize("case", ["textfile", "points", "draco", "cutpixels", "badunits"])
def test_arfx_preview_of_a_broken_effect_is_one_line_and_writes_nothing(case, drop, tmp_path, capsys):
    if case == "cutpixels":
        (drop / "cutpixels.glb").write_bytes(triangle_glb(image=_cut_image()))
        target = str(drop / "cutpixels.glb")
    elif case == "badunits":
        effect_folder(drop, "badunits", 'kind = "object3d"\nasset = "a.glb"\n[placement]\nunits = "ft"\n',
                      {"a.glb": triangle_glb()})
        target = "badunits"
    else:
        data, _ = _glb_cases(tmp_path)[case]
        (drop / f"{case}.glb").write_bytes(data)
        target = case
    out = tmp_path / "preview.png"
    code = cli.main(["preview", target, "-o", str(out), "--effects-dir", str(drop)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("arfx: error:") and "\n" not in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".preview*"))


def test_a_loose_gltf_whose_buffer_is_missing_is_one_broken_effect(drop, input_image, capsys):
    """Its texture next to it is not listed; the .gltf is, BROKEN, naming the missing file."""
    glb = triangle_glb()
    size = struct.unpack_from("<I", glb, 12)[0]
    tree = json.loads(glb[20:20 + size])
    tree["buffers"] = [{"uri": "gone.bin", "byteLength": 64}]
    tree["images"] = [{"uri": "skin.png"}]
    (drop / "loose.gltf").write_text(json.dumps(tree))
    (drop / "skin.png").write_bytes(small_png())
    lines = list_lines(capsys, "--effects-dir", str(drop))
    assert "skin" not in lines
    assert_broken(capsys, drop, input_image, "loose", "buffer 0 file 'gone.bin' cannot be read")
