"""glTF materials: the spec's metallic-roughness BRDF against a numpy evaluation of appendix B,
every map (base colour x factor x vertex colour, metallic-roughness, normal with generated
tangents, occlusion, emissive + strength), alpha modes (MASK, BLEND sorted per triangle),
doubleSided, unlit, KHR_texture_transform, quantized accessors, spec-gloss conversion, MSAA.

Files are written with numpy (tests/makers.py GltfBuilder) and drawn in front of a canonical
face at 45 cm under the renderer's fixed studio light (lighting="fixed": the documented
neutral environment), on llvmpipe.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from arfx.effects.object3d import Object3DEffect
from arfx.errors import EffectError
from arfx.render.gltf import load_glb
from arfx.render.gltf_load import converted_base, solve_metallic
from makers import GltfBuilder, draco_sphere, frontal_face, headless_renderer, quad, uv_sphere

W, H = 320, 240
KEY = np.array([-0.4, 0.6, 0.7]) / np.linalg.norm([-0.4, 0.6, 0.7])
FILL = np.array([0.6, -0.1, 0.5]) / np.linalg.norm([0.6, -0.1, 0.5])
AMBIENT = 0.22


@pytest.fixture(scope="module")
def renderer():
    with headless_renderer(W, H, lighting="fixed") as r:
        yield r




def draw(renderer, path, background: int = 0) -> np.ndarray:
    effect = Object3DEffect.from_file("m", path, occlusion=frozenset())
    frame = np.full((H, W, 3), background, np.uint8)
    return renderer.render(frame, [frontal_face()], effect).astype(np.float64)


def sphere_file(tmp_path, name="s.glb", radius=0.04, **material) -> object:
    b = GltfBuilder()
    positions, normals, uvs, triangles = uv_sphere(radius)
    m = b.material(**material) if material else None
    b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=m), translation=[0, 0, 0.09])
    return b.write(tmp_path / name)


def quad_file(tmp_path, name="q.glb", size=0.08, material=None, colors=None, builder=None, z=0.09,
              texture_fields=None):
    b = builder or GltfBuilder()
    positions, normals, uvs, triangles = quad(size, size)
    m = b.material(**material) if material is not None else None
    b.node(mesh=b.mesh(positions, triangles, normals, uvs, colors=colors, material=m), translation=[0, 0, z])
    return b.write(tmp_path / name)


def srgb(linear):
    linear = np.clip(np.asarray(linear, np.float64), 0, 1)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055) * 255


def brdf_facing(base, metallic, roughness, n=(0.0, 0.0, 1.0)):
    """Appendix B evaluated in numpy for a surface seen head-on (v = +z) with normal n under the
    fixed light: key 0.95 and fill 0.35 (irradiance x pi), ambient 0.22 diffuse and specular
    (through the environment BRDF fit with multiple scattering the shader documents)."""
    base = np.asarray(base, np.float64)
    n = np.asarray(n, np.float64) / np.linalg.norm(n)
    v = np.array([0.0, 0.0, 1.0])
    n_v = max(n @ v, 1e-4)
    alpha = roughness ** 2
    c_diff = base * (1 - metallic)
    f0 = 0.04 * (1 - metallic) + base * metallic
    # Split-sum environment BRDF fit, with multiple scattering (Fdez-Aguera 2019).
    c0, c1 = np.array([-1, -0.0275, -0.572, 0.022]), np.array([1, 0.0425, 1.04, -0.04])
    r = roughness * c0 + c1
    a004 = min(r[0] ** 2, 2 ** (-9.28 * n_v)) * r[0] + r[1]
    scale, bias = -1.04 * a004 + r[2], 1.04 * a004 + r[3]
    single = f0 * scale + bias
    ems = 1 - (scale + bias)
    f_avg = f0 + (1 - f0) / 21
    total = single + ems * single * f_avg / (1 - ems * f_avg)
    out = AMBIENT * c_diff * (1 - total.max()) + AMBIENT * total
    for l, strength in ((KEY, 0.95), (FILL, 0.35)):
        h = (l + v) / np.linalg.norm(l + v)
        n_l, n_h, v_h = max(l @ n, 0.0), max(h @ n, 0.0), v @ h
        f = f0 + (1 - f0) * (1 - v_h) ** 5
        d = alpha ** 2 / (np.pi * (n_h ** 2 * (alpha ** 2 - 1) + 1) ** 2)
        vis = 0.5 / (n_v * np.sqrt(n_l ** 2 * (1 - alpha ** 2) + alpha ** 2)
                     + n_l * np.sqrt(n_v ** 2 * (1 - alpha ** 2) + alpha ** 2))
        out = out + strength * n_l * ((1 - f) * c_diff + np.pi * f * d * vis)
    return srgb(out)


def centre(image: np.ndarray) -> np.ndarray:
    return image[H // 2 - 1:H // 2 + 1, W // 2 - 1:W // 2 + 1].reshape(-1, 3).mean(axis=0)


def test_missing_metallic_and_roughness_take_the_specs_defaults(tmp_path):
    (mesh,) = load_glb(sphere_file(tmp_path, pbrMetallicRoughness={"baseColorFactor": [1, 0, 0, 1]}))
    assert (mesh.material.metallic, mesh.material.roughness) == (1.0, 1.0)
    (mesh,) = load_glb(sphere_file(tmp_path, "none.glb"))  # no material at all
    assert (mesh.material.metallic, mesh.material.roughness) == (1.0, 1.0)


@pytest.mark.parametrize("base,metallic,roughness", [((0.5, 0.5, 0.5), 0.0, 1.0), ((0.8, 0.2, 0.1), 0.0, 0.6),
                                                     ((0.9, 0.6, 0.2), 1.0, 0.7), ((0.3, 0.6, 0.9), 0.5, 0.4)])
def test_facing_pixel_matches_appendix_b_in_numpy(tmp_path, renderer, base, metallic, roughness):
    path = sphere_file(tmp_path, pbrMetallicRoughness={"baseColorFactor": [*base, 1], "metallicFactor": metallic,
                                                       "roughnessFactor": roughness})
    got = centre(draw(renderer, path))
    expected = brdf_facing(base, metallic, roughness)
    assert np.abs(got - expected).max() <= 3.0, (got, expected)


def _highlight(image: np.ndarray, mask: np.ndarray):
    luminance = image.mean(axis=2)
    peak = np.unravel_index(np.argmax(np.where(mask, luminance, -1)), luminance.shape)
    return peak, image[peak]


def test_metal_highlight_takes_the_base_colour_and_roughness_spreads_it(tmp_path, renderer):
    # A rough metal: its highlight stays below clipping, so their colour shows (no tone mapping).
    red_metal = draw(renderer, sphere_file(tmp_path, "m.glb", pbrMetallicRoughness={
        "baseColorFactor": [0.9, 0.1, 0.1, 1], "metallicFactor": 1.0, "roughnessFactor": 0.8}))
    red_plastic = draw(renderer, sphere_file(tmp_path, "p.glb", pbrMetallicRoughness={
        "baseColorFactor": [0.9, 0.1, 0.1, 1], "metallicFactor": 0.0, "roughnessFactor": 0.3}))
    mask = red_metal.max(axis=2) > 4  # over the black frame
    (y, x), metal_peak = _highlight(red_metal, mask)
    _, plastic_peak = _highlight(red_plastic, mask)
    # The key light is up and to the left (camera space): so is the highlight.
    ys, xs = np.nonzero(mask)
    assert y < ys.mean() and x < xs.mean()
    # A metal's highlight is its own colour; a dielectric's is white (F0 = 0.04, grey).
    assert metal_peak[0] > 200 and metal_peak[1] < 0.5 * metal_peak[0], metal_peak
    assert plastic_peak[1] > 0.6 * plastic_peak[0], plastic_peak
    # Rougher: a lower and wider highlight.
    areas, peaks = [], []
    for roughness in (0.2, 0.4, 0.7):
        image = draw(renderer, sphere_file(tmp_path, f"r{roughness}.glb", pbrMetallicRoughness={
            "baseColorFactor": [0.2, 0.2, 0.2, 1], "metallicFactor": 0.0, "roughnessFactor": roughness}))
        luminance = np.where(mask, image.mean(axis=2), 0)
        peaks.append(luminance.max())
        areas.append(int((luminance > 0.5 * (luminance.max() + np.median(luminance[mask]))).sum()))
    assert peaks[0] > peaks[1] > peaks[2], peaks
    assert areas[0] < areas[1] < areas[2], areas


def test_base_colour_is_texture_times_factor_times_vertex_colour_srgb_decoded(tmp_path, renderer):
    b = GltfBuilder()
    texture = b.texture(np.full((4, 4, 4), [188, 188, 188, 255], np.uint8))  # sRGB 188 = linear 0.5
    colors = np.tile([0.5, 1.0, 1.0, 1.0], (4, 1))
    path = quad_file(tmp_path, builder=b, colors=colors, material={
        "pbrMetallicRoughness": {"baseColorFactor": [1.0, 0.5, 1.0, 1], "baseColorTexture": {"index": texture}},
        "extensions": {"KHR_materials_unlit": {}}})
    got = centre(draw(renderer, path))
    expected = srgb(0.5029 * np.array([0.5, 0.5, 1.0]))
    assert np.abs(got - expected).max() <= 2.0, (got, expected)


def test_texture_transform_is_applied(tmp_path, renderer):
    image = np.zeros((8, 8, 4), np.uint8)
    image[..., 3] = 255
    image[:, :4, 0] = 255  # left half red
    image[:, 4:, 2] = 255  # right half blue
    results = {}
    for offset in (0.0, 0.5):
        b = GltfBuilder()
        texture = b.texture(image, {"magFilter": 9728, "minFilter": 9728})
        info = {"index": texture, "extensions": {"KHR_texture_transform": {"offset": [offset, 0.0]}}}
        path = quad_file(tmp_path, f"t{offset}.glb", builder=b, material={
            "pbrMetallicRoughness": {"baseColorTexture": info}, "extensions": {"KHR_materials_unlit": {}}})
        results[offset] = draw(renderer, path)
    left = (H // 2, W // 2 - 20)
    assert results[0.0][left][0] > 200 and results[0.0][left][2] < 50
    assert results[0.5][left][2] > 200 and results[0.5][left][0] < 50  # shifted half a texture


@pytest.mark.parametrize("tilt", [(0.0, 0.0), (-0.5, 0.0), (0.5, 0.0), (0.0, 0.5), (0.0, -0.5)])
def test_normal_map_with_generated_tangents_matches_the_tilted_normal(tmp_path, renderer, tilt):
    """Tangent-space +x is +u (here camera +x), +y the image's up (v decreasing: camera +y);
    the pixel must match appendix B with that normal. Tangents are generated (none in the file)."""
    normal = np.array([tilt[0], tilt[1], np.sqrt(1 - tilt[0] ** 2 - tilt[1] ** 2)])
    pixel = np.round((normal * 0.5 + 0.5) * 255).astype(np.uint8)
    b = GltfBuilder()
    texture = b.texture(np.tile(np.append(pixel, 255), (4, 4, 1)))
    material = {"baseColorFactor": [0.6, 0.6, 0.6, 1], "metallicFactor": 0.0, "roughnessFactor": 0.6}
    path = quad_file(tmp_path, "n.glb", builder=b, material={"pbrMetallicRoughness": material,
                                                             "normalTexture": {"index": texture}})
    got = centre(draw(renderer, path))
    decoded = pixel / 255.0 * 2 - 1
    expected = brdf_facing([0.6] * 3, 0.0, 0.6, decoded)
    assert np.abs(got - expected).max() <= 3.0, (got, expected)


def test_occlusion_darkens_and_emissive_lights(tmp_path, renderer):
    plain = {"baseColorFactor": [0.5, 0.5, 0.5, 1], "metallicFactor": 0.0, "roughnessFactor": 1.0}
    b = GltfBuilder()
    dark = b.texture(np.tile([0, 0, 0, 255], (4, 4, 1)).astype(np.uint8))
    occluded = centre(draw(renderer, quad_file(tmp_path, "o.glb", builder=b, material={
        "pbrMetallicRoughness": plain, "occlusionTexture": {"index": dark, "strength": 1.0}})))
    lit = centre(draw(renderer, quad_file(tmp_path, "l.glb", material={"pbrMetallicRoughness": plain})))
    assert occluded.mean() < lit.mean() - 10  # the ambient part is gone; direct light stays
    assert occluded.mean() > 30
    b = GltfBuilder()
    white = b.texture(np.full((4, 4, 4), 255, np.uint8))
    glow = centre(draw(renderer, quad_file(tmp_path, "e.glb", builder=b, material={
        "pbrMetallicRoughness": {"baseColorFactor": [0, 0, 0, 1], "metallicFactor": 0.0},
        "emissiveFactor": [0.5, 0.0, 0.0], "emissiveTexture": {"index": white},
        "extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": 2.0}}})))
    assert glow[0] > 250 and glow[1] < 40  # 0.5 x 2 = full red


def test_mask_discards_below_the_cutoff(tmp_path, renderer):
    image = np.full((8, 8, 4), 255, np.uint8)
    image[:, :4, 3] = 60  # left half below the cutoff
    b = GltfBuilder()
    texture = b.texture(image, {"magFilter": 9728, "minFilter": 9728})
    out = draw(renderer, quad_file(tmp_path, builder=b, material={
        "pbrMetallicRoughness": {"baseColorTexture": {"index": texture}}, "alphaMode": "MASK",
        "alphaCutoff": 0.5, "extensions": {"KHR_materials_unlit": {}}}))
    assert out[H // 2, W // 2 - 20].max() == 0  # discarded: the black frame shows
    assert out[H // 2, W // 2 + 20].min() == 255  # kept, opaque


def test_blended_triangles_are_drawn_back_to_front_within_a_mesh(tmp_path, renderer):
    """One blended mesh: a red half-transparent quad in front of a blue one, listed front first.
    Sorted, the red one is drawn last and dominates; unsorted the blue would cover it."""
    front, _, uvs, triangles = quad(0.08, 0.08, z=0.01)
    back, _, _, _ = quad(0.08, 0.08, z=-0.01)
    positions = np.concatenate([front, back])
    normals = np.tile([0.0, 0.0, 1.0], (8, 1))
    colors = np.array([[1, 0, 0, 0.5]] * 4 + [[0, 0, 1, 0.5]] * 4, np.float32)
    b = GltfBuilder()
    m = b.material(pbrMetallicRoughness={}, alphaMode="BLEND", extensions={"KHR_materials_unlit": {}})
    b.node(mesh=b.mesh(positions, np.concatenate([triangles, triangles + 4]), normals,
                       np.concatenate([uvs, uvs]), colors=colors, material=m), translation=[0, 0, 0.09])
    out = centre(draw(renderer, b.write(tmp_path / "blend.glb")))
    # Back to front over black (blending on the target's sRGB values): blue x 0.5, then red
    # x 0.5 over it: red 0.5, blue 0.25. Front first would give blue 0.5, red 0.25.
    assert np.abs(out - np.array([0.5, 0.0, 0.25]) * 255).max() <= 2.0, out


def test_back_faces_culled_unless_double_sided(tmp_path, renderer):
    drawn = {}
    for double in (False, True):
        b = GltfBuilder()
        positions, normals, uvs, triangles = quad(0.08, 0.08)
        m = b.material(pbrMetallicRoughness={"baseColorFactor": [1, 1, 1, 1]}, doubleSided=double,
                       extensions={"KHR_materials_unlit": {}})
        b.node(mesh=b.mesh(positions, triangles[:, ::-1], -normals, uvs, material=m), translation=[0, 0, 0.09])
        drawn[double] = centre(draw(renderer, b.write(tmp_path / f"d{double}.glb"))).max()
    assert drawn[False] == 0 and drawn[True] == 255


def test_quantized_accessors_read_as_floats(tmp_path):
    positions, normals, uvs, triangles = quad(0.08, 0.08)
    b = GltfBuilder()
    scaled = np.round(positions / 0.04 * 32767).astype(np.int16)
    uv16 = np.round(uvs * 65535).astype(np.uint16)
    b.tree["extensionsUsed"] = b.tree["extensionsRequired"] = ["KHR_mesh_quantization"]
    extra = {"TEXCOORD_0": b.accessor(uv16, component=5123, normalized=True)}
    position = b.accessor(scaled, component=5122, normalized=True, minmax=True)
    mesh = b.mesh(positions, triangles, normals, extra=extra)
    b.tree["meshes"][mesh]["primitives"][0]["attributes"]["POSITION"] = position
    b.node(mesh=mesh, scale=[0.04, 0.04, 0.04])
    (loaded,) = load_glb(b.write(tmp_path / "q.glb"))
    world = loaded.positions @ loaded.transform[:3, :3].T
    assert np.allclose(world, positions * 100, atol=1e-3)  # cm
    assert np.allclose(loaded.vertices[:, 6:8], uvs, atol=1e-4)


def test_unknown_required_extension_is_refused_by_name(tmp_path):
    b = GltfBuilder()
    positions, normals, uvs, triangles = quad(0.08, 0.08)
    b.node(mesh=b.mesh(positions, triangles, normals))
    b.tree["extensionsUsed"] = b.tree["extensionsRequired"] = ["EXT_something_new"]
    with pytest.raises(EffectError, match="needs the glTF extension EXT_something_new"):
        load_glb(b.write(tmp_path / "x.glb"))


def test_optional_unsupported_extension_is_logged_once(tmp_path, caplog):
    b = GltfBuilder()
    positions, normals, uvs, triangles = quad(0.08, 0.08)
    b.node(mesh=b.mesh(positions, triangles, normals))
    b.tree["extensionsUsed"] = ["KHR_materials_sheen"]
    path = b.write(tmp_path / "sheen.glb")
    with caplog.at_level(logging.WARNING):
        load_glb(path)
        load_glb(path)
    assert sum("KHR_materials_sheen" in r.getMessage() for r in caplog.records) == 1


def test_specular_glossiness_converts_to_metallic_roughness(tmp_path):
    assert solve_metallic(0.8, 0.04) == 0.0  # plastic
    assert solve_metallic(0.0, 0.95) == pytest.approx(1.0, abs=0.02)  # gold-like
    base = converted_base(np.zeros(3), np.array([1.0, 0.8, 0.3]), 1.0)
    assert np.allclose(base, [1.0, 0.8, 0.3], atol=0.01)
    b = GltfBuilder()
    positions, normals, uvs, triangles = quad(0.08, 0.08)
    m = b.material(extensions={"KHR_materials_pbrSpecularGlossiness": {
        "diffuseFactor": [0.8, 0.1, 0.1, 1.0], "specularFactor": [0.04, 0.04, 0.04], "glossinessFactor": 0.7}})
    b.node(mesh=b.mesh(positions, triangles, normals, material=m))
    b.tree["extensionsUsed"] = ["KHR_materials_pbrSpecularGlossiness"]
    (mesh,) = load_glb(b.write(tmp_path / "sg.glb"))
    assert mesh.material.metallic == 0.0 and mesh.material.roughness == pytest.approx(0.3)
    assert np.allclose(mesh.material.base_color[:3], [0.8, 0.1, 0.1], atol=0.05)


def test_msaa_smooths_edges(tmp_path):
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    path = sphere_file(tmp_path, pbrMetallicRoughness={"baseColorFactor": [1, 1, 1, 1]},
                       extensions={"KHR_materials_unlit": {}})
    ctx = create_headless_context()
    levels = {}
    for samples in (0, 4):
        r = Renderer(ctx, W, H, lighting="fixed", samples=samples)
        try:
            effect = Object3DEffect.from_file("m", path, occlusion=frozenset())
            out = r.render(np.zeros((H, W, 3), np.uint8), [frontal_face()], effect)
        finally:
            r.release()
        levels[samples] = len(np.unique(out[..., 0]))
    ctx.release()
    assert levels[0] <= 2 < levels[4]  # black and white only, then edge coverage in between


def test_msaa_window_path_shows_the_offscreen_picture(tmp_path):
    """Renderer.draw with MSAA (the window's path) resolves offscreen and shows the same picture
    as render()."""
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    path = sphere_file(tmp_path, pbrMetallicRoughness={"baseColorFactor": [0.9, 0.5, 0.1, 1]})
    ctx = create_headless_context()
    r = Renderer(ctx, W, H, lighting="fixed", samples=4)
    try:
        effect = Object3DEffect.from_file("m", path, occlusion=frozenset())
        frame = np.zeros((H, W, 3), np.uint8)
        frame[:, : W // 2] = (30, 90, 150)
        for mirror in (False, True):
            expected = r.render(frame, [frontal_face()], effect, mirror=mirror)
            with ctx:
                screen = ctx.framebuffer(color_attachments=[ctx.texture((W, H), 4)])
            r.draw(frame, [frontal_face()], effect, screen, mirror=mirror)
            with ctx:
                shown = np.frombuffer(screen.read(components=3, alignment=1), np.uint8).reshape(H, W, 3)[::-1]
                screen.color_attachments[0].release()
                screen.release()
            difference = np.abs(shown.astype(np.int16) - expected.astype(np.int16))
            assert difference.max() <= 2, mirror
    finally:
        r.release()
        ctx.release()


def test_draco_compressed_mesh_decodes_and_draws_like_the_plain_one(tmp_path, renderer):
    pytest.importorskip("DracoPy")
    path, positions, triangles = draco_sphere(tmp_path)
    (mesh,) = load_glb(path)
    assert len(mesh.indices) == len(triangles)
    # 14-bit quantization of an 8 cm box: within 0.01 mm of the sphere's surface.
    radii = np.linalg.norm(mesh.positions, axis=1)
    assert np.allclose(radii, 0.04, atol=1e-5)
    # Normals and UVs came through with their vertices (v = polar angle / pi on this sphere).
    assert np.allclose(mesh.vertices[:, 3:6], mesh.positions / radii[:, None], atol=1e-3)
    polar = np.arccos(np.clip(mesh.positions[:, 1] / radii, -1, 1)) / np.pi
    assert np.allclose(mesh.vertices[:, 7], polar, atol=2e-3)
    plain = tmp_path / "plain"
    plain.mkdir()
    b = GltfBuilder()
    p, n, uv, t = uv_sphere(0.04)
    b.node(mesh=b.mesh(p, t, n, uv, material=b.material(pbrMetallicRoughness={
        "baseColorFactor": [0.2, 0.6, 0.9, 1], "metallicFactor": 0.0})), translation=[0, 0, 0.09])
    difference = np.abs(draw(renderer, path) - draw(renderer, b.write(plain / "plain.glb")))
    assert difference.mean() < 0.2 and difference.max() <= 24


def test_broken_draco_data_is_refused_by_name(tmp_path):
    pytest.importorskip("DracoPy")
    path, _, _ = draco_sphere(tmp_path, payload=b"DRACO but not really" * 8)
    with pytest.raises(EffectError, match="its Draco data cannot be decoded"):
        load_glb(path)


def test_meshopt_compressed_file_draws_like_the_plain_one(tmp_path):
    """EXT_meshopt_compression (gltfpack -c's output) decoded with the meshopt package: the same
    triangles and vertices as the uncompressed file; a corrupt stream is refused in one line."""
    meshopt = pytest.importorskip("meshopt")
    from arfx.render.gltf import load_glb

    positions, normals, uvs, triangles = uv_sphere(0.04)
    plain = GltfBuilder()
    node = plain.node(mesh=plain.mesh(positions, triangles, normals=normals))
    plain_path = plain.write(tmp_path / "plain.glb")

    packed = GltfBuilder()
    rows = np.ascontiguousarray(positions, np.float32)
    encoded_positions = meshopt.encode_gltf_buffer(rows, "ATTRIBUTES")
    indices = np.ascontiguousarray(np.asarray(triangles).reshape(-1), np.uint32)
    encoded_indices = meshopt.encode_gltf_buffer(indices.reshape(-1, 3), "TRIANGLES")
    compressed_start = len(packed.blob)
    packed.blob += encoded_positions + b"\0" * (-len(encoded_positions) % 4)
    index_start = len(packed.blob)
    packed.blob += encoded_indices + b"\0" * (-len(encoded_indices) % 4)
    ext = "EXT_meshopt_compression"
    views = [
        {"buffer": 1, "byteLength": rows.nbytes, "byteStride": 12,
         "extensions": {ext: {"buffer": 0, "byteOffset": compressed_start, "byteLength": len(encoded_positions),
                              "byteStride": 12, "count": len(rows), "mode": "ATTRIBUTES"}}},
        {"buffer": 1, "byteLength": indices.nbytes,
         "extensions": {ext: {"buffer": 0, "byteOffset": index_start, "byteLength": len(encoded_indices),
                              "byteStride": 4, "count": len(indices), "mode": "TRIANGLES"}}},
    ]
    packed.tree["bufferViews"] = views
    packed.tree["accessors"] = [
        {"bufferView": 0, "componentType": 5126, "count": len(rows), "type": "VEC3",
         "min": rows.min(axis=0).tolist(), "max": rows.max(axis=0).tolist()},
        {"bufferView": 1, "componentType": 5125, "count": len(indices), "type": "SCALAR"},
    ]
    packed.tree["meshes"] = [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}]
    packed.tree["extensionsUsed"] = packed.tree["extensionsRequired"] = [ext]
    packed.node(mesh=0)
    path = packed.write(tmp_path / "packed.glb")
    # write() sets one buffer for the blob; add the fallback buffer the views point at.
    import json
    import struct

    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    tree = json.loads(data[20:20 + length])
    tree["buffers"].append({"byteLength": rows.nbytes + indices.nbytes, "extensions": {ext: {"fallback": True}}})
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + length:]
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + rest
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)

    (mesh,), (reference,) = load_glb(path), load_glb(plain_path)
    assert np.array_equal(mesh.indices, reference.indices)
    assert np.allclose(mesh.positions, reference.positions, atol=1e-5)
    assert node == 0

    tree["bufferViews"][0]["extensions"][ext]["byteLength"] = 8  # a stream cut short
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + rest
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)
    with pytest.raises(EffectError, match="meshopt data cannot be decoded"):
        load_glb(path)


def test_blended_mesh_is_sorted_again_only_once_the_view_turns(tmp_path, renderer, monkeypatch):
    """The two quads of the test above in one double-sided blended mesh, and two small ones side
    by side (as far as each other): a head turned by less than SORT_ANGLE_DEG keeps the order
    the index buffer holds (no sort or upload that frame, though the side quads' depths swap);
    turned half round, the blue quad is in front and is drawn last."""
    from arfx.effects.object3d import SORT_ANGLE_DEG
    from arfx.geometry.pipeline import FaceGeometry, rotation_from_euler
    from arfx.render.gltf import GpuMesh

    front, _, uvs, triangles = quad(0.08, 0.08, z=0.01)
    back, _, _, _ = quad(0.08, 0.08, z=-0.01)
    side, _, _, _ = quad(0.01, 0.01)
    positions = np.concatenate([front, back, side - [0.06, 0, 0], side + [0.06, 0, 0]])
    colors = np.array([[1, 0, 0, 0.5]] * 4 + [[0, 0, 1, 0.5]] * 4 + [[0, 1, 0, 0.5]] * 8, np.float32)
    b = GltfBuilder()
    m = b.material(pbrMetallicRoughness={}, alphaMode="BLEND", doubleSided=True,
                   extensions={"KHR_materials_unlit": {}})
    b.node(mesh=b.mesh(positions, np.concatenate([triangles + 4 * k for k in range(4)]),
                       np.tile([0.0, 0.0, 1.0], (16, 1)), np.concatenate([uvs] * 4), colors=colors, material=m))
    effect = Object3DEffect.from_file("m", b.write(tmp_path / "turn.glb"), occlusion=frozenset())
    uploads = []
    update_indices = GpuMesh.update_indices
    monkeypatch.setattr(GpuMesh, "update_indices",
                        lambda self, indices: (uploads.append(len(indices)), update_indices(self, indices))[1])

    def drawn(yaw: float) -> np.ndarray:
        face = frontal_face()
        turn = rotation_from_euler(yaw, 0.0, 0.0).astype(np.float32)
        mesh = (face.mesh - face.pose[:3, 3]) @ turn.T + face.pose[:3, 3]
        pose = face.pose.copy()
        pose[:3, :3] = turn
        return centre(renderer.render(np.zeros((H, W, 3), np.uint8), [FaceGeometry(pose, mesh)], effect))

    assert np.abs(drawn(0.0) - np.array([0.5, 0.0, 0.25]) * 255).max() <= 2.0  # red in front, last
    sorted_once = len(uploads)
    drawn(0.4 * SORT_ANGLE_DEG)
    assert len(uploads) == sorted_once
    assert np.abs(drawn(180.0) - np.array([0.25, 0.0, 0.5]) * 255).max() <= 2.0  # blue in front, last
    assert len(uploads) == sorted_once + 1
