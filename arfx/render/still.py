"""Still images: track the faces in one picture and render an effect on them (headless)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from arfx.errors import InputError, OutputError

log = logging.getLogger(__name__)


@dataclass
class StillResult:
    """The rendered picture and what it was made from."""

    image: np.ndarray  # uint8 [H, W, 3]
    faces: list = field(default_factory=list)  # arfx.tracking.Face, as tracked
    geometries: list = field(default_factory=list)  # arfx.geometry.pipeline.FaceGeometry


def render_image(rgb: np.ndarray, effect, *, effects_dirs: Sequence[str | os.PathLike] = (),
                 max_faces: int = 1, detector: str = "short", refine: bool = False,
                 min_detection_confidence: float = 0.5, mirror: bool = False,
                 ctx=None) -> StillResult:
    """Track every face in `rgb` (static mode) and draw `effect` (a name or an effect object).

    `ctx`: an existing moderngl context to draw with (a headless one is made otherwise).
    """
    from arfx.geometry.camera import PerspectiveCamera
    from arfx.geometry.pipeline import GeometryPipeline
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer
    from arfx.tracking import FaceTracker

    if isinstance(effect, str):
        from arfx.effects.registry import load_effect

        effect = load_effect(effect, effects_dirs)
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    with FaceTracker(max_num_faces=max_faces, static_image_mode=True, detector=detector,
                     refine_landmarks=refine,
                     min_detection_confidence=min_detection_confidence) as tracker:
        faces = tracker.process(rgb)
    camera = PerspectiveCamera()
    pipeline = GeometryPipeline(camera)
    kept, geometries = [], []
    for face in faces:
        geometry = pipeline.estimate(face.landmarks, width, height, face_id=face.id)
        if geometry is not None:
            kept.append(face)
            geometries.append(geometry)
    log.info("%d face(s) found, %d with geometry", len(faces), len(geometries))
    own_ctx = ctx is None
    if own_ctx:
        ctx = create_headless_context()
    try:
        renderer = Renderer(ctx, width, height, camera)
        try:
            image = renderer.render(rgb, geometries, effect, mirror=mirror)
        finally:
            renderer.release()
    finally:
        if own_ctx:
            ctx.release()
    return StillResult(image, kept, geometries)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as uint8 RGB."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise InputError(f"input image {path} does not exist")
    try:
        with Image.open(path) as image:
            return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    except Exception as error:  # PIL raises several types for unreadable files
        raise InputError(f"cannot read image {path}: {error}") from error


def write_rgb(path: str | os.PathLike, rgb: np.ndarray, overwrite: bool = False) -> None:
    """Save uint8 RGB to `path` (format from the suffix)."""
    from PIL import Image

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise OutputError(f"folder {path.parent} does not exist")
    try:
        Image.fromarray(rgb, "RGB").save(path)
    except (OSError, ValueError, KeyError) as error:
        raise OutputError(f"cannot write {path}: {error}") from error


def render_image_file(effect, input_path, output_path, *, overwrite: bool = False,
                      **options) -> StillResult:
    """`arfx render EFFECT -i IMAGE -o IMAGE`: read, render (see render_image), write."""
    output_path = Path(output_path)
    if output_path.exists() and not overwrite:
        raise OutputError(f"{output_path} exists; pass --overwrite to replace it")
    result = render_image(read_rgb(input_path), effect, **options)
    write_rgb(output_path, result.image, overwrite=overwrite)
    return result
