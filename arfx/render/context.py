"""OpenGL contexts: a headless EGL context for offline work, or a glfw window for the live app."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import moderngl

from arfx.errors import RenderError

log = logging.getLogger(__name__)

GL_REQUIRE = 330
APT_FIX = "on Debian/Ubuntu: sudo apt install libegl1 libegl-mesa0 libgl1-mesa-dri libgl1"


#: Renderer names of software rasterisers (no GPU).
SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "swiftshader", "software")
_egl_device: int | None = None  # the EGL device chosen for headless contexts, once per process


def is_software_renderer(name: str) -> bool:
    """Whether a GL_RENDERER string names a software rasteriser."""
    return any(word in str(name).lower() for word in SOFTWARE_GL)


def egl_device_count() -> int:
    """How many EGL devices glcontext sees (asking for one past the end fails with the count,
    without opening anything)."""
    try:
        moderngl.create_standalone_context(backend="egl", device_index=1 << 16).release()
    except Exception as error:  # glcontext raises plain Exceptions
        found = re.search(r"found (\d+) devices", str(error))
        return int(found.group(1)) if found else 1
    return 1


def _headless_device() -> int:
    """The EGL device for headless contexts: GLCONTEXT_DEVICE_INDEX when set (glcontext reads
    it itself), else the first device with a GPU renderer (with an NVIDIA driver, Mesa's
    llvmpipe may be listed first), else device 0."""
    global _egl_device
    if _egl_device is not None or os.environ.get("GLCONTEXT_DEVICE_INDEX"):
        return _egl_device or 0
    count = egl_device_count()
    _egl_device = 0
    for index in range(min(count, 16)) if count > 1 else ():
        try:
            probe = moderngl.create_standalone_context(backend="egl", device_index=index, require=GL_REQUIRE)
        except Exception:  # a device that cannot make a 3.3 context is skipped
            continue
        renderer = probe.info.get("GL_RENDERER", "")
        probe.release()
        if not is_software_renderer(renderer):
            _egl_device = index
            log.debug("EGL device %d of %d: %s", index, count, renderer)
            break
    return _egl_device


_gl_finish: object = None  # glFinish through ctypes, found on first use (False: none found)


def finish_without_gil() -> None:
    """Wait until the current context has drawn everything queued, with Python's GIL released.

    moderngl holds the GIL while a read-back waits for the rasteriser (~5 ms of a 720p frame
    with glasses on llvmpipe), and no other Python thread (decoding, tracking, encoding) can
    run meanwhile; a ctypes call releases it. The read-back that follows then copies at once.
    Without a loadable GL library this does nothing (the read-back waits as before)."""
    global _gl_finish
    if _gl_finish is None:
        import ctypes

        _gl_finish = False
        for name in ("libOpenGL.so.0", "libGL.so.1"):  # GLVND's dispatch reaches EGL and GLX contexts
            try:
                function = ctypes.CDLL(name).glFinish
            except (OSError, AttributeError):
                continue
            function.restype, function.argtypes = None, []
            _gl_finish = function
            break
    if _gl_finish:
        _gl_finish()


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL 3.3+ context through EGL, on the GPU when there is one (else Mesa llvmpipe)."""
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=GL_REQUIRE,
                                                 device_index=_headless_device())
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
    _size: tuple[int, int] | None = field(default=None, repr=False)

    def framebuffer_size(self) -> tuple[int, int]:
        """The window's size in pixels, asked of the window system once and then kept up to
        date by glfw's resize callback (run by poll): each query is a round trip to the X
        server, 2-3 ms a frame under a busy Xvfb."""
        if self._size is None:
            import glfw

            glfw.set_framebuffer_size_callback(self.handle, self._resized)
            width, height = glfw.get_framebuffer_size(self.handle)
            self._size = (int(width), int(height))
        return self._size

    def _resized(self, handle, width: int, height: int) -> None:
        self._size = (int(width), int(height))

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


def _same_window(a, b) -> bool:
    """Whether two glfw window handles (ctypes pointers) are the same window."""
    import ctypes

    if a is None or b is None:
        return False
    return ctypes.cast(a, ctypes.c_void_p).value == ctypes.cast(b, ctypes.c_void_p).value


class _GlfwLoader:
    """Resolves GL functions through glfw, for whichever context (EGL or GLX) glfw made.

    moderngl enters it for `with ctx:` blocks: entering makes the window's context current
    (remembering the one that was), leaving restores that one. When it already is current
    (the live loop's usual case) nothing is switched: Mesa flushes on every make-current,
    and on llvmpipe each flush rasterises what is queued, so a frame drawn in several
    `with ctx:` blocks was rasterised in as many passes over the framebuffer.
    """

    def __init__(self) -> None:
        self.handle = None
        self._previous: list = []

    def __enter__(self) -> "_GlfwLoader":
        import glfw

        current = glfw.get_current_context()
        switch = self.handle is not None and not _same_window(current, self.handle)
        self._previous.append(current if switch else None)
        if switch:
            glfw.make_context_current(self.handle)
        return self

    def __exit__(self, *exc) -> None:
        import glfw

        previous = self._previous.pop() if self._previous else None
        if previous is not None and self.handle is not None:
            glfw.make_context_current(previous)

    def load_opengl_function(self, name: str) -> int:
        import ctypes

        import glfw

        address = glfw.get_proc_address(name)
        return ctypes.cast(address, ctypes.c_void_p).value or 0 if address else 0

    def release(self) -> None:
        pass


def create_window(width: int, height: int, title: str = "arfx", visible: bool = True,
                  vsync: bool = True) -> Window:
    """Open a window with an OpenGL 3.3 core context (needs a display; Xvfb works).

    The context is made through EGL where possible: Mesa refuses to make a GLX context
    current in a process that already holds an EGL one (X error BadAccess), and offline
    rendering (`arfx demo` before its window, tests) uses EGL.
    """
    import glfw

    # glfw's errors go to the debug log: failures below become one RenderError each, and
    # the EGL-first attempt is expected to fail on some systems.
    glfw.ERROR_REPORTING = "log"
    if not glfw.init():
        raise RenderError("cannot initialise glfw: no display? The live window needs one "
                          "(use `arfx render` for offline work)")
    handle = None
    for api in (glfw.EGL_CONTEXT_API, glfw.NATIVE_CONTEXT_API):
        glfw.default_window_hints()
        glfw.window_hint(glfw.CONTEXT_CREATION_API, api)
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, glfw.TRUE)
        glfw.window_hint(glfw.VISIBLE, glfw.TRUE if visible else glfw.FALSE)
        handle = glfw.create_window(int(width), int(height), title, None, None)
        if handle:
            log.debug("window context through %s", "EGL" if api == glfw.EGL_CONTEXT_API else "GLX/native")
            break
    if not handle:
        glfw.terminate()
        raise RenderError(f"cannot open a {width}x{height} OpenGL 3.3 window; {APT_FIX}")
    glfw.make_context_current(handle)
    glfw.swap_interval(1 if vsync else 0)
    loader = _GlfwLoader()
    try:
        moderngl.init_context(loader)
        ctx = moderngl.get_context()
        if ctx.version_code < GL_REQUIRE:
            raise RenderError(f"OpenGL {ctx.version_code / 100:.1f} is too old; arfx needs 3.3")
        loader.handle = handle
    except Exception as error:
        glfw.destroy_window(handle)
        glfw.terminate()
        raise RenderError(f"the window has no usable OpenGL 3.3 context ({error})") from error
    return Window(handle=handle, ctx=ctx)
