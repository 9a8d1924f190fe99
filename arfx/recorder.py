"""Video writing: H.264 encoding in a background thread, audio copied, always finalised under a temp name."""

from __future__ import annotations

import logging
import os
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from arfx.errors import OutputError, reason
from arfx.outputs import check_output_path, temp_path_for
from arfx.threads import WorkerStage, steadily

log = logging.getLogger(__name__)

# Container format for each suffix arfx writes video to.
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Timestamps of real-time recordings are kept at this resolution (the MPEG 90 kHz clock).
REALTIME_TIME_BASE = Fraction(1, 90_000)
# Audio may run this far ahead of video in the interleaved output.
AUDIO_LEAD_S = 0.5


def even_size(width: int, height: int) -> tuple[int, int]:
    return width + (width & 1), height + (height & 1)


def pad_even(rgb: np.ndarray) -> np.ndarray:
    """H.264 with 4:2:0 chroma needs even sizes: repeat the last row/column where odd."""
    h, w = rgb.shape[:2]
    if (h | w) & 1 == 0:
        return rgb
    return np.pad(rgb, ((0, h & 1), (0, w & 1), (0, 0)), mode="edge")


class Recorder:
    """Writes RGB frames to an H.264 (yuv420p) video in a background thread.

    Give every frame a timestamp (seconds, from the capture clock) to keep real time, or
    none to get a constant frame rate of `fps`. Audio packets of `audio_from` (a media file)
    are copied without re-encoding, moved `audio_offset` seconds earlier (the file time that
    becomes the output's zero, e.g. `VideoSource.media_start`: MPEG-TS files and trimmed clips
    start later than 0); packets that would then end before 0 are dropped. Timed frames are
    placed `video_delay` seconds after the output's zero (a picture starting after the sound). The file appears under its final name only when `close()` has written it
    completely. `close()` is idempotent and may run from atexit. The file's ending is written
    on the encoder thread, which signals never interrupt: a KeyboardInterrupt raised in the
    thread calling `close()` delays the return until the file is named, then is re-raised; it
    never costs the recording. Only an Exception while writing counts as a write failure.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float | Fraction = 30,
                 audio_from: str | os.PathLike[str] | None = None, overwrite: bool = False,
                 preset: str = "veryfast", crf: int = 20, queue_size: int = 8,
                 threads: int = 0, audio_offset: float = 0.0, video_delay: float = 0.0) -> None:
        self.path = check_output_path(path, overwrite, VIDEO_FORMATS, "video")
        if width < 1 or height < 1:
            raise OutputError(f"{self.path}: invalid video size {width}x{height}")
        self.width, self.height = even_size(int(width), int(height))
        self.source_size = (int(width), int(height))
        self.rate = Fraction(fps).limit_denominator(1001 * 1000) if fps else Fraction(30)
        self.audio_from = Path(audio_from) if audio_from else None
        self.audio_offset = Fraction(audio_offset).limit_denominator(10**9)
        # A recording that starts mid-file (R pressed in the live app) takes its sound from
        # there on: the first frame's timestamp joins the offset.
        self._first_timestamp = Fraction(0)
        self.video_delay = float(video_delay)
        self.preset = preset
        self.crf = crf
        self.threads = threads
        self.frames_written = 0
        self.encode_times: list[float] = []  # seconds per frame, for benchmarks
        self._temp = temp_path_for(self.path)
        self._lock = threading.Lock()
        self._closed = False
        self._result: Path | None = None
        self._realtime: bool | None = None
        self._last_pts = -1
        self._container: Any = None
        self._t_first: float | None = None
        self._open()
        # The encoder: frames handled in order on its own thread, the file finished there too.
        self._encoder: WorkerStage[tuple[np.ndarray, float | None]] = WorkerStage(
            self._encode, finish=self._finish, depth=queue_size, name="arfx-encoder")

    @property
    def _error(self) -> BaseException | None:
        return self._encoder.error

    # -- producer side -------------------------------------------------------------------

    def write(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
        """Queue one frame (blocks while the encoder is `queue_size` frames behind)."""
        if self._closed:
            raise OutputError(f"{self.path}: recording already closed")
        self._raise_if_failed()
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise OutputError(f"{self.path}: frames must be uint8 RGB, got {rgb.dtype} {rgb.shape}")
        if (rgb.shape[1], rgb.shape[0]) != self.source_size:
            raise OutputError(f"{self.path}: frame is {rgb.shape[1]}x{rgb.shape[0]}, "
                              f"recording is {self.source_size[0]}x{self.source_size[1]}")
        realtime = timestamp is not None
        if self._realtime is None:
            self._realtime = realtime
        elif self._realtime != realtime:
            raise OutputError(f"{self.path}: mix of timed and untimed frames")
        if not self._encoder.put((rgb, timestamp)):
            self._raise_if_failed()
            raise OutputError(f"{self.path}: recording already closed")

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise OutputError(f"{self.path}: writing failed ({reason(self._error)})")

    # -- encoder thread ------------------------------------------------------------------

    def _open(self) -> None:
        import av

        fmt = VIDEO_FORMATS[self.path.suffix.lower()]
        try:
            self._container = av.open(str(self._temp), "w", format=fmt)
        except (av.FFmpegError, OSError) as error:
            raise OutputError(f"{self.path}: cannot create file ({reason(error)})") from None
        try:
            stream = self._container.add_stream("libx264", rate=self.rate)
            stream.width = self.width
            stream.height = self.height
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": self.preset, "crf": str(self.crf)}
            if self.threads:
                stream.codec_context.thread_count = self.threads
            self._video = stream
            self._audio_in: Any = None
            self._audio_out: Any = None
            self._audio_packets: Any = None
            self._audio_pending: Any = None
            if self.audio_from is not None:
                self._open_audio()
        except BaseException:
            self._container.close()
            self._remove_temp()
            raise

    def _open_audio(self) -> None:
        import av

        try:
            source = av.open(str(self.audio_from), "r")
        except (av.FFmpegError, OSError) as error:
            log.warning("%s: audio not copied (%s)", self.audio_from, error)
            return
        if not source.streams.audio:
            source.close()
            return
        in_stream = source.streams.audio[0]
        try:
            self._audio_out = self._container.add_stream_from_template(in_stream)
        except (av.FFmpegError, ValueError) as error:
            log.warning("%s: audio codec cannot go into %s (%s); audio not copied",
                        self.audio_from, self.path.suffix, error)
            source.close()
            return
        self._audio_in = source
        self._audio_stream_in = in_stream
        self._audio_packets = source.demux(in_stream)

    def _copy_audio_until(self, seconds: float | None) -> None:
        """Mux input audio packets up to `seconds` (all of them when None)."""
        if self._audio_packets is None:
            return
        import av

        while True:
            packet = self._audio_pending
            self._audio_pending = None
            if packet is None:
                try:
                    packet = next(self._audio_packets)
                except (StopIteration, av.FFmpegError):
                    self._audio_packets = None
                    return
                if packet.pts is None or packet.size == 0:  # the demuxer's flush packet
                    continue
                offset = self.audio_offset + self._first_timestamp
                if offset:
                    shift = round(offset / packet.time_base)
                    packet.pts -= shift
                    if packet.dts is not None:
                        packet.dts -= shift
                    # Audio from before the first video frame has no picture to go with. A
                    # packet ending exactly at 0 (an encoder's priming samples) is kept.
                    if packet.pts + (packet.duration or 0) < 0:
                        continue
            t = float(packet.pts * packet.time_base)
            if seconds is not None and t > seconds + AUDIO_LEAD_S:
                self._audio_pending = packet
                return
            packet.stream = self._audio_out
            self._container.mux(packet)

    def _encode(self, item: tuple[np.ndarray, float | None]) -> None:
        """On the encoder thread: one frame encoded and muxed, with the audio up to its time."""
        import av
        import cv2

        rgb, timestamp = item
        t0 = time.perf_counter()
        # OpenCV's RGB->I420 (BT.601, limited range, like swscale's default) is ~5x faster.
        frame = av.VideoFrame.from_ndarray(
            cv2.cvtColor(pad_even(rgb), cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        if timestamp is None:
            frame.pts = self.frames_written
            frame.time_base = 1 / self.rate
            seconds = self.frames_written / float(self.rate)
        else:
            if self._t_first is None:
                self._t_first = timestamp
                self._first_timestamp = Fraction(timestamp).limit_denominator(10**9)
                # Before the first encode the codec clock can still change.
                self._video.codec_context.time_base = REALTIME_TIME_BASE
                self._video.time_base = REALTIME_TIME_BASE
            pts = int(round((timestamp - self._t_first + self.video_delay) / REALTIME_TIME_BASE))
            pts = max(pts, self._last_pts + 1)  # strictly increasing, as muxers demand
            self._last_pts = pts
            frame.pts = pts
            frame.time_base = REALTIME_TIME_BASE
            seconds = float(pts * REALTIME_TIME_BASE)
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self._copy_audio_until(seconds)
        self.frames_written += 1
        self.encode_times.append(time.perf_counter() - t0)

    def _finish(self) -> None:
        """On the encoder thread: drain the encoder, copy the remaining audio, close the files.

        Done here rather than in close() because signals interrupt only the main thread: a
        Ctrl-C there can make close() wait again, never cut the file's ending short.
        """
        try:
            if self._error is None and self.frames_written > 0:
                for packet in self._video.encode(None):
                    self._container.mux(packet)
                self._copy_audio_until(None)
        except Exception as error:
            log.debug("finishing the encoder failed", exc_info=True)
            self._encoder.fail(error)
        try:
            self._container.close()
        except Exception as error:
            self._encoder.fail(error)
        if self._audio_in is not None:
            try:
                self._audio_in.close()
            except Exception:
                log.debug("closing the audio input failed", exc_info=True)

    # -- finishing -----------------------------------------------------------------------

    def close(self) -> Path | None:
        """Finish the file and give it its final name; returns the path (None if no frames).

        Idempotent. Raises OutputError if the file could not be written (the partial file is
        removed, never left looking valid). A KeyboardInterrupt or SystemExit arriving while it
        waits is no write failure: the file is finished and named first, then it is re-raised.
        """
        with self._lock:
            if self._closed:
                return self._result
            self._closed = True
            interrupts: list[BaseException] = []
            self._encoder.close(interrupts)  # the file's ending is written on the encoder thread
            if self._error is not None:
                steadily(self._remove_temp, interrupts)
                raise OutputError(f"{self.path}: writing failed ({reason(self._error)})")
            if self.frames_written == 0:
                steadily(self._remove_temp, interrupts)
                log.warning("%s: no frames were recorded; no file written", self.path)
            else:
                steadily(self._publish, interrupts)
                log.info("wrote %s (%d frames)", self.path, self.frames_written)
            if interrupts:
                raise interrupts[0]
            return self._result

    def _publish(self) -> None:
        if self._temp.exists():
            os.replace(self._temp, self.path)
        self._result = self.path

    @property
    def saved_path(self) -> Path | None:
        """The finished file once close() has written it, else None."""
        return self._result

    def abort(self) -> None:
        """Stop and delete the partial file (for failures and interrupted renders).

        A Ctrl-C or SIGTERM arriving meanwhile is re-raised only once the file is gone.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._encoder.fail(RuntimeError("aborted"))
            interrupts: list[BaseException] = []
            # The encoder thread closes the files, skipping the flush.
            self._encoder.close(interrupts)
            steadily(self._remove_temp, interrupts)
            if interrupts:
                raise interrupts[0]

    def _remove_temp(self) -> None:
        try:
            self._temp.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not remove partial file %s", self._temp)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None and self.frames_written == 0 and self._encoder.idle:
            self.abort()
        else:
            self.close()
