"""Offline rendering: a video, image or image folder in, the same with the effect drawn, out.

Video outputs are made pipelined on four threads: decoding (a prefetch thread), tracking +
geometry (a second prefetch thread, one frame ahead), rendering (the calling thread, which
owns the headless GL context) and encoding (the recorder's thread). Folder-to-folder
renders decode ahead and do the rest on the calling thread; a single image uses only the
calling thread. The threads are arfx.threads stages (`Prefetch` is a ProducerStage, the
recorder's encoder a WorkerStage). Outputs:

- video in  -> video out (.mp4/.mov/.mkv): same frame count, frame rate, timestamps and
  duration; the first audio stream is copied without re-encoding, its times moved with
  the video's when the file's clock does not start at 0 (MPEG-TS, trimmed clips).
- image in  -> image out (.png/.jpg/...).
- folder in -> a folder of images (same file names; created if missing) when the output
  has no video suffix, or a video at `folder_fps` when it has one (all images must then
  share one size).
- video or folder in -> a network stream when the output is udp://HOST:PORT or
  tcp://HOST:PORT (arfx.stream: MPEG-TS H.264, sent at the pace the clip plays, every frame,
  no sound).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from arfx.errors import InputError, OutputError
from arfx.outputs import check_output_path, write_image
from arfx.options import RenderOptions
from arfx.pipeline import FramePipeline, StageTimes
from arfx.recorder import VIDEO_FORMATS, Recorder
from arfx.stream import PacedStream, check_stream_url, is_stream_url
from arfx.sources import (IMAGE_SUFFIXES, FolderSource, ImageSource, Source, VideoSource,
                          open_source)
from arfx.threads import ProducerStage

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, "int | None"], None]
#: Called with each frame and its FrameResult before it is drawn (e.g. RerunLogger.log).
FrameCallback = Callable[[Any, Any], None]

@dataclass
class RenderResult:
    output: Path | str  # str: a stream URL
    frames: int
    frames_with_faces: int
    seconds: float
    times: StageTimes
    #: Faces drawn, summed over all frames.
    faces: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


class Prefetch(ProducerStage):
    """Decodes a source ahead in a background thread (bounded), timing each frame's decode
    as `stage` in `times` (none when `stage` is empty)."""

    def __init__(self, source: Iterable[Any], times: StageTimes, depth: int = 4,
                 stage: str = "decode", name: str = "arfx-decode") -> None:
        timing = (lambda seconds: times.add(stage, seconds)) if stage else None
        super().__init__(source, depth=depth, name=name, timing=timing)


def _output_kind(source: Source, output: Path | str) -> str:
    if isinstance(output, str):  # a stream URL
        if isinstance(source, ImageSource):
            raise OutputError(f"{output}: the input is an image; stream a video or a folder of images")
        return "video"
    suffix = output.suffix.lower()
    if isinstance(source, ImageSource):
        if suffix in IMAGE_SUFFIXES:
            return "image"
        raise OutputError(f"{output}: the input is an image, so the output must be an image "
                          f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    if isinstance(source, FolderSource):
        if suffix in VIDEO_FORMATS:
            return "video"
        if suffix in IMAGE_SUFFIXES:
            raise OutputError(f"{output}: the input is a folder; give a folder or a video "
                              f"({', '.join(sorted(VIDEO_FORMATS))}) as output")
        return "folder"
    if suffix in VIDEO_FORMATS:
        return "video"
    raise OutputError(f"{output}: the input is a video; the output must be a video "
                      f"({', '.join(sorted(VIDEO_FORMATS))})")


def _check_folder_output(source: FolderSource, output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: exists and is not a folder")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{output}: folder {parent} does not exist")
    if not os.access(output if output.exists() else parent, os.W_OK | os.X_OK):
        raise OutputError(f"{output}: folder is not writable")
    if output.exists() and output.resolve() == source.path.resolve():
        raise OutputError(f"{output}: output folder is the input folder; choose another")
    if not overwrite:
        taken = [f.name for f in source.files if (output / f.name).exists()]
        if taken:
            raise OutputError(f"{output}: {len(taken)} file(s) already exist, e.g. {taken[0]} "
                              "(use --overwrite to replace them)")


def render_video(effect: Any, input: str | os.PathLike[str] | Source, output: str | os.PathLike[str],
                 options: RenderOptions | None = None, progress: ProgressCallback | None = None,
                 pipeline: FramePipeline | None = None, on_frame: FrameCallback | None = None) -> RenderResult:
    """Render `effect` onto every frame of `input` and write `output` (see the module doc);
    `on_frame(frame, result)` sees each frame's FrameResult (it must not change it)."""
    options = options or RenderOptions()
    stream = is_stream_url(output)
    if stream:
        check_stream_url(str(output))  # before the input is opened: one line for srt:// and the like
    out: Any = str(output) if stream else Path(output)
    source = input if isinstance(input, Source) else open_source(input, folder_fps=options.folder_fps)
    try:
        kind = _output_kind(source, out)
        if kind == "folder":
            _check_folder_output(source, out, options.encode.overwrite)  # type: ignore[arg-type]
        elif not stream:  # a stream opens with the first frame, when its size is known
            check_output_path(out, options.encode.overwrite, source=getattr(source, "path", None))
        static = isinstance(source, (ImageSource, FolderSource))
        own_pipeline = pipeline is None
        if pipeline is None:
            if static:  # unrelated stills: detect on each one
                options = replace(options, tracking=replace(options.tracking, static=True))
            pipeline = FramePipeline(effect, options)
        try:
            if kind == "image":
                return _render_image(pipeline, source, out, options, on_frame)  # type: ignore[arg-type]
            if kind == "folder":
                return _render_folder(pipeline, source, out, options, progress, on_frame)  # type: ignore[arg-type]
            return _render_to_video(pipeline, source, out, options, progress, on_frame)
        finally:
            if own_pipeline:
                pipeline.close()
    finally:
        if not isinstance(input, Source):
            source.close()


def _analyse_and_process(pipeline: FramePipeline, frame: Any, on_frame: FrameCallback | None) -> tuple[Any, int]:
    if on_frame is None:
        return pipeline.process(frame)
    analysed = pipeline.analyse(frame)
    on_frame(frame, analysed)
    return pipeline.process(frame, analysed)


def _render_image(pipeline: FramePipeline, source: ImageSource, out: Path,
                  options: RenderOptions, on_frame: FrameCallback | None = None) -> RenderResult:
    t0 = time.perf_counter()
    frame = next(iter(source))
    pipeline.check_renderable(frame, source.name)
    rgb, faces = _analyse_and_process(pipeline, frame, on_frame)
    write_image(out, rgb, overwrite=options.encode.overwrite, source=source.path,
                quality=options.encode.jpeg_quality)
    return RenderResult(out, 1, int(faces > 0), time.perf_counter() - t0, pipeline.times, faces)


def _render_folder(pipeline: FramePipeline, source: FolderSource, out: Path, options: RenderOptions,
                   progress: ProgressCallback | None, on_frame: FrameCallback | None = None) -> RenderResult:
    out.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    total = source.frame_count if options.max_frames is None else min(source.frame_count, options.max_frames)
    done = with_faces = total_faces = 0
    prefetch = Prefetch(source, pipeline.times)
    try:
        for frame in prefetch:
            if done >= total:
                break
            pipeline.check_renderable(frame, str(source.files[frame.index]))
            rgb, faces = _analyse_and_process(pipeline, frame, on_frame)
            t1 = time.perf_counter()
            write_image(out / source.files[frame.index].name, rgb, overwrite=options.encode.overwrite,
                        source=source.files[frame.index], quality=options.encode.jpeg_quality)
            pipeline.times.add("encode", time.perf_counter() - t1)
            done += 1
            with_faces += faces > 0
            total_faces += faces
            if progress:
                progress(done, total)
    finally:
        prefetch.close()
    return RenderResult(out, done, with_faces, time.perf_counter() - t0, pipeline.times, total_faces)


def _render_to_video(pipeline: FramePipeline, source: Source, out: Path | str, options: RenderOptions,
                     progress: ProgressCallback | None, on_frame: FrameCallback | None = None) -> RenderResult:
    video = source if isinstance(source, VideoSource) else None
    rate = video.rate if video is not None else None
    fps = rate or source.fps or options.folder_fps
    audio = source.path if (video is not None and options.encode.copy_audio and video.has_audio
                            and options.max_frames is None) else None
    total = source.frame_count
    if options.max_frames is not None:
        total = options.max_frames if total is None else min(total, options.max_frames)
    t0 = time.perf_counter()
    prefetch = Prefetch(source, pipeline.times)
    # Tracking runs one frame ahead in its own thread (ONNX Runtime releases the GIL);
    # the GL context stays on this thread.
    tracked = Prefetch(((f, pipeline.analyse(f)) for f in prefetch), pipeline.times, depth=2,
                       stage="", name="arfx-track")
    recorder: Recorder | PacedStream | None = None  # a file, or a stream URL's sender
    done = with_faces = total_faces = 0
    size: tuple[int, int] | None = None
    try:
        for frame, analysed in tracked:
            if options.max_frames is not None and done >= options.max_frames:
                break
            frame_size = (frame.rgb.shape[1], frame.rgb.shape[0])
            if recorder is None:
                size = frame_size
                pipeline.check_renderable(frame, source.name)
                # The output's zero is the file's earliest stream start, so audio that begins
                # before the first picture is kept and the duration matches the input's.
                media_start = video.media_start if video is not None and audio else (
                    video.start_time if video is not None else 0.0)
                if isinstance(out, str):
                    if audio is not None:
                        log.info("%s: the stream carries the pictures only, not the sound", out)
                    recorder = PacedStream(out, size[0], size[1], fps=float(fps or 30.0))
                else:
                    recorder = Recorder(out, size[0], size[1], fps=fps, audio_from=audio,
                                        overwrite=options.encode.overwrite, preset=options.encode.preset,
                                        audio_offset=media_start,
                                        video_delay=video.start_time - media_start if video is not None else 0.0)
            elif frame_size != size:
                name = source.files[frame.index] if isinstance(source, FolderSource) else source.name
                raise InputError(f"{name}: is {frame_size[0]}x{frame_size[1]} but the video is "
                                 f"{size[0]}x{size[1]}; images for one video must share a size")
            if on_frame is not None:
                on_frame(frame, analysed)
            rgb, faces = pipeline.process(frame, analysed)
            # Input timestamps keep variable-rate videos in sync with their audio.
            recorder.write(rgb, timestamp=frame.timestamp if video is not None else None)
            done += 1
            with_faces += faces > 0
            total_faces += faces
            if progress:
                progress(done, total)
        if recorder is None:
            raise InputError(f"{source.name}: no frames to render")
        recorder.close()
    except BaseException:
        if recorder is not None:
            recorder.abort()  # an unfinished render never leaves a file behind
        raise
    finally:
        tracked.close()
        prefetch.close()
    seconds = time.perf_counter() - t0
    for s in recorder.encode_times:
        pipeline.times.add("encode", s)
    return RenderResult(out, done, with_faces, seconds, pipeline.times, total_faces)
