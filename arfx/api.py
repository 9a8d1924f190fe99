"""`FaceEffects`: effects on faces in your own loop, in one object (`out = fx(rgb)`).

    import arfx
    with arfx.FaceEffects("glasses", max_faces=2) as fx:
        out = fx(rgb)        # HxWx3 uint8 RGB in, same shape out, effect drawn
        fx.faces             # what was tracked in that frame (FaceResult: landmarks, geometry, id)

It wraps a FramePipeline (tracking stages -> renderer) with its own headless OpenGL context
(or the moderngl context you pass), made current for every call, so any number of them can
be used in turn from one thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from arfx.options import RenderOptions, TrackingOptions
from arfx.pipeline import FramePipeline
from arfx.result import FaceResult, FrameResult
from arfx.sources import Frame

EffectLike = Any  # an effect name ("glasses", "glasses+facepaint"), a path, an effect object, or a list of them


def resolve_effects(effects: EffectLike, effects_dirs: Sequence[str | os.PathLike[str]] = ()) -> Any:
    """An effect object (or list of them, drawn in order) from names, paths and effect objects."""
    from arfx.effects.registry import load_effect, load_effect_path

    if effects is None:
        return None
    if isinstance(effects, (list, tuple)):
        return [resolve_effects(item, effects_dirs) for item in effects]
    if isinstance(effects, Path) or (isinstance(effects, str) and ("/" in effects or os.sep in effects
                                                                    or Path(effects).suffix)):
        return load_effect_path(effects, effects_dirs)
    if isinstance(effects, str):
        return load_effect(effects, effects_dirs)
    return effects


class FaceEffects:
    """Track faces and draw effects on them, one frame at a time.

    effects: an effect name, a `+`-joined stack ("glasses+facepaint"), a path to an effect
    folder or asset (.glb, .png), an effect object, or a list of any of these (drawn in order).
    The tracking options are MediaPipe FaceMesh's (max_faces = max_num_faces, static =
    static_image_mode, ...); `smooth` filters landmark jitter across frames; `mirror`
    flips the output (left/right in results stay the person's own); `hands` tracks hands
    into `result.hands` (automatic when an effect is anchored to a hand). `fov`: the camera's
    vertical field of view in degrees, or "auto" to estimate it from the faces as they move
    (63 degrees, MediaPipe's, until then and by default; `result.camera` is the one used).
    `rerun`: an .rrd path, True for a spawned viewer, or your own `arfx.rerun_log.RerunLogger`:
    every tracked frame and its result are logged there (`pip install "arfx[rerun]"`).
    """

    def __init__(self, effects: EffectLike = "glasses", max_faces: int = 1, *, static: bool = False,
                 detector: str = "auto", refine: bool = False, smooth: bool = True,
                 mirror: bool = False, hands: bool = False, pose: bool = False, antialias: int | None = None,
                 min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, fov: float | str | None = None,
                 effects_dirs: Sequence[str | os.PathLike[str]] = (), ctx: Any = None,
                 rerun: Any = None) -> None:
        #: The RerunLogger every tracked frame goes to (None without `rerun`).
        self.rerun = None
        self._owns_rerun = False
        if rerun is not None and rerun is not False:  # before the models load: fails fast
            from arfx.rerun_log import RerunLogger, open_logger

            self._owns_rerun = not isinstance(rerun, RerunLogger)
            self.rerun = open_logger("" if rerun is True else rerun)
        tracking = TrackingOptions(max_faces=max_faces, static=static, detector=detector, refine=refine,
                                   min_detection_confidence=min_detection_confidence,
                                   min_tracking_confidence=min_tracking_confidence, smooth=smooth,
                                   hands=hands, pose=pose, fov=fov)
        options = RenderOptions(tracking=tracking, mirror=mirror, antialias=antialias,
                                effects_dirs=tuple(str(d) for d in effects_dirs))
        self._pipeline = FramePipeline(resolve_effects(effects, effects_dirs), options, ctx=ctx)
        self._index = 0
        self.result: FrameResult | None = None

    @property
    def effect(self) -> Any:
        """The effect (or list) drawn; assign a name, path, object or list to switch."""
        return self._pipeline.effect

    @effect.setter
    def effect(self, effects: EffectLike) -> None:
        old = self._pipeline.effect
        self._pipeline.effect = resolve_effects(effects, self._pipeline.options.effects_dirs)
        if self._pipeline.has_renderer and old is not None:
            from arfx.render.renderer import effect_list

            kept = {id(item) for item in effect_list(self._pipeline.effect)}
            self._pipeline.renderer.release_effect([e for e in effect_list(old) if id(e) not in kept])

    @property
    def faces(self) -> list[FaceResult]:
        """The faces tracked in the last frame (empty before the first)."""
        return [] if self.result is None else self.result.faces

    def track(self, rgb: np.ndarray, timestamp: float | None = None) -> FrameResult:
        """Track one HxWx3 uint8 RGB frame without drawing; `timestamp` in seconds (else 30 fps)."""
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        frame = Frame(np.ascontiguousarray(rgb), self._index,
                      self._index / 30.0 if timestamp is None else float(timestamp))
        self._index += 1
        self.result = self._pipeline.analyse(frame)
        if self.rerun is not None:
            self.rerun.log(frame.rgb, self.result)
        return self.result

    def __call__(self, rgb: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """The frame with the effect drawn on every tracked face (same shape, uint8 RGB)."""
        result = self.track(rgb, timestamp)
        out, _ = self._pipeline.process(Frame(np.ascontiguousarray(rgb), result.index, result.timestamp),
                                        result)
        return out

    def reset(self) -> None:
        """Forget tracked faces (e.g. after a cut); the next frame starts from detection."""
        self._pipeline.reset_tracking()

    def close(self) -> None:
        """Release the models and GL objects (and the context, when it made its own)."""
        if self.rerun is not None and self._owns_rerun:
            self.rerun.close()
        self._pipeline.close()

    def __enter__(self) -> "FaceEffects":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
