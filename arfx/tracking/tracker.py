"""FaceTracker: detect or track every face in a frame and return its landmarks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from arfx.tracking.attention import AttentionLandmarkModel
from arfx.tracking.detector import FaceDetector
from arfx.tracking.filters import LandmarkSmoother
from arfx.tracking.landmarks import LandmarkModel
from arfx.tracking.roi import Roi, roi_from_detection, roi_from_landmarks

log = logging.getLogger(__name__)

# A detection whose ROI overlaps a tracked face's ROI this much is that face, not a new one.
SAME_FACE_IOU = 0.5


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
    roi: Roi  # where to look in the next frame


class FaceTracker:
    """MediaPipe-FaceMesh-compatible face tracker on ONNX Runtime.

    Video mode (the default) runs the detector only while fewer than `max_num_faces`
    faces are tracked; each tracked face is followed from its previous landmarks and
    dropped when its presence score falls under `min_tracking_confidence`.
    Static mode detects on every frame.
    """

    def __init__(self, max_num_faces: int = 1, static_image_mode: bool = False,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 refine_landmarks: bool = False, detector: str = "short",
                 smooth: bool = False, threads: int = 1) -> None:
        if max_num_faces < 1:
            raise ValueError("max_num_faces must be at least 1")
        self.max_num_faces = int(max_num_faces)
        self.static_image_mode = bool(static_image_mode)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.refine_landmarks = bool(refine_landmarks)
        self._detector = FaceDetector(detector, min_detection_confidence, threads=threads)
        model = AttentionLandmarkModel if refine_landmarks else LandmarkModel
        self._landmarks = model(threads=threads)
        self._smoother = LandmarkSmoother() if smooth else None
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frame = 0

    def reset(self) -> None:
        """Forget tracked faces (the next frame starts from detection)."""
        self._tracks = []
        if self._smoother is not None:
            self._smoother.keep_only(())

    def _candidates(self, rgb: np.ndarray) -> list[tuple[Roi, int | None]]:
        tracked = [] if self.static_image_mode else self._tracks
        candidates: list[tuple[Roi, int | None]] = []
        if len(tracked) < self.max_num_faces:
            detections = self._detector.detect(rgb)[: self.max_num_faces]
            candidates = [(roi_from_detection(d), None) for d in detections]
        candidates += [(t.roi, t.id) for t in tracked]
        # Later candidates win: a tracked face replaces the detections (and older
        # tracks) that overlap it, so a face is never followed twice.
        kept: list[tuple[Roi, int | None]] = []
        for roi, face_id in candidates:
            kept = [(r, i) for r, i in kept if r.iou(roi) < SAME_FACE_IOU]
            kept.append((roi, face_id))
        # New faces only fill the places the tracked ones leave (best detections first).
        new = [c for c in kept if c[1] is None]
        followed = [c for c in kept if c[1] is not None]
        return new[: self.max_num_faces - len(followed)] + followed

    def process(self, rgb: np.ndarray, timestamp: float | None = None) -> list[Face]:
        """Faces in one HxWx3 uint8 RGB frame. `timestamp` (seconds) only feeds smoothing."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        if not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)
        t = self._frame / 30.0 if timestamp is None else float(timestamp)
        self._frame += 1
        faces: list[Face] = []
        tracks: list[_Track] = []
        for roi, face_id in self._candidates(rgb):
            points, presence = self._landmarks.run(rgb, roi)
            if presence < self.min_tracking_confidence:
                continue
            if face_id is None:
                face_id = self._next_id
                self._next_id += 1
            tracks.append(_Track(face_id, roi_from_landmarks(points)))
            if self._smoother is not None:
                points = self._smoother(face_id, points, t)
            faces.append(Face(points, presence, face_id, roi))
        self._tracks = [] if self.static_image_mode else tracks
        if self._smoother is not None:
            self._smoother.keep_only(f.id for f in faces)
        return faces

    def close(self) -> None:
        self._tracks = []
        self._detector.close()
        self._landmarks.close()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
