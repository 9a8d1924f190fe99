"""`arfx bench`: per-stage median times and end-to-end speed of offline rendering, against the
floor (the same clip decoded and encoded with no effect), and the process gauges the soak
scripts watch (memory, live GL objects, threads).

The floor (`run_floor`, scripts/offline_floor.py) is what `arfx render` could at best reach on
this machine: the same threads and encoder settings, decoding to RGB on one thread and
encoding in the recorder's, with no tracking and no rendering between them.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from arfx.errors import InputError
from arfx.offline import render_video
from arfx.options import RenderOptions
from arfx.pipeline import STAGES, FramePipeline
from arfx.sources import VideoSource, open_source

log = logging.getLogger(__name__)


@dataclass
class BenchReport:
    """One benchmark's report: what ran on which machine, per-stage medians and same-run ratios.

    Every measurement arfx reports (`arfx bench`, the scripts in scripts/) fills this one
    structure: `stages` holds median milliseconds per stage, `ratios` dimensionless same-run
    comparisons (against a peer or a physical floor, so noisy shared machines still give
    comparable numbers), `facts` everything else (input, counts, fps).
    """

    machine: dict[str, Any] = field(default_factory=lambda: machine_info())
    stages: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "stages_median_ms": self.stages, "ratios": self.ratios,
                **self.facts}


def machine_info(gl_renderer: str | None = None) -> dict[str, Any]:
    """CPU model and count, Python, ONNX Runtime providers and (when known) the GL renderer."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        import onnxruntime

        info["onnxruntime"] = f"{onnxruntime.__version__} ({', '.join(onnxruntime.get_available_providers())})"
    except ImportError:
        info["onnxruntime"] = "not installed"
    if gl_renderer:
        info["gl_renderer"] = gl_renderer
    return info


def rss_mib() -> float:
    """This process's resident memory in MiB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def live_gl_objects() -> int:
    """moderngl objects created and not yet released, anywhere in the process (a leak count)."""
    import gc

    import moderngl

    kinds = (moderngl.Buffer, moderngl.Texture, moderngl.VertexArray, moderngl.Program,
             moderngl.Framebuffer, moderngl.Renderbuffer, moderngl.Context)
    gc.collect()
    return sum(1 for obj in gc.get_objects()
               if isinstance(obj, kinds) and not isinstance(obj.mglo, moderngl.InvalidObject))


def thread_counts() -> tuple[int, int]:
    """(Python threads, all threads of the process incl. native pools such as ONNX Runtime's)."""
    native = 0
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            native = next((int(line.split()[1]) for line in handle if line.startswith("Threads:")), 0)
    except OSError:
        pass
    return threading.active_count(), native


#: What each thread does, by its Python name (arfx's stages) or kernel name (native threads).
THREAD_KINDS = (("MainThread", "main thread (GL calls, read-back)"), ("arfx-track", "tracking"),
                ("arfx-decode", "decoding (to RGB)"), ("arfx-encoder", "encoding (RGB to YUV, muxing)"),
                ("llvmpipe", "OpenGL rasteriser (llvmpipe)"), ("av:", "FFmpeg decoder threads"))
#: Native threads without such a name: started in the measured block (x264's), or before it.
STARTED_DURING = "other native threads (x264's)"
STARTED_BEFORE = "threads started before (OpenCV, OpenBLAS, ONNX Runtime pools)"


class ThreadCpu:
    """This process's CPU time by what its threads do, over a `with` block (Linux: read from
    /proc/self/task; elsewhere nothing). Threads are sampled while the block runs, since those
    it starts (decoding, tracking, x264's) end with it. Native threads started in the block
    without a name of their own are x264's (the encoder), those from before are idle pools."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.seconds: dict[str, float] = {}
        self._before: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._run, name="arfx-bench-cpu", daemon=True)

    @staticmethod
    def _read() -> dict[int, tuple[str, float]]:
        found = {}
        try:
            ticks = os.sysconf("SC_CLK_TCK")
            tids = os.listdir("/proc/self/task")
        except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no /proc (macOS)
            return found
        for tid in tids:
            try:
                with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as handle:
                    comm = handle.read().strip()
            except (OSError, IndexError):
                continue  # the thread ended
            found[int(tid)] = (comm, (int(fields[11]) + int(fields[12])) / ticks)  # utime + stime
        return found

    def _sample(self) -> None:
        for thread in threading.enumerate():
            if thread.native_id is not None:
                self._names[thread.native_id] = thread.name
        self._last.update(self._read())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "ThreadCpu":
        self._before = {tid: cpu for tid, (_, cpu) in self._read().items()}
        self._sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sampler.join()
        self._sample()
        for tid, (comm, cpu) in self._last.items():
            if tid == self._sampler.native_id:
                continue
            name = self._names.get(tid, comm)
            kind = next((label for prefix, label in THREAD_KINDS if name.startswith(prefix)), None)
            if kind is None:
                kind = STARTED_BEFORE if tid in self._before else STARTED_DURING
            spent = cpu - self._before.get(tid, 0.0)
            if spent > 0:
                self.seconds[kind] = self.seconds.get(kind, 0.0) + spent


@dataclass
class FloorResult:
    frames: int
    seconds: float
    #: This process's CPU time over the run (every thread: decoding, encoding, x264's own).
    cpu_seconds: float = float("nan")
    #: That CPU time by what the threads do (ThreadCpu; empty where /proc is missing).
    thread_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def run_floor(clip: str | os.PathLike[str], output: str | os.PathLike[str], frames: int | None = None,
              preset: str | None = None) -> FloorResult:
    """Decode `clip` to RGB on a prefetch thread and encode it to `output` with the recorder
    (x264 `preset`, default `arfx render`'s), like `arfx render` minus tracking and rendering."""
    from arfx.offline import Prefetch
    from arfx.options import EncodeOptions
    from arfx.pipeline import StageTimes
    from arfx.recorder import Recorder

    with open_source(clip) as source:
        if not isinstance(source, VideoSource):
            raise InputError(f"{clip}: the floor needs a video input")
        width, height = source.size or (0, 0)
        t0, cpu0 = time.perf_counter(), time.process_time()
        with ThreadCpu() as threads:
            recorder = Recorder(output, width, height, fps=source.rate or source.fps or 30.0, overwrite=True,
                                preset=preset or EncodeOptions.preset)
            prefetch = Prefetch(source, StageTimes())
            done = 0
            try:
                for frame in prefetch:
                    if frames is not None and done >= frames:
                        break
                    recorder.write(frame.rgb, timestamp=frame.timestamp)
                    done += 1
                recorder.close()
            except BaseException:
                recorder.abort()
                raise
            finally:
                prefetch.close()
        return FloorResult(done, time.perf_counter() - t0, time.process_time() - cpu0, threads.seconds)


def _add(totals: dict[str, float], seconds: dict[str, float]) -> None:
    for kind, value in seconds.items():
        totals[kind] = totals.get(kind, 0.0) + value


def run_bench(effect: str = "glasses", input: str | None = None, frames: int = 120,
              options: RenderOptions | None = None, size: tuple[int, int] = (1280, 720),
              floor: bool = True, repeats: int = 1) -> BenchReport:
    """Render `frames` frames of `input` (or a generated 720p clip) to a scratch file; report timings.

    Start-up (models loaded, shaders compiled, one warm-up frame drawn) is timed on its own,
    before the render's clock starts. Stage times are medians per frame, measured on the
    thread that runs the stage; stages overlap (decode, tracking and encoding run in their own
    threads), so end-to-end fps is more than 1000 / (sum of stages). With `floor`, the floor
    (`run_floor`: the same clip decoded and encoded, same preset, nothing drawn) runs after
    each render, interleaved `repeats` times; fps are medians and `vs_floor` their ratio.
    Both also report this process's CPU time per frame (all threads): on a machine whose cores
    other jobs hold, fps follow CPU time, and `floor_cpu_vs_render_cpu` is the fps ratio to
    expect there, where `vs_floor` swings from run to run. Without `options`, landmarks are
    smoothed, as `arfx render` does for videos.
    """
    options = options or RenderOptions()
    with tempfile.TemporaryDirectory(prefix="arfx-bench-") as folder:
        if input is None:
            from arfx.demo import write_clip

            clip = write_clip(Path(folder) / "input.mp4", size[0], size[1], count=frames, fps=30)
            described = f"generated {size[0]}x{size[1]} astronaut clip, {frames} frames"
        else:
            clip = Path(input)
            described = str(clip)
        with open_source(clip) as source:
            if not isinstance(source, VideoSource):
                raise InputError(f"{clip}: bench needs a video input")
            width, height = source.size or (0, 0)
            source_fps = float(source.fps or 30.0)
        bench_options = replace(options, max_frames=frames,
                                encode=replace(options.encode, overwrite=True, copy_audio=False))
        pipeline: FramePipeline | None = None
        renders: list[float] = []
        floors: list[float] = []
        render_cpu: list[float] = []  # process CPU seconds per frame
        floor_cpu: list[float] = []
        by_thread: dict[str, dict[str, float]] = {"render": {}, "floor": {}}  # CPU s, all repeats
        counted = {"render": 0, "floor": 0}  # frames behind them
        try:
            t0 = time.perf_counter()
            pipeline = FramePipeline(effect, bench_options)
            with open_source(clip) as warm_source:
                warm = next(iter(warm_source))
            pipeline.process(warm)
            startup = time.perf_counter() - t0
            with pipeline.renderer.ctx:
                gl_renderer = str(pipeline.renderer.ctx.info.get("GL_RENDERER", "?"))
            pipeline.times.samples = {s: [] for s in STAGES}
            for _ in range(max(1, repeats)):
                pipeline.reset_tracking()
                t0, cpu0 = time.perf_counter(), time.process_time()
                with ThreadCpu() as threads:
                    result = render_video(effect, clip, Path(folder) / "output.mp4", bench_options,
                                          pipeline=pipeline)
                renders.append(result.frames / (time.perf_counter() - t0))
                render_cpu.append((time.process_time() - cpu0) / max(result.frames, 1))
                _add(by_thread["render"], threads.seconds)
                counted["render"] += result.frames
                if floor:
                    floored = run_floor(clip, Path(folder) / "floor.mp4", frames, bench_options.encode.preset)
                    floors.append(floored.fps)
                    floor_cpu.append(floored.cpu_seconds / max(floored.frames, 1))
                    _add(by_thread["floor"], floored.thread_seconds)
                    counted["floor"] += floored.frames
        finally:
            if pipeline is not None:
                pipeline.close()
    medians = result.times.median_ms()
    fps = statistics.median(renders)
    stages = {s: round(ms, 3) for s, ms in medians.items() if ms == ms}  # stages that ran
    busiest = max(v for v in stages.values() if v == v)
    ratios = {
        # > 1: renders faster than the input plays.
        "realtime": round(fps / source_fps, 3),
        # 1.0 would mean the threads overlap perfectly: the slowest stage sets the pace.
        "slowest_stage_bound": round(fps * busiest / 1000.0, 3),
    }
    facts: dict[str, Any] = {
        "input": described, "size": [width, height], "effect": effect, "smooth": bench_options.tracking.smooth,
        "frames": result.frames, "frames_with_faces": result.frames_with_faces,
        "end_to_end_fps": round(fps, 2), "seconds": round(result.frames / fps, 3),
        "startup_s": round(startup, 3), "preset": bench_options.encode.preset, "repeats": len(renders),
        "cpu_ms_per_frame": round(statistics.median(render_cpu) * 1000.0, 2),
        # CPU per frame by what the threads do (ThreadCpu), over all repeats: where the render
        # spends what the floor does not.
        "cpu_ms_per_frame_by_thread": {
            run: {kind: round(1000.0 * seconds / max(counted[run], 1), 2)
                  for kind, seconds in sorted(kinds.items(), key=lambda item: -item[1])}
            for run, kinds in by_thread.items() if kinds}}
    if floors:
        floor_fps = statistics.median(floors)
        # The same-run ratios, one per repeat, so a reader sees how steady they were.
        ratios["vs_floor"] = round(fps / floor_fps, 3)
        facts["floor_fps"] = round(floor_fps, 2)
        facts["vs_floor_each"] = [round(r / f, 3) for r, f in zip(renders, floors)]
        facts["floor_cpu_ms_per_frame"] = round(statistics.median(floor_cpu) * 1000.0, 2)
        ratios["floor_cpu_vs_render_cpu"] = round(statistics.median(floor_cpu) / statistics.median(render_cpu), 3)
    return BenchReport(machine=machine_info(gl_renderer), stages=stages, ratios=ratios, facts=facts)


def run_live_bench(effect: str = "glasses", size: tuple[int, int] = (1280, 720), fps: float = 30.0,
                   frames: int = 150, warmup: int = 15, window: bool = True,
                   stream: str | None = "") -> BenchReport:
    """The live app on a synthetic camera (arfx.synthetic) delivering `size` at `fps`: achieved fps,
    frames dropped, capture-to-display and capture-to-stream latency p50/p95, per-stage medians.

    Frames are stamped when captured; one counts as displayed when the window's buffer swap
    returns, as sent when its packets leave the muxer. `stream`: a udp:// or tcp:// URL, ""
    for a free UDP port on 127.0.0.1 (nothing needs to listen), None for no stream. The first
    `warmup` frames are left out of the statistics.
    """
    import numpy as np

    from arfx.app import AppOptions, LiveApp
    from arfx.errors import ArfxError
    from arfx.sources import CameraSource
    from arfx.synthetic import SyntheticCamera

    if window and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise ArfxError("bench --live needs a display for its window: run it under xvfb-run -a, "
                        "or add --no-window")
    if stream == "":
        from arfx.stream import local_udp_url

        stream = local_udp_url()
    if not window and not stream:
        raise ArfxError("bench --live --no-window needs a stream to send to")
    camera = CameraSource(0, device=SyntheticCamera(size[0], size[1], fps), timeout=5.0)
    app = LiveApp(AppOptions(effect=effect, frames=frames + warmup, window=window, stream=stream,
                             mirror=False), source=camera)
    shown: list[float] = []
    app.after_frame = lambda live: shown.append(time.monotonic())
    result = app.run()

    def percentiles(seconds: list[float]) -> dict[str, float] | None:
        ms = np.asarray(seconds[warmup:] or seconds) * 1000.0
        if not len(ms):
            return None
        return {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}

    timed = shown[warmup:]
    achieved = (len(timed) - 1) / (timed[-1] - timed[0]) if len(timed) > 1 else float("nan")
    for samples in app.times.samples.values():
        del samples[:warmup]
    stages = {k: round(v, 2) for k, v in app.times.median_ms().items() if v == v}
    facts: dict[str, Any] = {
        "effect": effect, "size": list(size), "camera_fps": fps, "window": window, "stream": stream,
        "frames": len(timed), "delivered": result.delivered, "dropped": result.dropped,
        "achieved_fps": round(achieved, 1),
        "display_latency_ms": percentiles(result.latencies) if window else None,
        "stream_latency_ms": percentiles(result.send_latencies) if stream else None,
    }
    return BenchReport(machine=machine_info(), stages=stages,
                       ratios={"achieved_vs_camera_fps": round(achieved / fps, 3)}, facts=facts)


def format_live_table(report: BenchReport) -> str:
    facts, machine = report.facts, report.machine
    outputs = " + ".join(x for x in ("window" if facts["window"] else "", "stream" if facts["stream"] else "") if x)
    lines = [f"live: {facts['effect']} on a synthetic {facts['size'][0]}x{facts['size'][1]} camera at "
             f"{facts['camera_fps']:g} fps; {outputs}",
             f"machine: {machine['cpu']}, {machine['cpu_count']} CPUs; ONNX Runtime {machine['onnxruntime']}",
             f"achieved {facts['achieved_fps']:.1f} fps over {facts['frames']} frames; dropped "
             f"{facts['dropped']} of {facts['delivered']} camera frames"]
    for name, key in (("capture to display", "display_latency_ms"), ("capture to stream", "stream_latency_ms")):
        if facts.get(key):
            lines.append(f"{name}: p50 {facts[key]['p50']:.1f} ms, p95 {facts[key]['p95']:.1f} ms")
    lines += ["", f"{'stage (median per frame)':<26} {'ms':>8}"]
    lines += [f"{stage:<26} {ms:>8.2f}" for stage, ms in report.stages.items()]
    return "\n".join(lines)


def add_comparison(report: BenchReport, other: BenchReport) -> None:
    """Put a second effect's run (same input, same machine, just after) into `report`: its stage
    medians as `<effect>/<stage>`, its fps, and its speed as a ratio of the first effect's."""
    name = other.facts["effect"]
    report.stages.update({f"{name}/{stage}": ms for stage, ms in other.stages.items()})
    report.facts[f"{name}/end_to_end_fps"] = other.facts["end_to_end_fps"]
    report.ratios[f"{name}_vs_{report.facts['effect']}_fps"] = round(
        other.facts["end_to_end_fps"] / report.facts["end_to_end_fps"], 3)


def format_table(report: BenchReport) -> str:
    facts, machine = report.facts, report.machine
    lines = [f"input: {facts['input']} ({facts['size'][0]}x{facts['size'][1]})",
             f"effect: {facts['effect']}; {facts['frames']} frames, faces on {facts['frames_with_faces']}"
             f"{'; smoothed' if facts.get('smooth') else ''}",
             f"machine: {machine['cpu']}, {machine['cpu_count']} CPUs; GL {machine.get('gl_renderer', '?')}; "
             f"ONNX Runtime {machine['onnxruntime']}",
             "", f"{'stage':<26} {'median ms':>10}"]
    for stage, ms in report.stages.items():
        lines.append(f"{stage:<26} {ms:>10.2f}")
    lines += ["", f"end to end: {facts['end_to_end_fps']:.1f} fps ({facts['frames']} frames in "
                  f"{facts['seconds']:.2f} s; stages overlap across threads)"]
    if "floor_fps" in facts:
        lines.append(f"floor (decode -> RGB -> encode, {facts['preset']}, nothing drawn): "
                     f"{facts['floor_fps']:.1f} fps; render / floor {report.ratios['vs_floor']:.3f}"
                     + (f" (each run: {', '.join(f'{r:.3f}' for r in facts['vs_floor_each'])})"
                        if facts["repeats"] > 1 else ""))
    if "floor_cpu_ms_per_frame" in facts:
        lines.append(f"process CPU per frame (all threads): render {facts['cpu_ms_per_frame']:.1f} ms, floor "
                     f"{facts['floor_cpu_ms_per_frame']:.1f} ms; floor / render "
                     f"{report.ratios['floor_cpu_vs_render_cpu']:.3f} (the fps ratio when other jobs hold the cores)")
    threads = facts.get("cpu_ms_per_frame_by_thread", {})
    if threads.get("render"):
        runs = [run for run in ("render", "floor") if threads.get(run)]
        kinds = list(dict.fromkeys(k for run in runs for k in threads[run]))
        width = max(len(k) for k in kinds)
        lines += ["", f"{'CPU ms per frame, by thread':<{width}} " + " ".join(f"{run:>7}" for run in runs)]
        lines += [f"{kind:<{width}} " + " ".join(f"{threads[run].get(kind, 0.0):>7.2f}" for run in runs)
                  for kind in kinds]
        lines.append("")
    lines += [f"start-up (models, shaders, first frame): {facts['startup_s']:.2f} s", ""]
    width = max([len(name) for name in report.ratios] + [22])
    lines += [f"{'ratio':<{width}} {'value':>8}"] + [f"{name:<{width}} {value:>8.3f}"
                                                    for name, value in report.ratios.items()]
    return "\n".join(lines)
