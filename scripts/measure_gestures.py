"""Gestures scored on the hand model's landmarks of real, labelled frames.

Usage: python scripts/measure_gestures.py [--media ../shared/media] [--complexity 1] [--json FILE]

The labels (scripts/gesture_labels.json) were made by looking at the frames: each names a real
frame, the hand in it (the centre of its landmark box, pixels) and the gesture its shape makes
as arfx/tracking/gestures.py defines them ("none": a hand making none of them). The frames come
from the development media (the clip is tracked in video mode from its first frame, as the live
app tracks; photos in static mode) and from OpenCV's sample photos (Debian package opencv-doc).
Media that are missing are skipped and said so.

Each labelled hand is the tracked hand whose landmark box centre is nearest its point (within
half the hand's size; none there: "not found"), classified by arfx.tracking.gestures.classify_hand.
Reported per gesture: the labelled real frames and the distinct hands among them, recall (its
frames recognised as it), precision (frames recognised as it that carry its label), and what
its frames were taken for. A gesture with fewer than MIN_FRAMES real labelled frames is reported
"unmeasured" with its count; no synthetic landmarks take part.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arfx.tracking.gestures import GESTURES, NONE, classify_hand  # noqa: E402
from arfx.tracking.hands import HandTracker  # noqa: E402
from bench_vs_mediapipe import decode  # noqa: E402  (a sibling script)

LABELS = Path(__file__).resolve().parent / "gesture_labels.json"
OPENCV_SAMPLES = (Path("/usr/share/doc/opencv-doc/examples/data"), Path("/usr/share/doc/opencv-doc/opencv4/html"))
MIN_FRAMES = 20
NOT_FOUND = "not found"


def find_source(name: str, media: Path) -> Path | None:
    for folder in (media, *OPENCV_SAMPLES):
        if (folder / name).is_file():
            return folder / name
    return None


def load_frames(path: Path, wanted: set[int]) -> list[np.ndarray]:
    """Every frame of a clip up to the last wanted one (video mode needs them all), or the photo."""
    if path.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv"):
        return list(decode(path, max(wanted) + 1))
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)]


def pick_hand(hands: list, at: tuple[float, float]):
    """The hand whose landmark box centre is nearest `at`, if within half its size."""
    best, best_distance = None, float("inf")
    for hand in hands:
        lo, hi = hand.landmarks[:, :2].min(axis=0), hand.landmarks[:, :2].max(axis=0)
        distance = float(np.hypot(*((lo + hi) / 2 - np.asarray(at, dtype=np.float64))))
        if distance < best_distance and distance <= 0.5 * float((hi - lo).max()):
            best, best_distance = hand, distance
    return best


def predictions(labels: list[dict], media: Path, complexity: int) -> tuple[list[tuple[dict, str]], list[str]]:
    """(label, recognised gesture or NOT_FOUND) for each labelled frame whose source exists,
    and the sources that are missing."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for label in labels:
        by_source[label["source"]].append(label)
    results, missing = [], []
    for name, entries in by_source.items():
        path = find_source(name, media)
        if path is None:
            missing.append(name)
            continue
        wanted = {entry["frame"] for entry in entries}
        frames = load_frames(path, wanted)
        static = len(frames) == 1
        with HandTracker(static_image_mode=static, max_num_hands=2, model_complexity=complexity) as tracker:
            for index, frame in enumerate(frames):
                hands = tracker.process(frame)
                for entry in (e for e in entries if e["frame"] == index):
                    hand = pick_hand(hands, entry["at"])
                    results.append((entry, NOT_FOUND if hand is None else classify_hand(hand).name))
    return results, missing


def summarise(results: list[tuple[dict, str]]) -> dict[str, dict]:
    rows = {}
    for gesture in (*GESTURES, NONE):
        mine = [(entry, said) for entry, said in results if entry["gesture"] == gesture]
        called = [entry for entry, said in results if said == gesture]
        hands = {(entry["source"], entry.get("note", "")) for entry, _ in mine}
        right = sum(said == gesture for _, said in mine)
        rows[gesture] = {
            "frames": len(mine), "hands": len(hands),
            "measured": len(mine) >= MIN_FRAMES,
            "recall": right / len(mine) if mine else None,
            "precision": sum(entry["gesture"] == gesture for entry in called) / len(called) if called else None,
            "taken_for": dict(Counter(said for _, said in mine).most_common()),
        }
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--complexity", type=int, choices=(0, 1), default=1, help="hand landmark model")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    labels = json.loads(args.labels.read_text())["frames"]
    results, missing = predictions(labels, args.media, args.complexity)
    for name in missing:
        print(f"missing: {name} (its labelled frames are left out)")
    rows = summarise(results)
    print(f"{len(results)} labelled real hands, model complexity {args.complexity}")
    print(f"{'gesture':10} {'frames':>6} {'hands':>5} {'recall':>7} {'precision':>9}  taken for")
    for gesture, r in rows.items():
        recall = "-" if r["recall"] is None else f"{r['recall']:.2f}"
        precision = "-" if r["precision"] is None else f"{r['precision']:.2f}"
        status = "" if r["measured"] else f"  UNMEASURED: {r['frames']} real frames (< {MIN_FRAMES})"
        taken = ", ".join(f"{k} {v}" for k, v in r["taken_for"].items())
        print(f"{gesture:10} {r['frames']:>6} {r['hands']:>5} {recall:>7} {precision:>9}  {taken}{status}")
    if args.json:
        args.json.write_text(json.dumps({"complexity": args.complexity, "missing": missing, "gestures": rows},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
