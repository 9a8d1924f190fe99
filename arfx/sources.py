"""Frame sources: camera, video file, image file and image folder, all yielding `Frame`s in order."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from arfx.errors import InputError, reason

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".3gp", ".gif"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})

# Past this many pixels an image is treated as a decompression bomb rather than a photo.
MAX_IMAGE_PIXELS = 100_000_000
DEFAULT_FOLDER_FPS = 30.0
# A camera that delivers nothing for this long is considered gone.
DEFAULT_CAMERA_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Frame:
    """One RGB frame (uint8, HxWx3) with its position in the stream and its time in seconds."""

    rgb: np.ndarray
    index: int
    timestamp: float
    #: time.monotonic() when a live source captured it (for latency measurement), else None.
    captured: float | None = None
    #: Vertical field of view of the upright picture from its file's metadata (degrees), else None.
    fov: float | None = None


class Source:
    """Base of all sources: iterate for frames in order; properties describe the stream."""

    name: str = "source"
    #: True when frames arrive in real time (a camera): consumers may drop, never reorder.
    live: bool = False

    @property
    def fps(self) -> float | None:
        return None

    @property
    def frame_count(self) -> int | None:
        return None

    @property
    def duration(self) -> float | None:
        return None

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) when known before decoding, else None."""
        return None

    @property
    def fov(self) -> float | None:
        """Vertical field of view (degrees) the file's metadata gives for its upright pictures, else None."""
        return None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_rgb8(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Any decoded image (gray, 16-bit, RGBA, float) as contiguous uint8 RGB."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"{name}: unsupported image layout {a.shape}")
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif a.dtype in (np.float32, np.float64):
        a = (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    channels = a.shape[2]
    if channels == 1:
        a = np.repeat(a, 3, axis=2)
    elif channels == 2:  # gray + alpha: drop alpha
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif channels == 4:  # composite over black so transparent areas do not show stale colour
        alpha = a[:, :, 3:4].astype(np.uint16)
        a = ((a[:, :, :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB, EXIF orientation applied; InputError with the reason otherwise."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _check_file(path)
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise InputError(f"{path}: image is {im.width}x{im.height}, larger than the "
                                 f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit")
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(im).astype(np.uint32)
                array = (array >> 8) if array.max(initial=0) > 255 else array
                return to_rgb8(np.clip(array, 0, 255).astype(np.uint8), str(path))
            if im.mode == "F":
                return to_rgb8(np.asarray(im) / 255.0, str(path))
            if im.mode == "P" or im.mode == "PA" or im.mode == "LA" or im.mode == "CMYK" or im.mode == "YCbCr":
                im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("PA", "LA") else "RGB")
            if im.mode == "1":
                im = im.convert("L")
            return to_rgb8(np.asarray(im), str(path))
    except InputError:
        raise
    except Image.DecompressionBombError as error:
        raise InputError(f"{path}: image too large ({error})") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image arfx can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: cannot read image ({error})") from None


def image_fov(path: Path) -> float | None:
    """The vertical field of view of an image file's upright picture from its EXIF (focal
    length in 35 mm film, or focal length and focal-plane resolution), else None."""
    from PIL import Image

    from arfx.geometry.fov import exif_fov

    try:
        with Image.open(path) as im:
            found = exif_fov(im.getexif(), im.size)
    except Exception:  # unreadable metadata is no metadata; read_image reports unreadable pictures
        log.debug("%s: no readable EXIF", path, exc_info=True)
        return None
    if found is not None:
        log.debug("%s: vertical field of view %.1f degrees from %s", path, *found)
        return found[0]
    return None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")


class ImageSource(Source):
    """A single image file: one frame."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._rgb = read_image(self.path)  # read now so errors surface at open time
        self._fov = image_fov(self.path)

    @property
    def size(self) -> tuple[int, int]:
        return self._rgb.shape[1], self._rgb.shape[0]

    @property
    def fov(self) -> float | None:
        return self._fov

    @property
    def frame_count(self) -> int:
        return 1

    @property
    def rgb(self) -> np.ndarray:
        return self._rgb

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(self._rgb, 0, 0.0, fov=self._fov)


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class FolderSource(Source):
    """The images in a folder, in natural name order (frame2 before frame10), one frame each."""

    def __init__(self, path: str | os.PathLike[str], fps: float = DEFAULT_FOLDER_FPS) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._fps = float(fps)
        if not self.path.is_dir():
            raise InputError(f"{path}: not a folder")
        self.files = sorted(
            (p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
             and not p.name.startswith(".")),
            key=_natural_key,
        )
        if not self.files:
            raise InputError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int:
        return len(self.files)

    @property
    def duration(self) -> float:
        return len(self.files) / self._fps

    def __iter__(self) -> Iterator[Frame]:
        for i, file in enumerate(self.files):
            yield Frame(read_image(file), i, i / self._fps, fov=image_fov(file))


def _rotate(rgb: np.ndarray, rotation: float) -> np.ndarray:
    """Apply a display-matrix rotation (degrees, counter-clockwise) so the frame shows upright.

    Phones store portrait video as landscape pictures plus this angle; players turn the
    picture by it (FFmpeg's autorotate does the same), so arfx does too.
    """
    quarter = int(round(rotation / 90.0)) % 4
    if quarter == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=quarter))


class VideoSource(Source):
    """A video file decoded with PyAV; rotation metadata honoured; frames timed from their pts."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 0) -> None:
        import av

        self.path = Path(path)
        self.name = str(self.path)
        _check_file(self.path)
        try:
            self._container = av.open(str(self.path), "r")
        except (av.FFmpegError, OSError, ValueError) as error:
            hint = ("; the file may be cut off or damaged" if self.path.suffix.lower() in VIDEO_SUFFIXES
                    else "")
            raise InputError(f"{self.path}: not a video arfx can read ({reason(error)}{hint})") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path}: has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        if threads:
            self._stream.codec_context.thread_count = threads
        ctx = self._stream.codec_context
        if not ctx.width or not ctx.height:
            self._container.close()
            raise InputError(f"{self.path}: video stream has no picture size")
        self._size = (ctx.width, ctx.height)
        self._rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        from arfx.geometry.fov import metadata_35mm

        self._focal_35mm = metadata_35mm({**dict(self._container.metadata), **dict(self._stream.metadata)})
        self._fov: float | None = None
        self._start: float | None = None
        self._closed = False

    @property
    def rate(self) -> Fraction | None:
        """The exact frame rate as a fraction (for constant-rate re-encoding)."""
        return Fraction(self._rate) if self._rate else None

    @property
    def fps(self) -> float | None:
        return float(self._rate) if self._rate else None

    @property
    def frame_count(self) -> int | None:
        if self._stream.frames:
            return int(self._stream.frames)
        duration = self.duration
        if duration and self.fps:
            return int(round(duration * self.fps))
        return None

    @property
    def duration(self) -> float | None:
        if self._stream.duration is not None and self._stream.time_base:
            return float(self._stream.duration * self._stream.time_base)
        if self._container.duration:
            return self._container.duration / 1_000_000
        return None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as stored; frames may come out rotated (see `rotation`)."""
        return self._size

    @property
    def fov(self) -> float | None:
        """From a 35 mm equivalent focal length in the metadata (exact once a frame is decoded:
        the upright picture's shape decides which side is vertical)."""
        if self._fov is None and self._focal_35mm is not None:
            return self._fov_of(*reversed(self._size))
        return self._fov

    def _fov_of(self, height: int, width: int) -> float | None:
        from arfx.geometry.fov import fov_from_35mm

        return None if self._focal_35mm is None else fov_from_35mm(self._focal_35mm, width, height)

    @property
    def has_audio(self) -> bool:
        return bool(self._container.streams.audio)

    @property
    def start_time(self) -> float:
        """Seconds on the file's clock of the frame that `Frame.timestamp` 0 stands for.

        MPEG-TS files and trimmed clips start later than 0; other streams of the file (audio)
        must be shifted by this much to stay in sync with the rebased frames. Exact once the
        first frame has been decoded; before that, the stream's declared start.
        """
        if self._start is not None:
            return self._start
        stream = self._stream
        if stream.start_time is not None and stream.time_base:
            return float(stream.start_time * stream.time_base)
        return 0.0

    @property
    def media_start(self) -> float:
        """Seconds on the file's clock where its earliest stream (video or first audio) begins.

        Audio often starts before the first picture; an output that starts here keeps it all.
        """
        starts = [self.start_time]
        for stream in self._container.streams.audio[:1]:
            if stream.start_time is not None and stream.time_base:
                starts.append(float(stream.start_time * stream.time_base))
        return min(starts)

    def __iter__(self) -> Iterator[Frame]:
        import av

        start: float | None = None
        index = 0
        try:
            for frame in self._container.decode(self._stream):
                if frame.time is not None:
                    if start is None:
                        start = self._start = float(frame.time)
                    t = frame.time - start
                else:
                    t = index / (self.fps or DEFAULT_FOLDER_FPS)
                rgb = _rotate(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0) or 0)
                if index == 0 and self._focal_35mm is not None:
                    self._fov = self._fov_of(*rgb.shape[:2])
                    log.debug("%s: vertical field of view %.1f degrees from a 35 mm equivalent focal "
                              "length of %g mm in its metadata", self.path, self._fov, self._focal_35mm)
                yield Frame(rgb, index, float(t), fov=self._fov)
                index += 1
        except av.FFmpegError as error:
            if index == 0:
                raise InputError(f"{self.path}: cannot decode video ({reason(error)})") from None
            # A cut-off file: keep what decoded, as players do.
            log.warning("%s: video ends early after %d frames (%s)", self.path, index, reason(error))
        if index == 0:
            raise InputError(f"{self.path}: video has no frames")
        promised = self.frame_count
        if promised and index < promised - 1:  # -1: counts estimated from duration may round up
            log.warning("%s: video ends early: %d of %d frames decoded (the file may be cut off)",
                        self.path, index, promised)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()


class CaptureDevice(Protocol):
    """The part of cv2.VideoCapture a camera source uses (lets tests stand in a device)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def release(self) -> None: ...


class LatestFrameSlot:
    """A one-slot buffer: a new frame replaces an unread one; readers see frames in order.

    With `keep_all` (settable at any time) the writer waits for the reader instead, so no
    frame is dropped: a file is then paced by its consumer. `dropped` counts replaced frames,
    `delivered` every frame put.
    """

    def __init__(self, keep_all: bool = False) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._ended = False
        self._keep_all = keep_all
        self.dropped = 0
        self.delivered = 0
        self.end_reason: str | None = None

    @property
    def keep_all(self) -> bool:
        return self._keep_all

    @keep_all.setter
    def keep_all(self, value: bool) -> None:
        with self._cond:
            self._keep_all = bool(value)
            self._cond.notify_all()

    def put(self, frame: Frame) -> None:
        with self._cond:
            while self._keep_all and self._frame is not None and not self._ended:
                self._cond.wait()
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self.delivered += 1
            self._cond.notify_all()

    def end(self, reason: str | None = None) -> None:
        with self._cond:
            if not self._ended:
                self._ended = True
                self.end_reason = reason
            self._cond.notify_all()

    @property
    def ended(self) -> bool:
        return self._ended

    def counts(self) -> tuple[int, int, bool]:
        """(delivered, dropped, whether an unread frame waits), read together."""
        with self._cond:
            return self.delivered, self.dropped, self._frame is not None

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest unread frame; None once the stream has ended (or on timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._frame is None:
                if self._ended:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            frame, self._frame = self._frame, None
            self._cond.notify_all()  # a keep_all writer may go on
            return frame


class ThreadedFeed:
    """Reads a source in a background thread into a LatestFrameSlot.

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
        self.slot = LatestFrameSlot(keep_all=keep_all)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._clock = threading.Event()
        self._t0 = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    def start(self) -> "ThreadedFeed":
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def start_clock(self) -> None:
        """Paced feeds: the first frame counts as shown now; later ones follow at their times."""
        if not self._clock.is_set():
            self._t0 = time.monotonic()
            self._clock.set()

    def _await_clock(self) -> bool:
        while not self._clock.is_set():
            if self._stop.wait(0.05):
                return False
        return True

    def _run(self) -> None:
        reason = "end of input"
        base: float | None = None  # the first frame's timestamp
        try:
            for frame in self.source:
                if self._stop.is_set():
                    reason = "stopped"
                    break
                if self.paced:
                    if base is None:
                        base = frame.timestamp
                        if not self.wait_for_clock:
                            self.start_clock()
                    else:
                        if not self._await_clock():
                            reason = "stopped"
                            break
                        delay = self._t0 + (frame.timestamp - base) - time.monotonic()
                        if delay > 0 and self._stop.wait(delay):
                            reason = "stopped"
                            break
                        if delay < 0 and self.slot.keep_all:
                            self._t0 -= delay  # late (a slow consumer): play on from here
                self.slot.put(frame)
        except BaseException as error:  # handed to the consumer thread
            self.error = error
            reason = str(error)
        finally:
            self.slot.end(reason)

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
        self._stop.set()
        self.slot.end("stopped")  # wakes a keep_all writer waiting for the consumer
        if self._started:
            self._thread.join(join_timeout)


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


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InputError(f"size {text!r}: expected WIDTHxHEIGHT, like 1280x720")
    return int(match.group(1)), int(match.group(2))


def open_source(spec: str | int | os.PathLike[str], camera_size: tuple[int, int] | None = (1280, 720),
                folder_fps: float = DEFAULT_FOLDER_FPS) -> Source:
    """A source for a camera index (int or digits) or a path to a video, image or image folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not Path(spec).exists()):
        return CameraSource(int(spec), camera_size)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        return FolderSource(path, fps=folder_fps)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageSource(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoSource(path)
    # Unknown suffix: sniff the content, image first (cheap), then video.
    try:
        return ImageSource(path)
    except InputError:
        pass
    try:
        return VideoSource(path)
    except InputError:
        raise InputError(f"{path}: not a video or image arfx can read") from None

