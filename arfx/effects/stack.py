"""A stack: several effects drawn in order on every face (e.g. glasses over face paint)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arfx.effects.schema import EffectKind, EffectSpec, Field, names_list


@dataclass(eq=False)
class EffectStack:
    """Effects drawn one after another; the renderer flattens nested stacks."""

    name: str
    effects: list[Any] = field(default_factory=list)
    kind: str = "stack"


def _build(spec: EffectSpec, load) -> EffectStack:
    return EffectStack(spec.name, [load(name) for name in spec.options["effects"]])


KIND = EffectKind("stack", _build, "several effects drawn in order", table="stack",
                  fields=(Field("effects", None, names_list),), anchor_entities=(),
                  default_occlusion=frozenset())
