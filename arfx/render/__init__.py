"""OpenGL rendering of frames with effects: contexts, the frame renderer, glTF loading."""

from arfx.render.context import Window, create_headless_context, create_window
from arfx.render.renderer import FrameState, Renderer

__all__ = ["FrameState", "Renderer", "Window", "create_headless_context", "create_window"]
