"""Locating arfx's data folders (models/, shaders/, assets/) in a checkout or an install."""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """Return the folder `name` ("models", "shaders", "assets").

    A source checkout (or editable install) has it beside the package; a wheel install
    puts it under <prefix>/share/arfx (the user base for `pip install --user`).
    `ARFX_<NAME>_DIR` overrides them all.
    """
    override = os.environ.get(f"ARFX_{name.upper()}_DIR")
    if override:
        return Path(override)
    candidates = [_CHECKOUT_ROOT / name, Path(sys.prefix) / "share" / "arfx" / name,
                  Path(site.getuserbase()) / "share" / "arfx" / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]
