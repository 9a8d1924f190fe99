"""Per-frame time of arfx's FaceTracker vs MediaPipe 0.10.21 FaceMesh on the same frames.

Usage: python scripts/bench_vs_mediapipe.py [--media ../shared/media] [--venv DIR]
MediaPipe pins numpy<2, so it runs in its own virtual environment (created once, cached in
--venv) as a child process; arfx runs in this process. Both see the same decoded frames of
short_hamilton_clip.mp4 (cv2 decode, BGR->RGB) in video mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from arfx.tracking import FaceTracker  # noqa: E402
from arfx.tracking.detector import FaceDetector  # noqa: E402
from arfx.tracking.landmarks import LandmarkModel  # noqa: E402
from arfx.tracking.roi import roi_from_detection, roi_from_landmarks  # noqa: E402

MEDIAPIPE = "mediapipe==0.10.21"
# mediapipe's own requirements pull in jax and more; FaceMesh needs only these.
MEDIAPIPE_DEPS = ["numpy<2", "protobuf>=4.25.3,<5", "absl-py", "attrs", "flatbuffers",
                  "opencv-python-headless", "matplotlib"]

WORKER = r"""
import json, sys, time
import numpy as np
import mediapipe as mp
frames = np.load(sys.argv[1])
out = {}
for faces in map(int, sys.argv[2].split(",")):
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=faces) as mesh:
        mesh.process(frames[0])  # graph start-up is not a per-frame cost
    best = None
    for _ in range(int(sys.argv[3])):
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=faces) as mesh:
            times, counts = [], []
            for frame in frames:
                t0 = time.perf_counter()
                result = mesh.process(frame)
                times.append((time.perf_counter() - t0) * 1000)
                counts.append(len(result.multi_face_landmarks or []))
        best = times if best is None else [min(a, b) for a, b in zip(best, times)]
    out[faces] = {"ms": best, "faces": counts}
print(json.dumps(out))
"""


def ensure_venv(path: Path, wheel: str | None) -> Path:
    python = path / "bin" / "python"
    check = [str(python), "-c", "import mediapipe"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating MediaPipe environment in {path} (once) ...", flush=True)
    venv.create(path, with_pip=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--no-deps", wheel or MEDIAPIPE], check=True)
    subprocess.run(pip + MEDIAPIPE_DEPS, check=True)
    return python


def decode(path: Path, limit: int | None) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while limit is None or len(frames) < limit:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise SystemExit(f"cannot decode {path}")
    return np.stack(frames)


def time_arfx(frames: np.ndarray, faces: int, repeats: int) -> tuple[list[float], list[int]]:
    best: list[float] | None = None
    with FaceTracker(max_num_faces=faces) as warm:
        warm.process(frames[0])
    for _ in range(repeats):
        times, counts = [], []
        with FaceTracker(max_num_faces=faces, threads=1) as tracker:
            for frame in frames:
                t0 = time.perf_counter()
                found = tracker.process(frame)
                times.append((time.perf_counter() - t0) * 1000)
                counts.append(len(found))
        best = times if best is None else [min(a, b) for a, b in zip(best, times)]
    return best, counts


def stage_breakdown(frames: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms of each stage of arfx's per-frame path on frames with a face.

    Reaches into the detector and landmark model to time their parts separately.
    """
    detector, landmarks = FaceDetector("short"), LandmarkModel()
    stages = ("letterbox", "detector model", "decode + NMS", "crop 192", "landmark model",
              "to image + next ROI")
    times: dict[str, list[float]] = {name: [] for name in stages}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        value = fn(*args)
        times[name].append((time.perf_counter() - t0) * 1000)
        return value

    for _ in range(repeats):
        for frame in frames:
            mapping = timed("letterbox", detector._letterbox, frame)
            outputs = timed("detector model", detector._model, detector._input)
            found = timed("decode + NMS", detector.decode, outputs, *mapping)
            if not found:
                continue
            roi = roi_from_detection(found[0])
            x = timed("crop 192", landmarks.crop, frame, roi)
            out = timed("landmark model", landmarks._model, x)
            timed("to image + next ROI", lambda: roi_from_landmarks(
                roi.to_image(out["conv2d_21"].reshape(-1, 3), 192)))
    return {name: statistics.median(v) for name, v in times.items() if v}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="../shared/media", type=Path)
    parser.add_argument("--venv", default=Path.home() / ".cache" / "arfx" / "mediapipe-venv", type=Path)
    parser.add_argument("--wheel", help="a local mediapipe 0.10.21 wheel to install from")
    parser.add_argument("--faces", default="1,4", help="max_num_faces values (default 1,4)")
    parser.add_argument("--repeats", type=int, default=2, help="passes for each tracker; each frame's best time is kept")
    parser.add_argument("--frames", type=int, help="use only the first N frames")
    args = parser.parse_args()
    frames = decode(args.media / "short_hamilton_clip.mp4", args.frames)
    python = ensure_venv(args.venv, args.wheel)
    with tempfile.TemporaryDirectory() as tmp:
        frames_file = Path(tmp) / "frames.npy"
        np.save(frames_file, frames)
        child = subprocess.run([str(python), "-c", WORKER, str(frames_file), args.faces,
                                str(args.repeats)],
                               capture_output=True, text=True)
    if child.returncode != 0:
        print(child.stderr[-2000:], file=sys.stderr)
        return 1
    mediapipe = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{len(frames)} frames {frames.shape[2]}x{frames.shape[1]}, video mode, "
          f"arfx 1 ORT thread per model; best of {args.repeats} passes per frame for both")
    print(f"{'max_num_faces':>13} {'arfx ms':>8} {'MediaPipe ms':>12} {'ratio':>6} "
          f"{'arfx faces':>10} {'MP faces':>8}")
    for faces in map(int, args.faces.split(",")):
        ours, counts = time_arfx(frames, faces, args.repeats)
        theirs = mediapipe[str(faces)]
        a, m = statistics.median(ours), statistics.median(theirs["ms"])
        print(f"{faces:13d} {a:8.3f} {m:12.3f} {a / m:6.2f} {sum(counts):10d} "
              f"{sum(theirs['faces']):8d}")
    with_face = frames[82:211] if len(frames) > 211 else frames
    print(f"arfx stages, median ms over {len(with_face)} frames with a face:")
    for name, ms in stage_breakdown(with_face, args.repeats).items():
        print(f"  {name:20} {ms:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
