"""arfx: AR face effects for Python (tracking, metric face geometry, OpenGL effects)."""

__version__ = "0.1.0"
