"""The chain of stages every way of rendering shares: options, tracking stages (faces: tracker
-> geometry) filling one FrameResult per frame -> renderer, and per-stage timings. The offline renderer, the live app, the demo and the benchmark wire it
to their own sources and sinks."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from arfx.errors import InputError
from arfx.options import RenderOptions, TrackingOptions
from arfx.result import BodyResult, FaceResult, FrameResult, HandResult
from arfx.sources import Frame
from arfx.triggers import reads_eyelids

STAGES = ("decode", "track", "geometry", "render", "encode")  # stages may add more (e.g. "hands")
#: fov="auto": frames between two estimates of the field of view; each confident estimate
#: within its uncertainty (at least FOV_STEADY_DEG) of the last doubles the gap, up to FOV_ESTIMATE_MAX_EVERY frames (an
#: estimate costs ~0.7 s of CPU on 2 cores, so re-estimating a settled value every half
#: second would take a core from the live app); an unconfident or moved one starts again.
FOV_ESTIMATE_EVERY = 15
FOV_ESTIMATE_MAX_EVERY = 240
FOV_STEADY_DEG = 1.0
#: Multisample anti-aliasing (edges of 3D objects and face paint) when RenderOptions.antialias
#: is None (auto): on a hardware GPU, where it is nearly free; not on a software rasteriser
#: (llvmpipe), where 4x MSAA costs about 4x the CPU time of a 720p frame (11 -> 43 ms,
#: scripts/bench_render.py) and would take offline rendering from ~50 to ~10 fps. Ask for it
#: there with `--antialias 4`.
RENDER_SAMPLES = 4


def render_samples(ctx, requested: int | None = None) -> int:
    """The MSAA samples for a renderer in `ctx`: `requested`, or auto (see RENDER_SAMPLES)."""
    if requested is not None:
        return int(requested)
    from arfx.render.context import is_software_renderer

    return 0 if is_software_renderer(getattr(ctx, "info", {}).get("GL_RENDERER", "")) else RENDER_SAMPLES

log = logging.getLogger(__name__)


@dataclass
class StageTimes:
    """Per-frame seconds for each stage."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, stage: str, seconds: float) -> None:
        self.samples.setdefault(stage, []).append(seconds)

    def median_ms(self) -> dict[str, float]:
        return {s: (statistics.median(v) * 1000.0 if v else float("nan")) for s, v in self.samples.items()}


class FaceStage:
    """Faces: the tracker, metric geometry, expression scores; adds `result.faces` (FaceResult each)."""

    name = "face"

    def __init__(self, options: TrackingOptions, camera: Any = None) -> None:
        from arfx.geometry.camera import PerspectiveCamera
        from arfx.geometry.expressions import ExpressionEstimator
        from arfx.geometry.pipeline import GeometryPipeline
        from arfx.tracking.tracker import FaceTracker

        self.options = options
        self.tracker = FaceTracker(**options.tracker_arguments())
        self.geometry = GeometryPipeline(camera if camera is not None else PerspectiveCamera())
        self.expressions = ExpressionEstimator()

    def process(self, frame: Frame, result: FrameResult, times: StageTimes) -> None:
        t0 = time.perf_counter()
        faces = self.tracker.process(frame.rgb, frame.timestamp)
        t1 = time.perf_counter()
        for face in faces:
            geometry = self.geometry.estimate(face.landmarks, result.width, result.height, face.id)
            expressions = ({} if geometry is None else
                           self.expressions.update(face.id, geometry, frame.timestamp))
            result.faces.append(FaceResult(face.id, face.landmarks, float(face.score), geometry, expressions))
        self.expressions.forget(face.id for face in faces)
        times.add("track", t1 - t0)
        times.add("geometry", time.perf_counter() - t1)

    @property
    def refined(self) -> bool:
        """Whether the tracker runs the attention model (irises, eyelids that close)."""
        return self.tracker.refine_landmarks

    def refine(self) -> None:
        """Track with refined landmarks from now on: without them the eyelid points never
        meet, so blinks read 0.3 at most and a blink trigger would never fire."""
        from arfx.tracking.tracker import FaceTracker

        log.info("tracking with refined landmarks: the effect reacts to the eyes")
        self.tracker.close()
        self.tracker = FaceTracker(**replace(self.options, refine=True).tracker_arguments())

    def reset(self) -> None:
        self.tracker.reset()
        self.expressions.reset()

    def close(self) -> None:
        self.tracker.close()


class HandStage:
    """Hands: MediaPipe Hands on ONNX, lifted into camera space, with a gesture; adds `result.hands`."""

    name = "hand"

    def __init__(self, options: TrackingOptions, camera: Any) -> None:
        from arfx.tracking.hands import HandTracker

        self.tracker = HandTracker(static_image_mode=options.static, max_num_hands=options.max_hands,
                                   min_detection_confidence=options.min_detection_confidence,
                                   min_tracking_confidence=options.min_tracking_confidence)
        self.camera = camera

    def process(self, frame: Frame, result: FrameResult, times: StageTimes) -> None:
        from arfx.geometry.hand_space import hand_in_camera_space
        from arfx.tracking.gestures import classify_hand

        t0 = time.perf_counter()
        for hand in self.tracker.process(frame.rgb):
            placed = hand_in_camera_space(hand.landmarks, hand.world_landmarks, result.width, result.height,
                                          self.camera)
            gesture = classify_hand(hand)
            result.hands.append(HandResult(hand.id, hand.landmarks, hand.world_landmarks, hand.handedness,
                                           float(hand.score), *(placed or (None, None)), gesture.name,
                                           float(gesture.score)))
        times.add("hands", time.perf_counter() - t0)

    def reset(self) -> None:
        self.tracker.reset()

    def close(self) -> None:
        self.tracker.close()


class BodyStage:
    """Body pose: MediaPipe Pose on ONNX (one person), lifted into camera space; adds `result.bodies`.

    With `options.pose_every` = N > 1 (the live app uses 2) the model runs on every Nth frame;
    the frames between get the body predicted from the last two runs (constant velocity), so
    the window stays responsive while body effects keep moving.
    """

    name = "body"

    def __init__(self, options: TrackingOptions, camera: Any) -> None:
        from arfx.tracking.pose import PoseTracker

        self.tracker = PoseTracker(static_image_mode=options.static, smooth_landmarks=options.smooth,
                                   min_detection_confidence=options.min_detection_confidence,
                                   min_tracking_confidence=options.min_tracking_confidence)
        self.camera = camera
        self.every = 1 if options.static else max(1, int(options.pose_every))
        self._runs: list[tuple[float, list[BodyResult]]] = []  # the last two model runs
        self._count = 0

    def process(self, frame: Frame, result: FrameResult, times: StageTimes) -> None:
        from arfx.geometry.body_space import body_in_camera_space

        t0 = time.perf_counter()
        self._count += 1
        if self.every > 1 and (self._count - 1) % self.every and self._runs:
            result.bodies.extend(self._predict(frame.timestamp))
            times.add("pose", time.perf_counter() - t0)
            return
        bodies = []
        for body in self.tracker.process(frame.rgb, frame.timestamp):
            placed = body_in_camera_space(body.landmarks, body.world_landmarks, result.width, result.height,
                                          self.camera)
            bodies.append(BodyResult(body.id, body.landmarks, body.world_landmarks, body.visibility,
                                     body.presence, float(body.score), *(placed or (None, None))))
        result.bodies.extend(bodies)
        self._runs = (self._runs + [(float(frame.timestamp), bodies)])[-2:]
        times.add("pose", time.perf_counter() - t0)

    def _predict(self, timestamp: float) -> list[BodyResult]:
        """The last run's bodies moved on at the velocity between the last two runs."""
        latest_time, latest = self._runs[-1]
        if len(self._runs) < 2:
            return list(latest)
        before_time, before = self._runs[0]
        span = latest_time - before_time
        step = min(max((timestamp - latest_time) / span, 0.0), 1.0) if span > 0 else 0.0
        previous = {body.id: body for body in before}
        predicted = []
        for body in latest:
            old = previous.get(body.id)
            if old is None or step == 0.0:
                predicted.append(body)
                continue

            def ahead(new, last):
                return None if new is None or last is None else (new + (new - last) * step).astype(np.float32)

            pose = body.pose.copy() if body.pose is not None else None
            if pose is not None and old.pose is not None:
                pose[:3, 3] = ahead(body.pose[:3, 3], old.pose[:3, 3])
            predicted.append(BodyResult(body.id, ahead(body.landmarks, old.landmarks), body.world,
                                        body.visibility, body.presence, body.score, pose,
                                        ahead(body.mesh, old.mesh)))
        return predicted

    def reset(self) -> None:
        self._runs = []
        self.tracker.reset()

    def close(self) -> None:
        self.tracker.close()


class SegmentationStage:
    """The person mask: MediaPipe's selfie segmentation, smoothed over time, edges fitted to the
    frame; sets `result.segmentation` (float32 HxW person probability)."""

    name = "frame"

    def __init__(self, options: TrackingOptions, camera: Any) -> None:
        from arfx.tracking.segmentation import Segmenter

        self.segmenter = Segmenter(smoothing=0.0 if options.static else 0.7)

    def process(self, frame: Frame, result: FrameResult, times: StageTimes) -> None:
        t0 = time.perf_counter()
        result.segmentation = self.segmenter.process(frame.rgb)
        times.add("segmentation", time.perf_counter() - t0)

    def reset(self) -> None:
        self.segmenter.reset()

    def close(self) -> None:
        self.segmenter.close()


_NOT_YET = object()  # no effect seen yet (None is an effect: tracking only)

#: Entity kind -> the stage that tracks it (added to a pipeline when options or effects need
#: it; "frame" effects, e.g. backgrounds, need the person mask).
STAGE_FOR_ENTITY = {"hand": HandStage, "body": BodyStage, "frame": SegmentationStage}


class FramePipeline:
    """Tracking stages -> renderer for one stream of frames.

    `analyse` (the tracking stages, each adding to one FrameResult) may run on any one thread
    at a time; `process` renders. The renderer makes its GL context current for every call,
    so pipelines with their own contexts may be used in turn from one thread.
    """

    def __init__(self, effect: Any, options: RenderOptions | None = None, ctx: Any = None) -> None:
        from arfx.geometry.camera import DEFAULT_FOV, PerspectiveCamera

        self.options = options = options or RenderOptions()
        self.effect = resolve_effect(effect, options.effects_dirs)
        fov = options.tracking.fov
        self.camera = PerspectiveCamera(fov if isinstance(fov, float) else DEFAULT_FOV)
        #: Where the camera's field of view comes from: "option", "metadata" (the frame's
        #: `fov`, from its file), "auto" (estimated from the faces) or "default".
        self.fov_source = "option" if isinstance(fov, float) else "default"
        #: fov="auto": the estimator every frame's faces go to, and its latest estimate.
        self.fov_estimator: Any = None
        self.fov_estimate: Any = None
        if fov == "auto":
            from arfx.geometry.fov import FovEstimator

            self.fov_estimator = FovEstimator(max_frames=150)
        self._since_estimate = 0
        self._fov_logged: tuple[float, str] | None = None
        #: Estimate in a background thread (a second or so on 2 cores) so frames do not wait.
        self.fov_in_background = True
        #: Frames between two estimates while frames come (0: only collect; arfx track
        #: estimates once at the end and lifts every frame again).
        self.fov_estimate_every = FOV_ESTIMATE_EVERY
        self._fov_gap = FOV_ESTIMATE_EVERY  # the current gap (grows while the estimate holds)
        self._fov_job: Any = None  # (thread, [estimate]) while one runs
        self.faces = FaceStage(options.tracking, self.camera)
        # The perspective refinement trusts the camera: only with a field of view that is known.
        self.faces.geometry.refine = self.fov_source != "default"
        #: Run in order on every frame; a stage reads only what earlier stages added.
        self.stages: list[Any] = [self.faces]
        self._stages_effect: Any = _NOT_YET  # the effects (flattened) the stages were chosen for
        self._stages_for_effect()
        self._own_ctx = ctx is None
        self._ctx = ctx
        self._renderer: Any = None
        self.times = StageTimes()

    @property
    def tracker(self) -> Any:
        return self.faces.tracker

    @property
    def geometry(self) -> Any:
        return self.faces.geometry

    @property
    def has_renderer(self) -> bool:
        """Whether the renderer (and its GL context) exists yet."""
        return self._renderer is not None

    @property
    def renderer(self) -> Any:
        if self._renderer is None:
            from arfx.render.context import create_headless_context
            from arfx.render.renderer import Renderer

            if self._ctx is None:
                self._ctx = create_headless_context()
            with self._ctx:
                samples = render_samples(self._ctx, self.options.antialias)
            self._renderer = Renderer(self._ctx, 16, 16, self.camera, samples=samples)
            log.debug("renderer: %s", f"{samples}x MSAA" if samples else "no MSAA")
        return self._renderer

    def _stages_for_effect(self) -> None:
        """Run the trackers the current effect needs (a hand effect needs hands) and the options
        ask for; a tracker only an earlier effect needed stops, so cycling through effects in
        the live app does not leave hands, body and mask tracking running behind glasses."""
        from arfx.render.renderer import effect_list

        # Checked on every frame, so only when the effects change: the live app's debug view
        # hands over a new list of the same effects each frame, hence compared item by item.
        items = effect_list(self.effect)
        chosen = self._stages_effect
        if chosen is not _NOT_YET and len(chosen) == len(items) and all(a is b for a, b in zip(chosen, items)):
            return
        self._stages_effect = items
        tracking = self.options.tracking
        needed = {entity for entity, wanted in (("hand", tracking.hands), ("body", tracking.pose),
                                                ("frame", tracking.segmentation)) if wanted}
        for item in items:
            entity = getattr(getattr(item, "anchor", None), "entity", "face")
            if entity in STAGE_FOR_ENTITY:
                needed.add(entity)
            if "person" in getattr(item, "occlusion", ()):  # the person occluder needs the mask
                needed.add("frame")
            if not self.faces.refined and reads_eyelids(item):
                self.faces.refine()
        running = {stage.name: stage for stage in self.stages[1:]}  # [0] is the face stage
        for name, stage in running.items():
            if name not in needed:
                log.debug("%s tracking stops: the effect does not need it", name)
                stage.close()
        # in STAGE_FOR_ENTITY's order: a stage may read an earlier one's output
        self.stages = [self.faces] + [running.get(entity) or STAGE_FOR_ENTITY[entity](tracking, self.camera)
                                      for entity in STAGE_FOR_ENTITY if entity in needed]

    def set_fov(self, fov: float, source: str = "option") -> None:
        """Lift and render with a camera of vertical field of view `fov` (degrees) from now on."""
        camera = self.camera.with_fov(fov)
        if camera is not self.camera:
            self.camera = camera
            self.faces.geometry.camera = camera
            for stage in self.stages:
                if hasattr(stage, "camera"):
                    stage.camera = camera
            if self._renderer is not None:
                self._renderer.camera = camera
        self.fov_source = source
        self.faces.geometry.refine = source != "default"
        if self._fov_logged != (round(camera.fov_y, 1), source):
            self._fov_logged = (round(camera.fov_y, 1), source)
            log.debug("camera: vertical field of view %.1f degrees (%s)", camera.fov_y, source)

    def _choose_fov(self, frame: Frame) -> None:
        """The camera for this frame: the option, else a confident estimate (auto), else the
        frame's metadata, else the default."""
        from arfx.geometry.camera import DEFAULT_FOV

        option = self.options.tracking.fov
        if isinstance(option, float):
            if self._fov_logged is None:
                self.set_fov(option, "option")
            return
        if self.fov_estimate is not None and self.fov_estimate.confident:
            return
        metadata = getattr(frame, "fov", None)
        if metadata:
            self.set_fov(metadata, "metadata")
        else:
            self.set_fov(DEFAULT_FOV, "default")

    def _estimate_fov(self, result: FrameResult, frame: Frame) -> None:
        """fov="auto": add this frame's faces; now and then, estimate and switch when confident."""
        from arfx.geometry.camera import DEFAULT_FOV

        import threading

        self.fov_estimator.add_result(result)
        self._since_estimate += 1
        if self._fov_job is not None and not self._fov_job[0].is_alive():
            self._use_estimate(self._fov_job[1][0])
            self._fov_job = None
        if not self.fov_estimate_every or self._since_estimate < max(self._fov_gap, self.fov_estimate_every) \
                or self._fov_job is not None:
            return
        self._since_estimate = 0
        snapshot = self.fov_estimator.copy()
        fallback = getattr(frame, "fov", None) or DEFAULT_FOV
        if not self.fov_in_background:
            self._use_estimate(snapshot.estimate(fallback))
            return
        holder: list[Any] = [None]
        thread = threading.Thread(target=lambda: holder.__setitem__(0, snapshot.estimate(fallback)),
                                  name="arfx-fov", daemon=True)
        self._fov_job = (thread, holder)
        thread.start()

    def _use_estimate(self, estimate: Any) -> None:
        if estimate is None:  # the estimate failed in its thread
            return
        previous = self.fov_estimate
        steady = (estimate.confident and previous is not None and previous.confident
                  and abs(estimate.fov - previous.fov) <= max(FOV_STEADY_DEG, estimate.uncertainty))
        self._fov_gap = min(2 * self._fov_gap, FOV_ESTIMATE_MAX_EVERY) if steady else self.fov_estimate_every
        if self.fov_estimate is None or estimate.confident != self.fov_estimate.confident:
            log.debug("field of view estimate: %s", estimate.reason)
        self.fov_estimate = estimate
        if estimate.confident and (self.fov_source != "auto" or abs(estimate.fov - self.camera.fov_y) >= 0.5):
            self.set_fov(estimate.fov, "auto")

    def analyse(self, frame: Frame) -> FrameResult:
        """What every tracking stage finds in one frame."""
        self._stages_for_effect()
        self._choose_fov(frame)
        h, w = frame.rgb.shape[:2]
        result = FrameResult(frame.index, frame.timestamp, w, h)
        result.camera = self.camera
        for stage in self.stages:
            stage.process(frame, result, self.times)
        if self.fov_estimator is not None:
            self._estimate_fov(result, frame)
        return result

    def process(self, frame: Frame, analysed: FrameResult | None = None) -> tuple[np.ndarray, int]:
        """The rendered frame and how many faces were drawn (`analysed`: from analyse(), if done)."""
        result = analysed if analysed is not None else self.analyse(frame)
        t0 = time.perf_counter()
        # The camera this frame's geometry was lifted with (analysis may run frames ahead).
        self.renderer.camera = result.camera if result.camera is not None else self.camera
        out = self.renderer.render(frame.rgb, result, self.effect, mirror=self.options.mirror)
        self.times.add("render", time.perf_counter() - t0)
        return out, len(result.entities("face"))

    @property
    def max_side(self) -> int:
        """The largest width or height this OpenGL can render to (16384 on llvmpipe)."""
        with self.renderer.ctx:
            info = self.renderer.ctx.info
        return int(min(info.get("GL_MAX_TEXTURE_SIZE", 16384), info.get("GL_MAX_RENDERBUFFER_SIZE", 16384),
                       *info.get("GL_MAX_VIEWPORT_DIMS", (16384, 16384))))

    def check_renderable(self, frame: Frame, name: str) -> None:
        """An InputError naming `name` for a frame larger than the GL limits (checked before work)."""
        h, w = frame.rgb.shape[:2]
        limit = self.max_side
        if w > limit or h > limit:
            raise InputError(f"{name}: {w}x{h} px is larger than this OpenGL can render "
                             f"({limit} px per side); scale it down first")

    def reset_tracking(self) -> None:
        for stage in self.stages:
            stage.reset()

    def close(self) -> None:
        for stage in self.stages:
            stage.close()
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
        if self._own_ctx and self._ctx is not None:
            self._ctx.release()
            self._ctx = None


def resolve_effect(effect: Any, effects_dirs: Sequence[str] = ()) -> Any:
    """An effect object from a name (via the registry) or an already-built effect."""
    if effect is None or not isinstance(effect, str):
        return effect
    from arfx.effects.registry import load_effect

    return load_effect(effect, effects_dirs)
