"""One frame: camera image as background, occluders into depth, then each effect's passes.

The renderer reads a `FrameResult` (or a plain list of face geometries) and draws a stack of
effects in order. Each effect names the entity it is anchored to (its `anchor`, e.g.
face.nose_tip) and which occluders hide it (its `occlusion`, e.g. {"face"}); before an
effect whose occluders differ from what the depth buffer holds, the depth buffer is cleared
and those occluders are written again. Every call makes this renderer's GL context current
first, so several renderers (each with its own context) can be used in turn on one thread.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import cv2
import moderngl
import numpy as np

from arfx.errors import RenderError
from arfx.render.context import finish_without_gil
from arfx.geometry.anchors import FACE_ORIGIN, Anchor
from arfx.geometry.camera import gl_matrix_bytes
from arfx.resources import resource_dir
from arfx.result import FrameResult, as_frame_result

log = logging.getLogger(__name__)


def load_program(ctx: moderngl.Context, vertex: str, fragment: str, defines: Sequence[str] = ()
                 ) -> moderngl.Program:
    """Compile shaders/<vertex>.vert and shaders/<fragment>.frag into a program, with a
    `#define NAME` after the #version line of both for each of `defines` (a shader's variants:
    llvmpipe runs both sides of every branch, so code a material never needs is compiled out)."""
    folder = resource_dir("shaders")
    sources = []
    for name, suffix in ((vertex, ".vert"), (fragment, ".frag")):
        path = folder / f"{name}{suffix}"
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as error:
            raise RenderError(f"shader {path} is missing ({error}); reinstall arfx") from error
        if defines:
            first, _, rest = source.partition("\n")
            source = "\n".join([first, *(f"#define {define}" for define in defines), rest])
        sources.append(source)
    try:
        return ctx.program(vertex_shader=sources[0], fragment_shader=sources[1])
    except Exception as error:  # moderngl reports compile/link errors as plain Exceptions
        raise RenderError(f"shader {vertex}/{fragment} failed to build: {error}") from error


@dataclass
class FrameState:
    """What an effect pass needs to draw one face: the camera, the target and the frame."""

    ctx: moderngl.Context
    renderer: "Renderer"
    target: moderngl.Framebuffer
    projection: np.ndarray  # float32 [4,4]: camera space (cm) -> clip space, flips included
    pixel_to_clip: np.ndarray  # float32 [4,4]: (x px, y px, 0) of the input frame -> clip space
    width: int
    height: int
    mirrored_winding: bool
    result: FrameResult | None = None  # everything tracked in this frame
    rgb: np.ndarray | None = None  # the input frame as tracked (never mirrored), uint8 [H, W, 3]
    viewport: tuple[int, int, int, int] = (0, 0, 0, 0)
    flip: tuple[float, float] = (1.0, -1.0)
    #: The target's pixels (x, y, w, h) this frame is drawn in, when not all (Renderer._render_box).
    scissor: tuple[int, int, int, int] | None = None
    _lights: dict = field(default_factory=dict)
    _corners: dict = field(default_factory=dict)

    def screen_corners(self, effect_pass, entity) -> np.ndarray | None:
        """`effect_pass.screen_box(self, entity)`, worked out once per frame (the frame's box
        and each occluder group's box ask for the same passes and entities)."""
        key = (id(effect_pass), id(entity))
        if key not in self._corners:
            self._corners[key] = effect_pass.screen_box(self, entity)
        return self._corners[key]

    def face_light(self, face):
        """The light on `face` estimated from this frame (arfx.render.lighting.FaceLight), or
        None (no frame, or too little skin seen). Cached per frame."""
        if self.rgb is None:
            return None
        if len(getattr(face, "mesh", None) if getattr(face, "mesh", None) is not None else ()) \
                != self.renderer.face_vertex_count:
            # Not a face (a hand, a body): lit like the first face in the frame, if any.
            faces = self.result.entities("face") if self.result is not None else []
            if not faces:
                return None
            face = faces[0]
        key = id(face)
        if key not in self._lights:
            self._lights[key] = self.renderer._face_light(self, face)
        return self._lights[key]

    def frame_texture(self) -> moderngl.Texture:
        """The input frame as a texture (uploaded at most once per frame); sample it at
        gl_FragCoord.xy * frame_uv_transform[:2] + frame_uv_transform[2:]."""
        return self.renderer._frame_sample_texture(self.rgb)

    @property
    def frame_uv_transform(self) -> tuple[float, float, float, float]:
        """(scale x, scale y, offset x, offset y): gl_FragCoord.xy -> the frame texture's UV
        (row 0 at the top of the image), for this target's viewport, flips and mirroring."""
        x, y, w, h = self.viewport
        sx = 1.0 / w if self.flip[0] > 0 else -1.0 / w
        ox = -x / w if self.flip[0] > 0 else 1.0 + x / w
        # Offscreen targets are drawn upside down (flip y < 0): fragment row 0 is the top.
        sy = 1.0 / h if self.flip[1] < 0 else -1.0 / h
        oy = -y / h if self.flip[1] < 0 else 1.0 + y / h
        return (sx, sy, ox, oy)

    def environment_texture(self) -> moderngl.Texture:
        """A tiny copy of the frame (1/16 size, linearly filtered): what shiny objects reflect."""
        return self.renderer._environment_texture(self.renderer._small_frame(self.rgb))

    def set_state(self, depth_test: bool = True, depth_write: bool = True, blend: str | None = None,
                  cull: bool = False) -> None:
        """Fixed-function state for the next draw; blend is None, 'alpha', 'multiply' or 'add'."""
        ctx = self.ctx
        flags = moderngl.NOTHING
        if depth_test:
            flags |= moderngl.DEPTH_TEST
        if blend is not None:
            flags |= moderngl.BLEND
        if cull:
            flags |= moderngl.CULL_FACE
        ctx.enable_only(flags | moderngl.PROGRAM_POINT_SIZE)
        ctx.depth_func = "<="
        self.target.depth_mask = depth_write
        self.target.color_mask = (True, True, True, True)
        self.target.use()  # moderngl applies a framebuffer's masks when it is bound
        if blend == "alpha":
            # Keep the target's alpha at 1 so the read-back image stays opaque.
            ctx.blend_func = (moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE)
        elif blend == "multiply":
            ctx.blend_func = (moderngl.DST_COLOR, moderngl.ZERO, moderngl.ZERO, moderngl.ONE)
        elif blend == "add":
            ctx.blend_func = (moderngl.SRC_ALPHA, moderngl.ONE, moderngl.ZERO, moderngl.ONE)
        ctx.front_face = "cw" if self.mirrored_winding else "ccw"


class EffectPass(Protocol):
    """GPU side of an effect for one context; draws one anchored entity (e.g. a face) per call.

    `entity` is everything the pass draws (a FaceResult or FaceGeometry for face anchors:
    pose, mesh, landmarks); a pass that draws the face mesh uploads it itself
    (`frame.renderer.upload_face(entity)`), never relying on an earlier pass. A pass may also
    have `screen_box(frame, entity)`: clip-space corners [N, 4] of boxes holding all it draws
    on the entity (or None), so that occluders are written only there (see _screen_box).
    """

    def draw(self, frame: FrameState, entity, index: int) -> None: ...

    def release(self) -> None: ...


class Effect(Protocol):
    """An effect: a name, its kind, what it is anchored to, what hides it, and its GPU pass."""

    name: str
    kind: str
    anchor: Anchor
    occlusion: frozenset[str]

    def create_pass(self, renderer: "Renderer") -> EffectPass: ...


#: The face mesh vertex whose movement tells a face's light may have to be estimated again
#: (the nose tip).
FACE_CENTRE_VERTEX = 1
#: Renderer lighting modes: light estimated from each frame, or a fixed studio light.
LIGHTING_MODES = ("frame", "fixed")
#: Frames after which an effect's GPU pass that was not drawn is released.
PASS_MAX_IDLE = 600
#: Occluders every effect gets unless it says otherwise (its `occlusion`).
DEFAULT_OCCLUSION = frozenset({"face"})


def effect_list(effect) -> list:
    """The effects to draw, in order: None -> [], a list or a stack (`.effects`) flattened."""
    if effect is None:
        return []
    if isinstance(effect, (list, tuple)):
        return [e for item in effect for e in effect_list(item)]
    members = getattr(effect, "effects", None)
    if members is not None and not hasattr(effect, "create_pass"):
        return effect_list(list(members))
    return [effect]


@dataclass
class _Target:
    fbo: moderngl.Framebuffer
    resolve: moderngl.Framebuffer | None
    attachments: list = field(default_factory=list)
    # Without MSAA the colour buffer is a texture the frame is written into directly.
    color_texture: moderngl.Texture | None = None

    def release(self) -> None:
        for item in [self.fbo, self.resolve, *self.attachments]:
            if item is not None:
                item.release()


@dataclass
class _Scene:
    """One frame planned (Renderer._plan): its state and the effects to draw, in order, each with
    the entities it is drawn on and its occluders."""

    frame: FrameState
    result: FrameResult
    plan: list

    def box(self) -> tuple[int, int, int, int] | None:
        """The target's pixels (x, y, w, h) every effect of the frame draws in, when each can
        tell (see _screen_box) and that is less than the whole viewport; else None. A frame
        with nothing to draw on (no face) has an empty box: the picture is the frame itself."""
        if not self.plan:
            return (0, 0, 0, 0)
        box = _screen_box(self.frame, [(self.frame.renderer.effect_pass(effect), entities)
                                       for effect, entities, _ in self.plan])
        return None if box is None or box == self.frame.viewport else box


class Renderer:
    """Draws frames with effects into an offscreen target (render) or a window (draw)."""

    def __init__(self, ctx: moderngl.Context, width: int, height: int, camera=None, samples: int = 0,
                 lighting: str = "frame"):
        if camera is None:
            from arfx.geometry.camera import PerspectiveCamera

            camera = PerspectiveCamera()
        if lighting not in LIGHTING_MODES:
            raise RenderError(f"lighting must be one of {', '.join(LIGHTING_MODES)}, not '{lighting}'")
        self.ctx = ctx
        self.camera = camera
        self.samples = int(samples)
        #: "frame": objects lit by each face's light estimated from the frame (arfx.render.lighting);
        #: "fixed": a fixed studio light (key from the upper left, fill, ambient).
        self.lighting = lighting
        #: Offscreen renders draw, upload and read back only the box their effects draw in
        #: when the effects can tell it (see _render_box); False: always the whole frame.
        self.box_only = True
        #: The box (x, y, w, h; y from the top) the last offscreen render drew in, None: all of it.
        self.last_box: tuple[int, int, int, int] | None = None
        with ctx:
            self._create_resources(width, height)

    def _create_resources(self, width: int, height: int) -> None:
        from arfx.geometry.canonical import CanonicalFace

        ctx = self.ctx
        self._programs: dict[tuple, moderngl.Program] = {}
        self._passes: dict[int, list] = {}  # id(effect) -> [effect, pass, frame last drawn]
        self._frames_drawn = 0

        canonical = CanonicalFace.load()
        self.face_vertex_count = len(canonical.vertices)
        self.face_triangles = np.ascontiguousarray(canonical.triangles, dtype=np.uint32)
        self.face_uvs = np.ascontiguousarray(canonical.uvs, dtype=np.float32)
        self.face_positions = ctx.buffer(reserve=self.face_vertex_count * 12, dynamic=True)
        self.face_uv_buffer = ctx.buffer(self.face_uvs.tobytes())
        self.face_index_buffer = ctx.buffer(self.face_triangles.tobytes())
        self.face_program = self.program("face", "occluder")
        self.occluder_vao = ctx.vertex_array(
            self.face_program, [(self.face_positions, "3f", "in_position")],
            index_buffer=self.face_index_buffer, index_element_size=4)

        self._face_uploaded: tuple = (None, -1)  # (face, frame) whose mesh face_positions holds
        self._head = None  # (model, position buffer, index buffer, vao), made on first use of the head occluder
        self._hand_buffer = None  # (buffer, vao) for hand silhouettes, made on first use
        self._person = None  # [program, quad, vao, mask texture] for the person occluder
        self._sample_texture: moderngl.Texture | None = None  # the frame, for passes that read it
        self._sample_rgba: np.ndarray | None = None
        self._sample_frame = -1  # frame number it holds
        self._env_texture: moderngl.Texture | None = None
        self._env_frame = -1
        self._contact = None  # (program, shade buffer, index buffer, vao) of the contact shadow, made on first use
        self._small: tuple = (-1, None)  # (frame, the tiny frame), see _small_frame
        self._light_memory: list = []  # (frame, tiny frame, face centre, light) of recent estimates

        self._background_program = self.program("background", "background")
        quad = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype=np.float32)
        self._quad = ctx.buffer(quad.tobytes())
        self._background_vao = ctx.vertex_array(self._background_program, [(self._quad, "2f", "in_position")])
        self._frame_texture: moderngl.Texture | None = None
        self._frame_rgba: np.ndarray | None = None
        self._target: _Target | None = None
        self._readback: np.ndarray | None = None
        #: The last render's picture when it drew only a box (see _render_box), for show().
        self._partial: np.ndarray | None = None
        self.width = self.height = 0
        self.resize(width, height)

    # -- resources ---------------------------------------------------------------------------

    def program(self, vertex: str, fragment: str, defines: Sequence[str] = ()) -> moderngl.Program:
        """A compiled program (with `defines`, see load_program), shared by every effect drawn
        with this renderer."""
        key = (vertex, fragment, tuple(sorted(defines)))
        if key not in self._programs:
            self._programs[key] = load_program(self.ctx, vertex, fragment, key[2])
        return self._programs[key]

    def face_vertex_array(self, program: moderngl.Program) -> moderngl.VertexArray:
        """A VAO over the current face mesh (positions + canonical UVs) for an effect's program."""
        buffers = [(self.face_positions, "3f", "in_position")]
        if "in_uv" in program:
            buffers.append((self.face_uv_buffer, "2f", "in_uv"))
        return self.ctx.vertex_array(program, buffers, index_buffer=self.face_index_buffer,
                                     index_element_size=4)

    def resize(self, width: int, height: int) -> None:
        """Frame size of the input images (and of the offscreen target)."""
        width, height = int(width), int(height)
        if (width, height) == (self.width, self.height):
            return
        if width <= 0 or height <= 0:
            raise RenderError(f"cannot render a {width}x{height} frame")
        self.width, self.height = width, height
        if self._frame_texture is not None:
            self._frame_texture.release()
            self._frame_texture = None  # made on first use: offscreen renders never need it
        self._frame_rgba = np.full((height, width, 4), 255, dtype=np.uint8)
        if self._target is not None:
            self._target.release()
        self._target = self._create_target(width, height)
        self._readback = np.empty((height, width, 4), dtype=np.uint8)

    def _create_target(self, width: int, height: int) -> _Target:
        ctx = self.ctx
        samples = min(self.samples, ctx.max_samples) if self.samples > 1 else 0
        if samples:
            color = ctx.renderbuffer((width, height), 4, samples=samples)
        else:
            color = ctx.texture((width, height), 4)
        depth = ctx.depth_renderbuffer((width, height), samples=samples)
        fbo = ctx.framebuffer(color_attachments=[color], depth_attachment=depth)
        attachments = [color, depth]
        resolve = None
        if samples:
            # A texture, so that the window path can draw the resolved picture (Renderer.draw).
            resolved = ctx.texture((width, height), 4)
            resolved.filter = (moderngl.LINEAR, moderngl.LINEAR)
            resolve = ctx.framebuffer(color_attachments=[resolved])
            attachments.append(resolved)
        return _Target(fbo, resolve, attachments, None if samples else color)

    @property
    def frames_drawn(self) -> int:
        """How many frames this renderer has drawn (passes use it to see that they were skipped)."""
        return self._frames_drawn

    def effect_pass(self, effect) -> EffectPass:
        """The effect's GPU pass in this context, created on first use and kept while it is
        drawn (passes not drawn for PASS_MAX_IDLE frames are released, see _evict_idle_passes)."""
        key = id(effect)
        cached = self._passes.get(key)
        if cached is None or cached[0] is not effect:
            if cached is not None:
                cached[1].release()
            cached = [effect, effect.create_pass(self), self._frames_drawn]
            self._passes[key] = cached
        cached[2] = self._frames_drawn
        return cached[1]

    def release_effect(self, effect) -> None:
        """Release the GPU passes of an effect (and of a stack's members) no longer drawn."""
        with self.ctx:
            for item in effect_list(effect):
                cached = self._passes.get(id(item))
                if cached is not None and cached[0] is item:
                    del self._passes[id(item)]
                    cached[1].release()

    def _evict_idle_passes(self) -> None:
        """Release passes of effects not drawn for a while, so a long session that switches
        among many effect objects keeps its GPU memory bounded."""
        oldest = self._frames_drawn - PASS_MAX_IDLE
        for key in [key for key, (_, _, used) in self._passes.items() if used < oldest]:
            self._passes.pop(key)[1].release()

    def release(self) -> None:
        with self.ctx:
            self._release()

    def _release(self) -> None:
        for _, effect_pass, _ in self._passes.values():
            effect_pass.release()
        self._passes.clear()
        if self._target is not None:
            self._target.release()
        if self._person is not None:
            for item in self._person[1:]:
                if item is not None:
                    item.release()
            self._person = None
        if self._hand_buffer is not None:
            for item in reversed(self._hand_buffer):
                item.release()
            self._hand_buffer = None
        if self._head is not None:
            for item in reversed(self._head[1:]):
                item.release()
            self._head = None
        for texture in (self._sample_texture, self._env_texture):
            if texture is not None:
                texture.release()
        self._sample_texture = self._env_texture = None
        if self._contact is not None:
            for item in reversed(self._contact[1:]):
                item.release()
            self._contact = None
        for item in (self._frame_texture, self._background_vao, self._quad, self.occluder_vao,
                     self.face_positions, self.face_uv_buffer, self.face_index_buffer,
                     *self._programs.values()):
            if item is not None:
                item.release()
        self._programs.clear()

    # -- drawing -----------------------------------------------------------------------------

    def render(self, rgb: np.ndarray, geometries: Sequence, effect=None, mirror: bool = False,
               readback: bool = True) -> np.ndarray | None:
        """Render one frame offscreen; returns a new uint8 [H, W, 3] image (mirrored if asked),
        or None without `readback` (the picture stays on the GPU for `show`).

        `geometries`: a FrameResult or a list of face geometries; `effect`: one effect, a
        list or a stack (drawn in order), or None for the frame alone. When every effect
        tells where it draws (a pass's screen_box), only that box is drawn (_render_box).
        """
        with self.ctx:
            return self._render(rgb, geometries, effect, mirror, readback)

    def _render(self, rgb, geometries, effect, mirror: bool, readback: bool = True) -> np.ndarray | None:
        rgb = _check_frame(rgb)
        self.resize(rgb.shape[1], rgb.shape[0])
        target = self._target
        background = target.color_texture is None
        # Drawn upside down so that GL's bottom-up rows read back as a top-first image.
        scene = self._plan(rgb, geometries, effect, target.fbo, (0, 0, self.width, self.height),
                           flip=(-1.0 if mirror else 1.0, -1.0))
        box = scene.box() if self.box_only and not background else None
        self._partial = None
        self.last_box = box
        if box is not None:
            return self._render_box(rgb, scene, box, mirror, readback)
        if not background:
            self._write_frame(rgb, mirror)
        self._draw_scene(scene, background=background)
        source = target.fbo
        if target.resolve is not None:
            self.ctx.copy_framebuffer(target.resolve, target.fbo)
            source = target.resolve
        if not readback:
            return None
        finish_without_gil()
        source.read_into(self._readback, components=4, alignment=1)
        # cv2's SIMD channel conversion is ~30x faster than numpy's strided slice copy.
        return cv2.cvtColor(self._readback, cv2.COLOR_RGBA2RGB)

    def _write_frame(self, rgb: np.ndarray, mirror: bool, box: tuple[int, int, int, int] | None = None) -> None:
        """The frame (mirrored if asked) straight into the colour buffer of a target without
        MSAA: that skips a full-screen textured quad, the costliest part of a frame on
        llvmpipe (~3 ms at 720p). `box` (x, y, w, h in the target): only the frame under it."""
        if box is None:
            cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA, dst=self._frame_rgba)
            pixels = self._frame_rgba
        else:
            x, y, w, h = box
            left = self.width - x - w if mirror else x  # the target is mirrored when asked
            pixels = cv2.cvtColor(rgb[y:y + h, left:left + w], cv2.COLOR_RGB2RGBA)
        if mirror:
            cv2.flip(pixels, 1, dst=pixels)
        self._target.color_texture.write(pixels, viewport=box)

    def _render_box(self, rgb: np.ndarray, scene: "_Scene", box: tuple[int, int, int, int], mirror: bool,
                    readback: bool) -> np.ndarray | None:
        """Render only `box` (x, y, w, h in the upside-down target: y counts image rows from
        the top), where every effect of `scene` draws: a 720p frame's glasses touch ~1/20 of
        its pixels, and the rest of the frame needs no upload, clear or read-back on a CPU
        rasteriser. The same pixel grid and projection as a full render, so the box's pixels
        are the full render's; the output is the frame with the box pasted in."""
        x, y, w, h = box
        if not readback:
            self._write_frame(rgb, mirror)  # the window shows the whole target (show())
        elif w and h:
            self._write_frame(rgb, mirror, box)
        self._draw_scene(scene, background=False, box=box)
        if not readback:
            return None
        out = cv2.flip(rgb, 1) if mirror else rgb.copy()
        if w and h:
            pixels = np.empty((h, w, 4), np.uint8)
            finish_without_gil()
            self._target.fbo.read_into(pixels, viewport=box, components=4, alignment=1)
            cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB, dst=out[y:y + h, x:x + w])
        # show() after this render must put the rest of the picture into the target first.
        self._partial = out
        return out

    def draw(self, rgb: np.ndarray, geometries: Sequence, effect, framebuffer: moderngl.Framebuffer,
             viewport: tuple[int, int, int, int] | None = None, mirror: bool = False) -> None:
        """Render one frame into `framebuffer` (e.g. a window's) at `viewport` (x, y, w, h).

        With MSAA (samples > 1) the frame is drawn into the multisampled offscreen target,
        resolved, and the resolved picture drawn into the viewport (a window's own framebuffer
        has no samples)."""
        with self.ctx:
            rgb = _check_frame(rgb)
            self.resize(rgb.shape[1], rgb.shape[0])
            if viewport is None:
                viewport = (0, 0, *framebuffer.size)
            target = self._target
            if target.resolve is None:
                self._draw(rgb, geometries, effect, framebuffer, viewport,
                           flip=(-1.0 if mirror else 1.0, 1.0))
                return
            # Upside down as in render(): the resolved texture's row 0 is the picture's top,
            # as a frame texture's is, so the background quad shows it upright.
            self._draw(rgb, geometries, effect, target.fbo, (0, 0, self.width, self.height),
                       flip=(-1.0 if mirror else 1.0, -1.0))
            self.ctx.copy_framebuffer(target.resolve, target.fbo)
            self._show_target(framebuffer, viewport)

    def show(self, framebuffer: moderngl.Framebuffer, viewport: tuple[int, int, int, int] | None = None) -> None:
        """Draw the picture the last render() made into `framebuffer` (e.g. a window's) at
        `viewport`, upright, without reading it back to the CPU and uploading it again."""
        if self._target is None:
            raise RenderError("show() needs a render() first")
        with self.ctx:
            if self._partial is not None:
                # The last render drew and uploaded only its box: the whole picture goes in now.
                self._target.color_texture.write(cv2.cvtColor(self._partial, cv2.COLOR_RGB2RGBA))
                self._partial = None
            self._show_target(framebuffer, viewport or (0, 0, *framebuffer.size))

    def _show_target(self, framebuffer: moderngl.Framebuffer, viewport: tuple[int, int, int, int]) -> None:
        # The offscreen picture was drawn upside down (see _render): its texture's row 0 is the
        # picture's top, as a frame texture's is, so the background quad shows it upright.
        target = self._target
        picture = target.resolve.color_attachments[0] if target.resolve is not None else target.color_texture
        framebuffer.viewport = tuple(int(v) for v in viewport)
        framebuffer.use()
        self.ctx.enable_only(moderngl.NOTHING)
        # Shown at its own size, every pixel samples a texel's centre: nearest is then the same
        # picture as linear, at about half of llvmpipe's cost for a 720p window.
        same_size = tuple(int(v) for v in viewport[2:]) == picture.size
        picture.filter = (moderngl.NEAREST, moderngl.NEAREST) if same_size else (moderngl.LINEAR, moderngl.LINEAR)
        picture.use(0)
        self._background_program["u_frame"] = 0
        self._background_program["u_flip"] = (1.0, 1.0)
        self.ctx.front_face = "ccw"
        self._background_vao.render(moderngl.TRIANGLE_STRIP)

    def _draw(self, rgb, geometries, effect, target, viewport, flip, background: bool = True) -> None:
        """Background (unless the frame is already in `target`), occluders, then effect passes."""
        self._draw_scene(self._plan(rgb, geometries, effect, target, viewport, flip), background)

    def _plan(self, rgb, geometries, effect, target, viewport, flip) -> "_Scene":
        """One frame's drawing worked out before anything is drawn: the frame state and which
        effects are drawn on which entities with which occluders (counts the frame as drawn)."""
        result = as_frame_result(geometries, self.width, self.height)
        self._frames_drawn += 1
        if self._passes and self._frames_drawn % 64 == 0:
            self._evict_idle_passes()
        viewport = tuple(int(v) for v in viewport)
        flip_matrix = np.diag([flip[0], flip[1], 1.0, 1.0]).astype(np.float32)
        projection = flip_matrix @ np.asarray(
            self.camera.projection_matrix(self.width / self.height), dtype=np.float32)
        frame = FrameState(
            ctx=self.ctx, renderer=self, target=target, projection=projection,
            pixel_to_clip=flip_matrix @ _pixel_to_ndc(self.width, self.height),
            width=self.width, height=self.height, mirrored_winding=flip[0] * flip[1] < 0,
            result=result, rgb=rgb, viewport=viewport, flip=tuple(flip))
        plan = []  # (effect, the entities it is drawn on, its occluders)
        for item in effect_list(effect):
            anchor = getattr(item, "anchor", FACE_ORIGIN)
            entities = result.entities(anchor.entity)
            trigger = getattr(item, "trigger", None)  # e.g. shown only while the mouth is open
            if trigger is not None:
                entities = [entity for entity in entities if trigger.visible(entity)]
            if entities:
                plan.append((item, entities, frozenset(getattr(item, "occlusion", DEFAULT_OCCLUSION))))
        return _Scene(frame, result, plan)

    def _draw_scene(self, scene: "_Scene", background: bool = True,
                    box: tuple[int, int, int, int] | None = None) -> None:
        """Clear, draw the background (unless the frame is already in the target), then the
        occluders and effect passes of `scene`; only inside `box` when given (scissored)."""
        ctx, frame = self.ctx, scene.frame
        target = frame.target
        target.viewport = frame.viewport
        target.scissor = box
        frame.scissor = box
        target.depth_mask = True
        target.color_mask = (background,) * 4  # glClear honours the colour mask
        target.use()
        ctx.enable_only(moderngl.NOTHING)
        target.clear(0.0, 0.0, 0.0, 1.0, depth=1.0, viewport=box or target.viewport)
        target.color_mask = (True, True, True, True)
        target.use()
        try:
            if background:
                # RGBA uploads are ~10x cheaper than RGB ones in Mesa.
                cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2RGBA, dst=self._frame_rgba)
                if self._frame_texture is None:
                    self._frame_texture = self.ctx.texture((self.width, self.height), 4)
                    self._frame_texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
                self._frame_texture.write(self._frame_rgba)
                self._frame_texture.use(0)
                self._background_program["u_frame"] = 0
                self._background_program["u_flip"] = frame.flip
                ctx.front_face = "ccw"
                self._background_vao.render(moderngl.TRIANGLE_STRIP)
            # Effects in a row with the same occluders share the depth buffer (each hides the
            # next); an effect with other occluders starts from a buffer holding only its own.
            plan, result = scene.plan, scene.result
            in_depth: frozenset[str] = frozenset()  # the occluders the depth buffer holds
            for position, (item, entities, wanted) in enumerate(plan):
                if wanted != in_depth:
                    group = [(self.effect_pass(e), on) for e, on, occluders in
                             itertools.takewhile(lambda step: step[2] == wanted, plan[position:])]
                    self._write_occluders(frame, result, wanted, _screen_box(frame, group))
                    in_depth = wanted
                effect_pass = self.effect_pass(item)
                for index, entity in enumerate(entities):
                    effect_pass.draw(frame, entity, index)
        finally:
            target.scissor = None
            target.depth_mask = True
            ctx.enable_only(moderngl.NOTHING)

    def _write_occluders(self, frame: FrameState, result: FrameResult, occluders: frozenset[str],
                         box: tuple[int, int, int, int] | None = None) -> None:
        """Make the depth buffer hold exactly `occluders` (every face's first, so no face's
        effect draws over another face), within `box` (x, y, w, h in the target's pixels) when
        the effects that use them say they draw nowhere else (see _screen_box)."""
        target = frame.target
        frame.set_state(depth_test=True, depth_write=True)
        target.color_mask = (False, False, False, False)
        target.use()
        target.clear(depth=1.0, viewport=frame.scissor or target.viewport)
        if box is not None:
            # A head fills ~150,000 pixels of depth at 720p, a pair of glasses a third of that.
            target.scissor = box
            target.use()
        try:
            for name in sorted(occluders):
                writer = OCCLUDERS.get(name)
                if writer is None:
                    raise RenderError(f"unknown occluder '{name}'; known: {', '.join(OCCLUDERS)}")
                writer(self, frame, result)
        finally:
            if box is not None:
                target.scissor = frame.scissor
            target.color_mask = (True, True, True, True)
            target.use()

    def draw_face_occluders(self, frame: FrameState, result: FrameResult) -> None:
        """Every tracked face mesh into the depth buffer (no colour)."""
        self.face_program["u_projection"].write(gl_matrix_bytes(frame.projection))
        for face in result.entities("face"):
            self.upload_face(face)
            self.occluder_vao.render(moderngl.TRIANGLES)

    def draw_head_occluders(self, frame: FrameState, result: FrameResult) -> None:
        """Every tracked face's head (skull, jaw, ears, neck; arfx.render.head) into depth."""
        if self._head is None:
            from arfx.render.head import HeadModel

            model = HeadModel.load()
            positions = self.ctx.buffer(reserve=len(model.vertices) * 12, dynamic=True)
            indices = self.ctx.buffer(model.triangles.tobytes())
            vao = self.ctx.vertex_array(self.face_program, [(positions, "3f", "in_position")],
                                        index_buffer=indices, index_element_size=4)
            self._head = (model, positions, indices, vao)
        model, positions, _, vao = self._head
        self.face_program["u_projection"].write(gl_matrix_bytes(frame.projection))
        # The head's parts are closed and wound outwards: their back faces are always behind
        # their front faces, so culling them leaves the depth the same at half the work.
        self.ctx.enable(moderngl.CULL_FACE)
        for face in result.entities("face"):
            positions.write(model.fit(face.pose, face.mesh).tobytes())
            vao.render(moderngl.TRIANGLES)
        self.ctx.disable(moderngl.CULL_FACE)

    def draw_person_occluders(self, frame: FrameState, result: FrameResult) -> None:
        """The person mask (result.segmentation) into depth at the person's depth: the tracked
        torso's, else the first face's head centre. Hides what lies behind the person (wings,
        a cape), not what is in front."""
        mask = result.segmentation
        anchors = result.entities("body") or result.entities("face")
        if mask is None or not anchors:
            return
        depth_cm = float(anchors[0].pose[2, 3])
        clip = frame.projection @ np.array([0.0, 0.0, depth_cm, 1.0], dtype=np.float32)
        if self._person is None:
            program = self.program("mask_depth", "mask_depth")
            quad = self.ctx.buffer(reserve=8 * 4, dynamic=True)
            self._person = [program, quad, self.ctx.vertex_array(program, [(quad, "2f", "in_position")]), None]
        program, quad, vao, texture = self._person
        height, width = mask.shape[:2]
        if texture is None or texture.size != (width, height):
            if texture is not None:
                texture.release()
            texture = self._person[3] = self.ctx.texture((width, height), 1, dtype="f1")
            texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.write(np.ascontiguousarray(np.clip(mask, 0.0, 1.0) * 255.0, dtype=np.uint8).tobytes())
        quad.write(np.array([0, 0, width, 0, 0, height, width, height], np.float32).tobytes())
        program["u_matrix"].write(gl_matrix_bytes(frame.pixel_to_clip))
        program["u_size"] = (float(width), float(height))
        program["u_depth"] = float(np.clip(clip[2] / clip[3], -1.0, 1.0))
        program["u_mask"] = 0
        texture.use(0)
        vao.render(moderngl.TRIANGLE_STRIP)

    def draw_hand_occluders(self, frame: FrameState, result: FrameResult) -> None:
        """Every tracked hand's silhouette (arfx.geometry.hand_space) into depth, at its depths."""
        hands = result.entities("hand")
        if not hands:
            return
        from arfx.geometry.hand_space import hand_silhouette

        vertices = np.ascontiguousarray(np.concatenate([hand_silhouette(hand.mesh) for hand in hands]))
        if self._hand_buffer is None or self._hand_buffer[0].size < vertices.nbytes:
            if self._hand_buffer is not None:
                for item in self._hand_buffer:
                    item.release()
            buffer = self.ctx.buffer(reserve=max(vertices.nbytes, 64 * 1024), dynamic=True)
            self._hand_buffer = (buffer, self.ctx.vertex_array(self.face_program,
                                                                [(buffer, "3f", "in_position")]))
        buffer, vao = self._hand_buffer
        buffer.write(vertices.tobytes())
        self.face_program["u_projection"].write(gl_matrix_bytes(frame.projection))
        vao.render(moderngl.TRIANGLES, vertices=len(vertices))

    def _frame_sample_texture(self, rgb: np.ndarray) -> moderngl.Texture:
        """The frame as an RGBA texture, uploaded once per drawn frame."""
        if self._sample_texture is None or self._sample_texture.size != (self.width, self.height):
            if self._sample_texture is not None:
                self._sample_texture.release()
            self._sample_texture = self.ctx.texture((self.width, self.height), 4)
            self._sample_texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._sample_rgba = np.full((self.height, self.width, 4), 255, np.uint8)
            self._sample_frame = -1
        if self._sample_frame != self._frames_drawn:
            cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA, dst=self._sample_rgba)
            self._sample_texture.write(self._sample_rgba)
            self._sample_frame = self._frames_drawn
        return self._sample_texture

    def _environment_texture(self, small: np.ndarray) -> moderngl.Texture:
        """The tiny frame as a texture (reflections), uploaded once per drawn frame."""
        size = (small.shape[1], small.shape[0])
        if self._env_texture is None or self._env_texture.size != size:
            if self._env_texture is not None:
                self._env_texture.release()
            from arfx.render.gltf import GL_SRGB8_ALPHA8

            # sRGB: the sampler decodes it (no per-pixel power in the shader).
            self._env_texture = self.ctx.texture(size, 4, internal_format=GL_SRGB8_ALPHA8)
            self._env_texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._env_texture.repeat_x = self._env_texture.repeat_y = False
            self._env_frame = -1
        if self._env_frame != self._frames_drawn:
            # The draws queued so far may read last frame's copy: the write waits for them,
            # and moderngl would wait holding the GIL.
            finish_without_gil()
            self._env_texture.write(cv2.cvtColor(small, cv2.COLOR_RGB2RGBA))
            self._env_frame = self._frames_drawn
        return self._env_texture

    def draw_contact_shadow(self, frame: FrameState, face, field, anchor_matrix: np.ndarray) -> None:
        """Darken `face` where an object (its distance field, arfx.render.contact, anchored by
        `anchor_matrix`: anchor space -> camera space) comes within RADIUS_CM of it."""
        from arfx.render.contact import shade_at

        mesh = getattr(face, "mesh", None)
        if field is None or mesh is None or len(mesh) < self.face_vertex_count:
            return  # only faces receive contact shadows
        anchor_matrix = np.asarray(anchor_matrix, np.float64)
        try:
            to_object = np.linalg.inv(anchor_matrix[:3, :3])
        except np.linalg.LinAlgError:
            return
        mesh = np.asarray(mesh, np.float64)[: self.face_vertex_count]
        shade = shade_at(field, (mesh - anchor_matrix[:3, 3]) @ to_object.T)
        # Only the triangles with a shaded corner are drawn: a pair of glasses darkens a few
        # dozen of the face's ~900 (the bridge, the temples), and the rest would multiply by 1.
        touched = np.flatnonzero((shade > 0.002)[self.face_triangles].any(axis=1))
        if not len(touched):
            return  # the object touches nothing
        if self._contact is None:
            program = self.program("contact", "contact")
            shades = self.ctx.buffer(reserve=self.face_vertex_count * 4, dynamic=True)
            indices = self.ctx.buffer(reserve=self.face_triangles.nbytes, dynamic=True)
            vao = self.ctx.vertex_array(program, [(self.face_positions, "3f", "in_position"),
                                                  (shades, "1f", "in_shade")],
                                        index_buffer=indices, index_element_size=4)
            self._contact = (program, shades, indices, vao)
        program, shades, indices, vao = self._contact
        shades.write(shade.tobytes())
        indices.write(self.face_triangles[touched].tobytes())
        program["u_projection"].write(gl_matrix_bytes(frame.projection))
        self.upload_face(face)
        frame.set_state(depth_test=True, depth_write=False, blend="multiply")
        vao.render(moderngl.TRIANGLES, vertices=len(touched) * 3)

    def _face_light(self, frame: FrameState, face):
        """The light on `face`, estimated from the frame, or the one estimated for the face at
        the same place in one of the last LIGHT_REUSE_FRAMES frames when the picture has not
        changed since (the tiny frame within LIGHT_REUSE_LEVELS of it on average): a still
        scene keeps its light, a light switched on or a face moved is seen the next frame."""
        from arfx.render.lighting import (LIGHT_REUSE_CM, LIGHT_REUSE_FRAMES, LIGHT_REUSE_LEVELS,
                                          estimate_face_light)

        small = self._small_frame(frame.rgb)
        centre = np.asarray(face.mesh[FACE_CENTRE_VERTEX], np.float64)
        frames = self._frames_drawn
        for index, (drawn, seen, where, light) in enumerate(self._light_memory):
            if frames - drawn < LIGHT_REUSE_FRAMES and seen.shape == small.shape \
                    and float(np.linalg.norm(where - centre)) < LIGHT_REUSE_CM \
                    and float(cv2.norm(seen, small, cv2.NORM_L1)) < LIGHT_REUSE_LEVELS * small.size:
                return light
        light = estimate_face_light(frame.rgb, face, self.camera, frame.rgb.shape[1], frame.rgb.shape[0],
                                    self.face_triangles)
        # One remembered light per face place; old ones go.
        self._light_memory = [m for m in self._light_memory
                              if frames - m[0] < LIGHT_REUSE_FRAMES and np.linalg.norm(m[2] - centre) >= LIGHT_REUSE_CM]
        self._light_memory.append((frames, small, centre, light))
        return light

    def _small_frame(self, rgb: np.ndarray) -> np.ndarray:
        """The frame at 1/ENVIRONMENT_DOWNSAMPLE size (arfx.render.lighting.small_frame), made
        once per drawn frame (reflections and the light's change test share it)."""
        from arfx.render.lighting import ENVIRONMENT_DOWNSAMPLE, small_frame

        if self._small[0] != self._frames_drawn:
            self._small = (self._frames_drawn, small_frame(rgb, ENVIRONMENT_DOWNSAMPLE))
        return self._small[1]

    def object_defines(self) -> tuple[str, ...]:
        """Defines of lit programs (shaders/object.frag) for this renderer's lighting mode."""
        return ("FIXED_LIGHT",) if self.lighting == "fixed" else ()

    def apply_lighting(self, program: moderngl.Program, frame: FrameState, face, texture_unit: int = 1) -> None:
        """Set a lit program's light uniforms for one face: the light estimated from the frame
        (u_sh, u_key_*, u_environment on `texture_unit`), the studio light in the same form
        where none can be estimated; nothing with lighting "fixed" (the program's FIXED_LIGHT
        variant has it built in, see object_defines)."""
        if self.lighting != "frame":
            return
        light = frame.face_light(face)
        if light is None:
            from arfx.render.lighting import studio_light

            light = studio_light()
        program["u_sh"].write(np.ascontiguousarray(light.sh, dtype=np.float32).tobytes())
        program["u_key_direction"] = tuple(float(v) for v in light.key_direction)
        program["u_key_strength"] = float(light.key_strength * light.level)
        if "u_environment" in program:
            frame.environment_texture().use(texture_unit)
            program["u_environment"] = texture_unit

    def upload_face(self, face) -> None:
        """Make `face`'s camera-space mesh the face mesh the next draw reads."""
        if self._face_uploaded[0] is face and self._face_uploaded[1] == self._frames_drawn:
            # Already there this frame (the occluder wrote it): writing a buffer that a queued
            # draw reads makes llvmpipe finish every draw so far before going on.
            return
        mesh = np.ascontiguousarray(np.asarray(face.mesh, dtype=np.float32)[: self.face_vertex_count])
        if mesh.shape != (self.face_vertex_count, 3):
            raise RenderError(f"face mesh has shape {mesh.shape}, expected ({self.face_vertex_count}, 3)")
        self.face_positions.write(mesh.tobytes())
        self._face_uploaded = (face, self._frames_drawn)


#: Occluder name -> what writes it into depth; effect.toml's [occlusion] table names these.
#: face: the tracked face mesh itself. head: a canonical head (skull, jaw, ears, neck) fitted
#: to the tracked face, its front 1 cm behind the face surface (arfx.render.head). hands: each
#: tracked hand's silhouette at its depths (arfx.geometry.hand_space; nothing when no hands are
#: tracked). person: the person mask at the person's depth (with segmentation; opt-in, for
#: things worn behind the person such as wings).
OCCLUDERS = {"face": Renderer.draw_face_occluders, "head": Renderer.draw_head_occluders,
             "hands": Renderer.draw_hand_occluders, "person": Renderer.draw_person_occluders}


def _screen_box(frame: FrameState, group: list) -> tuple[int, int, int, int] | None:
    """The pixels (x, y, w, h in frame.target, clipped to the viewport) that a group of effect
    passes (with the entities each is drawn on) can draw in, from their optional
    `screen_box(frame, entity)` (clip-space corners [N, 4] of what they draw, or None when
    they cannot tell); None when any pass cannot tell or the group reaches behind the camera."""
    corners = []
    for effect_pass, entities in group:
        if not hasattr(effect_pass, "screen_box"):
            return None
        for entity in entities:
            clip = frame.screen_corners(effect_pass, entity)
            if clip is None:
                return None
            corners.append(clip)
    if not corners:
        return None
    clip = np.concatenate(corners)
    if not np.all(clip[:, 3] > 1e-6):
        return None  # a corner behind the eye: its projection says nothing of the box
    ndc = clip[:, :2] / clip[:, 3:4]
    x, y, w, h = frame.viewport
    # A pixel's margin for rasterisation rules and multisampling.
    x0 = max(int(np.floor(x + (ndc[:, 0].min() + 1.0) * 0.5 * w)) - 1, x)
    x1 = min(int(np.ceil(x + (ndc[:, 0].max() + 1.0) * 0.5 * w)) + 1, x + w)
    y0 = max(int(np.floor(y + (ndc[:, 1].min() + 1.0) * 0.5 * h)) - 1, y)
    y1 = min(int(np.ceil(y + (ndc[:, 1].max() + 1.0) * 0.5 * h)) + 1, y + h)
    return (x0, y0, max(x1 - x0, 0), max(y1 - y0, 0))


def _check_frame(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise RenderError(f"frames must be uint8 HxWx3 RGB, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


def _pixel_to_ndc(width: int, height: int) -> np.ndarray:
    """Image pixels (x right, y down, pixel centres at +0.5) -> normalised device coordinates."""
    return np.array([
        [2.0 / width, 0.0, 0.0, -1.0],
        [0.0, -2.0 / height, 0.0, 1.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ], dtype=np.float32)
