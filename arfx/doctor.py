"""Installation checks for `arfx doctor`: packages, ONNX Runtime providers, OpenGL, models."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
from dataclasses import dataclass

log = logging.getLogger(__name__)

_PACKAGES = ("numpy", "onnxruntime", "onnxruntime-gpu", "opencv-python-headless", "opencv-python",
             "moderngl", "glfw", "pyrr", "trimesh", "av")
_ESSENTIAL_PACKAGES = ("numpy", "moderngl", "pyrr", "trimesh", "av")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    essential: bool = True


def _check_packages() -> list[Check]:
    checks = []
    for name in _PACKAGES:
        try:
            version = importlib.metadata.version(name)
            checks.append(Check(name, True, version, essential=False))
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(name, False, "not installed", essential=name in _ESSENTIAL_PACKAGES))
    return checks


def _check_onnxruntime() -> Check:
    try:
        import onnxruntime as ort
    except ImportError as error:
        return Check("ONNX Runtime", False, f"cannot import onnxruntime ({error}); pip install onnxruntime")
    providers = ort.get_available_providers()
    return Check("ONNX Runtime providers", True, ", ".join(providers))


def _check_egl() -> Check:
    try:
        from arfx.render.context import create_headless_context
        ctx = create_headless_context()
        info = ctx.info
        detail = f"{info['GL_RENDERER']} (OpenGL {ctx.version_code / 100:.1f})"
        ctx.release()
        return Check("headless OpenGL (EGL)", True, detail)
    except Exception as error:  # any failure here is the finding itself
        return Check("headless OpenGL (EGL)", False,
                     f"{error}; on Debian/Ubuntu: apt install libegl1 libegl-mesa0 libgl1-mesa-dri libgl1")


def _check_window() -> Check:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return Check("window (glfw)", False, "no display; the live window needs one "
                     "(offline rendering works without)", essential=False)
    try:
        import glfw
        if not glfw.init():
            return Check("window (glfw)", False, "glfw.init() failed", essential=False)
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        window = glfw.create_window(64, 64, "arfx doctor", None, None)
        ok = bool(window)
        if window:
            glfw.destroy_window(window)
        glfw.terminate()
        return Check("window (glfw)", ok, "can open an OpenGL 3.3 window" if ok else "cannot open a window",
                     essential=False)
    except Exception as error:
        return Check("window (glfw)", False, str(error), essential=False)


def _check_models() -> Check:
    try:
        from arfx.tracking.models import verify_models
        names = verify_models()
        return Check("models", True, f"{len(names)} files verified ({', '.join(names)})")
    except Exception as error:
        return Check("models", False, str(error))


def run_checks() -> list[Check]:
    """Run every check; never raises."""
    checks = [Check("Python", True, f"{platform.python_version()} ({platform.platform()})")]
    checks += _check_packages()
    checks.append(_check_onnxruntime())
    checks.append(_check_egl())
    checks.append(_check_window())
    checks.append(_check_models())
    return checks
