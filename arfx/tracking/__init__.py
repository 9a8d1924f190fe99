"""Face tracking: face detection and landmark models run by ONNX Runtime."""

from arfx.tracking.tracker import Face, FaceTracker

__all__ = ["Face", "FaceTracker"]
