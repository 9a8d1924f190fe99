"""Locating the ONNX models in models/, checking them against the manifest, opening sessions
(ONNX Runtime is imported on first use; CUDA is used only when a first run on it succeeds)."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import re
import sys
import threading
from pathlib import Path

from arfx.errors import ModelError, reason
from arfx.resources import resource_dir

log = logging.getLogger(__name__)

FACE_DETECTION_SHORT_RANGE = "face_detection_short_range.onnx"
FACE_DETECTION_FULL_RANGE = "face_detection_full_range.onnx"
FACE_LANDMARK = "face_landmark.onnx"
FACE_LANDMARK_WITH_ATTENTION = "face_landmark_with_attention.onnx"

MANIFEST_NAME = "manifest.json"
_FIX = ("regenerate it with `python scripts/convert_models.py` (source checkout) "
        "or reinstall arfx")

_lock = threading.Lock()
_verified: set[Path] = set()        # files whose sha256 matched, checked once per process
_provider_logged: set[str] = set()


def models_dir() -> Path:
    """The models/ folder (checkout, installed share/arfx/models, or ARFX_MODELS_DIR)."""
    return resource_dir("models")


def _manifest_entries(directory: Path) -> dict[str, dict]:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"model manifest {path} is missing; {_FIX}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelError(f"model manifest {path} cannot be read ({error}); {_FIX}") from None
    if not isinstance(data, dict):
        raise ModelError(f"model manifest {path} is not a JSON object; {_FIX}")
    entries = dict(data.get("files", {}))
    # Entries written beside "files" rather than inside it are accepted too.
    for name, entry in data.items():
        if name != "files" and isinstance(entry, dict) and "sha256" in entry:
            entries.setdefault(name, entry)
    return entries


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, entry: dict) -> None:
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; {_FIX}")
    if _file_sha256(path) != entry.get("sha256"):
        raise ModelError(f"model file {path} does not match the sha256 in {MANIFEST_NAME} "
                         f"(altered or damaged); {_FIX}")


def model_path(filename: str) -> Path:
    """Path of a file in models/, its sha256 checked against the manifest on first use."""
    directory = models_dir()
    path = directory / filename
    key = path.absolute()
    with _lock:
        if key in _verified:
            return path
    entry = _manifest_entries(directory).get(filename)
    if entry is None:
        raise ModelError(f"{filename} is not listed in {directory / MANIFEST_NAME}; {_FIX}")
    _verify(path, entry)
    with _lock:
        _verified.add(key)
    return path


def verify_models() -> list[str]:
    """Check every file the manifest lists (always re-hashing); return their names, sorted."""
    directory = models_dir()
    entries = _manifest_entries(directory)
    if not entries:
        raise ModelError(f"{directory / MANIFEST_NAME} lists no files; {_FIX}")
    for name in sorted(entries):
        _verify(directory / name, entries[name])
    return sorted(entries)


# --- ONNX Runtime: imported on first use, one build, CUDA only when it really runs ---------------

PROVIDER_ENV = "ARFX_PROVIDER"
PROVIDER_CHOICES = ("auto", "cpu", "cuda")
CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
INSTALL_FIX = ('install one ONNX Runtime build: pip install "arfx[cpu]" (CPU) '
               'or pip install "arfx[gpu]" (NVIDIA GPU); scripts/setup.sh picks one for this machine')
BOTH_FIX = ("pip uninstall -y onnxruntime onnxruntime-gpu, then install one: "
            'pip install "arfx[cpu]" or "arfx[gpu]" (or run scripts/setup.sh)')

_ort_ready = False
_cuda_reason: str | None = None     # None: not tried yet; "": CUDA runs; else why it does not


def onnxruntime():
    """The onnxruntime module, imported on first use (arfx imports without any ONNX Runtime)."""
    global _ort_ready
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise ModelError(f"ONNX Runtime is not installed ({reason(error)}); {INSTALL_FIX}") from None
    with _lock:
        first, _ort_ready = not _ort_ready, True
    if first:
        # ORT's default logger writes warnings straight to stderr; errors still show.
        ort.set_default_logger_severity(3)
        builds = installed_builds()
        if len(builds) > 1:
            log.warning("both ONNX Runtime builds are installed (%s) and one hides the other; %s",
                        ", ".join(builds), BOTH_FIX)
    return ort


def installed_builds() -> dict[str, str]:
    """The ONNX Runtime distributions installed in this environment: {name: version}."""
    builds = {}
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            builds[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return builds


def build_info(ort) -> dict[str, str]:
    """The imported ONNX Runtime's own idea of itself: package, version, CUDA version."""
    info = {"package": "onnxruntime", "version": getattr(ort, "__version__", "?"), "cuda": ""}
    try:
        from onnxruntime.capi import build_and_package_info as package_info
        info["package"] = getattr(package_info, "package_name", info["package"])
        info["cuda"] = getattr(package_info, "cuda_version", "") or ""
    except ImportError:
        pass
    return info


def requested_provider(provider: str | None = None) -> str:
    """'auto', 'cpu' or 'cuda': the argument, else $ARFX_PROVIDER, else 'auto'."""
    source = "provider" if provider else PROVIDER_ENV
    value = (provider or os.environ.get(PROVIDER_ENV) or "auto").strip().lower()
    if value not in PROVIDER_CHOICES:
        raise ModelError(f"{source}={value!r} is not a provider choice; use auto, cpu or cuda")
    return value


def _first_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text)).strip()
    return text.splitlines()[0][:300] if text else ""


def _cuda_library_reason(ort) -> str:
    """Why the CUDA provider library cannot load ("" when it can): NVIDIA's CUDA/cuDNN pip
    wheels are loaded first (preload_dlls, ONNX Runtime >= 1.21), then the provider itself."""
    build = build_info(ort)
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):   # it reports with print()
                preload()
        except Exception as error:  # preloading is a help, never a requirement
            log.debug("onnxruntime.preload_dlls() failed: %s", error)
        for line in printed.getvalue().splitlines():
            log.debug("preload_dlls: %s", _first_line(line))
    if sys.platform != "linux":
        return ""
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not library.is_file():
        return f"{library.name} is missing from {build['package']} {build['version']}"
    try:
        ctypes.CDLL(str(library))
    except OSError as error:
        message = _first_line(error)
        missing = re.search(r"(lib[\w.+-]+\.so[\w.]*): cannot open", message)
        if missing and missing.group(1).startswith("libcuda.so"):
            return "no NVIDIA driver (libcuda.so.1 not found)"
        if missing:
            cuda = f"CUDA {build['cuda']} " if build["cuda"] else "CUDA "
            return (f"{cuda}library {missing.group(1)} not found (NVIDIA's CUDA pip wheels are "
                    f'not installed: pip install "arfx[gpu]")')
        return f"{library.name} does not load ({message})"
    return ""


def _cuda_error_reason(error: BaseException, build: dict[str, str]) -> str:
    """Why a CUDA session failed, in words, from ONNX Runtime's error text (whose first
    lines are C++ source locations; the CUDA error is further on)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lowered = text.lower()
    cuda = f"CUDA {build['cuda']} " if build["cuda"] else ""
    if ("driver version is insufficient" in lowered or "driver_mismatch" in lowered
            or "system has unsupported display driver" in lowered):
        return (f"the NVIDIA driver is too old for this {cuda}build of ONNX Runtime (update the "
                'driver, or install the CUDA 12 build: pip install "arfx[gpu-cuda12]")')
    if "no cuda-capable device" in lowered or "cudaerrornodevice" in lowered:
        return "no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
    if "out of memory" in lowered:
        return "the GPU is out of memory"
    failure = re.search(r"\b((?:CUDA|CUDNN|CUBLAS|CUFFT|CURAND) failure \d+: [^;\n]+)", text, re.IGNORECASE)
    if failure:
        return failure.group(1).strip()
    if "cudnn" in lowered:
        return f"cuDNN does not load ({_first_line(text)}); pip install \"arfx[gpu]\" brings NVIDIA's cuDNN wheels"
    return _first_line(text) or type(error).__name__


def _warm_up(session) -> None:
    """One run on zeros: CUDA kernels, cuDNN and memory are only really tried when a model runs."""
    import numpy as np

    feeds = {}
    for value in session.get_inputs():
        shape = [dim if isinstance(dim, int) and dim > 0 else 1 for dim in value.shape]
        dtype = np.float32 if value.type == "tensor(float)" else np.int64
        feeds[value.name] = np.zeros(shape, dtype)
    session.run(None, feeds)


def _open(ort, path: Path, options, providers: list) -> object:
    # enable_fallback=0: a failing CUDA session raises (ORT's own fallback would print to stdout).
    return ort.InferenceSession(str(path), options, providers=providers, enable_fallback=0)


def _cuda_session(ort, path: Path, options):
    """A session on CUDA that has run once, or (None, why not)."""
    global _cuda_reason
    with _lock:
        known = _cuda_reason
    if known:
        return None, known
    build = build_info(ort)
    why = ""
    if known is None:
        if CUDA not in ort.get_available_providers():
            why = (f"the installed ONNX Runtime is the CPU build ({build['package']} {build['version']})"
                   if not build["cuda"] else f"{build['package']} {build['version']} lists no CUDA provider")
        else:
            why = _cuda_library_reason(ort)
    session = None
    if not why:
        try:
            session = _open(ort, path, options, [CUDA, CPU])
            if session.get_providers()[0] != CUDA:
                why = f"ONNX Runtime did not put {path.name} on CUDA"
            else:
                _warm_up(session)
        except Exception as error:  # ORT raises its own pybind error types
            why = _cuda_error_reason(error, build)
    with _lock:
        _cuda_reason = why
    return (None if why else session), why


def cuda_unavailable_reason() -> str | None:
    """Why CUDA is not used ("" when it runs, None when no session has tried it yet)."""
    with _lock:
        return _cuda_reason


def create_session(filename: str, threads: int = 1, provider: str | None = None):
    """An onnxruntime.InferenceSession for a model in models/.

    provider (or $ARFX_PROVIDER): 'auto' (default) runs on CUDA when the CUDA provider is
    installed and a first run on it succeeds, else on the CPU with one warning saying why;
    'cpu' never tries CUDA; 'cuda' raises ModelError when CUDA does not run.
    """
    choice = requested_provider(provider)
    ort = onnxruntime()
    path = model_path(filename)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ORT's own warnings would reach the user's terminal
    session = None
    if choice != "cpu":
        session, why = _cuda_session(ort, path, options)
        if session is None and choice == "cuda":
            raise ModelError(f"CUDA was asked for (provider cuda) but does not run: {why}; "
                             f"use provider auto or cpu ({PROVIDER_ENV}) to run on the CPU")
        if session is None and build_info(ort)["cuda"]:
            # The GPU build is installed, so CUDA was meant to run: say once why it does not.
            with _lock:
                first = "cuda-fallback" not in _provider_logged
                _provider_logged.add("cuda-fallback")
            if first:
                log.warning("ONNX Runtime runs the models on the CPU, not CUDA: %s", why)
    if session is None:
        try:
            session = _open(ort, path, options, [CPU])
        except Exception as error:  # ORT raises its own pybind error types
            raise ModelError(f"ONNX Runtime cannot load {path} ({_first_line(error)}); {_FIX}") from None
    used = session.get_providers()[0]
    with _lock:
        first = used not in _provider_logged
        _provider_logged.add(used)
    if first:
        log.info("ONNX Runtime runs the models on %s", used)
    return session
