"""Output files: checked before any work, written under a temporary name, renamed when complete."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from arfx.errors import OutputError, reason


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


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, overwrite: bool = False) -> Path:
    """Save an RGB image under a temp name, then rename (never a half-written file)."""
    from PIL import Image

    out = Path(path)
    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None:
        raise OutputError(f"{out}: unsupported image type {out.suffix or '(no suffix)'}")
    return write_atomically(out, lambda temp: Image.fromarray(rgb).save(temp, format=fmt),
                            overwrite, "image")
