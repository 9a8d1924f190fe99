"""Regenerate models/*.onnx from the TFLite models inside MediaPipe's published wheel.

    python scripts/convert_models.py [--cache DIR] [--out DIR] [--only NAME ...]

Downloads mediapipe==0.10.21 (one fixed wheel, no dependencies) with pip into a cache folder
(reused when present), reads the TFLite files out of the wheel as a zip, converts them with
scripts/tflite_to_onnx.py and updates models/manifest.json and models/NOTICE. Running it twice
gives byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tflite_to_onnx  # noqa: E402  (a sibling build script, not part of the arfx package)

REPO_ROOT = Path(__file__).resolve().parent.parent
MEDIAPIPE_VERSION = "0.10.21"
# One fixed wheel, so the recorded source hashes do not depend on the machine running this.
WHEEL_FILENAME = f"mediapipe-{MEDIAPIPE_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
_PIP_PLATFORM_ARGS = ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                      "--implementation", "cp", "--abi", "cp311", "--only-binary=:all:"]


@dataclass(frozen=True)
class ModelSource:
    output: str       # file name under models/
    source_path: str  # path inside the wheel
    channel_block: int = 0  # pad activations to whole blocks of this many channels (pad_channels)


MODELS = (
    ModelSource("face_landmark.onnx", "mediapipe/modules/face_landmark/face_landmark.tflite"),
    ModelSource("face_detection_short_range.onnx",
                "mediapipe/modules/face_detection/face_detection_short_range.tflite", channel_block=16),
    ModelSource("face_detection_full_range.onnx",
                "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"),
    ModelSource("face_landmark_with_attention.onnx",
                "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"),
    ModelSource("palm_detection_full.onnx", "mediapipe/modules/palm_detection/palm_detection_full.tflite"),
    ModelSource("palm_detection_lite.onnx", "mediapipe/modules/palm_detection/palm_detection_lite.tflite"),
    ModelSource("hand_landmark_full.onnx", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"),
    ModelSource("hand_landmark_lite.onnx", "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite"),
    ModelSource("pose_detection.onnx", "mediapipe/modules/pose_detection/pose_detection.tflite"),
    ModelSource("pose_landmark_full.onnx", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"),
    ModelSource("selfie_segmentation.onnx", "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"),
    ModelSource("selfie_segmentation_landscape.onnx",
                "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite"),
)


def default_cache() -> Path:
    return Path.home() / ".cache" / "arfx"


def find_wheel(cache: Path) -> Path | None:
    """The MediaPipe wheel if it is already in `cache`."""
    candidate = cache / WHEEL_FILENAME
    return candidate if candidate.is_file() else None


def fetch_wheel(cache: Path) -> Path:
    """The MediaPipe wheel in `cache`, downloaded with pip (no dependencies) when absent."""
    existing = find_wheel(cache)
    if existing:
        return existing
    cache.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(cache),
               *_PIP_PLATFORM_ARGS, f"mediapipe=={MEDIAPIPE_VERSION}"]
    print("downloading:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    wheel = find_wheel(cache)
    if wheel is None:
        raise SystemExit(f"pip did not leave {WHEEL_FILENAME} in {cache}")
    return wheel


def read_tflite(wheel: Path, source_path: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(source_path)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(models_dir: Path) -> dict:
    path = models_dir / "manifest.json"
    if path.is_file():
        return json.loads(path.read_text())
    return {"files": {}}


def save_manifest(models_dir: Path, manifest: dict) -> None:
    """Sorted keys and a fixed indent so every writer produces the same bytes."""
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (models_dir / "manifest.json").write_text(text)


def write_notice(models_dir: Path) -> None:
    """models/NOTICE from the manifest: every file, where it came from, and the licence."""
    manifest = load_manifest(models_dir)
    files = dict(manifest.get("files", {}))
    # Entries another script wrote beside "files" rather than inside it count too.
    files.update({name: entry for name, entry in manifest.items()
                  if name != "files" and isinstance(entry, dict) and "sha256" in entry})
    lines = [
        "The files in this folder are derived from Google's MediaPipe, which publishes them under",
        "the Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).",
        "Copyright Google LLC. arfx converted the TFLite models to ONNX (same weights, float16;",
        "some operations rewritten as equivalent standard ONNX for speed and portability: PRelu,",
        "MediaPipe's custom ops, parallel branches merged, channels padded with zeros) and the",
        "canonical face geometry to a plain numpy archive; the models' outputs match the",
        "originals within 1e-3.",
        "Regenerate them with scripts/convert_models.py and scripts/import_canonical_face.py.",
        "",
    ]
    for name in sorted(files):
        entry = files[name]
        lines += [
            f"{name}",
            f"  from:          {entry.get('source_package')} {entry.get('source_version')}, "
            f"{entry.get('source_path')}",
            f"  source sha256: {entry.get('source_sha256')}",
            f"  file sha256:   {entry.get('sha256')}",
            "",
        ]
    (models_dir / "NOTICE").write_text("\n".join(lines))


def convert_one(wheel: Path, model: ModelSource, models_dir: Path) -> dict:
    source = read_tflite(wheel, model.source_path)
    onnx_model = tflite_to_onnx.convert(source, Path(model.output).stem, model.channel_block)
    data = tflite_to_onnx.to_bytes(onnx_model)
    (models_dir / model.output).write_bytes(data)
    return {"source_package": "mediapipe", "source_version": MEDIAPIPE_VERSION,
            "source_path": model.source_path, "source_sha256": sha256(source), "sha256": sha256(data)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help="folder for the downloaded wheel (default: ~/.cache/arfx)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models", help="models folder to write")
    parser.add_argument("--only", nargs="+", choices=[m.output for m in MODELS], help="convert only these")
    args = parser.parse_args(argv)

    wheel = fetch_wheel(args.cache)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(args.out)
    manifest.setdefault("files", {})
    for model in MODELS:
        if args.only and model.output not in args.only:
            continue
        entry = convert_one(wheel, model, args.out)
        manifest["files"][model.output] = entry
        size = (args.out / model.output).stat().st_size
        print(f"{model.output}: {size / 1e6:.2f} MB  sha256 {entry['sha256']}", flush=True)
    save_manifest(args.out, manifest)
    write_notice(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
