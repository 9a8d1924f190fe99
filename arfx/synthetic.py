"""Synthetic inputs for measuring the live loop without a camera: a stand-in capture device
delivering a face at a steady frame rate, and a clip-like source of the same picture.

Both show the astronaut photo (arfx.demo) on a grey canvas, drifting a few pixels from
frame to frame so that tracking follows a moving face rather than a frozen one.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Iterator

import numpy as np

from arfx.sources import Frame, Source

#: Horizontal offsets (pixels) the face cycles through, one per frame.
DRIFT = (0, 2, 4, 6, 4, 2)


def face_frame(width: int, height: int, shift: int = 0) -> np.ndarray:
    """An RGB picture of width x height: the astronaut's face centred (moved `shift` pixels
    right), the rest mid grey."""
    import cv2

    from arfx.demo import astronaut_image

    face = astronaut_image()
    side = min(width, height)
    face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 90, np.uint8)
    x = max(0, min(width - side, (width - side) // 2 + shift))
    y = (height - side) // 2
    canvas[y:y + side, x:x + side] = face
    return canvas


def drifting_faces(width: int, height: int) -> list[np.ndarray]:
    """The frames a synthetic source cycles through (shared by every frame it delivers)."""
    return [face_frame(width, height, shift) for shift in DRIFT]


class SyntheticCamera:
    """cv2.VideoCapture's interface at a steady frame rate (for arfx.sources.CameraSource's
    `device`): read() blocks until the next frame is due, as a real camera does, and never
    catches up on frames it was late for."""

    def __init__(self, width: int, height: int, fps: float = 30.0) -> None:
        # CameraSource passes a device's frames through as RGB (it converts only OpenCV's BGR).
        self.frames = drifting_faces(width, height)
        self.period = 1.0 / fps
        self.reads = 0
        self._next = time.monotonic()
        self.released = threading.Event()

    def isOpened(self) -> bool:
        return not self.released.is_set()

    def set(self, prop: int, value: float) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        self._next += self.period
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.monotonic()
        self.reads += 1
        return True, self.frames[self.reads % len(self.frames)]

    def release(self) -> None:
        self.released.set()


class SyntheticClip(Source):
    """A clip of `count` frames (None: endless) at `fps`; a file-like source: not live, so the
    live app's no-drop mode keeps every frame."""

    name = "synthetic clip"

    def __init__(self, width: int, height: int, count: int | None = None, fps: float = 30.0) -> None:
        self._frames = drifting_faces(width, height)
        self._count, self._fps = count, float(fps)
        self._size = (int(width), int(height))

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return self._count

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def __iter__(self) -> Iterator[Frame]:
        for index in itertools.count() if self._count is None else range(self._count):
            yield Frame(self._frames[index % len(self._frames)], index, index / self._fps)
