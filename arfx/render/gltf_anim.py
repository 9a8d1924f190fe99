"""Playing glTF animations: node TRS channels (LINEAR, STEP, CUBICSPLINE), morph-target
weights and skinning (4 joints a vertex), evaluated for a time in seconds.

Skins of up to MAX_GPU_JOINTS joints are skinned in the vertex shader (joint_matrices here):
on llvmpipe that is 2.3x faster than numpy skinning plus a vertex upload for 10,000 vertices
(scripts/bench_skinning.py); larger skins are skinned on the CPU (skin_vertices). Morph targets
are applied on the CPU (a few multiply-adds a target) and uploaded.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from arfx.errors import EffectError
from arfx.render.gltf_load import Animation, Channel, Model, _morphed, _world_matrices

log = logging.getLogger(__name__)

PLAY_MODES = ("loop", "once")
#: Joint matrices the object vertex shader holds (u_joints); bigger skins skin on the CPU.
MAX_GPU_JOINTS = 64


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a = a / (np.linalg.norm(a) or 1.0)
    b = b / (np.linalg.norm(b) or 1.0)
    dot = float(np.dot(a, b))
    if dot < 0.0:  # the shorter way round
        b, dot = -b, -dot
    if dot > 0.9995:
        out = a + t * (b - a)
    else:
        angle = math.acos(min(dot, 1.0))
        out = (math.sin((1 - t) * angle) * a + math.sin(t * angle) * b) / math.sin(angle)
    return out / (np.linalg.norm(out) or 1.0)


def sample(channel: Channel, time: float) -> np.ndarray:
    """The channel's value at `time` (clamped to its keys)."""
    times, values = channel.times, channel.values
    cubic = channel.interpolation == "CUBICSPLINE"

    def key(i):
        return values[i, 1] if cubic else values[i]

    if time <= times[0] or len(times) == 1:
        return key(0).copy()
    if time >= times[-1]:
        return key(len(times) - 1).copy()
    i = int(np.searchsorted(times, time, side="right")) - 1
    t0, t1 = times[i], times[i + 1]
    span = t1 - t0
    u = (time - t0) / span if span > 0 else 0.0
    if channel.interpolation == "STEP":
        return key(i).copy()
    if cubic:
        # Hermite spline with the keys' out- and in-tangents scaled by the key interval.
        p0, m0 = values[i, 1], values[i, 2] * span
        p1, m1 = values[i + 1, 1], values[i + 1, 0] * span
        u2, u3 = u * u, u * u * u
        out = (2 * u3 - 3 * u2 + 1) * p0 + (u3 - 2 * u2 + u) * m0 + (-2 * u3 + 3 * u2) * p1 + (u3 - u2) * m1
        if channel.path == "rotation":
            out = out / (np.linalg.norm(out) or 1.0)
        return out
    if channel.path == "rotation":
        return _slerp(values[i], values[i + 1], u)
    return values[i] + u * (values[i + 1] - values[i])


@dataclass
class Pose:
    """Node world matrices (asset space in cm, file units converted) and morph weights."""

    world: list  # float64 [4, 4] per node
    weights: dict  # node -> float64 [targets]


def clip_index(model: Model, clip) -> int | None:
    """The animation `clip` names (its name or index; None: the first), or None when the file has
    none. EffectError naming the clips when it does not exist."""
    if not model.animations:
        if clip not in (None, 0):
            raise EffectError(f"animation clip {clip!r} does not exist: the file has no animations")
        return None
    if clip is None:
        return 0
    names = [a.name for a in model.animations]
    if isinstance(clip, int) and not isinstance(clip, bool):
        if 0 <= clip < len(names):
            return clip
    elif clip in names:
        return names.index(clip)
    raise EffectError(f"animation clip {clip!r} does not exist; the file has "
                      f"{', '.join(f'{i}: {n!r}' for i, n in enumerate(names))}")


def pose_at(model: Model, animation: Animation | None, time: float) -> Pose:
    """The pose at `time` seconds into `animation` (None: the rest pose)."""
    count = len(model.nodes)
    trs: dict[int, dict[str, np.ndarray]] = {}
    weights: dict[int, np.ndarray] = {}
    if animation is not None:
        for channel in animation.channels:
            value = sample(channel, time)
            if channel.path == "weights":
                weights[channel.node] = value.reshape(-1)
            else:
                trs.setdefault(channel.node, {})[channel.path] = value.reshape(-1)
    locals_ = [None] * count
    for node, parts in trs.items():
        locals_[node] = model.nodes[node].local(parts.get("translation"), parts.get("rotation"),
                                                parts.get("scale"))
    world = _world_matrices(model.nodes, model.roots, locals_)
    return Pose([model.to_cm @ m for m in world], weights)


def joint_matrices(model: Model, mesh, pose: Pose) -> np.ndarray:
    """float32 [J, 4, 4]: each joint's bind space -> asset space (cm) in `pose`."""
    skin = model.skins[mesh.skin]
    if not skin.joints:
        return np.eye(4, dtype=np.float32)[None]
    return (np.stack([pose.world[j] for j in skin.joints]) @ skin.inverse_bind).astype(np.float32)


def deform(model: Model, mesh, pose: Pose, skin_on_cpu: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(transform, vertices or None when unchanged) of one mesh in `pose`.

    A skinned mesh's vertices come out in asset space (its transform is then the identity, its
    node's own transform is ignored as the spec says). With skin_on_cpu False the vertices are
    only morphed (the vertex shader skins them with joint_matrices)."""
    transform = pose.world[mesh.node].astype(np.float32) if mesh.node is not None else mesh.transform
    vertices = None
    if mesh.morph_positions is not None and mesh.node in pose.weights:
        weights = pose.weights[mesh.node]
        if len(weights) == len(mesh.morph_positions):
            vertices = _morphed(mesh, weights)
    if mesh.skin is not None and not skin_on_cpu:
        return np.eye(4, dtype=np.float32), vertices
    if mesh.skin is not None:
        base = vertices if vertices is not None else (
            mesh.rest_vertices if mesh.rest_vertices is not None else mesh.vertices)
        vertices = skin_vertices(model, mesh, pose, base)
        transform = np.eye(4, dtype=np.float32)
    return transform, vertices


def skin_vertices(model: Model, mesh, pose: Pose, base: np.ndarray) -> np.ndarray:
    """Linear blend skinning of `base` (the mesh's vertex rows) with up to 4 joints a vertex."""
    skin = model.skins[mesh.skin]
    joints = (np.stack([pose.world[j] for j in skin.joints]) @ skin.inverse_bind)[:, :3, :]  # [J, 3, 4]
    flat = joints.reshape(len(joints), 12).astype(np.float32)
    index = np.clip(mesh.joints, 0, len(joints) - 1)
    weights = mesh.weights.astype(np.float32)
    blend = weights[:, 0:1] * flat[index[:, 0]]
    for k in range(1, 4):
        blend += weights[:, k:k + 1] * flat[index[:, k]]
    blend = blend.reshape(-1, 3, 4)  # [V, 3, 4] rows of each vertex's blended matrix
    out = base.copy()

    def apply(values, translate):
        moved = (blend[:, :, 0] * values[:, 0:1] + blend[:, :, 1] * values[:, 1:2]
                 + blend[:, :, 2] * values[:, 2:3])
        return moved + blend[:, :, 3] if translate else moved

    out[:, :3] = apply(base[:, :3], True)
    for start in (3, 12):  # normals, tangents (xyz)
        moved = apply(base[:, start:start + 3], False)
        length = np.linalg.norm(moved, axis=1, keepdims=True)
        out[:, start:start + 3] = np.where(length > 1e-12, moved / np.maximum(length, 1e-12),
                                           base[:, start:start + 3])
    return out


def rest_pose(model: Model) -> None:
    """Put skinned meshes in their rest pose (the nodes' own transforms) once, at load."""
    if not any(m.skin is not None for m in model.meshes):
        return
    pose = pose_at(model, None, 0.0)
    for mesh in model.meshes:
        if mesh.skin is not None:
            if mesh.rest_vertices is None:
                mesh.rest_vertices = mesh.vertices.copy()
            mesh.transform, vertices = deform(model, mesh, pose)
            mesh.vertices = np.ascontiguousarray(vertices, dtype=np.float32)


class Player:
    """Which clip plays, how fast and whether it loops; times from the frames' timestamps."""

    def __init__(self, model: Model, clip=None, speed: float = 1.0, play: str = "loop"):
        if play not in PLAY_MODES:
            raise EffectError(f"animation play must be one of {', '.join(PLAY_MODES)}, not {play!r}")
        self.model = model
        index = clip_index(model, clip)
        self.animation = model.animations[index] if index is not None else None
        self.speed = float(speed)
        self.play = play
        self.start: float | None = None

    @property
    def active(self) -> bool:
        return self.animation is not None

    def clip_time(self, timestamp: float) -> float:
        """Seconds into the clip for a frame at `timestamp` (the first frame drawn starts it)."""
        if self.start is None:
            self.start = float(timestamp)
        elapsed = (float(timestamp) - self.start) * self.speed
        duration = self.animation.duration if self.animation is not None else 0.0
        if duration <= 0.0:
            return 0.0
        if self.play == "once":
            return float(min(max(elapsed, 0.0), duration))
        return float(elapsed % duration)

    def pose(self, timestamp: float) -> Pose:
        return pose_at(self.model, self.animation, self.clip_time(timestamp))
