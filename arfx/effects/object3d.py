"""A 3D object (GLB/glTF) worn at an anchor: placed in anchor space (cm), moved by the pose.

How a file is placed (`Object3DEffect.from_file`, the [placement] table):

1. Units: glTF's unit is the metre, so a file is read in metres and converted to the
   centimetres of face space. `units = "cm"` or `"mm"` reads a file that ignores the spec.
2. Fit: with `fit_width` (cm) the object is fitted by its bounding box: scaled uniformly so
   that the box is `fit_width` wide (x; its largest side when it is flat in x), with the
   box's centre on the anchor (for face.head_top, the centre of the box's bottom, so that
   a hat sits on the head). Units then do not matter.
3. A bare file (or a manifest that sets neither `units` nor `fit_width`) is worn as
   authored when, read in metres, it measures 1 cm to 1 m across and its centre lies within
   1 m of the anchor. Otherwise the first of cm, mm under which it would be is taken (files
   exported without the spec's metres are most often 100x or 1000x off), and failing both
   (far from its origin, or no size fits) it is fitted to HEAD_WIDTH_CM wide; either way a
   warning says what was done and how to declare it.
4. Then `scale`, `rotation` (degrees about x, then y, then z) and `offset` (cm) apply about
   the anchor. A placement that ends up under 1 cm or over 1 m across, or centred over 1 m
   away from its anchor, logs a warning with the numbers.

Animation (`[placement.animation]`: clip, speed, play): a file's glTF animation plays on the
frames' timestamps from the first frame the object is drawn in, looped by default; skins are
skinned in the vertex shader (up to 64 joints, else on the CPU) and morph targets applied on
the CPU (arfx.render.gltf_anim). Placement and fit use the rest pose.

Trigger actions (arfx.triggers.Trigger, `[[trigger]]` tables with show/hide/swap/texture/play/
burst) act per face on the file's parts (a node by name, with everything under it): hidden
parts are not drawn, a switched texture replaces the part's base colour image, a clip named by
`play` plays once from its start on that face (then the usual animation resumes; such clips
are never the default one), and bursts of sprites fly from their anchor in camera space (so
they stay where they were thrown when the head moves), drawn after the object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes

from arfx.render.gltf import TEXTURE_UNITS, UNITS, GpuMesh, MeshData, bounds, load_model
from arfx.effects.schema import EffectKind, EffectSpec, Field, ManifestError, describe, number_in, numbers, one_of
from arfx.render.renderer import FrameState

log = logging.getLogger(__name__)

#: What hides a 3D object unless its [occlusion] table says otherwise: the tracked face mesh
#: and the head fitted to it (skull, ears, neck), so temples vanish behind the ears and the
#: back of a hat behind the head.
OBJECT_OCCLUSION = frozenset({"face", "head", "hands"})

#: Width (cm) a bare file is fitted to when its size in metres cannot be worn: about a head's.
HEAD_WIDTH_CM = 15.0
#: A placed object smaller or larger than this (cm, largest side), or centred farther than
#: MAX_SIZE_CM from its anchor, is almost certainly in the wrong units: it warns.
MIN_SIZE_CM, MAX_SIZE_CM = 1.0, 100.0


def fit_matrix(low, high, width: float, anchor: Anchor = FACE_ORIGIN) -> np.ndarray:
    """Scale + translation that fits the box (low, high) to `width` cm wide on the anchor.

    The box's centre goes to the anchor's origin; for face.head_top the centre of its
    bottom does. Its width is its x extent, or its largest side when it is flat in x.
    """
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    extent = high - low
    across = extent[0] if extent[0] > 0.01 * extent.max() else extent.max()
    factor = width / across if across > 0 else 1.0
    centre = (low + high) / 2.0
    if anchor.point == "head_top":
        centre[1] = low[1]
    matrix = np.diag([factor, factor, factor, 1.0])
    matrix[:3, 3] = -factor * centre
    return matrix


def placed_box(low, high, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The axis-aligned box around (low, high) after `matrix`."""
    corners = np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1])
                        for z in (low[2], high[2])], dtype=np.float64)
    moved = corners @ np.asarray(matrix, np.float64)[:3, :3].T + np.asarray(matrix, np.float64)[:3, 3]
    return moved.min(axis=0), moved.max(axis=0)


def _wearable(low, high) -> bool:
    size = float((np.asarray(high) - np.asarray(low)).max())
    centre = (np.asarray(low) + np.asarray(high)) / 2.0
    return MIN_SIZE_CM <= size <= MAX_SIZE_CM and float(np.linalg.norm(centre)) <= MAX_SIZE_CM


def _cm(values) -> str:
    return " x ".join(f"{v:.3g}" for v in values)


def placement_matrix(offset=(0.0, 0.0, 0.0), scale=1.0, rotation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Asset space -> canonical face space: translate @ rotate (x, then y, then z; degrees) @ scale."""
    from arfx.geometry.transforms import translate_rotate_scale

    return translate_rotate_scale(offset, rotation, scale).astype(np.float32)


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
    occlusion: frozenset[str] = OBJECT_OCCLUSION
    kind: str = "object3d"
    model: object = None  # arfx.render.gltf_load.Model when read from a file (animations)
    animation: dict = field(default_factory=dict)  # clip, speed, play (see ANIMATION_DEFAULTS)
    actions: object = None  # arfx.triggers.TriggerActions (use_actions), or None
    images: dict = field(default_factory=dict)  # trigger images (Path -> uint8 RGBA) for the pass

    def use_actions(self, actions) -> None:
        """Act on `actions` (from [[trigger]] tables); EffectError names a part, clip or image
        the file does not have."""
        from arfx.errors import EffectError
        from arfx.render.gltf_anim import clip_index
        from arfx.render.texture import load_texture

        names = sorted({node.name for node in self.model.nodes if node.name}) if self.model else []
        for part in sorted(actions.parts):
            if part not in names:
                raise EffectError(f"[[trigger]] names part '{part}', which the file does not have; "
                                  f"its parts (nodes) are: {', '.join(names) or 'none named'}")
        for clip in sorted(actions.clips):
            clip_index(self.model, clip)  # EffectError listing the clips
        slots = _part_slots(self.model, self.meshes, {t.texture[0] for t in actions.triggers if t.texture})
        for part, found in sorted(slots.items()):
            uvs = [self.meshes[slot].vertices[:, 6:8] for slot in found]
            if not any(np.ptp(uv, axis=0).max() > 0 for uv in uvs if len(uv)):
                # without texture coordinates every pixel samples one texel: the image would
                # show as one flat colour
                raise EffectError(f"[[trigger]] texture on part '{part}', which has no texture coordinates "
                                  f"(UVs), so an image cannot be laid on it; unwrap it (add UVs) in your "
                                  f"modelling tool, or use swap with a textured part")
        for trigger in actions.triggers:
            for image in ([trigger.texture[1]] if trigger.texture else []) + \
                         ([trigger.burst.sprite] if trigger.burst else []):
                self.images[image] = load_texture(image, "trigger image")
        self.actions = actions

    @classmethod
    def from_file(cls, name: str, path: str | Path, offset=(0.0, 0.0, 0.0), scale=1.0,
                  rotation=(0.0, 0.0, 0.0), anchor: Anchor = FACE_ORIGIN,
                  occlusion: frozenset[str] = OBJECT_OCCLUSION, units: str | None = None,
                  fit_width: float | None = None, animation: dict | None = None) -> "Object3DEffect":
        """Load a GLB/glTF file and place it by the rules in this module's docstring.

        units: "m" (glTF's), "cm" or "mm"; None: metres, else cm or mm, else fitted (rule 3).
        fit_width: cm; fit the bounding box to this width on the anchor.
        animation: {"clip": name or index, "speed": factor, "play": "loop" | "once"}.
        """
        from arfx.render.gltf_anim import clip_index

        path = Path(path)
        model = load_model(path, units or "m")
        meshes = model.meshes
        animation = {**ANIMATION_DEFAULTS, **(animation or {})}
        if model.animations or animation["clip"] is not None:
            try:
                clip_index(model, animation["clip"])
            except Exception as error:
                raise type(error)(f"effect '{name}' ({path.name}): {error}") from error
        low, high = bounds(meshes)
        base = np.eye(4)
        if fit_width is not None:
            base = fit_matrix(low, high, float(fit_width), anchor)
        elif units is None and not _wearable(low, high):
            size = high - low
            found = f"{path.name} read in metres (glTF's unit) is {_cm(size)} cm, centred " \
                    f"{float(np.linalg.norm((low + high) / 2.0)):.3g} cm from its origin"
            guess = next((g for g in ("cm", "mm") if _wearable(low * UNITS[g] / UNITS["m"],
                                                                 high * UNITS[g] / UNITS["m"])), None)
            if guess is not None:
                factor = UNITS[guess] / UNITS["m"]
                base = np.diag([factor, factor, factor, 1.0])
                log.warning("effect '%s': %s; read in %s it fits a head (%s cm), so it is worn so "
                            "(declare units = \"%s\" in its effect.toml [placement] to say so)", name, found,
                            guess, _cm(size * factor), guess)
            else:
                log.warning("effect '%s': %s, which cannot be worn in m, cm or mm; fitted to %g cm wide "
                            "at %s (declare units or fit_width in its effect.toml [placement])", name, found,
                            HEAD_WIDTH_CM, anchor)
                base = fit_matrix(low, high, HEAD_WIDTH_CM, anchor)
        placement = placement_matrix(offset, scale, rotation).astype(np.float64) @ base
        effect = cls(name, meshes, placement.astype(np.float32), anchor, frozenset(occlusion),
                     model=model, animation=animation)
        effect.warn_if_unwearable(path.name)
        return effect

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) corners of the placed object's bounding box in anchor space, cm."""
        low, high = bounds(self.meshes)
        return placed_box(low, high, self.placement)

    def warn_if_unwearable(self, what: str = "") -> bool:
        """Log a warning (True) when the placed object is under 1 cm or over 1 m across, or
        centred over 1 m from its anchor."""
        low, high = self.box()
        size = high - low
        centre = (low + high) / 2.0
        largest, distance = float(size.max()), float(np.linalg.norm(centre))
        problems = []
        if largest < MIN_SIZE_CM:
            problems.append(f"under {MIN_SIZE_CM:g} cm across")
        elif largest > MAX_SIZE_CM:
            problems.append(f"over {MAX_SIZE_CM / 100:g} m across")
        if distance > MAX_SIZE_CM:
            problems.append(f"centred {distance:.3g} cm from {self.anchor}")
        if problems:
            log.warning("effect '%s'%s is placed %s cm (%s): check units (m unless declared) or set "
                        "fit_width/scale in its effect.toml [placement]; see it with `arfx preview`",
                        self.name, f" ({what})" if what else "", _cm(size), ", ".join(problems))
        return bool(problems)

    def create_pass(self, renderer) -> "Object3DPass":
        return Object3DPass(self, renderer)


#: Blended meshes up to this many triangles are sorted triangle by triangle every draw.
SORT_TRIANGLES_MAX = 50_000
#: A blended mesh is sorted again once the view has turned by this much since its last sort.
SORT_ANGLE_DEG = 0.5
_SORT_COS = float(np.cos(np.radians(SORT_ANGLE_DEG)))
_MAP_ORDER = ("base", "metallic_roughness", "normal", "occlusion", "emissive")
_SAMPLER_NAMES = {"base": "u_texture", "metallic_roughness": "u_metallic_roughness",
                  "normal": "u_normal_map", "occlusion": "u_occlusion", "emissive": "u_emissive_map"}


def _set(program, name: str, value) -> None:
    if name in program:  # uniforms a driver optimised away are absent
        uniform = program[name]
        if isinstance(value, list):  # arrays may be cut to the elements the shader reads
            value = value[:uniform.array_length] if uniform.array_length > 1 else value[0]
        uniform.value = value


class Object3DPass:
    def __init__(self, effect: Object3DEffect, renderer):
        from arfx.render.gltf_anim import MAX_GPU_JOINTS, Player, clip_index, joint_matrices, pose_at

        self.effect = effect
        model = effect.model
        # (as GpuMesh decides it: the program's SKINNED variant always skins)
        gpu_skin = [model is not None and mesh.skin is not None and mesh.rest_vertices is not None
                    and len(model.skins[mesh.skin].joints) <= MAX_GPU_JOINTS for mesh in effect.meshes]
        # Each mesh is drawn by the object program's variant for the maps its material has
        # (and a base colour map wherever a trigger may switch the texture) and its skinning.
        retextured = effect.actions is not None and any(t.texture for t in effect.actions.triggers)
        self.meshes = []
        lit = {}  # id(program) -> program, for the variants that read the light (not UNLIT)
        for mesh, skin in zip(effect.meshes, gpu_skin):
            defines = (shader_variant(mesh, retextured) + (("SKINNED",) if skin else ())
                       + renderer.object_defines())
            program = renderer.program("object", "object", defines)
            self.meshes.append(GpuMesh(renderer.ctx, program, mesh, skin))
            self.meshes[-1].program = program
            if "UNLIT" not in defines:
                lit[id(program)] = program
        self._programs = list({id(m.program): m.program for m in self.meshes}.values())
        self._lit_programs = list(lit.values())
        for program in self._programs:
            for role in _MAP_ORDER:
                _set(program, _SAMPLER_NAMES[role], TEXTURE_UNITS[role])
        # Joint matrices of meshes skinned in the vertex shader, at rest until animated.
        self._joints: dict[int, np.ndarray] = {}
        if any(gpu_skin):
            rest = pose_at(model, None, 0.0)
            for slot, mesh in enumerate(self.meshes):
                if mesh.gpu_skin:
                    self._joints[slot] = joint_matrices(model, mesh.data, rest)
        self._opaque = [m for m in self.meshes if not m.material.blended]
        self._blended = [m for m in self.meshes if m.material.blended]
        self.player = None
        actions = effect.actions
        triggered = actions.clips if actions is not None else set()
        if model is not None and (model.animations or any(m.deformable for m in effect.meshes)):
            options = {**ANIMATION_DEFAULTS, **effect.animation}
            clip = options["clip"]
            if clip is None and triggered:  # clips a trigger plays are not the default one
                clip = next((a.name for a in model.animations if a.name not in triggered), None)
            if clip is not None or not triggered:
                player = Player(model, clip, options["speed"], options["play"])
                self.player = player if player.active else None
        # Per-face action state: trigger clips by name, each part's mesh slots, sprites.
        self._clips = {name: model.animations[clip_index(model, name)] for name in triggered}
        self._speed = float(effect.animation.get("speed", 1.0))
        self._part_slots = _part_slots(model, effect.meshes, actions.parts) if actions is not None else {}
        self._bursts = BurstPass(renderer, effect) if actions is not None and any(
            t.burst for t in actions.triggers) else None
        self._textures: dict = {}  # trigger image -> GL texture, uploaded on first use
        for slot, mesh in enumerate(self.meshes):
            mesh.slot = slot
        self._transforms = [m.data.transform for m in self.meshes]
        self._posed_at: float | None = None
        self._drawn_in: int | None = None  # the renderer frame this pass last drew in
        from arfx.render.contact import object_field

        self.contact_field = object_field(effect)  # soft contact shadow on the face (None: none)
        self._corners: np.ndarray | None = None  # what screen_box projects, made on first use
        self._material_uniforms: dict = {}  # (slot, id(base texture)) -> what _set_material set
        self._centres: dict = {}  # slot -> its triangles' centres (meshes that do not deform)
        self._orders: dict = {}  # slot -> the triangle order its index buffer holds (blended meshes)
        self._sorted_along: dict = {}  # slot -> the depth axis (mesh space) that order was sorted along
        self._centroids: dict = {}  # slot -> its vertices' centre (blended meshes that do not deform)

    def _animate(self, frame: FrameState, clip: tuple | None = None) -> None:
        """Pose the meshes for this frame's timestamp (once per frame, shared by every face),
        or for `clip` (animation, seconds into it) that a trigger plays on this face."""
        from arfx.render.gltf_anim import deform, joint_matrices, pose_at

        if self.player is None and not self._clips:
            return
        # An animation starts when its effect appears: with the face, and again each time its
        # [[trigger]] shows it after hiding it (the effect was not drawn in the frame before).
        drawn = frame.renderer.frames_drawn
        if self.player is not None and self._drawn_in is not None and drawn > self._drawn_in + 1:
            self.player.start = None
        self._drawn_in = drawn
        timestamp = float(frame.result.timestamp) if frame.result is not None else 0.0
        key = (timestamp, clip and (id(clip[0]), clip[1]))
        if key == self._posed_at:
            return
        self._posed_at = key
        model = self.effect.model
        pose = (pose_at(model, *clip) if clip is not None else self.player.pose(timestamp)
                if self.player is not None else pose_at(model, None, 0.0))
        for i, mesh in enumerate(self.meshes):
            transform, vertices = deform(model, mesh.data, pose, skin_on_cpu=not mesh.gpu_skin)
            self._transforms[i] = transform
            if mesh.gpu_skin:
                self._joints[i] = joint_matrices(model, mesh.data, pose)
            if vertices is not None:
                mesh.update_vertices(vertices)

    def _act(self, frame: FrameState, face):
        """This face's trigger actions for the frame (None without actions), its trigger clip
        posed; new bursts are thrown."""
        actions = self.effect.actions
        if actions is None:
            self._animate(frame)
            return None
        timestamp = float(frame.result.timestamp) if frame.result is not None else 0.0
        acts = actions.update(face, timestamp)
        clip = None
        if acts.clip is not None:
            animation = self._clips[acts.clip[0]]
            elapsed = (timestamp - acts.clip[1]) * self._speed
            if 0.0 <= elapsed <= animation.duration:  # played once, then the usual pose again
                clip = (animation, elapsed)
        self._animate(frame, clip)
        if self._bursts is not None:
            for burst, start in acts.bursts:
                self._bursts.throw(face, burst, start)
        return acts

    def _texture(self, frame: FrameState, image):
        texture = self._textures.get(image)
        if texture is None:
            from arfx.render.gltf import _upload
            from arfx.render.gltf_load import TextureMap

            texture = self._textures[image] = _upload(frame.ctx, TextureMap(self.effect.images[image]), srgb=True)
        return texture

    def draw(self, frame: FrameState, face, index: int) -> None:
        acts = self._act(frame, face)
        self._posed(face)
        hidden, textures = set(), {}
        if acts is not None:
            hidden = {slot for part in acts.hidden for slot in self._part_slots[part]}
            textures = {slot: self._texture(frame, image) for part, image in acts.textures.items()
                        for slot in self._part_slots[part]}
        projection = gl_matrix_bytes(frame.projection)
        for program in self._programs:
            program["u_projection"].write(projection)
        for program in self._lit_programs:
            frame.renderer.apply_lighting(program, frame, face)  # light from the frame, or the fixed one
        anchor_matrix = self.effect.anchor.matrix(face)
        model_view = anchor_matrix @ self.effect.placement
        if self.contact_field is not None:
            frame.renderer.draw_contact_shadow(frame, face, self.contact_field, anchor_matrix)
        for mesh in self._opaque:
            if mesh.slot in hidden:
                continue
            frame.set_state(depth_test=True, depth_write=True,
                            cull=not mesh.material.double_sided)
            self._draw_mesh(mesh, model_view, textures.get(mesh.slot))
        blended = [m for m in self._blended if m.slot not in hidden]
        if blended:
            # Back to front, without depth writes, so lenses behind lenses still show; within
            # a mesh its triangles are sorted too (far first), so its own back faces never
            # cover its front.
            depths = [(model_view @ self._transform(m) @ self._centroid(m))[2] for m in blended]
            for order in np.argsort(depths):
                mesh = blended[order]
                self._sort_triangles(mesh, model_view)
                frame.set_state(depth_test=True, depth_write=False, blend="alpha",
                                cull=not mesh.material.double_sided)
                self._draw_mesh(mesh, model_view, textures.get(mesh.slot))
        if self._bursts is not None:
            self._bursts.draw(frame, face)

    def _posed(self, face) -> None:
        """Called once the meshes are posed for `face`, before drawing (avatars set morph weights)."""

    def screen_box(self, frame: FrameState, face) -> np.ndarray | None:
        """Clip-space corners [N, 4] of boxes around everything this object draws on `face`
        (its meshes, and the reach of its contact shadow), so the renderer writes occluders
        only there; None while parts move (animation, skins, sprites), whose rest bounds do not
        hold them. Morph targets without an animation (an avatar's expressions) are held by
        their reach (see _vertex_bounds)."""
        if self.player is not None or self._clips or self._bursts is not None \
                or any(m.data.skin is not None for m in self.meshes):
            return None
        if self._corners is None:
            boxes = []
            for mesh, transform in zip(self.meshes, self._transforms):
                if len(mesh.data.vertices):
                    corners = _box_corners(*_vertex_bounds(mesh.data))
                    boxes.append(corners @ np.asarray(self.effect.placement @ transform, np.float64).T)
            if self.contact_field is not None:  # already in anchor space
                boxes.append(_box_corners(self.contact_field.low, self.contact_field.high))
            self._corners = np.concatenate(boxes) if boxes else np.zeros((0, 4))
        matrix = np.asarray(frame.projection, np.float64) @ self.effect.anchor.matrix(face)
        return self._corners @ matrix.T

    def _centroid(self, mesh: GpuMesh) -> np.ndarray:
        """The mesh's centre in its own space, homogeneous (kept unless it deforms)."""
        centre = self._centroids.get(mesh.slot)
        if centre is None or mesh.data.deformable:
            centre = np.append(mesh.data.centroid_local(), 1.0)
            if not mesh.data.deformable:
                self._centroids[mesh.slot] = centre
        return centre

    def _transform(self, mesh: GpuMesh) -> np.ndarray:
        return self._transforms[mesh.slot]

    def _sort_triangles(self, mesh: GpuMesh, model_view: np.ndarray) -> None:
        indices = mesh.data.indices
        if len(indices) < 2 or len(indices) > SORT_TRIANGLES_MAX:
            return
        matrix = (model_view @ self._transform(mesh)).astype(np.float64)
        centres = None if mesh.data.deformable else self._centres.get(mesh.slot)
        if centres is None:
            centres = mesh.data.vertices[:, :3][indices].mean(axis=1)  # (posed vertices when deformed)
            if not mesh.data.deformable:
                self._centres[mesh.slot] = centres
        # The order depends only on the direction of the camera's depth axis in the mesh's
        # space (the translation shifts every depth alike): a view turned by less than
        # SORT_ANGLE_DEG since the last sort keeps it (triangles it would swap lie at nearly
        # the same depth), sparing an argsort a frame for a face that barely moves.
        axis = matrix[2, :3] / max(float(np.linalg.norm(matrix[2, :3])), 1e-12)
        sorted_along = None if mesh.data.deformable else self._sorted_along.get(mesh.slot)
        if sorted_along is not None and float(axis @ sorted_along) >= _SORT_COS:
            return
        self._sorted_along[mesh.slot] = axis
        order = np.argsort(centres @ matrix[2, :3] + matrix[2, 3], kind="stable")
        previous = self._orders.get(mesh.slot)
        if previous is not None and np.array_equal(previous, order):
            return  # the index buffer already holds this order
        self._orders[mesh.slot] = order
        mesh.update_indices(indices[order])

    def _draw_mesh(self, mesh: GpuMesh, model_view: np.ndarray, base=None) -> None:
        """Draw one mesh; `base`: a GL texture drawn instead of its base colour image."""
        program = mesh.program
        matrix = model_view @ self._transform(mesh)
        program["u_model_view"].write(gl_matrix_bytes(matrix))
        if "u_normal_matrix" in program:  # not in the UNLIT variant
            program["u_normal_matrix"].write(gl_matrix_bytes(_normal_matrix(matrix[:3, :3])))
        cached = self._material_uniforms.get((mesh.slot, id(base)))
        if cached is None:
            cached = self._material_uniforms[(mesh.slot, id(base))] = self._set_material(mesh, base)
        else:
            for uniform, data in cached[0]:
                uniform.write(data)
        for texture, unit in cached[1]:
            texture.use(unit)
        if mesh.gpu_skin and "u_joints" in program:
            joints = self._joints[mesh.slot]
            length = program["u_joints"].array_length
            padded = np.zeros((length, 4, 4), np.float32)
            padded[: len(joints)] = joints[:length]
            program["u_joints"].write(np.ascontiguousarray(padded.transpose(0, 2, 1)).tobytes())
        mesh.vao.render()

    def _set_material(self, mesh: GpuMesh, base) -> tuple[list, list]:
        """Set the uniforms of a mesh's material and maps; returns them as ([(uniform, bytes)],
        [(texture, unit)]) for later draws, which write the bytes back (the material is read
        once per pass, as its textures are uploaded once: setting ~15 uniforms one by one
        costs more than the draw)."""
        program = mesh.program
        material = mesh.material
        _set(program, "u_base_color", tuple(material.base_color))
        _set(program, "u_metallic", material.metallic)
        _set(program, "u_roughness", material.roughness)
        _set(program, "u_emissive", tuple(material.emissive))
        _set(program, "u_alpha_cutoff", material.alpha_cutoff)
        _set(program, "u_has_texture", base is not None or "base" in mesh.textures)
        sets, mirror, scale, bound = [], [], [], []
        transforms = []
        for role in _MAP_ORDER:
            texture_map = mesh.maps.get(role)
            texture = base if role == "base" and base is not None else mesh.textures.get(role)
            if texture is not None:
                bound.append((texture, TEXTURE_UNITS[role]))
            sets.append(texture_map.texcoord if texture_map is not None else 0)
            mirror.append(tuple(w == 33648 for w in texture_map.wrap) if texture_map is not None
                          else (False, False))
            scale.append(float(texture_map.scale) if texture_map is not None else 1.0)
            transform = texture_map.transform if texture_map is not None else np.eye(3)
            transforms.append(np.asarray(transform, np.float32).T)  # column-major
        _set(program, "u_uv_set", sets)
        _set(program, "u_mirror", mirror)
        _set(program, "u_map_scale", scale)
        if "u_uv_transform" in program:
            length = program["u_uv_transform"].array_length
            program["u_uv_transform"].write(np.ascontiguousarray(transforms[:length], np.float32).tobytes())
        uniforms = [(program[name], program[name].read()) for name in _MATERIAL_UNIFORMS if name in program]
        return uniforms, bound

    def release(self) -> None:
        for mesh in self.meshes:
            mesh.release()
        self.meshes = []
        for texture in self._textures.values():
            texture.release()
        self._textures = {}
        if self._bursts is not None:
            self._bursts.release()


def _part_slots(model, meshes: list[MeshData], parts) -> dict[str, set[int]]:
    """Each part name -> the slots of the meshes placed by a node of that name or under it."""
    below: dict[int, set[int]] = {}

    def subtree(node: int) -> set[int]:
        if node not in below:
            below[node] = {node}.union(*(subtree(child) for child in model.nodes[node].children))
        return below[node]

    slots = {}
    for part in parts:
        nodes = set().union(*(subtree(i) for i, node in enumerate(model.nodes) if node.name == part))
        slots[part] = {slot for slot, mesh in enumerate(meshes) if mesh.node in nodes}
    return slots


#: Seconds over which a sprite grows to its size after it is thrown (a pop, not a jump).
SPRITE_GROW_S = 0.08


class BurstPass:
    """Sprites thrown by [[trigger]] bursts: camera-facing squares moving in camera space from
    where they were thrown (p0 + v t + g t^2 / 2), each fading out over the burst's life."""

    def __init__(self, renderer, effect: Object3DEffect):
        self.effect = effect
        self.program = renderer.program("sprite", "sprite")
        self.ctx = renderer.ctx
        self.live: dict = {}  # entity id -> [(Burst, start, origin [3], velocities [N, 3])]
        self.thrown = 0  # seeds each burst's directions: the same run draws the same sprites
        self.textures: dict = {}
        self.buffer = None
        self.vao = None

    def throw(self, face, burst, start: float) -> None:
        """Start `burst` on `face` at `start` from its anchor (the effect's unless `at`)."""
        anchor = burst.at if burst.at is not None else self.effect.anchor
        matrix = anchor.matrix(face)
        rotation = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0)
        rng = np.random.default_rng(self.thrown)
        self.thrown += 1
        # Directions spread evenly over the cap of `spread` degrees around the anchor's +z
        # (towards the viewer for a face), speeds between 60 % and 100 % of `speed`.
        cos_spread = np.cos(np.radians(burst.spread))
        z = rng.uniform(cos_spread, 1.0, burst.count)
        azimuth = rng.uniform(0.0, 2.0 * np.pi, burst.count)
        ring = np.sqrt(np.maximum(1.0 - z * z, 0.0))
        local = np.stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z], axis=1)
        velocities = local @ rotation.T * (burst.speed * rng.uniform(0.6, 1.0, burst.count))[:, None]
        # Faces that left with sprites in flight are dropped here once those have faded.
        self.live = {key: bursts for key, bursts in self.live.items()
                     if any(start - b[1] < b[0].life for b in bursts)}
        self.live.setdefault(getattr(face, "id", id(face)), []).append(
            (burst, float(start), matrix[:3, 3].copy(), velocities))

    def draw(self, frame: FrameState, face) -> None:
        key = getattr(face, "id", id(face))
        timestamp = float(frame.result.timestamp) if frame.result is not None else 0.0
        bursts = [b for b in self.live.get(key, ()) if timestamp - b[1] < b[0].life]
        if not bursts:
            self.live.pop(key, None)  # faces come and go: keep only those with sprites in flight
            return
        self.live[key] = bursts
        program = self.program
        program["u_projection"].write(gl_matrix_bytes(frame.projection))
        frame.set_state(depth_test=True, depth_write=False, blend="alpha")
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, -1], [1, 1], [-1, 1]], np.float64) * 0.5
        uvs = np.array([[0, 1], [1, 1], [1, 0], [0, 1], [1, 0], [0, 0]], np.float64)  # row 0 = top
        for burst, start, origin, velocities in bursts:
            age = max(timestamp - start, 0.0)
            centres = origin + velocities * age + np.array([0.0, -0.5 * burst.gravity * age * age, 0.0])
            size = burst.size * min(1.0, age / SPRITE_GROW_S)
            alpha = 1.0 - (age / burst.life) ** 2
            # Camera-facing: the corners offset along the camera's x and y.
            quads = centres[:, None, :] + np.concatenate([corners * size, np.zeros((6, 1))], axis=1)[None]
            vertices = np.concatenate([quads, np.broadcast_to(uvs, (len(centres), 6, 2))], axis=2)
            self._upload(vertices.astype(np.float32))
            self._sprite(burst.sprite).use(0)
            program["u_sprite"] = 0
            program["u_alpha"] = float(alpha)
            self.vao.render(vertices=vertices.shape[0] * 6)

    def _upload(self, vertices: np.ndarray) -> None:
        data = np.ascontiguousarray(vertices).tobytes()
        if self.buffer is None or self.buffer.size < len(data):
            if self.buffer is not None:
                self.vao.release()
                self.buffer.release()
            self.buffer = self.ctx.buffer(reserve=max(len(data), 4096), dynamic=True)
            self.vao = self.ctx.vertex_array(self.program, [(self.buffer, "3f 2f", "in_position", "in_uv")])
        self.buffer.write(data)

    def _sprite(self, image):
        texture = self.textures.get(image)
        if texture is None:
            from arfx.render.gltf import _upload
            from arfx.render.gltf_load import TextureMap

            texture = self.textures[image] = _upload(self.ctx, TextureMap(self.effect.images[image]), srgb=False)
        return texture

    def release(self) -> None:
        for resource in (self.vao, self.buffer, *self.textures.values()):
            if resource is not None:
                resource.release()
        self.vao = self.buffer = None
        self.textures = {}


def _normal_matrix(linear: np.ndarray) -> np.ndarray:
    """The inverse transpose of a 3x3 matrix (its cofactors over its determinant; the matrix
    itself when singular), in plain floats: numpy's inv and det cost ~20 us a mesh."""
    a, b, c, d, e, f, g, h, i = np.asarray(linear, np.float64).ravel().tolist()
    cofactors = [[e * i - f * h, f * g - d * i, d * h - e * g],
                 [c * h - b * i, a * i - c * g, b * g - a * h],
                 [b * f - c * e, c * d - a * f, a * e - b * d]]
    det = a * cofactors[0][0] + b * cofactors[0][1] + c * cofactors[0][2]
    return np.asarray(linear) if abs(det) <= 1e-12 else np.array(cofactors) / det


def _vertex_bounds(data: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of a mesh's vertices in its own space wherever its morph targets
    take them: each vertex moved by up to the sum of its targets' displacements, at weights
    up to 1 (expressions are 0..1) or the file's larger ones."""
    points = (data.rest_vertices if data.rest_vertices is not None else data.vertices)[:, :3]
    if data.morph_positions is None:
        return points.min(axis=0), points.max(axis=0)
    weights = data.morph_weights if data.morph_weights is not None else ()
    scale = max([1.0, *np.abs(np.asarray(weights, np.float64)).tolist()])
    reach = scale * np.abs(data.morph_positions).sum(axis=0)
    return (points - reach).min(axis=0), (points + reach).max(axis=0)


def _box_corners(low, high) -> np.ndarray:
    """The 8 corners [8, 4] (homogeneous) of the box from `low` to `high`."""
    x, y, z = (np.array([low[i], high[i]], np.float64) for i in range(3))
    grid = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.concatenate([grid, np.ones((8, 1))], axis=1)


#: The object program's uniforms that only the material and its maps decide.
_MATERIAL_UNIFORMS = ("u_base_color", "u_metallic", "u_roughness", "u_emissive", "u_alpha_cutoff",
                      "u_has_texture", "u_uv_set", "u_mirror", "u_map_scale",
                      "u_uv_transform")

#: The object shader's define for each material map (shaders/object.frag compiles a map's code
#: only with it).
_MAP_DEFINES = {"base": "BASE_MAP", "metallic_roughness": "METALLIC_ROUGHNESS_MAP", "normal": "NORMAL_MAP",
                "occlusion": "OCCLUSION_MAP", "emissive": "EMISSIVE_MAP"}


#: Surfaces at least this rough and at most this metallic show no reflection of the frame
#: (shaders/object.frag: the reflection fades into the harmonics' light by a roughness of 0.8,
#: and a dielectric reflects ~4% of it: at 0.7 no pixel moves by more than 2 of 255,
#: tests/test_render_variants.py).
ROUGH_ENOUGH, METALLIC_ENOUGH = 0.7, 0.2


def shows_reflections(material) -> bool:
    """Whether a material's shading needs the frame's reflection (metals, glossy surfaces,
    or a metallic-roughness map that may make some of it either)."""
    return (material.metallic > METALLIC_ENOUGH or material.roughness < ROUGH_ENOUGH
            or "metallic_roughness" in material.maps)


def shader_variant(mesh: MeshData, base_map: bool = False) -> tuple[str, ...]:
    """The object shader's defines for a mesh: one per map its material has (the base colour
    map also when `base_map`, e.g. a trigger may switch it), its alpha mode (ALPHA_MASK,
    ALPHA_BLEND), UNLIT, and REFLECTIONS where it shows them (`shows_reflections`)."""
    material = mesh.material
    roles = set(material.maps) | ({"base"} if base_map or material.texture is not None else set())
    defines = [_MAP_DEFINES[role] for role in _MAP_ORDER if role in roles]
    defines += {"MASK": ["ALPHA_MASK"], "BLEND": ["ALPHA_BLEND"]}.get(material.alpha_mode, [])
    if material.unlit:
        defines.append("UNLIT")
    elif shows_reflections(material):
        defines.append("REFLECTIONS")
    return tuple(defines)


def _build(spec: EffectSpec, load) -> Object3DEffect:
    return Object3DEffect.from_file(spec.name, spec.asset, anchor=spec.anchor, occlusion=spec.occlusion,
                                    **spec.options)


def _check_asset(path: Path) -> None:
    from arfx.render.gltf import inspect_model

    inspect_model(path)


#: [placement.animation] defaults: the first clip, real time, looped.
ANIMATION_DEFAULTS = {"clip": None, "speed": 1.0, "play": "loop"}


def _animation(value, what: str) -> dict:
    """[placement.animation]: clip (name or index), speed (0 to 100, 1 real time), play (loop | once)."""
    if not isinstance(value, dict):
        raise ManifestError(f"{what} must be a table (clip, speed, play), got {describe(value)}")
    from arfx.effects.schema import check_keys

    check_keys(value, tuple(ANIMATION_DEFAULTS), f"in [{what}]")
    out = dict(ANIMATION_DEFAULTS)
    clip = value.get("clip")
    if clip is not None and not (isinstance(clip, str) or (isinstance(clip, int) and not isinstance(clip, bool)
                                                          and clip >= 0)):
        raise ManifestError(f"{what}.clip must be a clip name or a number from 0, got {describe(clip)}")
    out["clip"] = clip
    if "speed" in value:
        out["speed"] = number_in(0.0, 100.0)(value["speed"], f"{what}.speed")
    if "play" in value:
        out["play"] = one_of(("loop", "once"))(value["play"], f"{what}.play")
    return out


def _optional(parse):
    """A field that may be left out (its default None means: not declared)."""
    def parse_optional(value, what: str):
        return None if value is None else parse(value, what)
    return parse_optional


KIND = EffectKind(
    "object3d", _build, "a 3D object (GLB/glTF) worn at an anchor", table="placement",
    fields=(Field("offset", [0.0, 0.0, 0.0], numbers(3)),
            Field("scale", 1.0, numbers(3, allow_scalar=True, positive=True)),
            Field("rotation", [0.0, 0.0, 0.0], numbers(3)),
            Field("units", None, _optional(one_of(tuple(UNITS)))),
            Field("fit_width", None, _optional(number_in(0.1, 1000.0))),
            Field("animation", {}, _animation)),
    asset_suffixes=(".glb", ".gltf"), bare_suffixes=(".glb", ".gltf"), check_asset=_check_asset,
    anchor_entities=None, default_occlusion=OBJECT_OCCLUSION)
