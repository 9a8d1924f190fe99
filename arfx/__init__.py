"""arfx: AR face effects for Python (tracking, metric face geometry, OpenGL effects).

    import arfx
    with arfx.FaceEffects("glasses", max_faces=2) as fx:
        out = fx(rgb)      # HxWx3 uint8 RGB in, same shape out
        fx.faces           # list[arfx.FaceResult]: landmarks, geometry (pose, mesh), id

Names are imported on first use, so `import arfx` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "FaceEffects": "arfx.api",
    "FrameResult": "arfx.result",
    "FaceResult": "arfx.result",
    "HandResult": "arfx.result",
    "BodyResult": "arfx.result",
    "HandTracker": "arfx.tracking.hands",
    "TrackingOptions": "arfx.options",
    "EncodeOptions": "arfx.options",
    "FramePipeline": "arfx.pipeline",
    "RenderOptions": "arfx.options",
    "FaceTracker": "arfx.tracking.tracker",
    "Face": "arfx.tracking.tracker",
    "GeometryPipeline": "arfx.geometry.pipeline",
    "FaceGeometry": "arfx.geometry.pipeline",
    "PerspectiveCamera": "arfx.geometry.camera",
    "CanonicalFace": "arfx.geometry.canonical",
    "Anchor": "arfx.geometry.anchors",
    "Renderer": "arfx.render.renderer",
    "create_headless_context": "arfx.render.context",
    "EffectRegistry": "arfx.effects.registry",
    "load_effect": "arfx.effects.registry",
    "Object3DEffect": "arfx.effects.object3d",
    "FacePaintEffect": "arfx.effects.facepaint",
    "EffectStack": "arfx.effects.stack",
    "MeshEffect": "arfx.effects.debug",
    "LandmarksEffect": "arfx.effects.debug",
    "render_video": "arfx.offline",
    "track_file": "arfx.track",
    "ArfxError": "arfx.errors",
    "EffectError": "arfx.errors",
    "InputError": "arfx.errors",
    "OutputError": "arfx.errors",
    "ModelError": "arfx.errors",
    "RenderError": "arfx.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily below
    from arfx.api import FaceEffects
    from arfx.effects.debug import LandmarksEffect, MeshEffect
    from arfx.effects.facepaint import FacePaintEffect
    from arfx.effects.object3d import Object3DEffect
    from arfx.effects.registry import EffectRegistry, load_effect
    from arfx.effects.stack import EffectStack
    from arfx.errors import ArfxError, EffectError, InputError, ModelError, OutputError, RenderError
    from arfx.geometry.anchors import Anchor
    from arfx.geometry.camera import PerspectiveCamera
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.pipeline import FaceGeometry, GeometryPipeline
    from arfx.offline import render_video
    from arfx.options import EncodeOptions, RenderOptions, TrackingOptions
    from arfx.pipeline import FramePipeline
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer
    from arfx.result import BodyResult, FaceResult, FrameResult, HandResult
    from arfx.track import track_file
    from arfx.tracking.hands import HandTracker
    from arfx.tracking.tracker import Face, FaceTracker


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'arfx' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
