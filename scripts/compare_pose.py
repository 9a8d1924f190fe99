"""arfx's PoseTracker and Segmenter against MediaPipe 0.10.21 Pose and SelfieSegmentation on the
same frames, in the same run.

Usage: python scripts/compare_pose.py [--media ../shared/media] [--venv DIR] [--repeats N] [--json F]
       [--only WORD...] [--motion-frames N] [--cv2-twins] [--no-floor]

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
- pose in video mode (with and without smoothing) on a generated motion set: skimage's astronaut
  and the photos MOTION_PHOTOS, each as a whole over a textured background, moved by smooth known
  affines (MOTIONS: still with fresh sensor noise on every frame, slow and fast translation,
  zoom, small rotation; --motion-frames each), through an H.264 round trip (the warp, compose and
  encoding of scripts/bench_tracking_truth.py); reported per clip beside MediaPipe against itself;
- with --cv2-twins, each pose setting again with arfx's crops sampled by OpenCV's warpAffine
  instead of MediaPipe's sampling (the "before" of arfx.tracking.roi.mediapipe_remap);
- selfie segmentation (model_selection 0 and 1) on the clip and on the photos; arfx as MediaPipe
  runs it (smoothing=0, refine_edges=False) and with its own defaults (smoothing 0.7 and the
  guided-filter edges), which MediaPipe has no counterpart for.
Reported per setting:
- frames with a pose for MediaPipe / arfx / both, and the agreement on which frames have one;
- landmark NME: mean 33-point distance over MediaPipe's torso size (mid-shoulder to mid-hip),
  in percent: mean / median / 95th percentile over frames where both find a pose;
- world landmark error (cm, mean) and visibility difference (mean absolute);
- one step, for the settings whose landmarks MediaPipe does not smooth: arfx's landmark model on
  the very ROI MediaPipe cropped on each frame (its graph's pose_rect_from_detection /
  pose_rect_from_landmarks outputs), NME against MediaPipe's landmarks there, and arfx's
  detector on each frame MediaPipe ran detection on (ROI corner distance, % of its side), each
  with both samplings: how exactly one step is reproduced, apart from any drift;
- for the video settings: the frames where MediaPipe agrees with itself under the noise (NME <=
  CONSISTENT) and arfx's NME on those alone; per motion clip, NME also over the landmarks
  MediaPipe calls visible (the photos' half bodies leave the legs to the model's guess);
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
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from skimage import data  # noqa: E402

from arfx.tracking.pose import (LEFT_HIP, LEFT_SHOULDER, NUM_LANDMARKS, RIGHT_HIP, RIGHT_SHOULDER,  # noqa: E402
                                PoseDetector, PoseLandmarkModel, PoseTracker, roi_from_detection)
from arfx.tracking.roi import Roi  # noqa: E402
from arfx.tracking.segmentation import Segmenter  # noqa: E402
from bench_tracking_truth import FPS, H, W, Sprite, affine, background, compose, encode_decode  # noqa: E402
from bench_vs_mediapipe import (MediaPipeWorker, best_times, decode, ensure_venv, load_image,  # noqa: E402
                                repeat_ratios)  # (sibling scripts)

IMAGES = ("obama.jpg", "biden.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png", "rose_leslie_img1.jpg",
          "two_people.jpg", "kit_with_rose.jpg", "obama_and_biden.jpg", "obama_partial_face.jpg")
CLIP = "short_hamilton_clip.mp4"
MOTION_PHOTOS = ("obama_and_biden.jpg", "two_people.jpg", "kit_with_rose.jpg")  # and skimage's astronaut
MOTIONS = ("still", "slow", "fast", "zoom", "rotate")
# The half bodies of the photos leave the legs' landmarks to the model's guess, which a +-1 grey
# level change moves by several % of the torso: NME is also given over the landmarks MediaPipe
# calls visible (visibility >= this), where MediaPipe agrees with itself.
VISIBLE = 0.5
# A frame on which MediaPipe's answers with and without +-1 grey level noise are within this NME
# (%) of each other is one where MediaPipe agrees with itself: arfx is also scored on those alone.
CONSISTENT = 1.0


@dataclass(frozen=True)
class Setting:
    label: str
    kind: str              # "pose" or "selfie"
    frames: str            # "photos" or "clip"
    mediapipe: dict        # options for MediaPipe's solution
    arfx: dict = field(default_factory=dict)  # options for arfx's class; pose: {"like_mediapipe": bool}


# Runs inside MediaPipe's environment: argv[1] is a JSON job (frame files, settings). Each stdin
# line names a setting; the answer is one pass over its frames as a JSON line; masks (> 0.5,
# bit-packed) go to the file named in the request, and selfie masks as 0..255 next to it.
WORKER = r"""
import json, sys, time
import numpy as np
import mediapipe as mp
from mediapipe.python.solution_base import SolutionBase
class _WithRects(SolutionBase):  # Pose's graph also outputs the ROIs it crops: ask for them
    def __init__(self, **kw):
        kw["outputs"] = list(kw["outputs"]) + ["pose_rect_from_landmarks", "pose_rect_from_detection"]
        super().__init__(**kw)
class PoseWithRects(mp.solutions.pose.Pose, _WithRects):
    pass
def rect(r):
    return None if r is None else [r.x_center, r.y_center, r.width, r.height, r.rotation]
job = json.load(open(sys.argv[1]))
frame_sets = {name: [np.load(p, mmap_mode="r") for p in paths] for name, paths in job["frames"].items()}
for line in sys.stdin:
    request = json.loads(line)
    s = job["settings"][request["setting"]]
    if s["kind"] == "pose":
        make = lambda: PoseWithRects(**s["mediapipe"])
    else:
        make = lambda: mp.solutions.selfie_segmentation.SelfieSegmentation(**s["mediapipe"])
    times, cpu, found, masks, soft, rects = [], [], [], [], [], []
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
            if s["kind"] == "pose":
                rects.append([rect(result.pose_rect_from_detection), rect(result.pose_rect_from_landmarks)])
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
    print(json.dumps({"ms": times, "cpu": cpu, "found": found, "rects": rects}), flush=True)
"""


def mediapipe_pass(worker: MediaPipeWorker, setting: int, warm: bool = False, masks: str | None = None,
                   frames: str | None = None) -> dict:
    """One MediaPipe pass of `setting` over its frames (or the frame set named `frames`); with
    `masks`, the worker saves its masks there and they are read back into the answer."""
    answer = worker.ask(setting=setting, warm=warm, masks=masks, frames=frames)
    if masks:
        answer["masks"] = list(np.load(masks, allow_pickle=True))
        soft = Path(masks + ".soft.npy")
        if soft.exists():
            answer["soft"] = np.load(soft)
            soft.unlink()
    return answer


def with_noise(clip: np.ndarray, seed: int = 0) -> np.ndarray:
    """`clip` with every value moved by -1, 0 or +1 (seeded): the same video to the eye."""
    rng = np.random.default_rng(seed)
    noisy = clip.astype(np.int16)
    noisy += rng.integers(-1, 2, size=clip.shape, dtype=np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


@contextmanager
def pose_sampling(like_mediapipe: bool):
    """arfx's pose crops (detector letterbox and landmark crop) sampled as MediaPipe's own
    OpenCV does (arfx.tracking.roi.mediapipe_remap, the default) or with OpenCV's warpAffine."""
    before = PoseDetector.like_mediapipe, PoseLandmarkModel.like_mediapipe
    PoseDetector.like_mediapipe = PoseLandmarkModel.like_mediapipe = like_mediapipe
    try:
        yield
    finally:
        PoseDetector.like_mediapipe, PoseLandmarkModel.like_mediapipe = before


def arfx_pass(clips: list[np.ndarray], setting: Setting, keep_masks: bool) -> dict:
    if setting.kind == "pose":
        with pose_sampling(setting.arfx.get("like_mediapipe", True)):
            return _arfx_pass(clips, setting, keep_masks)
    return _arfx_pass(clips, setting, keep_masks)


def _arfx_pass(clips: list[np.ndarray], setting: Setting, keep_masks: bool) -> dict:
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
                if setting.kind == "selfie" and setting.frames == "clip":  # (clip: a single clip)
                    soft.append(np.round(mask * 255).astype(np.uint8))
        tool.close()
    result = {"ms": times, "cpu": cpu, "found": found, "masks": masks}
    if soft:
        result["soft"] = np.stack(soft)
    return result


def frame_changes(clip: np.ndarray) -> np.ndarray:
    """Mean absolute change (grey levels) from each frame to the next."""
    return np.array([np.abs(clip[i + 1].astype(np.int16) - clip[i]).mean() for i in range(len(clip) - 1)])


def shots(clip: np.ndarray, cut: float = 20.0, change: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(first, end) frames of the clip's shots: a shot ends where the mean absolute change
    between frames (`change`, frame_changes(clip) when not given) exceeds `cut` grey levels."""
    change = frame_changes(clip) if change is None else change
    bounds = [0, *(int(i) + 1 for i in np.flatnonzero(change > cut)), len(clip)]
    return list(zip(bounds, bounds[1:]))


def still_shots(clip: np.ndarray, still: float = 3.0, shortest: int = 10) -> list[tuple[int, int]]:
    """The shots of at least `shortest` frames whose median change between frames is below
    `still` grey levels."""
    change = frame_changes(clip)
    return [(a, b) for a, b in shots(clip, change=change)
            if b - a >= shortest and np.median(change[a:b - 1]) < still]


def nme_by_frame(found: list, reference: list, visible: float | None = None) -> dict[int, float]:
    """Frame -> NME (% of the reference's torso) where both have a pose; with `visible`, over the
    landmarks whose reference visibility is at least that only (frames with none left out)."""
    errors = {}
    for i, (a, b) in enumerate(zip(found, reference)):
        if a is not None and b is not None:
            ref = np.asarray(b["landmarks"])
            distance = np.linalg.norm(np.asarray(a["landmarks"])[:, :2] - ref[:, :2], axis=1)
            if visible is not None:
                distance = distance[np.asarray(b["visibility"]) >= visible]
                if not len(distance):
                    continue
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


def mediapipe_rois(rects: list, clips: list[np.ndarray]) -> list[Roi | None]:
    """The ROI MediaPipe cropped on each frame: its detection's where detection ran, else the
    one the previous frame's landmarks gave (each clip starts afresh). `rects`: per frame the
    worker's [ROI from detection, ROI from landmarks], NormalizedRects as lists or None."""
    rois, index = [], 0
    for clip in clips:
        height, width = clip.shape[1:3]
        for i in range(len(clip)):
            detected = rects[index + i][0]
            r = detected if detected is not None else (rects[index + i - 1][1] if i else None)
            rois.append(None if r is None else Roi(cx=r[0] * width, cy=r[1] * height, size=r[2] * width, angle=r[4]))
        index += len(clip)
    return rois


def corners(roi: Roi) -> np.ndarray:
    return cv2.boxPoints(((roi.cx, roi.cy), (roi.size, roi.size), float(np.degrees(roi.angle))))


def one_step(clips: list[np.ndarray], rects: list, reference: list) -> dict:
    """arfx's models given MediaPipe's exact input, with either crop sampling (MediaPipe's, then
    OpenCV's warpAffine): the landmark model on the ROI MediaPipe cropped on each frame (NME %
    against MediaPipe's landmarks there, which must be unsmoothed), and the detector on each frame
    where MediaPipe detected (mean corner distance of the two detection ROIs, % of MediaPipe's
    side). What one tracking step reproduces, apart from how two trackers drift apart."""
    frames = [frame for clip in clips for frame in clip]
    rois = mediapipe_rois(rects, clips)
    out = {}
    for like, name in ((True, "mp"), (False, "cv")):
        with pose_sampling(like):
            model, detector = PoseLandmarkModel(), PoseDetector()
            steps, boxes = [], []
            for frame, roi, answer, rect in zip(frames, rois, reference, rects):
                if roi is not None and answer is not None:
                    points = model.run(frame, roi).points[:NUM_LANDMARKS]
                    steps.append(nme_by_frame([{"landmarks": points}], [answer])[0])
                if rect[0] is not None:
                    found = detector.detect(frame)
                    mine = corners(roi_from_detection(found[0])) if found else None
                    theirs = corners(mediapipe_rois([rect], [frame[None]])[0])
                    side = np.linalg.norm(theirs[1] - theirs[0])
                    boxes.append(float("inf") if mine is None
                                 else 100 * np.linalg.norm(mine - theirs, axis=1).mean() / side)
            model.close()
            detector.close()
        out.update({f"step_{name}_frames": len(steps),
                    f"step_{name}_median": float(np.median(steps)) if steps else None,
                    f"step_{name}_mean": float(np.mean(steps)) if steps else None,
                    f"detroi_{name}_frames": len(boxes),
                    f"detroi_{name}_median": float(np.median(boxes)) if boxes else None})
    return out


def body_sprite(rgb: np.ndarray, side: int = 440) -> Sprite:
    """A whole photo as a sprite for bench_tracking_truth.compose: fitted into a side x side
    patch, its rectangle the (slightly feathered) mask. No true points: MediaPipe is the reference."""
    h, w = rgb.shape[:2]
    k = side / max(h, w)
    ph, pw = round(h * k), round(w * k)
    patch = np.zeros((side, side, 3), np.uint8)
    mask = np.zeros((side, side), np.float32)
    y0, x0 = (side - ph) // 2, (side - pw) // 2
    patch[y0:y0 + ph, x0:x0 + pw] = cv2.resize(rgb, (pw, ph), interpolation=cv2.INTER_AREA)
    mask[y0:y0 + ph, x0:x0 + pw] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
    return Sprite(patch, mask, np.zeros((0, 2)))


def motion_at(motion: str, i: int) -> tuple[float, float, float, float, float]:
    """(centre x, centre y, angle deg, scale, noise sigma) of frame i of a motion clip."""
    t = i / FPS
    if motion == "still":   # no motion, fresh sensor noise on every frame
        return W / 2, H / 2, 0.0, 1.0, 4.0
    if motion == "slow":    # 2 px a frame
        return W / 2 - 60 + 2.0 * i, H / 2 + 0.5 * i, 0.0, 1.0, 0.0
    if motion == "fast":    # up to ~18 px a frame
        return (W / 2 + 110 * np.sin(2 * np.pi * 0.8 * t), H / 2 + 30 * np.sin(2 * np.pi * 1.1 * t),
                0.0, 1.0, 0.0)
    if motion == "zoom":    # 0.75x .. 1.25x
        return W / 2, H / 2, 0.0, 1.0 + 0.25 * np.sin(2 * np.pi * 0.5 * t), 0.0
    if motion == "rotate":  # +-8 degrees
        return W / 2, H / 2, 8.0 * np.sin(2 * np.pi * 0.5 * t), 1.0, 0.0
    raise ValueError(motion)


def motion_set(media: Path, frames: int) -> tuple[list[str], list[np.ndarray]]:
    """(names, clips): each development photo with whole or half bodies, moved by smooth known
    affines over a textured background (MOTIONS), through an H.264 round trip. Made here,
    deterministic; nothing is stored."""
    sources = [("astronaut", np.ascontiguousarray(data.astronaut()))]
    sources += [(name.rsplit(".", 1)[0], load_image(media / name)) for name in MOTION_PHOTOS]
    names, clips = [], []
    for k, (name, rgb) in enumerate(sources):
        sprite, bg = body_sprite(rgb), background(60 + k)
        for motion in MOTIONS:
            rng = np.random.default_rng(70 + k)
            made = [compose(bg, [(sprite, affine(sprite, cx, cy, angle, scale))], noise, rng)[0]
                    for cx, cy, angle, scale, noise in (motion_at(motion, i) for i in range(frames))]
            names.append(f"{name} {motion}")
            clips.append(np.stack(encode_decode(made)))
    return names, clips


def per_clip(found: list, reference: list, clips: list[np.ndarray]) -> list[dict]:
    """Frame agreement and NME (mean/median/p95) of each clip of a frame set."""
    out, index = [], 0
    for clip in clips:
        a, b = found[index:index + len(clip)], reference[index:index + len(clip)]
        index += len(clip)
        row = {"agreement": float(np.mean([(x is None) == (y is None) for x, y in zip(a, b)]))}
        for key, visible in (("nme", None), ("vis", VISIBLE)):
            errors = list(nme_by_frame(a, b, visible).values())
            row.update({f"{key}_frames": len(errors),
                        f"{key}_mean": float(np.mean(errors)) if errors else None,
                        f"{key}_median": float(np.median(errors)) if errors else None,
                        f"{key}_p95": float(np.percentile(errors, 95)) if errors else None})
        out.append(row)
    return out


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
        errors = list(nme_by_frame(ours["found"], theirs["found"]).values())
        world, visibility = [], []
        for a, b in zip(ours["found"], theirs["found"]):
            if a is None or b is None:
                continue
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


def settings(opencv_twins: bool = False) -> list[Setting]:
    still = {"static_image_mode": True, "enable_segmentation": True}
    video = {"static_image_mode": False, "enable_segmentation": True}
    raw = {"static_image_mode": False, "enable_segmentation": True, "smooth_landmarks": False,
           "smooth_segmentation": False}
    plain = {"smoothing": 0.0, "refine_edges": False}
    rows = [Setting("pose photos static", "pose", "photos", still),
            Setting("pose clip static", "pose", "clip", still),
            Setting("pose clip video", "pose", "clip", video),
            Setting("pose clip video, no smoothing", "pose", "clip", raw),
            Setting("pose motion video", "pose", "motion", video),
            Setting("pose motion video, no smoothing", "pose", "motion", raw)]
    if opencv_twins:  # the same with arfx's crops sampled by OpenCV's warpAffine instead
        rows = [twin for r in rows for twin in (r, Setting(f"{r.label} [cv2 sampling]", r.kind, r.frames, r.mediapipe,
                                                          {"like_mediapipe": False}))]
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
    parser.add_argument("--motion-frames", type=int, default=60, help="frames per generated motion clip")
    parser.add_argument("--cv2-twins", action="store_true",
                        help="each pose setting also with arfx's crops sampled by OpenCV's warpAffine (before/after)")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the MediaPipe-against-itself rows (+-1 grey level noise) of the video settings")
    args = parser.parse_args()

    python = ensure_venv(args.venv, args.wheel)
    chosen = [s for s in settings(args.cv2_twins) if not args.only or any(word in s.label for word in args.only)]
    frame_sets = {"photos": [load_image(args.media / name)[None] for name in IMAGES],
                  "clip": [decode(args.media / CLIP, args.frames)]}
    motion_names: list[str] = []
    if any(s.frames == "motion" for s in chosen):
        motion_names, frame_sets["motion"] = motion_set(args.media, args.motion_frames)
    tracked = [s.label for s in chosen if s.kind == "pose" and not s.mediapipe.get("static_image_mode")]
    floors = {s.label: s for s in chosen if s.label in tracked and not s.arfx and not args.no_floor}
    for key in {s.frames for s in floors.values()}:
        frame_sets[f"{key}_noise"] = [with_noise(clip) for clip in frame_sets[key]]
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
            worker = MediaPipeWorker(python, job, log_file, WORKER)
            try:
                for index, setting in enumerate(chosen):
                    clips = frame_sets[setting.frames]
                    mediapipe_pass(worker, index, warm=True)
                    arfx_pass([clips[0][:1]], setting, False)  # start-up is not a per-frame cost
                    ours, theirs = [], []
                    for repeat in range(args.repeats):
                        last = repeat == args.repeats - 1
                        for who in ((0, 1) if repeat % 2 == 0 else (1, 0)):
                            if who == 0:
                                ours.append(arfx_pass(clips, setting, last))
                            else:
                                theirs.append(mediapipe_pass(worker, index, masks=str(Path(tmp) / "masks.npy") if last else None))
                    row = summarise(setting, best_times(ours), best_times(theirs))
                    if "soft" in ours[-1] and "soft" in theirs[-1] and setting.frames == "clip":
                        still = still_shots(clips[0])
                        reference = theirs[-1]["soft"]
                        row.update(still_shots=still, flicker_mp=edge_flicker(reference, reference, still),
                                   flicker_arfx=edge_flicker(ours[-1]["soft"], reference, still))
                    row.update(repeat_cpu_ratios=repeat_ratios(ours, theirs, "cpu"))
                    unsmoothed = (setting.mediapipe.get("static_image_mode")
                                  or not setting.mediapipe.get("smooth_landmarks", True))
                    if setting.kind == "pose" and unsmoothed and not setting.arfx:
                        row.update(one_step(clips, theirs[-1]["rects"], theirs[-1]["found"]))
                    if setting.frames == "motion":
                        row["clips"] = dict(zip(motion_names, per_clip(ours[-1]["found"], theirs[-1]["found"], clips)))
                    kept[setting.label] = (ours[-1]["found"], theirs[-1]["found"])
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    if setting.label in floors:
                        noisy = mediapipe_pass(worker, index, masks=str(Path(tmp) / "masks.npy"), frames=f"{setting.frames}_noise")
                        floor = Setting(f"{setting.label}: MediaPipe vs itself +-1", setting.kind, setting.frames,
                                        setting.mediapipe)
                        rows.append(summarise(floor, noisy, best_times(theirs)))
                        if setting.frames == "motion":
                            rows[-1]["clips"] = dict(zip(motion_names, per_clip(noisy["found"], theirs[-1]["found"],
                                                                                clips)))
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
    for r in rows:
        if "step_mp_median" in r:
            print(f"{r['setting']}: one step (arfx's models on MediaPipe's exact input), MediaPipe sampling | "
                  f"cv2 sampling: landmark NME % median/mean {number(r['step_mp_median'], 3)}/"
                  f"{number(r['step_mp_mean'], 3)} | {number(r['step_cv_median'], 3)}/{number(r['step_cv_mean'], 3)} "
                  f"over {r['step_mp_frames']} frames; detection ROI corner distance % median "
                  f"{number(r['detroi_mp_median'], 3)} | {number(r['detroi_cv_median'], 3)} "
                  f"over {r['detroi_mp_frames']}")
    for r in rows:
        if "clips" in r and not r["setting"].endswith("+-1"):
            floor = next((f for f in rows if f["setting"] == f"{r['setting'].split(' [')[0]}: MediaPipe vs itself +-1"),
                         None)
            print(f"{r['setting']}: per clip, frame agreement, NME % mean/median/p95 over all 33 landmarks and "
                  f"over those MediaPipe calls visible (>= {VISIBLE}); arfx vs MediaPipe"
                  + ("" if floor is None else " | MediaPipe vs itself +-1"))
            for name, c in r["clips"].items():
                text = []
                for c in [c] + ([floor["clips"][name]] if floor is not None else []):
                    text.append(f"{c['agreement']:.3f} {number(c['nme_mean'])}/{number(c['nme_median'])}/"
                                f"{number(c['nme_p95'])} vis {number(c['vis_mean'])}/{number(c['vis_median'])}/"
                                f"{number(c['vis_p95'])}")
                print(f"  {name:24} " + " | ".join(text))
    for label in tracked:
        floor = f"{label.split(' [')[0]}: MediaPipe vs itself +-1"
        if label in kept and floor in kept:
            steady = {i for i, e in nme_by_frame(*kept[floor]).items() if e <= CONSISTENT}
            errors = [e for i, e in nme_by_frame(*kept[label]).items() if i in steady]
            text = (f"arfx vs MediaPipe there NME % mean/median/p95 {np.mean(errors):.2f}/{np.median(errors):.2f}/"
                    f"{np.percentile(errors, 95):.2f}" if errors else "")
            print(f"{label}: {len(steady)} of {len(kept[label][1])} frames where MediaPipe agrees with itself "
                  f"(+-1 noise, NME <= {CONSISTENT}%); {text}")
            next(r for r in rows if r["setting"] == label).update(
                consistent_frames=len(steady), consistent_nme_median=float(np.median(errors)) if errors else None)
    clip_shots = shots(frame_sets["clip"][0])
    frames_of = {s.label: s.frames for s in chosen}
    for label in tracked:
        if label in kept and frames_of[label] == "clip":
            floor = f"{label.split(' [')[0]}: MediaPipe vs itself +-1"
            print(f"{label}: median NME % per shot (frames), arfx vs MediaPipe"
                  + (" | MediaPipe vs itself +-1" if floor in kept else ""))
            pairs = [kept[label]] + ([kept[floor]] if floor in kept else [])
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
