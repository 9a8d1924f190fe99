"""Effects: what gets drawn on each face (3D objects, face paint, debug views) and where they come from."""

from arfx.effects.registry import EffectInfo, EffectRegistry, create_effect, load_effect

__all__ = ["EffectInfo", "EffectRegistry", "create_effect", "load_effect"]
