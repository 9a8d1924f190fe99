"""FaceTracker: detect or track every face in a frame and return its landmarks."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from arfx.tracking.attention import AttentionLandmarkModel, ConcurrentRefiner
from arfx.tracking.detector import Detection, FaceFinder
from arfx.tracking.filters import LandmarkSmoother
from arfx.tracking.landmarks import LandmarkModel
from arfx.tracking.roi import (Roi, predict_roi, roi_from_detection, roi_from_landmarks,
                               roi_mismatch)

log = logging.getLogger(__name__)

# A detection whose ROI overlaps a tracked face's ROI this much is that face, not a new one.
SAME_FACE_IOU = 0.5
# Landmarks whose implied ROI is this far from their crop (roi_mismatch) are looked at again
# from the ROI they imply; after that second look they must be within LOST_MISMATCH.
RECROP_MISMATCH = 1.0
LOST_MISMATCH = 2.5
# A detection's box differs from the landmarks' own more than a tracked crop does: landmarks
# from a detection crop are looked at again only when they fit it this badly.
DETECTION_RECROP_MISMATCH = 2.0
# Two faces whose landmark centroids are closer than this many inter-ocular distances are one.
SAME_FACE_IOD = 1.0
# A followed face whose mesh changed shape this much since the last frame (mean distance after
# the best similarity fit, in inter-ocular distances) is looked for again with the detector:
# the crop may hold part of another face (a cut) that the landmarks fit only by bending. Faces
# that move, turn or talk stay below ~0.012 frame to frame on the motion set, and up to ~0.03 on
# the Hamilton clip's one-face shot. A face whose shape changes a lot on every frame (a blurred
# or half-seen face, where the landmark model guesses) is re-detected only when the change is
# SHAPE_JUMP times its usual one (a running mean), or the detector would run on each frame.
SHAPE_CHANGE = 0.03
SHAPE_JUMP = 3.0
# For this many frames after the tracker starts (or is reset), a search for new faces runs on
# every frame rather than every other one: a face the first search missed is found sooner. (Not
# after every face that comes or goes: on a crowded shot small faces come and go all the time,
# and the searches would cost a quarter more.)
EAGER_SEARCH_FRAMES = 15
EYE_CORNERS = (33, 263)


def shape_change(points: np.ndarray, before: np.ndarray) -> float:
    """Mean distance between two meshes [N, >=2] after the similarity transform (shift, scale,
    turn) that fits `before` best onto `points`, in `points`' inter-ocular distances."""
    a = points[:468, 0] + 1j * points[:468, 1]
    b = before[:468, 0] + 1j * before[:468, 1]
    a, b = a - a.mean(), b - b.mean()
    k = np.vdot(b, a) / max(np.vdot(b, b).real, 1e-12)
    iod = abs(a[EYE_CORNERS[0]] - a[EYE_CORNERS[1]])
    return float(np.abs(a - k * b).mean() / max(iod, 1e-6))


@dataclass
class Face:
    """One face in one frame.

    landmarks: float32 [468 or 478, 3]; x, y in image pixels, z relative depth in the
    same pixel units (smaller is closer to the camera). score: face presence 0..1.
    id: stable while the face is tracked. roi: the region the landmarks came from.
    """

    landmarks: np.ndarray
    score: float
    id: int
    roi: Roi | None = None


@dataclass
class _Track:
    id: int
    roi: Roi  # from this frame's landmarks: where to look in the next frame
    t: float = 0.0
    previous: Roi | None = None
    previous_t: float | None = None
    points: np.ndarray | None = None  # this frame's landmarks [468, 3]
    shape_noise: float = 0.0  # running mean of the frame-to-frame shape change

    def predict(self, t: float) -> Roi:
        """Where the face will be at time t, from its last two ROIs (constant velocity)."""
        if self.previous is None or self.previous_t is None:
            return self.roi
        return predict_roi(self.previous, self.roi, self.t - self.previous_t, t - self.t)


@dataclass
class _Found:
    """A face's landmarks in this frame, before deduplication."""

    points: np.ndarray
    presence: float
    crop: Roi            # the ROI the landmarks came from
    roi: Roi             # the ROI the landmarks imply
    track: _Track | None  # the track it continues (None: a new face)
    order: int           # priority among new faces (detection rank)
    shape: float = 0.0   # shape change since the track's last landmarks

    def centre(self) -> np.ndarray:
        return self.points[:468, :2].mean(axis=0)

    def iod(self) -> float:
        a, b = self.points[EYE_CORNERS[0]], self.points[EYE_CORNERS[1]]
        return math.hypot(float(a[0] - b[0]), float(a[1] - b[1]))


class FaceTracker:
    """Face tracker on ONNX Runtime with MediaPipe FaceMesh's models.

    Video mode (the default) follows each face from its previous landmarks, with the crop
    moved on by the face's recent motion. Landmarks that do not fit their crop (a face
    moving faster than predicted) are looked at again from the ROI they imply, and when
    that fails too the face is re-detected in the same frame around where it was. New
    faces are searched for while fewer than `max_num_faces` are tracked; a face found
    twice (a detection on a tracked face, a track that drifted onto another one) is kept
    once, under its oldest id. Static mode detects on every frame.

    detector: "auto" (short- and full-range models, plus tiles on large frames), "short"
    or "full". tiling: True, False, or "auto" (on with the "auto" detector): the
    full-range model also runs on overlapping tiles of frames 800 px or larger, for faces
    too small for a whole-frame pass. In video mode a search runs one detector pass a
    frame, in turn (every other frame while faces are followed, except in the first
    EAGER_SEARCH_FRAMES frames). smooth: per-face One Euro smoothing that follows motion without lag
    (on by default; static mode never smooths). mediapipe_compat: MediaPipe FaceMesh's
    own loop (no motion prediction, landmark check, re-detection or deduplication; use
    with detector="short", smooth=False for MediaPipe's results).
    """

    def __init__(self, max_num_faces: int = 1, static_image_mode: bool = False,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 refine_landmarks: bool = False, detector: str = "auto",
                 smooth: bool = True, threads: int = 1, tiling: bool | str = "auto",
                 mediapipe_compat: bool = False) -> None:
        if max_num_faces < 1:
            raise ValueError("max_num_faces must be at least 1")
        self.max_num_faces = int(max_num_faces)
        self.static_image_mode = bool(static_image_mode)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.refine_landmarks = bool(refine_landmarks)
        self.mediapipe_compat = bool(mediapipe_compat)
        self._finder = FaceFinder(detector, min_detection_confidence, tiling=tiling,
                                  threads=threads)
        # Faces are found and followed with the 468-point model whether or not landmarks
        # are refined, so refine_landmarks never changes which faces are found; the
        # attention model then refines lips and eyes and adds the irises in the same crop
        # (run in a worker thread beside the 468-point model: ConcurrentRefiner).
        # (MediaPipe's loop runs the attention model alone. Its presence score is no stand-in
        # for the 468-point model's, not even far from the threshold: bench_vs_mediapipe.py
        # --agreement.)
        if refine_landmarks and mediapipe_compat:
            self._landmarks = AttentionLandmarkModel(threads=threads)
            self._refiner = None
        else:
            self._landmarks = LandmarkModel(threads=threads)
            self._refiner = ConcurrentRefiner(threads=threads) if refine_landmarks else None
        self._smoother = LandmarkSmoother() if smooth and not static_image_mode else None
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frame = 0
        self._since_start = 0  # frames processed since the start or the last reset

    @property
    def detector(self) -> str:
        return self._finder.kind

    def reset(self) -> None:
        """Forget tracked faces (the next frame starts from detection)."""
        self._tracks = []
        self._since_start = 0
        if self._smoother is not None:
            self._smoother.keep_only(())

    # -- MediaPipe's loop -----------------------------------------------------------------

    def _candidates_compat(self, rgb: np.ndarray) -> list[tuple[Roi, _Track | None]]:
        tracked = [] if self.static_image_mode else self._tracks
        candidates: list[tuple[Roi, _Track | None]] = []
        if len(tracked) < self.max_num_faces:
            detections = self._finder.detect(rgb)[: self.max_num_faces]
            candidates = [(roi_from_detection(d), None) for d in detections]
        candidates += [(t.roi, t) for t in tracked]
        # Later candidates win: a tracked face replaces the detections (and older
        # tracks) that overlap it.
        kept: list[tuple[Roi, _Track | None]] = []
        for roi, track in candidates:
            kept = [(r, i) for r, i in kept if r.iou(roi) < SAME_FACE_IOU]
            kept.append((roi, track))
        new = [c for c in kept if c[1] is None]
        followed = [c for c in kept if c[1] is not None]
        return new[: self.max_num_faces - len(followed)] + followed

    def _process_compat(self, rgb: np.ndarray) -> list[_Found]:
        found = []
        for order, (roi, track) in enumerate(self._candidates_compat(rgb)):
            points, presence = self._landmarks.run(rgb, roi)
            if presence >= self.min_tracking_confidence:
                found.append(_Found(points, presence, roi, roi_from_landmarks(points[:468]),
                                    track, order))
        return found

    # -- arfx's loop ----------------------------------------------------------------------

    def _look(self, rgb: np.ndarray, crop: Roi, recrop: float = RECROP_MISMATCH
              ) -> tuple[np.ndarray, float, Roi, Roi] | None:
        """Landmarks in `crop`, looked at again from the ROI they imply when they do not
        fit it; None when there is no face or the landmarks still do not fit."""
        for attempt in range(2):
            x = self._landmarks.crop(rgb, crop)
            if self._refiner is not None:  # the attention model beside the 468-point one
                points, presence = self._refiner.look(self._landmarks, crop, x)
            else:
                points, presence = self._landmarks.run_crop(crop)
            if presence < self.min_tracking_confidence:
                return None
            implied = roi_from_landmarks(points[:468])
            mismatch = roi_mismatch(crop, implied)
            if mismatch <= recrop or (attempt == 1 and mismatch <= LOST_MISMATCH):
                return points, presence, crop, implied
            if attempt == 0:
                crop = implied
        return None

    def _redetect(self, rgb: np.ndarray, track: _Track, t: float) -> _Found | None:
        """The face of a track that failed its landmark check, found again near where it
        was expected (detector on a region around it)."""
        guess = track.predict(t)
        detections = self._finder.detect_near(rgb, guess.cx, guess.cy, 2.2 * guess.size)
        detections.sort(key=lambda d: np.hypot(d.box[0] + d.box[2] / 2 - guess.cx,
                                               d.box[1] + d.box[3] / 2 - guess.cy))
        for detection in detections[:2]:
            looked = self._look(rgb, roi_from_detection(detection), DETECTION_RECROP_MISMATCH)
            if looked is not None:
                points, presence, crop, implied = looked
                if math.hypot(implied.cx - guess.cx, implied.cy - guess.cy) < guess.size:
                    return _Found(points, presence, crop, implied, track, 0)
        return None

    def _process(self, rgb: np.ndarray, t: float) -> list[_Found]:
        found: list[_Found] = []
        lost: list[tuple[_Track, tuple | None, float]] = []  # with landmarks that changed shape
        for track in ([] if self.static_image_mode else self._tracks):
            guess = track.predict(t)
            looked = self._look(rgb, guess)
            if looked is None and guess != track.roi:
                looked = self._look(rgb, track.roi)  # the motion was landmark noise
            change = 0.0
            if looked is not None and track.points is not None:
                change = shape_change(looked[0], track.points)
            if looked is None or change > max(SHAPE_CHANGE, SHAPE_JUMP * track.shape_noise):
                lost.append((track, looked, change))
            else:
                found.append(_Found(*looked, track, 0, change))
        for track, looked, change in lost:
            again = self._redetect(rgb, track, t)
            if again is not None:
                if track.points is not None:
                    again.shape = shape_change(again.points, track.points)
                found.append(again)
            elif looked is not None:  # the detector does not see it better: keep the change
                found.append(_Found(*looked, track, 0, change))
            else:
                log.debug("face %d lost", track.id)
        # Searching for new faces: every pass at once in static mode and on the first frame;
        # in video, while faces are followed, one pass every other frame (a new face is
        # found a frame or a few later), else (and in the first EAGER_SEARCH_FRAMES) one
        # pass a frame, in turn.
        first = self._since_start == 0
        if len(found) < self.max_num_faces and (
                self.static_image_mode or first or not found
                or self._since_start < EAGER_SEARCH_FRAMES or self._frame % 2 == 0):
            detections = self._finder.detect(rgb, every_pass=self.static_image_mode or first)
            wanted = self.max_num_faces - len(found)
            for order, detection in enumerate(detections, start=1):
                if wanted <= 0:
                    break
                if self._seen(detection, found):
                    continue
                looked = self._look(rgb, roi_from_detection(detection),
                                    DETECTION_RECROP_MISMATCH)
                if looked is not None:
                    found.append(_Found(*looked, None, order))
                    wanted -= 1
        return found

    @staticmethod
    def _seen(detection: Detection, found: list[_Found]) -> bool:
        """Whether a detection lies on a face already found this frame."""
        x, y, w, h = (float(v) for v in detection.box)
        cx, cy = x + w / 2, y + h / 2
        roi = roi_from_detection(detection)
        for f in found:
            lo, hi = f.points[:468, :2].min(axis=0), f.points[:468, :2].max(axis=0)
            if lo[0] <= cx <= hi[0] and lo[1] <= cy <= hi[1]:
                return True
            if roi.iou(f.roi) >= SAME_FACE_IOU:
                return True
        return False

    @staticmethod
    def _dedupe(found: list[_Found]) -> list[_Found]:
        """One entry per face: tracked faces first (oldest id first), then new ones by rank."""
        if len(found) < 2:
            return found
        found = sorted(found, key=lambda f: (f.track is None,
                                             f.track.id if f.track is not None else f.order))
        kept: list[_Found] = []
        for f in found:
            centre, iod = f.centre(), f.iod()
            if any(np.linalg.norm(centre - k.centre()) < SAME_FACE_IOD * max(iod, k.iod())
                   or f.roi.iou(k.roi) >= SAME_FACE_IOU for k in kept):
                continue
            kept.append(f)
        return kept

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> list[Face]:
        """Faces in one HxWx3 uint8 RGB frame. `timestamp` (seconds) feeds motion
        prediction and smoothing (frames are taken as 1/30 s apart without it)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        if not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)
        t = self._frame / 30.0 if timestamp is None else float(timestamp)
        self._frame += 1
        if self.mediapipe_compat:
            found = self._process_compat(rgb)
        else:
            found = self._dedupe(self._process(rgb, t))
            # the faces kept: followed ones first, then new ones in detection order
            followed = [f for f in found if f.track is not None]
            new = [f for f in found if f.track is None]
            found = followed + new[: max(0, self.max_num_faces - len(followed))]
        faces: list[Face] = []
        tracks: list[_Track] = []
        for f in found:
            if f.track is None:
                face_id = self._next_id
                self._next_id += 1
                tracks.append(_Track(face_id, f.roi, t, points=f.points[:468]))
            else:
                face_id = f.track.id
                if self.mediapipe_compat:
                    tracks.append(_Track(face_id, f.roi, t))
                else:
                    noise = 0.8 * f.track.shape_noise + 0.2 * f.shape
                    tracks.append(_Track(face_id, f.roi, t, f.track.roi, f.track.t,
                                         f.points[:468], noise))
            points = f.points
            if self._refiner is not None:
                points = self._refiner.refine_mesh(f.crop, points)
            if self._smoother is not None:
                points = self._smoother(face_id, points, t)
            faces.append(Face(points, f.presence, face_id, f.crop))
        self._tracks = [] if self.static_image_mode else tracks
        self._since_start += 1
        if self._refiner is not None:
            self._refiner.forget()
        if self._smoother is not None:
            self._smoother.keep_only(f.id for f in faces)
        return faces

    def close(self) -> None:
        self._tracks = []
        self._finder.close()
        self._landmarks.close()
        if self._refiner is not None:
            self._refiner.close()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
