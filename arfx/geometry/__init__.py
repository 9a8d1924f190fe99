"""Metric face geometry: screen landmarks -> camera-space face mesh and head pose."""

from arfx.geometry.canonical import CanonicalFace

__all__ = ["CanonicalFace"]
