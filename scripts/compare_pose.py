"""arfx's PoseTracker and Segmenter against MediaPipe 0.10.21 Pose and SelfieSegmentation on the
same frames, in the same run.

Usage: python scripts/compare_pose.py [--media ../shared/media] [--venv DIR] [--repeats N] [--json F]

MediaPipe pins numpy<2, so `mp.solutions.pose` / `mp.solutions.selfie_segmentation` run in their
own virtual environment (the one scripts/bench_vs_mediapipe.py creates and caches) as a child
process; arfx runs in this process. Both get the same RGB pixels (cv2 decode, BGR->RGB) and the
same options. Settings:
- pose on the photos (static_image_mode=True, enable_segmentation=True);
- pose on every frame of short_hamilton_clip.mp4: static mode (every frame on its own: the
  models, decoding and ROIs without tracking history), video mode with MediaPipe's defaults
  (smooth_landmarks, enable_segmentation, smooth_segmentation), and video mode without
  smoothing. In video mode each ROI comes from the previous frame's landmarks, so a small
  difference on an unsure frame can send the two trackers to different places for many frames
  (on a cut, one keeps a pose the other drops); compare static mode for the models themselves.
  How far that goes is measured: each video setting is followed by a row of MediaPipe against
  itself on the same clip with every value moved by -1, 0 or +1 grey level (seeded noise
  nobody can see): what an exact reimplementation on other arithmetic would still show;
- selfie segmentation (model_selection 0 and 1) on the clip and on the photos; arfx as MediaPipe
  runs it (smoothing=0, refine_edges=False) and with its own defaults (smoothing 0.7 and the
  guided-filter edges), which MediaPipe has no counterpart for.
Reported per setting:
- frames with a pose for MediaPipe / arfx / both, and the agreement on which frames have one;
- landmark NME: mean 33-point distance over MediaPipe's torso size (mid-shoulder to mid-hip),
  in percent: mean / median / 95th percentile over frames where both find a pose;
- world landmark error (cm, mean) and visibility difference (mean absolute);
- mask IoU (both masks > 0.5): mean and worst over frames where both have a mask;
- for selfie segmentation on the clip, edge flicker: the mean |mask_t - mask_t-1| (soft
  values, 0..1) on the still shots (between cuts, frames barely changing) over the pixels
  MediaPipe's mask leaves unsure there on average (0.05..0.95): what temporal smoothing is for;
- ms per frame, median over frames of each frame's best time over --repeats passes; the two
  sides' passes are interleaved so that a busy machine loads both alike; ratio arfx / MediaPipe;
  and the same for CPU time (the process's, all its threads): on a machine shared with other
  work, wall time also counts the waits for a core, CPU time mostly does not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arfx.tracking.pose import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER, PoseTracker  # noqa: E402
from arfx.tracking.segmentation import Segmenter  # noqa: E402
from bench_vs_mediapipe import best_times, decode, ensure_venv  # noqa: E402  (a sibling script)

IMAGES = ("obama.jpg", "biden.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png", "rose_leslie_img1.jpg",
          "two_people.jpg", "kit_with_rose.jpg", "obama_and_biden.jpg", "obama_partial_face.jpg")
CLIP = "short_hamilton_clip.mp4"


@dataclass(frozen=True)
class Setting:
    label: str
    kind: str              # "pose" or "selfie"
    frames: str            # "photos" or "clip"
    mediapipe: dict        # options for MediaPipe's solution
    arfx: dict = field(default_factory=dict)  # options for arfx's class


# Runs inside MediaPipe's environment: argv[1] is a JSON job (frame files, settings). Each stdin
# line names a setting; the answer is one pass over its frames as a JSON line; masks (> 0.5,
# bit-packed) go to the file named in the request, and selfie masks as 0..255 next to it.
WORKER = r"""
import json, sys, time
import numpy as np
import mediapipe as mp
job = json.load(open(sys.argv[1]))
frame_sets = {name: [np.load(p, mmap_mode="r") for p in paths] for name, paths in job["frames"].items()}
for line in sys.stdin:
    request = json.loads(line)
    s = job["settings"][request["setting"]]
    if s["kind"] == "pose":
        make = lambda: mp.solutions.pose.Pose(**s["mediapipe"])
    else:
        make = lambda: mp.solutions.selfie_segmentation.SelfieSegmentation(**s["mediapipe"])
    times, cpu, found, masks, soft = [], [], [], [], []
    solution = make()
    for clip in frame_sets[request.get("frames") or s["frames"]]:
        if request["warm"]:
            solution.process(np.ascontiguousarray(clip[0]))
            break
        for frame in clip:
            frame = np.ascontiguousarray(frame)
            height, width = frame.shape[:2]
            t0, c0 = time.perf_counter(), time.process_time()
            result = solution.process(frame)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            mask = result.segmentation_mask
            masks.append(None if mask is None else np.packbits(mask > 0.5))
            if s["kind"] == "selfie" and request.get("masks") and (request.get("frames") or s["frames"]) == "clip":
                soft.append(np.round(mask * 255).astype(np.uint8))
            if s["kind"] == "pose" and result.pose_landmarks is not None:
                found.append({
                    "landmarks": [[p.x * width, p.y * height, p.z * width] for p in result.pose_landmarks.landmark],
                    "visibility": [p.visibility for p in result.pose_landmarks.landmark],
                    "world": [[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark]})
            else:
                found.append(None)
        if s["mediapipe"].get("static_image_mode") is False:
            solution.close()
            solution = make()  # each clip starts afresh
    solution.close()
    if request.get("masks"):
        packed = np.empty(len(masks), dtype=object)
        for i, m in enumerate(masks):
            packed[i] = m
        np.save(request["masks"], packed, allow_pickle=True)
        if soft:
            np.save(request["masks"] + ".soft.npy", np.stack(soft))
    print(json.dumps({"ms": times, "cpu": cpu, "found": found}), flush=True)
"""


class MediaPipeWorker:
    """MediaPipe in a child process of MediaPipe's environment, one pass per request."""

    def __init__(self, python: Path, job_file: Path, log_file) -> None:
        self._child = subprocess.Popen([str(python), "-c", WORKER, str(job_file)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=log_file, text=True)

    def run(self, setting: int, warm: bool = False, masks: str | None = None, frames: str | None = None) -> dict:
        """One pass of `setting` over its frames (or over the frame set named `frames`)."""
        self._child.stdin.write(json.dumps({"setting": setting, "warm": warm, "masks": masks,
                                            "frames": frames}) + "\n")
        self._child.stdin.flush()
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the MediaPipe worker stopped (see its log)")
        answer = json.loads(line)
        if masks:
            answer["masks"] = list(np.load(masks, allow_pickle=True))
            soft = Path(masks + ".soft.npy")
            if soft.exists():
                answer["soft"] = np.load(soft)
                soft.unlink()
        return answer

    def close(self) -> None:
        try:
            self._child.stdin.close()
        except OSError:
            pass
        self._child.wait()


def with_noise(clip: np.ndarray, seed: int = 0) -> np.ndarray:
    """`clip` with every value moved by -1, 0 or +1 (seeded): the same video to the eye."""
    rng = np.random.default_rng(seed)
    noisy = clip.astype(np.int16)
    noisy += rng.integers(-1, 2, size=clip.shape, dtype=np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def arfx_pass(clips: list[np.ndarray], setting: Setting, keep_masks: bool) -> dict:
    times, cpu, found, masks, soft = [], [], [], [], []
    for clip in clips:  # a fresh tracker per clip or photo
        if setting.kind == "pose":
            tool = PoseTracker(**setting.mediapipe)
        else:
            tool = Segmenter(model_selection=setting.mediapipe["model_selection"], **setting.arfx)
        for frame in clip:
            t0, c0 = time.perf_counter(), time.process_time()
            if setting.kind == "pose":
                bodies = tool.process(frame)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                body = bodies[0] if bodies else None
                found.append(None if body is None else {"landmarks": body.landmarks, "visibility": body.visibility,
                                                        "world": body.world})
                mask = None if body is None else body.mask
            else:
                mask = tool.process(frame)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                found.append(None)
            if keep_masks:
                masks.append(None if mask is None else np.packbits(mask > 0.5))
                if setting.kind == "selfie" and setting.frames == "clip":
                    soft.append(np.round(mask * 255).astype(np.uint8))
        tool.close()
    result = {"ms": times, "cpu": cpu, "found": found, "masks": masks}
    if soft:
        result["soft"] = np.stack(soft)
    return result


def frame_changes(clip: np.ndarray) -> np.ndarray:
    """Mean absolute change (grey levels) from each frame to the next."""
    return np.array([np.abs(clip[i + 1].astype(np.int16) - clip[i]).mean() for i in range(len(clip) - 1)])


def shots(clip: np.ndarray, cut: float = 20.0) -> list[tuple[int, int]]:
    """(first, end) frames of the clip's shots: a shot ends where the mean absolute change
    between frames exceeds `cut` grey levels."""
    bounds = [0, *(int(i) + 1 for i in np.flatnonzero(frame_changes(clip) > cut)), len(clip)]
    return list(zip(bounds, bounds[1:]))


def still_shots(clip: np.ndarray, still: float = 3.0, shortest: int = 10) -> list[tuple[int, int]]:
    """The shots of at least `shortest` frames whose median change between frames is below
    `still` grey levels."""
    change = frame_changes(clip)
    return [(a, b) for a, b in shots(clip) if b - a >= shortest and np.median(change[a:b - 1]) < still]


def nme_by_frame(found: list, reference: list) -> dict[int, float]:
    """Frame -> NME (% of the reference's torso) where both have a pose."""
    errors = {}
    for i, (a, b) in enumerate(zip(found, reference)):
        if a is not None and b is not None:
            ref = np.asarray(b["landmarks"])
            distance = np.linalg.norm(np.asarray(a["landmarks"])[:, :2] - ref[:, :2], axis=1)
            errors[i] = float(100 * distance.mean() / max(torso(ref), 1e-6))
    return errors


def edge_flicker(soft: np.ndarray, reference: np.ndarray, shots: list[tuple[int, int]]) -> float:
    """Mean |mask_t - mask_t-1| (0..1) of 0..255 masks `soft` over the frame pairs of `shots`,
    on the pixels whose mean `reference` mask over the shot is unsure (0.05..0.95)."""
    total, pairs = 0.0, 0
    for a, b in shots:
        mean = reference[a:b].mean(axis=0) / 255
        edge = (mean > 0.05) & (mean < 0.95)
        values = soft[a:b][:, edge].astype(np.int16)
        total += float(np.abs(np.diff(values, axis=0)).mean(axis=1).sum()) / 255
        pairs += b - a - 1
    return total / pairs if pairs else float("nan")


def torso(points: np.ndarray) -> float:
    shoulders = points[[LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(axis=0)
    hips = points[[LEFT_HIP, RIGHT_HIP], :2].mean(axis=0)
    return float(np.linalg.norm(shoulders - hips))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.unpackbits(a).astype(bool), np.unpackbits(b).astype(bool)
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def summarise(setting: Setting, ours: dict, theirs: dict) -> dict:
    row: dict = {"setting": setting.label, "frames": len(ours["ms"])}
    if setting.kind == "pose":
        ours_found = np.array([f is not None for f in ours["found"]])
        mp_found = np.array([f is not None for f in theirs["found"]])
        errors, world, visibility = [], [], []
        for a, b in zip(ours["found"], theirs["found"]):
            if a is None or b is None:
                continue
            reference = np.asarray(b["landmarks"])
            distance = np.linalg.norm(np.asarray(a["landmarks"])[:, :2] - reference[:, :2], axis=1)
            errors.append(100 * distance.mean() / max(torso(reference), 1e-6))
            world.append(100 * np.linalg.norm(np.asarray(a["world"]) - np.asarray(b["world"]), axis=1).mean())
            visibility.append(np.abs(np.asarray(a["visibility"]) - np.asarray(b["visibility"])).mean())
        row.update(
            mediapipe_frames=int(mp_found.sum()), arfx_frames=int(ours_found.sum()),
            both_frames=int((ours_found & mp_found).sum()),
            agreement=float((ours_found == mp_found).mean()),
            nme_mean=float(np.mean(errors)) if errors else None,
            nme_median=float(np.median(errors)) if errors else None,
            nme_p95=float(np.percentile(errors, 95)) if errors else None,
            world_cm=float(np.mean(world)) if world else None,
            visibility_diff=float(np.mean(visibility)) if visibility else None)
    ious = [iou(a, b) for a, b in zip(ours["masks"], theirs["masks"]) if a is not None and b is not None]
    row.update(mask_frames=len(ious), iou_mean=float(np.mean(ious)) if ious else None,
               iou_min=float(np.min(ious)) if ious else None,
               arfx_ms=statistics.median(ours["ms"]), mediapipe_ms=statistics.median(theirs["ms"]))
    row["ratio"] = row["arfx_ms"] / row["mediapipe_ms"]
    row.update(arfx_cpu_ms=statistics.median(ours["cpu"]), mediapipe_cpu_ms=statistics.median(theirs["cpu"]))
    row["cpu_ratio"] = row["arfx_cpu_ms"] / row["mediapipe_cpu_ms"]
    return row


def load_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def settings() -> list[Setting]:
    still = {"static_image_mode": True, "enable_segmentation": True}
    video = {"static_image_mode": False, "enable_segmentation": True}
    raw = {"static_image_mode": False, "enable_segmentation": True, "smooth_landmarks": False,
           "smooth_segmentation": False}
    plain = {"smoothing": 0.0, "refine_edges": False}
    rows = [Setting("pose photos static", "pose", "photos", still),
            Setting("pose clip static", "pose", "clip", still),
            Setting("pose clip video", "pose", "clip", video),
            Setting("pose clip video, no smoothing", "pose", "clip", raw)]
    for selection, name in ((0, "general"), (1, "landscape")):
        rows += [Setting(f"selfie {name} clip", "selfie", "clip", {"model_selection": selection}, plain),
                 Setting(f"selfie {name} clip, arfx defaults", "selfie", "clip", {"model_selection": selection}, {})]
    rows.append(Setting("selfie general photos", "selfie", "photos", {"model_selection": 0}, plain))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "arfx" / "mediapipe-venv")
    parser.add_argument("--wheel", help="a local mediapipe wheel for the environment (default: from the index)")
    parser.add_argument("--repeats", type=int, default=2, help="passes per side and setting (best time kept)")
    parser.add_argument("--frames", type=int, default=None, help="only the first N clip frames")
    parser.add_argument("--only", nargs="*", help="only settings whose label contains one of these words")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the MediaPipe-against-itself rows (+-1 grey level noise) of the video settings")
    args = parser.parse_args()

    python = ensure_venv(args.venv, args.wheel)
    frame_sets = {"photos": [load_image(args.media / name)[None] for name in IMAGES],
                  "clip": [decode(args.media / CLIP, args.frames)]}
    chosen = [s for s in settings() if not args.only or any(word in s.label for word in args.only)]
    tracked = [s.label for s in chosen if s.kind == "pose" and not s.mediapipe.get("static_image_mode")]
    if tracked and not args.no_floor:
        frame_sets["clip_noise"] = [with_noise(clip) for clip in frame_sets["clip"]]
    rows, kept = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for key, clips in frame_sets.items():
            files[key] = []
            for clip in clips:
                files[key].append(str(Path(tmp) / f"{key}{len(files[key])}.npy"))
                np.save(files[key][-1], clip)
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"frames": files, "settings": [s.__dict__ for s in chosen]}))
        with open(Path(tmp) / "mediapipe.log", "w") as log_file:
            worker = MediaPipeWorker(python, job, log_file)
            try:
                for index, setting in enumerate(chosen):
                    clips = frame_sets[setting.frames]
                    worker.run(index, warm=True)
                    arfx_pass([clips[0][:1]], setting, False)  # start-up is not a per-frame cost
                    ours, theirs = [], []
                    for repeat in range(args.repeats):
                        last = repeat == args.repeats - 1
                        for who in ((0, 1) if repeat % 2 == 0 else (1, 0)):
                            if who == 0:
                                ours.append(arfx_pass(clips, setting, last))
                            else:
                                theirs.append(worker.run(index, masks=str(Path(tmp) / "masks.npy") if last else None))
                    row = summarise(setting, best_times(ours), best_times(theirs))
                    if "soft" in ours[-1] and "soft" in theirs[-1] and setting.frames == "clip":
                        still = still_shots(clips[0])
                        reference = theirs[-1]["soft"]
                        row.update(still_shots=still, flicker_mp=edge_flicker(reference, reference, still),
                                   flicker_arfx=edge_flicker(ours[-1]["soft"], reference, still))
                    kept[setting.label] = (ours[-1]["found"], theirs[-1]["found"])
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    if setting.label in tracked and not args.no_floor:
                        noisy = worker.run(index, masks=str(Path(tmp) / "masks.npy"), frames="clip_noise")
                        floor = Setting(f"{setting.label}: MediaPipe vs itself +-1", setting.kind, setting.frames,
                                        setting.mediapipe)
                        rows.append(summarise(floor, noisy, best_times(theirs)))
                        kept[floor.label] = (noisy["found"], theirs[-1]["found"])
                        print(json.dumps(rows[-1]), flush=True)
            finally:
                worker.close()

    def number(value, digits=2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    print()
    print(f"{'setting':56} {'frames mp/arfx/both':>20} {'agree':>6} {'NME% mean/med/p95':>18} {'world cm':>8} "
          f"{'IoU mean/min':>12} {'ms arfx':>8} {'ms mp':>7} {'ratio':>6} {'cpu arfx':>8} {'cpu mp':>7} {'ratio':>6}")
    for r in rows:
        if "agreement" in r:
            found = f"{r['mediapipe_frames']}/{r['arfx_frames']}/{r['both_frames']}"
            nme = f"{number(r['nme_mean'])}/{number(r['nme_median'])}/{number(r['nme_p95'])}"
            agree, world = number(r["agreement"], 3), number(r["world_cm"])
        else:
            found, nme, agree, world = f"{r['frames']}", "-", "-", "-"
        masks = f"{number(r['iou_mean'], 3)}/{number(r['iou_min'], 3)}"
        print(f"{r['setting']:56} {found:>20} {agree:>6} {nme:>18} {world:>8} {masks:>12} "
              f"{r['arfx_ms']:>8.2f} {r['mediapipe_ms']:>7.2f} {r['ratio']:>6.2f} "
              f"{r['arfx_cpu_ms']:>8.2f} {r['mediapipe_cpu_ms']:>7.2f} {r['cpu_ratio']:>6.2f}")
    for r in rows:
        if "flicker_arfx" in r:
            spans = ", ".join(f"{a}-{b - 1}" for a, b in r["still_shots"])
            print(f"{r['setting']}: edge flicker on the still shots (frames {spans}): "
                  f"MediaPipe {r['flicker_mp']:.4f}, arfx {r['flicker_arfx']:.4f}")
    clip_shots = shots(frame_sets["clip"][0])
    for label in tracked:
        if label in kept:
            print(f"{label}: median NME % per shot (frames), arfx vs MediaPipe"
                  + ("" if args.no_floor else " | MediaPipe vs itself +-1"))
            pairs = [kept[label]] + ([] if args.no_floor else [kept[f"{label}: MediaPipe vs itself +-1"]])
            errors = [nme_by_frame(*pair) for pair in pairs]
            for a, b in clip_shots:
                medians = [[e[i] for i in range(a, b) if i in e] for e in errors]
                text = " | ".join(number(statistics.median(m)) if m else "-" for m in medians)
                print(f"  {a:4d}-{b - 1:<4d} {text}")
    if "pose clip static" in kept:
        reference = kept["pose clip static"][1]  # MediaPipe, every frame on its own
        for label in ("pose clip video", "pose clip video, no smoothing"):
            if label in kept:
                ours, theirs = kept[label]
                drifts = (("arfx", list(nme_by_frame(ours, reference).values())),
                          ("MediaPipe", list(nme_by_frame(theirs, reference).values())))
                text = "; ".join(f"{name} {np.median(errors):.2f}% over {len(errors)} frames"
                                 for name, errors in drifts if errors)
                print(f"{label}: median NME against MediaPipe's static answer on the same frame: {text}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
