"""The 68 iBUG / 300-W landmarks, taken from MediaPipe's 468-vertex face mesh.

Most face datasets and tools (dlib, 300-W, 3DDFA, FAN) use the 68-point convention of the
iBUG 300-W annotations. arfx's tracker gives the 468 points of the MediaPipe mesh; each of the
68 points is one of those vertices, chosen on the canonical mesh by these rules (iBUG numbers,
0-based; "right" and "left" are the person's own, so the right side is on the image's left):

- 0-16, the jaw line: the face oval (the mesh's boundary loop) from vertex 127, at the height
  of the outer eye corners on the person's right, down to the chin (152) and up to 356 on the
  left, each half split into 8 equal steps of frontal (x, y) arc length; each point is the oval
  vertex nearest its step.
- 17-21, 22-26, the eyebrows: the five vertices of the mesh's upper brow line (outer to inner on
  the right, 70 -> 107; inner to outer on the left, 336 -> 300).
- 27-30, the nose bridge: the shortest mesh path from the nasion (168) to the nose tip (4) at
  four equal steps.
- 31-35, the nose base: the five vertices of the shortest path across the nostrils, 98 -> 2
  (subnasale, point 33) -> 327.
- 36-41, 42-47, the eyes: the outer and inner corners (33, 133; 263, 362) and the lid contours
  between them at 1/3 and 2/3 of their length (upper lid 37-38, 43-44; lower lid 40-41, 46-47).
- 48-59, the outer lips: the mouth corners (61, 291), the middle of the upper and lower lip (0,
  17), and the outer lip line between them at 1/3 and 2/3 of each half.
- 60-67, the inner lips: the inner corners (78, 308), the inner lip midpoints (13, 14), and the
  inner lip line halfway along each half.

tests/test_dense.py derives the table from the canonical mesh by these rules and checks the
positions on a photo against hand-placed points.
"""

from __future__ import annotations

import numpy as np

#: iBUG point k is MediaPipe mesh vertex IBUG68[k].
IBUG68: tuple[int, ...] = (
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,  # 0-16 jaw
    70, 63, 105, 66, 107,  # 17-21 right eyebrow, outer to inner
    336, 296, 334, 293, 300,  # 22-26 left eyebrow, inner to outer
    168, 197, 195, 4,  # 27-30 nose bridge, top to tip
    98, 97, 2, 326, 327,  # 31-35 nose base, right to left
    33, 160, 158, 133, 153, 144,  # 36-41 right eye: outer corner, upper lid, inner corner, lower lid
    362, 385, 387, 263, 373, 380,  # 42-47 left eye: inner corner, upper lid, outer corner, lower lid
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # 48-59 outer lips, from the right corner
    78, 81, 13, 311, 308, 402, 14, 178,  # 60-67 inner lips, from the right corner
)

#: The groups of the convention: name -> (first, last) iBUG index, and whether the line closes.
GROUPS: dict[str, tuple[int, int, bool]] = {
    "jaw": (0, 16, False),
    "right_eyebrow": (17, 21, False),
    "left_eyebrow": (22, 26, False),
    "nose_bridge": (27, 30, False),
    "nose_base": (31, 35, False),
    "right_eye": (36, 41, True),
    "left_eye": (42, 47, True),
    "outer_lips": (48, 59, True),
    "inner_lips": (60, 67, True),
}


def _connections() -> tuple[tuple[int, int], ...]:
    pairs = []
    for first, last, closed in GROUPS.values():
        pairs += [(i, i + 1) for i in range(first, last)]
        if closed:
            pairs.append((last, first))
    pairs.append((30, 33))  # the tip down to the nose base, as the usual 68-point drawings do
    return tuple(pairs)


#: The standard lines between the 68 points (pairs of iBUG indices).
CONNECTIONS: tuple[tuple[int, int], ...] = _connections()


def landmarks68(landmarks: np.ndarray) -> np.ndarray:
    """The 68 iBUG points of [..., 468|478, C] landmarks (pixels, normalized or metric alike)."""
    landmarks = np.asarray(landmarks)
    if landmarks.ndim < 2 or landmarks.shape[-2] < 468:
        raise ValueError(f"landmarks68 needs [..., 468 or 478, C] landmarks, got shape {landmarks.shape}")
    return landmarks[..., list(IBUG68), :]
