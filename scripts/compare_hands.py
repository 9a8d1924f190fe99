"""arfx's HandTracker against MediaPipe 0.10.21 Hands on the same frames, in the same run.

Usage: python scripts/compare_hands.py [--media ../shared/media] [--venv DIR] [--repeats N]

MediaPipe pins numpy<2, so `mp.solutions.hands` runs in its own virtual environment (the one
scripts/bench_vs_mediapipe.py creates and caches) as a child process; arfx runs in this process.
Both get the same RGB pixels and the same options (max_num_hands=2, min confidences 0.5):
- images (static_image_mode=True): obama_and_biden.jpg and kit_with_rose.jpg;
- clip (video mode): every decoded frame of short_hamilton_clip.mp4 (cv2 decode, BGR->RGB);
each with model_complexity 0 and 1. Reported per setting:
- frames where both / only one finds a hand, and the agreement on which frames have hands;
- NME of the hands both find (paired by landmark distance): the mean 21-point distance over
  the long side of MediaPipe's landmark box, mean / median / 95th percentile;
- for the clip, the NME of one tracking step started from MediaPipe's previous landmarks
  (implementation fidelity, free of drift between the two trackers over many frames);
- for the clip, MediaPipe against itself on the same frames with invisible noise (+-1 level on
  0.1% of the pixels): how far the tracking loop alone carries two runs apart. Video mode feeds
  each frame's landmarks into the next frame's crop, and on an uncertain hand a change far below
  a pixel grows frame by frame, so the clip's NME measures that drift as much as fidelity;
- the clip frames whose paired hands stay furthest off (NME > OFF_FRAME_NME);
- handedness agreement (MediaPipe's label mapped to the person's own hand first: its "Left"
  assumes a mirrored image, so on these unmirrored frames it is the person's right hand);
- ms per frame, median over frames of each frame's best time over --repeats passes; the two
  trackers' passes are interleaved (A B, B A, ...) so that a busy machine loads both alike;
  ratio arfx / MediaPipe; the same for CPU time (the process's, all its threads: on a machine
  shared with other work, wall time also counts the waits for a core, CPU time mostly does
  not); and the ratios of the total times of each repeat's pair of passes (all frames, so
  that a frame with palm detection weighs what it costs: the per-frame median falls on either
  side of the split between frames with and without it), median over the repeats, with the
  CPU one of each repeat to show the spread; for the clip, the CPU ratio of the median frame
  among the frames with palm detection and among those with tracking alone.
Threads: arfx's HandTracker runs each ONNX Runtime session on one thread (threads=1, its
default); MediaPipe's desktop Python package runs its TFLite models through XNNPACK on one
thread too (its default off Android/iOS), so both do the same work on one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arfx.tracking.hands import HandLandmarkModel, HandTracker, roi_from_hand_landmarks  # noqa: E402
from bench_vs_mediapipe import (MediaPipeWorker, best_times, decode, ensure_venv, load_image,  # noqa: E402
                                repeat_ratios)  # (a sibling script)

IMAGES = ("obama_and_biden.jpg", "kit_with_rose.jpg")
CLIP = "short_hamilton_clip.mp4"
MAX_HANDS = 2
MATCH_LIMIT = 0.5  # hands further apart than this NME are different hands
OFF_FRAME_NME = 0.02
NOISE_FRACTION, NOISE_SEED = 0.001, 0


@dataclass(frozen=True)
class Setting:
    label: str
    frames: str  # a key of the frame sets
    static_image_mode: bool
    model_complexity: int


# Runs inside MediaPipe's environment: argv[1] is a JSON job (frame files, settings). Each stdin
# line names a setting; the answer is one pass over its frames as a JSON line.
WORKER = r"""
import json, sys, time
import numpy as np
import mediapipe as mp
job = json.load(open(sys.argv[1]))
frame_sets = {name: np.load(path, mmap_mode="r") for name, path in job["frames"].items()}
for line in sys.stdin:
    request = json.loads(line)
    s = job["settings"][request["setting"]]
    frames = frame_sets[s["frames"]]
    with mp.solutions.hands.Hands(static_image_mode=s["static_image_mode"], max_num_hands=job["max_hands"],
                                  model_complexity=s["model_complexity"]) as hands:
        if request["warm"]:
            hands.process(np.ascontiguousarray(frames[0]))
            frames = frames[:0]
        times, cpu, found = [], [], []
        for frame in frames:
            frame = np.ascontiguousarray(frame)
            height, width = frame.shape[:2]
            t0, c0 = time.perf_counter(), time.process_time()
            result = hands.process(frame)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            hands_here = []
            for landmarks, handed in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
                points = [[p.x * width, p.y * height, p.z * width] for p in landmarks.landmark]
                hands_here.append({"landmarks": points, "label": handed.classification[0].label})
            found.append(hands_here)
    print(json.dumps({"ms": times, "cpu": cpu, "hands": found}), flush=True)
"""


def arfx_pass(frames: np.ndarray, setting: Setting) -> dict:
    """One pass, as the MediaPipe worker answers."""
    times, cpu, found = [], [], []
    with HandTracker(static_image_mode=setting.static_image_mode, max_num_hands=MAX_HANDS,
                     model_complexity=setting.model_complexity) as tracker:
        for frame in frames:
            t0, c0 = time.perf_counter(), time.process_time()
            hands = tracker.process(frame)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            found.append([{"landmarks": h.landmarks, "label": h.handedness} for h in hands])
    return {"ms": times, "cpu": cpu, "hands": found}


def nme(points: np.ndarray, reference: np.ndarray) -> float:
    reference = np.asarray(reference)[:, :2]
    size = float((reference.max(axis=0) - reference.min(axis=0)).max())
    return float(np.linalg.norm(np.asarray(points)[:, :2] - reference, axis=1).mean() / max(size, 1e-6))


def pair_hands(ours: list[dict], theirs: list[dict]) -> list[tuple[dict, dict, float]]:
    """Greedy pairs (ours, MediaPipe's, NME), closest first; far-apart hands stay unpaired."""
    options = sorted((nme(a["landmarks"], b["landmarks"]), i, j) for i, a in enumerate(ours)
                     for j, b in enumerate(theirs))
    used_a, used_b, pairs = set(), set(), []
    for error, i, j in options:
        if error < MATCH_LIMIT and i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((ours[i], theirs[j], error))
    return pairs


MEDIAPIPE_TO_PERSON = {"Left": "right", "Right": "left"}  # its labels assume a mirrored image


def summarise(setting: Setting, ours: dict, theirs: dict) -> dict:
    our_hands, mp_hands = ours["hands"], theirs["hands"]
    frames = len(our_hands)
    ours_found = np.array([len(h) > 0 for h in our_hands])
    mp_found = np.array([len(h) > 0 for h in mp_hands])
    errors, same_hand, off = [], [], []
    for index, (a, b) in enumerate(zip(our_hands, mp_hands)):
        for mine, reference, error in pair_hands(a, b):
            errors.append(error)
            same_hand.append(mine["label"] == MEDIAPIPE_TO_PERSON[reference["label"]])
            if error > OFF_FRAME_NME:
                off.append(index)
    either = ours_found | mp_found
    return {
        "setting": setting.label, "frames": frames,
        "mediapipe_frames": int(mp_found.sum()), "arfx_frames": int(ours_found.sum()),
        "both_frames": int((ours_found & mp_found).sum()),
        "presence_agreement": float((ours_found == mp_found).mean()),
        "found_overlap": float((ours_found & mp_found).sum() / max(either.sum(), 1)),
        "count_agreement": float(np.mean([len(a) == len(b) for a, b in zip(our_hands, mp_hands)])),
        "mediapipe_hands": sum(len(h) for h in mp_hands), "arfx_hands": sum(len(h) for h in our_hands),
        "paired_hands": len(errors),
        "nme_mean": float(np.mean(errors)) if errors else None,
        "nme_median": float(np.median(errors)) if errors else None,
        "nme_p95": float(np.percentile(errors, 95)) if errors else None,
        "handedness_agreement": float(np.mean(same_hand)) if same_hand else None,
        "off_frames": sorted(set(off)),
        "arfx_ms": statistics.median(ours["ms"]), "mediapipe_ms": statistics.median(theirs["ms"]),
        "arfx_ms_mean": statistics.fmean(ours["ms"]), "mediapipe_ms_mean": statistics.fmean(theirs["ms"]),
        "arfx_cpu_ms": statistics.median(ours["cpu"]), "mediapipe_cpu_ms": statistics.median(theirs["cpu"]),
        **split_cpu_ratios(setting, ours, theirs),
    }


def split_cpu_ratios(setting: Setting, ours: dict, theirs: dict) -> dict:
    """The CPU ratio of the median frame among the frames where MediaPipe ran palm detection
    (the first, and each after one with fewer than MAX_HANDS hands; every frame in static
    mode) and among the frames it only tracked. The overall median frame falls in one group or
    the other depending on how many frames each has; arfx detects palms on the same frames
    wherever the two found as many hands on the frame before."""
    if setting.static_image_mode:
        detecting = [True] * len(theirs["hands"])
    else:
        detecting = [True] + [len(h) < MAX_HANDS for h in theirs["hands"][:-1]]
    row = {}
    for key, wanted in (("palm", True), ("tracked", False)):
        frames = [k for k, d in enumerate(detecting) if d == wanted]
        row[f"{key}_frames"] = len(frames)
        row[f"{key}_cpu_ratio"] = (statistics.median(ours["cpu"][k] for k in frames)
                                   / statistics.median(theirs["cpu"][k] for k in frames)) if frames else None
    return row


def paired_nme(ours: list[list[dict]], theirs: list[list[dict]]) -> list[float]:
    """NME of every pair of hands two runs both find, frame by frame."""
    return [error for a, b in zip(ours, theirs) for _, _, error in pair_hands(a, b)]


def with_noise(frames: np.ndarray) -> np.ndarray:
    """The frames with +-1 level on NOISE_FRACTION of the pixels (all channels): invisible."""
    rng = np.random.default_rng(NOISE_SEED)
    hit = rng.random(frames.shape[:3]) < NOISE_FRACTION
    step = np.where(rng.random(frames.shape[:3]) < 0.5, -1, 1)[..., None] * hit[..., None]
    return np.clip(frames.astype(np.int16) + step, 0, 255).astype(np.uint8)


def one_step_nme(frames: np.ndarray, mediapipe_hands: list[list[dict]], complexity: int) -> list[float]:
    """Video mode one frame at a time: each MediaPipe hand's landmarks give arfx's ROI for the
    next frame (as if arfx had tracked it so far); arfx's landmarks there against MediaPipe's.

    This separates how faithfully one tracking step is reproduced from how far two trackers
    drift apart over many frames (a hand the model is unsure of amplifies tiny differences).
    """
    model = HandLandmarkModel(complexity)
    errors = []
    for index in range(1, len(frames)):
        for previous in mediapipe_hands[index - 1]:
            roi = roi_from_hand_landmarks(np.asarray(previous["landmarks"], np.float32))
            landmarks, _, presence, _ = model.run(frames[index], roi)
            candidates = [nme(landmarks, h["landmarks"]) for h in mediapipe_hands[index]]
            if presence >= 0.5 and candidates and min(candidates) < MATCH_LIMIT:
                errors.append(min(candidates))
    model.close()
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "arfx" / "mediapipe-venv")
    parser.add_argument("--wheel", help="a local mediapipe wheel for the environment (default: from the index)")
    parser.add_argument("--repeats", type=int, default=2, help="passes per tracker and setting (best time kept)")
    parser.add_argument("--frames", type=int, default=None, help="only the first N clip frames")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    python = ensure_venv(args.venv, args.wheel)
    frame_sets = {f"image:{name}": load_image(args.media / name)[None] for name in IMAGES}
    frame_sets["clip"] = decode(args.media / CLIP, args.frames)
    frame_sets["clip+noise"] = with_noise(frame_sets["clip"])
    settings = [Setting(f"{name} static c{c}", f"image:{name}", True, c) for name in IMAGES for c in (0, 1)]
    settings += [Setting(f"{CLIP} video c{c}", "clip", False, c) for c in (0, 1)]
    noisy = {c: len(settings) + c for c in (0, 1)}  # MediaPipe on the noisy clip, not timed
    all_settings = settings + [Setting(f"{CLIP}+noise video c{c}", "clip+noise", False, c) for c in (0, 1)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for key, frames in frame_sets.items():
            files[key] = str(Path(tmp) / f"{len(files)}.npy")
            np.save(files[key], frames)
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"frames": files, "max_hands": MAX_HANDS,
                                   "settings": [s.__dict__ for s in all_settings]}))
        with open(Path(tmp) / "mediapipe.log", "w") as log_file:
            worker = MediaPipeWorker(python, job, log_file, WORKER)
            try:
                for index, setting in enumerate(settings):
                    frames = frame_sets[setting.frames]
                    worker.ask(setting=index, warm=True)
                    arfx_pass(frames[:1], setting)  # start-up is not a per-frame cost
                    ours, theirs = [], []
                    for repeat in range(args.repeats):
                        order = (0, 1) if repeat % 2 == 0 else (1, 0)
                        for who in order:
                            if who == 0:
                                ours.append(arfx_pass(frames, setting))
                            else:
                                theirs.append(worker.ask(setting=index, warm=False))
                    row = summarise(setting, best_times(ours), best_times(theirs))
                    row.update(repeat_ratios=repeat_ratios(ours, theirs, "ms"),
                               repeat_cpu_ratios=repeat_ratios(ours, theirs, "cpu"))
                    if not setting.static_image_mode:
                        steps = one_step_nme(frames, theirs[-1]["hands"], setting.model_complexity)
                        row.update(step_hands=len(steps), step_nme_mean=float(np.mean(steps)),
                                   step_nme_median=float(np.median(steps)))
                        drift = paired_nme(worker.ask(setting=noisy[setting.model_complexity], warm=False)["hands"], theirs[-1]["hands"])
                        row.update(drift_hands=len(drift), drift_nme_mean=float(np.mean(drift)),
                                   drift_nme_median=float(np.median(drift)),
                                   drift_nme_p95=float(np.percentile(drift, 95)))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                worker.close()
    print()
    print(f"{'setting':38} {'frames mp/arfx/both':>20} {'agree':>6} {'NME mean/med/p95':>20} "
          f"{'hand':>5} {'ms arfx':>8} {'ms mp':>7} {'ratio':>6} {'cpu arfx':>8} {'cpu mp':>7} {'ratio':>6} "
          f"{'total ratio wall/cpu':>20} {'cpu total ratio per repeat':>26}")
    for r in rows:
        nme_text = ("-" if r["nme_mean"] is None else
                    f"{r['nme_mean']:.4f}/{r['nme_median']:.4f}/{r['nme_p95']:.4f}")
        hand_text = "-" if r["handedness_agreement"] is None else f"{r['handedness_agreement']:.2f}"
        print(f"{r['setting']:38} {r['mediapipe_frames']:>6}/{r['arfx_frames']}/{r['both_frames']:<6} "
              f"{r['presence_agreement']:>6.3f} {nme_text:>20} {hand_text:>5} {r['arfx_ms']:>8.2f} "
              f"{r['mediapipe_ms']:>7.2f} {r['arfx_ms'] / r['mediapipe_ms']:>6.2f} {r['arfx_cpu_ms']:>8.2f} "
              f"{r['mediapipe_cpu_ms']:>7.2f} {r['arfx_cpu_ms'] / r['mediapipe_cpu_ms']:>6.2f} "
              f"{statistics.median(r['repeat_ratios']):>10.2f}/{statistics.median(r['repeat_cpu_ratios']):<9.2f} "
              f"{' '.join(f'{x:.2f}' for x in r['repeat_cpu_ratios']):>26}")
    for r in rows:
        if "step_nme_mean" in r:
            print(f"{r['setting']}: one tracking step from MediaPipe's previous landmarks: NME mean "
                  f"{r['step_nme_mean']:.5f}, median {r['step_nme_median']:.5f} over {r['step_hands']} hands")
            print(f"{r['setting']}: MediaPipe against itself with invisible noise: NME mean "
                  f"{r['drift_nme_mean']:.4f}, median {r['drift_nme_median']:.4f}, p95 {r['drift_nme_p95']:.4f} "
                  f"over {r['drift_hands']} hands")
            print(f"{r['setting']}: frames with a hand off by NME > {OFF_FRAME_NME}: {r['off_frames']}")
            print(f"{r['setting']}: CPU ratio of the median frame: {r['palm_cpu_ratio']:.2f} on the "
                  f"{r['palm_frames']} frames with palm detection, {r['tracked_cpu_ratio']:.2f} on the "
                  f"{r['tracked_frames']} frames with tracking alone")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
