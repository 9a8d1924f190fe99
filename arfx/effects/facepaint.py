"""Face paint: an RGBA texture laid out on the canonical face UVs, stretched over the face mesh."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import moderngl
import numpy as np

from arfx.effects.schema import EffectKind, EffectSpec, Field, number_in, one_of
from arfx.errors import EffectError
from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes
from arfx.render.renderer import FrameState

log = logging.getLogger(__name__)

#: What hides face paint unless its [occlusion] says otherwise: the face itself (so only the
#: visible side is painted) and tracked hands in front of it.
PAINT_OCCLUSION = frozenset({"face", "hands"})
BLEND_MODES = {"normal": 0, "multiply": 1, "add": 2}
#: How much of the skin's shading (highlights, shadows, texture) shows through normal-blended
#: paint by default: 0 is flat colour, 1 the skin's full shading. Multiply and add keep the
#: skin by their nature.
PAINT_SHADING = 0.8
_BLEND_STATE = {"normal": "alpha", "multiply": "multiply", "add": "add"}


def load_texture(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGBA [H, W, 4], first row = top of the image.

    PNG or JPEG only, size read from the header and refused over the texture limit
    (arfx.render.texture) before any pixel is decoded.
    """
    from arfx.render.texture import load_texture as load_checked

    return load_checked(path, "face paint texture")


@dataclass(eq=False)
class FacePaintEffect:
    name: str
    texture: np.ndarray  # uint8 [H, W, 4], laid out on the canonical UVs (v from the top)
    blend: str = "normal"
    opacity: float = 1.0
    occlusion: frozenset[str] = PAINT_OCCLUSION
    kind: str = "facepaint"
    anchor: Anchor = FACE_ORIGIN  # paint covers the whole face mesh
    shading: float = PAINT_SHADING

    def __post_init__(self) -> None:
        if self.blend not in BLEND_MODES:
            raise EffectError(f"face paint '{self.name}': blend must be one of "
                              f"{', '.join(BLEND_MODES)}, not '{self.blend}'")
        if not 0.0 <= float(self.opacity) <= 1.0:
            raise EffectError(f"face paint '{self.name}': opacity must be between 0 and 1")
        if not 0.0 <= float(self.shading) <= 1.0:
            raise EffectError(f"face paint '{self.name}': shading must be between 0 and 1")
        texture = np.asarray(self.texture)
        if texture.dtype != np.uint8 or texture.ndim != 3 or texture.shape[2] != 4:
            raise EffectError(f"face paint '{self.name}': texture must be uint8 RGBA")

    @classmethod
    def from_file(cls, name: str, path: str | Path, blend: str = "normal", opacity: float = 1.0,
                  occlusion: frozenset[str] = PAINT_OCCLUSION, shading: float = PAINT_SHADING
                  ) -> "FacePaintEffect":
        return cls(name, load_texture(path), blend, float(opacity), frozenset(occlusion),
                   shading=float(shading))

    def create_pass(self, renderer) -> "FacePaintPass":
        return FacePaintPass(self, renderer)


class FacePaintPass:
    def __init__(self, effect: FacePaintEffect, renderer):
        self.effect = effect
        ctx = renderer.ctx
        self.program = renderer.program("face", "facepaint")
        self.vao = renderer.face_vertex_array(self.program)
        image = effect.texture
        self.texture = ctx.texture((image.shape[1], image.shape[0]), 4, image.tobytes())
        self.texture.build_mipmaps()
        self.texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = False

    def draw(self, frame: FrameState, face, index: int) -> None:
        program = self.program
        program["u_projection"].write(gl_matrix_bytes(frame.projection))
        program["u_texture"] = 0
        program["u_opacity"] = float(self.effect.opacity)
        program["u_blend"] = BLEND_MODES[self.effect.blend]
        shading = float(self.effect.shading) if self.effect.blend == "normal" else 0.0
        light = frame.face_light(face) if shading > 0.0 else None
        program["u_shading"] = shading if light is not None else 0.0
        if light is not None:
            frame.frame_texture().use(1)
            program["u_frame"] = 1
            program["u_frame_uv"] = frame.frame_uv_transform
            program["u_face_luminance"] = float(light.face_luminance)
        frame.renderer.upload_face(face)
        self.texture.use(0)
        # Same vertices and shader as the occluder, so '<=' passes exactly on the face itself.
        frame.set_state(depth_test=True, depth_write=False, blend=_BLEND_STATE[self.effect.blend])
        self.vao.render(moderngl.TRIANGLES)

    def release(self) -> None:
        self.vao.release()
        self.texture.release()


def _build(spec: EffectSpec, load) -> FacePaintEffect:
    return FacePaintEffect.from_file(spec.name, spec.asset, occlusion=spec.occlusion, **spec.options)


def _check_asset(path: Path) -> None:
    from arfx.render.texture import check_texture_file

    check_texture_file(path, f"face paint texture {path}")


KIND = EffectKind(
    "facepaint", _build, "an image laid over the face mesh (canonical UVs)", table="paint",
    fields=(Field("blend", "normal", one_of(tuple(BLEND_MODES))), Field("opacity", 1.0, number_in(0, 1)),
            Field("shading", PAINT_SHADING, number_in(0, 1))),
    asset_suffixes=(".png", ".jpg", ".jpeg"), bare_suffixes=(".png", ".jpg", ".jpeg"),
    check_asset=_check_asset,
    # Paint lies on the face mesh: faces and hands in front hide it (the head sits behind the
    # face surface, so it never does).
    default_occlusion=PAINT_OCCLUSION)
