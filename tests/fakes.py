"""A stand-in camera for tests: this machine has no camera, so the capture device is faked.

Everything around it (CameraSource's thread, the live app, recording) runs for real.
"""

from __future__ import annotations

import threading
import time

import numpy as np


class FakeCamera:
    """Behaves like cv2.VideoCapture: delivers `good` frames, then fails as `failure` says.

    failure="error": read() returns (False, None), as OpenCV does when a USB camera is pulled;
    failure="hang": read() blocks (a driver that stops delivering without reporting it).
    `image` (BGR, like OpenCV) is delivered every time; without one, small grey frames whose
    value counts the reads.
    """

    def __init__(self, good: int, failure: str = "error", image: np.ndarray | None = None,
                 fps: float = 30.0) -> None:
        self.good, self.failure, self.image, self.fps = good, failure, image, fps
        self.reads = 0
        self.released = threading.Event()

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.reads < self.good:
            time.sleep(1 / self.fps)
            self.reads += 1
            if self.image is not None:
                return True, self.image
            return True, np.full((24, 32, 3), self.reads % 256, np.uint8)
        if self.failure == "hang":
            self.released.wait(30)
        return False, None

    def release(self) -> None:
        self.released.set()
