"""Live outputs: the picture sent on as it is rendered, to a network stream or a virtual camera.

`LiveOutput` encodes in its own thread from a one-slot buffer (latest frame wins): a slow
network or encoder never holds the live window back; the frames it skips are counted
(`dropped`). `StreamOutput` sends MPEG-TS with low-latency H.264 (x264 ultrafast,
zerolatency, no B-frames, a keyframe every second) over UDP or TCP through PyAV's FFmpeg,
for ffplay, VLC or OBS (a Media Source) to show; OBS's virtual camera then carries it into
calls on Windows and macOS. `arfx.vcam.VirtualCamera` writes raw frames to a v4l2loopback
device on Linux.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from arfx.errors import OutputError, reason
from arfx.sources import Frame, LatestFrameSlot
from arfx.threads import PlaybackClock

log = logging.getLogger(__name__)

#: Protocols arfx streams over, with MPEG-TS in them.
STREAM_SCHEMES = ("udp", "tcp")
#: The MPEG 90 kHz clock stream timestamps are kept in.
TIME_BASE = Fraction(1, 90_000)
#: UDP payload: 7 MPEG-TS packets of 188 bytes (fits an Ethernet MTU).
UDP_PACKET = 1316
#: Per-frame samples kept (send latencies per output; the live app's stage times and
#: latencies): the most recent, so that hours do not grow (about 5 minutes at 30 fps).
KEEP_SAMPLES = 10_000


def _i420(rgb: np.ndarray) -> np.ndarray:
    import cv2

    from arfx.recorder import pad_even

    return cv2.cvtColor(pad_even(rgb), cv2.COLOR_RGB2YUV_I420)


class LiveOutput:
    """A container written from a background thread, fed latest-frame-wins.

    Subclasses open `self.container` and `self.stream` in `_open()` (on the caller's thread,
    so a bad URL or a missing device fails at once with one line) and may override `_frame`.
    """

    name = "output"

    def __init__(self, width: int, height: int, fps: float = 30.0, keep_all: bool = False) -> None:
        from arfx.recorder import even_size

        self.source_size = (int(width), int(height))
        self.width, self.height = even_size(int(width), int(height))
        self.fps = float(fps or 30.0)
        self.frames_sent = 0
        #: Seconds from capture (or write()) to the frame's packets leaving the muxer, per frame
        #: (the last KEEP_SAMPLES).
        self.send_latencies: list[float] = []
        self.container: Any = None
        self.stream: Any = None
        # keep_all: write() waits for the encoder instead (an offline render sends every frame).
        self._slot = LatestFrameSlot(keep_all=keep_all)
        self._error: BaseException | None = None
        self._index = 0
        self._t0: float | None = None
        self._last_pts = -1
        self._closed = False
        self._open()
        self._thread = threading.Thread(target=self._run, name=f"arfx-{self.name.split(':')[0]}", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        raise NotImplementedError

    @property
    def dropped(self) -> int:
        """Frames replaced before the encoder took them (it could not keep up)."""
        return self._slot.dropped

    def write(self, rgb: np.ndarray, timestamp: float | None = None, captured: float | None = None) -> None:
        """Hand on one RGB frame (never blocks, unless keep_all: then it waits while the encoder
        is busy with the previous one); `timestamp` in seconds, else the arrival time;
        `captured`: time.monotonic() when its source captured it (latency is measured from it)."""
        if self._error is not None:
            raise OutputError(f"{self.name}: sending failed ({reason(self._error)})")
        if self._closed:
            raise OutputError(f"{self.name}: already closed")
        if (rgb.shape[1], rgb.shape[0]) != self.source_size:
            raise OutputError(f"{self.name}: frame is {rgb.shape[1]}x{rgb.shape[0]}, "
                              f"output is {self.source_size[0]}x{self.source_size[1]}")
        now = time.monotonic()
        if timestamp is None:
            if self._t0 is None:
                self._t0 = now
            timestamp = now - self._t0
        self._slot.put(Frame(rgb, self._index, float(timestamp), captured=now if captured is None else captured))
        self._index += 1

    def _frame(self, rgb: np.ndarray) -> Any:
        import av

        return av.VideoFrame.from_ndarray(_i420(rgb), format="yuv420p")

    def _run(self) -> None:
        first: float | None = None
        while True:
            item = self._slot.take()
            if item is None:
                break
            if self._error is not None:
                continue
            try:
                if first is None:
                    first = item.timestamp
                frame = self._frame(item.rgb)
                pts = max(int(round((item.timestamp - first) / TIME_BASE)), self._last_pts + 1)
                self._last_pts = frame.pts = pts
                frame.time_base = TIME_BASE
                for packet in self.stream.encode(frame):
                    self.container.mux(packet)
                self.frames_sent += 1
                self.send_latencies.append(time.monotonic() - item.captured)
                if len(self.send_latencies) > 2 * KEEP_SAMPLES:  # trimmed now and then, not per frame
                    del self.send_latencies[:-KEEP_SAMPLES]
            except Exception as error:  # reported by write() and close()
                log.debug("%s failed", self.name, exc_info=True)
                self._error = error

    def _close_quietly(self) -> None:
        try:
            self.container.close()
        except Exception:
            log.debug("closing %s failed", self.name, exc_info=True)

    def close(self) -> None:
        """Send what is queued, end the stream and release it; OutputError if sending failed."""
        if self._closed:
            return
        self._closed = True
        self._slot.end("closed")
        self._thread.join(10)
        try:
            if self._error is None and self.frames_sent:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
        except Exception as error:
            self._error = self._error or error
        finally:
            try:
                self.container.close()
            except Exception as error:
                self._error = self._error or error
        if self._error is not None:
            raise OutputError(f"{self.name}: sending failed ({reason(self._error)})")
        log.debug("%s: sent %d frames", self.name, self.frames_sent)


def local_udp_url() -> str:
    """udp://127.0.0.1:PORT on a port free now: a stream nobody needs to receive (UDP sends
    without a listener), for measurements and tests."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"udp://127.0.0.1:{probe.getsockname()[1]}"


def is_stream_url(text: str | os.PathLike[str]) -> bool:
    """Whether an output names a stream (SCHEME://...) rather than a file."""
    return isinstance(text, str) and "://" in text


class PacedStream:
    """A stream fed by an offline render (arfx.offline): every frame is sent (the render waits
    for the encoder), each no earlier than its time in the clip, so receivers get it at the
    pace it plays at (a faster burst would overrun their buffers); `write`/`close`/`abort` as
    arfx.recorder.Recorder's."""

    def __init__(self, url: str, width: int, height: int, fps: float = 30.0) -> None:
        self.output = StreamOutput(url, width, height, fps=fps, keep_all=True)
        self.fps = self.output.fps
        self.encode_times: list[float] = []  # the encoder's time is not measured per frame here
        self._clock = PlaybackClock()
        self._count = 0

    def write(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
        if timestamp is None:
            timestamp = self._count / self.fps
        if not self._clock.started:
            self._clock.start(timestamp)
        delay = self._clock.delay(timestamp)
        if delay > 0:
            time.sleep(delay)
        else:
            self._clock.fall_behind(-delay)  # the render fell behind: play on from here
        self.output.write(rgb, timestamp=timestamp)
        self._count += 1

    def close(self) -> None:
        self.output.close()

    def abort(self) -> None:
        """End the stream after a failed render (what was sent stays sent)."""
        try:
            self.output.close()
        except OutputError as error:
            log.debug("%s", error)


def check_stream_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a stream URL arfx can send to; OutputError naming the fix otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES:
        shown = f"{scheme}://" if scheme else "a URL without a protocol"
        raise OutputError(f"{url}: arfx cannot stream to {shown} (PyAV's FFmpeg streams MPEG-TS "
                          f"over udp:// or tcp://); use udp://HOST:PORT or tcp://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or not port:
        raise OutputError(f"{url}: give a host and port, e.g. {scheme}://127.0.0.1:5000")
    return scheme, parts.hostname, port


class StreamOutput(LiveOutput):
    """MPEG-TS with low-latency H.264 to udp://HOST:PORT or tcp://HOST:PORT.

    UDP needs no receiver to start (ffplay udp://127.0.0.1:5000, VLC, OBS Media Source with
    that input). TCP connects to a listening receiver (e.g. ffplay -f mpegts
    "tcp://127.0.0.1:5000?listen"), which must be running first.
    """

    def __init__(self, url: str, width: int, height: int, fps: float = 30.0,
                 crf: int = 23, keyframe_s: float = 1.0, keep_all: bool = False) -> None:
        self.url = url
        self.scheme, self.host, self.port = check_stream_url(url)
        self.name = url
        self.crf = crf
        self.keyframe_s = keyframe_s
        super().__init__(width, height, fps, keep_all=keep_all)

    def _open(self) -> None:
        import av

        target = self.url
        if self.scheme == "udp" and "pkt_size" not in target:
            target += ("&" if "?" in target else "?") + f"pkt_size={UDP_PACKET}"
        try:
            self.container = av.open(target, "w", format="mpegts")
        except (av.FFmpegError, OSError) as error:
            raise OutputError(f"{self.url}: cannot open the stream ({reason(error)})") from None
        try:
            rate = Fraction(self.fps).limit_denominator(1001)
            stream = self.container.add_stream("libx264", rate=rate)
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = "yuv420p"
            gop = max(1, int(round(self.fps * self.keyframe_s)))
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": str(self.crf),
                              "g": str(gop), "bf": "0"}
            stream.codec_context.time_base = TIME_BASE
            stream.time_base = TIME_BASE
            self.stream = stream
            self.container.start_encoding()  # connects now (TCP), so a missing receiver fails here
        except (av.FFmpegError, OSError) as error:
            self._close_quietly()
            hint = ("; start the receiver first, e.g. ffplay -f mpegts "
                    f"\"tcp://{self.host}:{self.port}?listen\"") if self.scheme == "tcp" else ""
            raise OutputError(f"{self.url}: cannot open the stream ({reason(error)}){hint}") from None
        except BaseException:
            self._close_quietly()
            raise
        log.info("streaming MPEG-TS H.264 %dx%d to %s", self.width, self.height, self.url)
