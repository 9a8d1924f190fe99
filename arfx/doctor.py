"""Installation checks for `arfx doctor`: packages, the ONNX Runtime build and whether CUDA
runs, OpenGL (which EGL device renders: NVIDIA or Mesa's software llvmpipe), models."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Each entry: the distributions that can provide one requirement (any one will do).
# ONNX Runtime has its own check: exactly one of its builds must be installed.
_REQUIREMENTS = (("numpy",), ("opencv-python-headless", "opencv-python"), ("moderngl",),
                 ("glfw",), ("pyrr",), ("trimesh",), ("av",), ("scikit-image",))

_NVIDIA_EGL_FIX = ("install the NVIDIA driver's EGL/OpenGL libraries (Ubuntu: libnvidia-gl-<driver "
                   "version>; Debian: libegl-nvidia0) so EGL can render on the GPU")


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


def nvidia_gpu() -> str | None:
    """'NAME, driver VERSION' of the first GPU nvidia-smi lists, or None."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
    if result.returncode != 0 or "," not in line:
        return None
    name, driver = line.rsplit(",", 1)
    return f"{name.strip()}, driver {driver.strip()}"


def _check_onnxruntime() -> list[Check]:
    """The installed build(s), the providers, whether CUDA really runs, and what the models use."""
    from arfx.errors import ModelError
    from arfx.tracking import models

    builds = models.installed_builds()
    listed = ", ".join(f"{name} {version}" for name, version in builds.items())
    if not builds:
        return [Check("ONNX Runtime build", False, f"not installed; {models.INSTALL_FIX}")]
    try:
        ort = models.onnxruntime()
    except ModelError as error:
        return [Check("ONNX Runtime build", False, f"{listed} is installed but does not import: {error}")]
    info = models.build_info(ort)
    if len(builds) > 1:
        build = Check("ONNX Runtime build", False,
                      f"two builds installed ({listed}); `import onnxruntime` loads {info['package']} "
                      f"{info['version']} and the other is hidden; fix: {models.BOTH_FIX}")
    else:
        kind = f"GPU build, CUDA {info['cuda']}" if info["cuda"] else "CPU build"
        build = Check("ONNX Runtime build", True, f"{listed} ({kind})")
    providers = ort.get_available_providers()
    checks = [build, Check("ONNX Runtime providers", True, ", ".join(providers))]

    gpu = nvidia_gpu()
    if info["cuda"] or models.CUDA in providers:
        try:
            session = models.create_session(models.FACE_LANDMARK, provider="cuda")
            checks.append(Check("CUDA", True, f"runs: {models.FACE_LANDMARK} on "
                                f"{session.get_providers()[0]}" + (f" ({gpu})" if gpu else "")))
        except ModelError as error:
            why = models.cuda_unavailable_reason() or str(error)
            checks.append(Check("CUDA", False, f"does not run: {why}", essential=False))
    elif gpu:
        checks.append(Check("CUDA", False, f"not used: the CPU build of ONNX Runtime is installed but "
                            f"this machine has an NVIDIA GPU ({gpu}); `bash scripts/setup.sh` installs "
                            "the GPU build (or: pip uninstall -y onnxruntime && pip install \"arfx[gpu]\")",
                            essential=False))
    else:
        checks.append(Check("CUDA", True, "not used: CPU build of ONNX Runtime, no NVIDIA GPU found"))

    try:
        used = models.create_session(models.FACE_LANDMARK).get_providers()[0]
        where = "CUDA (GPU)" if used == models.CUDA else "the CPU"
        checks.append(Check("tracking runs on", True, f"{where} ({used})"))
    except ModelError as error:
        checks.append(Check("tracking runs on", False, str(error)))
    return checks


def _is_software(renderer: str) -> bool:
    from arfx.render.context import is_software_renderer

    return is_software_renderer(renderer)


def egl_devices() -> list[dict]:
    """Every EGL device glcontext can open: index, GL_VENDOR, GL_RENDERER, GL_VERSION (or error).

    glcontext opens EGL device `GLCONTEXT_DEVICE_INDEX` (0 when unset) for arfx's headless
    context; the order of devices is the EGL vendor libraries' (NVIDIA's or Mesa's first).
    """
    import moderngl

    # glcontext lets GLCONTEXT_DEVICE_INDEX override device_index: set it aside while listing.
    chosen = os.environ.pop("GLCONTEXT_DEVICE_INDEX", None)
    try:
        from arfx.render.context import egl_device_count

        count = egl_device_count()
        devices = []
        for index in range(min(count, 16)):
            entry: dict = {"index": index}
            try:
                ctx = moderngl.create_standalone_context(backend="egl", device_index=index, require=330)
                entry.update({key: ctx.info.get(key, "") for key in ("GL_VENDOR", "GL_RENDERER", "GL_VERSION")})
                ctx.release()
            except Exception as error:  # a device that cannot make a 3.3 context is a finding
                text = str(error).strip()
                entry["error"] = text.splitlines()[0] if text else type(error).__name__
            devices.append(entry)
        return devices
    finally:
        if chosen is not None:
            os.environ["GLCONTEXT_DEVICE_INDEX"] = chosen


def _check_egl() -> list[Check]:
    try:
        from arfx.render.context import create_headless_context
        ctx = create_headless_context()
        info = ctx.info
        renderer, vendor = info.get("GL_RENDERER", "?"), info.get("GL_VENDOR", "?")
        version = ctx.version_code
        ctx.release()
    except Exception as error:  # any failure here is the finding itself
        return [Check("headless OpenGL (EGL)", False,
                      f"{error}; on Debian/Ubuntu: apt install libegl1 libegl-mesa0 libgl1-mesa-dri libgl1")]
    software = _is_software(renderer)
    kind = "software rendering on the CPU" if software else "GPU"
    checks = [Check("headless OpenGL (EGL)", True,
                    f"{renderer} ({vendor}, OpenGL {version / 100:.1f}): {kind}")]
    if not software:
        return checks
    try:
        devices = egl_devices()
    except Exception as error:  # the default context worked; the listing is extra information
        log.debug("EGL device listing failed: %s", error)
        devices = []
    hardware = [d for d in devices if d.get("GL_RENDERER") and not _is_software(d["GL_RENDERER"])]
    gpu = nvidia_gpu()
    if hardware:
        device = hardware[0]
        checks.append(Check("GPU rendering", False, f"EGL device {device['index']} is {device['GL_RENDERER']} "
                            f"but arfx renders on {renderer}; set GLCONTEXT_DEVICE_INDEX={device['index']} "
                            "to render on it", essential=False))
    elif gpu:
        checks.append(Check("GPU rendering", False, f"this machine has an NVIDIA GPU ({gpu}) but EGL finds "
                            f"only {renderer}; {_NVIDIA_EGL_FIX}", essential=False))
    return checks


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


def _verdict(checks: list[Check]) -> Check:
    """One line: ready or not, where tracking and rendering run."""
    failed = [c.name for c in checks if c.essential and not c.ok]
    by_name = {c.name: c for c in checks}
    tracking = by_name.get("tracking runs on")
    gl = by_name.get("headless OpenGL (EGL)")
    parts = []
    if tracking is not None and tracking.ok:
        parts.append("tracking on " + tracking.detail.split(" (")[0])
    if gl is not None and gl.ok:
        parts.append("rendering on " + gl.detail.split(" (")[0]
                     + (" (software)" if _is_software(gl.detail) else " (GPU)"))
    warnings = [c.name for c in checks if not c.essential and not c.ok]
    if failed:
        return Check("verdict", False, "not ready: fix " + ", ".join(failed))
    text = "ready: " + ", ".join(parts) if parts else "ready"
    if warnings:
        text += "; see the WARN lines (" + ", ".join(warnings) + ")"
    return Check("verdict", True, text)


def run_checks() -> list[Check]:
    """Run every check; never raises."""
    checks = [Check("Python", True, f"{platform.python_version()} ({platform.platform()})")]
    checks += _check_packages()
    try:
        checks += _check_onnxruntime()
    except Exception as error:  # doctor reports, it does not crash
        checks.append(Check("ONNX Runtime build", False, f"check failed: {error}"))
    checks += _check_egl()
    checks.append(_check_window())
    checks.append(_check_models())
    checks.append(_verdict(checks))
    return checks
