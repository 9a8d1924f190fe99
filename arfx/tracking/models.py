"""Locating the ONNX models in models/, checking them against the manifest, opening sessions."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

from arfx.errors import ModelError
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


def create_session(filename: str, threads: int = 1):
    """An onnxruntime.InferenceSession for a model in models/: CUDA when available, else CPU."""
    import onnxruntime as ort

    path = model_path(filename)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ORT's own warnings would reach the user's terminal
    providers = ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as error:  # ORT raises its own pybind error types
        raise ModelError(f"ONNX Runtime cannot load {path} ({error}); {_FIX}") from None
    used = session.get_providers()[0]
    with _lock:
        first = used not in _provider_logged
        _provider_logged.add(used)
    if first:
        log.info("ONNX Runtime runs the models on %s", used)
    return session
