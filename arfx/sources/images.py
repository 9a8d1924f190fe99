"""Still pictures: an image file (`ImageSource`, `read_image`, the field of view in its EXIF)
and a folder of them in natural name order (`FolderSource`)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from arfx.errors import InputError
from arfx.sources.frames import DEFAULT_FOLDER_FPS, IMAGE_SUFFIXES, Frame, Source, _check_file, to_rgb8

log = logging.getLogger(__name__)

# Past this many pixels an image is treated as a decompression bomb rather than a photo.
MAX_IMAGE_PIXELS = 100_000_000


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB, EXIF orientation applied; InputError with the reason otherwise."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _check_file(path)
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise InputError(f"{path}: image is {im.width}x{im.height}, larger than the "
                                 f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit")
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(im).astype(np.uint32)
                array = (array >> 8) if array.max(initial=0) > 255 else array
                return to_rgb8(np.clip(array, 0, 255).astype(np.uint8), str(path))
            if im.mode == "F":
                return to_rgb8(np.asarray(im) / 255.0, str(path))
            if im.mode == "P" or im.mode == "PA" or im.mode == "LA" or im.mode == "CMYK" or im.mode == "YCbCr":
                im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("PA", "LA") else "RGB")
            if im.mode == "1":
                im = im.convert("L")
            return to_rgb8(np.asarray(im), str(path))
    except InputError:
        raise
    except Image.DecompressionBombError as error:
        raise InputError(f"{path}: image too large ({error})") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image arfx can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: cannot read image ({error})") from None


def image_fov(path: Path) -> float | None:
    """The vertical field of view of an image file's upright picture from its EXIF (focal
    length in 35 mm film, or focal length and focal-plane resolution), else None."""
    from PIL import Image

    from arfx.geometry.fov import exif_fov

    try:
        with Image.open(path) as im:
            found = exif_fov(im.getexif(), im.size)
    except Exception:  # unreadable metadata is no metadata; read_image reports unreadable pictures
        log.debug("%s: no readable EXIF", path, exc_info=True)
        return None
    if found is not None:
        log.debug("%s: vertical field of view %.1f degrees from %s", path, *found)
        return found[0]
    return None


class ImageSource(Source):
    """A single image file: one frame."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._rgb = read_image(self.path)  # read now so errors surface at open time
        self._fov = image_fov(self.path)

    @property
    def size(self) -> tuple[int, int]:
        return self._rgb.shape[1], self._rgb.shape[0]

    @property
    def fov(self) -> float | None:
        return self._fov

    @property
    def frame_count(self) -> int:
        return 1

    @property
    def rgb(self) -> np.ndarray:
        return self._rgb

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(self._rgb, 0, 0.0, fov=self._fov)


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class FolderSource(Source):
    """The images in a folder, in natural name order (frame2 before frame10), one frame each."""

    def __init__(self, path: str | os.PathLike[str], fps: float = DEFAULT_FOLDER_FPS) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._fps = float(fps)
        if not self.path.is_dir():
            raise InputError(f"{path}: not a folder")
        self.files = sorted(
            (p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
             and not p.name.startswith(".")),
            key=_natural_key,
        )
        if not self.files:
            raise InputError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def frame_count(self) -> int:
        return len(self.files)

    @property
    def duration(self) -> float:
        return len(self.files) / self._fps

    def __iter__(self) -> Iterator[Frame]:
        for i, file in enumerate(self.files):
            yield Frame(read_image(file), i, i / self._fps, fov=image_fov(file))
