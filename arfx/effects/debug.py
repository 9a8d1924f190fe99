"""Debug effects: the face mesh (tinted fill + wireframe), tracked points (face landmarks, hands), the pose axes."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from arfx.effects.object3d import Object3DEffect
from arfx.effects.schema import EffectKind
from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes
from arfx.render.gltf import Material, MeshData, mesh_from_trimesh
from arfx.render.renderer import DEFAULT_OCCLUSION, FrameState

# Pulls wireframe lines and points in front of the occluder surface they lie on.
_DEPTH_BIAS = 2e-4


def _rgba(color) -> tuple[float, float, float, float]:
    values = [float(c) for c in color]
    if len(values) == 3:
        values.append(1.0)
    if max(values) > 1.0:
        values = [v / 255.0 for v in values]
    return tuple(values[:4])


def face_mesh_edges(triangles: np.ndarray) -> np.ndarray:
    """Each undirected edge of a triangle mesh once, uint32 [E, 2]."""
    triangles = np.asarray(triangles, dtype=np.int64)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    edges.sort(axis=1)
    return np.ascontiguousarray(np.unique(edges, axis=0), dtype=np.uint32)


@dataclass(eq=False)
class MeshEffect:
    """The tracked face mesh: a translucent fill (opacity 0 turns it off) and its wireframe."""

    name: str = "mesh"
    fill_color: tuple = (0.2, 0.8, 1.0)
    fill_opacity: float = 0.25
    line_color: tuple = (1.0, 1.0, 1.0, 0.8)
    wireframe: bool = True
    kind: str = "mesh"
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = DEFAULT_OCCLUSION

    def create_pass(self, renderer) -> "MeshPass":
        return MeshPass(self, renderer)


class MeshPass:
    def __init__(self, effect: MeshEffect, renderer):
        self.effect = effect
        ctx = renderer.ctx
        self.fill_program = renderer.program("face", "flat")
        self.fill_vao = renderer.face_vertex_array(self.fill_program)
        self.line_program = renderer.program("flat", "flat")
        self.edges = ctx.buffer(face_mesh_edges(renderer.face_triangles).tobytes())
        self.line_vao = ctx.vertex_array(self.line_program, [(renderer.face_positions, "3f", "in_position")],
                                         index_buffer=self.edges, index_element_size=4)

    def draw(self, frame: FrameState, face, index: int) -> None:
        effect = self.effect
        frame.renderer.upload_face(face)
        if effect.fill_opacity > 0:
            program = self.fill_program
            program["u_projection"].write(gl_matrix_bytes(frame.projection))
            program["u_color"] = (*_rgba(effect.fill_color)[:3], float(effect.fill_opacity))
            program["u_round"] = False
            frame.set_state(depth_test=True, depth_write=False,
                            blend="alpha" if effect.fill_opacity < 1 else None)
            self.fill_vao.render(moderngl.TRIANGLES)
        if effect.wireframe:
            program = self.line_program
            program["u_matrix"].write(gl_matrix_bytes(frame.projection))
            program["u_color"] = _rgba(effect.line_color)
            program["u_round"] = False
            program["u_point_size"] = 1.0
            program["u_depth_bias"] = _DEPTH_BIAS
            frame.set_state(depth_test=True, depth_write=False, blend="alpha")
            self.line_vao.render(moderngl.LINES)

    def release(self) -> None:
        for item in (self.fill_vao, self.line_vao, self.edges):
            item.release()


@dataclass(eq=False)
class PointsEffect:
    """Tracked points as round dots, optionally joined by lines (`connections`), in image pixels.

    The landmarks view (a face's 468/478 points; the projected mesh for geometry without
    pixel landmarks) and the hands view (21 points and their bones) are both this effect.
    """

    name: str = "landmarks"
    color: tuple = (0.1, 1.0, 0.3, 1.0)
    point_size: float = 3.0
    connections: tuple = ()
    kind: str = "landmarks"
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = frozenset()  # dots stay visible over everything

    def create_pass(self, renderer) -> "PointsPass":
        return PointsPass(self, renderer)


LandmarksEffect = PointsEffect  # the face landmarks view: PointsEffect's defaults


class PointsPass:
    _MAX_POINTS = 1024
    _MIN_VISIBILITY = 0.5  # as MediaPipe's drawing utilities

    def __init__(self, effect: PointsEffect, renderer):
        self.effect = effect
        ctx = renderer.ctx
        self.renderer = renderer
        self.program = renderer.program("flat", "flat")
        self.mesh_vao = ctx.vertex_array(self.program, [(renderer.face_positions, "3f", "in_position")])
        self.points = ctx.buffer(reserve=self._MAX_POINTS * 12, dynamic=True)
        self.points_vao = ctx.vertex_array(self.program, [(self.points, "3f", "in_position")])
        self.pairs = np.asarray(effect.connections or [(0, 0)], dtype=np.int64).reshape(-1, 2)
        # Bones are quads built on the CPU: GL core profiles draw lines 1 px wide, which
        # vanish on a 2000 px photo.
        self.bones = ctx.buffer(reserve=len(self.pairs) * 6 * 12, dynamic=True)
        self.bones_vao = ctx.vertex_array(self.program, [(self.bones, "3f", "in_position")])

    def draw(self, frame: FrameState, entity, index: int) -> None:
        program = self.program
        program["u_color"] = _rgba(self.effect.color)
        program["u_depth_bias"] = 0.0
        frame.set_state(depth_test=False, depth_write=False, blend="alpha")
        pixels = entity.landmarks
        if pixels is None:  # geometry without the tracker's pixels: the projected face mesh
            frame.renderer.upload_face(entity)
            program["u_matrix"].write(gl_matrix_bytes(frame.projection))
            self._points_style(program)
            self.mesh_vao.render(moderngl.POINTS, vertices=self.renderer.face_vertex_count)
            return
        pixels = np.asarray(pixels, dtype=np.float32)[: self._MAX_POINTS]
        points = np.zeros((len(pixels), 3), np.float32)
        points[:, :2] = pixels[:, :2]
        program["u_matrix"].write(gl_matrix_bytes(frame.pixel_to_clip))
        # Sizes grow with the picture so a skeleton reads the same on 480p and on 4K.
        scale = max(1.0, min(frame.width, frame.height) / 720.0)
        # Points the tracker says are hidden (a body's occluded wrist) wander: left out, with their bones.
        visibility = getattr(entity, "visibility", None)
        visible = np.ones(len(points), bool) if visibility is None else \
            np.asarray(visibility)[: len(points)] >= self._MIN_VISIBILITY
        if self.effect.connections:
            program["u_round"] = False
            pairs = self.pairs[(self.pairs < len(points)).all(axis=1)]
            pairs = pairs[visible[pairs].all(axis=1)]
            quads = bone_quads(points[:, :2], pairs, 0.5 * self.effect.point_size * scale)
            if len(quads):
                self.bones.write(quads.tobytes())
                self.bones_vao.render(moderngl.TRIANGLES, vertices=len(quads))
        shown = points[visible]
        self.points.write(shown.tobytes())
        self._points_style(program, scale)
        if len(shown):
            self.points_vao.render(moderngl.POINTS, vertices=len(shown))

    def _points_style(self, program, scale: float = 1.0) -> None:
        program["u_round"] = True
        program["u_point_size"] = float(self.effect.point_size * scale)

    def release(self) -> None:
        for item in (self.mesh_vao, self.points_vao, self.bones_vao, self.points, self.bones):
            item.release()


def bone_quads(points: np.ndarray, pairs: np.ndarray, width: float) -> np.ndarray:
    """Two triangles per (a, b) index pair: a band `width` pixels wide from point a to point b,
    as float32 [6 * len(pairs), 3] (z = 0)."""
    start, end = points[pairs[:, 0]], points[pairs[:, 1]]
    along = end - start
    length = np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-6)
    side = np.stack([-along[:, 1], along[:, 0]], axis=1) / length * (width / 2.0)
    corners = np.stack([start - side, start + side, end + side,
                        start - side, end + side, end - side], axis=1).reshape(-1, 2)
    out = np.zeros((len(corners), 3), np.float32)
    out[:, :2] = corners
    return out


def axis_meshes(length: float = 10.0, radius: float = 0.35) -> list[MeshData]:
    """Three arrows from the canonical origin: x red, y green, z blue (cm)."""
    import trimesh

    meshes = []
    colors = {0: (0.9, 0.1, 0.1), 1: (0.1, 0.85, 0.1), 2: (0.15, 0.3, 1.0)}
    for axis, color in colors.items():
        shaft = trimesh.creation.cylinder(radius=radius, height=length * 0.8, sections=24)
        shaft.apply_translation((0, 0, length * 0.4))
        head = trimesh.creation.cone(radius=radius * 2.5, height=length * 0.2, sections=24)
        head.apply_translation((0, 0, length * 0.8))
        arrow = trimesh.util.concatenate([shaft, head])
        # Arrows are built along +z; turn them onto their axis.
        if axis == 0:
            arrow.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0)))
        elif axis == 1:
            arrow.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))
        mesh = mesh_from_trimesh(arrow, name="xyz"[axis])
        mesh.material = Material(base_color=(*color, 1.0), roughness=0.4, double_sided=False)
        meshes.append(mesh)
    return meshes


def axis_effect(name: str = "axis", length: float = 10.0, anchor: Anchor = FACE_ORIGIN) -> Object3DEffect:
    """Pose axes at the anchor (the face origin by default), hidden by nothing so they stay visible."""
    return Object3DEffect(name, axis_meshes(length), anchor=anchor, occlusion=frozenset(), kind="axis")


MESH_KIND = EffectKind("mesh", lambda spec, load: MeshEffect(name=spec.name, occlusion=spec.occlusion),
                       "debug view: the tracked face mesh", debug=True)
AXIS_KIND = EffectKind("axis", lambda spec, load: axis_effect(spec.name, anchor=spec.anchor),
                       "debug view: the head pose axes", default_occlusion=frozenset(), debug=True)
LANDMARKS_KIND = EffectKind(
    "landmarks", lambda spec, load: LandmarksEffect(name=spec.name, occlusion=spec.occlusion),
    "debug view: the tracked landmarks", default_occlusion=frozenset(), debug=True)


def _skeleton_kind(name: str, entity: str, connections: str, color: tuple, point_size: float,
                   description: str) -> EffectKind:
    """A debug view drawing a tracked skeleton: `connections` names the tracker module
    (arfx.tracking.<module>.CONNECTIONS), imported when the view is first built."""
    def build(spec, load) -> PointsEffect:
        import importlib

        bones = importlib.import_module(f"arfx.tracking.{connections}").CONNECTIONS
        return PointsEffect(name=spec.name, color=color, point_size=point_size, connections=tuple(bones),
                            kind=name, anchor=spec.anchor)

    return EffectKind(name, build, description, anchor_entities=(entity,), default_anchor=f"{entity}.origin",
                      default_occlusion=frozenset(), debug=True)


HANDS_KIND = _skeleton_kind("hands", "hand", "hands", (1.0, 0.75, 0.1, 1.0), 5.0,
                            "debug view: tracked hands (21 points joined)")
POSE_KIND = _skeleton_kind("pose", "body", "pose", (0.2, 0.8, 1.0, 1.0), 6.0,
                           "debug view: the tracked body (33 points joined)")
