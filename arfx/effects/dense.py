"""Debug views of the dense face, after 3DDFA's demos: a head-pose box, the mesh's depth and
normals, and the 68 iBUG points joined by their standard lines.

- posebox: a box (a frustum, narrower in front) fixed to the head in canonical face space, drawn
  as 2-pixel lines over everything; it turns and moves with the head pose.
- depth: the face mesh shaded by camera-space depth, its nearest point white, its farthest dark.
- normals: the face mesh coloured by camera-space normals (x red, y green, z blue, -1..1 -> 0..1).
- sparse68: the 68 iBUG points (arfx.geometry.ibug68) as dots joined by the convention's lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import moderngl
import numpy as np

from arfx.effects.debug import PointsEffect, PointsPass, _rgba
from arfx.effects.schema import EffectKind
from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes
from arfx.geometry.ibug68 import CONNECTIONS, landmarks68

log = logging.getLogger(__name__)

#: The pose box in canonical face space (cm): a rear rectangle behind the face's edge and a
#: smaller front one ahead of the nose tip (x to the person's left, y up, z towards the viewer).
BOX_REAR = (9.0, -11.0, 9.0, -4.0)  # half width, bottom, top, z
BOX_FRONT = (5.5, -6.5, 5.0, 10.0)


def pose_box_corners(rear=BOX_REAR, front=BOX_FRONT) -> np.ndarray:
    """float32 [8, 3]: the rear rectangle's corners, then the front one's (each counter-clockwise)."""
    corners = []
    for half, bottom, top, z in (rear, front):
        corners += [(-half, bottom, z), (half, bottom, z), (half, top, z), (-half, top, z)]
    return np.asarray(corners, dtype=np.float32)


#: The box's 12 edges as pairs of corner indices: rear, front, then the four joining them.
BOX_EDGES = np.asarray([(i, (i + 1) % 4) for i in range(4)] + [(4 + i, 4 + (i + 1) % 4) for i in range(4)]
                       + [(i, i + 4) for i in range(4)], dtype=np.uint32)


@dataclass(eq=False)
class PoseBoxEffect:
    """A box fixed to the head, drawn as lines (hidden by nothing)."""

    name: str = "posebox"
    color: tuple = (0.15, 0.95, 0.55, 1.0)
    thickness: int = 2  # pixels
    kind: str = "posebox"
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = frozenset()

    def create_pass(self, renderer) -> "PoseBoxPass":
        return PoseBoxPass(self, renderer)


class PoseBoxPass:
    def __init__(self, effect: PoseBoxEffect, renderer):
        self.effect = effect
        ctx = renderer.ctx
        self.program = renderer.program("flat", "flat")
        self.corners = pose_box_corners()
        self.points = ctx.buffer(reserve=len(self.corners) * 12, dynamic=True)
        self.edges = ctx.buffer(BOX_EDGES.tobytes())
        self.vao = ctx.vertex_array(self.program, [(self.points, "3f", "in_position")],
                                    index_buffer=self.edges, index_element_size=4)

    def draw(self, frame, face, index: int) -> None:
        pose = np.asarray(face.pose, dtype=np.float32)
        placed = self.corners @ pose[:3, :3].T + pose[:3, 3]
        self.points.write(np.ascontiguousarray(placed, dtype=np.float32).tobytes())
        program = self.program
        program["u_color"] = _rgba(self.effect.color)
        program["u_round"] = False
        program["u_point_size"] = 1.0
        program["u_depth_bias"] = 0.0
        frame.set_state(depth_test=False, depth_write=False, blend="alpha")
        # GL core profiles draw 1-pixel lines only: thicker lines are the same lines shifted.
        steps = range(max(1, int(self.effect.thickness)))
        for dx in steps:
            for dy in steps:
                shift = np.eye(4, dtype=np.float32)
                shift[0, 3], shift[1, 3] = 2.0 * dx / frame.width, 2.0 * dy / frame.height
                program["u_matrix"].write(gl_matrix_bytes(shift @ frame.projection))
                self.vao.render(moderngl.LINES)

    def release(self) -> None:
        for item in (self.vao, self.points, self.edges):
            item.release()


@dataclass(eq=False)
class DenseViewEffect:
    """The face mesh drawn opaque with a per-pixel debug colour: `mode` "depth" or "normals"."""

    name: str = "depth"
    mode: str = "depth"
    opacity: float = 1.0
    kind: str = "depth"
    anchor: Anchor = FACE_ORIGIN
    occlusion: frozenset[str] = frozenset()  # draws its own depth: the mesh hides itself

    def create_pass(self, renderer) -> "DenseViewPass":
        if self.mode not in ("depth", "normals"):
            raise ValueError(f"unknown dense view '{self.mode}'; use depth or normals")
        return DenseViewPass(self, renderer)


class DenseViewPass:
    def __init__(self, effect: DenseViewEffect, renderer):
        self.effect = effect
        self.renderer = renderer
        ctx = renderer.ctx
        self.program = renderer.program(effect.mode, effect.mode)
        buffers = [(renderer.face_positions, "3f", "in_position")]
        self.normals = None
        if effect.mode == "normals":
            self.normals = ctx.buffer(reserve=renderer.face_vertex_count * 12, dynamic=True)
            buffers.append((self.normals, "3f", "in_normal"))
        self.vao = ctx.vertex_array(self.program, buffers, index_buffer=renderer.face_index_buffer,
                                    index_element_size=4)

    def draw(self, frame, face, index: int) -> None:
        renderer = frame.renderer
        renderer.upload_face(face)
        mesh = np.asarray(face.mesh, dtype=np.float32)[: renderer.face_vertex_count]
        program = self.program
        program["u_projection"].write(gl_matrix_bytes(frame.projection))
        program["u_opacity"] = float(self.effect.opacity)
        if self.normals is not None:
            from arfx.rerun_log import vertex_normals

            self.normals.write(np.ascontiguousarray(vertex_normals(mesh, renderer.face_triangles)).tobytes())
        else:
            depth = -mesh[:, 2]
            program["u_range"] = (float(depth.min()), float(depth.max()))
        frame.set_state(depth_test=True, depth_write=True, blend="alpha" if self.effect.opacity < 1 else None)
        self.vao.render(moderngl.TRIANGLES)

    def release(self) -> None:
        self.vao.release()
        if self.normals is not None:
            self.normals.release()


@dataclass(eq=False)
class Sparse68Effect(PointsEffect):
    """The 68 iBUG points as dots joined by the convention's lines."""

    name: str = "sparse68"
    color: tuple = (1.0, 0.85, 0.15, 1.0)
    point_size: float = 4.0
    connections: tuple = CONNECTIONS
    kind: str = "sparse68"

    def create_pass(self, renderer) -> "Sparse68Pass":
        return Sparse68Pass(self, renderer)


@dataclass(eq=False)
class _Points:
    landmarks: np.ndarray


class Sparse68Pass(PointsPass):
    def draw(self, frame, entity, index: int) -> None:
        pixels = getattr(entity, "landmarks", None)
        if pixels is None:  # geometry without the tracker's pixels: project the mesh's 68 points
            mesh = landmarks68(np.asarray(entity.mesh, dtype=np.float32)[:468])
            clip = np.c_[mesh, np.ones(len(mesh), np.float32)] @ frame.projection.T
            ndc = clip / clip[:, 3:4]
            pixels = (ndc @ np.linalg.inv(frame.pixel_to_clip).T)[:, :3]
            pixels[:, 2] = 0.0
        else:
            pixels = landmarks68(np.asarray(pixels, dtype=np.float32))
        super().draw(frame, _Points(pixels), index)


POSEBOX_KIND = EffectKind("posebox", lambda spec, load: PoseBoxEffect(name=spec.name, anchor=spec.anchor),
                          "debug view: a 3D box fixed to the head pose", default_occlusion=frozenset(), debug=True)
DEPTH_KIND = EffectKind(
    "depth", lambda spec, load: DenseViewEffect(name=spec.name, mode="depth", kind="depth", occlusion=spec.occlusion),
    "debug view: the face mesh's depth as a grey ramp", default_occlusion=frozenset(), debug=True)
NORMALS_KIND = EffectKind(
    "normals",
    lambda spec, load: DenseViewEffect(name=spec.name, mode="normals", kind="normals", occlusion=spec.occlusion),
    "debug view: the face mesh's normals as colours", default_occlusion=frozenset(), debug=True)
SPARSE68_KIND = EffectKind("sparse68", lambda spec, load: Sparse68Effect(name=spec.name),
                           "debug view: the 68 iBUG landmarks joined", default_occlusion=frozenset(), debug=True)
