"""The one-import Python API: FaceEffects, stacking, anchors, occlusion, plug-in kinds, many pipelines."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from skimage import data as skdata

import arfx
from makers import box_glb, green_mask

BUILT_INS = ("glasses", "facepaint", "mesh", "axis", "landmarks")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(skdata.astronaut())


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 30


def _centre(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    assert len(xs) > 30, "nothing drawn"
    return np.array([np.median(xs), np.median(ys)])


def _effect_folder(root, name: str, manifest: str, glb_centre=(0.0, 0.0, 0.0), size: float = 1.5):
    folder = root / name
    folder.mkdir(parents=True)
    box_glb(folder / "box.glb", centre=glb_centre, size=size)
    (folder / "effect.toml").write_text(manifest)
    return folder


def test_one_import_draws_glasses_and_reports_faces(astronaut, no_user_effects):
    with arfx.FaceEffects("glasses", max_faces=2, static=True) as fx:
        out = fx(astronaut)
        faces = fx.faces
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, arfx.FaceResult) and face.landmarks.shape == (468, 3)
    assert face.pose.shape == (4, 4) and face.mesh.shape == (468, 3) and 0.5 < face.score <= 1
    # She smiles with open eyes (expression scores ride along on each face).
    assert face.expressions["mouthSmileLeft"] > 0.5 and face.expressions["mouthSmileRight"] > 0.5
    assert face.expressions["eyeBlinkLeft"] < 0.3 and face.expressions["eyeBlinkRight"] < 0.3
    changed = _changed(out, astronaut)
    # The glasses cover the eyes and nothing far from the face changes.
    for eye in ((33, 133), (263, 362)):
        x, y = face.landmarks[list(eye), :2].mean(axis=0).astype(int)
        assert changed[y - 4:y + 5, x - 4:x + 5].mean() > 0.5
    x0, y0 = face.landmarks[:, :2].min(axis=0) - 60
    x1, y1 = face.landmarks[:, :2].max(axis=0) + 60
    outside = changed.copy()
    outside[max(0, int(y0)):int(y1), max(0, int(x0)):int(x1)] = False
    assert outside.sum() == 0


def test_bad_frames_are_refused_with_one_line(no_user_effects):
    with arfx.FaceEffects("mesh") as fx:
        with pytest.raises(ValueError, match="HxWx3 uint8"):
            fx(np.zeros((32, 32), np.uint8))
    with pytest.raises(arfx.EffectError, match="unknown effect 'glases'.*glasses"):
        arfx.FaceEffects("glases")


def test_many_pipelines_alternate_on_one_thread_with_every_builtin_effect(astronaut, no_user_effects):
    """Each FaceEffects owns a GL context and makes it current: alternating them never mixes
    (or crashes on) another's objects, and each keeps giving the same picture."""
    first = {}
    instances = {name: arfx.FaceEffects(name, static=True) for name in BUILT_INS}
    for _ in range(2):
        for name, fx in instances.items():
            image = fx(astronaut)
            if name in first:
                assert np.array_equal(image, first[name]), name
            first[name] = image
    # Closing some leaves the others working; new ones can be made in between.
    for name in ("mesh", "axis"):
        instances.pop(name).close()
    again = arfx.FaceEffects("glasses", static=True)
    assert np.array_equal(again(astronaut), first["glasses"])
    again.close()
    for name, fx in instances.items():
        assert np.array_equal(fx(astronaut), first[name])
        fx.close()
    gc.collect()


def test_stacks_from_a_list_a_plus_name_and_a_manifest_agree(astronaut, no_user_effects):
    (no_user_effects / "paintedglasses").mkdir()
    (no_user_effects / "paintedglasses" / "effect.toml").write_text(
        'kind = "stack"\n[stack]\neffects = ["facepaint", "glasses"]\n')
    images = []
    for effects in (["facepaint", "glasses"], "facepaint+glasses", "paintedglasses"):
        with arfx.FaceEffects(effects, static=True) as fx:
            images.append(fx(astronaut))
    assert np.array_equal(images[0], images[1]) and np.array_equal(images[0], images[2])
    alone = {}
    for name in ("facepaint", "glasses"):
        with arfx.FaceEffects(name, static=True) as fx:
            alone[name] = fx(astronaut)
    stacked = images[0]
    # The stack shows both: paint where only paint drew, glasses where glasses drew.
    paint_only = _changed(alone["facepaint"], astronaut) & ~_changed(alone["glasses"], astronaut)
    glasses_only = _changed(alone["glasses"], astronaut) & ~_changed(alone["facepaint"], astronaut)
    assert paint_only.sum() > 200 and glasses_only.sum() > 200
    # (Near the frame the paint is a little darker in the stack: the glasses' contact shadow.)
    assert (~_changed(stacked, alone["facepaint"]))[paint_only].mean() > 0.95
    assert (stacked[glasses_only] == alone["glasses"][glasses_only]).mean() > 0.95


def test_a_stack_that_includes_itself_is_refused(no_user_effects):
    (no_user_effects / "loop").mkdir()
    (no_user_effects / "loop" / "effect.toml").write_text('kind = "stack"\n[stack]\neffects = ["glasses", "loop"]\n')
    with pytest.raises(arfx.EffectError, match="includes itself"):
        arfx.load_effect("loop")


@pytest.mark.parametrize("point,landmark", [("nose_tip", 1), ("chin", 152), ("left_eye", 263),
                                            ("right_eye", 33)])
def test_anchor_puts_the_object_on_that_point(astronaut, no_user_effects, point, landmark):
    folder = _effect_folder(no_user_effects, f"dot_{point}", f'kind = "object3d"\nasset = "box.glb"\n'
                            f'anchor = "face.{point}"\n[occlusion]\nface = false\n')
    with arfx.FaceEffects(folder, static=True) as fx:
        out = fx(astronaut)
        face = fx.faces[0]
    centre = _centre(green_mask(out))
    target = face.landmarks[landmark, :2]
    tolerance = 14 if "eye" in point else 8  # eyes: the anchor is the eye's two corners' middle
    assert np.linalg.norm(centre - target) < tolerance, (centre, target)


def test_left_means_the_persons_own_left_also_when_mirrored(astronaut, no_user_effects):
    folder = _effect_folder(no_user_effects, "lefty", 'kind = "object3d"\nasset = "box.glb"\n'
                            'anchor = "face.left_eye"\n[occlusion]\nface = false\n')
    width = astronaut.shape[1]
    for mirror in (False, True):
        with arfx.FaceEffects(folder, static=True, mirror=mirror) as fx:
            out = fx(astronaut)
            face = fx.faces[0]
        # The person's left eye is on the image's right (they face the camera) ...
        assert face.landmarks[263, 0] > face.landmarks[33, 0]
        centre = _centre(green_mask(out))
        expected = face.landmarks[[263, 362], 0].mean()
        # ... and mirroring the view moves the drawing with that eye.
        assert abs(centre[0] - (width - 1 - expected if mirror else expected)) < 14


def test_occlusion_table_says_whether_the_face_hides_an_object(astronaut, no_user_effects):
    # A box at the canonical origin sits inside the head: the face (and the head occluder
    # behind it) hide it unless told not to.
    hidden = _effect_folder(no_user_effects, "inside", 'kind = "object3d"\nasset = "box.glb"\n', size=3.0)
    shown = _effect_folder(no_user_effects, "inside_shown", 'kind = "object3d"\nasset = "box.glb"\n'
                           '[occlusion]\nface = false\nhead = false\n', size=3.0)
    with arfx.FaceEffects(hidden, static=True) as fx:
        assert green_mask(fx(astronaut)).sum() == 0
    with arfx.FaceEffects(shown, static=True) as fx:
        assert green_mask(fx(astronaut)).sum() > 100


def test_anchor_and_occlusion_mistakes_are_one_line_reasons(no_user_effects):
    from arfx.effects.registry import parse_manifest
    from arfx.effects.schema import ManifestError

    cases = {
        'kind = "object3d"\nasset = "a.glb"\nanchor = "face.nose"\n': "unknown face point 'nose'",
        'kind = "object3d"\nasset = "a.glb"\nanchor = "body.left_knee"\n': "unknown body point 'left_knee'",
        'kind = "object3d"\nasset = "a.glb"\nanchor = "foot.toe"\n': "must start with one of: face.",
        'kind = "facepaint"\nasset = "a.png"\nanchor = "face.nose_tip"\n': None,
        'kind = "object3d"\nasset = "a.glb"\n[occlusion]\nfaec = false\n': "did you mean 'face'",
        'kind = "object3d"\nasset = "a.glb"\n[occlusion]\nface = 1\n': "occlusion.face must be true or false",
        'kind = "stack"\nanchor = "face.chin"\n[stack]\neffects = ["a"]\n': "a stack effect has no anchor",
        'kind = "stack"\n[stack]\neffects = []\n': "stack.effects must be a list of effect names",
    }
    for text, message in cases.items():
        if message is None:  # face paint covers the mesh: any face point is accepted and means the face
            parse_manifest(text)
            continue
        with pytest.raises(ManifestError, match=message):
            parse_manifest(text)


def test_a_new_effect_kind_is_one_table_entry(astronaut, no_user_effects, monkeypatch):
    """A kind defined outside arfx plugs in through the kinds table alone."""
    from arfx.effects.debug import MeshEffect
    from arfx.effects.kinds import KINDS
    from arfx.effects.schema import EffectKind, Field, number_in

    tint = EffectKind("tint", lambda spec, load: MeshEffect(name=spec.name, fill_color=(1.0, 0.0, 0.0),
                                                            fill_opacity=spec.options["opacity"],
                                                            wireframe=False),
                      table="tint", fields=(Field("opacity", 0.5, number_in(0, 1)),))
    monkeypatch.setitem(KINDS, "tint", tint)
    (no_user_effects / "redface").mkdir()
    (no_user_effects / "redface" / "effect.toml").write_text('kind = "tint"\n[tint]\nopacity = 0.9\n')
    registry = arfx.EffectRegistry()
    assert registry.info("redface").ok and registry.info("redface").kind == "tint"
    with arfx.FaceEffects("redface", static=True) as fx:
        out = fx(astronaut)
        nose = fx.faces[0].landmarks[4, :2].astype(int)
    r, g, b = out[nose[1], nose[0]].astype(int)
    assert r > 180 and g < 80 and b < 80
    (no_user_effects / "redface" / "effect.toml").write_text('kind = "tint"\n[tint]\nopacity = 2\n')
    assert "tint.opacity must be a number from 0 to 1" in arfx.EffectRegistry().info("redface").broken


def test_switching_effects_and_tracking_without_drawing(astronaut, no_user_effects):
    with arfx.FaceEffects("mesh", static=True) as fx:
        result = fx.track(astronaut, timestamp=1.5)
        assert isinstance(result, arfx.FrameResult) and result.timestamp == 1.5
        assert (result.width, result.height) == (512, 512) and len(result.faces) == 1
        assert result.hands == [] and result.bodies == [] and result.segmentation is None
        mesh_image = fx(astronaut)
        fx.effect = "glasses"
        switched = fx(astronaut)
    with arfx.FaceEffects("glasses", static=True) as fresh:
        assert np.array_equal(switched, fresh(astronaut))
    assert not np.array_equal(mesh_image, astronaut) and not np.array_equal(mesh_image, switched)


def test_flat_namespace_exports_everything_it_lists():
    for name in arfx.__all__:
        assert getattr(arfx, name) is not None
    with pytest.raises(AttributeError):
        arfx.NoSuchThing  # noqa: B018


def test_switching_effects_does_not_pile_up_gpu_passes(astronaut, no_user_effects):
    """Each switch loads a new effect object; the old one's GPU pass is released, so a long
    session that switches often keeps its GPU memory bounded."""
    with arfx.FaceEffects("mesh", static=True) as fx:
        small = np.ascontiguousarray(astronaut[::2, ::2])
        for name in ["glasses", "facepaint", "mesh", "facepaint+glasses"] * 5:
            fx.effect = name
            fx(small)
        renderer = fx._pipeline.renderer
        assert len(renderer._passes) <= 2  # just the stack's two members


def test_one_set_of_tracking_defaults_everywhere():
    """TrackingOptions is the one declaration of the defaults: the tracker's own keyword
    defaults, the API's and the CLI's agree with it."""
    import inspect

    from arfx import cli
    from arfx.options import TrackingOptions

    defaults = TrackingOptions()
    tracker = {name: p.default for name, p in inspect.signature(arfx.FaceTracker).parameters.items()}
    for name, value in defaults.tracker_arguments().items():
        assert tracker[name] == value, name
    api = {name: p.default for name, p in inspect.signature(arfx.FaceEffects).parameters.items()}
    for field in ("max_faces", "static", "detector", "refine", "smooth", "min_detection_confidence",
                  "min_tracking_confidence"):
        assert api[field] == getattr(defaults, field), field
    for command in ("render", "track", "run", "bench"):
        args = cli.build_parser().parse_args([command, "x", "-i", "a.mp4", "-o", "b.mp4"]
                                             if command == "render" else
                                             [command, "in.mp4", "-o", "o.npz"] if command == "track" else
                                             [command])
        assert cli._tracking_options(args, static=defaults.static) == defaults, command


def test_antialiasing_is_a_choice_and_off_by_default_on_software_gl(astronaut, no_user_effects):
    images = {}
    for samples in (None, 0, 4):
        with arfx.FaceEffects("glasses", static=True, antialias=samples) as fx:
            images[samples] = fx(astronaut)
            renderer = fx._pipeline.renderer.ctx.info["GL_RENDERER"]
    if "llvmpipe" in renderer.lower():
        assert np.array_equal(images[None], images[0])
    edges = np.abs(images[4].astype(int) - images[0].astype(int)).max(axis=2) > 0
    assert 50 < edges.sum() < 0.05 * edges.size  # only the glasses' edges differ
