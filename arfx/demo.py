"""`arfx demo`: a generated clip of scikit-image's astronaut, rendered with the showcase effects
(each ~1.5 s, its name drawn on the frame)."""

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


#: The effects the demo cycles through (the README's gallery): no debug views.
SHOWCASE = ("aviators", "tophat", "crown", "cat", "venetian", "makeup", "tiger", "stars")


def padded_astronaut(top: int = 160) -> np.ndarray:
    """The astronaut with `top` rows of her blurred backdrop added above (room for hats)."""
    import cv2

    image = astronaut_image()
    out = cv2.copyMakeBorder(image, top, 0, 0, 0, cv2.BORDER_REPLICATE)
    blurred = cv2.GaussianBlur(cv2.GaussianBlur(out, (0, 0), 25), (0, 0), 25)
    ramp = np.clip((np.arange(out.shape[0]) - top) / 40.0, 0.0, 1.0)[:, None, None]
    return np.ascontiguousarray(np.round(out * ramp + blurred * (1.0 - ramp)).astype(np.uint8))


def astronaut_frame(image: np.ndarray, width: int, height: int, t: float, headroom: int = 0,
                    zoom_scale: float = 1.0) -> np.ndarray:
    """One frame of the clip at phase t in [0, 1]: the photo drifting, zooming and tilting.

    The motion is smooth and bounded so the face stays in view and trackable; it exists to
    exercise tracking, not to look pretty.
    """
    import cv2

    h, w = image.shape[:2]
    # Fit the photo to the frame height, then zoom in on the face (1.3x to 1.7x of that).
    fit = min(width / w, height / h)
    if headroom:
        fit = min(width / w, height / (h - headroom))
    zoom = fit * zoom_scale * (1.5 + 0.2 * math.sin(2 * math.pi * t))
    angle = 8.0 * math.sin(2 * math.pi * t * 1.5)
    # The face sits near (250, 150) in the photo; move that point around the frame centre.
    cx, cy = 240.0, 120.0 + headroom
    tx = width / 2 + 0.12 * width * math.sin(2 * math.pi * t)
    ty = height / 2 + 0.06 * height * math.cos(2 * math.pi * t) + (0.1 * height if headroom else 0.0)
    m = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
    m[0, 2] += tx - cx
    m[1, 2] += ty - cy
    return cv2.warpAffine(image, m, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(24, 24, 32))


class GeneratedSource(Source):
    """A clip made at run time: `count` frames of the moving astronaut at `fps`."""

    def __init__(self, width: int = 1280, height: int = 720, count: int = 90, fps: float = 30.0,
                 cycles: float = 1.0, headroom: int = 0, zoom_scale: float = 1.0) -> None:
        if width < 16 or height < 16 or count < 1:
            raise InputError(f"generated clip: invalid size {width}x{height} or frame count {count}")
        self.name = f"generated astronaut clip {width}x{height}"
        self._size = (width, height)
        self._count = count
        self._fps = float(fps)
        self._cycles = cycles
        self._headroom, self._zoom_scale = headroom, zoom_scale
        self._image = padded_astronaut(headroom) if headroom else astronaut_image()

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
            yield Frame(astronaut_frame(self._image, self._size[0], self._size[1], t, self._headroom,
                                        self._zoom_scale), i, i / self._fps)


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
    """The showcase effects that load, in the gallery's order; failing those, every built-in
    effect that is not a debug view (glasses first when present)."""
    from arfx.effects.registry import EffectRegistry

    registry = EffectRegistry(include_user=False)
    found = {info.name: info for info in registry.effects().values() if info.ok and info.source == "built-in"}
    names = [name for name in SHOWCASE if name in found]
    if not names:
        names = sorted((name for name, info in found.items() if not _is_debug(info)),
                       key=lambda n: (n != "glasses", n))
    if not names:
        raise ArfxError("no built-in effects found; reinstall arfx")
    return names


def _is_debug(info) -> bool:
    return bool(getattr(info, "debug", False))


def draw_label(rgb: np.ndarray, title: str, subtitle: str = "") -> np.ndarray:
    """The effect's name (and a line about it) in a dark band at the bottom left of the frame."""
    import cv2

    out = np.array(rgb, dtype=np.uint8, copy=True)
    h = out.shape[0]
    scale = max(0.5, h / 540.0)
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, th), _ = cv2.getTextSize(title, font, 1.1 * scale, max(1, int(2 * scale)))
    (sw, sh), _ = cv2.getTextSize(subtitle, font, 0.55 * scale, 1) if subtitle else ((0, 0), 0)
    pad = int(12 * scale)
    box_h = th + (sh + pad // 2 if subtitle else 0) + 2 * pad
    x0, y0 = int(16 * scale), h - int(16 * scale) - box_h
    x1 = x0 + max(tw, sw) + 2 * pad
    region = out[y0:y0 + box_h, x0:x1]
    region[...] = (region.astype(np.float32) * 0.35 + np.array([10, 10, 16]) * 0.65).astype(np.uint8)
    cv2.putText(out, title, (x0 + pad, y0 + pad + th), font, 1.1 * scale, (255, 255, 255),
                max(1, int(2 * scale)), cv2.LINE_AA)
    if subtitle:
        cv2.putText(out, subtitle, (x0 + pad, y0 + pad + th + pad // 2 + sh), font, 0.55 * scale,
                    (215, 215, 225), 1, cv2.LINE_AA)
    return out


def run_demo(output: str | Path = "arfx-demo.mp4", window: bool = True, seconds_per_effect: float = 1.5,
             size: tuple[int, int] = (960, 540), fps: int = 30, overwrite: bool = True,
             progress: Callable[[int, int | None], None] | None = None,
             names: list[str] | None = None) -> DemoResult:
    """Render the showcase effects, one after another (`seconds_per_effect` each, the name drawn
    on the frame), on the generated clip into `output`.

    With a display (and `window`), the live window then plays the clip with the first effect.
    """
    import os

    from arfx.effects.registry import EffectRegistry, load_effect
    from arfx.pipeline import FramePipeline
    from arfx.recorder import Recorder

    names = list(names) if names else builtin_effect_names()
    per_effect = max(1, int(round(seconds_per_effect * fps)))
    total = per_effect * len(names)
    out = Path(output)
    infos = EffectRegistry(include_user=False).effects()
    recorder = Recorder(out, size[0], size[1], fps=fps, overwrite=overwrite)
    pipeline = FramePipeline(None)
    try:
        effects = {name: load_effect(name) for name in names}
        source = GeneratedSource(size[0], size[1], total, fps, cycles=len(names) / 3, headroom=160,
                                 zoom_scale=0.9)
        for frame in source:
            name = names[frame.index // per_effect]
            pipeline.effect = effects[name]
            rgb, _ = pipeline.process(frame)
            info = infos.get(name)
            recorder.write(draw_label(rgb, name, getattr(info, "description", "") or ""))
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
