"""Compare arfx's tracker with MediaPipe 0.10.21 FaceMesh reference landmarks.

Usage: python scripts/compare_reference.py --media ../shared/media [--detector full] [--refine]
Images: static mode, max 10 faces (the reference settings). The clip: video mode, 4 faces, with
MediaPipe's loop (judged) and with arfx's defaults (shown; they differ from MediaPipe on
purpose where MediaPipe is wrong, see scripts/bench_tracking_truth.py).
--refine: 478 points (refine_landmarks=True) against the references' `landmarks478`, on
the images only (the clip's reference has 468 points).
--decoder-python PY: decode the clip with that interpreter's OpenCV (e.g. the MediaPipe venv's
bin/python) so arfx sees the very pixels MediaPipe saw. OpenCV releases convert the video's
YUV to RGB differently (4.11 vs 5.0: up to 17 levels apart on half the values), and the
tracker's path through hard frames (profile faces) depends on those pixels.
NME = mean landmark distance / distance between landmarks 33 and 263 (outer eye corners).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from arfx.options import TrackingOptions  # noqa: E402
from arfx.track import IMAGE_SUFFIXES, track_file  # noqa: E402
from arfx.tracking import FaceTracker  # noqa: E402

DECODE = r"""
import sys, cv2, numpy as np
capture, frames = cv2.VideoCapture(sys.argv[1]), []
while True:
    ok, bgr = capture.read()
    if not ok:
        break
    frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
np.save(sys.argv[2], np.stack(frames))
print(cv2.__version__)
"""


#: The clip is tracked twice: with MediaPipe's own loop, which must match the reference (where
#: MediaPipe is wrong, arfx's defaults are measured against ground truth by
#: scripts/bench_tracking_truth.py instead), and with arfx's defaults, shown for information.
VIDEO_SETTINGS = {
    "MediaPipe's loop": dict(mediapipe_compat=True, detector="short", smooth=False),
    "arfx defaults": {},
}
PARITY_SETTING = "MediaPipe's loop"


def _decode(path: Path, decoder: str | None) -> tuple[np.ndarray, str]:
    """The clip's RGB frames, decoded by this environment's OpenCV or by `decoder`'s."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frames.npy"
        child = subprocess.run([decoder or sys.executable, "-c", DECODE, str(path), str(out)],
                               capture_output=True, text=True, check=True)
        frames = np.load(out)
    return frames, f"OpenCV {child.stdout.strip()} ({decoder or 'this env'})"


def _track_video(frames: np.ndarray, settings: dict) -> tuple[list[int], list[np.ndarray]]:
    """Face counts and normalized landmarks per frame, video mode, 4 faces."""
    counts, landmarks = [], []
    with FaceTracker(max_num_faces=4, **settings) as tracker:
        for rgb in frames:
            faces = tracker.process(rgb)
            counts.append(len(faces))
            h, w = rgb.shape[:2]
            landmarks += [f.landmarks / np.array([w, h, w], np.float32) for f in faces]
    return counts, landmarks


def _nme(a: np.ndarray, b: np.ndarray, width: int, height: int) -> float:
    """a, b: normalized [468 or 478, 3]; b is the reference."""
    scale = np.array([width, height], dtype=np.float64)
    pa, pb = a[:, :2] * scale, b[:, :2] * scale
    iod = np.linalg.norm(pb[33] - pb[263])
    return float(np.linalg.norm(pa - pb, axis=1).mean() / iod)


def _match(ours: np.ndarray, ref: np.ndarray, width: int, height: int) -> list[float]:
    """NME of each reference face matched to one of ours (inf when unmatched)."""
    if len(ref) == 0:
        return []
    if len(ours) == 0:
        return [float("inf")] * len(ref)
    cost = np.array([[_nme(o, r, width, height) for o in ours] for r in ref])
    rows, cols = linear_sum_assignment(cost)
    out = [float("inf")] * len(ref)
    for r, c in zip(rows, cols):
        out[r] = cost[r, c]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="../shared/media", type=Path)
    parser.add_argument("--detector", default="short", choices=("short", "full"))
    parser.add_argument("--decoder-python", metavar="PY",
                        help="decode the clip with this Python's OpenCV (the reference's)")
    parser.add_argument("--refine", action="store_true",
                        help="478 points with irises, compared with `landmarks478`")
    args = parser.parse_args()
    refs = args.media / "ref"
    if not refs.is_dir():
        print(f"no reference folder {refs}", file=sys.stderr)
        return 2
    ok = True
    points, ref_key = (478, "landmarks478") if args.refine else (468, "landmarks")
    print(f"{points}-point landmarks vs reference `{ref_key}`")
    print(f"{'file':28} {'arfx':>5} {'ref':>4} {'found':>6} {'mean NME %':>10} {'max NME %':>9}")
    for path in sorted(args.media.iterdir()):
        ref_path = refs / (path.stem + ".npz")
        if not ref_path.exists():
            continue
        ref = np.load(ref_path)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            res = track_file(path, TrackingOptions(max_faces=10, static=True, detector=args.detector,
                                                   refine=args.refine))
            ours = np.stack(res.landmarks) if res.landmarks else np.zeros((0, points, 3))
            w, h = int(ref["width"]), int(ref["height"])
            nmes = _match(ours, ref[ref_key], w, h)
            found = sum(np.isfinite(nmes))
            mean = float(np.mean(nmes)) * 100 if nmes else float("nan")
            worst = float(np.max(nmes)) * 100 if nmes else float("nan")
            good = found == len(nmes) and (not nmes or mean < 1.0)
            ok &= good
            print(f"{path.name:28} {len(ours):5d} {len(nmes):4d} {found:6d} {mean:10.3f} "
                  f"{worst:9.3f} {'' if good else '  <-- FAIL'}")
            if "full_range_boxes" in ref.files and args.detector == "full":
                print(f"{'':28} MediaPipe full-range detector boxes: {len(ref['full_range_boxes'])}")
        elif args.refine:
            print(f"{path.name:28} skipped: no 478-point reference for videos")
        else:
            frames, decoded_by = _decode(path, args.decoder_python)
            print(f"{'':28} frames decoded by {decoded_by}")
            for label, settings in VIDEO_SETTINGS.items():
                good = _compare_video(path, ref, frames, label, settings)
                ok &= good or label != PARITY_SETTING
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


def _compare_video(path: Path, ref, frames: np.ndarray, label: str, settings: dict) -> bool:
    """Print the clip's rows for one tracker setting; whether they meet the parity targets
    (every reference face of frames 82-210 found, mean NME < 1%, face counts agreeing on 95%)."""
    face_count, landmarks = _track_video(frames, settings)
    w, h = int(ref["width"]), int(ref["height"])
    counts = np.asarray(face_count)
    ref_counts = ref["face_count"]
    n = min(len(counts), len(ref_counts))
    agree = float(np.mean(counts[:n] == ref_counts[:n])) * 100
    offs, roffs = np.concatenate([[0], np.cumsum(counts)]), ref["face_offset"]
    ours_all = np.stack(landmarks) if landmarks else np.zeros((0, 468, 3))
    nmes, missed = [], 0
    for i in range(82, min(211, n)):
        m = _match(ours_all[offs[i]:offs[i + 1]], ref["landmarks"][roffs[i]:roffs[i + 1]], w, h)
        missed += sum(1 for v in m if not np.isfinite(v))
        nmes += [v for v in m if np.isfinite(v)]
    mean = float(np.mean(nmes)) * 100 if nmes else float("nan")
    worst = float(np.max(nmes)) * 100 if nmes else float("nan")
    good = missed == 0 and mean < 1.0 and agree >= 95.0
    verdict = ("" if good else "  <-- FAIL") if label == PARITY_SETTING else "  (information)"
    print(f"{path.name:28} {int(counts.sum()):5d} {int(ref_counts.sum()):4d} "
          f"{int(counts.sum()) - missed:6d} {mean:10.3f} {worst:9.3f} {verdict}")
    print(f"{'':28} {label}: frames 82-210: {len(nmes)} faces matched, {missed} missed; "
          f"face-count agreement on all {n} frames: {agree:.1f}%")
    diff = np.nonzero(counts[:n] != ref_counts[:n])[0]
    if diff.size:
        print(f"{'':28} count differs on frames {diff.tolist()[:30]}")
    return good


if __name__ == "__main__":
    sys.exit(main())
