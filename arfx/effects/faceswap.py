"""Face swap: a face from a photo worn over every tracked face.

The photo's face is tracked once and unwrapped into the canonical UV layout
(arfx.export.capture_face_texture), then drawn on each tracked face mesh like face paint, with:

- colour transfer: per channel, the source skin's median and spread are moved onto the target
  skin's, both measured each frame at the same mesh vertices on the cheeks, nose and chin (those
  facing the camera in the frame and shown in the photo), so the swapped face takes the frame's
  light and white balance;
- soft edges: a mask in UV space covering the face from the brows down (a photo's fringe or
  loose hair lies on the mesh's upper forehead and temples, and pasted onto another head it is
  what gives a swap away), feathered towards its outline, and open (the target's own) over the
  eyes and the mouth, so they keep moving; the source's hidden parts (alpha 0 in its capture)
  show the target too.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import moderngl
import numpy as np

from arfx.effects.schema import EffectKind, EffectSpec, Field, number_in
from arfx.errors import EffectError
from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes

log = logging.getLogger(__name__)

SWAP_OCCLUSION = frozenset({"face", "hands"})
TEXTURE_SIZE = 512


@functools.lru_cache(maxsize=4)
def swap_mask(size: int = TEXTURE_SIZE, feather: float = 0.04) -> np.ndarray:
    """float32 [size, size] in 0..1, canonical UV layout (v from the top): 1 on the face's skin
    from the brows down, falling to 0 over `feather` (a fraction of the size) inside that
    outline, 0 over the eyes and
    the mouth opening (grown a little, with the same soft edge)."""
    import cv2

    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.ibug68 import IBUG68
    from arfx.rerun_log import _boundary_loop

    canonical = CanonicalFace.load()
    uv = np.asarray(canonical.uvs, dtype=np.float64) * size
    radius = max(1, int(round(feather * size)))

    def polygon(indices) -> np.ndarray:
        return np.round(uv[list(indices)] * 16).astype(np.int32)

    outline = np.zeros((size, size), np.uint8)
    cv2.fillPoly(outline, [polygon(_boundary_loop(canonical.triangles))], 255, shift=4)
    # Only the face from the brows down: the mesh's upper forehead and temples are where the
    # photo's hair (a fringe, strands at the side) lies, and hair pasted onto another head is
    # what gives a swap away. The hull of the jaw and brow points, raised by the feather.
    inner = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(inner, cv2.convexHull(polygon(IBUG68[:27])), 255, shift=4)
    inner = cv2.dilate(inner, np.ones((2 * radius + 1,) * 2, np.uint8))
    outline = cv2.erode(np.minimum(outline, inner), np.ones((2 * radius + 1,) * 2, np.uint8))
    holes = np.zeros((size, size), np.uint8)
    # the eyes and the inner lips (iBUG points), grown: the eyes by half the feather, the mouth
    # (a thin line in the closed-mouth layout) by the whole of it, so an open mouth stays the target's
    for (first, last), grow in (((36, 41), radius // 2), ((42, 47), radius // 2), ((60, 67), radius)):
        hole = np.zeros((size, size), np.uint8)
        cv2.fillPoly(hole, [polygon(IBUG68[first:last + 1])], 255, shift=4)
        holes |= cv2.dilate(hole, np.ones((2 * grow + 1,) * 2, np.uint8))
    mask = np.minimum(outline, 255 - holes).astype(np.float32) / 255.0
    return cv2.GaussianBlur(mask, (0, 0), radius / 2.0)


@functools.lru_cache(maxsize=1)
def skin_vertices() -> np.ndarray:
    """Mesh vertices well inside the skin part of the mask: where colour is measured."""
    from arfx.geometry.canonical import CanonicalFace

    mask = swap_mask(256, 0.06)
    uv = np.clip((np.asarray(CanonicalFace.load().uvs) * 256).astype(int), 0, 255)
    return np.flatnonzero(mask[uv[:, 1], uv[:, 0]] > 0.95)


def colour_stats(colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and spread (0..1) of [N, 3] colours, robust to a few outliers."""
    colours = np.asarray(colours, dtype=np.float32) / 255.0
    low, high = np.percentile(colours, [10, 90], axis=0)
    return np.median(colours, axis=0), np.maximum((high - low) / 2.56, 1e-3)


def transfer(source: tuple[np.ndarray, np.ndarray], target: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Gain and offset that move the source's colour statistics onto the target's."""
    gain = np.clip(target[1] / source[1], 0.5, 2.0)
    return gain, target[0] - gain * source[0]


def facing(mesh: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """float32 [N]: each vertex normal against the direction to the camera (1: facing it)."""
    from arfx.rerun_log import vertex_normals

    mesh = np.asarray(mesh, dtype=np.float32)
    towards = -mesh / np.maximum(np.linalg.norm(mesh, axis=1, keepdims=True), 1e-6)
    return (vertex_normals(mesh, triangles) * towards).sum(axis=1)


@dataclass
class SwapSource:
    """A captured face: its RGBA texture (alpha = visibility x mask) and its colour at each of
    the `skin_vertices()` (uint8 [N, 3]; `skin_shown`: where the photo shows it)."""

    texture: np.ndarray
    skin_colours: np.ndarray
    skin_shown: np.ndarray


@dataclass(eq=False)
class FaceSwapEffect:
    name: str
    photo: np.ndarray  # uint8 [H, W, 3]: the photo with the face to wear
    opacity: float = 1.0
    feather: float = 0.04  # soft edge, a fraction of the texture size
    color_match: float = 1.0  # 0: the source's own colour, 1: moved fully onto the target's skin
    occlusion: frozenset[str] = SWAP_OCCLUSION
    kind: str = "faceswap"
    anchor: Anchor = FACE_ORIGIN
    source_name: str = "photo"
    _source: SwapSource | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        photo = np.asarray(self.photo)
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] not in (3, 4):
            raise EffectError(f"face swap '{self.name}': the photo must be uint8 RGB")
        self.photo = np.ascontiguousarray(photo[..., :3])

    @classmethod
    def from_file(cls, name: str, path: str | Path, **options) -> "FaceSwapEffect":
        from arfx.render.texture import load_texture

        return cls(name, load_texture(path, "face swap photo")[..., :3], source_name=str(path), **options)

    def source(self, ctx) -> SwapSource:
        """The photo's face captured (once per effect): tracked, unwrapped, masked, measured."""
        if self._source is None:
            from arfx.export import capture_face_texture, mirror_fill, track_photo
            from arfx.geometry.canonical import CanonicalFace

            face, camera = track_photo(self.photo)
            if face is None:
                raise EffectError(f"face swap '{self.name}': no face found in {self.source_name}; "
                                  "use a photo with a face seen from the front")
            texture = mirror_fill(capture_face_texture(ctx, self.photo, face.mesh, camera, TEXTURE_SIZE))
            mask = swap_mask(TEXTURE_SIZE, float(self.feather))
            texture[..., 3] = np.round(texture[..., 3] * mask).astype(np.uint8)
            uv = np.clip((np.asarray(CanonicalFace.load().uvs) * TEXTURE_SIZE).astype(int), 0, TEXTURE_SIZE - 1)
            texels = texture[uv[skin_vertices(), 1], uv[skin_vertices(), 0]]
            shown = texels[:, 3] > 128
            if shown.sum() < 20:
                raise EffectError(f"face swap '{self.name}': too little of the face shows in {self.source_name}")
            self._source = SwapSource(texture, texels[:, :3].copy(), shown)
            log.info("face swap '%s': captured the face of %s", self.name, self.source_name)
        return self._source

    def create_pass(self, renderer) -> "FaceSwapPass":
        return FaceSwapPass(self, renderer)


class FaceSwapPass:
    def __init__(self, effect: FaceSwapEffect, renderer):
        self.effect = effect
        ctx = renderer.ctx
        source = effect.source(ctx)
        self.source = source
        self.program = renderer.program("face", "faceswap")
        self.vao = renderer.face_vertex_array(self.program)
        image = source.texture
        self.texture = ctx.texture((image.shape[1], image.shape[0]), 4, image.tobytes())
        self.texture.build_mipmaps()
        self.texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = False

    def colour_transfer(self, frame, face) -> tuple[np.ndarray, np.ndarray] | None:
        """Gain and offset from the photo's skin colour to the target's, both measured at the
        same skin vertices: those facing the camera in the frame and shown in the photo (so a
        turned head or the photo's own shadows do not compare different parts of the face)."""
        if frame.rgb is None:
            return None
        renderer = frame.renderer
        mesh = np.asarray(face.mesh, dtype=np.float32)[: renderer.face_vertex_count]
        skin = skin_vertices()
        height, width = frame.rgb.shape[:2]
        camera = getattr(frame.result, "camera", None) or renderer.camera
        pixels = np.round(camera.project(mesh[skin], width, height) - 0.5).astype(int)
        use = ((facing(mesh, renderer.face_triangles)[skin] > 0.5) & self.source.skin_shown
               & (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height))
        if use.sum() < 20:
            return None
        target = colour_stats(frame.rgb[pixels[use, 1], pixels[use, 0]])
        return transfer(colour_stats(self.source.skin_colours[use]), target)

    def draw(self, frame, face, index: int) -> None:
        program = self.program
        gain, offset = np.ones(3, np.float32), np.zeros(3, np.float32)
        matched = self.colour_transfer(frame, face) if self.effect.color_match > 0 else None
        if matched is not None:
            full_gain, full_offset = matched
            amount = float(self.effect.color_match)
            gain, offset = 1.0 + amount * (full_gain - 1.0), amount * full_offset
        program["u_projection"].write(gl_matrix_bytes(frame.projection))
        program["u_texture"] = 0
        program["u_gain"] = tuple(float(v) for v in gain)
        program["u_offset"] = tuple(float(v) for v in offset)
        program["u_opacity"] = float(self.effect.opacity)
        frame.renderer.upload_face(face)
        self.texture.use(0)
        # The occluder's vertices and shader: '<=' passes exactly on the face itself.
        frame.set_state(depth_test=True, depth_write=False, blend="alpha")
        self.vao.render(moderngl.TRIANGLES)

    def release(self) -> None:
        self.vao.release()
        self.texture.release()


def _build(spec: EffectSpec, load) -> FaceSwapEffect:
    return FaceSwapEffect.from_file(spec.name, spec.asset, occlusion=spec.occlusion, **spec.options)


def _check_asset(path: Path) -> None:
    from arfx.render.texture import check_texture_file

    check_texture_file(path, f"face swap photo {path}")


KIND = EffectKind(
    "faceswap", _build, "a face from a photo worn over tracked faces (colour matched, soft edges)",
    table="faceswap",
    fields=(Field("opacity", 1.0, number_in(0, 1)), Field("feather", 0.04, number_in(0, 0.2)),
            Field("color_match", 1.0, number_in(0, 1))),
    asset_suffixes=(".png", ".jpg", ".jpeg"), check_asset=_check_asset, default_occlusion=SWAP_OCCLUSION)
