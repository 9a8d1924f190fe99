"""`arfx bench`: per-stage median times and end-to-end speed of offline rendering."""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from arfx.errors import InputError
from arfx.offline import render_video
from arfx.pipeline import STAGES, FramePipeline, RenderOptions
from arfx.sources import VideoSource, open_source

log = logging.getLogger(__name__)


def run_bench(effect: str = "glasses", input: str | None = None, frames: int = 120,
              options: RenderOptions | None = None, size: tuple[int, int] = (1280, 720)) -> dict[str, Any]:
    """Render `frames` frames of `input` (or a generated 720p clip) to a scratch file; report timings.

    Model loading and shader compilation happen before the clock starts (one warm-up frame).
    Stage times are medians per frame, measured on the thread that runs the stage; stages
    overlap (decode, tracking and encoding run in their own threads), so end-to-end fps is
    more than 1000 / (sum of stages). Without `options`, landmarks are smoothed, as
    `arfx render` does for videos.
    """
    options = options or RenderOptions(smooth=True)
    with tempfile.TemporaryDirectory(prefix="arfx-bench-") as folder:
        if input is None:
            from arfx.demo import write_clip

            clip = write_clip(Path(folder) / "input.mp4", size[0], size[1], count=frames, fps=30)
            described = f"generated {size[0]}x{size[1]} astronaut clip, {frames} frames"
        else:
            clip = Path(input)
            described = str(clip)
        source = open_source(clip)
        if not isinstance(source, VideoSource):
            source.close()
            raise InputError(f"{clip}: bench needs a video input")
        width, height = source.size or (0, 0)
        bench_options = RenderOptions(**{**options.__dict__, "overwrite": True, "max_frames": frames,
                                         "copy_audio": False})
        pipeline: FramePipeline | None = None
        try:
            pipeline = FramePipeline(effect, bench_options, static=False, smooth=bench_options.smooth)
            with open_source(clip) as warm_source:
                warm = next(iter(warm_source))
            pipeline.process(warm)
            pipeline.reset_tracking()
            pipeline.times.samples = {s: [] for s in STAGES}
            t0 = time.perf_counter()
            result = render_video(effect, source, Path(folder) / "output.mp4", bench_options,
                                  pipeline=pipeline)
            wall = time.perf_counter() - t0
        finally:
            if pipeline is not None:
                pipeline.close()
            source.close()
    medians = result.times.median_ms()
    return {
        "input": described,
        "size": [width, height],
        "effect": effect,
        "smooth": bench_options.smooth,
        "frames": result.frames,
        "frames_with_faces": result.frames_with_faces,
        "stages_median_ms": {s: round(medians.get(s, float("nan")), 3) for s in STAGES},
        "end_to_end_fps": round(result.frames / wall, 2),
        "seconds": round(wall, 3),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def format_table(report: dict[str, Any]) -> str:
    lines = [f"input: {report['input']} ({report['size'][0]}x{report['size'][1]})",
             f"effect: {report['effect']}; {report['frames']} frames, faces on {report['frames_with_faces']}"
             f"{'; smoothed' if report.get('smooth') else ''}",
             "", f"{'stage':<10} {'median ms':>10}"]
    for stage, ms in report["stages_median_ms"].items():
        lines.append(f"{stage:<10} {ms:>10.2f}")
    lines += ["", f"end to end: {report['end_to_end_fps']:.1f} fps "
                  f"({report['frames']} frames in {report['seconds']:.2f} s, {report['cpu_count']} CPUs; "
                  "stages overlap across threads)"]
    return "\n".join(lines)
