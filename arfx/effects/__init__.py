"""Effects: what gets drawn on each tracked face (3D objects, face paint, stacks, debug views),
the kinds table, and the registry that finds them."""

from __future__ import annotations

from typing import Any

__all__ = ["EffectInfo", "EffectRegistry", "create_effect", "load_effect"]


def __getattr__(name: str) -> Any:
    # Lazy, so that a kind module importing arfx.effects.schema does not import the registry
    # (which imports every kind) half-way through its own import.
    if name in __all__:
        from arfx.effects import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'arfx.effects' has no attribute '{name}'")
