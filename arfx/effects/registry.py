"""Finding effects (built-in, user folder, --effects-dir), reading their manifests, loading them.

An effect is a folder holding `effect.toml`:

    name = "glasses"            # optional; the folder name otherwise
    kind = "object3d"           # one of arfx.effects.kinds.KINDS
    asset = "glasses.glb"       # the kind's asset file, inside the folder
    anchor = "face.origin"      # where it is worn (arfx.geometry.anchors)
    description = "..."         # optional, free text
    [occlusion]                 # which occluders hide it (the kind's default otherwise)
    face = true
    [placement]                 # the kind's own table (object3d: placement, facepaint:
    offset = [0.0, 0.0, 0.0]    # paint, stack: effects), declared by the kind's module

A bare file dropped into an effects folder becomes the kind that claims its suffix (.glb ->
object3d placed as authored, .png/.jpg -> face paint). A broken user effect is listed with
the reason and never stops the others from loading. Names joined with `+` load a stack
(`glasses+facepaint`).

Manifests are strict: a TOML syntax error, an unknown key (the closest known key is
suggested), a value of the wrong type or range, a table that does not fit the kind, or an
asset path that leaves the effect folder (absolute, `..`, or a symlink pointing outside)
makes the effect BROKEN with that reason. Assets get a cheap check while scanning (the
kind's `check_asset`) and a full one when loaded; `EffectRegistry.verify` (what `arfx list`
shows) loads every effect, so nothing it lists as OK fails to load. The files a loose `.gltf`
names as its own (buffers, textures) are part of it, not effects of their own.
"""

from __future__ import annotations

import difflib
import logging
import os
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from arfx.effects.kinds import KINDS
from arfx.effects.schema import EffectKind, EffectSpec, ManifestError, check_keys, describe
from arfx.errors import EffectError
from arfx.geometry.anchors import FACE_ORIGIN, Anchor, AnchorError
from arfx.render.renderer import OCCLUDERS
from arfx.resources import resource_dir
from arfx.triggers import ACTION_KEYS

log = logging.getLogger(__name__)

MANIFEST = "effect.toml"
STACK_SEPARATOR = "+"


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
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = frozenset({"face"})
    description: str = ""
    trigger: tuple = ()  # arfx.triggers.Trigger: without actions, shown only while one holds

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def debug(self) -> bool:
        """A developer view (mesh, axis, landmarks), not an effect to share."""
        kind = KINDS.get(self.kind)
        return bool(kind and kind.debug)

    def spec(self) -> EffectSpec:
        from arfx.triggers import ShowWhen, TriggerActions

        shows = tuple(t.condition for t in self.trigger if not t.acts)
        acts = any(t.acts for t in self.trigger)  # TriggerActions keeps those triggers
        return EffectSpec(self.name, self.kind, self.asset, self.options, self.anchor, self.occlusion,
                          ShowWhen(shows) if shows else None, TriggerActions(self.trigger) if acts else None)


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
# Every key a manifest may hold at the top level; each kind adds its own table. Unknown
# keys are refused (with the closest known key as a hint): a misspelt `ofset` silently
# ignored would place the object wrongly and leave the user guessing why.
_COMMON_KEYS = ("name", "kind", "asset", "description", "anchor", "occlusion", "trigger")


def _table_owners() -> dict[str, list[str]]:
    """Each kind table's name -> the kinds that read it (object3d and avatar share [placement])."""
    owners: dict[str, list[str]] = {}
    for kind in KINDS.values():
        if kind.table:
            owners.setdefault(kind.table, []).append(kind.name)
    return owners


@dataclass(frozen=True)
class Manifest:
    """A parsed, validated effect.toml (asset still a path relative to the folder)."""

    name: str | None
    kind: str
    asset: str | None
    options: dict
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = frozenset({"face"})
    description: str = ""
    trigger: tuple = ()


def _decode(text: str | bytes) -> dict:
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
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"TOML syntax error: {error}") from error
    except RecursionError as error:  # deeply nested arrays
        raise ManifestError("TOML syntax error: values nested too deeply") from error


def _parse_kind(data: dict) -> EffectKind:
    kind = data.get("kind")
    if kind is None:
        raise ManifestError(f"kind is missing; one of {', '.join(KINDS)}")
    if not isinstance(kind, str) or kind not in KINDS:
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ManifestError(f"kind must be one of {', '.join(KINDS)}, got {describe(kind)}{hint}")
    return KINDS[kind]


def _parse_asset(data: dict, kind: EffectKind) -> str | None:
    asset = data.get("asset")
    if kind.asset_suffixes and not (asset is None and kind.asset_optional):
        if not isinstance(asset, str) or not asset.strip():
            raise ManifestError(f'a {kind.name} effect needs asset = "<file in its folder>"'
                                + ("" if asset is None else f", got {describe(asset)}"))
        if PurePath(asset).suffix.lower() not in kind.asset_suffixes:
            raise ManifestError(f"a {kind.name} asset must be {'/'.join(kind.asset_suffixes)}, not '{asset}'")
    elif asset is not None:
        raise ManifestError(f"a {kind.name} effect has no asset; remove asset = ...")
    return asset


def _parse_placement(data: dict, kind: EffectKind) -> tuple[Anchor, frozenset[str]]:
    """The anchor and the occluders (the kind's defaults where the manifest is silent)."""
    if kind.anchor_entities == ():
        for key in ("anchor", "occlusion"):
            if key in data:
                raise ManifestError(f"a {kind.name} effect has no {key}; set it on its members")
        return FACE_ORIGIN, kind.default_occlusion
    anchor = Anchor.parse(kind.default_anchor)
    if "anchor" in data:
        if not isinstance(data["anchor"], str):
            raise ManifestError(f'anchor must be text like "face.nose_tip", got {describe(data["anchor"])}')
        try:
            anchor = Anchor.parse(data["anchor"])
        except AnchorError as error:
            raise ManifestError(str(error)) from error
        if kind.anchor_entities is not None and anchor.entity not in kind.anchor_entities:
            raise ManifestError(f"a {kind.name} effect is drawn on the {' or '.join(kind.anchor_entities)} "
                                f"mesh; anchor '{anchor}' does not apply")
    occlusion = set(kind.default_occlusion)
    if anchor.entity == "hand":
        occlusion.discard("hands")  # a ring on a finger is not hidden by that finger
    table = data.get("occlusion", {})
    if not isinstance(table, dict):
        raise ManifestError(f"[occlusion] must be a table, got {describe(table)}")
    check_keys(table, tuple(OCCLUDERS), "in [occlusion]")
    for name, value in table.items():
        if not isinstance(value, bool):
            raise ManifestError(f"occlusion.{name} must be true or false, got {describe(value)}")
        (occlusion.add if value else occlusion.discard)(name)
    return anchor, frozenset(occlusion)


def parse_manifest(text: str | bytes) -> Manifest:
    """Parse and validate the text of an effect.toml; ManifestError says what is wrong."""
    data = _decode(text)
    owners = _table_owners()
    check_keys(data, _COMMON_KEYS + tuple(owners), "at the top level")

    name = data.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise ManifestError(f"name must be text, got {describe(name)}")
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise ManifestError(f"name must be 1 to {MAX_NAME_LENGTH} printable characters")
        if STACK_SEPARATOR in name:
            raise ManifestError(f"name must not contain '{STACK_SEPARATOR}' (it joins stacked effects)")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ManifestError(f"description must be text, got {describe(description)}")
    kind = _parse_kind(data)
    asset = _parse_asset(data, kind)
    for table, owner in owners.items():
        if table not in data:
            continue
        if not isinstance(data[table], dict):
            raise ManifestError(f"[{table}] must be a table, got {describe(data[table])}")
        if kind.name not in owner:
            raise ManifestError(f"[{table}] applies to {' and '.join(owner)} effects only, not {kind.name}")
    options = kind.parse_table(data.get(kind.table, {})) if kind.table else {}
    anchor, occlusion = _parse_placement(data, kind)
    return Manifest(name, kind.name, asset, options, anchor, occlusion, description, _parse_trigger(data))


def _parse_trigger(data: dict) -> tuple:
    """[[trigger]] tables: `when = "jawOpen > 0.5"` (a face's score) or `"gesture == pinch"` (a
    hand's), and optional actions (arfx.triggers.Trigger)."""
    from arfx.triggers import Trigger

    tables = data.get("trigger", [])
    if isinstance(tables, dict):
        tables = [tables]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ManifestError(f'trigger must be [[trigger]] tables with when = "...", got {describe(tables)}')
    return tuple(Trigger.parse(table) for table in tables)


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
    checker = KINDS[kind].check_asset
    if checker is not None:
        checker(asset)


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
        # Images that trigger actions name (texture, burst sprite) obey the asset rules too.
        parsed = replace(parsed, trigger=tuple(t.resolved(lambda image: resolve_asset(folder, image))
                                               for t in parsed.trigger))
    except ManifestError as error:
        return EffectInfo(name, kind, source, folder, broken=f"{MANIFEST}: {error}")
    if asset is not None:
        try:
            check_asset(kind, asset)
        except EffectError as error:
            return EffectInfo(name, kind, source, folder, asset, parsed.options, str(error), parsed.anchor,
                              parsed.occlusion, parsed.description, parsed.trigger)
    return EffectInfo(name, kind, source, folder, asset, parsed.options, None, parsed.anchor,
                      parsed.occlusion, parsed.description, parsed.trigger)


def _bare_asset(path: Path, source: str) -> EffectInfo | None:
    suffix = path.suffix.lower()
    kind = next((k for k in KINDS.values() if suffix in k.bare_suffixes), None)
    if kind is None:
        return None
    options = kind.parse_table({}) if kind.table else {}
    info = EffectInfo(path.stem, kind.name, source, path, path, options,
                      occlusion=kind.default_occlusion)
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
    from arfx.render.gltf import referenced_files

    owned = set()  # a loose .gltf's buffers and textures belong to it
    for entry in entries:
        if entry.suffix.lower() == ".gltf" and entry.is_file():
            owned |= referenced_files(entry)
    for entry in entries:
        if entry.name.startswith(".") or (owned and entry.resolve() in owned):
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

    def verify(self) -> list[EffectInfo]:
        """`all()` after loading every effect once (the checks `load` makes, not only the
        cheap ones of the scan): those that fail are marked broken with the reason."""
        for info in list(self._all):
            if info.ok and any(item is info for item in self._all):  # not marked while loading a stack
                try:
                    create_effect(info, lambda member, info=info: self.load(member, (info.name,)))
                except EffectError as error:
                    self._mark_broken(info, error)
        return self.all()

    def _mark_broken(self, info: EffectInfo, error: EffectError) -> EffectInfo:
        reason = str(error)
        prefix = f"effect '{info.name}' ({info.path}): "
        broken = replace(info, broken=reason[len(prefix):] if reason.startswith(prefix) else reason)
        self._all = [broken if item is info else item for item in self._all]
        return broken

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

    def load(self, name: str, _chain: tuple[str, ...] = ()):
        """The effect object for `name` (names joined with '+' make a stack), ready to render."""
        if STACK_SEPARATOR in name:
            from arfx.effects.stack import EffectStack

            parts = [part.strip() for part in name.split(STACK_SEPARATOR)]
            if not all(parts):
                raise EffectError(f"'{name}': an empty effect name in a stack; write e.g. glasses+facepaint")
            return EffectStack(name, [self.load(part, _chain) for part in parts])
        info = self.info(name)
        if info.broken:
            raise EffectError(f"effect '{name}' ({info.path}) is broken: {info.broken}")
        if info.name in _chain:
            raise EffectError(f"effect '{info.name}' includes itself ({' -> '.join(_chain + (info.name,))}); "
                              "remove it from its stack")
        try:
            return create_effect(info, lambda member: self.load(member, _chain + (info.name,)))
        except EffectError as error:
            # Found broken only now (the scan's checks are cheap): as in `effects()`, a
            # broken effect does not hide a working one of the same name.
            self._mark_broken(info, error)
            fallback = self.effects().get(name)
            if fallback is None or not fallback.ok or fallback is info:
                raise
            log.warning("%s; using the %s one (%s)", error, fallback.source, fallback.path)
            return self.load(name, _chain)


def create_effect(info: EffectInfo, load=None):
    """Build the effect described by `info` (reads its asset files); `load` resolves names
    that a stack refers to (the registry's loader)."""
    kind = KINDS.get(info.kind)
    if kind is None:
        raise EffectError(f"effect '{info.name}' has unknown kind '{info.kind}'")

    def no_loader(member: str):
        raise EffectError(f"effect '{info.name}' refers to '{member}'; load it through an EffectRegistry")

    try:
        spec = info.spec()
        effect = kind.build(spec, load or no_loader)
        if spec.trigger is not None:
            effect.trigger = spec.trigger  # the renderer draws it only where the trigger holds
        if spec.actions is not None:
            if not hasattr(effect, "use_actions"):
                raise EffectError(f"[[trigger]] actions ({', '.join(ACTION_KEYS)}) act on the parts of a 3D "
                                  f"effect, not a {info.kind} one; keep only when = ... to show it")
            effect.use_actions(spec.actions)  # checks part, clip and image names
        return effect
    except EffectError as error:
        if str(error).startswith(f"effect '{info.name}'"):
            raise
        raise EffectError(f"effect '{info.name}' ({info.path}): {error}") from error


def load_effect_path(path: str | os.PathLike[str], effects_dirs=()) -> object:
    """The effect in one folder (with an effect.toml) or one bare asset file, wherever it lies."""
    path = Path(path).expanduser()
    if path.is_dir() and (path / MANIFEST).is_file():
        info = _read_manifest(path, "dir")
    elif path.is_file():
        info = _bare_asset(path, "dir")
        if info is None:
            suffixes = sorted({s for kind in KINDS.values() for s in kind.bare_suffixes})
            raise EffectError(f"{path}: not an effect file ({', '.join(suffixes)}) or a folder with {MANIFEST}")
    else:
        raise EffectError(f"{path}: no such effect file or folder with {MANIFEST}")
    if info.broken:
        raise EffectError(f"effect '{info.name}' ({path}) is broken: {info.broken}")
    registry = EffectRegistry(effects_dirs)
    return create_effect(info, lambda member: registry.load(member, (info.name,)))


def load_effect(name: str, effects_dirs=()) -> object:
    """Shortcut: the effect `name` (or `a+b` stack) from every effects source."""
    return EffectRegistry(effects_dirs).load(name)
