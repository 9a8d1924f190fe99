"""The live window's on-screen interface, drawn with OpenGL over the picture.

Text (the effect's name when it changes, fps, capture-to-display latency, dropped frames, a
REC indicator with elapsed time, the recognised gesture, stage times in the debug view, the
key help line) is drawn on the CPU with OpenCV into a transparent RGBA image the size of
the picture, uploaded to a texture only when it changes, and blended over the picture as
one quad (shaders/overlay.*), scissored to the bands of rows that hold text: on software
OpenGL a blended quad costs per pixel covered (~10 ms for a whole 720p picture on llvmpipe). It goes on the window; recordings and live outputs get the
picture without it unless asked (`--record-overlay`: the same image blended on the CPU).
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import moderngl
import numpy as np

#: Seconds the effect's name stays up after a switch (and at start).
ANNOUNCE_S = 2.0
#: The text is redrawn at most this often (fps and times change every frame).
REFRESH_S = 0.25

WHITE = (255, 255, 255, 255)
RED = (235, 40, 40, 255)
AMBER = (255, 190, 40, 255)
BOX_ALPHA = 190
FONT = cv2.FONT_HERSHEY_SIMPLEX


def status_lines(status: dict[str, Any]) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The overlay's top-left lines for a status (see LiveApp._status), with their colours."""
    lines = []
    if status.get("recording") is not None:
        seconds = int(status["recording"])
        lines.append((f"REC {seconds // 60:02d}:{seconds % 60:02d}", RED))
    parts = [f"{status.get('fps', 0.0):.0f} fps"]
    if status.get("latency_ms") is not None:
        parts.append(f"{status['latency_ms']:.0f} ms")
    lines.append(("  ".join(parts), WHITE))
    if status.get("dropped"):
        lines.append((f"dropped {status['dropped']}", AMBER))
    if status.get("gesture"):
        lines.append((f"gesture: {status['gesture']}", WHITE))
    if status.get("stages"):
        lines.append(("  ".join(f"{k} {v:.1f}" for k, v in status["stages"].items()) + " ms", WHITE))
    return lines


def draw_status(width: int, height: int, status: dict[str, Any], announce: str | None) -> np.ndarray:
    """The overlay as a premultiplied RGBA image (top row first), transparent where empty."""
    image = np.zeros((height, width, 4), np.uint8)
    scale = max(0.45, min(1.0, height / 720.0 * 0.8))
    thickness = 1 if scale < 0.6 else 2
    pad = max(3, int(8 * scale))
    line_h = int(30 * scale) + pad

    def text_box(text: str, x: int, y: int, colour, font_scale: float = scale) -> int:
        (tw, th), base = cv2.getTextSize(text, FONT, font_scale, thickness)
        cv2.rectangle(image, (x - pad, y - th - pad), (min(width - 1, x + tw + pad), y + base + pad // 2),
                      (0, 0, 0, BOX_ALPHA), -1)
        cv2.putText(image, text, (x, y), FONT, font_scale, colour, thickness, cv2.LINE_AA)
        return tw

    x, y = pad * 2, pad + line_h
    for text, colour in status_lines(status):
        if colour == RED:  # the REC dot
            radius = max(3, int(9 * scale))
            cv2.rectangle(image, (x - pad, y - line_h + pad), (x + 2 * radius + pad, y + pad // 2),
                          (0, 0, 0, BOX_ALPHA), -1)
            cv2.circle(image, (x + radius, y - radius), radius, RED, -1, cv2.LINE_AA)
            text_box(text, x + 2 * radius + pad, y, colour)
        else:
            text_box(text, x, y, colour)
        y += line_h
    if announce:
        big = scale * 1.6
        (tw, th), _ = cv2.getTextSize(announce, FONT, big, thickness + 1)
        text_box(announce, max(pad, (width - tw) // 2), height // 2 - th, WHITE, big)
    if status.get("help"):
        # The key list, wrapped at its double spaces into lines that fit the width.
        font = max(0.4, scale * 0.85)
        lines: list[str] = []
        for item in status["help"].split("  "):
            candidate = f"{lines[-1]}  {item}" if lines else item
            if lines and cv2.getTextSize(candidate, FONT, font, 1)[0][0] <= width - 4 * pad:
                lines[-1] = candidate
            else:
                lines.append(item)
        (_, th), base = cv2.getTextSize("Ag", FONT, font, 1)
        step = th + base + pad
        top = height - step * len(lines) - pad
        cv2.rectangle(image, (0, top), (width - 1, height - 1), (0, 0, 0, BOX_ALPHA), -1)
        for i, text in enumerate(lines):
            cv2.putText(image, text, (2 * pad, top + pad + th + i * step), FONT, font, WHITE, 1, cv2.LINE_AA)
    # Premultiply: what was drawn over the box keeps its colour, the box darkens. Only where
    # text is: over the whole 720p picture this took ~30 ms, every redraw (a live frame's budget).
    for x, y, w, h in text_bands(image):
        region = image[y:y + h, x:x + w]
        alpha = region[:, :, 3:4].astype(np.uint16)
        region[:, :, :3] = (region[:, :, :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    return image


def composite(rgb: np.ndarray, overlay: np.ndarray, bands: list | None = None) -> np.ndarray:
    """`overlay` (premultiplied RGBA, same size) over a copy of `rgb`, only where it covers
    (`bands`: its text_bands, when known)."""
    out = rgb.copy()
    for x, y, w, h in text_bands(overlay) if bands is None else bands:  # only where it holds something
        band = overlay[y:y + h, x:x + w]
        keep = (255 - band[:, :, 3:4]).astype(np.uint16)
        under = out[y:y + h, x:x + w]
        out[y:y + h, x:x + w] = (band[:, :, :3] + (under.astype(np.uint16) * keep + 127) // 255).clip(0, 255)
    return out


def text_bands(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) boxes, y counted from the top, covering every non-transparent pixel of an
    overlay image: one per run of rows holding something, as wide as what those rows hold."""
    alpha = image[:, :, 3]
    rows = np.flatnonzero(alpha.max(axis=1))
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) > 1)
    bands = []
    for first, last in zip(np.r_[rows[0], rows[breaks + 1]], np.r_[rows[breaks], rows[-1]]):
        cols = np.flatnonzero(alpha[first:last + 1].max(axis=0))
        bands.append((int(cols[0]), int(first), int(cols[-1] - cols[0] + 1), int(last - first + 1)))
    return bands


def redraw_key(width: int, height: int, status: dict[str, Any], announce: str | None) -> tuple:
    """What makes the overlay change shape: a new key redraws it at once (else every REFRESH_S)."""
    return (width, height, announce, bool(status.get("help")), status.get("recording") is not None,
            bool(status.get("dropped")), status.get("gesture"), bool(status.get("stages")))


class OverlayImage:
    """The overlay drawn into pictures on the CPU (recordings and outputs with the interface)."""

    def __init__(self) -> None:
        self._key: Any = None
        self._drawn_at = 0.0
        self.image: np.ndarray | None = None
        self.bands: list[tuple[int, int, int, int]] = []  # where it has text (text_bands)

    def apply(self, rgb: np.ndarray, status: dict[str, Any], announce: str | None = None) -> np.ndarray:
        h, w = rgb.shape[:2]
        key = redraw_key(w, h, status, announce)
        now = time.monotonic()
        if self.image is None or key != self._key or now - self._drawn_at > REFRESH_S:
            self.image = draw_status(w, h, status, announce)
            self.bands = text_bands(self.image)
            self._key, self._drawn_at = key, now
        return composite(rgb, self.image, self.bands)


class Overlay:
    """Draws the status over a framebuffer's picture viewport; owns its GL objects."""

    def __init__(self, ctx: moderngl.Context) -> None:
        from arfx.render.renderer import load_program

        self.ctx = ctx
        with ctx:
            self.program = load_program(ctx, "overlay", "overlay")
            quad = np.array([-1, -1, 1, -1, -1, 1, 1, 1], np.float32)
            self._vbo = ctx.buffer(quad.tobytes())
            self._vao = ctx.vertex_array(self.program, [(self._vbo, "2f", "in_position")])
        self._texture: moderngl.Texture | None = None
        self._key: Any = None
        self._drawn_at = 0.0
        self._announce: tuple[str, float] | None = None
        self.image: np.ndarray | None = None  # the last overlay image uploaded
        self.bands: list[tuple[int, int, int, int]] = []  # where it has text (text_bands)

    def announce(self, name: str) -> None:
        """Show `name` large for a moment (an effect switch)."""
        self._announce = (name, time.monotonic())

    @property
    def announcing(self) -> str | None:
        """The effect name being announced now, if any."""
        return self._announcement()

    def _announcement(self) -> str | None:
        if self._announce is None:
            return None
        name, since = self._announce
        if time.monotonic() - since > ANNOUNCE_S:
            self._announce = None
            return None
        return name

    def draw(self, framebuffer: moderngl.Framebuffer, viewport: tuple[int, int, int, int],
             status: dict[str, Any]) -> None:
        """Blend the overlay over `viewport` (x, y, w, h) of `framebuffer`."""
        w, h = int(viewport[2]), int(viewport[3])
        announce = self._announcement()
        # Redraw the text when what it says changes in kind, else at most every REFRESH_S.
        key = redraw_key(w, h, status, announce)
        now = time.monotonic()
        if key != self._key or now - self._drawn_at > REFRESH_S:
            self.image = draw_status(w, h, status, announce)
            with self.ctx:
                if self._texture is None or self._texture.size != (w, h):
                    if self._texture is not None:
                        self._texture.release()
                    self._texture = self.ctx.texture((w, h), 4)
                    self._texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
                self._texture.write(self.image)
            self.bands = text_bands(self.image)
            self._key, self._drawn_at = key, now
        if not self.bands:
            return
        x0, y0 = int(viewport[0]), int(viewport[1])
        with self.ctx:
            framebuffer.use()
            framebuffer.viewport = tuple(int(v) for v in viewport)
            self.ctx.enable_only(moderngl.BLEND)
            self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
            self._texture.use(0)
            self.program["u_overlay"] = 0
            try:
                for x, y, bw, bh in self.bands:  # GL's rows count from the bottom
                    framebuffer.scissor = (x0 + x, y0 + h - y - bh, bw, bh)
                    self._vao.render(moderngl.TRIANGLE_STRIP)
            finally:
                framebuffer.scissor = None
                self.ctx.enable_only(moderngl.NOTHING)
                self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA

    def release(self) -> None:
        with self.ctx:
            for item in (self._texture, self._vao, self._vbo, self.program):
                if item is not None:
                    item.release()
        self._texture = None
