"""Measure arfx's expression scores on a video: ranges, noise on still segments, pose correlation.

    .venv/bin/python scripts/measure_expressions.py [VIDEO | --generated] [--first I] [--last J]
        [--max-faces N] [--csv OUT.csv]

VIDEO defaults to ../shared/media/short_hamilton_clip.mp4 when it exists, else a clip generated
at run time (the astronaut photo moving in the frame: one still expression, the pose changing;
also --generated). --still-noise SIGMA measures jitter on a still clip: the photo in place with
fresh pixel noise each frame. --off-axis shows how the raw features move with the face's place
in the frame.
The face with the most frames is measured, leaving out its first --settle seconds (while the
neutral calibration still leans on the prior). Printed per score and per raw feature:
- range: 5th, 50th and 95th percentile and the maximum over the face's frames;
- noise: the frame-to-frame standard deviation on still segments, i.e. std(x[t+1] - x[t]) / sqrt(2)
  over consecutive frames where the head moves less than --still-deg degrees and --still-cm cm
  (for a raw feature also the ratio of its 5-95 % range to that noise);
- pose correlation: Pearson r of the value with yaw, pitch, roll and distance over the frames
  (near 0 means the pose compensation works; on a real clip expressions may co-vary with pose).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arfx.geometry import GeometryPipeline  # noqa: E402
from arfx.geometry.camera import PerspectiveCamera  # noqa: E402
from arfx.geometry.expressions import EXPRESSION_NAMES, FEATURE_NAMES, ExpressionEstimator  # noqa: E402
from arfx.tracking import FaceTracker  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "media" / "short_hamilton_clip.mp4"
#: Extra FaceTracker options for every mode (--refine: the 478-point attention model's eyes and lips).
TRACKING: dict = {}


def _still_frames(sigma: float, count: int = 150, width: int = 640, height: int = 360):
    """The astronaut photo, still in the frame centre, with fresh Gaussian pixel noise per frame."""
    import cv2

    from arfx.demo import astronaut_image
    from arfx.sources import Frame

    print(f"video: the astronaut photo still at {width}x{height}, {count} frames, "
          f"pixel noise sigma {sigma:g}")
    m = cv2.getRotationMatrix2D((240.0, 120.0), 0.0, 1.5 * min(width / 512, height / 512))
    m[0, 2] += width / 2 - 240.0
    m[1, 2] += height / 2 - 120.0
    still = cv2.warpAffine(astronaut_image(), m, (width, height), borderValue=(24, 24, 32))
    rng = np.random.default_rng(0)
    for i in range(count):
        noisy = np.clip(still + rng.normal(0.0, sigma, still.shape), 0, 255).astype(np.uint8)
        yield Frame(noisy, i, i / 30.0)


def _frames(video: str | None):
    if video is None:
        from arfx.demo import GeneratedSource

        source = GeneratedSource(640, 360, count=300, fps=30.0, cycles=4.0)
        print(f"video: {source.name}, {source.frame_count} frames")
    else:
        from arfx.sources import VideoSource

        source = VideoSource(video)
        print(f"video: {video}")
    with source:
        for frame in source:
            yield frame


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def off_axis(width: int = 640, height: int = 360) -> int:
    """Features of one photo placed at several points of the frame (zoom 1.5 as the demo clip)."""
    import cv2

    from arfx.demo import astronaut_image

    image = astronaut_image()
    pipeline = GeometryPipeline(PerspectiveCamera())
    estimator = ExpressionEstimator(pipeline.canonical)
    shifts = [(dx, 0) for dx in (-100, -50, 0, 50, 100)] + [(0, dy) for dy in (-60, -30, 30, 60)]
    print(f"astronaut photo, {width}x{height}, shifted by (dx, dy) pixels from the centre")
    print(f"{'dx':>5s} {'dy':>5s} {'yaw':>6s} {'pitch':>6s} " + " ".join(f"{n:>10s}" for n in FEATURE_NAMES))
    values = []
    with FaceTracker(**TRACKING, static_image_mode=True) as tracker:
        for dx, dy in shifts:
            m = cv2.getRotationMatrix2D((240.0, 120.0), 0.0, 1.5 * min(width / 512, height / 512))
            m[0, 2] += width / 2 + dx - 240.0
            m[1, 2] += height / 2 + dy - 120.0
            rgb = cv2.warpAffine(image, m, (width, height), borderValue=(24, 24, 32))
            faces = tracker.process(rgb)
            geometry = pipeline.estimate(faces[0].landmarks, width, height) if faces else None
            if geometry is None:
                print(f"{dx:5d} {dy:5d} no face")
                continue
            f = estimator.features(geometry)
            values.append(f)
            yaw, pitch, _ = geometry.euler
            print(f"{dx:5d} {dy:5d} {yaw:6.1f} {pitch:6.1f} " + " ".join(f"{v:10.3f}" for v in f))
    spread = np.ptp(np.array(values), axis=0)
    print(f"{'spread (max - min)':25s} " + " ".join(f"{v:10.3f}" for v in spread))
    return 0


def warp_mesh(rgb: np.ndarray, mesh: np.ndarray, moved: np.ndarray, camera: PerspectiveCamera,
              fill: bool = True) -> np.ndarray:
    """The photo with its face mesh (camera space, cm) moved to `moved`: each triangle is
    warped from where the photo shows it to where the moved mesh projects, farthest first,
    back faces left out. `fill`: first fill the face region in from its border (so a turned
    face does not show the unturned one beside it)."""
    import cv2

    from arfx.geometry.canonical import CanonicalFace

    h, w = rgb.shape[:2]
    source = camera.project(mesh, w, h).astype(np.float32)
    target = camera.project(moved, w, h).astype(np.float32)
    triangles = CanonicalFace.load().triangles
    out = rgb.copy()
    if fill:
        mask = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(source.astype(np.int32)), 255)
        out = cv2.inpaint(rgb, cv2.dilate(mask, np.ones((5, 5), np.uint8)), 9, cv2.INPAINT_TELEA)

    def area(points: np.ndarray) -> float:
        a, b, c = points
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    for t in np.argsort(moved[triangles, 2].mean(axis=1)):  # camera looks down -z: far first
        src, dst = source[triangles[t]], target[triangles[t]]
        if area(dst) * area(src) <= 0:  # turned away from the camera (or collapsed)
            continue
        x, y, bw, bh = cv2.boundingRect(dst)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + bw, w), min(y + bh, h)
        if x1 <= x0 or y1 <= y0:
            continue
        matrix = cv2.getAffineTransform(src, dst - np.float32([x0, y0]))
        patch = cv2.warpAffine(rgb, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(inside, np.round(dst - np.float32([x0, y0])).astype(np.int32), 1)
        region = out[y0:y1, x0:x1]
        region[inside > 0] = patch[inside > 0]
    return out


def turned_face(rgb: np.ndarray, mesh: np.ndarray, pose: np.ndarray, camera: PerspectiveCamera,
                yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """The photo with its face turned by `yaw` and `pitch` degrees about the head's own axes
    (warp_mesh). Hair and ears stay put: a turned mask on a still head, enough for the face
    tracker, not a portrait."""
    from arfx.geometry.transforms import rotation_xyz

    centre = pose[:3, 3]
    axes = pose[:3, :3] / np.linalg.norm(pose[:3, :3], axis=0)
    turn = axes @ rotation_xyz((pitch, yaw, 0.0)) @ axes.T
    return warp_mesh(rgb, mesh, (mesh - centre) @ turn.T + centre, camera)


# Upper and lower eyelid vertices of MediaPipe's mesh, paired from the outer corner inwards.
LIDS = {"L": ((466, 388, 387, 386, 385, 384, 398), (249, 390, 373, 374, 380, 381, 382)),
        "R": ((246, 161, 160, 159, 158, 157, 173), (7, 163, 144, 145, 153, 154, 155))}


# The ring above each upper lid (under the brow), outer corner inwards.
LID_CREASE = {"L": (467, 260, 259, 257, 258, 286, 414), "R": (247, 30, 29, 27, 28, 56, 190)}


def closed_eyes(rgb: np.ndarray, mesh: np.ndarray, camera: PerspectiveCamera, amount: float,
                sides: str = "LR") -> np.ndarray:
    """The photo with the upper eyelids moved `amount` (0 open .. 1 shut) of the way down to
    the lower ones. Part way, the lid skin is stretched down over the eye (warp_mesh); shut
    (amount 1), the eye and lid are filled in with the skin around them and a lash line is
    drawn where the lids meet (stretched lashes would read as a dark, open eye)."""
    import cv2

    moved = mesh.copy()
    for side in sides:
        upper, lower = (list(ids) for ids in LIDS[side])
        moved[upper] += amount * (mesh[lower] - mesh[upper])
    if amount < 1.0:
        return warp_mesh(rgb, mesh, moved, camera, fill=False)
    h, w = rgb.shape[:2]
    pixels = camera.project(mesh, w, h)
    shut = camera.project(moved, w, h)
    mask = np.zeros((h, w), np.uint8)
    for side in sides:
        outline = np.concatenate([pixels[list(LID_CREASE[side])], pixels[list(LIDS[side][1])][::-1]])
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255)
    out = cv2.inpaint(rgb, cv2.dilate(mask, np.ones((3, 3), np.uint8)), 5, cv2.INPAINT_TELEA)
    eye_width = float(np.linalg.norm(pixels[263] - pixels[362]))
    lash = tuple(int(c) for c in np.percentile(rgb[mask > 0], 5, axis=0))
    for side in sides:
        line = np.round(shut[list(LIDS[side][0])] * 4).astype(np.int32)  # 2 fractional bits
        cv2.polylines(out, [line], False, lash, max(1, round(eye_width / 12)), cv2.LINE_AA, shift=2)
    return out


def blink_latency(blinks: int = 4, sigma: float = 2.0, thresholds=(0.3, 0.5)) -> int:
    """Frames from an eye shutting to eyeBlinkLeft/Right passing 0.5, on the astronaut photo
    (still, fresh pixel noise each frame, 30 fps, video tracking) blinking `blinks` times:
    lids at 0.5, 1, 1, 1, 0.5 of the way down, 1.5 s apart, after 3 s open."""
    from arfx.demo import astronaut_image

    photo = centred_photo(astronaut_image())
    height, width = photo.shape[:2]
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    estimator = ExpressionEstimator(pipeline.canonical)
    with FaceTracker(**TRACKING, static_image_mode=True) as tracker:
        base = pipeline.estimate(tracker.process(photo)[0].landmarks, width, height)
    mesh = np.asarray(base.mesh, np.float64)
    shapes = {a: closed_eyes(photo, mesh, camera, a) for a in (0.5, 1.0)}
    closing = [0.5, 1.0, 1.0, 1.0, 0.5]
    amounts = [0.0] * 90
    for _ in range(blinks):
        amounts += closing + [0.0] * 40
    rng = np.random.default_rng(0)
    seen = []
    with FaceTracker(**TRACKING) as tracker:
        for i, amount in enumerate(amounts):
            image = shapes[amount] if amount else photo
            noisy = np.clip(image + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8)
            faces = tracker.process(noisy, i / 30.0)
            geometries = pipeline.estimate_faces(faces, width, height)
            if not geometries:
                seen.append((0.0, 0.0))
                continue
            scores = estimator.update(geometries[0].face_id, geometries[0], i / 30.0)
            seen.append((scores["eyeBlinkLeft"], scores["eyeBlinkRight"]))
    print(f"astronaut photo {width}x{height}, pixel noise sigma {sigma:g}, 30 fps, video tracking; "
          f"{blinks} blinks (lids {', '.join(f'{a:g}' for a in closing)} of the way down)")
    starts = [i for i in range(1, len(amounts)) if amounts[i] == 1.0 and amounts[i - 1] != 1.0]
    for side, column in (("eyeBlinkLeft", 0), ("eyeBlinkRight", 1)):
        values = np.array([s[column] for s in seen])
        peaks = [float(values[start - 1:start + 10].max()) for start in starts]
        print(f"{side}: peak scores {', '.join(f'{p:.2f}' for p in peaks)}")
        for threshold in thresholds:
            latencies = []
            for start in starts:
                hit = np.nonzero(values[start - 1:start + 10] > threshold)[0]
                latencies.append(int(hit[0]) - 1 if len(hit) else "missed")
            false = int((values[:90] > threshold).sum())
            print(f"  above {threshold:g}: frames after the first shut frame {latencies} (-1: at the "
                  f"half-shut frame before it); open frames above it in the first 3 s: {false}")
    return 0


# Hand labels (looked at on 150 px face crops) of development media, by person: frames of
# the clip (inclusive ranges) and photos, per class. The media are not in the repository.
CLIP_LABELS = {  # short_hamilton_clip.mp4: one singer, often behind a microphone
    "jaw": {"open": [(82, 92), (111, 115), (122, 124), (131, 134), (143, 145), (155, 165), (176, 181),
                     (193, 197)],
            "closed": [(94, 97), (117, 121), (125, 130), (146, 151), (167, 172), (182, 186), (202, 204)]},
    "brows": {"raised": [(152, 154), (162, 166), (182, 185), (188, 200)],
              "neutral": [(82, 89), (141, 151), (202, 210)]},
}
PHOTO_LABELS = {  # file: [(person, face index left to right, class)]
    "obama.jpg": [("obama", 0, "smile")], "alex-lacamoire.png": [("lacamoire", 0, "smile")],
    "rose_leslie_img1.jpg": [("leslie", 0, "neutral")], "lin-manuel-miranda.png": [("miranda", 0, "neutral")],
    "kit_with_rose.jpg": [("leslie", 0, "smile"), ("harington", 1, "neutral")],
    "biden.jpg": [("biden", 0, "smile")], "two_people.jpg": [("obama", 0, "neutral"), ("biden", 1, "smile")],
}
#: (score, positive class, negative class, label group, target precision and recall)
CLASSES = (("eyeBlinkLeft", "closed", "open", "eyes", 0.9), ("jawOpen", "open", "closed", "jaw", 0.9),
           ("mouthSmileLeft", "smile", "neutral", "smile", 0.8), ("browInnerUp", "raised", "neutral", "brows", 0.8))


def _best_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The threshold with the best F1 on these scores (midway between neighbouring values)."""
    values = np.unique(np.concatenate([positive, negative]))
    candidates = (values[:-1] + values[1:]) / 2 if len(values) > 1 else values

    def f1(t: float) -> float:
        tp, fp, fn = (positive > t).sum(), (negative > t).sum(), (positive <= t).sum()
        return 2 * tp / max(2 * tp + fp + fn, 1)

    return float(max(candidates, key=f1))


def _precision_recall(positive: np.ndarray, negative: np.ndarray, threshold: float) -> tuple[float, float]:
    tp, fp = int((positive > threshold).sum()), int((negative > threshold).sum())
    return tp / max(tp + fp, 1), tp / max(len(positive), 1)


def labelled(media: Path) -> int:
    """Precision and recall of the trigger scores on the hand-labelled development media: a
    class is measured when >= 3 people and >= 20 frames of each side exist (thresholds chosen
    on some people, scored on the others); otherwise it is reported unmeasured, with the
    one-person numbers of the clip (threshold chosen on its first half, scored on its second)."""
    import cv2

    from arfx.sources import VideoSource

    samples: dict = {}  # (group, class) -> [(person, frame key, scores)]
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    clip = media / "short_hamilton_clip.mp4"
    wanted = {f: (group, name) for group, classes in CLIP_LABELS.items() for name, ranges in classes.items()
              for lo, hi in ranges for f in range(lo, hi + 1)}
    if clip.is_file():
        estimator = ExpressionEstimator(pipeline.canonical)
        by_frame: dict = {}
        with FaceTracker(**TRACKING) as tracker, VideoSource(str(clip)) as source:
            for frame in source:
                h, w = frame.rgb.shape[:2]
                geometries = pipeline.estimate_faces(tracker.process(frame.rgb, frame.timestamp), w, h)
                for g in geometries[:1]:
                    by_frame[frame.index] = estimator.update(g.face_id, g, frame.timestamp)
                estimator.forget(f.face_id for f in geometries)
        for group, classes in CLIP_LABELS.items():
            for name, ranges in classes.items():
                for lo, hi in ranges:
                    for f in range(lo, hi + 1):
                        if f in by_frame:
                            samples.setdefault((group, name), []).append(("singer", f, by_frame[f]))
    estimator = ExpressionEstimator(pipeline.canonical)
    with FaceTracker(**TRACKING, static_image_mode=True, max_num_faces=4) as tracker:
        for file, faces in PHOTO_LABELS.items():
            bgr = cv2.imread(str(media / file))
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            h, w = rgb.shape[:2]
            found = sorted(pipeline.estimate_faces(tracker.process(rgb), w, h), key=lambda g: float(g.pose[0, 3]))
            for person, index, name in faces:
                if index < len(found):  # scored against the prior: a single image has no own neutral
                    scores = estimator.update(10_000 + len(samples), found[index], 0.0)
                    samples.setdefault(("smile", name), []).append((person, file, scores))
    print(f"labelled media in {media}: the clip's singer ({len(wanted)} frames labelled) and "
          f"{sum(len(v) for v in PHOTO_LABELS.values())} faces in {len(PHOTO_LABELS)} photos")
    for score, positive, negative, group, target in CLASSES:
        pos, neg = samples.get((group, positive), []), samples.get((group, negative), [])
        people = sorted({p for p, _, _ in pos} & {p for p, _, _ in neg} | {p for p, _, _ in pos + neg})
        line = (f"{score} ({positive} {len(pos)} / {negative} {len(neg)} frames, {len(people)} people, "
                f"target {target:g})")
        if len(people) >= 3 and len(pos) >= 20 and len(neg) >= 20:
            fit = set(people[: len(people) // 2])
            t = _best_threshold(np.array([s[score] for p, _, s in pos if p in fit]),
                                np.array([s[score] for p, _, s in neg if p in fit]))
            pr = _precision_recall(np.array([s[score] for p, _, s in pos if p not in fit]),
                                   np.array([s[score] for p, _, s in neg if p not in fit]), t)
            print(f"{line}: threshold {t:.2f} from {sorted(fit)}, on the others precision {pr[0]:.2f} "
                  f"recall {pr[1]:.2f}")
            continue
        print(f"{line}: UNMEASURED (needs >= 3 people and >= 20 frames of each class)")
        single = [(f, s[score], True) for p, f, s in pos if p == "singer"] + \
                 [(f, s[score], False) for p, f, s in neg if p == "singer"]
        if len(single) >= 20:
            single.sort()
            half = len(single) // 2
            first, second = single[:half], single[half:]
            t = _best_threshold(np.array([v for _, v, y in first if y]), np.array([v for _, v, y in first if not y]))
            pr = _precision_recall(np.array([v for _, v, y in second if y]),
                                   np.array([v for _, v, y in second if not y]), t)
            print(f"  one person only (the singer): threshold {t:.2f} chosen on frames "
                  f"{first[0][0]}-{first[-1][0]}, on {second[0][0]}-{second[-1][0]} precision {pr[0]:.2f} "
                  f"recall {pr[1]:.2f}")
        photos = [(p, v[score]) for p, _, v in pos if p != "singer"], [(p, v[score]) for p, _, v in neg if p != "singer"]
        if photos[0] or photos[1]:
            print(f"  photos (against the prior): {positive} " + ", ".join(f"{p} {v:.2f}" for p, v in photos[0])
                  + f"; {negative} " + ", ".join(f"{p} {v:.2f}" for p, v in photos[1]))
    return 0


def edited_face(rgb: np.ndarray, base, camera: PerspectiveCamera, edit: str, amount: float,
                yaw: float = 0.0) -> np.ndarray:
    """The photo with its tracked face edited in face space by `amount` (0..1) and turned by
    `yaw`: "blink" (eyelids shut, closed_eyes), "jaw" (everything under the mouth corners down
    1.2 cm, the corners half as far), "smile" (corners 0.5 cm up and 0.4 cm out), "brows"
    (brows 0.6 cm up, the skin under them a third as far) or "neutral" (no edit)."""
    from arfx.geometry.expressions import to_face_space
    from arfx.geometry.transforms import rotation_xyz

    mesh, pose = np.asarray(base.mesh, np.float64), np.asarray(base.pose, np.float64)
    image = closed_eyes(rgb, mesh, camera, amount) if edit == "blink" and amount > 0 else rgb
    face = to_face_space(pose, mesh)
    moved = face.copy()
    corners = [61, 291]
    if edit == "jaw":
        below = face[:, 1] < face[corners, 1].max() - 0.05
        moved[below, 1] -= 1.2 * amount
        moved[corners, 1] -= 0.6 * amount
    elif edit == "smile":
        moved[corners, 1] += 0.5 * amount
        moved[corners, 0] += 0.4 * amount * np.sign(face[corners, 0])
    elif edit == "brows":
        brows = [336, 296, 334, 293, 300, 285, 295, 282, 283, 276, 107, 66, 105, 63, 70, 55, 65, 52, 53, 46]
        moved[brows, 1] += 0.6 * amount
        under = list(LID_CREASE["L"] + LID_CREASE["R"])
        moved[under, 1] += 0.2 * amount
    centre, axes = pose[:3, 3], pose[:3, :3]
    turn = axes / np.linalg.norm(axes, axis=0)
    turn = turn @ rotation_xyz((0.0, yaw, 0.0)) @ turn.T
    target = ((moved @ axes.T + centre) - centre) @ turn.T + centre
    return warp_mesh(image, mesh, target, camera, fill=bool(yaw))


#: Synthetic-edit classes: (score, edit, the trigger threshold it should pass)
EDITS = (("eyeBlinkLeft", "blink"), ("jawOpen", "jaw"), ("mouthSmileLeft", "smile"), ("browInnerUp", "brows"))


def edited(photos: list[str], sheet: str | None = None) -> int:
    """Precision and recall on synthetic expressions: each photo's face edited (edited_face:
    amounts 0.6, 0.8, 1; yaw -10, 0, 10) against the unedited and the other edits (same yaws),
    scored against the unedited frontal photo's features as the person's neutral; thresholds
    chosen on the first half of the people (best F1), scored on the others. Edits of real
    photos, not real expressions."""
    import cv2

    from arfx.demo import astronaut_image
    from arfx.geometry.expressions import scores_from_features

    images = {"astronaut": astronaut_image()}
    for path in photos:
        bgr = cv2.imread(path)
        if bgr is not None:
            images[Path(path).stem] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    estimator = ExpressionEstimator(pipeline.canonical)
    rows = []  # (person, edit, amount, yaw, scores)
    tiles = []
    with FaceTracker(**TRACKING, static_image_mode=True) as tracker:
        for name, image in images.items():
            frame = face_frame(image, tracker)
            if frame is None:
                continue
            height, width = frame.shape[:2]
            base = pipeline.estimate(tracker.process(frame)[0].landmarks, width, height)
            neutral = estimator.features(base)
            for edit in ["neutral"] + [e for _, e in EDITS]:
                for amount in ((0.0,) if edit == "neutral" else (0.6, 0.8, 1.0)):
                    for yaw in (-10.0, 0.0, 10.0):
                        picture = edited_face(frame, base, camera, edit, amount, yaw)
                        if name == "astronaut" and yaw == 0 and amount in (0.0, 1.0):
                            tiles.append(cv2.resize(picture[40:440, 120:520], (200, 200)))
                        faces = tracker.process(picture)
                        if faces:
                            g = pipeline.estimate(faces[0].landmarks, width, height)
                            rows.append((name, edit, amount, yaw, scores_from_features(estimator.features(g), neutral)))
    people = sorted({r[0] for r in rows})
    fit = set(people[: len(people) // 2])
    print(f"{len(people)} photos ({', '.join(people)}); thresholds chosen on {', '.join(sorted(fit))}, "
          f"scored on the others; edits of real photos, not real expressions")
    for score, edit in EDITS:
        def values(group, positive):
            return np.array([r[4][score] for r in rows if (r[0] in fit) == group and (r[1] == edit) == positive])
        t = _best_threshold(values(True, True), values(True, False))
        precision, recall = _precision_recall(values(False, True), values(False, False), t)
        print(f"{score:15s} ({edit}: {len(values(False, True))} edited / {len(values(False, False))} other frames "
              f"scored): threshold {t:.2f}, precision {precision:.2f}, recall {recall:.2f}; edited median "
              f"{np.median(values(False, True)):.2f}")
    return _write_sheet(sheet, tiles)


def _write_sheet(sheet: str | None, tiles: list[np.ndarray]) -> int:
    """The tiles side by side into `sheet` (when asked for and there are any); exit code 0."""
    if sheet and tiles:
        cv2.imwrite(sheet, cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR))
        print(f"wrote {sheet}")
    return 0


def _depth(args) -> dict:
    return {} if args.depth_scale is None else {"depth_scale": args.depth_scale}


def centred_photo(image: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """The astronaut photo (512x512, face about (240, 140)) zoomed 1.2x with its face in the
    middle of a width x height frame."""
    import cv2

    m = cv2.getRotationMatrix2D((240.0, 140.0), 0.0, 1.2)
    m[0, 2] += width / 2 - 240.0
    m[1, 2] += height / 2 - 140.0
    return cv2.warpAffine(image, m, (width, height), borderValue=(24, 24, 32))


def face_frame(image: np.ndarray, tracker, width: int = 640, height: int = 480,
               face_px: float = 180.0) -> np.ndarray | None:
    """`image` scaled and moved so its first face is `face_px` wide in the middle of a
    width x height frame (None when no face is found)."""
    import cv2

    faces = tracker.process(image)
    if not faces:
        return None
    points = np.asarray(faces[0].landmarks, np.float64)
    scale = face_px / float(np.ptp(points[:, 0]))
    cx, cy = points[:, 0].mean(), points[:, 1].mean()
    m = np.float32([[scale, 0, width / 2 - scale * cx], [0, scale, height * 0.52 - scale * cy]])
    return cv2.warpAffine(image, m, (width, height), borderMode=cv2.BORDER_REPLICATE)


def turn_sweep(angles: list[float], axis: str, photos: list[str], sheet: str | None = None) -> int:
    """Each photo's face turned by each angle (yaw or pitch; static tracking), scored against
    the unturned photo's features, with the mesh's depth as tracked (depth scale 1) and with
    arfx's DEPTH_SCALE: the off-axis bias of each score. With several people, DEPTH_SCALE is
    also chosen again on every 4 of them and scored on the rest (one photo per person)."""
    import itertools

    import cv2

    from arfx.demo import astronaut_image
    from arfx.geometry.expressions import DEPTH_SCALE, scores_from_features

    images = {"astronaut": astronaut_image()}
    for path in photos:
        bgr = cv2.imread(path)
        if bgr is None:
            print(f"{path}: not an image; skipped")
            continue
        images[Path(path).stem] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    scales = np.round(np.arange(0.5, 1.001, 0.05), 2)
    estimators = {k: ExpressionEstimator(pipeline.canonical, depth_scale=float(k)) for k in scales}
    # change[k][person] = [(angle, scores against the unturned face)]
    change: dict = {k: {} for k in scales}
    tiles = []
    with FaceTracker(**TRACKING, static_image_mode=True) as tracker:
        for name, image in images.items():
            frame = face_frame(image, tracker)
            if frame is None:
                print(f"{name}: no face; skipped")
                continue
            height, width = frame.shape[:2]
            base = pipeline.estimate(tracker.process(frame)[0].landmarks, width, height)
            for angle in angles:
                turned = turned_face(frame, np.asarray(base.mesh, np.float64), np.asarray(base.pose, np.float64),
                                     camera, **{axis: angle})
                if name == "astronaut" and angle in (min(angles), 0, max(angles)):
                    tiles.append(cv2.resize(turned[40:440, 120:520], (240, 240)))
                faces = tracker.process(turned)
                if not faces:
                    print(f"{name} {axis} {angle:g}: face lost")
                    continue
                g = pipeline.estimate(faces[0].landmarks, width, height)
                for k, estimator in estimators.items():
                    scores = scores_from_features(estimator.features(g), estimator.features(base))
                    change[k].setdefault(name, []).append((angle, [scores[n] for n in EXPRESSION_NAMES]))
    people = sorted(change[1.0])
    default = float(np.round(DEPTH_SCALE, 2))
    print(f"{len(people)} photos ({', '.join(people)}), face 180 px wide in 640x480, turned in {axis} "
          f"by warping the tracked mesh; scores against the unturned photo")

    def mean_change(k, who, limit) -> float:
        rows = [s for person in who for a, s in change[k].get(person, []) if a != 0 and abs(a) <= limit]
        return float(np.mean(rows)) if rows else float("nan")

    short = [n.replace("mouth", "m").replace("Left", "L").replace("Right", "R") for n in EXPRESSION_NAMES]
    for k in (1.0, default):
        print(f"\ndepth scale {k:g}: mean over the photos per angle")
        print(f"{axis:>6s} " + " ".join(f"{n:>9.9s}" for n in short))
        for angle in angles:
            rows = [s for person in people for a, s in change[k][person] if a == angle]
            if rows:
                print(f"{angle:6g} " + " ".join(f"{v:9.2f}" for v in np.mean(rows, axis=0)))
    print()
    for limit in sorted({abs(a) for a in angles if a}):
        print(f"within {limit:g} deg: mean change over every score {mean_change(1.0, people, limit):.4f} "
              f"(depth scale 1) -> {mean_change(default, people, limit):.4f} ({default:g})")
        for k in (1.0, default):
            rows = [s for person in people for a, s in change[k][person] if a != 0 and abs(a) <= limit]
            if rows:
                worst = np.max(rows, axis=0)
                print(f"  largest, depth scale {k:g}: " + ", ".join(
                    f"{n} {v:.2f}" for n, v in zip(EXPRESSION_NAMES, worst) if v >= 0.1))
    if len(people) >= 5:
        limit = sorted({abs(a) for a in angles if a})[min(1, len({abs(a) for a in angles if a}) - 1)]
        picked, before, after = [], [], []
        for fit in itertools.combinations(people, 4):
            rest = [p for p in people if p not in fit]
            best = min(scales, key=lambda k: mean_change(k, fit, limit))
            picked.append(float(best))
            before.append(mean_change(1.0, rest, limit))
            after.append(mean_change(best, rest, limit))
        print(f"chosen on 4 photos, scored on the others (within {limit:g} deg): factor "
              f"{min(picked):g}-{max(picked):g} (median {np.median(picked):g}); on the others the mean "
              f"change went {np.mean(before):.4f} -> {np.mean(after):.4f}")
    return _write_sheet(sheet, tiles)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", default=None,
                        help="a video file (default: the shared Hamilton clip, else a generated clip)")
    parser.add_argument("--generated", action="store_true", help="use the generated clip")
    parser.add_argument("--still-noise", type=float, default=None, metavar="SIGMA",
                        help="use a still clip: the astronaut photo with per-frame pixel noise")
    parser.add_argument("--off-axis", action="store_true",
                        help="instead: the astronaut photo shifted across a 640x360 frame (one still "
                             "expression, static tracking): how the raw features move with the face's "
                             "place in the frame")
    parser.add_argument("--turn", choices=("yaw", "pitch"), default=None,
                        help="instead: the astronaut photo's face (and --photos) turned by warping its mesh "
                             "through --angles degrees; the scores against the unturned face (off-axis bias)")
    parser.add_argument("--angles", default="-30,-20,-10,0,10,20,30",
                        help="comma-separated angles for --turn")
    parser.add_argument("--photos", nargs="*", default=[], metavar="IMAGE",
                        help="with --turn or --edited: more photos besides the astronaut (one face each)")
    parser.add_argument("--sheet", help="with --turn or --edited: write some of the frames here (PNG)")
    parser.add_argument("--depth-scale", type=float, default=None,
                        help="ExpressionEstimator depth_scale (default arfx's DEPTH_SCALE; 1: the mesh as tracked)")
    parser.add_argument("--blink", action="store_true",
                        help="instead: blink detection latency on the astronaut photo with eyelids warped shut")
    parser.add_argument("--labelled", metavar="MEDIA", nargs="?", const=str(DEFAULT_VIDEO.parent),
                        help="instead: precision/recall on the hand-labelled development media in MEDIA")
    parser.add_argument("--edited", action="store_true",
                        help="instead: precision/recall on synthetic expressions (the astronaut and --photos "
                             "with their face edited by warping the mesh)")
    parser.add_argument("--refine", action="store_true",
                        help="track with refined landmarks (eyes, lips, irises; arfx --refine)")
    parser.add_argument("--max-faces", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="first frame index measured")
    parser.add_argument("--last", type=int, default=None, help="last frame index measured")
    parser.add_argument("--still-deg", type=float, default=2.0,
                        help="max yaw/pitch/roll change per frame on a still segment")
    parser.add_argument("--still-cm", type=float, default=0.5,
                        help="max head translation per frame on a still segment")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of each face's calibration left out of the statistics")
    parser.add_argument("--csv", help="write the per-frame values of the measured face here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.refine:
        TRACKING["refine_landmarks"] = True
    if args.off_axis:
        return off_axis()
    if args.edited:
        return edited(args.photos, args.sheet)
    if args.labelled:
        return labelled(Path(args.labelled))
    if args.blink:
        return blink_latency()
    if args.turn:
        return turn_sweep([float(a) for a in args.angles.split(",")], args.turn, args.photos, args.sheet)

    video = args.video or (str(DEFAULT_VIDEO) if DEFAULT_VIDEO.exists() else None)
    if args.generated:
        video = None
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    estimator = ExpressionEstimator(pipeline.canonical, **_depth(args))
    rows: dict[int, list[dict[str, float]]] = {}
    cost = []
    with FaceTracker(**TRACKING, max_num_faces=args.max_faces) as tracker:
        frames = _still_frames(args.still_noise) if args.still_noise is not None else _frames(video)
        for frame in frames:
            if frame.index < args.first:
                continue
            if args.last is not None and frame.index > args.last:
                break
            h, w = frame.rgb.shape[:2]
            faces = tracker.process(frame.rgb, frame.timestamp)
            for geometry in pipeline.estimate_faces(faces, w, h):
                start = time.perf_counter()
                scores = estimator.update(geometry.face_id, geometry, frame.timestamp)
                cost.append(time.perf_counter() - start)
                feats = estimator.features(geometry)
                yaw, pitch, roll = geometry.euler
                row = {"frame": frame.index, "t": frame.timestamp, "yaw": yaw, "pitch": pitch,
                       "roll": roll, "x": float(geometry.pose[0, 3]), "y": float(geometry.pose[1, 3]),
                       "z": float(geometry.pose[2, 3])}
                row.update(scores)
                row.update({"f_" + n: float(v) for n, v in zip(FEATURE_NAMES, feats)})
                rows.setdefault(geometry.face_id, []).append(row)
            estimator.forget(f.id for f in faces)
    if not rows:
        print("no face found")
        return 1
    face_id, face_rows = max(rows.items(), key=lambda kv: len(kv[1]))
    print(f"face {face_id}: {len(face_rows)} frames "
          f"({face_rows[0]['frame']}-{face_rows[-1]['frame']}); faces seen: {len(rows)}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(face_rows[0]))
            writer.writeheader()
            writer.writerows(face_rows)

    settled = [r for r in face_rows if r["t"] - face_rows[0]["t"] >= args.settle]
    print(f"statistics over {len(settled)} frames, after the first {args.settle:g} s of calibration")
    if len(settled) < 10:
        print("too few frames left; lower --settle")
        return 1
    col = {k: np.array([r[k] for r in settled]) for k in settled[0]}
    frames = col["frame"]
    pose = np.stack([col["yaw"], col["pitch"], col["roll"], -col["z"]], axis=1)
    pos = np.stack([col["x"], col["y"], col["z"]], axis=1)
    consecutive = np.diff(frames) == 1
    still = (consecutive & (np.abs(np.diff(pose[:, :3], axis=0)).max(axis=1) < args.still_deg)
             & (np.linalg.norm(np.diff(pos, axis=0), axis=1) < args.still_cm))
    print(f"pose: yaw {np.ptp(col['yaw']):.1f}, pitch {np.ptp(col['pitch']):.1f}, "
          f"roll {np.ptp(col['roll']):.1f} deg, distance {np.ptp(col['z']):.1f} cm peak to peak; still frame pairs: {int(still.sum())} "
          f"of {len(still)}")
    print(f"cost: {1e3 * np.median(cost):.3f} ms median per face per frame "
          f"({1e3 * np.percentile(cost, 95):.3f} ms p95)")

    def noise(x: np.ndarray) -> float:
        d = np.diff(x)[still]
        return float(np.std(d) / math.sqrt(2)) if len(d) > 2 else float("nan")

    print()
    print(f"{'score':18s} {'p5':>6s} {'p50':>6s} {'p95':>6s} {'max':>6s} {'noise':>8s} "
          f"{'r(yaw)':>7s} {'r(pit)':>7s} {'r(roll)':>7s} {'r(dist)':>7s}")
    for name in EXPRESSION_NAMES:
        x = col[name]
        p5, p50, p95 = np.percentile(x, [5, 50, 95])
        rs = [_pearson(x, pose[:, i]) for i in range(4)]
        print(f"{name:18s} {p5:6.3f} {p50:6.3f} {p95:6.3f} {x.max():6.3f} {noise(x):8.1e} "
              + " ".join(f"{r:7.2f}" for r in rs))
    print()
    print(f"{'raw feature':18s} {'p5':>7s} {'p50':>7s} {'p95':>7s} {'noise':>8s} {'range/n':>7s} "
          f"{'r(yaw)':>7s} {'r(pit)':>7s} {'r(roll)':>7s} {'r(dist)':>7s}")
    for name in FEATURE_NAMES:
        x = col["f_" + name]
        p5, p50, p95 = np.percentile(x, [5, 50, 95])
        n = noise(x)
        rs = [_pearson(x, pose[:, i]) for i in range(4)]
        print(f"{name:18s} {p5:7.3f} {p50:7.3f} {p95:7.3f} {n:8.1e} {(p95 - p5) / n:7.1f} "
              + " ".join(f"{r:7.2f}" for r in rs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
