"""Finding effects (built-in, user folder, --effects-dir), reading their manifests, loading them.

An effect is a folder holding `effect.toml`:

    name = "glasses"            # optional; the folder name otherwise
    kind = "object3d"           # object3d | facepaint | mesh | axis | landmarks
    asset = "glasses.glb"       # object3d: .glb/.gltf; facepaint: .png/.jpg
    [placement]                 # object3d only, canonical face space (cm, degrees)
    offset = [0.0, 0.0, 0.0]
    scale = 1.0                 # or [sx, sy, sz]
    rotation = [0.0, 0.0, 0.0]  # about x, then y, then z
    [paint]                     # facepaint only
    blend = "normal"            # normal | multiply | add
    opacity = 1.0

A bare `.glb` dropped into an effects folder is an object3d effect placed as authored; a bare
`.png`/`.jpg` is a face paint effect. A broken user effect is listed with the reason and
never stops the others from loading.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from arfx.errors import EffectError
from arfx.resources import resource_dir

log = logging.getLogger(__name__)

MANIFEST = "effect.toml"
KINDS = ("object3d", "facepaint", "mesh", "axis", "landmarks")
MODEL_SUFFIXES = (".glb", ".gltf")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SOURCES = ("built-in", "user", "dir")


@dataclass(frozen=True)
class EffectInfo:
    """What `arfx list` shows about one effect, and what loading it needs."""

    name: str
    kind: str
    source: str  # "built-in", "user" or "dir"
    path: Path  # the effect's folder, or the bare asset file
    asset: Path | None = None
    options: dict = field(default_factory=dict, compare=False, hash=False)
    broken: str | None = None  # why it cannot load; None when it looks fine

    @property
    def ok(self) -> bool:
        return self.broken is None


def user_effects_dir() -> Path:
    """$ARFX_EFFECTS, else ~/.config/arfx/effects (XDG_CONFIG_HOME respected)."""
    override = os.environ.get("ARFX_EFFECTS")
    if override:
        return Path(override).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "arfx" / "effects"


def builtin_effects_dir() -> Path:
    return resource_dir("assets") / "effects"


def _number_list(value, length: int, what: str) -> list[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)] * length
    if (isinstance(value, list) and len(value) == length
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return [float(v) for v in value]
    raise ValueError(f"{what} must be {length} numbers")


def _read_manifest(folder: Path, source: str) -> EffectInfo:
    manifest = folder / MANIFEST
    name = folder.name
    try:
        with open(manifest, "rb") as handle:
            data = tomllib.load(handle)
        name = str(data.get("name", folder.name)).strip() or folder.name
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
        options: dict = {}
        asset = None
        if kind in ("object3d", "facepaint"):
            if not isinstance(data.get("asset"), str):
                raise ValueError("needs asset = \"<file>\"")
            asset = folder / data["asset"]
            suffixes = MODEL_SUFFIXES if kind == "object3d" else IMAGE_SUFFIXES
            if asset.suffix.lower() not in suffixes:
                raise ValueError(f"a {kind} asset must be {'/'.join(suffixes)}, not {asset.name}")
            if not asset.is_file():
                raise ValueError(f"asset {asset.name} is missing")
        if kind == "object3d":
            placement = data.get("placement", {})
            if not isinstance(placement, dict):
                raise ValueError("[placement] must be a table")
            options["offset"] = _number_list(placement.get("offset", [0, 0, 0]), 3, "placement.offset")
            options["scale"] = _number_list(placement.get("scale", 1.0), 3, "placement.scale")
            options["rotation"] = _number_list(placement.get("rotation", [0, 0, 0]), 3,
                                               "placement.rotation")
            if min(options["scale"]) <= 0:
                raise ValueError("placement.scale must be positive")
        elif kind == "facepaint":
            paint = data.get("paint", {})
            if not isinstance(paint, dict):
                raise ValueError("[paint] must be a table")
            from arfx.effects.facepaint import BLEND_MODES

            blend = paint.get("blend", "normal")
            if blend not in BLEND_MODES:
                raise ValueError(f"paint.blend must be one of {', '.join(BLEND_MODES)}")
            opacity = paint.get("opacity", 1.0)
            if not isinstance(opacity, (int, float)) or not 0 <= opacity <= 1:
                raise ValueError("paint.opacity must be a number from 0 to 1")
            options.update(blend=blend, opacity=float(opacity))
        return EffectInfo(name, kind, source, folder, asset, options)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as error:
        return EffectInfo(name, "?", source, folder, broken=f"{MANIFEST}: {error}")


def _bare_asset(path: Path, source: str) -> EffectInfo | None:
    suffix = path.suffix.lower()
    if suffix in MODEL_SUFFIXES:
        return EffectInfo(path.stem, "object3d", source, path, path,
                          {"offset": [0.0] * 3, "scale": [1.0] * 3, "rotation": [0.0] * 3})
    if suffix in IMAGE_SUFFIXES:
        return EffectInfo(path.stem, "facepaint", source, path, path, {"blend": "normal", "opacity": 1.0})
    return None


def scan_folder(folder: Path, source: str) -> list[EffectInfo]:
    """Effects directly inside `folder` (sub-folders with a manifest, bare assets)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return []
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        log.warning("cannot read effects folder %s: %s", folder, error)
        return []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if (entry / MANIFEST).is_file():
                found.append(_read_manifest(entry, source))
        elif entry.is_file():
            info = _bare_asset(entry, source)
            if info is not None:
                found.append(info)
    return found


class EffectRegistry:
    """All effects arfx can find; later sources win a name (dir > user > built-in)."""

    def __init__(self, effects_dirs=(), user_dir: Path | None = None, builtin_dir: Path | None = None,
                 include_user: bool = True):
        self.builtin_dir = Path(builtin_dir) if builtin_dir else builtin_effects_dir()
        self.user_dir = (Path(user_dir) if user_dir else user_effects_dir()) if include_user else None
        self.effects_dirs = [Path(d) for d in effects_dirs]
        for folder in self.effects_dirs:
            if not folder.is_dir():
                raise EffectError(f"effects folder {folder} does not exist")
        self._all = self._scan()

    def _scan(self) -> list[EffectInfo]:
        found = scan_folder(self.builtin_dir, "built-in")
        if self.user_dir is not None:
            found += scan_folder(self.user_dir, "user")
        for folder in self.effects_dirs:
            found += scan_folder(folder, "dir")
        return found

    def all(self) -> list[EffectInfo]:
        """Every effect found, shadowed and broken ones included, in discovery order."""
        return list(self._all)

    def effects(self) -> dict[str, EffectInfo]:
        """Name -> the effect that name loads (the last source wins)."""
        by_name: dict[str, EffectInfo] = {}
        for info in self._all:
            by_name[info.name] = info
        return by_name

    def names(self) -> list[str]:
        return sorted(self.effects())

    def info(self, name: str) -> EffectInfo:
        effects = self.effects()
        if name not in effects:
            close = difflib.get_close_matches(name, list(effects), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise EffectError(f"unknown effect '{name}'; {hint}see `arfx list`")
        return effects[name]

    def load(self, name: str):
        """The effect object for `name`, ready for Renderer.render."""
        info = self.info(name)
        if info.broken:
            raise EffectError(f"effect '{name}' ({info.path}) is broken: {info.broken}")
        return create_effect(info)


def create_effect(info: EffectInfo):
    """Build the effect described by `info` (reads its asset files)."""
    from arfx.effects.debug import LandmarksEffect, MeshEffect, axis_effect
    from arfx.effects.facepaint import FacePaintEffect
    from arfx.effects.object3d import Object3DEffect

    try:
        if info.kind == "object3d":
            return Object3DEffect.from_file(info.name, info.asset, **info.options)
        if info.kind == "facepaint":
            return FacePaintEffect.from_file(info.name, info.asset, **info.options)
        if info.kind == "mesh":
            return MeshEffect(name=info.name)
        if info.kind == "axis":
            return axis_effect(info.name)
        if info.kind == "landmarks":
            return LandmarksEffect(name=info.name)
    except EffectError as error:
        raise EffectError(f"effect '{info.name}' ({info.path}): {error}") from error
    raise EffectError(f"effect '{info.name}' has unknown kind '{info.kind}'")


def load_effect(name: str, effects_dirs=()) -> object:
    """Shortcut: the effect `name` from every effects source."""
    return EffectRegistry(effects_dirs).load(name)
