"""Effects: discovery, manifests, drop-in assets, `arfx list`, glTF loading and asset generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arfx import cli
from arfx.effects.debug import LandmarksEffect, MeshEffect
from arfx.effects.facepaint import FacePaintEffect
from arfx.effects.object3d import Object3DEffect, placement_matrix
from arfx.effects.registry import EffectRegistry, scan_folder
from arfx.errors import EffectError
from arfx.render.gltf import load_glb
from makers import box_glb, load_script

ROOT = Path(__file__).resolve().parent.parent
BUILT_INS = {"glasses": "object3d", "facepaint": "facepaint", "mesh": "mesh", "axis": "axis",
             "landmarks": "landmarks"}


def test_builtin_effects_are_found_with_their_kinds(no_user_effects):
    registry = EffectRegistry()
    effects = registry.effects()
    assert {name: effects[name].kind for name in BUILT_INS} == BUILT_INS
    assert all(effects[name].source == "built-in" and effects[name].ok for name in BUILT_INS)
    for name in BUILT_INS:
        assert registry.load(name).name == name
    assert isinstance(registry.load("glasses"), Object3DEffect)
    assert isinstance(registry.load("facepaint"), FacePaintEffect)
    assert isinstance(registry.load("mesh"), MeshEffect)
    assert isinstance(registry.load("landmarks"), LandmarksEffect)


def test_unknown_effect_suggests_close_names(no_user_effects):
    with pytest.raises(EffectError) as error:
        EffectRegistry().load("glases")
    assert "glasses" in str(error.value) and "arfx list" in str(error.value)


def test_glasses_asset_has_frames_lenses_bridge_and_temples():
    meshes = load_glb(ROOT / "assets" / "effects" / "glasses" / "glasses.glb")
    names = {m.name for m in meshes}
    assert {"rim_left", "rim_right", "lens_left", "lens_right", "bridge",
            "temple_left", "temple_right"} <= names
    lenses = [m for m in meshes if m.name.startswith("lens")]
    assert all(m.material.alpha_mode == "BLEND" and 0.2 < m.material.base_color[3] < 0.9 for m in lenses)
    # Lenses sit in front of the canonical eyes (x ~ +-3.2 cm, z ~ 3.6 cm).
    for lens in lenses:
        centre = lens.centroid()
        assert 2.0 < abs(centre[0]) < 4.5 and 1.5 < centre[1] < 3.5 and centre[2] > 4.0
    temples = [m for m in meshes if m.name.startswith("temple")]
    for temple in temples:
        positions = (temple.transform[:3, :3] @ temple.positions.T).T + temple.transform[:3, 3]
        assert positions[:, 2].min() < -3.0, "temples reach back past the ears"


def test_generated_assets_are_deterministic_and_match_the_committed_files():
    module = load_script("make_assets")
    from arfx.geometry.canonical import CanonicalFace

    face = CanonicalFace.load()
    first, second = module.outputs(face), module.outputs(face)
    assert first == second
    for path, data in first.items():
        assert path.read_bytes() == data, f"{path} is stale: run scripts/make_assets.py"


def test_glb_nodes_keep_their_world_transform(tmp_path):
    path = box_glb(tmp_path / "box.glb", centre=(1.0, 2.0, 3.0), node_offset=(5.0, 0.0, 0.0))
    (mesh,) = load_glb(path)
    assert np.allclose(mesh.transform[:3, 3], (5.0, 0.0, 0.0))
    assert np.allclose(mesh.centroid(), (1.0, 2.0, 3.0), atol=1e-5)
    assert mesh.material.base_color == pytest.approx((0.0, 1.0, 0.0, 1.0))
    normals = mesh.vertices[:, 3:6]
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-3)


def test_placement_matrix_offsets_scales_and_rotates():
    matrix = placement_matrix(offset=(1.0, 2.0, 3.0), scale=2.0, rotation=(0.0, 90.0, 0.0))
    point = matrix @ np.array([1.0, 0.0, 0.0, 1.0])
    assert np.allclose(point[:3], (1.0, 2.0, 3.0 - 2.0), atol=1e-6)


def test_dropped_glb_and_png_appear_in_arfx_list_and_load(tmp_path, no_user_effects, capsys):
    drop = tmp_path / "drop"
    drop.mkdir()
    box_glb(drop / "greenbox.glb")
    from PIL import Image

    Image.new("RGBA", (64, 64), (255, 0, 0, 128)).save(drop / "redpaint.png")
    assert cli.main(["list", "--effects-dir", str(drop)]) == 0
    lines = capsys.readouterr().out.splitlines()
    greenbox = [line for line in lines if line.split()[:1] == ["greenbox"]]
    redpaint = [line for line in lines if line.split()[:1] == ["redpaint"]]
    assert greenbox and greenbox[0].split()[1:3] == ["object3d", "dir"]
    assert redpaint and redpaint[0].split()[1:3] == ["facepaint", "dir"]
    registry = EffectRegistry([drop])
    assert isinstance(registry.load("greenbox"), Object3DEffect)
    paint = registry.load("redpaint")
    assert isinstance(paint, FacePaintEffect) and paint.texture.shape == (64, 64, 4)


def test_user_folder_effects_are_found(no_user_effects):
    folder = no_user_effects / "hat"
    folder.mkdir()
    box_glb(folder / "hat.glb")
    (folder / "effect.toml").write_text(
        'name = "tophat"\nkind = "object3d"\nasset = "hat.glb"\n[placement]\noffset = [0, 9, 0]\n')
    info = EffectRegistry().info("tophat")
    assert info.source == "user" and info.ok
    assert info.options["offset"] == [0.0, 9.0, 0.0]
    effect = EffectRegistry().load("tophat")
    assert np.allclose(effect.placement[:3, 3], (0.0, 9.0, 0.0))


def test_a_broken_user_effect_is_listed_and_does_not_stop_the_others(tmp_path, no_user_effects, capsys):
    drop = tmp_path / "drop"
    for name, manifest in {
        "badkind": 'kind = "sparkles"\n',
        "noasset": 'kind = "object3d"\nasset = "missing.glb"\n',
        "badtoml": 'kind = object3d\n',
        "badblend": 'kind = "facepaint"\nasset = "p.png"\n[paint]\nblend = "screen"\n',
    }.items():
        (drop / name).mkdir(parents=True)
        (drop / name / "effect.toml").write_text(manifest)
    from PIL import Image

    Image.new("RGBA", (8, 8)).save(drop / "badblend" / "p.png")
    (drop / "corrupt.glb").write_bytes(b"this is not a glb file")
    box_glb(drop / "goodbox.glb")

    infos = {info.name: info for info in scan_folder(drop, "dir")}
    for name in ("badkind", "noasset", "badtoml", "badblend"):
        assert not infos[name].ok, name
    assert "sparkles" in infos["badkind"].broken
    assert "missing.glb" in infos["noasset"].broken

    assert cli.main(["list", "--effects-dir", str(drop)]) == 0
    out = capsys.readouterr().out
    # corrupt.glb is marked broken too: its GLB header is checked while scanning.
    assert out.count("BROKEN") == 5 and "goodbox" in out and "glasses" in out

    registry = EffectRegistry([drop])
    assert isinstance(registry.load("goodbox"), Object3DEffect)
    assert isinstance(registry.load("glasses"), Object3DEffect)
    with pytest.raises(EffectError, match="broken"):
        registry.load("badkind")
    with pytest.raises(EffectError, match="corrupt"):
        registry.load("corrupt")


def test_dropped_glb_renders_on_the_tracked_astronaut(tmp_path, no_user_effects):
    skdata = pytest.importorskip("skimage.data")
    from arfx.options import RenderOptions, TrackingOptions
    from arfx.pipeline import FramePipeline
    from arfx.sources import Frame

    drop = tmp_path / "drop"
    drop.mkdir()
    box_glb(drop / "greenbox.glb", centre=(0.0, 0.0, 9.0), color=(0, 255, 0, 255))
    rgb = np.ascontiguousarray(skdata.astronaut())
    pipeline = FramePipeline("greenbox", RenderOptions(TrackingOptions(static=True), effects_dirs=[drop]))
    frame = Frame(rgb, 0, 0.0)
    analysed = pipeline.analyse(frame)
    image, _ = pipeline.process(frame, analysed)
    pipeline.close()
    assert len(analysed.faces) == 1 and analysed.faces[0].geometry is not None
    nose = analysed.faces[0].landmarks[4, :2]
    out = image.astype(np.int16)
    greenish = (out[..., 1] - np.maximum(out[..., 0], out[..., 2])) > 60
    ys, xs = np.nonzero(greenish)
    assert len(xs) > 100
    # The box floats in front of the nose tip.
    assert abs(np.median(xs) - nose[0]) < 15 and abs(np.median(ys) - nose[1]) < 20
    assert not greenish[:100].any() and not greenish[300:].any()


def test_cli_render_writes_a_still_image(tmp_path, no_user_effects, capsys):
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    source = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(source)
    target = tmp_path / "out.png"
    assert cli.main(["render", "glasses", "-i", str(source), "-o", str(target)]) == 0
    rendered = np.asarray(Image.open(target).convert("RGB"))
    assert rendered.shape == (512, 512, 3)
    assert not np.array_equal(rendered, skdata.astronaut())
    # Refuses to overwrite without --overwrite (exit 2 with a one-line error).
    assert cli.main(["render", "glasses", "-i", str(source), "-o", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_glb_textures_are_the_right_way_up(tmp_path):
    """A textured quad (top half red, bottom half blue) renders with red on top."""
    import trimesh
    from PIL import Image
    from trimesh.visual.material import PBRMaterial

    from arfx.geometry.pipeline import FaceGeometry
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    texture = np.zeros((64, 64, 4), np.uint8)
    texture[:32] = (255, 0, 0, 255)
    texture[32:] = (0, 0, 255, 255)
    quad = trimesh.Trimesh(vertices=[[-4, -4, 10], [4, -4, 10], [4, 4, 10], [-4, 4, 10]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    # trimesh UVs put (0, 0) at the bottom-left of the image (it flips v for glTF on export).
    quad.visual = trimesh.visual.TextureVisuals(
        uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
        material=PBRMaterial(baseColorTexture=Image.fromarray(texture, "RGBA")))
    path = tmp_path / "quad.glb"
    path.write_bytes(trimesh.Scene(quad).export(file_type="glb"))
    effect = Object3DEffect.from_file("quad", path, units="cm")
    effect.meshes[0].material.unlit = True
    from arfx.geometry.canonical import CanonicalFace

    pose = np.eye(4, dtype=np.float32)
    pose[2, 3] = -60.0
    mesh = CanonicalFace.load().vertices + pose[:3, 3]
    ctx = create_headless_context()
    try:
        renderer = Renderer(ctx, 200, 200)
        out = renderer.render(np.zeros((200, 200, 3), np.uint8),
                              [FaceGeometry(pose, mesh.astype(np.float32))], effect)
        renderer.release()
    finally:
        ctx.release()
    column = out[:, 100].astype(int)
    red_rows = np.nonzero((column[:, 0] > 200) & (column[:, 2] < 50))[0]
    blue_rows = np.nonzero((column[:, 2] > 200) & (column[:, 0] < 50))[0]
    assert len(red_rows) > 5 and len(blue_rows) > 5
    assert red_rows.max() < blue_rows.min()


# ---------------------------------------------------------------------------- issue 13: list = load

def _noisy_png(size: int = 64) -> bytes:
    import io

    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_arfx_list_loads_what_it_lists_so_nothing_ok_fails_at_render(tmp_path, no_user_effects, capsys):
    """A GLB whose texture header is fine but whose pixels are cut off passes the cheap scan;
    `arfx list` loads it and says BROKEN, with the same reason `arfx render` gives."""
    from makers import triangle_glb

    drop = tmp_path / "drop"
    drop.mkdir()
    png = _noisy_png()
    (drop / "cutpixels.glb").write_bytes(triangle_glb(image=png[:len(png) // 2]))
    (drop / "gang").mkdir()
    (drop / "gang" / "effect.toml").write_text('kind = "stack"\n[stack]\neffects = ["glasses", "nosuch"]\n')
    (drop / "pair").mkdir()
    (drop / "pair" / "effect.toml").write_text('kind = "stack"\n[stack]\neffects = ["glasses", "facepaint"]\n')
    assert scan_folder(drop, "dir")[0].ok  # the scan's header checks pass it
    assert cli.main(["list", "--effects-dir", str(drop)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert "BROKEN: cannot decode texture image 0" in lines["cutpixels"] and "truncated" in lines["cutpixels"]
    assert "BROKEN" in lines["gang"] and "unknown effect 'nosuch'" in lines["gang"]
    assert "BROKEN" not in lines["pair"] and "BROKEN" not in lines["glasses"]
    source = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (32, 32)).save(source)
    for name in ("cutpixels", "gang"):
        assert cli.main(["render", name, "-i", str(source), "-o", str(tmp_path / f"{name}.png"),
                         "--effects-dir", str(drop)]) == 2
        err = capsys.readouterr().err
        assert lines[name].split("BROKEN: ")[1].split(";")[0][:40] in err


def test_an_effect_found_broken_on_load_does_not_hide_a_working_one(tmp_path, no_user_effects, caplog):
    from makers import triangle_glb

    png = _noisy_png()
    (no_user_effects / "glasses.glb").write_bytes(triangle_glb(image=png[:len(png) // 2]))
    registry = EffectRegistry()
    assert registry.info("glasses").source == "user"  # the scan cannot tell
    effect = registry.load("glasses")
    assert isinstance(effect, Object3DEffect) and effect.name == "glasses"
    assert registry.info("glasses").source == "built-in"
    assert any("using the built-in one" in r.getMessage() for r in caplog.records)


def test_a_loose_gltf_lists_once_without_its_buffers_and_textures(tmp_path, no_user_effects, capsys):
    """A .gltf dropped with its .bin and textures (a normal map too) is one effect."""
    import json

    import trimesh
    from PIL import Image
    from trimesh.visual.material import PBRMaterial

    drop = tmp_path / "drop"
    drop.mkdir()
    quad = trimesh.Trimesh(vertices=[[-0.04, -0.04, 0.1], [0.04, -0.04, 0.1], [0.04, 0.04, 0.1],
                                     [-0.04, 0.04, 0.1]], faces=[[0, 1, 2], [0, 2, 3]], process=False)
    quad.visual = trimesh.visual.TextureVisuals(
        uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
        material=PBRMaterial(baseColorTexture=Image.new("RGBA", (16, 16), (255, 0, 0, 255)),
                             normalTexture=Image.new("RGB", (16, 16), (128, 128, 255))))
    files = trimesh.Scene(quad).export(file_type="gltf")
    tree = json.loads(files["model.gltf"])
    names = {"model.gltf": "sign.gltf"}
    assert len(tree["images"]) == 2
    for i, item in enumerate(tree["images"]):  # textures as files next to it, as exporters write them
        view = tree["bufferViews"][item.pop("bufferView")]
        binary = files[tree["buffers"][view["buffer"]]["uri"]]
        start = view.get("byteOffset", 0)
        files[f"{['paint', 'normal'][i]}.png"] = binary[start:start + view["byteLength"]]
        item.pop("mimeType", None)
        item["uri"] = f"{['paint', 'normal'][i]}.png"
    files["model.gltf"] = json.dumps(tree).encode()
    for name, data in files.items():
        (drop / names.get(name, name)).write_bytes(data)
    uris = {p.name for p in drop.iterdir()}
    assert {"sign.gltf", "paint.png", "normal.png"} <= uris and any(u.endswith(".bin") for u in uris)
    Image.new("RGBA", (8, 8)).save(drop / "cheeks.png")  # a face paint of its own, next to it
    found = {info.name: info for info in scan_folder(drop, "dir")}
    assert set(found) == {"sign", "cheeks"}
    assert found["sign"].ok and found["sign"].kind == "object3d"
    assert cli.main(["list", "--effects-dir", str(drop)]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:-1]]
    assert "sign" in names and "cheeks" in names and "paint" not in names and "normal" not in names
    effect = EffectRegistry([drop]).load("sign")
    assert effect.meshes[0].material.texture.shape == (16, 16, 4)
    low, high = effect.box()
    assert np.allclose(high - low, (8.0, 8.0, 0.0), atol=1e-4)  # metres -> cm


# ---------------------------------------------------------------------------- issue 13: arfx preview

def _panels(path: Path) -> list[np.ndarray]:
    from PIL import Image

    from arfx.preview import CAPTION_HEIGHT

    image = np.asarray(Image.open(path).convert("RGB"))
    size = image.shape[1] // 3
    assert image.shape == (size + CAPTION_HEIGHT, 3 * size, 3)
    return [image[:size, i * size:(i + 1) * size] for i in range(3)]


def test_arfx_preview_draws_the_effect_on_the_head_in_three_views(tmp_path, no_user_effects, capsys):
    from arfx.preview import BACKGROUND

    out = tmp_path / "preview.png"
    assert cli.main(["preview", "glasses", "-o", str(out), "--size", "160"]) == 0
    assert str(out) in capsys.readouterr().out
    front, three_quarter, side = _panels(out)
    for panel in (front, three_quarter, side):
        head = np.abs(panel.astype(np.int16) - BACKGROUND).max(axis=2) > 12
        assert 0.1 < head.mean() < 0.7  # the head (and glasses) fill part of each view
    # The glasses' black frame crosses the front view at eye height, left and right of centre.
    dark = front.max(axis=2) < 60
    rows = np.nonzero(dark.any(axis=1))[0]
    assert len(rows) and 40 < np.median(rows) < 100
    assert dark[:, :70].any() and dark[:, 90:].any()
    assert np.abs(front.astype(int) - side.astype(int)).mean() > 5
    # Refuses to replace the picture without --overwrite; replaces it with.
    assert cli.main(["preview", "glasses", "-o", str(out), "--size", "160"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["preview", "glasses", "-o", str(out), "--size", "160", "--overwrite"]) == 0


def test_arfx_preview_takes_files_and_shows_what_lies_inside_the_head(tmp_path, no_user_effects, capsys):
    """A bare GLB by path (a green box inside the skull) shows through the translucent head;
    a bare PNG is previewed as face paint."""
    from PIL import Image

    from arfx.preview import BACKGROUND

    box_glb(tmp_path / "inside.glb", centre=(0.0, 2.0, -6.0), size=4.0, color=(0, 255, 0, 255))
    Image.new("RGBA", (32, 32), (255, 0, 0, 255)).save(tmp_path / "red.png")
    for name in ("inside.glb", "red.png"):
        assert cli.main(["preview", str(tmp_path / name), "-o", str(tmp_path / f"{name}.png"),
                         "--size", "128"]) == 0, capsys.readouterr().err
    front = _panels(tmp_path / "inside.glb.png")[0].astype(np.int16)
    green = front[..., 1] - np.maximum(front[..., 0], front[..., 2])
    centre = green[59:68, 59:68]  # where the box lies, 4 cm across
    assert np.median(centre) > 40  # the box shows through the head...
    assert np.median(front[59:68, 59:68, 0]) > 40  # ...tinted by it (the box itself is pure green)
    assert np.abs(front[-12:-2, 2:12] - BACKGROUND).max() <= 2  # the corners stay background
    red = _panels(tmp_path / "red.png.png")[0].astype(np.int16)
    assert ((red[..., 0] - red[..., 2]) > 80).mean() > 0.1  # the face is painted red


@pytest.mark.parametrize("target,fragment", [
    ("glases", "unknown effect 'glases'; did you mean glasses"),
    ("nosuch.glb", "nosuch.glb: no such file or effect folder"),
])
def test_arfx_preview_errors_are_one_line(target, fragment, tmp_path, no_user_effects, capsys):
    out = tmp_path / "p.png"
    assert cli.main(["preview", target, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arfx: error:") and "\n" not in err and fragment in err
    assert not out.exists()


def test_preview_caption_gives_size_and_place_and_far_objects_do_not_lose_the_head(tmp_path, no_user_effects):
    from arfx.preview import BACKGROUND, caption, load_target, preview_image

    glasses = load_target("glasses")
    text = caption(glasses)
    assert text.startswith("glasses (object3d): 16.7 x 4.42 x 11.8 cm (w x h x d) at (0, 2.")
    folder = tmp_path / "far"
    folder.mkdir()
    (folder / "g.glb").write_bytes((ROOT / "assets" / "effects" / "glasses" / "glasses.glb").read_bytes())
    (folder / "effect.toml").write_text('kind = "object3d"\nasset = "g.glb"\n[placement]\noffset = [0, 0, 1e30]\n')
    far = load_target(str(folder))
    assert caption(far).endswith(", 1e+30)")
    image = preview_image(far, 96)
    head = np.abs(image[:96, :96].astype(np.int16) - BACKGROUND).max(axis=2) > 12
    assert head.mean() > 0.005  # the view is framed on the head (at most 5 m around it), not lost
