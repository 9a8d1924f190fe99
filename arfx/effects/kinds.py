"""The effect kinds arfx knows, by name: adding a kind is one module with a `KIND` and one line here."""

from __future__ import annotations

from arfx.effects import avatar, background, debug, dense, facepaint, faceswap, object3d, stack
from arfx.effects.schema import EffectKind

KINDS: dict[str, EffectKind] = {kind.name: kind for kind in (
    object3d.KIND,
    avatar.KIND,
    facepaint.KIND,
    faceswap.KIND,
    stack.KIND,
    background.KIND,
    debug.MESH_KIND,
    debug.AXIS_KIND,
    debug.LANDMARKS_KIND,
    debug.HANDS_KIND,
    debug.POSE_KIND,
    dense.POSEBOX_KIND,
    dense.DEPTH_KIND,
    dense.NORMALS_KIND,
    dense.SPARSE68_KIND,
)}
