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

    description = "..."         # optional, free text

A bare `.glb` dropped into an effects folder is an object3d effect placed as authored; a bare
`.png`/`.jpg` is a face paint effect. A broken user effect is listed with the reason and
never stops the others from loading.

Manifests are strict: a TOML syntax error, an unknown key (the closest known key is
suggested), a value of the wrong type or range, a table that does not fit the kind, or an
asset path that leaves the effect folder (absolute, `..`, or a symlink pointing outside)
makes the effect BROKEN with that reason. Assets get a cheap check while scanning (GLB/glTF
header and JSON: triangle limit, references; image header: pixel limit; see
arfx.render.gltf.inspect_model and arfx.render.texture) and a full one when loaded.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

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


MAX_MANIFEST_BYTES = 64 * 1024
MAX_NAME_LENGTH = 64
# Every key a manifest may hold, per table. Unknown keys are refused (with the closest known
# key as a hint): a misspelt `ofset` silently ignored would place the object wrongly and
# leave the user guessing why.
_TOP_KEYS = ("name", "kind", "asset", "description", "placement", "paint")
_TABLE_KEYS = {"placement": ("offset", "scale", "rotation"), "paint": ("blend", "opacity")}
_TABLE_KINDS = {"placement": "object3d", "paint": "facepaint"}


class ManifestError(EffectError):
    """effect.toml cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Manifest:
    """A parsed, validated effect.toml (asset still a path relative to the folder)."""

    name: str | None
    kind: str
    asset: str | None
    options: dict


def _describe(value) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, list):
        if len(value) <= 4 and all(isinstance(v, (int, float, bool)) for v in value):
            return "[" + ", ".join(_describe(v).split(" (")[0] for v in value) + "]"
        return f"a list of {len(value)} values"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number_list(value, length: int, what: str, allow_scalar: bool = False) -> list[float]:
    if allow_scalar and _is_number(value):
        return [float(value)] * length
    if isinstance(value, list) and len(value) == length and all(_is_number(v) for v in value):
        return [float(v) for v in value]
    expected = f"a number or {length} numbers" if allow_scalar else f"{length} numbers"
    raise ManifestError(f"{what} must be {expected}, got {_describe(value)}")


def _check_keys(table: dict, allowed, where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ManifestError(f"unknown key '{key}' {where}{hint}; "
                                f"allowed: {', '.join(allowed)}")


def parse_manifest(text: str | bytes) -> Manifest:
    """Parse and validate the text of an effect.toml; ManifestError says what is wrong."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"it is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ManifestError(f"it is not UTF-8 text (byte {error.start})") from error
    if len(text) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"it is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"TOML syntax error: {error}") from error
    except RecursionError as error:  # deeply nested arrays
        raise ManifestError("TOML syntax error: values nested too deeply") from error
    _check_keys(data, _TOP_KEYS, "at the top level")

    name = data.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise ManifestError(f"name must be text, got {_describe(name)}")
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise ManifestError(f"name must be 1 to {MAX_NAME_LENGTH} printable characters")
    if "description" in data and not isinstance(data["description"], str):
        raise ManifestError(f"description must be text, got {_describe(data['description'])}")
    kind = data.get("kind")
    if kind is None:
        raise ManifestError(f"kind is missing; one of {', '.join(KINDS)}")
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ManifestError(f"kind must be one of {', '.join(KINDS)}, got {_describe(kind)}{hint}")
    asset = data.get("asset")
    if kind in ("object3d", "facepaint"):
        if not isinstance(asset, str) or not asset.strip():
            raise ManifestError(f'a {kind} effect needs asset = "<file in its folder>"'
                                + ("" if asset is None else f", got {_describe(asset)}"))
        suffixes = MODEL_SUFFIXES if kind == "object3d" else IMAGE_SUFFIXES
        if PurePath(asset).suffix.lower() not in suffixes:
            raise ManifestError(f"a {kind} asset must be {'/'.join(suffixes)}, not '{asset}'")
    elif asset is not None:
        raise ManifestError(f"a {kind} effect has no asset; remove asset = ...")
    for table, owner in _TABLE_KINDS.items():
        if table not in data:
            continue
        if not isinstance(data[table], dict):
            raise ManifestError(f"[{table}] must be a table, got {_describe(data[table])}")
        if kind != owner:
            raise ManifestError(f"[{table}] applies to {owner} effects only, not {kind}")
        _check_keys(data[table], _TABLE_KEYS[table], f"in [{table}]")

    options: dict = {}
    if kind == "object3d":
        placement = data.get("placement", {})
        options["offset"] = _number_list(placement.get("offset", [0, 0, 0]), 3, "placement.offset")
        options["scale"] = _number_list(placement.get("scale", 1.0), 3, "placement.scale",
                                        allow_scalar=True)
        options["rotation"] = _number_list(placement.get("rotation", [0, 0, 0]), 3,
                                           "placement.rotation")
        if min(options["scale"]) <= 0:
            raise ManifestError(f"placement.scale must be positive, got {placement.get('scale')!r}")
    elif kind == "facepaint":
        from arfx.effects.facepaint import BLEND_MODES

        paint = data.get("paint", {})
        blend = paint.get("blend", "normal")
        if blend not in BLEND_MODES:
            raise ManifestError(f"paint.blend must be one of {', '.join(BLEND_MODES)}, "
                                f"got {_describe(blend)}")
        opacity = paint.get("opacity", 1.0)
        if not _is_number(opacity) or not 0 <= opacity <= 1:
            raise ManifestError(f"paint.opacity must be a number from 0 to 1, got {_describe(opacity)}")
        options.update(blend=blend, opacity=float(opacity))
    return Manifest(name, kind, asset, options)


def resolve_asset(folder: Path, asset: str) -> Path:
    """The asset file named in a manifest, refused unless it lies inside the effect folder.

    Refuses absolute paths, `..` that climbs out, and symlinks whose target is outside.
    """
    if "\x00" in asset:
        raise ManifestError("asset must be a file name, not text with a NUL character")
    relative = PurePath(asset)
    if relative.is_absolute() or relative.drive or asset.startswith("~"):
        raise ManifestError(f"asset '{asset}' must be a path inside the effect folder, "
                            "not an absolute path")
    try:
        root = folder.resolve()
        target = (folder / relative).resolve()
        inside = target.is_relative_to(root)
        present = inside and target.is_file()
    except (OSError, RuntimeError) as error:  # name too long, symlink loop
        raise ManifestError(f"asset '{asset}' cannot be looked up ({error})") from error
    if not inside:
        how = "through a symlink " if ".." not in relative.parts else ""
        raise ManifestError(f"asset '{asset}' points {how}outside the effect folder {folder}; "
                            "copy the file into the folder")
    if not present:
        raise ManifestError(f"asset '{asset}' is missing from {folder}")
    return folder / relative


def check_asset(kind: str, asset: Path) -> None:
    """Cheap header-only checks of an effect's asset (no geometry built, no pixels decoded)."""
    if kind == "object3d":
        from arfx.render.gltf import inspect_model

        inspect_model(asset)
    elif kind == "facepaint":
        from arfx.render.texture import check_texture_file

        check_texture_file(asset, f"face paint texture {asset}")


def _read_manifest(folder: Path, source: str) -> EffectInfo:
    manifest = folder / MANIFEST
    name = folder.name
    kind = "?"
    try:
        try:
            with open(manifest, "rb") as handle:
                raw = handle.read(MAX_MANIFEST_BYTES + 1)
        except OSError as error:
            raise ManifestError(f"cannot be read ({error.strerror or error})") from error
        parsed = parse_manifest(raw)
        name = parsed.name or folder.name
        kind = parsed.kind
        asset = resolve_asset(folder, parsed.asset) if parsed.asset is not None else None
    except ManifestError as error:
        return EffectInfo(name, kind, source, folder, broken=f"{MANIFEST}: {error}")
    if asset is not None:
        try:
            check_asset(kind, asset)
        except EffectError as error:
            return EffectInfo(name, kind, source, folder, asset, parsed.options, broken=str(error))
    return EffectInfo(name, kind, source, folder, asset, parsed.options)


def _bare_asset(path: Path, source: str) -> EffectInfo | None:
    suffix = path.suffix.lower()
    if suffix in MODEL_SUFFIXES:
        info = EffectInfo(path.stem, "object3d", source, path, path,
                          {"offset": [0.0] * 3, "scale": [1.0] * 3, "rotation": [0.0] * 3})
    elif suffix in IMAGE_SUFFIXES:
        info = EffectInfo(path.stem, "facepaint", source, path, path,
                          {"blend": "normal", "opacity": 1.0})
    else:
        return None
    try:
        check_asset(info.kind, path)
    except EffectError as error:
        return replace(info, broken=str(error))
    return info


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
    """All effects arfx can find; later sources win a name (dir > user > built-in).

    A broken effect wins a name only when no working effect has it.
    """

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
            # A broken effect never hides a working one of the same name (a faulty user
            # copy of `glasses` leaves the built-in glasses usable); it is still listed.
            if info.ok or info.name not in by_name or not by_name[info.name].ok:
                by_name[info.name] = info
        return by_name

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
