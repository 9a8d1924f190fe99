"""A 3D object (GLB) attached to the head: placed in canonical face space, moved by the pose."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes
from arfx.render.gltf import GpuMesh, MeshData, load_glb
from arfx.effects.schema import EffectKind, EffectSpec, Field, numbers
from arfx.render.renderer import DEFAULT_OCCLUSION, FrameState

log = logging.getLogger(__name__)

_ALPHA_CODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}


def placement_matrix(offset=(0.0, 0.0, 0.0), scale=1.0, rotation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Asset space -> canonical face space: translate @ rotate (x, then y, then z; degrees) @ scale."""
    from scipy.spatial.transform import Rotation

    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", rotation, degrees=True).as_matrix() @ np.diag(scale)
    matrix[:3, 3] = offset
    return matrix.astype(np.float32)


@dataclass(eq=False)
class Object3DEffect:
    """Meshes in anchor space (cm; canonical face axes); drawn per face at its anchor.

    With the default anchor (face.origin) the meshes are in canonical face space and move
    with the head pose; `placement` is applied first. `occlusion` names what hides the
    object (the empty set: nothing, e.g. the pose axes).
    """

    name: str
    meshes: list[MeshData]
    placement: np.ndarray = field(default_factory=lambda: np.eye(4, dtype=np.float32))
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = DEFAULT_OCCLUSION
    kind: str = "object3d"

    @classmethod
    def from_file(cls, name: str, path: str | Path, offset=(0.0, 0.0, 0.0), scale=1.0,
                  rotation=(0.0, 0.0, 0.0), anchor: Anchor = FACE_ORIGIN,
                  occlusion: frozenset[str] = DEFAULT_OCCLUSION) -> "Object3DEffect":
        return cls(name, load_glb(path), placement_matrix(offset, scale, rotation), anchor,
                   frozenset(occlusion))

    def create_pass(self, renderer) -> "Object3DPass":
        return Object3DPass(self, renderer)


class Object3DPass:
    def __init__(self, effect: Object3DEffect, renderer):
        self.effect = effect
        self.program = renderer.program("object", "object")
        self.meshes = [GpuMesh(renderer.ctx, self.program, mesh) for mesh in effect.meshes]
        self._opaque = [m for m in self.meshes if not m.material.blended]
        self._blended = [m for m in self.meshes if m.material.blended]

    def draw(self, frame: FrameState, face, index: int) -> None:
        program = self.program
        program["u_projection"].write(gl_matrix_bytes(frame.projection))
        program["u_texture"] = 0
        model_view = self.effect.anchor.matrix(face) @ self.effect.placement
        for mesh in self._opaque:
            frame.set_state(depth_test=True, depth_write=True,
                            cull=not mesh.material.double_sided)
            self._draw_mesh(mesh, model_view)
        if self._blended:
            # Back to front, without depth writes, so lenses behind lenses still show.
            depths = [(model_view @ np.append(m.data.centroid(), 1.0))[2] for m in self._blended]
            for order in np.argsort(depths):
                mesh = self._blended[order]
                frame.set_state(depth_test=True, depth_write=False, blend="alpha",
                                cull=not mesh.material.double_sided)
                self._draw_mesh(mesh, model_view)

    def _draw_mesh(self, mesh: GpuMesh, model_view: np.ndarray) -> None:
        program = self.program
        matrix = model_view @ mesh.data.transform
        linear = matrix[:3, :3]
        normal_matrix = np.linalg.inv(linear).T if abs(np.linalg.det(linear)) > 1e-12 else linear
        program["u_model_view"].write(gl_matrix_bytes(matrix))
        program["u_normal_matrix"].write(gl_matrix_bytes(normal_matrix))
        material = mesh.material
        program["u_base_color"] = tuple(material.base_color)
        program["u_metallic"] = material.metallic
        program["u_roughness"] = material.roughness
        program["u_alpha_mode"] = _ALPHA_CODES.get(material.alpha_mode, 0)
        program["u_alpha_cutoff"] = material.alpha_cutoff
        program["u_unlit"] = material.unlit
        program["u_has_texture"] = mesh.texture is not None
        if mesh.texture is not None:
            mesh.texture.use(0)
        mesh.vao.render()

    def release(self) -> None:
        for mesh in self.meshes:
            mesh.release()
        self.meshes = []


def _build(spec: EffectSpec, load) -> Object3DEffect:
    return Object3DEffect.from_file(spec.name, spec.asset, anchor=spec.anchor, occlusion=spec.occlusion,
                                    **spec.options)


def _check_asset(path: Path) -> None:
    from arfx.render.gltf import inspect_model

    inspect_model(path)


KIND = EffectKind(
    "object3d", _build, "a 3D object (GLB/glTF) worn at an anchor", table="placement",
    fields=(Field("offset", [0.0, 0.0, 0.0], numbers(3)),
            Field("scale", 1.0, numbers(3, allow_scalar=True, positive=True)),
            Field("rotation", [0.0, 0.0, 0.0], numbers(3))),
    asset_suffixes=(".glb", ".gltf"), bare_suffixes=(".glb", ".gltf"), check_asset=_check_asset,
    anchor_entities=None)
