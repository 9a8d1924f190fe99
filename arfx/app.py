"""The live loop: a window showing the effect on a camera or file, with keys and recording.

Threads: a capture thread fills a one-slot buffer (latest frame wins for cameras; a file
being recorded, or played with `no_drop`, waits for the app instead, so every frame is kept);
this thread tracks, renders (it owns the GL context) and shows; the recorder and the live
outputs (network stream, virtual camera) encode in their own threads. Frames the app could
not keep up with are counted and reported (window title, overlay, a warning at the end). A
recording is finalised however the session ends: quit key, window close, Ctrl-C/SIGTERM,
camera loss, end of the input, or interpreter exit. Once finishing has begun, further
Ctrl-C/SIGTERM are ignored (with a note) so an impatient second press cannot cost the file.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np

from arfx.errors import ArfxError, InputError
from arfx.options import RenderOptions
from arfx.pipeline import FramePipeline, StageTimes
from arfx.outputs import write_image
from arfx.recorder import Recorder
from arfx.sources import (CameraSource, Frame, ImageSource, Source, ThreadedFeed, VideoSource,
                          open_source)
from arfx.stream import KEEP_SAMPLES
from arfx.threads import StopSignals

log = logging.getLogger(__name__)

STILL_FPS = 30.0
MAX_WINDOW = (1280, 720)
KEYS_HELP = ("Left/Right/Tab: effect  R: record  S: screenshot  M: mirror  D: debug  "
             "H: help  Esc/Q: quit")


@dataclass
class AppOptions:
    """What `arfx run` was asked to do."""

    effect: str = "glasses"
    camera: int = 0
    size: tuple[int, int] = (1280, 720)
    input: str | None = None
    record: str | None = None
    frames: int | None = None
    mirror: bool | None = None  # None: mirror cameras, not files
    # Hand gestures held a moment act like keys (arfx.triggers): True for the default map, or
    # (gesture -> action, gesture -> seconds to hold).
    gestures: bool | tuple = False
    rerun: Any = None  # an arfx.rerun_log.RerunLogger: every tracked frame is logged to it
    render: RenderOptions = field(default_factory=RenderOptions)  # tracking, encoding (overwrite), effects
    camera_timeout: float = 3.0
    output_dir: Path = field(default_factory=Path.cwd)  # where R and S put their files
    #: Keep every frame of a file input (playback slows to the app's pace); a file being
    #: recorded always does. Cameras always show their latest frame.
    no_drop: bool = False
    stream: str | None = None  # udp:// or tcp:// URL: MPEG-TS H.264 (arfx.stream)
    vcam: str | None = None  # "" = the first v4l2loopback device; else a /dev/videoN (arfx.vcam)
    window: bool = True  # False: no window (needs --stream, --vcam or --record)
    overlay: bool = True  # the on-screen interface drawn in the window (arfx.overlay)
    overlay_in_outputs: bool = False  # recordings, streams and the virtual camera include it too


@dataclass
class SessionResult:
    frames: int
    recordings: list[Path]
    screenshots: list[Path]
    end_reason: str
    interrupted: bool = False
    #: Set when the session ended because its source failed (a camera unplugged or stalled).
    source_error: str | None = None
    #: Source frames the app could not keep up with (never shown or recorded).
    dropped: int = 0
    #: Frames the source delivered (shown + dropped).
    delivered: int = 0
    #: Seconds from capture to display, per shown frame of a live source (empty for files;
    #: the last stream.KEEP_SAMPLES).
    latencies: list[float] = field(default_factory=list)
    #: Seconds from capture to the frame leaving each live output (stream, virtual camera;
    #: the last KEEP_SAMPLES of each).
    send_latencies: list[float] = field(default_factory=list)


def _repeat_still(rgb: np.ndarray, fov: float | None = None) -> Iterator[Frame]:
    """A still image as an endless 30 fps stream (so recording and timing behave as with video),
    carrying the photo's field of view from its metadata."""
    index = 0
    while True:
        yield Frame(rgb, index, index / STILL_FPS, fov=fov)
        index += 1


def _stamp(prefix: str, suffix: str, folder: Path) -> Path:
    base = time.strftime(f"{prefix}-%Y%m%d-%H%M%S")
    path = folder / f"{base}{suffix}"
    n = 1
    while path.exists():
        path = folder / f"{base}-{n}{suffix}"
        n += 1
    return path


def _fit(frame_size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest viewport of the frame's aspect centred in box (letterbox/pillarbox)."""
    fw, fh = frame_size
    bw, bh = box
    scale = min(bw / fw, bh / fh)
    w, h = max(1, int(round(fw * scale))), max(1, int(round(fh * scale)))
    return (bw - w) // 2, (bh - h) // 2, w, h


class LiveApp:
    """One live session. Build it, call run(); run() always finalises a recording.

    run() is: _start (effects, source, signals, window or headless context, outputs), then
    _step until it says stop (_handle_actions, _next_frame, _show), then _teardown.
    """

    def __init__(self, options: AppOptions, source: Source | None = None) -> None:
        self.options = options
        self._source = source
        self._stop = threading.Event()
        self._stop_reason = "quit"
        self._interrupted = False
        self._source_error: str | None = None
        self.recorder: Recorder | None = None
        self.recordings: list[Path] = []
        self.screenshots: list[Path] = []
        self._actions: list[str] = []
        self._finishing_noted = False
        self._insisted = False
        self.times = StageTimes()
        self.debug = False
        self.show_help = False
        #: Set True to keep a copy of each frame as shown in the window (overlay included).
        self.grab_window = False
        self.window_pixels: np.ndarray | None = None
        self.latencies: list[float] = []
        self.send_latencies: list[float] = []
        #: Called with the app after each frame is shown (soak and bench scripts watch the
        #: session through it, e.g. switching effects with act()).
        self.after_frame: Callable[["LiveApp"], None] | None = None
        self.outputs: list[Any] = []  # live outputs: arfx.stream.StreamOutput, arfx.vcam.VirtualCamera
        # Set by _start:
        self.feed: ThreadedFeed | None = None
        self.window: Any = None
        self.pipeline: FramePipeline | None = None
        self.overlay: Any = None
        self._overlay_image: Any = None
        self._signals = StopSignals(self._on_signal)  # SIGINT/SIGTERM: stop the loop, finish outputs
        self._pending: Frame | None = None
        self._ending: str | None = None
        self._drops_before = self._delivered_before = 0
        self._recording_since = 0.0
        self._dropped_at_start = 0
        self.frames = 0
        self.end_reason = "quit"

    # -- requests from keys and signals -------------------------------------------------

    def request_stop(self, reason: str = "quit") -> None:
        self._stop_reason = reason
        self._stop.set()

    def act(self, action: str) -> None:
        """Queue a key action (quit, next, previous, record, screenshot, mirror, debug, help)."""
        self._actions.append(action)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self._stop.is_set():
            if self._insisted:  # more presses: finishing is on its way
                self._on_signal_while_finishing(signum, _frame)
                return
            # A second Ctrl-C: the user insists (the loop may be stuck); finishing still
            # happens in `finally`. Only once, so that later presses cannot cut it short.
            self._insisted = True
            raise KeyboardInterrupt
        self._interrupted = True
        self.request_stop(signal.Signals(signum).name)

    def _on_signal_while_finishing(self, signum: int, _frame: Any) -> None:
        # Raising here would abandon the recording half-finalised; finishing takes moments.
        self._interrupted = True
        if not self._finishing_noted and self.recorder is not None:
            self._finishing_noted = True
            log.warning("%s: finishing the recording first; please wait", signal.Signals(signum).name)

    def _on_key(self, window: Any, key: int, scancode: int, action: int, mods: int) -> None:
        import glfw

        if action != glfw.PRESS:
            return
        mapping = {
            glfw.KEY_ESCAPE: "quit", glfw.KEY_Q: "quit", glfw.KEY_RIGHT: "next", glfw.KEY_TAB: "next",
            glfw.KEY_LEFT: "previous", glfw.KEY_R: "record", glfw.KEY_S: "screenshot",
            glfw.KEY_M: "mirror", glfw.KEY_D: "debug", glfw.KEY_H: "help",
        }
        if key == glfw.KEY_TAB and mods & glfw.MOD_SHIFT:
            self.act("previous")
        elif key in mapping:
            self.act(mapping[key])

    # -- recording -----------------------------------------------------------------------

    def start_recording(self, path: Path | None, size: tuple[int, int], fps: float | None) -> None:
        if self.recorder is not None:
            return
        path = path or _stamp("arfx", ".mp4", self.options.output_dir)
        # A video file's sound goes with its pictures (frame times are the file's own clock).
        video = self._source if isinstance(self._source, VideoSource) and self._source.has_audio else None
        self.recorder = Recorder(path, size[0], size[1], fps=fps or 30.0,
                                 overwrite=self.options.render.encode.overwrite,
                                 audio_from=video.path if video is not None else None,
                                 audio_offset=video.start_time if video is not None else 0.0)
        atexit.register(self.recorder.close)
        self._recording_since = time.monotonic()
        self._dropped_at_start = self.dropped
        self._set_keep_all()
        log.info("recording to %s", path)

    def stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self._set_keep_all()
        try:
            recorder.close()
        finally:
            # close() finalises even when interrupted (and then re-raises): count the file.
            atexit.unregister(recorder.close)
            saved = recorder.saved_path
            if saved is not None:
                self.recordings.append(saved)
                log.info("recorded %d frames to %s", recorder.frames_written, saved)
                skipped = self.dropped - self._dropped_at_start
                if skipped:
                    log.warning("the recording %s skipped %d frame(s) the app could not keep up with; "
                                "%s", saved, skipped, _NO_DROP_HINT)

    def _set_keep_all(self) -> None:
        """No-drop for files: always with `no_drop`, and while a recording runs."""
        if self.feed is not None and self._source is not None and self._drops_count:
            keep = self.options.no_drop or self.recorder is not None
            self.feed.slot.keep_all = keep and not self._source.live

    # -- pacing --------------------------------------------------------------------------

    @property
    def _drops_count(self) -> bool:
        """Whether skipped source frames are real losses (a still image repeated is not)."""
        return self._source is not None and not isinstance(self._source, ImageSource)

    @property
    def dropped(self) -> int:
        """Source frames the app could not keep up with since the session started (frames a
        camera delivered while models and the window were being set up are not counted)."""
        if self.feed is None or not self._drops_count:
            return 0
        return self.feed.slot.dropped - self._drops_before

    @property
    def delivered(self) -> int:
        """Source frames delivered since the session started (shown, dropped or waiting)."""
        if self.feed is None or not self._drops_count:
            return self.frames
        return self.feed.slot.delivered - self._delivered_before

    # -- the session ---------------------------------------------------------------------

    def run(self) -> SessionResult:
        self.frames = 0
        self.end_reason = "quit"
        try:
            self._start()
            while self._step():
                pass
        except KeyboardInterrupt:
            self._interrupted = True
            self.end_reason = "interrupted"
        finally:
            self._teardown()
        self._report()
        return SessionResult(self.frames, self.recordings, self.screenshots, self.end_reason,
                             self._interrupted, self._source_error, self.dropped, self.delivered,
                             list(self.latencies), list(self.send_latencies))

    def _open_source(self) -> tuple[Source, ThreadedFeed, bool]:
        source = self._source
        opts = self.options
        if source is None:
            source = CameraSource(opts.camera, opts.size, timeout=opts.camera_timeout) \
                if opts.input is None else open_source(opts.input)
        if isinstance(source, CameraSource):
            if opts.no_drop:
                log.info("no-drop: a camera always shows its latest frame")
            feed = source.feed()
        elif isinstance(source, ImageSource):
            feed = ThreadedFeed(_repeat_still(source.rgb, getattr(source, "fov", None)), paced=True, wait_for_clock=True).start()
        else:
            # Playback starts when the window is ready (run() starts the clock), so the
            # seconds spent loading models and shaders skip no frames of a file.
            feed = ThreadedFeed(source, paced=True, wait_for_clock=True,
                                stall_timeout=opts.camera_timeout if source.live else None,
                                keep_all=opts.no_drop and not source.live).start()
        mirror = source.live if opts.mirror is None else opts.mirror
        self._source = source
        return source, feed, mirror

    def _start(self) -> None:
        """Outputs checked, effects, source and signals, the first frame, then the window (or a
        headless context), the pipeline, the outputs and the recording; the clock starts last."""
        self._check_outputs()
        self._load_effects()
        source, self.feed, self.mirror = self._open_source()
        self._signals.install()
        first = self._first_frame(source)
        self._pending = first
        self.frame_size = (first.rgb.shape[1], first.rgb.shape[0])
        self.fps_source = getattr(source, "fps", None)
        opts = self.options
        if opts.window:
            self._open_window()
        self.pipeline = FramePipeline(None, self._render_options(),
                                      ctx=self.window.ctx if self.window else None)
        self.pipeline.times = self.times  # one set of stage timings for the title and --verbose
        self._open_outputs()
        if opts.record:
            self.start_recording(Path(opts.record), self.frame_size, self.fps_source)
        else:
            self._set_keep_all()
        if opts.window:
            log.info("keys: %s", KEYS_HELP)
        if source.live:  # what a camera delivered during set-up was no live frame to keep up with
            delivered, self._drops_before, pending = self.feed.slot.counts()
            # The first frame is shown; one waiting in the slot is still to be shown or dropped.
            self._delivered_before = delivered - 1 - int(pending)
        self.feed.start_clock()
        self._t_title = self._t_frame = time.monotonic()
        self._t_loop = time.perf_counter()
        self._loop_times = []

    def _check_outputs(self) -> None:
        """Outputs that cannot work fail now, before models load (they open once the frame size is known)."""
        opts = self.options
        if not opts.window and not (opts.stream or opts.vcam is not None or opts.record):
            raise ArfxError("no window and nothing to send frames to: add --stream URL, --vcam or --record FILE")
        if opts.stream:
            from arfx.stream import check_stream_url

            check_stream_url(opts.stream)
        if opts.vcam is not None:
            from arfx.vcam import find_device

            find_device(opts.vcam or None)

    def _load_effects(self) -> None:
        from arfx.effects.debug import LandmarksEffect
        from arfx.effects.registry import STACK_SEPARATOR, EffectRegistry

        effect = self.options.effect
        self.registry = registry = EffectRegistry(self.options.render.effects_dirs)
        names = [name for name, info in registry.effects().items() if info.ok]
        stacked = STACK_SEPARATOR in effect  # e.g. facepaint+glasses: loaded as one stack
        self.current = effect if stacked else registry.info(effect).name
        self.effects: dict[str, Any] = {self.current: registry.load(self.current)}
        if self.current not in names:
            names.append(self.current)
        self.effect_names = sorted(names)
        self.debug_effect = LandmarksEffect(name="debug")

    def _first_frame(self, source: Source) -> Frame:
        # A file's first frame may take a while to decode; a camera gets its own timeout.
        timeout = self.options.camera_timeout
        first = self.feed.slot.take(timeout=timeout if source.live else max(timeout, 5.0))
        if first is None:
            if self.feed.error is not None:
                raise self.feed.error
            raise InputError(f"{source.name}: opened but delivered no frames")
        return first

    def _render_options(self) -> RenderOptions:
        """The run's render options: gestures need hands tracked; the body pose runs on every
        other frame (predicted between) so the window stays responsive."""
        from dataclasses import replace

        ropts = self.options.render
        if ropts.tracking.pose_every == 1:
            ropts = replace(ropts, tracking=replace(ropts.tracking, pose_every=2))
        self.gesture = ""
        if self.options.gestures:
            from dataclasses import replace

            from arfx.triggers import HeldTrigger

            ropts = replace(ropts, tracking=replace(ropts.tracking, hands=True))
            gestures = self.options.gestures
            self.trigger = (HeldTrigger(actions=gestures[0], holds={**gestures[1]})
                            if isinstance(gestures, tuple) else HeldTrigger())
            log.info("gestures: %s", ", ".join(f"{g} = {a}" for g, a in self.trigger.actions.items()))
        return ropts

    def _open_window(self) -> None:
        from arfx.render.context import create_window
        import glfw

        w, h = self.frame_size
        scale = min(1.0, MAX_WINDOW[0] / w, MAX_WINDOW[1] / h)
        self.window = create_window(max(64, int(w * scale)), max(64, int(h * scale)),
                                    title=f"arfx - {self.current}", vsync=False)
        glfw.set_key_callback(self.window.handle, self._on_key)
        if self.options.overlay:
            from arfx.overlay import Overlay

            self.overlay = Overlay(self.window.ctx)

    def _open_outputs(self) -> None:
        opts = self.options
        fps = self.fps_source or STILL_FPS
        if opts.stream:
            from arfx.stream import StreamOutput

            self.outputs.append(StreamOutput(opts.stream, *self.frame_size, fps=fps))
        if opts.vcam is not None:
            from arfx.vcam import VirtualCamera

            self.outputs.append(VirtualCamera(opts.vcam or None, *self.frame_size, fps=fps))

    def _step(self) -> bool:
        """One turn of the loop; False when the session ends (self.end_reason says why)."""
        if not self._handle_actions():
            return False
        frame = self._next_frame()
        if frame is None:
            if self._ending is not None:
                self.end_reason = self._ending
                return False
            return True
        self._show(frame)
        self.frames += 1
        if self.after_frame is not None:
            self.after_frame(self)
        if self.options.frames is not None and self.frames >= self.options.frames:
            self.end_reason = f"{self.frames} frames done"
            return False
        self._update_title()
        return True

    def _handle_actions(self) -> bool:
        """Window events and queued actions (keys, gestures, tests); False to end the session."""
        if self._stop.is_set():
            self.end_reason = self._stop_reason
            return False
        if self.window is not None:
            self.window.poll()
            if self.window.should_close():
                self.end_reason = "window closed"
                return False
        actions, self._actions = self._actions, [a for a in self._actions if a == "_shot"]
        for action in actions:
            if action == "quit":
                self.request_stop("quit")
            elif action in ("next", "previous"):
                self._switch_effect(1 if action == "next" else -1)
            elif action == "record":
                try:
                    if self.recorder is None:
                        self.start_recording(None, self.frame_size, self.fps_source)
                    else:
                        self.stop_recording()
                except ArfxError as error:  # e.g. the output folder is gone or read-only
                    log.warning("recording: %s", error)
            elif action == "screenshot":
                self._actions.append("_shot")
            elif action == "mirror":
                self.mirror = not self.mirror
            elif action == "debug":
                self.debug = not self.debug
            elif action == "help":
                self.show_help = not self.show_help
        if self._stop.is_set():
            self.end_reason = self._stop_reason
            return False
        return True

    def _switch_effect(self, step: int) -> None:
        i = self.effect_names.index(self.current)
        self.current = self.effect_names[(i + step) % len(self.effect_names)]
        if self.current not in self.effects:
            try:
                self.effects[self.current] = self.registry.load(self.current)
            except ArfxError as error:
                log.warning("%s", error)
                self.effects[self.current] = None
        if self.overlay is not None:
            self.overlay.announce(self.current)
        log.info("effect: %s", self.current)

    def _next_frame(self) -> Frame | None:
        """The next frame to show, or None (none yet, or the source ended: see _ending)."""
        frame, self._pending = self._pending, None
        if frame is None:
            frame = self.feed.slot.take(timeout=0.02)
        if frame is None:
            source = self._source
            if self.feed.ended:
                self._ending = self._feed_end(self.feed, source)
            elif source.live and time.monotonic() - self._t_frame > self.options.camera_timeout:
                self._ending = f"{source.name}: no frame for {self.options.camera_timeout:g} s"
                self._source_error = self._ending
                log.warning("%s; ending the session", self._ending)
            return None
        self._t_frame = time.monotonic()
        if (frame.rgb.shape[1], frame.rgb.shape[0]) != self.frame_size:
            log.warning("%s: frame size changed; skipping frame", self._source.name)
            return None
        return frame

    def _show(self, frame: Frame) -> None:
        """Track, render, show, and hand the picture to the recording and outputs."""
        if frame.captured is not None:  # how long the frame waited for the loop
            self.times.add("wait", time.monotonic() - frame.captured)
        pipeline = self.pipeline
        renderer = pipeline.renderer
        effect = self.effects.get(self.current)
        if self.debug:  # the D overlay: landmarks drawn over the effect
            effect = [effect, self.debug_effect] if effect is not None else self.debug_effect
        pipeline.effect = effect  # analyse() starts the trackers it needs (hands, pose, person mask)
        result = pipeline.analyse(frame)  # adds track and geometry times
        if self.options.rerun is not None:
            self.options.rerun.log(frame.rgb, result)
        if self.options.gestures:
            gestures = {h.gesture for h in result.hands}
            self.gesture = next((g for g in sorted(gestures) if g in self.trigger.actions), "")
            for action in self.trigger.update(gestures, frame.timestamp):
                log.info("gesture: %s", action)
                self.act(action)
        t0 = time.perf_counter()
        shot = "_shot" in self._actions
        # Rendered offscreen even when only shown: on llvmpipe drawing the effect straight into
        # the window's framebuffer cost 3-4x more (live glasses at 720p under Xvfb: 5-6 fps
        # against 12-22 fps this way, same run) than drawing offscreen and showing the picture.
        # The pixels come back to the CPU only for what needs them (the window shows the
        # picture from the GPU).
        pixels = bool(self.recorder is not None or shot or self.outputs or self.window is None
                      or self.options.overlay_in_outputs)
        out = renderer.render(frame.rgb, result, effect, mirror=self.mirror, readback=pixels)
        if out is not None and self.options.overlay_in_outputs:
            out = self._overlay_outputs(out)
        if self.recorder is not None:
            self.recorder.write(out, timestamp=frame.timestamp)
        if self.outputs:
            # Streams and virtual cameras send what a camera sends, unmirrored (call apps
            # mirror the self-view themselves); the window and recordings show the mirror.
            sent = cv2.flip(out, 1) if self.mirror else out
            for output in self.outputs:
                output.write(sent, timestamp=frame.timestamp, captured=frame.captured)
        if shot:
            self._actions.remove("_shot")
            self._save_screenshot(out)
        if self.window is not None:
            self._draw_window(out)
        t1 = time.perf_counter()
        self.times.add("render", t1 - t0)
        if self.window is not None:
            self.window.swap()
            self.times.add("swap", time.perf_counter() - t1)
        if frame.captured is not None:
            self.latencies.append(time.monotonic() - frame.captured)
        now = time.perf_counter()
        self._loop_times.append(now - self._t_loop)
        self._t_loop = now

    def _draw_window(self, out: np.ndarray | None) -> None:
        """The rendered picture fitted into the window, the interface over it; `out`: the
        picture with the interface blended in on the CPU (overlay_in_outputs), else None."""
        window = self.window
        renderer = self.pipeline.renderer
        box = window.framebuffer_size()
        viewport = _fit(self.frame_size, box)
        screen = window.ctx.screen
        screen.use()
        screen.viewport = (0, 0, *box)
        if viewport != (0, 0, *box):
            # Only the bars around the picture: a full-window clear costs about as much as
            # drawing the picture on llvmpipe, and the picture covers every pixel it would.
            screen.clear(0.0, 0.0, 0.0, 1.0)
        if self.options.overlay_in_outputs:
            renderer.draw(out, [], None, screen, viewport=viewport)
        else:
            renderer.show(screen, viewport)
        if self.overlay is not None and not self.options.overlay_in_outputs:
            self.overlay.draw(screen, viewport, self._status())
        if self.grab_window:
            with window.ctx:
                screen.use()
                data = screen.read(viewport=(0, 0, *box), components=3, alignment=1)
            self.window_pixels = np.frombuffer(data, np.uint8).reshape(box[1], box[0], 3)[::-1].copy()

    def _overlay_outputs(self, out: np.ndarray) -> np.ndarray:
        """The interface blended into the picture that is recorded and sent (and then shown)."""
        from arfx.overlay import OverlayImage

        if self._overlay_image is None:
            self._overlay_image = OverlayImage()
        announce = self.overlay.announcing if self.overlay is not None else None
        return self._overlay_image.apply(out, self._status(), announce)

    def _status(self) -> dict[str, Any]:
        """What the on-screen interface shows."""
        fps = (len(self._loop_times) / max(1e-6, sum(self._loop_times))) if self._loop_times else 0.0
        status: dict[str, Any] = {"effect": self.current, "fps": fps, "dropped": self.dropped,
                                  "help": KEYS_HELP if self.show_help else None,
                                  "gesture": self.gesture or None}
        if self.recorder is not None:
            status["recording"] = time.monotonic() - self._recording_since
        if self.latencies:
            status["latency_ms"] = 1000.0 * float(np.median(self.latencies[-30:]))
        if self.debug:
            ms = self.times.median_ms()
            status["stages"] = {k: ms[k] for k in ("track", "hands", "geometry", "render", "swap")
                                if k in ms and ms[k] == ms[k]}  # nan: no samples
        return status

    def _save_screenshot(self, out: np.ndarray) -> None:
        try:
            shot = write_image(_stamp("arfx", ".png", self.options.output_dir), out)
        except ArfxError as error:
            log.warning("screenshot not saved: %s", error)
        else:
            self.screenshots.append(shot)
            log.info("screenshot saved to %s", shot)

    def _update_title(self) -> None:
        if time.monotonic() - self._t_title <= 0.5:
            return
        self._t_title = self._t_frame = time.monotonic()
        if self.window is not None:
            import glfw

            glfw.set_window_title(self.window.handle, self._title(self.current, self._loop_times))
        self._loop_times = self._loop_times[-30:]
        for samples in (self.latencies, *self.times.samples.values()):
            del samples[:-KEEP_SAMPLES]

    def _teardown(self) -> None:
        """Stop the feed, finish the recording and outputs, release GL, window, source, signals."""
        self._signals.handler = self._on_signal_while_finishing
        try:
            try:
                if self.feed is not None:
                    self.feed.stop()
            finally:
                try:
                    self.stop_recording()
                finally:
                    self._close_outputs()
        finally:
            try:
                if self.overlay is not None:
                    self.overlay.release()
                if self.pipeline is not None:
                    self.pipeline.close()  # the window's context is not the pipeline's to release
                if self.window is not None:
                    self.window.close()
                if self._source is not None:
                    self._source.close()
            finally:
                self._signals.restore()

    def _close_outputs(self) -> None:
        outputs, self.outputs = self.outputs, []
        for output in outputs:
            try:
                output.close()
            except ArfxError as error:
                log.warning("%s", error)
            log.info("%s: sent %d frames", output.name, output.frames_sent)
            self.send_latencies.extend(output.send_latencies)
            if output.dropped:
                log.warning("%s: %d frame(s) skipped (its encoder could not keep up)",
                            output.name, output.dropped)

    def _report(self) -> None:
        dropped = self.dropped
        if dropped and self.feed is not None:
            log.warning("%d of %d frames from %s were dropped (the app could not keep up); %s",
                        dropped, self.delivered, self._source.name, _NO_DROP_HINT)
        if self.latencies:
            ms = np.asarray(self.latencies) * 1000.0
            log.info("capture to display: p50 %.1f ms, p95 %.1f ms over %d frames",
                     float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), len(ms))

    def _feed_end(self, feed: ThreadedFeed, source: Source) -> str:
        error = feed.error
        if error is not None and not isinstance(error, ArfxError):
            raise error
        if error is not None:
            log.warning("%s", error)
            self._source_error = str(error)
            return str(error)
        reason = feed.end_reason or "end of input"
        if source.live:  # a camera has no end: whatever ended it was a failure
            self._source_error = getattr(source, "end_reason", None) or reason
        return reason

    def _title(self, effect: str, loop_times: Sequence[float]) -> str:
        title = f"arfx - {effect}"
        if self.recorder is not None:
            title += f"  [REC {_clock(time.monotonic() - self._recording_since)}]"
        if self.dropped:
            title += f"  dropped {self.dropped}"
        if self.debug and loop_times:
            fps = len(loop_times) / max(1e-6, sum(loop_times))
            ms = self.times.median_ms()
            title += (f"  {fps:.0f} fps  track {ms['track']:.1f} ms  geometry {ms['geometry']:.1f} ms"
                      f"  render {ms['render']:.1f} ms")
            # Keep the medians about recent frames.
            for values in self.times.samples.values():
                del values[:-60]
        return title


_NO_DROP_HINT = ("--no-drop keeps every frame of a file (playback slows down); "
                 "`arfx render` renders a file offline with every frame")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def run_app(options: AppOptions, source: Source | None = None) -> SessionResult:
    return LiveApp(options, source).run()
