"""Effects that look worn, not pasted (issue 16): the head occluder, image outputs, the UV
template, paint that keeps the skin, lighting from the frame and soft contact.

Renders run on EGL (llvmpipe without a GPU) with synthetic faces of canonical shape under a
known pose, and on scikit-image's astronaut.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")
trimesh = pytest.importorskip("trimesh")

from arfx.effects.object3d import Object3DEffect  # noqa: E402
from arfx.effects.registry import EffectRegistry  # noqa: E402
from arfx.geometry.camera import PerspectiveCamera  # noqa: E402
from arfx.geometry.canonical import CanonicalFace  # noqa: E402
from arfx.geometry.pipeline import FaceGeometry, GeometryPipeline, rotation_from_euler  # noqa: E402
from arfx.render.context import create_headless_context  # noqa: E402
from arfx.render.gltf import Material, mesh_from_trimesh  # noqa: E402
from arfx.render.renderer import OCCLUDERS, Renderer  # noqa: E402
from makers import load_script  # noqa: E402

FACE_AND_HEAD = frozenset({"face", "head"})
FACE_ONLY = frozenset({"face"})


@pytest.fixture(scope="module")
def ctx():
    context = create_headless_context()
    yield context
    context.release()


@pytest.fixture(scope="module")
def renderer(ctx):
    r = Renderer(ctx, 400, 400)
    yield r
    r.release()


@pytest.fixture(scope="module")
def registry():
    return EffectRegistry(include_user=False)


@pytest.fixture(scope="module")
def astronaut():
    from arfx.tracking import FaceTracker

    rgb = np.ascontiguousarray(skdata.astronaut())
    with FaceTracker(static_image_mode=True) as tracker:
        faces = tracker.process(rgb)
    assert len(faces) == 1
    geometry = GeometryPipeline().estimate(faces[0].landmarks, rgb.shape[1], rgb.shape[0])
    return rgb, faces[0].landmarks[:468, :2].astype(np.float64), geometry


def synthetic_face(yaw=0.0, pitch=0.0, roll=0.0, translation=(0.0, 0.0, -45.0), mesh=None) -> FaceGeometry:
    canonical = CanonicalFace.load().vertices if mesh is None else mesh
    pose = np.eye(4)
    pose[:3, :3] = rotation_from_euler(yaw, pitch, roll)
    pose[:3, 3] = translation
    return FaceGeometry(pose.astype(np.float32), (canonical @ pose[:3, :3].T + pose[:3, 3]).astype(np.float32))


def drawn(image: np.ndarray, background: int, threshold: int = 20) -> np.ndarray:
    return np.abs(image.astype(np.int16) - background).max(axis=2) > threshold


def grey(size=400, value=128) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


def ring(part: str = "all", occlusion=FACE_AND_HEAD, radius: float = 10.5) -> Object3DEffect:
    """A thin yellow ring around the head at brow height (in the canonical x-z plane)."""
    torus = trimesh.creation.torus(major_radius=radius, minor_radius=0.5, major_sections=96, minor_sections=12)
    torus.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    centre_z = -3.2
    torus.apply_translation((0.0, 6.0, centre_z))
    centres = torus.triangles_center
    keep = {"all": np.ones(len(centres), bool), "front": centres[:, 2] > centre_z,
            "back": centres[:, 2] < centre_z - 0.92 * radius}[part]
    mesh = mesh_from_trimesh(trimesh.Trimesh(torus.vertices, torus.faces[keep], process=False))
    mesh.material = Material(base_color=(1.0, 0.8, 0.0, 1.0), unlit=True, double_sided=True)
    return Object3DEffect("ring", [mesh], occlusion=frozenset(occlusion))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# -- 1. head occluder ----------------------------------------------------------------------

def test_head_is_an_occluder_and_3d_objects_use_it_by_default(registry):
    from arfx.effects.facepaint import KIND as PAINT_KIND
    from arfx.effects.object3d import KIND as OBJECT_KIND

    assert "head" in OCCLUDERS
    assert FACE_AND_HEAD <= OBJECT_KIND.default_occlusion
    assert "face" in PAINT_KIND.default_occlusion and "head" not in PAINT_KIND.default_occlusion
    assert FACE_AND_HEAD <= registry.load("glasses").occlusion


def test_manifest_switches_the_head_occluder(tmp_path):
    from arfx.effects.registry import parse_manifest

    without = parse_manifest('kind = "object3d"\nasset = "a.glb"\n[occlusion]\nhead = false\n')
    assert "head" not in without.occlusion and "face" in without.occlusion
    paint = parse_manifest('kind = "facepaint"\nasset = "a.png"\n[occlusion]\nhead = true\n')
    assert FACE_AND_HEAD <= paint.occlusion


@pytest.mark.parametrize("yaw", [-20.0, 0.0, 20.0])
def test_a_ring_around_the_head_shows_only_its_front_half(renderer, yaw):
    # Seen from above, so that the back of the ring would show over the head.
    face = synthetic_face(yaw=yaw, pitch=-20.0, translation=(0.0, 0.0, -60.0))
    background = grey()
    with_head = drawn(renderer.render(background, [face], ring()), 128)
    face_only = drawn(renderer.render(background, [face], ring(occlusion=FACE_ONLY)), 128)
    front = drawn(renderer.render(background, [face], ring("front", occlusion=())), 128)
    back = drawn(renderer.render(background, [face], ring("back", occlusion=())), 128)
    back_only = back & ~cv2.dilate(front.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert back_only.sum() > 50, "the view must show the ring's back beside the front"
    # The back of the ring (behind the skull) is hidden by the head, not by the face alone.
    assert (with_head & back_only).sum() <= 0.08 * back_only.sum()
    assert (face_only & back_only).sum() >= 0.5 * back_only.sum()
    assert iou(with_head, front) > 0.75 > iou(face_only, front)


@pytest.mark.parametrize("yaw", [60.0, 75.0, 90.0, -75.0])
def test_glasses_temples_vanish_behind_the_ear(renderer, registry, yaw):
    face = synthetic_face(yaw=yaw)
    glasses = registry.load("glasses")
    background = grey()
    with_head = drawn(renderer.render(background, [face], glasses), 128)
    face_only = drawn(renderer.render(background, [face], replace(glasses, occlusion=FACE_ONLY)), 128)
    # The tip of the temple nearer the camera, behind that ear (canonical cm).
    tips = [np.array([side * 7.9, 1.4, -4.9]) for side in (-1.0, 1.0)]
    camera = [face.pose[:3, :3] @ tip + face.pose[:3, 3] for tip in tips]
    near = max(camera, key=lambda point: point[2])
    x, y = PerspectiveCamera().project(near[None], 400, 400)[0]
    yy, xx = np.mgrid[:400, :400]
    spot = (xx - x) ** 2 + (yy - y) ** 2 <= 36
    assert face_only[spot].sum() >= 10, "without the head the temple tip shows"
    assert with_head[spot].sum() == 0, "the ear hides the temple tip"
    mirrored = drawn(renderer.render(background, [face], glasses, mirror=True), 128)[:, ::-1]
    assert iou(mirrored, with_head) > 0.9, "the head hides the same in a mirrored view"
    # The lenses and frame in front of the face are the same either way.
    assert with_head.sum() >= 0.85 * face_only.sum()


def test_head_leaves_the_glasses_in_front_of_the_face_alone(ctx, registry, astronaut):
    rgb, landmarks, geometry = astronaut
    renderer = Renderer(ctx, rgb.shape[1], rgb.shape[0])
    try:
        glasses = registry.load("glasses")
        with_head = renderer.render(rgb, [geometry], glasses)
        face_only = renderer.render(rgb, [geometry], replace(glasses, occlusion=FACE_ONLY))
    finally:
        renderer.release()
    differs = np.abs(with_head.astype(np.int16) - face_only).max(axis=2) > 24
    inner = (landmarks[:, 0] > landmarks[33, 0] - 5) & (landmarks[:, 0] < landmarks[263, 0] + 5)
    x0, x1 = landmarks[inner, 0].min(), landmarks[inner, 0].max()
    assert not differs[:, int(x0): int(x1)].any(), "the head must not cut the frame over the face"
    assert differs.sum() < 200


def test_head_follows_the_tracked_face(ctx):
    """An open jaw takes the head's jaw with it; a wider face widens the head."""
    from arfx.render.head import HeadModel

    model = HeadModel.load()
    canonical = CanonicalFace.load().vertices.astype(np.float64)
    face = synthetic_face()
    rest = model.fit(face.pose, face.mesh)
    wide = canonical * np.array([1.15, 1.0, 1.0])
    widened = model.fit(face.pose, synthetic_face(mesh=wide).mesh)
    span = lambda v: float(v[:, 0].max() - v[:, 0].min())  # noqa: E731
    assert span(widened) == pytest.approx(1.15 * span(rest), rel=0.03)
    open_jaw = canonical.copy()
    below_mouth = canonical[:, 1] < -3.0
    open_jaw[below_mouth, 1] -= 2.0
    opened = model.fit(face.pose, synthetic_face(mesh=open_jaw).mesh)
    chin = np.argmin(np.linalg.norm(model.vertices - canonical[152] + np.array([0, 0, 1.0]), axis=1))
    assert opened[chin, 1] < rest[chin, 1] - 1.0
    back = np.argmin(model.vertices[:, 2])
    assert np.allclose(opened[back], rest[back], atol=1e-4), "the back of the skull stays put"
    # Every head vertex in front of the face's outline stays behind the face surface.
    assert model.vertices[:, 2].max() < canonical[:, 2].max()


# -- 6. image outputs ----------------------------------------------------------------------

def _photo_with_metadata(path, orientation: int = 6):
    """The astronaut stored rotated with EXIF Orientation 6 (as phones save portraits), an sRGB
    profile and a camera make."""
    from PIL import Image, ImageCms

    upright = Image.fromarray(skdata.astronaut()).resize((256, 320))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # Orientation 6 turns it back
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "ArfxTestCamera"  # Make
    stored.save(path, quality=90, icc_profile=icc, exif=exif.tobytes(), dpi=(300, 300))
    return np.asarray(upright), icc


def _luma_quantisation(path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return int(sum(im.quantization[0]))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_image_output_keeps_format_profile_and_exif_with_upright_orientation(tmp_path, suffix):
    from PIL import Image

    from arfx.offline import render_video
    from arfx.options import RenderOptions

    source = tmp_path / "photo.jpg"
    upright, icc = _photo_with_metadata(source)
    out = tmp_path / f"out{suffix}"
    render_video("glasses", source, out, RenderOptions())
    with Image.open(out) as im:
        assert im.format == ("JPEG" if suffix == ".jpg" else "PNG")
        assert im.size == (upright.shape[1], upright.shape[0]), "pixels are written upright"
        assert im.info.get("icc_profile") == icc
        exif = im.getexif()
        assert exif.get(0x0112) == 1, "Orientation must be 1: the pixels are already upright"
        assert exif.get(0x010F) == "ArfxTestCamera"
        assert tuple(round(v) for v in im.info.get("dpi", (0, 0))) == (300, 300)


def test_jpeg_output_quality_defaults_to_95_and_is_an_option(tmp_path):
    from arfx.offline import render_video
    from arfx.options import EncodeOptions, RenderOptions
    from arfx.outputs import write_image

    rgb = np.ascontiguousarray(skdata.astronaut())
    write_image(tmp_path / "q95.jpg", rgb)
    write_image(tmp_path / "q95b.jpg", rgb, quality=95)
    write_image(tmp_path / "q75.jpg", rgb, quality=75)
    assert _luma_quantisation(tmp_path / "q95.jpg") == _luma_quantisation(tmp_path / "q95b.jpg")
    assert _luma_quantisation(tmp_path / "q95.jpg") < 0.4 * _luma_quantisation(tmp_path / "q75.jpg")
    source = tmp_path / "photo.jpg"
    _photo_with_metadata(source, orientation=1)
    render_video("glasses", source, tmp_path / "low.jpg", RenderOptions(encode=EncodeOptions(jpeg_quality=60)))
    assert _luma_quantisation(tmp_path / "low.jpg") > _luma_quantisation(tmp_path / "q75.jpg")


def test_metadata_that_does_not_fit_an_rgb_output_is_dropped(tmp_path):
    from PIL import Image, ImageCms

    from arfx.outputs import image_metadata

    grey_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    path = tmp_path / "lab.png"
    Image.new("RGB", (8, 8)).save(path, icc_profile=grey_profile)
    assert "icc_profile" not in image_metadata(path)
    assert image_metadata(tmp_path / "missing.png") == {}


# -- 5. UV template ------------------------------------------------------------------------

def test_uv_template_is_transparent_and_the_committed_one_is_current():
    from pathlib import Path

    from PIL import Image

    module = load_script("make_uv_template")
    made = module.template(CanonicalFace.load(), 1024)
    assert made.shape == (1024, 1024, 4)
    assert (made[..., 3] == 0).mean() > 0.7, "the template must leave most of the face transparent"
    committed = Path(__file__).resolve().parent.parent / "docs" / "uv_template.png"
    with Image.open(committed) as im:
        assert im.mode == "RGBA"
        assert np.array_equal(np.asarray(im), made), "docs/uv_template.png is stale: run scripts/make_uv_template.py"


def test_uv_template_markers_land_on_the_features(ctx):
    """Painted on a face, each marker of the template lands where that feature's canonical
    landmarks project (the eye markers on the eyes, not beside them)."""
    from arfx.effects.facepaint import FacePaintEffect

    module = load_script("make_uv_template")
    image = module.template(CanonicalFace.load(), 1024)
    red = (image[..., 0] > 200) & (image[..., 1] < 40) & (image[..., 3] > 200)
    only_markers = np.where(red[..., None], image, 0).astype(np.uint8)
    face = synthetic_face(translation=(0.0, 0.0, -30.0))
    renderer = Renderer(ctx, 480, 480)
    try:
        out = renderer.render(np.zeros((480, 480, 3), np.uint8), [face], FacePaintEffect("template", only_markers, shading=0.0))
    finally:
        renderer.release()
    lit = out[..., 0] > 100
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(lit.astype(np.uint8))
    blobs = centroids[1:][stats[1:, cv2.CC_STAT_AREA] >= 3]
    for name, indices in module.MARKERS.items():
        if name in ("forehead", "chin"):
            continue  # on the mesh's edge, where a flat marker is cut by the outline
        target = PerspectiveCamera().project(face.mesh[list(indices)].mean(axis=0, keepdims=True), 480, 480)[0]
        nearest = np.min(np.linalg.norm(blobs - target, axis=1))
        assert nearest < 4.0, (name, nearest)
    eye = PerspectiveCamera().project(face.mesh[[33]], 480, 480)[0]
    assert np.min(np.linalg.norm(blobs - eye, axis=1)) > 15, "no marker at the outer eye corner"


# -- 2. lighting from the frame, 3. paint that keeps the skin ----------------------------------

def lit_face_frame(face: FaceGeometry, light, size: int = 400, background: int = 70) -> np.ndarray:
    """A camera frame of the face mesh itself, Lambert-shaded by a light from `light` (camera
    space, towards the light), with skin albedo, in sRGB."""
    triangles = CanonicalFace.load().triangles
    v = face.mesh.astype(np.float64)
    pixels = PerspectiveCamera().project(v, size, size)
    a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
    normals = np.cross(b - a, c - a)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    light = np.asarray(light, np.float64) / np.linalg.norm(light)
    shade = 0.15 + 0.85 * np.clip(normals @ light, 0.0, 1.0)
    albedo = np.array([0.60, 0.42, 0.33])
    image = np.full((size, size, 3), background, np.uint8)
    centres = (a + b + c) / 3.0
    for i in np.argsort(centres[:, 2]):  # far to near
        if normals[i] @ -centres[i] <= 0:
            continue
        linear = albedo * shade[i]
        srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055) * 255.0
        cv2.fillConvexPoly(image, np.round(pixels[triangles[i]] * 16).astype(np.int32),
                           tuple(float(x) for x in srgb), cv2.LINE_AA, 4)
    return image


def ball(radius: float = 2.5, centre=(0.0, 0.0, 9.0)) -> Object3DEffect:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    sphere.apply_translation(centre)
    mesh = mesh_from_trimesh(sphere)
    mesh.material = Material(base_color=(0.6, 0.6, 0.6, 1.0), roughness=0.6)
    return Object3DEffect("ball", [mesh], occlusion=frozenset())


def luminance(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def halves(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Mean luminance of the left and right halves (image columns) of a mask."""
    ys, xs = np.nonzero(mask)
    middle = (xs.min() + xs.max()) / 2.0
    lum = luminance(image)
    return float(lum[ys[xs < middle], xs[xs < middle]].mean()), float(lum[ys[xs > middle], xs[xs > middle]].mean())


def grey_paint(value: int = 150) -> np.ndarray:
    texture = np.full((256, 256, 4), value, np.uint8)
    texture[..., 3] = 255
    return texture


@pytest.mark.parametrize("yaw", [0.0, 15.0])
def test_object_and_paint_are_brighter_on_the_side_the_frame_is_lit_from(renderer, yaw):
    from arfx.effects.facepaint import FacePaintEffect

    face = synthetic_face(yaw=yaw)
    sphere = ball()
    paint = FacePaintEffect("grey", grey_paint(), shading=1.0)
    results = {}
    for side, light in (("left", (-1.0, 0.3, 0.6)), ("right", (1.0, 0.3, 0.6))):
        frame = lit_face_frame(face, light)
        drawn_ball = renderer.render(frame, [face], sphere)
        ball_mask = np.abs(drawn_ball.astype(np.int16) - frame).max(axis=2) > 0
        painted = renderer.render(frame, [face], paint)
        face_mask = np.abs(painted.astype(np.int16) - frame).max(axis=2) > 0
        results[side] = (halves(drawn_ball, ball_mask), halves(painted, face_mask))
    for kind in (0, 1):  # the ball, the paint
        (l_left, r_left), (l_right, r_right) = results["left"][kind], results["right"][kind]
        assert l_left > 1.15 * r_left, ("lit from image-left", kind, results)
        assert r_right > 1.15 * l_right, ("lit from image-right", kind, results)


def test_astronaut_relit_from_either_side_lights_objects_and_paint_from_that_side(ctx, astronaut):
    from arfx.effects.facepaint import FacePaintEffect

    rgb, landmarks, geometry = astronaut
    renderer = Renderer(ctx, rgb.shape[1], rgb.shape[0])
    x = np.linspace(0.0, 1.0, rgb.shape[1])[None, :, None]
    frames = {"left": np.clip(rgb * (1.7 - 1.4 * x), 0, 255).astype(np.uint8),
              "right": np.clip(rgb * (0.3 + 1.4 * x), 0, 255).astype(np.uint8)}
    nose = geometry.mesh[1]
    sphere = ball(centre=tuple(np.linalg.inv(geometry.pose)[:3, :3] @ (nose - geometry.pose[:3, 3])
                               + np.array([0.0, 0.0, 4.0])))
    paint = FacePaintEffect("grey", grey_paint(), shading=1.0)
    ratios = {}
    try:
        for side, frame in frames.items():
            out = renderer.render(frame, [geometry], sphere)
            left, right = halves(out, np.abs(out.astype(np.int16) - frame).max(axis=2) > 0)
            painted = renderer.render(frame, [geometry], paint)
            p_left, p_right = halves(painted, np.abs(painted.astype(np.int16) - frame).max(axis=2) > 0)
            ratios[side] = (left / right, p_left / p_right)
    finally:
        renderer.release()
    assert ratios["left"][0] > 1.05 * ratios["right"][0], ratios
    assert ratios["left"][1] > 1.15 * ratios["right"][1], ratios


def test_a_still_scene_keeps_its_light_and_a_change_is_seen_the_next_frame(ctx, monkeypatch):
    """The light is estimated again when the picture or the face changes, not every frame."""
    import arfx.render.lighting as lighting

    estimates = []
    real = lighting.estimate_face_light
    monkeypatch.setattr(lighting, "estimate_face_light", lambda *a, **k: estimates.append(1) or real(*a, **k))
    renderer = Renderer(ctx, 400, 400)
    try:
        face = synthetic_face()
        sphere = ball()
        left, right = lit_face_frame(face, (-1.0, 0.3, 0.6)), lit_face_frame(face, (1.0, 0.3, 0.6))
        first = renderer.render(left, [face], sphere)
        for _ in range(2):
            assert np.array_equal(renderer.render(left, [face], sphere), first)
        assert len(estimates) == 1, "a still scene keeps its light"
        relit = renderer.render(right, [face], sphere)
        assert len(estimates) == 2 and not np.array_equal(relit, first), "a light from the other side is seen at once"
        moved = synthetic_face(translation=(3.0, 0.0, -45.0))
        renderer.render(right, [moved], sphere)
        assert len(estimates) == 3, "a face that moved is measured again"
        for _ in range(lighting.LIGHT_REUSE_FRAMES):
            renderer.render(right, [moved], sphere)
        assert len(estimates) == 4, "and at least every LIGHT_REUSE_FRAMES frames"
    finally:
        renderer.release()


def test_a_face_whose_light_cannot_be_measured_gets_the_studio_light_in_the_same_form():
    """Too little skin seen: the frame-light shading path gets the fixed studio light as
    harmonics (bright towards the key at the upper left, the ambient level behind)."""
    from arfx.render.lighting import STUDIO_AMBIENT, STUDIO_FILL, STUDIO_KEY, studio_light

    light = studio_light()
    key = np.asarray(STUDIO_KEY[0]) / np.linalg.norm(STUDIO_KEY[0])
    facing_key, facing_away = light.irradiance(np.array([key, -key]))[:, 0]
    expected = STUDIO_AMBIENT + STUDIO_KEY[1] + STUDIO_FILL[1] * max(
        0.0, float(key @ (np.asarray(STUDIO_FILL[0]) / np.linalg.norm(STUDIO_FILL[0]))))
    assert facing_key == pytest.approx(expected, abs=0.12)
    assert facing_away < 0.5 * facing_key
    assert np.allclose(light.key_direction, key, atol=1e-6) and light.level == 1.0


def test_a_dark_frame_dims_objects(ctx, astronaut):
    rgb, _, geometry = astronaut
    renderer = Renderer(ctx, rgb.shape[1], rgb.shape[0])
    try:
        sphere = ball(centre=(0.0, 0.0, 12.0))
        bright = renderer.render(rgb, [geometry], sphere)
        dim_frame = (rgb * 0.3).astype(np.uint8)
        dim = renderer.render(dim_frame, [geometry], sphere)
        mask = np.abs(bright.astype(np.int16) - rgb).max(axis=2) > 0
        assert luminance(dim)[mask].mean() < 0.6 * luminance(bright)[mask].mean()
        fixed = Renderer(ctx, rgb.shape[1], rgb.shape[0], lighting="fixed")
        try:
            assert np.array_equal(fixed.render(rgb, [geometry], sphere)[mask], fixed.render(dim_frame, [geometry], sphere)[mask])
        finally:
            fixed.release()
    finally:
        renderer.release()
    with pytest.raises(Exception, match="lighting must be one of"):
        Renderer(ctx, 64, 64, lighting="sunny")


def test_paint_keeps_the_skins_shading_unless_told_not_to(renderer, astronaut, ctx):
    from arfx.effects.facepaint import FacePaintEffect
    from arfx.effects.registry import parse_manifest

    rgb, landmarks, geometry = astronaut
    full = Renderer(ctx, rgb.shape[1], rgb.shape[0])
    try:
        flat = full.render(rgb, [geometry], FacePaintEffect("flat", grey_paint(), shading=0.0))
        shaded = full.render(rgb, [geometry], FacePaintEffect("skin", grey_paint(), shading=1.0))
    finally:
        full.release()
    mask = np.abs(shaded.astype(np.int16) - rgb).max(axis=2) > 0
    mask &= np.abs(flat.astype(np.int16) - rgb).max(axis=2) > 0
    skin = luminance(rgb)[mask]
    assert luminance(flat)[mask].std() < 1.0, "flat paint is one colour"
    assert np.corrcoef(skin, luminance(shaded)[mask])[0, 1] > 0.8, "shaded paint follows the skin's shading"
    # The per-effect choice lives in the [paint] table.
    assert parse_manifest('kind = "facepaint"\nasset = "a.png"\n[paint]\nshading = 0.0\n').options["shading"] == 0.0
    with pytest.raises(Exception, match="shading"):
        parse_manifest('kind = "facepaint"\nasset = "a.png"\n[paint]\nshading = 2\n')


def test_occluders_written_only_in_the_objects_box_change_no_pixel(renderer, registry, monkeypatch):
    """The head and face depth go only where the object can draw (speed), with the same picture."""
    import arfx.render.renderer as module

    face = synthetic_face(yaw=30.0, translation=(2.0, 1.0, -40.0))
    frame = lit_face_frame(face, (0.3, 0.3, 1.0))
    boxes = []
    real = module._screen_box
    monkeypatch.setattr(module, "_screen_box", lambda *a: boxes.append(real(*a)) or boxes[-1])
    effects = [registry.load(name) for name in ("glasses", "tophat")]
    boxed = [renderer.render(frame, [face], effect) for effect in effects]
    assert all(box is not None and box[2] * box[3] < 0.6 * 400 * 400 for box in boxes), boxes
    monkeypatch.setattr(module, "_screen_box", lambda *a: None)
    for effect, picture in zip(effects, boxed):
        assert np.array_equal(renderer.render(frame, [face], effect), picture), effect.name


# -- 4. soft contact -------------------------------------------------------------------------

def test_glasses_darken_the_face_where_they_touch_it(renderer, registry, monkeypatch):
    import arfx.render.contact as contact

    face = synthetic_face(yaw=20.0, translation=(0.0, 0.0, -35.0))
    frame = lit_face_frame(face, (0.0, 0.3, 1.0))
    glasses = registry.load("glasses")
    with_contact = renderer.render(frame, [face], glasses).astype(np.int16)
    monkeypatch.setattr(contact, "STRENGTH", 0.0)
    without = renderer.render(frame, [face], glasses).astype(np.int16)
    darker = (without - with_contact).max(axis=2)
    assert (with_contact <= without + 1).all(), "contact only darkens"
    shaded = darker > 4
    assert shaded.sum() > 100
    # Where it darkens, the glasses are near: within 25 px of a pixel they cover.
    covered = np.abs(without - frame).max(axis=2) > 30
    near = cv2.dilate(covered.astype(np.uint8), np.ones((51, 51), np.uint8)).astype(bool)
    assert not (shaded & ~near).any()
    # Under the bridge, on the nose, it is darker; at the chin nothing changes.
    nose, chin = PerspectiveCamera().project(face.mesh[[6, 152]], 400, 400)
    yy, xx = np.mgrid[:400, :400]
    assert darker[(xx - nose[0]) ** 2 + (yy - nose[1]) ** 2 <= 64].max() > 8
    assert darker[(xx - chin[0]) ** 2 + (yy - chin[1]) ** 2 <= 100].max() == 0


def test_contact_field_measures_distance_to_the_object():
    from arfx.render.contact import distance_field

    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    field = distance_field([(box.vertices, box.faces)], radius=1.2)
    cell = (field.high - field.low) / np.array(field.values.shape[::-1])

    def at(point):
        index = np.floor((np.asarray(point) - field.low) / cell).astype(int)
        return float(field.values[index[2], index[1], index[0]])

    assert at((1.0, 0.0, 0.0)) < 0.25  # on the face of the box
    assert at((1.7, 0.0, 0.0)) == pytest.approx(0.7, abs=0.25)  # within a cell (0.2 cm)
    assert at((2.15, 0.0, 0.0)) >= 0.8  # beyond the shadow radius
