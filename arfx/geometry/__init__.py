"""Metric face geometry: screen landmarks -> camera-space face mesh and head pose."""

from arfx.geometry.camera import PerspectiveCamera, gl_matrix_bytes
from arfx.geometry.canonical import CanonicalFace
from arfx.geometry.pipeline import FaceGeometry, GeometryPipeline, euler_angles, rotation_from_euler
from arfx.geometry.procrustes import Similarity, WeightedProcrustes, weighted_procrustes

__all__ = [
    "CanonicalFace",
    "FaceGeometry",
    "GeometryPipeline",
    "PerspectiveCamera",
    "Similarity",
    "WeightedProcrustes",
    "euler_angles",
    "gl_matrix_bytes",
    "rotation_from_euler",
    "weighted_procrustes",
]
