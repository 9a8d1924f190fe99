"""What an effect kind declares (`EffectKind`) and the checked value types its manifest table uses.

Each effect kind is one module that defines `KIND = EffectKind(...)`: its name, the asset
files it takes, its own `effect.toml` table with typed fields, and a `build` function that
makes the effect from a parsed manifest. arfx.effects.kinds lists the kinds; the registry
reads manifests through these declarations and never names a kind itself.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from arfx.errors import EffectError


class ManifestError(EffectError):
    """effect.toml cannot be used; the message says which key and why."""


def describe(value: Any) -> str:
    """A short rendering of a manifest value for error messages."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, list):
        if len(value) <= 4 and all(isinstance(v, (int, float, bool)) for v in value):
            return "[" + ", ".join(describe(v).split(" (")[0] for v in value) + "]"
        return f"a list of {len(value)} values"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_keys(table: dict, allowed: Sequence[str], where: str) -> None:
    """ManifestError for the first key not in `allowed`, with the closest known key as a hint."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ManifestError(f"unknown key '{key}' {where}{hint}; allowed: {', '.join(allowed)}")


# -- field types: (value, "table.key") -> parsed value, or ManifestError -------------------

def numbers(length: int, allow_scalar: bool = False, positive: bool = False
            ) -> Callable[[Any, str], list[float]]:
    """`length` finite numbers (or one number repeated, with allow_scalar)."""
    def parse(value: Any, what: str) -> list[float]:
        if allow_scalar and is_number(value):
            result = [float(value)] * length
        elif isinstance(value, list) and len(value) == length and all(is_number(v) for v in value):
            result = [float(v) for v in value]
        else:
            expected = f"a number or {length} numbers" if allow_scalar else f"{length} numbers"
            raise ManifestError(f"{what} must be {expected}, got {describe(value)}")
        if positive and min(result) <= 0:
            raise ManifestError(f"{what} must be positive, got {describe(value)}")
        return result
    return parse


def number_in(low: float, high: float) -> Callable[[Any, str], float]:
    def parse(value: Any, what: str) -> float:
        if not is_number(value) or not low <= value <= high:
            raise ManifestError(f"{what} must be a number from {low:g} to {high:g}, got {describe(value)}")
        return float(value)
    return parse


def one_of(choices: Sequence[str]) -> Callable[[Any, str], str]:
    def parse(value: Any, what: str) -> str:
        if value not in choices:
            raise ManifestError(f"{what} must be one of {', '.join(choices)}, got {describe(value)}")
        return str(value)
    return parse


def names_list(value: Any, what: str) -> list[str]:
    """A non-empty list of effect names."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v.strip() for v in value)):
        raise ManifestError(f"{what} must be a list of effect names, got {describe(value)}")
    return [v.strip() for v in value]


@dataclass(frozen=True)
class Field:
    """One key of a kind's table: its default and how its value is checked."""

    key: str
    default: Any
    parse: Callable[[Any, str], Any]


@dataclass(frozen=True)
class EffectKind:
    """An effect kind: how its manifest reads and how its effect is built.

    name: the `kind = "..."` value. table: the kind's own effect.toml table (e.g.
    "placement"), with `fields`. asset_suffixes: the asset files it takes (empty: no asset);
    a bare file with one of `bare_suffixes` dropped into an effects folder becomes this kind.
    check_asset: a cheap header check used while listing. build(spec, load): the effect,
    where `load(name)` loads another effect (for kinds that combine effects).
    anchor_entities: which anchors it accepts ("face" only for mesh-bound kinds; None: any;
    empty: the kind takes no anchor or [occlusion], e.g. a stack). default_occlusion: the
    occluders that hide it unless its [occlusion] table says otherwise.
    debug: a developer view, marked as such in `arfx list`.
    """

    name: str
    build: Callable[["EffectSpec", Callable[[str], Any]], Any]
    description: str = ""
    table: str | None = None
    fields: tuple[Field, ...] = ()
    asset_suffixes: tuple[str, ...] = ()
    asset_optional: bool = False
    bare_suffixes: tuple[str, ...] = ()
    check_asset: Callable[[Path], None] | None = None
    anchor_entities: tuple[str, ...] | None = ("face",)
    default_occlusion: frozenset[str] = frozenset({"face"})
    default_anchor: str = "face.origin"
    debug: bool = False

    def parse_table(self, table: dict) -> dict:
        """The kind's options from its table (defaults filled in), checked field by field."""
        known = [f.key for f in self.fields]
        check_keys(table, known, f"in [{self.table}]")
        return {f.key: f.parse(table.get(f.key, f.default), f"{self.table}.{f.key}") for f in self.fields}


@dataclass(frozen=True)
class EffectSpec:
    """A parsed manifest (or bare asset), ready to build: what `EffectKind.build` receives."""

    name: str
    kind: str
    asset: Path | None = None
    options: dict = field(default_factory=dict, compare=False, hash=False)
    anchor: Any = None  # arfx.geometry.anchors.Anchor
    occlusion: frozenset[str] = frozenset({"face"})
    trigger: Any = None  # arfx.triggers.ShowWhen, or None: always shown
    actions: Any = None  # arfx.triggers.TriggerActions: what triggers do to its parts, or None
