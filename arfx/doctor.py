"""Installation checks for `arfx doctor`: packages, ONNX Runtime providers, OpenGL, models."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Each entry: the distributions that can provide one requirement (any one will do).
_REQUIREMENTS = (("numpy",), ("onnxruntime", "onnxruntime-gpu"),
                 ("opencv-python-headless", "opencv-python"), ("moderngl",), ("glfw",),
                 ("pyrr",), ("trimesh",), ("av",), ("scikit-image",))


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    essential: bool = True


def _check_packages() -> list[Check]:
    checks = []
    for choices in _REQUIREMENTS:
        found = []
        for name in choices:
            try:
                found.append(f"{name} {importlib.metadata.version(name)}")
            except importlib.metadata.PackageNotFoundError:
                pass
        label = " or ".join(choices)
        checks.append(Check(label, bool(found), ", ".join(found) if found
                            else f"not installed; pip install {choices[0]}"))
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
        from arfx.render.context import create_window

        window = create_window(64, 64, "arfx doctor", visible=False)
        renderer = window.ctx.info["GL_RENDERER"]
        window.close()
        return Check("window (glfw)", True, f"can open an OpenGL 3.3 window ({renderer})", essential=False)
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
