"""Frame sources: camera, video file, image file and image folder, all yielding `Frame`s in order.

`frames` (the Frame value, the Source base, to_rgb8), `images` (image files and folders),
`video` (video files), `camera` (cameras and the threaded live feed); `open_source` picks one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from arfx.errors import InputError
from arfx.sources.camera import (DEFAULT_CAMERA_TIMEOUT_S, CameraSource, CaptureDevice, LatestFrameSlot,
                                 ThreadedFeed)
from arfx.sources.frames import (DEFAULT_FOLDER_FPS, IMAGE_SUFFIXES, VIDEO_SUFFIXES, Frame, Source,
                                 _check_file, to_rgb8)
from arfx.sources.images import MAX_IMAGE_PIXELS, FolderSource, ImageSource, image_fov, read_image
from arfx.sources.video import VideoSource

__all__ = [
    "CameraSource", "CaptureDevice", "DEFAULT_CAMERA_TIMEOUT_S", "DEFAULT_FOLDER_FPS", "FolderSource",
    "Frame", "IMAGE_SUFFIXES", "ImageSource", "LatestFrameSlot", "MAX_IMAGE_PIXELS", "Source",
    "ThreadedFeed", "VIDEO_SUFFIXES", "VideoSource", "image_fov", "open_source", "parse_size",
    "read_image", "to_rgb8",
]


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InputError(f"size {text!r}: expected WIDTHxHEIGHT, like 1280x720")
    return int(match.group(1)), int(match.group(2))


def open_source(spec: str | int | os.PathLike[str], camera_size: tuple[int, int] | None = (1280, 720),
                folder_fps: float = DEFAULT_FOLDER_FPS) -> Source:
    """A source for a camera index (int or digits) or a path to a video, image or image folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not Path(spec).exists()):
        return CameraSource(int(spec), camera_size)
    path = Path(spec)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        return FolderSource(path, fps=folder_fps)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageSource(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoSource(path)
    # Unknown suffix: sniff the content, image first (cheap), then video.
    try:
        return ImageSource(path)
    except InputError:
        pass
    try:
        return VideoSource(path)
    except InputError:
        raise InputError(f"{path}: not a video or image arfx can read") from None
