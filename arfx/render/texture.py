"""Decoding texture images safely: size read from the header and refused over a limit before decoding.

Every texture arfx uploads (face paint images, base colour images inside GLB/glTF files) comes
through here, so a decompression bomb (a small file whose header promises a huge picture) or a
file that is not an image ends as an EffectError naming the file, never as a crash or an
out-of-memory kill.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path

import numpy as np

from arfx.errors import EffectError, reason

log = logging.getLogger(__name__)

# GL implementations guarantee at least 8192 (llvmpipe allows 16384); 8192 x 8192 RGBA is 256 MiB.
MAX_TEXTURE_SIDE = 8192
MAX_TEXTURE_PIXELS = 64 * 1024 * 1024  # 64 MP: with the side limit, a square texture tops out here
MAX_TEXTURE_FILE_BYTES = 64 * 1024 * 1024
# Only the decoders glTF allows (plus nothing exotic): fewer parsers exposed to untrusted files.
TEXTURE_FORMATS = ("PNG", "JPEG", "WEBP")


def _open(source: bytes | Path, formats):
    from PIL import Image

    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit raises) on huge images; arfx's own,
        # stricter limit below gives the user the message instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(stream, formats=list(formats))


def check_image(source: bytes | Path, what: str, formats=TEXTURE_FORMATS) -> tuple[int, int]:
    """(width, height) from the image header; EffectError when it is no image or too large.

    `what` names the image in messages ("face paint texture /x/paint.png").
    """
    image = None
    try:
        image = _open(source, formats)
        width, height = image.size
    except Exception as error:  # Pillow raises many types (OSError, SyntaxError, ...) for bad data
        from PIL import Image

        if isinstance(error, Image.DecompressionBombError):
            # Pillow refuses past its own (larger) limit before arfx sees the size.
            found = re.search(r"\((\d+) pixels\)", str(error))
            size = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"
            raise EffectError(f"{what} has {size}; the limit is {MAX_TEXTURE_SIDE} pixels a side "
                              f"({MAX_TEXTURE_PIXELS // (1024 * 1024)} MP): scale it down") from error
        raise EffectError(f"{what} is not a {'/'.join(formats)} image ({reason(error)})") from error
    finally:
        if image is not None:
            image.close()
    _check_size(width, height, what)
    return width, height


def _check_size(width: int, height: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise EffectError(f"{what} has no pixels ({width}x{height})")
    if width > MAX_TEXTURE_SIDE or height > MAX_TEXTURE_SIDE or width * height > MAX_TEXTURE_PIXELS:
        raise EffectError(f"{what} is {width}x{height} pixels; the limit is {MAX_TEXTURE_SIDE} "
                          f"pixels a side ({MAX_TEXTURE_PIXELS // (1024 * 1024)} MP): scale it down")


def check_texture_file(path: Path, what: str, formats=TEXTURE_FORMATS) -> None:
    """EffectError unless `path` is a readable image within the file-size and pixel limits
    (from its header: nothing is decoded)."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise EffectError(f"cannot read {what}: {error.strerror or error}") from error
    if size > MAX_TEXTURE_FILE_BYTES:
        raise EffectError(f"{what} is {size / 2**20:.0f} MiB; the limit is "
                          f"{MAX_TEXTURE_FILE_BYTES // 2**20} MiB")
    check_image(path, what, formats)


def decode_rgba(source: bytes | Path, what: str, formats=TEXTURE_FORMATS) -> np.ndarray:
    """The image as uint8 RGBA [H, W, 4], first row = top; size checked before decoding."""
    if isinstance(source, Path):
        check_texture_file(source, what, formats)
    else:
        check_image(source, what, formats)
    try:
        with _open(source, formats) as image:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except Exception as error:  # truncated or corrupt pixel data past a valid header
        raise EffectError(f"cannot decode {what}: {reason(error)}") from error
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise EffectError(f"cannot decode {what}: unexpected pixel layout {rgba.shape}")
    _check_size(rgba.shape[1], rgba.shape[0], what)
    return np.ascontiguousarray(rgba)


def image_to_rgba(image, what: str) -> np.ndarray:
    """An already opened PIL image (e.g. one trimesh read from a GLB) as uint8 RGBA, size checked."""
    try:
        width, height = image.size
    except Exception as error:
        raise EffectError(f"cannot decode {what}: {reason(error)}") from error
    _check_size(width, height, what)
    try:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except Exception as error:  # truncated or corrupt pixel data past a valid header
        raise EffectError(f"cannot decode {what}: {reason(error)}") from error
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise EffectError(f"cannot decode {what}: unexpected pixel layout {rgba.shape}")
    return np.ascontiguousarray(rgba)


def load_texture(path: str | Path, what: str = "texture") -> np.ndarray:
    """An image file as uint8 RGBA [H, W, 4] (see decode_rgba); EffectError names the file."""
    path = Path(path)
    return decode_rgba(path, f"{what} {path}")
