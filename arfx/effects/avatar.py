"""Avatars: a GLB head worn over the face whose morph targets follow the face's expressions.

Morph targets named after the ARKit / MediaPipe blendshapes (`jawOpen`, `eyeBlinkLeft`, ...,
the names of arfx.geometry.expressions; glTF's `extras.targetNames`) are driven by the tracked
face's expression scores every frame; the head pose comes from the tracker like any 3D object.
Targets with other names stay at the file's weights; `arfx list` names them in the description.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arfx.effects import object3d
from arfx.effects.object3d import Object3DEffect, Object3DPass
from arfx.effects.schema import EffectKind, EffectSpec
from arfx.errors import EffectError

log = logging.getLogger(__name__)


def morph_target_names(path: str | Path) -> dict[int, list[str]]:
    """glTF node index -> its mesh's morph target names (`extras.targetNames`), from a .glb/.gltf."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] == b"glTF":
        length, kind = struct.unpack_from("<II", data, 12)
        if kind != 0x4E4F534A:
            raise EffectError(f"{path}: the GLB's first chunk is not JSON")
        tree = json.loads(data[20:20 + length])
    else:
        tree = json.loads(data)
    meshes = tree.get("meshes", [])
    names = {}
    for index, node in enumerate(tree.get("nodes", [])):
        mesh = node.get("mesh")
        if isinstance(mesh, int) and 0 <= mesh < len(meshes):
            found = (meshes[mesh].get("extras") or {}).get("targetNames")
            if isinstance(found, list):
                names[index] = [str(name) for name in found]
    return names


@dataclass(eq=False)
class AvatarEffect(Object3DEffect):
    """An Object3DEffect whose named morph targets follow each face's expression scores."""

    target_names: dict = field(default_factory=dict)  # node -> [name per morph target]
    kind: str = "avatar"

    def create_pass(self, renderer) -> "AvatarPass":
        return AvatarPass(self, renderer)


class AvatarPass(Object3DPass):
    def _posed(self, face) -> None:
        """The file's own animation (or a trigger's clip) is posed; the expressions set the weights."""
        from arfx.render.gltf_load import _morphed

        expressions = getattr(face, "expressions", {}) or {}
        for mesh in self.meshes:
            names = self.effect.target_names.get(mesh.data.node)
            if mesh.data.morph_positions is None or not names:
                continue
            weights = np.array(mesh.data.morph_weights if mesh.data.morph_weights is not None
                               else np.zeros(len(names)), dtype=np.float32)
            for t, name in enumerate(names[: len(weights)]):
                if name in expressions:
                    weights[t] = float(expressions[name])
            mesh.update_vertices(_morphed(mesh.data, weights))


def _build(spec: EffectSpec, load) -> AvatarEffect:
    from arfx.geometry.expressions import EXPRESSION_NAMES

    base = object3d._build(spec, load)
    names = morph_target_names(spec.asset)
    driven = sorted({n for targets in names.values() for n in targets if n in EXPRESSION_NAMES})
    ignored = sorted({n for targets in names.values() for n in targets if n not in EXPRESSION_NAMES})
    if not driven:
        raise EffectError(f"{spec.asset.name} has no morph targets named after expressions "
                          f"(e.g. jawOpen, eyeBlinkLeft); name them in the mesh's extras.targetNames")
    if ignored:
        log.info("avatar '%s': morph targets not driven (no such expression): %s", spec.name, ", ".join(ignored))
    fields = {name: getattr(base, name) for name in ("name", "meshes", "placement", "anchor", "occlusion",
                                                     "model", "animation")}
    return AvatarEffect(**fields, target_names=names)


KIND = EffectKind(
    "avatar", _build, "a GLB head whose morph targets (named after blendshapes) follow the face",
    table="placement", fields=object3d.KIND.fields, asset_suffixes=(".glb", ".gltf"),
    check_asset=object3d.KIND.check_asset, anchor_entities=("face",),
    default_occlusion=frozenset({"hands"}))
