"""Tracking accuracy against ground truth: still faces warped with known affines, arfx vs MediaPipe.

Usage: python scripts/bench_tracking_truth.py [--media ../shared/media] [--venv DIR] [--no-mediapipe]

The motion set (made here, deterministic; nothing is stored):
- fast:  one face, fast rotation (+-40 deg), zoom (0.65-1.45x) and translation (up to ~30 px/frame);
- exit:  one face moving out of the frame, staying out, and coming back in;
- group: three faces from different photos moving independently, with a cut (all jump) halfway;
- still: one face that does not move, fresh Gaussian sensor noise on every frame;
- drift: one face drifting slowly (0.5 px a frame) under sensor noise.
With --media, the group clip takes its faces from the photos there and two more "fast" clips
are made from them. Each clip is encoded to H.264 with PyAV and decoded back: both trackers see
the decoded pixels. The true landmarks of a frame are the still photo's landmarks (arfx static
mode on the photo) mapped through the frame's affine.

Numbers (per tracker and setting, over all clips unless named):
- err %: mean landmark error of matched, fully visible faces, % of the true inter-ocular
  distance (outer eye corners 33-263); "fully visible" = all 468 true points inside the frame
  and the face >= 80 px wide;
- >10%: face-frames (fully visible) whose error is above 10%;
- missed: fully visible faces with no tracked face on them (centroid within one inter-ocular
  distance);
- dup: frames where two tracked faces have centroids closer than one inter-ocular distance;
- jitter %: on the still clip, mean frame-to-frame landmark motion, % inter-ocular distance;
- ms: median per-frame time (a shared machine: compare within one run only).
MediaPipe 0.10.21 runs in its own virtual environment (see bench_vs_mediapipe.py).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arfx.tracking import FaceTracker  # noqa: E402

W, H = 640, 480
FPS = 30
EYES = (33, 263)
MIN_FACE_PX = 80

# ---------------------------------------------------------------------------------------------
# The motion set


@dataclass
class Sprite:
    """A face patch cut from a still photo, its feathered mask and its true landmarks."""

    rgb: np.ndarray        # S x S x 3 uint8
    mask: np.ndarray       # S x S float32 0..1
    points: np.ndarray     # [468, 2] in patch pixels


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray] = field(default_factory=list)
    truth: list[list[np.ndarray]] = field(default_factory=list)  # per frame: [468, 2] per face
    still: bool = False


def static_landmarks(rgb: np.ndarray) -> np.ndarray:
    with FaceTracker(static_image_mode=True, detector="full", smooth=False) as tracker:
        faces = tracker.process(np.ascontiguousarray(rgb))
    if not faces:
        raise SystemExit("no face found on a still photo")
    face = max(faces, key=lambda f: np.ptp(f.landmarks[:, 0]))
    return face.landmarks[:, :2].astype(np.float64)


def make_sprite(rgb: np.ndarray, face_px: float = 130.0, mirror: bool = False,
                tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Sprite:
    """Head-and-shoulders patch, scaled so the face (landmark extent) is `face_px` wide."""
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    points = static_landmarks(rgb)
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    k = face_px / (hi[0] - lo[0])
    side = int(round(face_px * 2.4))
    # patch pixel p = k * (image pixel - centre) + side / 2
    m = np.array([[k, 0, side / 2 - k * centre[0]], [0, k, side / 2 - k * centre[1]]])
    patch = cv2.warpAffine(rgb, m, (side, side), flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    patch = np.clip(patch * np.array(tint, np.float32), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    r = np.hypot((xx - side / 2) / (0.47 * side), (yy - side / 2) / (0.49 * side))
    mask = np.clip((1.0 - r) / 0.12, 0, 1).astype(np.float32)
    return Sprite(patch, mask, points * k + (m[:, 2]))


def background(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = rng.uniform(30, 200, (6, 8, 3)).astype(np.float32)
    base = cv2.resize(low, (W, H), interpolation=cv2.INTER_CUBIC)
    base += rng.normal(0, 4, (H, W, 3)).astype(np.float32)
    return np.clip(base, 0, 255).astype(np.float32)


def affine(sprite: Sprite, cx: float, cy: float, angle_deg: float, scale: float) -> np.ndarray:
    """2x3 matrix: sprite patch -> frame, the patch centre landing on (cx, cy)."""
    side = sprite.rgb.shape[0]
    a = math.radians(angle_deg)
    c, s = math.cos(a) * scale, math.sin(a) * scale
    return np.array([[c, -s, cx - c * side / 2 + s * side / 2],
                     [s, c, cy - s * side / 2 - c * side / 2]])


def compose(bg: np.ndarray, placed: list[tuple[Sprite, np.ndarray]],
            noise: float = 0.0, rng: np.random.Generator | None = None) -> tuple[np.ndarray, list]:
    frame = bg.copy()
    truth = []
    for sprite, m in placed:
        rgb = cv2.warpAffine(sprite.rgb, m, (W, H), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
        alpha = cv2.warpAffine(sprite.mask, m, (W, H), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)[..., None]
        frame = frame * (1 - alpha) + rgb * alpha
        truth.append(sprite.points @ m[:, :2].T + m[:, 2])
    if noise > 0:
        frame = frame + rng.normal(0, noise, frame.shape).astype(np.float32)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), truth


def fast_clip(name: str, sprite: Sprite, frames: int = 150, seed: int = 0) -> Clip:
    """Fast rotation, zoom and translation (sums of sines at 0.3-1.1 Hz), never leaving the frame."""
    rng = np.random.default_rng(seed)
    bg = background(seed + 10)
    phase = rng.uniform(0, 2 * math.pi, 6)
    clip = Clip(name)
    for i in range(frames):
        t = i / FPS
        cx = W / 2 + 150 * math.sin(2 * math.pi * 0.55 * t + phase[0]) + 40 * math.sin(2 * math.pi * 1.1 * t + phase[1])
        cy = H / 2 + 70 * math.sin(2 * math.pi * 0.7 * t + phase[2])
        angle = 40 * math.sin(2 * math.pi * 0.6 * t + phase[3])
        scale = 1.05 + 0.4 * math.sin(2 * math.pi * 0.45 * t + phase[4])
        frame, truth = compose(bg, [(sprite, affine(sprite, cx, cy, angle, scale))])
        clip.frames.append(frame)
        clip.truth.append(truth)
    return clip


def exit_clip(sprite: Sprite, frames: int = 120) -> Clip:
    """The face slides out to the right (fast), is gone a while, comes back and stops."""
    bg = background(21)
    clip = Clip("exit")
    for i in range(frames):
        if i < 20:
            cx = 300 + 3 * i
        elif i < 45:          # out at ~25 px/frame
            cx = 360 + 25 * (i - 20)
        elif i < 60:
            cx = 1100         # gone
        elif i < 85:          # back in from the right
            cx = 1100 - 26 * (i - 60)
        else:
            cx = 450 - 2 * (i - 85)
        angle = 10 * math.sin(i / 9)
        frame, truth = compose(bg, [(sprite, affine(sprite, cx, 250, angle, 1.0))])
        clip.frames.append(frame)
        clip.truth.append(truth)
    return clip


def group_clip(sprites: list[Sprite], frames: int = 120) -> Clip:
    """2-4 faces moving independently; at the halfway cut every face jumps somewhere else."""
    bg = background(31)
    n = len(sprites)
    clip = Clip("group")
    for i in range(frames):
        cut = i >= frames // 2
        placed = []
        for k, sprite in enumerate(sprites):
            slot = (k + (1 if cut else 0)) % n
            cx0 = W * (slot + 0.5) / n
            t = i / FPS
            cx = cx0 + 25 * math.sin(2 * math.pi * 0.8 * t + k)
            cy = H / 2 + (40 if slot % 2 else -30) + 20 * math.sin(2 * math.pi * 0.6 * t + 2 * k)
            angle = 20 * math.sin(2 * math.pi * 0.5 * t + k)
            scale = (0.8 if n > 2 else 1.0) * (1 + 0.1 * math.sin(2 * math.pi * 0.4 * t + k))
            placed.append((sprite, affine(sprite, cx, cy, angle, scale)))
        frame, truth = compose(bg, placed)
        clip.frames.append(frame)
        clip.truth.append(truth)
    return clip


def still_clip(sprite: Sprite, frames: int = 60, noise: float = 6.0) -> Clip:
    bg = background(41)
    rng = np.random.default_rng(41)
    clip = Clip("still", still=True)
    m = affine(sprite, W / 2 + 13.3, H / 2 - 7.6, 8.0, 1.1)
    for _ in range(frames):
        frame, truth = compose(bg, [(sprite, m)], noise=noise, rng=rng)
        clip.frames.append(frame)
        clip.truth.append(truth)
    return clip


def drift_clip(sprite: Sprite, frames: int = 90, noise: float = 4.0) -> Clip:
    """A slow drift (0.5 px and 0.1 deg a frame) under sensor noise: too slow to stand out of
    the landmark noise frame to frame, a test of smoothing lag."""
    bg = background(51)
    rng = np.random.default_rng(51)
    clip = Clip("drift")
    for i in range(frames):
        m = affine(sprite, 220 + 0.5 * i, 230 + 0.15 * i, 0.1 * i, 1.0)
        frame, truth = compose(bg, [(sprite, m)], noise=noise, rng=rng)
        clip.frames.append(frame)
        clip.truth.append(truth)
    return clip


def encode_decode(frames: list[np.ndarray], crf: int = 18) -> list[np.ndarray]:
    """The frames after an H.264 round trip (yuv420p), as every tracker will see them."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as src:
        decoded = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    if len(decoded) != len(frames):
        raise SystemExit(f"decoded {len(decoded)} frames, encoded {len(frames)}")
    return decoded


def motion_set(media: Path | None) -> list[Clip]:
    astronaut = np.ascontiguousarray(data.astronaut())
    main = make_sprite(astronaut)
    photos = []
    if media is not None:
        for name in ("obama.jpg", "biden.jpg", "lin-manuel-miranda.png"):
            bgr = cv2.imread(str(media / name), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SystemExit(f"cannot read {media / name}")
            photos.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if photos:
        group = [main] + [make_sprite(p, face_px=120) for p in photos[:2]]
    else:
        group = [main, make_sprite(astronaut, 120, mirror=True, tint=(0.8, 1.0, 1.15)),
                 make_sprite(astronaut, 110, tint=(1.15, 0.95, 0.8))]
    clips = [fast_clip("fast", main), exit_clip(main), group_clip(group), still_clip(main),
             drift_clip(main)]
    for k, photo in enumerate(photos[:2]):
        clips.append(fast_clip(f"fast-{k + 1}", make_sprite(photo), seed=k + 1))
    for clip in clips:
        clip.frames = encode_decode(clip.frames)
    return clips

def canvas(widths: list[float], w: int, h: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Faces `widths` px wide (the astronaut, every other one mirrored) on a w x h canvas."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(40, 200, (5, 8, 3)).astype(np.float32)
    frame = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    astronaut = np.ascontiguousarray(data.astronaut())
    n = len(widths)
    cols = int(math.ceil(math.sqrt(n * w / h)))
    rows = int(math.ceil(n / cols))
    truth = []
    for k, px in enumerate(widths):
        sprite = make_sprite(astronaut, face_px=px, mirror=bool(k % 2))
        r, c = divmod(k, cols)
        m = affine(sprite, (c + 0.5 + rng.uniform(-0.1, 0.1)) * w / cols,
                   (r + 0.5 + rng.uniform(-0.1, 0.1)) * h / rows, rng.uniform(-15, 15), 1.0)
        rgb = cv2.warpAffine(sprite.rgb, m, (w, h)).astype(np.float32)
        alpha = cv2.warpAffine(sprite.mask, m, (w, h))[..., None]
        frame = frame * (1 - alpha) + rgb * alpha
        truth.append(sprite.points @ m[:, :2].T + m[:, 2])
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), truth


def detection_set(media: Path | None) -> list[tuple[str, np.ndarray, list | int]]:
    """(name, image, truth landmarks per face or a face count) for the detection table."""
    rng = np.random.default_rng(5)
    images: list[tuple[str, np.ndarray, list | int]] = [
        ("6 faces ~100 px, 1000x667", *canvas([100] * 6, 1000, 667, 4)),
        ("9 faces 40-90 px, 1280x720", *canvas([40, 50, 60, 70, 80, 90, 45, 65, 85], 1280, 720, 3)),
    ]
    if media is not None:
        for name, count in (("obama_and_biden.jpg", 2), ("two_people.jpg", 2), ("kit_with_rose.jpg", 2)):
            bgr = cv2.imread(str(media / name), cv2.IMREAD_COLOR)
            if bgr is not None:
                images.append((name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), count))
    images += [("black 1280x720", np.zeros((720, 1280, 3), np.uint8), 0),
               ("white 1280x720", np.full((720, 1280, 3), 255, np.uint8), 0),
               ("noise 1280x720", rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8), 0)]
    return images


def count_found(found: list[np.ndarray], truth: list | int) -> str:
    """"true/all" for canvases with known faces, else the number of faces found."""
    if isinstance(truth, int):
        return str(len(found))
    centres = [f[:468, :2].mean(axis=0) for f in found]
    hits = sum(any(np.linalg.norm(c - p.mean(axis=0)) < 0.5 * iod(p) for c in centres) for p in truth)
    return f"{hits}/{len(found)}"


def detection_report(media: Path | None, python: Path | None) -> None:
    images = detection_set(media)
    options = [("short", {"detector": "short", "tiling": False}),
               ("full", {"detector": "full", "tiling": False}),
               ("default", {})]
    table = {}
    for label, kwargs in options:
        with FaceTracker(static_image_mode=True, max_num_faces=12, **kwargs) as tracker:
            for name, rgb, truth in images:
                tracker.process(rgb)  # warm
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    found = tracker.process(rgb)
                    times.append((time.perf_counter() - t0) * 1000)
                table[name, label] = (count_found([f.landmarks for f in found], truth), min(times))
    if python is not None:
        clips = [Clip(name, [rgb], [[]]) for name, rgb, _ in images]
        got = run_mediapipe(python, clips, [Setting("mp", 12, mediapipe=True, static=True)])
        for name, rgb, truth in images:
            faces, ms = got[name + "|mp"]
            table[name, "MediaPipe"] = (count_found(faces[0], truth), ms[0])
    labels = [label for label, _ in options] + (["MediaPipe"] if python is not None else [])
    print("\nstatic mode, max 12: faces found (true/found on canvases), ms per image (best of 3)")
    print(f"{'image':28}" + "".join(f"{label:>18}" for label in labels))
    for name, _, _ in images:
        cells = "".join(f"{table[name, label][0]:>9} {table[name, label][1]:6.1f}ms" for label in labels)
        print(f"{name:28}{cells}")


# ---------------------------------------------------------------------------------------------
# Scoring


def iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYES[0]] - points[EYES[1]]))


def fully_visible(points: np.ndarray) -> bool:
    inside = ((points[:, 0] >= 0) & (points[:, 0] < W) & (points[:, 1] >= 0) & (points[:, 1] < H)).all()
    return bool(inside and np.ptp(points[:, 0]) >= MIN_FACE_PX)


@dataclass
class Score:
    errors: list[float] = field(default_factory=list)
    over10: int = 0
    missed: int = 0
    visible: int = 0
    dup: int = 0
    frames: int = 0
    jitter: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)

    def add(self, other: "Score") -> None:
        for name in ("errors", "jitter", "ms"):
            getattr(self, name).extend(getattr(other, name))
        for name in ("over10", "missed", "visible", "dup", "frames"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def score(clip: Clip, found: list[list[np.ndarray]], ms: list[float]) -> Score:
    s = Score(ms=list(ms), frames=len(clip.frames))
    previous = None
    for truth, faces in zip(clip.truth, found):
        faces = [f[:468, :2] for f in faces]
        centres = [f.mean(axis=0) for f in faces]
        # duplicates: two tracked faces on one face
        for a in range(len(faces)):
            if any(np.linalg.norm(centres[a] - centres[b]) < iod(faces[a]) for b in range(a + 1, len(faces))):
                s.dup += 1
                break
        used = set()
        for points in truth:
            scale = iod(points)
            if not fully_visible(points):
                continue
            s.visible += 1
            dists = [np.linalg.norm(c - points.mean(axis=0)) if k not in used else np.inf
                     for k, c in enumerate(centres)]
            if not dists or min(dists) > scale:
                s.missed += 1
                continue
            k = int(np.argmin(dists))
            used.add(k)
            error = float(np.linalg.norm(faces[k] - points, axis=1).mean() / scale * 100)
            s.errors.append(error)
            s.over10 += error > 10
        if clip.still and len(faces) == 1 and len(truth) == 1:
            if previous is not None:
                s.jitter.append(float(np.linalg.norm(faces[0] - previous, axis=1).mean()
                                      / iod(truth[0]) * 100))
            previous = faces[0]
        else:
            previous = None
    return s

# ---------------------------------------------------------------------------------------------
# Trackers


@dataclass(frozen=True)
class Setting:
    label: str
    max_num_faces: int
    kwargs: tuple = ()          # FaceTracker keywords (arfx); None for MediaPipe
    mediapipe: bool = False
    static: bool = False


def run_arfx(clip: Clip, setting: Setting) -> tuple[list, list[float]]:
    found, ms = [], []
    with FaceTracker(max_num_faces=setting.max_num_faces, static_image_mode=setting.static,
                     **dict(setting.kwargs)) as tracker:
        for i, frame in enumerate(clip.frames):
            t0 = time.perf_counter()
            faces = tracker.process(frame, timestamp=i / FPS)
            ms.append((time.perf_counter() - t0) * 1000)
            found.append([f.landmarks for f in faces])
    return found, ms


MP_WORKER = r"""
import json, sys, time
import numpy as np
import mediapipe as mp
job = json.load(open(sys.argv[1]))
results = {}
for clip in job["clips"]:
    frames = np.load(clip["path"])
    h, w = frames.shape[1:3]
    for s in job["settings"]:
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=s["static"],
                                             max_num_faces=s["max_num_faces"]) as mesh:
            if s["static"]:
                mesh.process(frames[0])  # graph start-up is not a per-image cost
            faces, ms = [], []
            for frame in frames:
                t0 = time.perf_counter()
                result = mesh.process(frame)
                ms.append((time.perf_counter() - t0) * 1000)
                faces.append([[[p.x * w, p.y * h, p.z * w] for p in f.landmark]
                              for f in (result.multi_face_landmarks or [])])
        results[clip["name"] + "|" + s["label"]] = {"faces": faces, "ms": ms}
json.dump(results, open(job["out"], "w"))
"""


def run_mediapipe(python: Path, clips: list[Clip], settings: list[Setting]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        job = {"clips": [], "settings": [{"label": s.label, "static": s.static,
                                          "max_num_faces": s.max_num_faces} for s in settings],
               "out": str(Path(tmp) / "out.json")}
        for clip in clips:
            path = Path(tmp) / f"{clip.name}.npy"
            np.save(path, np.stack(clip.frames))
            job["clips"].append({"name": clip.name, "path": str(path)})
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        done = subprocess.run([str(python), "-c", MP_WORKER, str(Path(tmp) / "job.json")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit("MediaPipe worker failed:\n" + done.stderr[-2000:])
        answer = json.loads(Path(job["out"]).read_text())
    return {key: ([[np.array(f, np.float32) for f in faces] for faces in value["faces"]], value["ms"])
            for key, value in answer.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, help="shared media folder: more faces and clips")
    parser.add_argument("--venv", default=Path.home() / ".cache" / "arfx" / "mediapipe-venv", type=Path)
    parser.add_argument("--wheel", help="a local mediapipe 0.10.21 wheel to install from")
    parser.add_argument("--no-mediapipe", action="store_true", help="arfx rows only")
    parser.add_argument("--faces", default="1,4", help="max_num_faces values (group clip: >= its faces)")
    parser.add_argument("--per-clip", action="store_true", help="also print a row per clip")
    parser.add_argument("--no-detection", action="store_true", help="skip the detection table")
    args = parser.parse_args()

    t0 = time.perf_counter()
    clips = motion_set(args.media)
    print(f"motion set: {', '.join(f'{c.name} ({len(c.frames)})' for c in clips)} frames, "
          f"{W}x{H} H.264; made in {time.perf_counter() - t0:.0f} s")

    arfx_rows = [
        ("arfx default", ()),
        ("arfx default, no smoothing", (("smooth", False),)),
        ("arfx MediaPipe-equivalent", (("detector", "short"), ("smooth", False),
                                       ("mediapipe_compat", True))),
    ]
    import inspect
    accepted = inspect.signature(FaceTracker.__init__).parameters
    settings: list[Setting] = []
    for n in map(int, args.faces.split(",")):
        if not args.no_mediapipe:
            settings.append(Setting(f"MediaPipe 0.10.21, max {n}", n, mediapipe=True))
        for label, kwargs in arfx_rows:
            if all(k in accepted for k, _ in kwargs):
                settings.append(Setting(f"{label}, max {n}", n, kwargs))
        settings.append(Setting(f"arfx static (detect every frame), max {n}", n,
                                (("smooth", False),), static=True))

    results: dict[str, tuple] = {}
    python = None
    if not args.no_mediapipe:
        try:
            from bench_vs_mediapipe import ensure_venv
            python = ensure_venv(args.venv, args.wheel)
            results.update(run_mediapipe(python, clips, [s for s in settings if s.mediapipe]))
        except (OSError, subprocess.CalledProcessError, SystemExit) as error:
            print(f"MediaPipe skipped ({error})")
            python = None
            settings = [s for s in settings if not s.mediapipe]
    for clip in clips:
        for s in settings:
            if not s.mediapipe:
                results[clip.name + "|" + s.label] = run_arfx(clip, s)

    header = f"{'setting':46} {'err %':>6} {'>10%':>5} {'missed':>6} {'dup':>4} {'jitter %':>8} {'ms':>6}"
    print(header)
    for s in settings:
        total = Score()
        per_clip = []
        for clip in clips:
            n_faces = max(len(t) for t in clip.truth)
            if n_faces > s.max_num_faces:
                continue
            found, ms = results[clip.name + "|" + s.label]
            one = score(clip, found, ms)
            total.add(one)
            per_clip.append((clip.name, one))
        rows = [(s.label, total)] + ([(f"  {name}", one) for name, one in per_clip] if args.per_clip else [])
        for label, sc in rows:
            err = statistics.mean(sc.errors) if sc.errors else float("nan")
            jit = statistics.mean(sc.jitter) if sc.jitter else float("nan")
            print(f"{label:46} {err:6.2f} {sc.over10:5d} {sc.missed:4d}/{sc.visible:<4d} {sc.dup:3d} "
                  f"{jit:8.2f} {statistics.median(sc.ms):6.2f}")
    print("err: mean % of inter-ocular distance (fully visible, matched); >10%: face-frames; "
          "missed: fully visible faces not found / all; dup: frames with two tracks on one face; "
          "jitter: still clip; ms: median per frame (shared machine)")
    if not args.no_detection:
        detection_report(args.media, python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
