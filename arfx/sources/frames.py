"""The value every source yields (`Frame`), the `Source` base, and what all of them share:
the file suffixes arfx reads, the checks a path passes before decoding, `to_rgb8`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from arfx.errors import InputError

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".3gp", ".gif"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})

DEFAULT_FOLDER_FPS = 30.0


@dataclass(frozen=True)
class Frame:
    """One RGB frame (uint8, HxWx3) with its position in the stream and its time in seconds."""

    rgb: np.ndarray
    index: int
    timestamp: float
    #: time.monotonic() when a live source captured it (for latency measurement), else None.
    captured: float | None = None
    #: Vertical field of view of the upright picture from its file's metadata (degrees), else None.
    fov: float | None = None


class Source:
    """Base of all sources: iterate for frames in order; properties describe the stream."""

    name: str = "source"
    #: True when frames arrive in real time (a camera): consumers may drop, never reorder.
    live: bool = False

    @property
    def fps(self) -> float | None:
        return None

    @property
    def frame_count(self) -> int | None:
        return None

    @property
    def duration(self) -> float | None:
        return None

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) when known before decoding, else None."""
        return None

    @property
    def fov(self) -> float | None:
        """Vertical field of view (degrees) the file's metadata gives for its upright pictures, else None."""
        return None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_rgb8(array: np.ndarray, name: str = "image") -> np.ndarray:
    """Any decoded image (gray, 16-bit, RGBA, float) as contiguous uint8 RGB."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"{name}: unsupported image layout {a.shape}")
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif a.dtype in (np.float32, np.float64):
        a = (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    channels = a.shape[2]
    if channels == 1:
        a = np.repeat(a, 3, axis=2)
    elif channels == 2:  # gray + alpha: drop alpha
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif channels == 4:  # composite over black so transparent areas do not show stale colour
        alpha = a[:, :, 3:4].astype(np.uint16)
        a = ((a[:, :, :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")
