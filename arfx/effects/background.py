"""Background effects: the person kept, everything behind them blurred, recoloured or replaced.

The person mask comes from the segmentation stage (result.segmentation, added to the pipeline
when a background effect is drawn). The new background is composed on the CPU at the frame's
size (blur at a quarter size, an image cover-fitted) with alpha = 1 - person probability, and
laid over the frame in one textured quad; face effects drawn after it stay on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import moderngl
import numpy as np

from arfx.effects.schema import EffectKind, EffectSpec, Field, numbers, one_of
from arfx.geometry.anchors import Anchor
from arfx.geometry.camera import gl_matrix_bytes
from arfx.render.renderer import FrameState

MODES = ("blur", "color", "image")


@dataclass(eq=False)
class BackgroundEffect:
    """mode: blur (strength = blur radius as a fraction of the frame height), color (rgb 0-255)
    or image (RGBA uint8, cover-fitted to the frame)."""

    name: str = "background"
    mode: str = "blur"
    strength: float = 0.03
    color: tuple = (0.0, 177.0, 64.0)
    image: np.ndarray | None = field(default=None, repr=False)
    kind: str = "background"
    anchor: Anchor = Anchor("frame", "origin")
    occlusion: frozenset[str] = frozenset()

    def background(self, rgb: np.ndarray) -> np.ndarray:
        """The new background for one frame, uint8 RGB at its size."""
        height, width = rgb.shape[:2]
        if self.mode == "color":
            return np.broadcast_to(np.asarray(self.color, np.uint8), rgb.shape)
        if self.mode == "image" and self.image is not None:
            h, w = self.image.shape[:2]
            scale = max(width / w, height / h)
            resized = cv2.resize(self.image[:, :, :3], (max(width, round(w * scale)), max(height, round(h * scale))),
                                 interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            y0, x0 = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
            return resized[y0:y0 + height, x0:x0 + width]
        # Blur: at a quarter size (cheap even for large radii), back up with linear filtering.
        small = cv2.resize(rgb, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
        sigma = max(0.5, self.strength * height / 4)
        small = cv2.GaussianBlur(small, (0, 0), sigma)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)

    def create_pass(self, renderer) -> "BackgroundPass":
        return BackgroundPass(self, renderer)


class BackgroundPass:
    def __init__(self, effect: BackgroundEffect, renderer):
        self.effect = effect
        self.ctx = renderer.ctx
        self.program = renderer.program("image", "image")
        self.quad = self.ctx.buffer(reserve=4 * 2 * 4, dynamic=True)
        self.vao = self.ctx.vertex_array(self.program, [(self.quad, "2f", "in_position")])
        self.texture: moderngl.Texture | None = None
        self._rgba: np.ndarray | None = None

    def draw(self, frame: FrameState, result, index: int) -> None:
        mask = result.segmentation
        if mask is None or frame.rgb is None:
            return
        height, width = frame.rgb.shape[:2]
        if self.texture is None or self.texture.size != (width, height):
            if self.texture is not None:
                self.texture.release()
            self.texture = self.ctx.texture((width, height), 4)
            self.texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._rgba = np.empty((height, width, 4), np.uint8)
        self._rgba[..., :3] = self.effect.background(frame.rgb)
        np.multiply(1.0 - np.clip(mask, 0.0, 1.0), 255.0, out=self._rgba[..., 3], casting="unsafe")
        self.texture.write(self._rgba)
        self.quad.write(np.array([0, 0, width, 0, 0, height, width, height], np.float32).tobytes())
        self.program["u_matrix"].write(gl_matrix_bytes(frame.pixel_to_clip))
        self.program["u_size"] = (float(width), float(height))
        self.program["u_image"] = 0
        self.texture.use(0)
        frame.set_state(depth_test=False, depth_write=False, blend="alpha")
        self.vao.render(moderngl.TRIANGLE_STRIP)

    def release(self) -> None:
        for item in (self.vao, self.quad, self.texture):
            if item is not None:
                item.release()


def _build(spec: EffectSpec, load) -> BackgroundEffect:
    from arfx.render.texture import load_texture

    options = spec.options
    image = load_texture(spec.asset, "background image") if spec.asset is not None else None
    mode = "image" if image is not None else options["mode"]
    return BackgroundEffect(spec.name, mode, options["strength"], tuple(options["color"]), image)


def _check_asset(path: Path) -> None:
    from arfx.render.texture import check_texture_file

    check_texture_file(path, f"background image {path}")


KIND = EffectKind(
    "background", _build, "the person kept, the background blurred, recoloured or replaced by an image",
    table="background",
    fields=(Field("mode", "blur", one_of(MODES)),
            Field("strength", 0.03, lambda value, what: numbers(1, allow_scalar=True, positive=True)(value, what)[0]),
            Field("color", [0.0, 177.0, 64.0], numbers(3))),
    asset_suffixes=(".png", ".jpg", ".jpeg"), asset_optional=True, check_asset=_check_asset,
    anchor_entities=("frame",), default_anchor="frame.origin", default_occlusion=frozenset())
