"""Video files decoded with PyAV (`VideoSource`): rotation metadata honoured, frames timed
from their pts, a cut-off file played as far as it decodes."""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from arfx.errors import InputError, reason
from arfx.sources.frames import DEFAULT_FOLDER_FPS, VIDEO_SUFFIXES, Frame, Source, _check_file

log = logging.getLogger(__name__)


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
