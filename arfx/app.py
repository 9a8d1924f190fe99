"""The live loop: a window showing the effect on a camera or file, with keys and recording.

Threads: a capture thread fills a one-slot buffer (latest frame wins); this thread tracks,
renders (it owns the GL context) and shows; the recorder encodes in its own thread. A
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
from typing import Any, Iterator, Sequence

import numpy as np

from arfx.errors import ArfxError, InputError
from arfx.options import RenderOptions
from arfx.pipeline import FramePipeline, StageTimes
from arfx.outputs import write_image
from arfx.recorder import Recorder
from arfx.sources import (CameraSource, Frame, ImageSource, Source, ThreadedFeed, VideoSource,
                          open_source)

log = logging.getLogger(__name__)

STILL_FPS = 30.0
MAX_WINDOW = (1280, 720)
KEYS_HELP = ("Left/Right/Tab: effect  R: record  S: screenshot  M: mirror  D: debug  "
             "Esc/Q: quit")


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
    gestures: bool = False  # hand gestures held ~0.6 s act like keys (arfx.triggers)
    render: RenderOptions = field(default_factory=RenderOptions)  # tracking, encoding (overwrite), effects
    camera_timeout: float = 3.0
    output_dir: Path = field(default_factory=Path.cwd)  # where R and S put their files


@dataclass
class SessionResult:
    frames: int
    recordings: list[Path]
    screenshots: list[Path]
    end_reason: str
    interrupted: bool = False
    #: Set when the session ended because its source failed (a camera unplugged or stalled).
    source_error: str | None = None


def _repeat_still(rgb: np.ndarray) -> Iterator[Frame]:
    """A still image as an endless 30 fps stream (so recording and timing behave as with video)."""
    index = 0
    while True:
        yield Frame(rgb, index, index / STILL_FPS)
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
    """One live session. Build it, call run(); run() always finalises a recording."""

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

    # -- requests from keys and signals -------------------------------------------------

    def request_stop(self, reason: str = "quit") -> None:
        self._stop_reason = reason
        self._stop.set()

    def act(self, action: str) -> None:
        """Queue a key action (quit, next, previous, record, screenshot, mirror, debug)."""
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
            glfw.KEY_M: "mirror", glfw.KEY_D: "debug",
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
        log.info("recording to %s", path)

    def stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        try:
            recorder.close()
        finally:
            # close() finalises even when interrupted (and then re-raises): count the file.
            atexit.unregister(recorder.close)
            saved = recorder.saved_path
            if saved is not None:
                self.recordings.append(saved)
                log.info("recorded %d frames to %s", recorder.frames_written, saved)

    # -- the loop ------------------------------------------------------------------------

    def _open_source(self) -> tuple[Source, ThreadedFeed, bool]:
        source = self._source
        opts = self.options
        if source is None:
            source = CameraSource(opts.camera, opts.size, timeout=opts.camera_timeout) \
                if opts.input is None else open_source(opts.input)
        if isinstance(source, CameraSource):
            feed = source.feed()
        elif isinstance(source, ImageSource):
            feed = ThreadedFeed(_repeat_still(source.rgb), paced=True, wait_for_clock=True).start()
        else:
            # Playback starts when the window is ready (run() starts the clock), so the
            # seconds spent loading models and shaders skip no frames of a file.
            feed = ThreadedFeed(source, paced=True, wait_for_clock=True,
                                stall_timeout=opts.camera_timeout if source.live else None).start()
        mirror = source.live if opts.mirror is None else opts.mirror
        self._source = source
        return source, feed, mirror

    def run(self) -> SessionResult:
        from arfx.effects.registry import STACK_SEPARATOR, EffectRegistry
        from arfx.effects.debug import LandmarksEffect
        from arfx.render.context import create_window
        import glfw

        opts = self.options
        ropts = opts.render
        registry = EffectRegistry(ropts.effects_dirs)
        effect_names = [name for name, info in registry.effects().items() if info.ok]
        stacked = STACK_SEPARATOR in opts.effect  # e.g. facepaint+glasses: loaded as one stack
        current = opts.effect if stacked else registry.info(opts.effect).name
        effects: dict[str, Any] = {current: registry.load(current)}
        if current not in effect_names:
            effect_names.append(current)
        effect_names.sort()

        source, feed, mirror = self._open_source()
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        window = pipeline = None
        frames = 0
        end_reason = "quit"
        try:
            # A file's first frame may take a while to decode; a camera gets its own timeout.
            first = feed.slot.take(timeout=opts.camera_timeout if source.live
                                   else max(opts.camera_timeout, 5.0))
            if first is None:
                if feed.error is not None:
                    raise feed.error
                raise InputError(f"{source.name}: opened but delivered no frames")
            frame_size = (first.rgb.shape[1], first.rgb.shape[0])
            scale = min(1.0, MAX_WINDOW[0] / frame_size[0], MAX_WINDOW[1] / frame_size[1])
            window = create_window(max(64, int(frame_size[0] * scale)), max(64, int(frame_size[1] * scale)),
                                   title=f"arfx - {current}", vsync=False)
            glfw.set_key_callback(window.handle, self._on_key)
            if opts.gestures:
                from dataclasses import replace

                from arfx.triggers import HeldTrigger

                ropts = replace(ropts, tracking=replace(ropts.tracking, hands=True))
                trigger = HeldTrigger()
                log.info("gestures: %s", ", ".join(f"{g} = {a}" for g, a in trigger.actions.items()))
            pipeline = FramePipeline(None, ropts, ctx=window.ctx)
            pipeline.times = self.times  # one set of stage timings for the title and --verbose
            renderer = pipeline.renderer
            overlay = LandmarksEffect(name="debug")
            fps_source = getattr(source, "fps", None)
            if opts.record:
                self.start_recording(Path(opts.record), frame_size, fps_source)
            log.info("keys: %s", KEYS_HELP)
            feed.start_clock()
            frame: Frame | None = first
            t_title = t_frame = time.monotonic()
            t_loop = time.perf_counter()
            loop_times: list[float] = []
            while True:
                if self._stop.is_set():
                    end_reason = self._stop_reason
                    break
                window.poll()
                if window.should_close():
                    end_reason = "window closed"
                    break
                for action in self._actions:
                    if action == "quit":
                        self.request_stop("quit")
                    elif action in ("next", "previous"):
                        i = effect_names.index(current)
                        current = effect_names[(i + (1 if action == "next" else -1)) % len(effect_names)]
                        if current not in effects:
                            try:
                                effects[current] = registry.load(current)
                            except ArfxError as error:
                                log.warning("%s", error)
                                effects[current] = None
                        log.info("effect: %s", current)
                    elif action == "record":
                        try:
                            if self.recorder is None:
                                self.start_recording(None, frame_size, fps_source)
                            else:
                                self.stop_recording()
                        except ArfxError as error:  # e.g. the output folder is gone or read-only
                            log.warning("recording: %s", error)
                    elif action == "screenshot":
                        self._actions.append("_shot")
                    elif action == "mirror":
                        mirror = not mirror
                    elif action == "debug":
                        self.debug = not self.debug
                self._actions = [a for a in self._actions if a == "_shot"]
                if self._stop.is_set():
                    end_reason = self._stop_reason
                    break
                if frame is None:
                    frame = feed.slot.take(timeout=0.02)
                    if frame is None:
                        if feed.ended:
                            end_reason = self._feed_end(feed, source)
                            break
                        if source.live and time.monotonic() - t_frame > opts.camera_timeout:
                            end_reason = f"{source.name}: no frame for {opts.camera_timeout:g} s"
                            self._source_error = end_reason
                            log.warning("%s; ending the session", end_reason)
                            break
                        continue
                t_frame = time.monotonic()
                if (frame.rgb.shape[1], frame.rgb.shape[0]) != frame_size:
                    log.warning("%s: frame size changed; skipping frame", source.name)
                    frame = None
                    continue

                geometries = pipeline.analyse(frame)  # adds track and geometry times
                if opts.gestures:
                    for action in trigger.update({h.gesture for h in geometries.hands}, frame.timestamp):
                        log.info("gesture: %s", action)
                        self.act(action)
                t2 = time.perf_counter()
                effect = effects.get(current)
                if self.debug:  # the D overlay: landmarks drawn over the effect
                    effect = [effect, overlay] if effect is not None else overlay
                box = window.framebuffer_size()
                viewport = _fit(frame_size, box)
                screen = window.ctx.screen
                need_pixels = self.recorder is not None or "_shot" in self._actions
                if need_pixels:
                    out = renderer.render(frame.rgb, geometries, effect, mirror=mirror)
                    screen.use()
                    screen.viewport = (0, 0, *box)
                    screen.clear(0.0, 0.0, 0.0, 1.0)
                    renderer.draw(out, [], None, screen, viewport=viewport)
                    if self.recorder is not None:
                        self.recorder.write(out, timestamp=frame.timestamp)
                    if "_shot" in self._actions:
                        self._actions.remove("_shot")
                        try:
                            shot = write_image(_stamp("arfx", ".png", opts.output_dir), out)
                        except ArfxError as error:
                            log.warning("screenshot not saved: %s", error)
                        else:
                            self.screenshots.append(shot)
                            log.info("screenshot saved to %s", shot)
                else:
                    screen.use()
                    screen.viewport = (0, 0, *box)
                    screen.clear(0.0, 0.0, 0.0, 1.0)
                    renderer.draw(frame.rgb, geometries, effect, screen, viewport=viewport,
                                  mirror=mirror)
                t3 = time.perf_counter()
                window.swap()
                self.times.add("render", t3 - t2)
                now = time.perf_counter()
                loop_times.append(now - t_loop)
                t_loop = now
                frames += 1
                frame = None
                if opts.frames is not None and frames >= opts.frames:
                    end_reason = f"{frames} frames done"
                    break
                if time.monotonic() - t_title > 0.5:
                    t_title = t_frame = time.monotonic()
                    glfw.set_window_title(window.handle, self._title(current, loop_times))
                    loop_times = loop_times[-30:]
        except KeyboardInterrupt:
            self._interrupted = True
            end_reason = "interrupted"
        finally:
            for sig in handlers:
                signal.signal(sig, self._on_signal_while_finishing)
            try:
                try:
                    feed.stop()
                finally:
                    self.stop_recording()
            finally:
                try:
                    if pipeline is not None:
                        pipeline.close()  # the window's context is not the pipeline's to release
                    if window is not None:
                        window.close()
                    source.close()
                finally:
                    for sig, old in handlers.items():
                        signal.signal(sig, old)
        return SessionResult(frames, self.recordings, self.screenshots, end_reason, self._interrupted,
                             self._source_error)

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
            title += "  [REC]"
        if self.debug and loop_times:
            fps = len(loop_times) / max(1e-6, sum(loop_times))
            ms = self.times.median_ms()
            title += (f"  {fps:.0f} fps  track {ms['track']:.1f} ms  geometry {ms['geometry']:.1f} ms"
                      f"  render {ms['render']:.1f} ms")
            # Keep the medians about recent frames.
            for values in self.times.samples.values():
                del values[:-60]
        return title


def run_app(options: AppOptions, source: Source | None = None) -> SessionResult:
    return LiveApp(options, source).run()
