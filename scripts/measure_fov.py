"""Measure `--fov auto` (arfx.geometry.fov.FovEstimator) on synthetic clips made with a KNOWN field of view.

    .venv/bin/python scripts/measure_fov.py [--fovs 40,45,...,75] [--frames 90] [--seeds 3]
        [--no-landmarks] [--no-tracker] [--save-clip DIR] [--photos astronaut,a.jpg,...] [--cache DIR]

Two kinds of clip, each for every field of view asked for:
- landmarks: the canonical face mesh posed in 3D and projected with the known field of view
  straight into tracker-style landmarks (x, y pixels; z the relative depth scaled like x), with
  Gaussian noise (--noise px) and a face of another shape than the canonical one (nose 25 %
  deeper, cheeks 15 % flatter, 8 % wider: a per-seed random mix), for several kinds of motion
  (depth + across + turning, depth only, across only, turning only, still);
- tracker: a face photo (the astronaut, or each of --photos) warped onto the posed canonical mesh
  (each of its 898 triangles taken from where the tracker finds that triangle in the photo,
  painted far to near, back faces left out) and rendered with the known field of view at 640x480,
  then tracked by arfx's own FaceTracker: the estimate from real tracker landmarks (its z included).
The clip's apparent motion is the same at every field of view (the face from about half the
frame height down to a fifth, across the frame and turning); what changes is the camera.
Printed per clip: the estimate, its error, the estimator's uncertainty and whether it is
confident (else the fallback, 63, is what arfx would use). For the tracked clips, then: a table
of errors (face x field of view), each face's perspective gain (how much of a true change of
perspective the landmark model showed on it), their geometric mean and spread (what
arfx.geometry.fov.TRACKER_PERSPECTIVE_GAIN and TRACKER_GAIN_SPREAD hold, measured on six faces),
each face's errors with the gain of the other faces only (held out), and how much of a change of
the field of view the tracker's points show with no estimator in between (its response)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arfx.geometry import CanonicalFace, rotation_from_euler  # noqa: E402
from arfx.geometry.fov import (TRACKER_PERSPECTIVE_GAIN, FovEstimate, FovEstimator, _actual,  # noqa: E402
                              _apparent)

FACE_HEIGHT_CM = 17.0  # about the canonical mesh's chin-to-forehead extent

MOTIONS = {  # name: (depth range as face height / frame height, across (of the free half-width), turn)
    "depth+across+turn": ((0.5, 0.2), 0.7, 1.0),
    "depth only": ((0.5, 0.2), 0.0, 0.0),
    "across only": ((0.3, 0.3), 0.7, 0.0),
    "turn only": ((0.3, 0.3), 0.0, 1.0),
    "still": ((0.3, 0.3), 0.0, 0.0),
}


def poses(fov: float, frames: int, width: int, height: int, motion: str):
    """(rotation, translation cm) per frame for a motion, seen the same way at any fov."""
    (near_frac, far_frac), across, turn = MOTIONS[motion]
    tan = math.tan(math.radians(fov) / 2)
    for t in np.linspace(0.0, 1.0, frames):
        # Depth from the face's apparent height: a smooth sweep near -> far -> near.
        frac = near_frac + (far_frac - near_frac) * 0.5 * (1 - math.cos(2 * math.pi * t))
        depth = FACE_HEIGHT_CM / (2 * tan * frac)
        half_w, half_h = tan * depth * width / height, tan * depth
        free_x, free_y = max(half_w - 0.6 * FACE_HEIGHT_CM, 0), max(half_h - 0.6 * FACE_HEIGHT_CM, 0)
        centre = np.array([across * free_x * math.sin(2 * math.pi * 1.3 * t),
                           0.5 * across * free_y * math.sin(2 * math.pi * 0.7 * t + 1.0), -depth])
        angles = turn * np.array([25 * math.sin(2 * math.pi * 1.1 * t), 12 * math.sin(2 * math.pi * 0.8 * t),
                                  8 * math.sin(2 * math.pi * 0.5 * t)])
        yield rotation_from_euler(*angles), centre


def project(points: np.ndarray, fov: float, width: int, height: int) -> np.ndarray:
    """Camera-space points -> tracker-style landmarks (pixels; z relative depth scaled like x)."""
    f = 0.5 * height / math.tan(math.radians(fov) / 2)
    depth = -points[:, 2]
    z = (depth - depth.mean()) * f / depth.mean()
    return np.column_stack([0.5 * width + f * points[:, 0] / depth, 0.5 * height - f * points[:, 1] / depth, z])


def other_face(canonical: CanonicalFace, rng: np.random.Generator) -> np.ndarray:
    """The canonical face made into someone else's: deeper nose, flatter cheeks, wider."""
    v = canonical.vertices.astype(np.float64).copy()
    nose, cheeks, wide = rng.uniform(0.0, 1.0, 3)
    v[:, 2] *= np.where(v[:, 2] > 3.0, 1.0 + 0.25 * nose, 1.0 - 0.15 * cheeks)
    v[:, 0] *= 1.0 + 0.08 * wide
    return v


def landmark_clip(fov, frames, motion, seed, noise, width=1280, height=720, canonical_shape=False):
    rng = np.random.default_rng(seed)
    canonical = CanonicalFace.load()
    shape = canonical.vertices.astype(np.float64) if canonical_shape else other_face(canonical, rng)
    for rotation, centre in poses(fov, frames, width, height, motion):
        yield project(shape @ rotation.T + centre, fov, width, height) + rng.normal(0, noise, (468, 3))


def estimate(observations, width, height, tracker: bool = False) -> tuple:
    """The estimate for ideal landmarks, or (`tracker`) as arfx makes it for its tracker's."""
    estimator = FovEstimator(**({} if tracker else {"perspective_gain": 1.0, "gain_spread": 0.0}))
    for lm in observations:
        estimator.add(lm, width, height)
    return estimator.estimate()


def row(label: str, fov: float, est) -> str:
    value = est.estimated if est.estimated is not None else float("nan")
    return (f"{label:<28} {fov:5.1f}  {value:7.2f}  {value - fov:+6.2f}  {est.uncertainty:6.2f}  "
            f"{'yes' if est.confident else 'no ':<4} {est.fov:6.2f}  {est.frames}")


HEADER = f"{'clip':<28} {'fov':>5}  {'estim.':>7}  {'error':>6}  {'+-':>6}  conf {'used':>6}  obs"


# --- rendered clips, tracked ---------------------------------------------------------------------


class PhotoFace:
    """A photo's face (the astronaut by default), to be warped onto a posed canonical mesh."""

    def __init__(self, path: Path | None = None) -> None:
        from arfx.tracking import FaceTracker

        if path is None:
            from skimage import data

            self.name, self.image = "astronaut", np.ascontiguousarray(data.astronaut()[:, :, :3])
        else:
            from arfx.sources import read_image

            self.name, self.image = path.stem, read_image(path)
        with FaceTracker(static_image_mode=True) as tracker:
            faces = tracker.process(self.image)
        if not faces:
            raise SystemExit(f"no face found in {self.name}")
        self.source = faces[0].landmarks[:468, :2].astype(np.float32)
        self.triangles = CanonicalFace.load().triangles

    def render(self, points: np.ndarray, fov: float, width: int, height: int,
               background: np.ndarray) -> np.ndarray:
        """The face with camera-space vertices `points` drawn over `background` (far to near)."""
        import cv2

        f = 0.5 * height / math.tan(math.radians(fov) / 2)
        depth = -points[:, 2]
        pixels = np.column_stack([0.5 * width + f * points[:, 0] / depth,
                                  0.5 * height - f * points[:, 1] / depth]).astype(np.float32)
        out = background.copy()
        tri = self.triangles
        a, b, c = pixels[tri[:, 0]], pixels[tri[:, 1]], pixels[tri[:, 2]]
        # Counter-clockwise seen from the front is clockwise with y down: negative area faces away.
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        order = np.argsort(-depth[tri].mean(axis=1))
        for i in order:
            if area[i] >= 0:
                continue
            dst = pixels[tri[i]]
            src = self.source[tri[i]]
            x0, y0 = np.floor(dst.min(axis=0)).astype(int)
            x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 1
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
            if x1 <= x0 or y1 <= y0:
                continue
            m = cv2.getAffineTransform(src, dst - np.array([x0, y0], np.float32))
            patch = cv2.warpAffine(self.image, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(mask, np.round((dst - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, 4)
            region = out[y0:y1, x0:x1]
            region[mask > 0] = patch[mask > 0]
        return out


def tracked_clip(photo: PhotoFace, fov, frames, motion, width=640, height=480, save: Path | None = None,
                 cache: Path | None = None):
    """Landmarks the tracker finds on the rendered clip (frames without a face are skipped);
    kept in `cache` (a folder) when given, and read from there on later runs."""
    from arfx.tracking import FaceTracker

    cached = None if cache is None else cache / f"{photo.name}_{motion.replace(' ', '_')}_{fov:g}_{frames}.npy"
    if cached is not None and cached.exists():
        return list(np.load(cached))

    canonical = CanonicalFace.load().vertices.astype(np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack([60 + 40 * xx / width, 70 + 30 * yy / height, 90 + 0 * xx], axis=2).astype(np.uint8)
    found = []
    with FaceTracker(detector="auto", smooth=False) as tracker:
        for i, (rotation, centre) in enumerate(poses(fov, frames, width, height, motion)):
            rgb = photo.render(canonical @ rotation.T + centre, fov, width, height, background)
            if save is not None:
                import cv2

                save.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(save / f"fov{fov:g}_{i:03d}.jpg"), rgb[:, :, ::-1])
            faces = tracker.process(rgb, i / 30.0)
            if faces:
                found.append(faces[0].landmarks[:468])
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, np.asarray(found, dtype=np.float32).reshape(-1, 468, 3))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fovs", default="40,45,50,55,60,63,70,75")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--seeds", type=int, default=3, help="landmark clips per fov and motion")
    parser.add_argument("--noise", type=float, default=1.0, help="landmark noise, pixels (1280x720)")
    parser.add_argument("--no-landmarks", action="store_true")
    parser.add_argument("--canonical", action="store_true",
                        help="landmark clips of the canonical face itself (else faces unlike it)")
    parser.add_argument("--no-tracker", action="store_true")
    parser.add_argument("--tracker-motions", default="depth+across+turn")
    parser.add_argument("--save-clip", type=Path, help="write the rendered frames here (JPEG)")
    parser.add_argument("--photos", default="", help="comma-separated face photos to render; astronaut: the built-in one (the default)")
    parser.add_argument("--cache", type=Path, help="keep the tracked landmarks of each clip here and reuse them")
    args = parser.parse_args()
    fovs = [float(v) for v in args.fovs.split(",")]

    if not args.no_landmarks:
        faces = "the canonical face" if args.canonical else "faces unlike the canonical one"
        print(f"landmark clips: 1280x720, {args.frames} frames, noise {args.noise:g} px, "
              f"{args.seeds} clips of {faces} per fov\n{HEADER}")
        summary: dict[str, list[float]] = {}
        confident: dict[str, int] = {}
        for motion in MOTIONS:
            for fov in fovs:
                for seed in range(args.seeds):
                    est = estimate(landmark_clip(fov, args.frames, motion, seed, args.noise,
                                                 canonical_shape=args.canonical), 1280, 720)
                    print(row(motion, fov, est))
                    if est.confident:
                        summary.setdefault(motion, []).append(abs(est.estimated - fov))
                    confident[motion] = confident.get(motion, 0) + int(est.confident)
        print("\nlandmark clips, |error| of confident estimates (degrees):")
        total = len(fovs) * args.seeds
        for motion in MOTIONS:
            errors = summary.get(motion)
            stats = f"mean {np.mean(errors):.2f}  max {np.max(errors):.2f}" if errors else "-"
            print(f"  {motion:<20} confident {confident.get(motion, 0)}/{total}  {stats}")

    if not args.no_tracker:
        photos = [PhotoFace(None if p == "astronaut" else Path(p)) for p in args.photos.split(",") if p] \
            or [PhotoFace()]
        print(f"\nrendered clips tracked by FaceTracker: 640x480, {args.frames} frames\n{HEADER}")
        found_by: dict[tuple[str, str], dict[float, FovEstimate]] = {}
        landmarks_by: dict[tuple[str, str], dict[float, np.ndarray]] = {}
        for photo in photos:
            for motion in args.tracker_motions.split(","):
                for fov in fovs:
                    t0 = time.perf_counter()
                    found = tracked_clip(photo, fov, args.frames, motion, save=args.save_clip, cache=args.cache)
                    est = estimate(found, 640, 480, tracker=True)
                    print(row(f"{photo.name[:8]} {motion}", fov, est) + f"  ({len(found)}/{args.frames} "
                          f"frames with a face, {time.perf_counter() - t0:.0f} s)", flush=True)
                    found_by.setdefault((photo.name, motion), {})[fov] = est
                    if len(found) == args.frames:
                        landmarks_by.setdefault((photo.name, motion), {})[fov] = np.asarray(found)
        report_tracked(found_by, fovs)
        report_response(landmarks_by, args.frames)


def face_gain(estimates: dict[float, FovEstimate]) -> float | None:
    """How much of a true change of perspective the tracker showed on one face's clips: the
    geometric mean over the clips of tan(apparent / 2) / tan(true / 2), where the apparent field
    of view is the landmarks' own best fit (the estimate before it is scaled back by the gain)."""
    ratios = [math.log(math.tan(math.radians(_apparent(e.estimated, TRACKER_PERSPECTIVE_GAIN)) / 2)
                       / math.tan(math.radians(fov) / 2))
              for fov, e in estimates.items() if e.estimated is not None]
    return math.exp(float(np.mean(ratios))) if ratios else None


def error_row(estimates: dict[float, FovEstimate], fovs: list[float], error_of) -> tuple[str, list[float]]:
    """One table row: `error_of(estimate, fov)` for each field of view (with c when confident), and
    those errors."""
    cells, errors = [], []
    for fov in fovs:
        e = estimates.get(fov)
        if e is None or e.estimated is None:
            cells.append(f"{'-':>8}")
            continue
        errors.append(error_of(e, fov))
        cells.append(f"{errors[-1]:+7.1f}{'c' if e.confident else ' '}")
    return "".join(cells), errors


def report_tracked(found_by: dict[tuple[str, str], dict[float, FovEstimate]], fovs: list[float]) -> None:
    """Per face and true fov: the estimate's error (c: confident, so used); each face's gain and the
    gain's spread over the faces (what TRACKER_PERSPECTIVE_GAIN and TRACKER_GAIN_SPREAD hold); and
    each face's errors with the gain measured on the OTHER faces (held out)."""
    head = "".join(f"{fov:>8g}" for fov in fovs)
    print(f"\nerror of the estimate, degrees (c: confident, so used; the gain {TRACKER_PERSPECTIVE_GAIN:g} as "
          f"shipped)\n{'clip':<28}{head}")
    errors = []
    for (name, motion), estimates in found_by.items():
        cells, row_errors = error_row(estimates, fovs, lambda e, fov: e.estimated - fov)
        errors += row_errors
        print(f"{name[:12] + ' ' + motion:<28}{cells}")
    for motion in dict.fromkeys(m for _, m in found_by):
        clips = [e for (_, m), estimates in found_by.items() if m == motion for e in estimates.values()]
        print(f"{motion}: {sum(e.confident for e in clips)} of {len(clips)} clips confident "
              f"({sum(e.estimated is None for e in clips)} with no estimate: the motion did not constrain it)")
    if errors:
        errors = np.asarray(errors)
        used = np.asarray([e.fov - fov for estimates in found_by.values() for fov, e in estimates.items()])
        print(f"tracked clips: mean error {errors.mean():+.2f}, mean |error| {np.abs(errors).mean():.2f}, "
              f"max |error| {np.abs(errors).max():.2f} degrees; what arfx uses (the fallback when not "
              f"confident): mean |error| {np.abs(used).mean():.2f}, max {np.abs(used).max():.2f}")
    gains = {key: face_gain(estimates) for key, estimates in found_by.items()}
    gains = {key: g for key, g in gains.items() if g is not None}
    if len(gains) < 2:
        return
    logs = np.log(list(gains.values()))
    print("\nthe tracker's perspective gain per face: " + ", ".join(f"{k[0]} {g:.3f}" for k, g in gains.items())
          + f"\nall faces: gain {math.exp(logs.mean()):.3f} (geometric mean), spread {logs.std(ddof=1):.3f} "
          "(standard deviation of its log)")
    print(f"\nheld out: each face's error with the gain of the other faces\n{'clip':<28}{head}")
    held, used = [], []
    for key, estimates in found_by.items():
        gain = math.exp(float(np.mean([math.log(g) for k, g in gains.items() if k != key])))
        cells, row_errors = error_row(
            estimates, fovs, lambda e, fov: _actual(_apparent(e.estimated, TRACKER_PERSPECTIVE_GAIN), gain) - fov)
        held += row_errors
        # What arfx would use: the held-out estimate when confident, else the fallback.
        used += [(_actual(_apparent(e.estimated, TRACKER_PERSPECTIVE_GAIN), gain) if e.confident else e.fov) - fov
                 for fov, e in estimates.items()]
        print(f"{key[0][:12] + ' ' + key[1]:<28}{cells}   (gain {gain:.3f})")
    held, used = np.abs(held), np.abs(used)
    confident = sum(e.confident for estimates in found_by.values() for e in estimates.values())
    print(f"held out: mean |error| {held.mean():.2f}, max |error| {held.max():.2f} degrees, "
          f"{(held <= 5.0).sum()} of {len(held)} ({(held <= 5.0).mean():.0%}) within 5 (c: confident with the "
          f"gain as shipped); what arfx would use ({confident} of {len(used)} confident, else the fallback): "
          f"mean |error| {used.mean():.2f}, max {used.max():.2f}, {(used <= 5.0).sum()} within 5")


def bent(points: np.ndarray, canonical: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """[N,2]: what perspective bends in a face's 2D points: what is left over after the best affine
    camera of the canonical face (fitted on `ids`), in face heights."""
    design = np.column_stack([canonical, np.ones(len(canonical))])
    fit, *_ = np.linalg.lstsq(design[ids], points[ids], rcond=None)
    return (points - design @ fit) / np.ptp(points[:, 1])


def report_response(landmarks_by: dict[tuple[str, str], dict[float, np.ndarray]], frames: int,
                    width: int = 640, height: int = 480) -> None:
    """How much of a true change of perspective the tracker's points show, with no estimator in
    between: at each frame the clips of every field of view show the face at the same size, place
    and turn, so between them only the perspective differs; the tracker's bent part (`bent`) is
    regressed on the true projections' (its deviation from the mean over the fields of view)."""
    from arfx.geometry.fov import rigid_points

    canonical = CanonicalFace.load()
    vertices = canonical.vertices.astype(np.float64)
    ids = rigid_points(canonical)
    lines = []
    for (name, motion), by_fov in landmarks_by.items():
        if len(by_fov) < 2:
            continue
        true, seen = [], []
        for fov, found in by_fov.items():
            for (rotation, centre), lm in zip(poses(fov, frames, width, height, motion), found):
                projected = project(vertices @ rotation.T + centre, fov, width, height)[:, :2]
                true.append(bent(projected, vertices, ids))
                seen.append(bent(lm[:, :2].astype(np.float64), vertices, ids))
        true = np.asarray(true).reshape(len(by_fov), frames, -1, 2)[:, :, ids]
        seen = np.asarray(seen).reshape(len(by_fov), frames, -1, 2)[:, :, ids]
        true, seen = true - true.mean(axis=0), seen - seen.mean(axis=0)
        lines.append(f"  {name[:12] + ' ' + motion:<32}{(true * seen).sum() / (true ** 2).sum():.2f}")
    if lines:
        print("\nthe tracker's response to a change of the field of view at the estimator's landmarks (1: all of "
              "it; between clips at the same frame)\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
