"""glTF units and placement: files in metres (the spec), declared cm/mm, fit_width, the bare-file
rule, the under-1-cm / over-1-m warnings and the anchors objects are fitted to."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from arfx.effects.object3d import HEAD_WIDTH_CM, Object3DEffect
from arfx.effects.registry import EffectRegistry
from arfx.geometry.anchors import Anchor
from arfx.geometry.canonical import CanonicalFace
from arfx.render.gltf import bounds, load_glb
from makers import frontal_face, headless_renderer

ROOT = Path(__file__).resolve().parent.parent
GLASSES = ROOT / "assets" / "effects" / "glasses" / "glasses.glb"
UNIT_SCALE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}  # file units per metre


def glasses_in(units: str) -> bytes:
    """The built-in glasses (saved in metres) saved again in `units`."""
    import trimesh

    scene = trimesh.load(GLASSES, force="scene")
    scene = scene.scaled(UNIT_SCALE[units])
    return scene.export(file_type="glb", include_normals=True)


def folder_effect(root: Path, name: str, placement: str, data: bytes, anchor: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "thing.glb").write_bytes(data)
    (folder / "effect.toml").write_text(
        f'kind = "object3d"\nasset = "thing.glb"\n{anchor}[placement]\n{placement}\n')
    return folder


@pytest.fixture(scope="module")
def renderer():
    with headless_renderer(320, 240) as r:
        yield r




def drawn_box(renderer, effect) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the pixels the effect changed on a grey frame."""
    frame = np.full((240, 320, 3), 128, np.uint8)
    out = renderer.render(frame, [frontal_face()], effect)
    ys, xs = np.nonzero(np.abs(out.astype(np.int16) - frame).max(axis=2) > 8)
    assert len(xs) > 50, "nothing drawn"
    return xs.min(), ys.min(), xs.max(), ys.max()


def test_an_asset_saved_in_m_cm_and_mm_renders_at_the_same_size(tmp_path, renderer, no_user_effects):
    for units in ("m", "cm", "mm"):
        folder_effect(tmp_path, f"g_{units}", f'units = "{units}"', glasses_in(units))
    (tmp_path / "bare_m.glb").write_bytes(glasses_in("m"))
    registry = EffectRegistry([tmp_path])
    boxes = {name: drawn_box(renderer, registry.load(name)) for name in ("g_m", "g_cm", "g_mm", "bare_m")}
    widths = {name: box[2] - box[0] for name, box in boxes.items()}
    reference = widths["g_m"]
    # The frame front is ~14 cm wide, ~41 cm from a 63 degree lens: ~70 px of 240.
    assert 55 < reference < 95, widths
    for name, width in widths.items():
        assert abs(width - reference) <= 0.05 * reference, widths
        assert np.abs(np.subtract(boxes[name], boxes["g_m"])).max() <= 0.05 * reference, boxes
    # The same file read in metres and declared in cm: 100x smaller in file units.
    meshes = {units: load_glb(tmp_path / f"g_{units}" / "thing.glb", units) for units in ("m", "cm", "mm")}
    sizes = {units: np.subtract(*bounds(m)[::-1]) for units, m in meshes.items()}
    assert np.allclose(sizes["cm"], sizes["m"], rtol=1e-4) and np.allclose(sizes["mm"], sizes["m"], rtol=1e-4)


def test_a_spec_file_is_worn_as_authored_without_a_manifest(tmp_path, no_user_effects, caplog):
    (tmp_path / "specs.glb").write_bytes(GLASSES.read_bytes())
    with caplog.at_level(logging.WARNING):
        effect = EffectRegistry([tmp_path]).load("specs")
    assert np.allclose(effect.placement, np.eye(4))
    low, high = effect.box()
    assert 14.0 < high[0] - low[0] < 17.0  # cm: a pair of glasses
    assert not caplog.records


@pytest.mark.parametrize("units", ["cm", "mm"])
def test_a_bare_file_in_cm_or_mm_is_read_in_them_with_a_warning(units, tmp_path, no_user_effects, caplog,
                                                                 renderer):
    (tmp_path / f"big_{units}.glb").write_bytes(glasses_in(units))
    (tmp_path / "spec.glb").write_bytes(glasses_in("m"))
    registry = EffectRegistry([tmp_path])
    with caplog.at_level(logging.WARNING):
        effect = registry.load(f"big_{units}")
    (record,) = caplog.records
    spec = registry.load("spec")
    assert np.allclose(effect.box(), spec.box(), atol=1e-3)  # worn as authored
    assert drawn_box(renderer, effect) == drawn_box(renderer, spec)
    message = record.getMessage()
    width = {"cm": "1.67e+03", "mm": "1.67e+04"}[units]  # 16.7 cm glasses read as metres
    assert f"big_{units}.glb read in metres (glTF's unit) is {width} x " in message
    assert f"read in {units} it fits a head (16.7 x 4.42 x 11.8 cm)" in message
    assert f'declare units = "{units}"' in message


@pytest.mark.parametrize("case", ["huge", "far"])
def test_a_bare_file_no_unit_makes_wearable_is_fitted_to_the_head(case, tmp_path, no_user_effects, caplog):
    import trimesh

    scene = trimesh.load(GLASSES, force="scene")
    if case == "huge":
        scene = scene.scaled(1e5)  # 16.7 km
    else:
        scene.apply_translation((0.0, 0.0, 50.0))  # 50 m behind the head: glTF's metres, wrong origin
    (tmp_path / f"{case}.glb").write_bytes(scene.export(file_type="glb"))
    with caplog.at_level(logging.WARNING):
        effect = EffectRegistry([tmp_path]).load(case)
    low, high = effect.box()
    assert high[0] - low[0] == pytest.approx(HEAD_WIDTH_CM, rel=1e-4)
    assert np.allclose((low + high) / 2.0, 0.0, atol=1e-3)  # bounding box centred on the anchor
    (record,) = caplog.records
    message = record.getMessage()
    assert f"{case}.glb read in metres (glTF's unit) is " in message
    assert "cannot be worn in m, cm or mm; fitted to 15 cm wide at face.origin" in message
    assert "declare units or fit_width" in message


def test_fit_width_fits_the_bounding_box_on_the_anchor(tmp_path, no_user_effects):
    folder_effect(tmp_path, "hat", "fit_width = 20.0\nrotation = [0, 90, 0]", glasses_in("mm"),
                  anchor='anchor = "face.head_top"\n')
    folder_effect(tmp_path, "nosed", "fit_width = 4.0\noffset = [0, 1, 0]", glasses_in("m"),
                  anchor='anchor = "face.nose_bridge"\n')
    registry = EffectRegistry([tmp_path])
    hat = registry.load("hat")
    assert str(hat.anchor) == "face.head_top"
    low, high = hat.box()
    # Rotated 90 degrees about y after fitting: the 20 cm width now runs along z.
    assert high[2] - low[2] == pytest.approx(20.0, rel=1e-4)
    assert low[1] == pytest.approx(0.0, abs=1e-4)  # sits on the head top (bottom of its box)
    assert (low[0] + high[0]) / 2 == pytest.approx(0.0, abs=1e-4)
    nosed = registry.load("nosed")
    low, high = nosed.box()
    assert high[0] - low[0] == pytest.approx(4.0, rel=1e-4)
    assert np.allclose((low + high) / 2.0, (0.0, 1.0, 0.0), atol=1e-4)


@pytest.mark.parametrize("placement,fragment", [
    ('units = "mm"', "under 1 cm across"),
    ("scale = 8.0", "over 1 m across"),
    ("offset = [0, 0, 150]", "centred 151 cm from face.origin"),
])
def test_placements_under_1_cm_or_over_1_m_warn_with_the_numbers(placement, fragment, tmp_path,
                                                                no_user_effects, caplog):
    folder_effect(tmp_path, "odd", placement, GLASSES.read_bytes())
    with caplog.at_level(logging.WARNING):
        effect = EffectRegistry([tmp_path]).load("odd")
    low, high = effect.box()
    (record,) = caplog.records
    message = record.getMessage()
    assert "effect 'odd' (thing.glb) is placed" in message and fragment in message
    assert f"{(high - low)[0]:.3g} x " in message  # the numbers, in cm


def test_units_and_fit_width_are_checked_in_the_manifest():
    from arfx.effects.registry import parse_manifest
    from arfx.errors import EffectError

    ok = parse_manifest('kind = "object3d"\nasset = "a.glb"\n[placement]\nunits = "mm"\nfit_width = 12\n')
    assert ok.options["units"] == "mm" and ok.options["fit_width"] == 12.0
    default = parse_manifest('kind = "object3d"\nasset = "a.glb"\n')
    assert default.options["units"] is None and default.options["fit_width"] is None
    with pytest.raises(EffectError, match="placement.units must be one of m, cm, mm, got 'inch'"):
        parse_manifest('kind = "object3d"\nasset = "a.glb"\n[placement]\nunits = "inch"\n')
    with pytest.raises(EffectError, match="placement.fit_width must be a number from 0.1 to 1000, got -3"):
        parse_manifest('kind = "object3d"\nasset = "a.glb"\n[placement]\nfit_width = -3\n')
    with pytest.raises(EffectError, match="did you mean 'fit_width'"):
        parse_manifest('kind = "object3d"\nasset = "a.glb"\n[placement]\nfitwidth = 3\n')


def test_eyes_and_head_top_anchors_sit_where_their_names_say():
    face = frontal_face(0.0)
    vertices = CanonicalFace.load().vertices
    eyes = Anchor.parse("face.eyes").matrix(face)[:3, 3]
    assert abs(eyes[0]) < 1e-4 and 2.0 < eyes[1] < 3.2 and 3.0 < eyes[2] < 4.0
    top = Anchor.parse("face.head_top").matrix(face)[:3, 3]
    # Above the hairline (the top of the face mesh), over the ears, on the midline.
    assert top[1] > vertices[:, 1].max() + 3.0 and abs(top[0]) < 1e-4
    assert abs(top[2] - vertices[454, 2]) < 1.5
    # It turns and scales with the head.
    turned = frontal_face(0.0)
    turned.pose[:3, :3] = np.diag([1.1, 1.1, 1.1]) @ np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    turned.mesh[:] = vertices @ turned.pose[:3, :3].T
    moved = Anchor.parse("face.head_top").matrix(turned)[:3, 3]
    assert np.allclose(moved, turned.pose[:3, :3] @ top, atol=1e-3)


def test_ignored_gltf_extensions_warn_when_loaded(tmp_path, caplog):
    import json
    import struct

    from makers import glb_bytes, triangle_glb

    glb = triangle_glb()
    size = struct.unpack_from("<I", glb, 12)[0]
    tree = json.loads(glb[20:20 + size])
    tree["extensionsUsed"] = ["KHR_texture_transform", "KHR_materials_clearcoat"]
    path = tmp_path / "packed.glb"
    path.write_bytes(glb_bytes(tree, glb[20 + size + 8:]))
    with caplog.at_level(logging.WARNING):
        (mesh,) = load_glb(path)
    (record,) = caplog.records
    # KHR_texture_transform is applied (tests/test_materials.py); what is not drawn is said once.
    assert "uses the glTF extension KHR_materials_clearcoat" in record.getMessage()
    assert "clearcoat layers are not drawn" in record.getMessage()
