"""`arfx demo`: a generated clip of scikit-image's astronaut, rendered with every built-in effect."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from arfx.errors import ArfxError, InputError
from arfx.sources import Frame, Source

log = logging.getLogger(__name__)


def astronaut_image() -> np.ndarray:
    """The 512x512 public-domain astronaut photo that scikit-image ships, as RGB uint8."""
    try:
        from skimage import data
    except ImportError:
        raise ArfxError("the demo needs scikit-image (pip install scikit-image)") from None
    return np.ascontiguousarray(data.astronaut()[:, :, :3])


def astronaut_frame(image: np.ndarray, width: int, height: int, t: float) -> np.ndarray:
    """One frame of the clip at phase t in [0, 1]: the photo drifting, zooming and tilting.

    The motion is smooth and bounded so the face stays in view and trackable; it exists to
    exercise tracking, not to look pretty.
    """
    import cv2

    h, w = image.shape[:2]
    # Fit the photo to the frame height, then zoom in on the face (1.3x to 1.7x of that).
    fit = min(width / w, height / h)
    zoom = fit * (1.5 + 0.2 * math.sin(2 * math.pi * t))
    angle = 8.0 * math.sin(2 * math.pi * t * 1.5)
    # The face sits near (250, 150) in the photo; move that point around the frame centre.
    cx, cy = 240.0, 120.0
    tx = width / 2 + 0.12 * width * math.sin(2 * math.pi * t)
    ty = height / 2 + 0.06 * height * math.cos(2 * math.pi * t)
    m = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
    m[0, 2] += tx - cx
    m[1, 2] += ty - cy
    return cv2.warpAffine(image, m, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(24, 24, 32))


class GeneratedSource(Source):
    """A clip made at run time: `count` frames of the moving astronaut at `fps`."""

    def __init__(self, width: int = 1280, height: int = 720, count: int = 90, fps: float = 30.0,
                 cycles: float = 1.0) -> None:
        if width < 16 or height < 16 or count < 1:
            raise InputError(f"generated clip: invalid size {width}x{height} or frame count {count}")
        self.name = f"generated astronaut clip {width}x{height}"
        self._size = (width, height)
        self._count = count
        self._fps = float(fps)
        self._cycles = cycles
        self._image = astronaut_image()

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def duration(self) -> float:
        return self._count / self._fps

    def __iter__(self) -> Iterator[Frame]:
        for i in range(self._count):
            t = self._cycles * i / max(1, self._count)
            yield Frame(astronaut_frame(self._image, self._size[0], self._size[1], t), i, i / self._fps)


def write_clip(path: str | Path, width: int = 1280, height: int = 720, count: int = 90,
               fps: int = 30, audio: bool = False, overwrite: bool = True) -> Path:
    """Encode the generated clip to a video file (optionally with a 440 Hz sine audio track)."""
    import av

    from arfx.outputs import check_output_path, temp_path_for

    out = check_output_path(path, overwrite)
    temp = temp_path_for(out)
    try:
        with av.open(str(temp), "w", format="mp4") as container:
            video = container.add_stream("libx264", rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"preset": "veryfast", "crf": "18"}
            sound = None
            if audio:
                sound = container.add_stream("aac", rate=44100)
                sound.layout = "mono"
            rate = 44100
            samples_done = 0
            for frame in GeneratedSource(width, height, count, fps):
                vf = av.VideoFrame.from_ndarray(frame.rgb, format="rgb24")
                vf.pts = frame.index
                vf.time_base = Fraction(1, fps)
                for packet in video.encode(vf):
                    container.mux(packet)
                if sound is not None:
                    target = int(round((frame.index + 1) * rate / fps))
                    while samples_done + 1024 <= target or (frame.index == count - 1 and samples_done < target):
                        n = min(1024, target - samples_done)
                        t = (samples_done + np.arange(n)) / rate
                        pcm = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None, :]
                        af = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
                        af.sample_rate = rate
                        af.pts = samples_done
                        af.time_base = Fraction(1, rate)
                        for packet in sound.encode(af):
                            container.mux(packet)
                        samples_done += n
            for packet in video.encode(None):
                container.mux(packet)
            if sound is not None:
                for packet in sound.encode(None):
                    container.mux(packet)
        temp.replace(out)
    finally:
        if temp.exists():
            temp.unlink()
    return out


@dataclass
class DemoResult:
    output: Path
    frames: int
    effects: list[str]


def builtin_effect_names() -> list[str]:
    """Every built-in effect that loads, in a stable order (glasses first when present)."""
    from arfx.effects.registry import EffectRegistry

    registry = EffectRegistry(include_user=False)
    names = sorted(info.name for info in registry.effects().values()
                   if info.ok and info.source == "built-in")
    if not names:
        raise ArfxError("no built-in effects found; reinstall arfx")
    return sorted(names, key=lambda n: (n != "glasses", n))


def run_demo(output: str | Path = "arfx-demo.mp4", window: bool = True, seconds_per_effect: float = 2.0,
             size: tuple[int, int] = (960, 540), fps: int = 30, overwrite: bool = True,
             progress: Callable[[int, int | None], None] | None = None) -> DemoResult:
    """Render every built-in effect, one after another, on the generated clip into `output`.

    With a display (and `window`), the live window then plays the clip with the first effect.
    """
    import os

    from arfx.effects.registry import load_effect
    from arfx.pipeline import FramePipeline
    from arfx.recorder import Recorder

    names = builtin_effect_names()
    per_effect = max(1, int(round(seconds_per_effect * fps)))
    total = per_effect * len(names)
    out = Path(output)
    recorder = Recorder(out, size[0], size[1], fps=fps, overwrite=overwrite)
    pipeline = FramePipeline(None)
    try:
        effects = {name: load_effect(name) for name in names}
        source = GeneratedSource(size[0], size[1], total, fps, cycles=len(names) / 2)
        for frame in source:
            pipeline.effect = effects[names[frame.index // per_effect]]
            rgb, _ = pipeline.process(frame)
            recorder.write(rgb)
            if progress:
                progress(frame.index + 1, total)
        saved = recorder.close()
    except BaseException:
        recorder.abort()
        raise
    finally:
        pipeline.close()
    assert saved is not None
    if window and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        _show_window(names, size, fps)
    return DemoResult(saved, total, names)


def _show_window(names: list[str], size: tuple[int, int], fps: int) -> None:
    """Play the raw clip in the live window (switch effects with the arrow keys)."""
    import tempfile

    from arfx.app import AppOptions, run_app

    with tempfile.TemporaryDirectory(prefix="arfx-demo-") as folder:
        clip = write_clip(Path(folder) / "astronaut.mp4", size[0], size[1], count=fps * 6, fps=fps)
        try:
            run_app(AppOptions(effect=names[0], input=str(clip), mirror=False))
        except ArfxError as error:
            log.warning("demo window not shown: %s", error)
