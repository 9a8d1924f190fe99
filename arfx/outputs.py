"""Output files: checked before any work, written under a temporary name, renamed when complete."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from arfx.errors import OutputError, reason

log = logging.getLogger(__name__)


def check_output_path(path: str | os.PathLike[str], overwrite: bool, kinds: dict[str, Any] | None = None,
                      what: str = "output", source: str | os.PathLike[str] | None = None) -> Path:
    """Refuse, before any work, an output that cannot be written, would replace a file silently,
    or is the `source` file itself (even --overwrite must not destroy the input)."""
    out = Path(path)
    if source is not None and out.exists() and Path(source).exists() and out.samefile(source):
        raise OutputError(f"{out}: is the input file; write the result to another name")
    if kinds is not None and out.suffix.lower() not in kinds:
        raise OutputError(f"{out}: unsupported {what} type {out.suffix or '(no suffix)'}; "
                          f"use one of {', '.join(sorted(kinds))}")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"{out}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: folder {folder} is not writable")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder")
    if out.exists() and not overwrite:
        raise OutputError(f"{out}: already exists (use --overwrite to replace it)")
    return out


def temp_path_for(path: Path) -> Path:
    """A hidden name in the same folder (same file system, so the final rename is atomic)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident() % 100000}.partial{path.suffix}")


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], None],
                     overwrite: bool = False, what: str = "file") -> Path:
    """Call `write(temp)` for a temp name in the output folder, then rename it to `path`.

    A failure (disk full, bad data) removes the temp file, so no half-written output is
    ever left under either name; the error becomes an OutputError naming `path`.
    """
    out = Path(path)
    temp = temp_path_for(out)
    try:
        write(temp)
        if out.exists() and not overwrite:
            raise OutputError(f"{out}: already exists (use --overwrite to replace it)")
        os.replace(temp, out)
    except (OSError, ValueError) as error:
        raise OutputError(f"{out}: cannot write {what} ({reason(error)})") from None
    finally:
        if temp.exists():
            temp.unlink()
    return out


#: JPEG (and WebP) quality of image outputs: high enough that a photo survives a round trip.
DEFAULT_JPEG_QUALITY = 95
#: The EXIF tag of the image orientation; outputs hold upright pixels, so it is always 1.
EXIF_ORIENTATION = 0x0112


def image_metadata(source: str | os.PathLike[str] | None) -> dict[str, Any]:
    """What an output keeps of its input image: its RGB colour profile (`icc_profile`), its
    EXIF with Orientation set to 1 (`exif`; arfx reads images upright) and its `dpi`.

    An unreadable source, or one without them, gives what it has (never an error: the
    pixels matter more than the metadata); a CMYK or grey profile is dropped, since the
    output is RGB.
    """
    from PIL import Image

    if source is None:
        return {}
    kept: dict[str, Any] = {}
    try:
        with Image.open(source) as im:
            icc = im.info.get("icc_profile")
            if icc and len(icc) >= 20 and icc[16:20] == b"RGB ":
                kept["icc_profile"] = icc
            if "dpi" in im.info:
                kept["dpi"] = im.info["dpi"]
            exif = im.getexif()
            if len(exif):
                if EXIF_ORIENTATION in exif:
                    exif[EXIF_ORIENTATION] = 1
                kept["exif"] = exif.tobytes()
    except (OSError, ValueError, SyntaxError) as error:
        log.warning("%s: metadata not kept (%s)", source, reason(error))
    return kept


#: Save options each format understands (Pillow's names), beyond the pixels.
_FORMAT_OPTIONS = {"JPEG": ("icc_profile", "exif", "dpi"), "WEBP": ("icc_profile", "exif"),
                   "PNG": ("icc_profile", "exif", "dpi"), "TIFF": ("icc_profile", "exif", "dpi")}


def save_options(fmt: str, metadata: dict[str, Any], quality: int = DEFAULT_JPEG_QUALITY) -> dict[str, Any]:
    """Pillow save options for `fmt`: the metadata it can hold, and the quality for lossy formats
    (JPEG: 4:4:4 chroma at quality 90 and above, so colour edges stay sharp)."""
    options = {key: value for key, value in metadata.items() if key in _FORMAT_OPTIONS.get(fmt, ())}
    if fmt == "JPEG":
        options.update(quality=int(quality), subsampling=0 if quality >= 90 else 2, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=int(quality))
    return options


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, overwrite: bool = False,
                source: str | os.PathLike[str] | None = None,
                quality: int = DEFAULT_JPEG_QUALITY) -> Path:
    """Save an RGB image under a temp name, then rename (never a half-written file).

    The format is the one the name says; JPEG and WebP are written at `quality` (default 95);
    with `source` (the input image) its colour profile, EXIF (Orientation 1) and dpi are kept.
    """
    from PIL import Image

    out = Path(path)
    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None:
        raise OutputError(f"{out}: unsupported image type {out.suffix or '(no suffix)'}")
    if not 1 <= int(quality) <= 100:
        raise OutputError(f"{out}: JPEG quality must be 1 to 100, not {quality}")
    options = save_options(fmt, image_metadata(source), quality)
    return write_atomically(out, lambda temp: Image.fromarray(rgb).save(temp, format=fmt, **options),
                            overwrite, "image")
