"""Per-frame time of arfx's FaceTracker vs MediaPipe 0.10.21 FaceMesh on the same frames.

Usage: python scripts/bench_vs_mediapipe.py [--media ../shared/media] [--venv DIR]
MediaPipe pins numpy<2, so it runs in its own virtual environment (created once, cached in
--venv) as a child process; arfx runs in this process. Both see the same pixels:
- video mode: the decoded frames of short_hamilton_clip.mp4 (cv2 decode, BGR->RGB);
- static mode (512x512): every still image in --media and every --clip-every'th clip frame
  of the one-face span (82-210), each padded with black to a square (no face is cut off) and
  resized to 512x512, once with the 468-point model and once with refine_landmarks (478
  points); max_num_faces=1.
Each tracker makes --repeats passes over each setting's frames, in rounds over all the settings
(a shared machine's slow spells last longer than one setting's passes); each frame keeps its
best time, and the table shows the median of those per-frame times: wall time, and CPU time (the
process's, all its threads: with refine_landmarks arfx runs the attention model in a second
thread beside the 468-point model, so its wall time is below its CPU time when a second core
is free; MediaPipe's XNNPACK runs one thread on desktop Linux).

--agreement (no MediaPipe needed): how often the attention model alone (MediaPipe's refine
loop) would decide a crop differently from the 468-point model, which decides which faces
arfx finds (face or not; landmarks fit the crop, or look again), on the static images,
every clip frame, and bench_tracking_truth's warped motion set with and without extra sensor
noise. Crops: each detection, and shifted, scaled and turned copies of it (partial faces).
It also shows how sure the attention model was where it disagreed: the largest |presence
logit| among the disagreements.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from arfx.tracking import FaceTracker  # noqa: E402
from arfx.tracking.attention import AttentionLandmarkModel, ConcurrentRefiner  # noqa: E402
from arfx.tracking.detector import FaceDetector  # noqa: E402
from arfx.tracking.landmarks import LandmarkModel  # noqa: E402
from arfx.tracking.roi import roi_from_detection, roi_from_landmarks  # noqa: E402

MEDIAPIPE = "mediapipe==0.10.21"
# mediapipe's own requirements pull in jax and more; FaceMesh needs only these.
MEDIAPIPE_DEPS = ["numpy<2", "protobuf>=4.25.3,<5", "absl-py", "attrs", "flatbuffers",
                  "opencv-python-headless", "matplotlib"]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class Setting:
    """One row of the table: which frames, and the FaceMesh options both trackers get."""

    label: str
    frames: str  # "clip" or "static"
    static_image_mode: bool
    max_num_faces: int
    refine_landmarks: bool = False
    arfx_defaults: bool = False  # arfx with its own defaults instead of MediaPipe's options


# Runs inside MediaPipe's environment: argv[1] is a JSON job (frame files, settings). Each
# stdin line names a setting; the worker answers with one pass over its frames as a JSON line.
WORKER = r"""
import json, sys, time
import numpy as np
import mediapipe as mp
job = json.load(open(sys.argv[1]))
frame_sets = {name: np.load(path) for name, path in job["frames"].items()}
for line in sys.stdin:
    request = json.loads(line)
    s = job["settings"][request["setting"]]
    frames = frame_sets[s["frames"]]
    with mp.solutions.face_mesh.FaceMesh(
            static_image_mode=s["static_image_mode"], max_num_faces=s["max_num_faces"],
            refine_landmarks=s["refine_landmarks"]) as mesh:
        if request["warm"]:
            mesh.process(frames[0])  # graph start-up is not a per-frame cost
            frames = frames[:0]
        times, cpu, counts = [], [], []
        for frame in frames:
            t0, c0 = time.perf_counter(), time.process_time()
            result = mesh.process(frame)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            counts.append(len(result.multi_face_landmarks or []))
    print(json.dumps({"ms": times, "cpu": cpu, "faces": counts}), flush=True)
"""

Pass = dict  # per-frame lists: "ms" (wall), "cpu" (process CPU ms), "faces" (faces found)


class MediaPipeWorker:
    """A MediaPipe script (`code`, reading JSON requests on stdin, one JSON answer line each) in
    a child process of MediaPipe's environment; the face, hands and pose comparisons share it."""

    def __init__(self, python: Path, job_file: Path, log_file, code: str = WORKER) -> None:
        self._child = subprocess.Popen([str(python), "-c", code, str(job_file)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=log_file, text=True)

    def ask(self, **request) -> dict:
        """One request (e.g. setting=index, warm=False) and the worker's answer."""
        self._child.stdin.write(json.dumps(request) + "\n")
        self._child.stdin.flush()
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the MediaPipe worker stopped (see its log)")
        return json.loads(line)

    def run(self, setting: int, warm: bool = False) -> Pass:
        """One FaceMesh pass (see Pass)."""
        return self.ask(setting=setting, warm=warm)

    def close(self) -> None:
        try:
            self._child.stdin.close()
        except OSError:  # already gone
            pass
        self._child.wait()


def load_image(path: Path) -> np.ndarray:
    """An image file as RGB; exits with a line naming the file when it cannot be read."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


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


def square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image centred on a black square canvas, resized to size x size."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    y, x = (side - h) // 2, (side - w) // 2
    canvas[y:y + h, x:x + w] = rgb
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interpolation)


def face_span(clip: np.ndarray) -> np.ndarray:
    """The clip frames that show one face (all frames when --frames stops before it)."""
    return clip[82:211] if len(clip) > 82 else clip


def static_frames(media: Path, clip: np.ndarray, size: int, clip_every: int) -> np.ndarray:
    """Still images of --media plus every clip_every'th face frame, all size x size RGB."""
    images = []
    for path in sorted(p for p in media.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(square(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size))
    if clip_every > 0:
        images += [square(frame, size) for frame in face_span(clip)[::clip_every]]
    if not images:
        raise SystemExit(f"no images for static mode in {media}")
    return np.stack(images)


def tracker(setting: Setting) -> FaceTracker:
    """arfx with MediaPipe-equivalent options (short-range detector, no tiling, no
    smoothing), or with its own defaults for the `arfx_defaults` rows."""
    same = {} if setting.arfx_defaults else {"detector": "short", "tiling": False, "smooth": False}
    return FaceTracker(max_num_faces=setting.max_num_faces,
                       static_image_mode=setting.static_image_mode,
                       refine_landmarks=setting.refine_landmarks, threads=1, **same)


def arfx_pass(frames: np.ndarray, setting: Setting) -> Pass:
    times, cpu, counts = [], [], []
    with tracker(setting) as arfx:
        for frame in frames:
            t0, c0 = time.perf_counter(), time.process_time()
            found = arfx.process(frame)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            counts.append(len(found))
    return {"ms": times, "cpu": cpu, "faces": counts}


def repeat_ratios(ours: list[dict], theirs: list[dict], key: str) -> list[float]:
    """arfx / MediaPipe per repeat (each pair of interleaved passes alone): sums over frames,
    so that the many short frames and the few long ones weigh what they cost."""
    return [sum(a[key]) / sum(b[key]) for a, b in zip(ours, theirs)]


def best_times(passes: list[dict], keys: tuple[str, ...] = ("ms", "cpu")) -> dict:
    """Each frame's fastest wall ("ms") and CPU ("cpu") time over the passes, with the results
    of the last pass (the compare scripts' passes are dicts of per-frame lists)."""
    result = dict(passes[-1])
    for key in keys:
        result[key] = [min(values) for values in zip(*(p[key] for p in passes))]
    return result


def time_all(frame_sets: dict[str, np.ndarray], settings: list[Setting],
             mediapipe: MediaPipeWorker, repeats: int) -> list[tuple[Pass, Pass]]:
    """(arfx, MediaPipe) best-of-`repeats` per-frame times of each setting.

    A shared machine has slow spells of a few seconds, longer than one setting's passes: the
    passes go round all the settings `repeats` times, so that each setting's passes are spread
    over the whole run and each frame keeps a time from outside such a spell. In each round
    the two trackers' passes are back to back, who goes first swapped from round to round.
    """
    for index, setting in enumerate(settings):  # start-up is not a per-frame cost
        with tracker(setting) as warm:
            warm.process(frame_sets[setting.frames][0])
        mediapipe.run(index, warm=True)
    ours: list[list[Pass]] = [[] for _ in settings]
    theirs: list[list[Pass]] = [[] for _ in settings]
    for i in range(repeats):
        for index, setting in enumerate(settings):
            frames = frame_sets[setting.frames]
            if (i + index) % 2:
                ours[index].append(arfx_pass(frames, setting))
                theirs[index].append(mediapipe.run(index))
            else:
                theirs[index].append(mediapipe.run(index))
                ours[index].append(arfx_pass(frames, setting))
    return [(best_times(a), best_times(b)) for a, b in zip(ours, theirs)]


def stage_breakdown(frames: np.ndarray, repeats: int, refine_landmarks: bool = False,
                    next_roi: bool = True) -> dict[str, float]:
    """Median ms of each stage of arfx's per-frame detect-then-landmark path.

    Reaches into the detector and landmark models to time their parts separately. With
    refine_landmarks the attention model runs beside the 468-point model (in the caller's
    thread, the 468-point model in a worker), as the tracker runs them (ConcurrentRefiner).
    Frames where the detector finds nothing count only for the detector stages.
    """
    detector = FaceDetector("short")
    landmarks = LandmarkModel()
    refiner = ConcurrentRefiner() if refine_landmarks else None
    models = "468 + attention models, 2 threads" if refiner else "landmark model + to image"
    stages = ["letterbox", "detector model", "decode + NMS", "crop 192", models]
    stages += ["refine 478"] if refiner else []
    stages += ["next ROI"] if next_roi else []
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
            if refiner is None:
                points, _ = timed(stages[4], landmarks.run_crop, roi)
            else:
                points, _ = timed(stages[4], refiner.look, landmarks, roi, x)
                points = timed("refine 478", refiner.refine_mesh, roi, points)
            if next_roi:
                timed("next ROI", roi_from_landmarks, points)
    if refiner is not None:
        refiner.close()
    return {name: statistics.median(v) for name, v in times.items() if v}


def print_stages(title: str, stages: dict[str, float]) -> None:
    print(title)
    for name, ms in stages.items():
        print(f"  {name:34} {ms:6.3f}")
    print(f"  {'sum of medians':34} {sum(stages.values()):6.3f}")


# Crops around a detection that cut the face off or miss it (centre shift in ROI sides,
# size factor, extra roll in radians): where presence and fit sit near their limits.
PERTURBATIONS = ((0.3, 0, 1, 0.1), (-0.45, 0, 1, 0), (0, 0.5, 1, 0), (0.6, 0.2, 1, 0.2),
                 (0, 0, 0.55, 0), (0, 0, 1.9, 0), (0.2, -0.3, 0.8, -0.3))


def agreement(media: Path, clip: np.ndarray, static: np.ndarray) -> None:
    """Print the --agreement table (see the module docstring)."""
    from bench_tracking_truth import motion_set

    from arfx.tracking.detector import FaceFinder
    from arfx.tracking.roi import Roi, roi_mismatch
    from arfx.tracking.tracker import DETECTION_RECROP_MISMATCH

    motion = [f for c in motion_set(media) for f in c.frames]
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in motion]
    sets = {"static images": list(static), "clip frames": list(clip), "motion set": motion,
            "motion set + noise": noisy}
    finder = FaceFinder("auto")
    models = LandmarkModel(), AttentionLandmarkModel()

    def decide(model, rgb, roi) -> tuple[str, float]:
        points, presence = model.run(rgb, roi)
        logit = math.log(max(presence, 1e-12) / max(1 - presence, 1e-12))
        if presence < 0.5:
            return "none", logit
        fits = roi_mismatch(roi, roi_from_landmarks(points[:468])) <= DETECTION_RECROP_MISMATCH
        return ("fits" if fits else "again"), logit

    print(f"{'frames':20} {'crops':>16} {'differ':>14} {'face/none':>10} {'max |logit|':>11}")
    for name, frames in sets.items():
        counts = {"detections": [0, 0, 0, 0.0], "off-centre": [0, 0, 0, 0.0]}
        for rgb in frames:
            rgb = np.ascontiguousarray(rgb)
            for detection in finder.detect(rgb):
                roi = roi_from_detection(detection)
                for dx, dy, k, turn in ((0, 0, 1, 0),) + PERTURBATIONS:
                    crop = Roi(roi.cx + dx * roi.size, roi.cy + dy * roi.size, roi.size * k,
                               roi.angle + turn)
                    (theirs, _), (ours, logit) = (decide(m, rgb, crop) for m in models)
                    row = counts["detections" if k == 1 and dx == dy == 0 else "off-centre"]
                    row[0] += 1
                    if ours != theirs:
                        row[1] += 1
                        row[2] += "none" in (ours, theirs)
                        row[3] = max(row[3], abs(logit))
        for kind, (n, differ, presence, logit) in counts.items():
            print(f"{name:20} {n:6d} {kind:>9} {differ:6d} {100 * differ / max(n, 1):6.2f}% "
                  f"{presence:10d} {logit:11.1f}")
    print("differ: the attention model's decision (no face / landmarks fit / look again) is not "
          "the 468-point model's; face/none: of those, the ones where one model sees no face; "
          "max |logit|: the attention model's presence logit furthest from 0 among them")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="../shared/media", type=Path)
    parser.add_argument("--venv", default=Path.home() / ".cache" / "arfx" / "mediapipe-venv", type=Path)
    parser.add_argument("--wheel", help="a local mediapipe 0.10.21 wheel to install from")
    parser.add_argument("--faces", default="1,4", help="video-mode max_num_faces values (default 1,4)")
    parser.add_argument("--arfx-defaults", action="store_true",
                        help="also time arfx's own defaults (auto detector, tiling, smoothing) "
                             "against the same MediaPipe setting")
    parser.add_argument("--repeats", type=int, default=6,
                        help="passes for each tracker and setting, in rounds over the settings; "
                             "each frame's best time is kept (default 6)")
    parser.add_argument("--frames", type=int, help="use only the first N clip frames")
    parser.add_argument("--static-size", type=int, default=512,
                        help="side of the square static-mode images (default 512; 0 skips static mode)")
    parser.add_argument("--clip-every", type=int, default=5,
                        help="every Nth clip frame with a face joins the static-mode images (default 5; 0: none)")
    parser.add_argument("--agreement", action="store_true",
                        help="only measure where the attention model alone would decide "
                             "differently from the 468-point model (see above)")
    args = parser.parse_args()

    clip = decode(args.media / "short_hamilton_clip.mp4", args.frames)
    if args.agreement:
        agreement(args.media, clip, static_frames(args.media, clip, args.static_size or 512,
                                                  args.clip_every))
        return 0
    frame_sets = {"clip": clip}
    settings = [Setting(f"video, max_num_faces={n}", "clip", False, n)
                for n in map(int, args.faces.split(","))]
    if args.arfx_defaults:
        settings += [Setting(f"video, max_num_faces={n}, arfx defaults", "clip", False, n,
                             arfx_defaults=True) for n in map(int, args.faces.split(","))]
    if args.static_size > 0:
        frame_sets["static"] = static_frames(args.media, clip, args.static_size, args.clip_every)
        side = f"{args.static_size}x{args.static_size}"
        settings += [Setting(f"static {side}, max_num_faces=1", "static", True, 1),
                     Setting(f"static {side}, refine_landmarks", "static", True, 1, True)]

    python = ensure_venv(args.venv, args.wheel)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        job = {"frames": {}, "settings": [asdict(s) for s in settings]}
        for name, frames in frame_sets.items():
            job["frames"][name] = str(Path(tmp) / f"{name}.npy")
            np.save(job["frames"][name], frames)
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job))
        with open(Path(tmp) / "worker.log", "w+") as log:
            worker = MediaPipeWorker(python, job_file, log)
            try:
                rows = time_all(frame_sets, settings, worker, args.repeats)
            except (RuntimeError, ValueError, OSError):  # the worker failed or died
                log.seek(0)
                print(log.read()[-2000:], file=sys.stderr)
                return 1
            finally:
                worker.close()

    print(f"video: {len(clip)} clip frames {clip.shape[2]}x{clip.shape[1]}", end="")
    if "static" in frame_sets:
        print(f"; static: {len(frame_sets['static'])} images {args.static_size}x{args.static_size}"
              f" (stills in {args.media.name}/ + 1 in {args.clip_every} face frames of the clip,"
              " padded square)", end="")
    print(f"\narfx 1 ORT thread per model; best of {args.repeats} passes per frame for both (in "
          "rounds over the settings, the two trackers back to back); median over frames")
    width = max(len(s.label) for s in settings)
    print(f"{'setting':{width}} {'arfx ms':>8} {'MediaPipe ms':>12} {'ratio':>6} "
          f"{'arfx CPU':>8} {'MP CPU':>7} {'ratio':>6} {'arfx faces':>10} {'MP faces':>8}")
    for setting, (ours, theirs) in zip(settings, rows):
        a, m = statistics.median(ours["ms"]), statistics.median(theirs["ms"])
        ac, mc = statistics.median(ours["cpu"]), statistics.median(theirs["cpu"])
        print(f"{setting.label:{width}} {a:8.3f} {m:12.3f} {a / m:6.2f} {ac:8.3f} {mc:7.3f} "
              f"{ac / mc:6.2f} {sum(ours['faces']):10d} {sum(theirs['faces']):8d}")

    with_face = face_span(clip)
    print_stages(f"arfx stages (video), median ms over {len(with_face)} clip frames with a face:",
                 stage_breakdown(with_face, args.repeats))
    if "static" in frame_sets:
        images = frame_sets["static"]
        for refine_landmarks in (False, True):
            kind = "refine_landmarks" if refine_landmarks else "468 points"
            print_stages(f"arfx stages (static, {kind}), median ms over {len(images)} images:",
                         stage_breakdown(images, args.repeats, refine_landmarks, next_roi=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
