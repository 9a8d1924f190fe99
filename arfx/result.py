"""The per-frame result: what the trackers found in one frame, read by effects, outputs and sinks.

One `FrameResult` flows source -> trackers -> geometry -> renderer -> sinks. Each tracking
stage adds its entities (faces today; hands, bodies and a segmentation mask have their
places) and never reads what a later stage adds. Left and right always mean the person's own
side: trackers run on the unmirrored image, and mirroring is a display choice only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from arfx.geometry.pipeline import FaceGeometry

#: The kinds of tracked entity a frame can hold; effect anchors name one of them.
ENTITIES = ("face", "hand", "body", "frame")


@dataclass(eq=False)
class FaceResult:
    """One tracked face in one frame.

    landmarks: float32 [468 or 478, 3] image pixels (x right, y down; z relative depth in
    pixel units). score: presence 0..1. id: stable while the face is tracked.
    geometry: its metric pose and mesh (None when the fit was degenerate; such a face is
    listed but not drawn). expressions: scores in [0, 1] by blendshape name, when estimated.
    """

    id: int
    landmarks: np.ndarray
    score: float
    geometry: FaceGeometry | None = None
    expressions: dict[str, float] = field(default_factory=dict)

    @property
    def pose(self) -> np.ndarray | None:
        """float32 [4,4] canonical face space (cm) -> camera space (cm), or None."""
        return None if self.geometry is None else self.geometry.pose

    @property
    def mesh(self) -> np.ndarray | None:
        """float32 [468,3] camera-space vertices (cm), or None."""
        return None if self.geometry is None else self.geometry.mesh

    @property
    def euler(self) -> tuple[float, float, float] | None:
        """(yaw, pitch, roll) in degrees, or None."""
        return None if self.geometry is None else self.geometry.euler


@dataclass(eq=False)
class HandResult:
    """One tracked hand in one frame.

    landmarks: float32 [21,3] image pixels (z relative depth, pixel units). world: float32
    [21,3] metres around the hand's centre (MediaPipe's world landmarks). handedness: "left"
    or "right", the person's own hand. pose: float32 [4,4] hand frame (cm) -> camera space
    (arfx.geometry.hand_space); mesh: the 21 points in camera space, cm (None when the hand's
    geometry was degenerate). gesture: open_palm, fist, pointing, victory, thumbs_up, pinch
    or none, with its score.
    """

    id: int
    landmarks: np.ndarray
    world: np.ndarray
    handedness: str
    score: float
    pose: np.ndarray | None = None
    mesh: np.ndarray | None = None
    gesture: str = "none"
    gesture_score: float = 0.0


@dataclass(eq=False)
class BodyResult:
    """One tracked person's body in one frame (MediaPipe Pose: one person).

    landmarks: float32 [33,3] image pixels. world: float32 [33,3] metres around the hips.
    visibility, presence: float32 [33] 0..1. Landmark names (arfx.tracking.pose.LANDMARK_NAMES)
    are the person's own sides. pose: float32 [4,4] torso frame (cm) -> camera space
    (arfx.geometry.body_space); mesh: the 33 points in camera space, cm (None if degenerate).
    """

    id: int
    landmarks: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float
    pose: np.ndarray | None = None
    mesh: np.ndarray | None = None


@dataclass(eq=False)
class FrameResult:
    """Everything known about one frame after tracking.

    `hands`, `bodies` and `segmentation` are filled by the stages that track them (empty
    when none runs); `extras` is for stage outputs that have no field yet. `camera`: the
    PerspectiveCamera the geometry was lifted with (and the frame is rendered with).
    """

    index: int
    timestamp: float
    width: int
    height: int
    faces: list[FaceResult] = field(default_factory=list)
    hands: list[HandResult] = field(default_factory=list)
    bodies: list[BodyResult] = field(default_factory=list)
    segmentation: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    camera: Any = None

    def entities(self, kind: str) -> list[Any]:
        """The drawable entities of one kind ('face', 'hand', 'body'), in tracking order."""
        if kind == "face":
            return [face for face in self.faces if face.geometry is not None]
        if kind == "hand":
            return [hand for hand in self.hands if hand.pose is not None]
        if kind == "body":
            return [body for body in self.bodies if body.pose is not None]
        if kind == "frame":  # effects drawn once over the whole frame (backgrounds)
            return [self]
        raise ValueError(f"unknown entity kind '{kind}'; one of {', '.join(ENTITIES)}")


def as_frame_result(scene: Any, width: int, height: int) -> FrameResult:
    """A FrameResult from what a caller passes to the renderer.

    A FrameResult is returned as it is; a sequence of face geometries (FaceGeometry or
    FaceResult) is wrapped, so the renderer's older callers keep working.
    """
    if isinstance(scene, FrameResult):
        return scene
    faces = []
    for item in list(scene or []):
        if isinstance(item, FaceResult):
            faces.append(item)
        else:  # a FaceGeometry
            faces.append(FaceResult(int(getattr(item, "face_id", 0)), getattr(item, "landmarks", None),
                                    1.0, item))
    return FrameResult(0, 0.0, int(width), int(height), faces)
