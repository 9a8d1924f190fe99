"""OpenGL rendering of frames with effects: contexts, the frame renderer, glTF loading, stills."""

from arfx.render.context import Window, create_headless_context, create_window
from arfx.render.renderer import FrameState, Renderer
from arfx.render.still import StillResult, render_image, render_image_file

__all__ = ["FrameState", "Renderer", "StillResult", "Window", "create_headless_context",
           "create_window", "render_image", "render_image_file"]
