"""`arfx preview`: an effect alone on a translucent canonical head, from the front, at
three-quarter and from the side, so that authors see its scale and placement without a camera.

The head is the canonical face mesh (the one effects are authored against) with a skull
behind it. Each view is rendered three times: the effect alone (A), the head with the effect
depth-tested against it (B) and the head alone (its outline); where the head is, the picture
is A + HEAD_ALPHA * (B - A), so parts of the effect inside or behind the head show through it
and parts in front of it are drawn over it. Effects are drawn without their occluders so that
nothing is hidden. A caption gives the effect's placed size in cm.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from pathlib import Path

import numpy as np

from arfx.errors import EffectError

log = logging.getLogger(__name__)

#: (label, yaw, pitch) in degrees: the head turned to show its left side, seen a little from above.
VIEWS = (("front", 0.0, 0.0), ("three-quarter", 45.0, 10.0), ("side", 90.0, 0.0))
BACKGROUND = (232, 232, 228)
HEAD_COLOR = (0.30, 0.40, 0.60, 1.0)  # linear RGBA of the head
HEAD_ALPHA = 0.55  # how much of the head covers what lies behind it
# Skull: an ellipsoid behind the face mesh (cm, canonical face space). An adult head is
# ~15.5 cm wide, ~19 cm from brow to back and ~22.5 cm from chin to crown.
SKULL_CENTRE = (0.0, 2.1, -4.3)
SKULL_RADII = (7.7, 11.0, 9.5)
CAPTION_HEIGHT = 30
FRAME_LIMIT_CM = 500.0


def load_target(target: str, effects_dirs=()) -> object:
    """The effect to preview: a path to an asset file or effect folder, or an effect name
    (names joined with + make a stack)."""
    from arfx.effects.registry import EffectRegistry, load_effect_path

    path = Path(target).expanduser()
    if path.exists():
        return load_effect_path(path, effects_dirs)
    if os.sep in target or Path(target).suffix.lower() in (".glb", ".gltf", ".png", ".jpg", ".jpeg"):
        raise EffectError(f"{target}: no such file or effect folder")
    return EffectRegistry(effects_dirs).load(target)


def head_meshes() -> list:
    """The translucent head: the canonical face mesh and a skull cap behind it (MeshData)."""
    import trimesh

    from arfx.geometry.canonical import CanonicalFace
    from arfx.render.gltf import Material, mesh_from_trimesh

    canonical = CanonicalFace.load()
    vertices = canonical.vertices.astype(np.float64)
    face = trimesh.Trimesh(vertices, canonical.triangles, process=False)
    if face.face_normals[:, 2].mean() < 0:  # outward (towards the viewer) for back-face culling
        face.invert()
    # Half a millimetre under the surface, so face paint drawn on the surface is never hidden.
    face = trimesh.Trimesh(vertices - 0.05 * face.vertex_normals, face.faces, process=False)
    skull = trimesh.creation.icosphere(subdivisions=4)
    skull.apply_scale(SKULL_RADII)
    skull.apply_translation(SKULL_CENTRE)
    # Where the skull would poke through the face, push it back under the face's surface
    # (the shell stays closed, so no gap opens along the face's edge).
    from scipy.spatial import cKDTree

    points = np.asarray(skull.vertices).copy()
    distance, nearest = cKDTree(vertices[:, :2]).query(points[:, :2])
    inside = distance < 1.0
    points[inside, 2] = np.minimum(points[inside, 2], vertices[nearest[inside], 2] - 1.0)
    skull = trimesh.Trimesh(points, skull.faces, process=False)
    meshes = []
    for name, mesh in (("head_face", face), ("head_skull", skull)):
        material = Material(base_color=HEAD_COLOR, metallic=0.0, roughness=0.9)
        data = mesh_from_trimesh(mesh, name=name)
        data.material = material
        meshes.append(data)
    return meshes


def _unoccluded(effect):
    """The effect with no occluders (a stack: each member), so the preview hides nothing."""
    from arfx.effects.stack import EffectStack

    if isinstance(effect, EffectStack):
        return EffectStack(effect.name, [_unoccluded(member) for member in effect.effects])
    if dataclasses.is_dataclass(effect) and hasattr(effect, "occlusion"):
        return dataclasses.replace(effect, occlusion=frozenset())
    return effect


def _members(effect) -> list:
    from arfx.effects.stack import EffectStack

    if isinstance(effect, EffectStack):
        return [leaf for member in effect.effects for leaf in _members(member)]
    return [effect]


def placed_boxes(effect) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, low, high) in canonical face space (cm) for each 3D object in the effect."""
    from arfx.effects.object3d import Object3DEffect
    from arfx.geometry.pipeline import FaceGeometry

    rest = FaceGeometry(np.eye(4, dtype=np.float32), _canonical_vertices())
    boxes = []
    for member in _members(effect):
        if isinstance(member, Object3DEffect) and member.meshes:
            low, high = member.box()
            origin = member.anchor.matrix(rest)[:3, 3]
            boxes.append((member.name, low + origin, high + origin))
    return boxes


def _canonical_vertices() -> np.ndarray:
    from arfx.geometry.canonical import CanonicalFace

    return CanonicalFace.load().vertices.astype(np.float32)


def _view_pose(yaw: float, pitch: float, centre: np.ndarray, distance: float) -> np.ndarray:
    from arfx.geometry.transforms import rotation_xyz

    rotation = rotation_xyz((pitch, -yaw, 0.0))  # turned by yaw, then tipped towards the viewer
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = -rotation @ centre + np.array([0.0, 0.0, -distance])
    return pose.astype(np.float32)


def caption(effect) -> str:
    """The effect's name and kind; for each 3D object (up to 3) its placed size and where its
    centre lies in canonical face space (cm)."""
    boxes = placed_boxes(effect)
    kind = getattr(effect, "kind", type(effect).__name__)
    text = f"{effect.name} ({kind})"
    for name, low, high in boxes[:3]:
        size = " x ".join(f"{v:.3g}" for v in high - low)
        centre = ", ".join(f"{v:.3g}" for v in (low + high) / 2.0 + 0.0)
        text += (f"   {name}: " if len(boxes) > 1 else ": ") + f"{size} cm (w x h x d) at ({centre})"
    return text


def preview_image(effect, size: int = 400) -> np.ndarray:
    """uint8 [size + caption, 3 * size, 3]: the effect on the translucent head, three views."""
    from PIL import Image, ImageDraw

    from arfx.effects.object3d import Object3DEffect
    from arfx.geometry.pipeline import FaceGeometry
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    if size < 64 or size > 4096:
        raise EffectError(f"preview size {size} is out of range; use 64 to 4096 pixels")
    head = Object3DEffect("head", head_meshes(), occlusion=frozenset())
    shown = _unoccluded(effect)
    vertices = _canonical_vertices()
    # Frame the head and everything the effect places, whatever their sizes.
    corners = [vertices.min(axis=0), vertices.max(axis=0),
               np.subtract(SKULL_CENTRE, SKULL_RADII), np.add(SKULL_CENTRE, SKULL_RADII)]
    for _, low, high in placed_boxes(effect):
        corners += [low, high]
    # At most FRAME_LIMIT_CM from the head: what lies farther is out of view (the caption says where).
    corners = np.clip(np.asarray(corners, dtype=np.float64), -FRAME_LIMIT_CM, FRAME_LIMIT_CM)
    low, high = corners.min(axis=0), corners.max(axis=0)
    centre = (low + high) / 2.0
    radius = float(np.linalg.norm(high - low)) / 2.0
    ctx = create_headless_context()
    panels = []
    try:
        # 4x MSAA even on software GL: a preview is three still pictures, so smooth edges are cheap.
        renderer = Renderer(ctx, size, size, samples=4)
        if hasattr(renderer, "lighting"):
            renderer.lighting = "fixed"  # the studio light: a plain background has no light to estimate
        half_fov = math.radians(renderer.camera.fov_y) / 2.0
        distance = max(radius / math.sin(half_fov) * 0.9, radius + 2.0 * renderer.camera.near)
        background = np.empty((size, size, 3), np.uint8)
        background[:] = BACKGROUND
        focal = renderer.camera.focal_pixels(size)
        try:
            for label, yaw, pitch in VIEWS:
                pose = _view_pose(yaw, pitch, centre, distance)
                mesh = (vertices @ pose[:3, :3].T + pose[:3, 3]).astype(np.float32)
                pixels = np.zeros((len(mesh), 3), np.float32)
                pixels[:, 0] = size / 2 + focal * mesh[:, 0] / -mesh[:, 2]
                pixels[:, 1] = size / 2 - focal * mesh[:, 1] / -mesh[:, 2]
                face = FaceGeometry(pose, mesh, landmarks=pixels)
                alone = renderer.render(background, [face], shown).astype(np.float32)
                worn = renderer.render(background, [face], [head, shown]).astype(np.float32)
                outline = renderer.render(background, [face], head) != background
                image = np.where(outline.any(axis=2, keepdims=True), alone + HEAD_ALPHA * (worn - alone), alone)
                picture = Image.fromarray(np.clip(np.round(image), 0, 255).astype(np.uint8))
                ImageDraw.Draw(picture).text((8, 6), label, fill=(40, 40, 40), font=_font(size // 25))
                panels.append(np.asarray(picture))
        finally:
            renderer.release()
    finally:
        ctx.release()
    strip = Image.new("RGB", (3 * size, CAPTION_HEIGHT), (255, 255, 255))
    ImageDraw.Draw(strip).text((8, 6), caption(effect), fill=(20, 20, 20), font=_font(16))
    return np.concatenate([np.concatenate(panels, axis=1), np.asarray(strip)], axis=0)


def _font(pixels: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=max(pixels, 10))
    except TypeError:  # Pillow before 10.1: one fixed size
        return ImageFont.load_default()


def write_preview(target: str, output: str | os.PathLike[str], size: int = 400, effects_dirs=(),
                  overwrite: bool = False) -> Path:
    """Render the preview of `target` (name, stack or path) into the image `output`."""
    from arfx.outputs import check_output_path, write_image

    out = check_output_path(output, overwrite, {".png": None, ".jpg": None, ".jpeg": None}, "preview image")
    effect = load_target(target, effects_dirs)
    image = preview_image(effect, size)
    return write_image(out, image, overwrite=overwrite)
