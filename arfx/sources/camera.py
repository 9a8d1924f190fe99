"""Cameras and live feeds: `CameraSource` (a capture thread, latest frame wins, a camera that
goes quiet ends the stream) and `ThreadedFeed`, which reads any source on a thread into a
`LatestFrameSlot` (cameras; files paced at their frame times, or every frame kept)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Iterator, Protocol

import numpy as np

from arfx.errors import InputError
from arfx.sources.frames import Frame, Source, to_rgb8
from arfx.threads import LatestSlot, PlaybackClock, ProducerStage

log = logging.getLogger(__name__)

# A camera that delivers nothing for this long is considered gone.
DEFAULT_CAMERA_TIMEOUT_S = 3.0

#: The live feeds' one-frame buffer (arfx.threads.LatestSlot holding Frames).
LatestFrameSlot = LatestSlot


class CaptureDevice(Protocol):
    """The part of cv2.VideoCapture a camera source uses (lets tests stand in a device)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def release(self) -> None: ...


class ThreadedFeed:
    """Reads a source in a background thread (an arfx.threads.ProducerStage) into a LatestFrameSlot.

    With `paced`, file frames are released at their timestamps (playback speed), so a slow
    consumer skips frames instead of falling behind; with `keep_all` (no-drop, also settable
    later through `slot.keep_all`) a slow consumer gets every frame instead, playback slowing
    to its pace (the clock is moved on, so no burst follows a slow stretch). Frames are never
    delivered out of order.
    The first frame is released at once; the playback clock starts when it is decoded, or,
    with `wait_for_clock`, only when the consumer calls `start_clock()` (a consumer that
    needs the first frame to set itself up loses no frames to its set-up time).
    """

    def __init__(self, source: Source | Iterator[Frame], paced: bool = False,
                 stall_timeout: float | None = None, name: str = "arfx-capture",
                 wait_for_clock: bool = False, keep_all: bool = False) -> None:
        self.source = source
        self.paced = paced
        self.wait_for_clock = wait_for_clock
        self.stall_timeout = stall_timeout
        self.slot: LatestSlot[Frame] = LatestFrameSlot(keep_all=keep_all)
        self._clock_started = threading.Event()  # set with the clock (start_clock may come late)
        self._clock = PlaybackClock()
        self._stage = ProducerStage(self._paced() if paced else source, self.slot, name=name, start=False)
        self._stop = self._stage.stopping

    @property
    def error(self) -> BaseException | None:
        """What ended the source, if it failed (raised again by `frames()`)."""
        return self._stage.error

    def start(self) -> "ThreadedFeed":
        self._stage.start()
        return self

    def start_clock(self) -> None:
        """Paced feeds: the first frame counts as shown now; later ones follow at their times."""
        if not self._clock_started.is_set():
            self._clock.start()
            self._clock_started.set()

    def _await_clock(self) -> bool:
        while not self._clock_started.is_set():
            if self._stop.wait(0.05):
                return False
        return True

    def _paced(self) -> Iterator[Frame]:
        """The source's frames, each held back until its time on the playback clock."""
        base: float | None = None  # the first frame's timestamp
        for frame in self.source:
            if self._stop.is_set():
                return
            if base is None:
                base = frame.timestamp
                if not self.wait_for_clock:
                    self.start_clock()
            else:
                if not self._await_clock():
                    return
                delay = self._clock.delay(frame.timestamp - base)
                if delay > 0 and self._stop.wait(delay):
                    return
                if delay < 0 and self.slot.keep_all:
                    self._clock.fall_behind(-delay)  # late (a slow consumer): play on from here
            yield frame

    def frames(self) -> Iterator[Frame]:
        """Frames in order until the source ends, stops, or stalls past `stall_timeout`."""
        self.start()
        last = -1
        while True:
            frame = self.slot.take(self.stall_timeout)
            if frame is None:
                if not self.slot.ended:
                    self.slot.end(f"no frame for {self.stall_timeout:g} s")
                    log.warning("%s: no frame for %.1f s; ending the stream",
                                getattr(self.source, "name", "source"), self.stall_timeout or 0)
                    self._stop.set()
                if self.error is not None and not isinstance(self.error, GeneratorExit):
                    raise self.error
                return
            if frame.index <= last:  # cannot happen with one producer; guard the promise anyway
                continue
            last = frame.index
            yield frame

    @property
    def ended(self) -> bool:
        return self.slot.ended

    @property
    def end_reason(self) -> str | None:
        return self.slot.end_reason

    def stop(self, join_timeout: float = 2.0) -> None:
        self._stage.stop(join_timeout)  # also ends the slot, waking a keep_all writer


class CameraSource(Source):
    """A camera read in a capture thread; latest frame wins; a camera that goes quiet ends the stream."""

    live = True

    def __init__(self, index: int = 0, size: tuple[int, int] | None = (1280, 720),
                 timeout: float = DEFAULT_CAMERA_TIMEOUT_S,
                 device: CaptureDevice | None = None) -> None:
        self.index = index
        self.name = f"camera {index}"
        self.timeout = timeout
        if device is None:
            import cv2

            if not log.isEnabledFor(logging.DEBUG):
                # OpenCV prints a warning per backend it tries; arfx says it once, below.
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            cap = cv2.VideoCapture(index)
            if not cap.isOpened():
                cap.release()
                raise InputError(f"camera {index}: no camera at this index (try --camera N or --input FILE)")
            if size:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
            self._cap: CaptureDevice = cap
            self._bgr = True
        else:
            self._cap = device
            if not self._cap.isOpened():
                raise InputError(f"camera {index}: could not be opened")
            self._bgr = False
        self._feed: ThreadedFeed | None = None
        self._closed = False
        self.end_reason: str | None = None

    def _read_frames(self) -> Iterator[Frame]:
        t0: float | None = None
        index = 0
        while not self._closed:
            ok, image = self._cap.read()
            now = time.monotonic()
            if not ok or image is None:
                if index == 0:
                    raise InputError(f"{self.name}: opened but delivered no frames")
                raise InputError(f"{self.name}: stopped delivering frames")
            if t0 is None:
                t0 = now
            rgb = image[:, :, ::-1] if self._bgr else image
            yield Frame(to_rgb8(rgb, self.name), index, now - t0, captured=now)
            index += 1

    def feed(self) -> ThreadedFeed:
        if self._feed is None:
            self._feed = ThreadedFeed(self._read_frames(), paced=False, stall_timeout=self.timeout,
                                      name=f"arfx-camera-{self.index}").start()
        return self._feed

    def __iter__(self) -> Iterator[Frame]:
        feed = self.feed()
        count = 0
        try:
            for frame in feed.frames():
                count += 1
                yield frame
        except InputError as error:
            # The camera went away mid-session: end cleanly so recordings get finalised.
            log.warning("%s", error)
            self.end_reason = str(error)
            if count == 0:
                raise
            return
        self.end_reason = feed.end_reason
        if count == 0 and feed.end_reason and feed.end_reason.startswith("no frame"):
            raise InputError(f"{self.name}: opened but delivered no frames in {self.timeout:g} s")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._feed is not None:
            self._feed.stop()
        try:
            self._cap.release()
        except Exception:  # a device gone bad may fail on release; nothing left to save
            log.debug("camera release failed", exc_info=True)
