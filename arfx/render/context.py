"""OpenGL contexts: a headless EGL context for offline work, or a glfw window for the live app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import moderngl

from arfx.errors import RenderError

log = logging.getLogger(__name__)

GL_REQUIRE = 330
APT_FIX = "on Debian/Ubuntu: sudo apt install libegl1 libegl-mesa0 libgl1-mesa-dri libgl1"


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL 3.3+ context through EGL (Mesa llvmpipe when there is no GPU)."""
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=GL_REQUIRE)
    except Exception as error:  # moderngl raises plain Exceptions for every loader failure
        raise RenderError(f"cannot create a headless OpenGL context through EGL ({error}); "
                          f"{APT_FIX}") from error
    log.debug("headless GL: %s, OpenGL %s", ctx.info.get("GL_RENDERER"), ctx.version_code)
    return ctx


@dataclass
class Window:
    """A glfw window with its moderngl context; the context is only used from this thread."""

    handle: object
    ctx: moderngl.Context

    def framebuffer_size(self) -> tuple[int, int]:
        import glfw

        width, height = glfw.get_framebuffer_size(self.handle)
        return int(width), int(height)

    def should_close(self) -> bool:
        import glfw

        return bool(glfw.window_should_close(self.handle))

    def swap(self) -> None:
        import glfw

        glfw.swap_buffers(self.handle)

    def poll(self) -> None:
        import glfw

        glfw.poll_events()

    def close(self) -> None:
        import glfw

        if self.handle is not None:
            glfw.destroy_window(self.handle)
            self.handle = None
            glfw.terminate()


def create_window(width: int, height: int, title: str = "arfx", visible: bool = True,
                  vsync: bool = True) -> Window:
    """Open a window with an OpenGL 3.3 core context (needs a display; Xvfb works)."""
    import glfw

    if not glfw.init():
        raise RenderError("cannot initialise glfw: no display? The live window needs one "
                          "(use `arfx render` for offline work)")
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, glfw.TRUE)
    glfw.window_hint(glfw.VISIBLE, glfw.TRUE if visible else glfw.FALSE)
    handle = glfw.create_window(int(width), int(height), title, None, None)
    if not handle:
        glfw.terminate()
        raise RenderError(f"cannot open a {width}x{height} OpenGL 3.3 window; {APT_FIX}")
    glfw.make_context_current(handle)
    glfw.swap_interval(1 if vsync else 0)
    try:
        ctx = moderngl.create_context(require=GL_REQUIRE)
    except Exception as error:
        glfw.destroy_window(handle)
        glfw.terminate()
        raise RenderError(f"the window has no usable OpenGL 3.3 context ({error})") from error
    return Window(handle=handle, ctx=ctx)
