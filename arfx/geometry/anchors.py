"""Named anchor points that effects attach to: `face.<point>`, `hand.<point>`, `body.<point>`.

An anchor gives each tracked entity a 4x4 matrix: the entity's rotation and scale, with its
origin moved to the anchor point. For faces the point follows the deformed mesh (a beard on
`face.chin` drops with the jaw) while the axes stay the head's (canonical face space: x to
the person's left, y up, z towards the viewer, cm). `face.origin` is the head pose itself.

Left and right are the person's own: `face.left_eye` is the person's left eye (canonical +x),
whether or not the view is mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Canonical mesh vertex indices averaged for each face point (MediaPipe's 468-point topology).
FACE_POINTS: dict[str, tuple[int, ...]] = {
    "origin": (),
    "nose_tip": (1,),
    "nose_bridge": (168,),
    "eyes": (33, 133, 263, 362),
    "forehead": (151,),
    "head_top": (10,),
    "chin": (152,),
    "mouth": (13, 14),
    "left_eye": (263, 362),
    "right_eye": (33, 133),
    "left_cheek": (425,),
    "right_cheek": (205,),
    "left_ear": (454,),
    "right_ear": (234,),
}

# Hand landmark indices (MediaPipe's 21-point hand) averaged for each hand point; the axes
# are the hand frame of arfx.geometry.hand_space (origin at the wrist).
HAND_POINTS: dict[str, tuple[int, ...]] = {
    "origin": (),
    "wrist": (0,),
    "palm": (0, 5, 9, 13, 17),
    "thumb_tip": (4,),
    "index_tip": (8,),
    "middle_tip": (12,),
    "ring_tip": (16,),
    "pinky_tip": (20,),
}

# Body landmark indices (MediaPipe Pose's 33 points) averaged for each body point; the axes are
# the torso frame of arfx.geometry.body_space (origin between the shoulders).
BODY_POINTS: dict[str, tuple[int, ...]] = {
    "origin": (),
    "chest": (11, 12, 23, 24, 11, 12),  # two thirds of the way up from the hips
    "left_shoulder": (11,),
    "right_shoulder": (12,),
    "hips": (23, 24),
    "left_hip": (23,),
    "right_hip": (24,),
    "left_elbow": (13,),
    "right_elbow": (14,),
    "left_wrist": (15,),
    "right_wrist": (16,),
}

#: Entity -> the points it offers ("frame": effects over the whole frame, e.g. backgrounds).
ANCHOR_POINTS: dict[str, dict[str, tuple[int, ...]]] = {"face": FACE_POINTS, "hand": HAND_POINTS,
                                                        "body": BODY_POINTS, "frame": {"origin": ()}}

#: Points that lie off the mesh: an offset (entity space, cm) from the mean of their vertices.
#: face.head_top: the crown, above the ears (an adult head is ~22.5 cm from chin to crown;
#: the face mesh ends at the hairline, vertex 10).
POINT_OFFSETS: dict[str, dict[str, tuple[float, float, float]]] = {
    "face": {"head_top": (0.0, 4.85, -7.0)},
}


class AnchorError(ValueError):
    """An anchor name that does not exist; the message lists what does."""


@dataclass(frozen=True)
class Anchor:
    """`entity.point`, e.g. face.nose_tip."""

    entity: str
    point: str

    @classmethod
    def parse(cls, text: str) -> "Anchor":
        entity, _, point = str(text).partition(".")
        point = point or "origin"
        if entity not in ANCHOR_POINTS:
            raise AnchorError(f"anchor '{text}' must start with one of: "
                              f"{', '.join(e + '.' for e in ANCHOR_POINTS)}")
        points = ANCHOR_POINTS[entity]
        if point not in points:
            raise AnchorError(f"anchor '{text}': unknown {entity} point '{point}'; "
                              f"known: {', '.join(points)}")
        return cls(entity, point)

    def __str__(self) -> str:
        return f"{self.entity}.{self.point}"

    def matrix(self, entity) -> np.ndarray:
        """float64 [4,4]: anchor space -> camera space for one tracked entity."""
        pose = np.asarray(entity.pose, dtype=np.float64)
        indices = ANCHOR_POINTS[self.entity][self.point]
        if not indices:
            return pose
        matrix = pose.copy()
        matrix[:3, 3] = np.asarray(entity.mesh, dtype=np.float64)[list(indices)].mean(axis=0)
        offset = POINT_OFFSETS.get(self.entity, {}).get(self.point)
        if offset is not None:
            matrix[:3, 3] += pose[:3, :3] @ np.asarray(offset, dtype=np.float64)
        return matrix


FACE_ORIGIN = Anchor("face", "origin")
