"""`arfx track`: landmarks, head pose and face mesh for every frame of a file, to .npz.

The file's layout is the key table TRACK_KEYS (documented in the README from it), versioned
by SCHEMA_VERSION. Entities (faces now; hands and bodies later) are stored flat: the faces
of frame i are rows face_offset[i]:face_offset[i+1] of every `face_*` array.

Rule for adding keys: a new per-entity value is `<entity>_<name>` with the entity rows as
its first axis; a new entity adds `<entity>_count` [T] and `<entity>_offset` [T+1]; a new
per-frame value has T as its first axis. Adding keys keeps SCHEMA_VERSION; renaming,
removing or changing the meaning or shape of a key increments it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from arfx.errors import InputError
from arfx.geometry.expressions import EXPRESSION_NAMES
from arfx.geometry.ibug68 import landmarks68
from arfx.geometry.pipeline import FaceGeometry
from arfx.options import TrackingOptions
from arfx.outputs import write_atomically
from arfx.result import FrameResult
from arfx.sources import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, FolderSource, Frame, ImageSource, Source,
                          open_source)

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
#: Called with each frame and its FrameResult as it is tracked (e.g. RerunLogger.log).
FrameCallback = Callable[[Frame, FrameResult], None]

SCHEMA_VERSION = 2
#: Every key of the .npz: (dtype and shape, meaning). T = frames, F = faces over all frames.
TRACK_KEYS: dict[str, tuple[str, str]] = {
    "schema_version": ("int32", f"layout version of the file ({SCHEMA_VERSION})"),
    "frame_index": ("int32 [T]", "frame number in the input"),
    "frame_name": ("str [T]", "image file name (folders, images) or frame number (videos)"),
    "width": ("int32, or [T] when sizes differ", "frame width in pixels"),
    "height": ("int32, or [T] when sizes differ", "frame height in pixels"),
    "fps": ("float32", "the video's frame rate (0 for images)"),
    "fov": ("float32", "vertical field of view of the metric camera, degrees (the last frame's; "
                       "frame_fov has each frame's)"),
    "frame_fov": ("float32 [T]", "vertical field of view each frame was lifted with, degrees (differs "
                                 "between photos with different EXIF)"),
    "fov_source": ("str", "where fov came from: option (--fov), metadata (EXIF or the video's), auto "
                          "(estimated from the faces) or default (63, MediaPipe's)"),
    "fov_uncertainty": ("float32", "--fov auto: one standard deviation of the estimate, degrees "
                                   "(inf when the motion did not constrain it; NaN without auto)"),
    "fov_estimate": ("float32", "--fov auto: the best-fitting field of view, degrees, used only when "
                                "confident (fov_source auto); NaN without auto or with too few frames"),
    "near": ("float32", "near plane of the metric camera, cm"),
    "face_count": ("int32 [T]", "faces in each frame"),
    "face_offset": ("int32 [T+1]", "faces of frame i are rows face_offset[i]:face_offset[i+1]"),
    "face_id": ("int32 [F]", "stable id while a face is tracked"),
    "face_score": ("float32 [F]", "face presence, 0..1"),
    "face_landmarks": ("float32 [F, 468|478, 3]", "x / width, y / height, z / width (MediaPipe's units)"),
    "face_landmarks68": ("float32 [F, 68, 3]", "the 68 iBUG / 300-W points, units as face_landmarks "
                                               "(mesh vertices listed in arfx.geometry.ibug68)"),
    "face_box": ("float32 [F, 4]", "x0, y0, x1, y1: the landmarks' bounding box / width, height (may pass "
                                   "0..1 at the frame's edge)"),
    "face_pose": ("float32 [F, 4, 4]", "canonical face space (cm) -> camera space (cm); NaN if no fit"),
    "face_mesh": ("float32 [F, 468, 3]", "camera-space face mesh, cm; NaN if no fit"),
    "face_euler": ("float32 [F, 3]", "yaw, pitch, roll in degrees; NaN if no fit"),
    "face_translation": ("float32 [F, 3]", "the face origin in camera space, cm (face_pose's last column); "
                                           "NaN if no fit"),
    "face_expressions": ("float32 [F, E]", "expression scores 0..1 (NaN if no fit), columns named by expression_names"),
    "expression_names": ("str [E]", "the blendshape each face_expressions column approximates"),
}
#: Keys written only with `--pose` (B = bodies over all frames; MediaPipe Pose: one person).
BODY_KEYS: dict[str, tuple[str, str]] = {
    "body_count": ("int32 [T]", "bodies in each frame (0 or 1)"),
    "body_offset": ("int32 [T+1]", "bodies of frame i are rows body_offset[i]:body_offset[i+1]"),
    "body_id": ("int32 [B]", "stable id while the person is tracked"),
    "body_score": ("float32 [B]", "pose presence, 0..1"),
    "body_landmarks": ("float32 [B, 33, 3]", "x / width, y / height, z / width; names in arfx.tracking.pose"),
    "body_world": ("float32 [B, 33, 3]", "metric landmarks, metres, around the hips"),
    "body_visibility": ("float32 [B, 33]", "how likely each landmark is visible, 0..1"),
    "body_pose": ("float32 [B, 4, 4]", "torso frame (cm) -> camera space (cm); NaN if degenerate"),
}
#: Keys written only with `--hands` (H = hands over all frames).
HAND_KEYS: dict[str, tuple[str, str]] = {
    "hand_count": ("int32 [T]", "hands in each frame"),
    "hand_offset": ("int32 [T+1]", "hands of frame i are rows hand_offset[i]:hand_offset[i+1]"),
    "hand_id": ("int32 [H]", "stable id while a hand is tracked"),
    "hand_score": ("float32 [H]", "hand presence, 0..1"),
    "hand_handedness": ("str [H]", "left or right: the person's own hand"),
    "hand_landmarks": ("float32 [H, 21, 3]", "x / width, y / height, z / width"),
    "hand_world": ("float32 [H, 21, 3]", "metric landmarks, metres, around the hand's centre"),
    "hand_pose": ("float32 [H, 4, 4]", "hand frame (cm) -> camera space (cm); NaN if degenerate"),
    "hand_gesture": ("str [H]", "open_palm, fist, pointing, victory, thumbs_up, pinch or none"),
}


@dataclass
class TrackResult:
    """Per-frame faces of one input, in the flat layout of the .npz file."""

    frame_index: list[int] = field(default_factory=list)
    face_count: list[int] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)  # normalized, per face
    scores: list[float] = field(default_factory=list)
    face_id: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    poses: list[np.ndarray] = field(default_factory=list)
    meshes: list[np.ndarray] = field(default_factory=list)
    eulers: list[np.ndarray] = field(default_factory=list)
    expressions: list[np.ndarray] = field(default_factory=list)
    hands: list[list] = field(default_factory=list)  # per frame: that frame's HandResults
    bodies: list[list] = field(default_factory=list)  # per frame: that frame's BodyResults
    track_hands: bool = False
    track_pose: bool = False
    fps: float = 0.0
    fov: float | None = None
    near: float | None = None
    fovs: list[float] = field(default_factory=list)  # per frame
    fov_source: str = "default"
    fov_uncertainty: float = float("nan")
    fov_estimate: float = float("nan")


def _frames_of(path: Path) -> tuple[Source, Iterator[tuple[str, Frame]], float, int | None, bool]:
    """The source, its (name, frame) pairs, fps, frame count if known, and whether frames are stills.

    Reading goes through arfx.sources, so `arfx track` sees exactly what `arfx render`
    sees: rotation metadata applied, 16-bit/gray/RGBA images converted, cut-off videos
    decoded as far as they go, and the same one-line errors.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    source = open_source(path) if path.is_dir() or path.suffix.lower() in (IMAGE_SUFFIXES | VIDEO_SUFFIXES) \
        else None
    if source is None:
        raise InputError(f"{path}: not an image, a folder of images or a video "
                         f"(known video types: {', '.join(sorted(VIDEO_SUFFIXES))})")
    if isinstance(source, FolderSource):
        files = source.files
        return source, ((files[f.index].name, f) for f in source), 0.0, len(files), True
    if isinstance(source, ImageSource):
        return source, iter([(path.name, next(iter(source)))]), 0.0, 1, True
    return source, ((str(f.index), f) for f in source), float(source.fps or 0.0), source.frame_count, False


def track_file(input_path: str | Path, options: TrackingOptions | None = None,
               progress: Progress | None = None, on_frame: FrameCallback | None = None) -> TrackResult:
    """Track every frame of an image, a folder of images or a video (`on_frame(frame, result)`
    sees each frame's FrameResult after tracking; it must not change it)."""
    from arfx.options import RenderOptions
    from arfx.pipeline import FramePipeline

    options = options or TrackingOptions()
    source, frames, fps, total, stills = _frames_of(Path(input_path))
    if stills and not options.static:
        log.info("still images are unrelated frames: detecting on each one")
        options = replace(options, static=True)
    result = TrackResult(fps=fps, track_hands=options.hands, track_pose=options.pose)
    pipeline = FramePipeline(None, RenderOptions(tracking=options))  # tracking stages only: no GL
    pipeline.fov_estimate_every = 0  # fov auto: one estimate from every frame, at the end
    try:
        with source:
            for index, (name, frame) in enumerate(frames):
                # Rows count frames in the file's order; stills get a 30 fps clock.
                frame = Frame(frame.rgb, index, frame.timestamp if fps > 0 else index / 30.0, fov=frame.fov)
                analysed = pipeline.analyse(frame)
                _append(result, name, analysed)
                result.fovs.append(float(analysed.camera.fov_y))
                if on_frame is not None:
                    on_frame(frame, analysed)
                if progress is not None:
                    progress(index + 1, total)
        if pipeline.fov_estimator is not None:
            _relift(result, pipeline, fallback=frame.fov if result.fovs else None)
    finally:
        pipeline.close()
    result.fov = float(pipeline.camera.fov_y)
    result.near = float(pipeline.camera.near)
    result.fov_source = pipeline.fov_source
    log.info("field of view: %.1f degrees (%s)", result.fov, result.fov_source)
    return result


def _relift(result: TrackResult, pipeline, fallback: float | None) -> None:
    """fov="auto": estimate the field of view from every frame's faces, then lift every face
    (and hand) again with that one camera, so the whole file shares it."""
    from arfx.geometry.camera import DEFAULT_FOV
    from arfx.geometry.hand_space import hand_in_camera_space

    estimate = pipeline.fov_estimator.estimate(fallback or DEFAULT_FOV)
    log.info("field of view estimate: %s", estimate.reason)
    result.fov_uncertainty = float(estimate.uncertainty)
    result.fov_estimate = float("nan") if estimate.estimated is None else float(estimate.estimated)
    pipeline.set_fov(estimate.fov, "auto" if estimate.confident else ("metadata" if fallback else "default"))
    geometry = pipeline.geometry
    row = 0
    for i, count in enumerate(result.face_count):
        w, h = result.widths[i], result.heights[i]
        for j in range(row, row + count):
            pixels = result.landmarks[j] * np.array([w, h, w], dtype=np.float32)
            placed = geometry.estimate(pixels, w, h, result.face_id[j])
            result.poses[j], result.meshes[j], result.eulers[j] = _geometry_arrays(placed)
        row += count
        for hand in result.hands[i]:
            placed = hand_in_camera_space(hand.landmarks, hand.world, w, h, pipeline.camera)
            hand.pose, hand.mesh = placed or (None, None)
    result.fovs = [float(pipeline.camera.fov_y)] * len(result.fovs)


def _geometry_arrays(geometry: FaceGeometry | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose, mesh and Euler angles of one face; NaN where the fit was degenerate."""
    if geometry is None:
        return (np.full((4, 4), np.nan, np.float32), np.full((468, 3), np.nan, np.float32),
                np.full(3, np.nan, np.float32))
    return (np.asarray(geometry.pose, dtype=np.float32), np.asarray(geometry.mesh, dtype=np.float32)[:468],
            np.asarray(geometry.euler, dtype=np.float32))


def _append_geometry(result: TrackResult, geometry: FaceGeometry | None) -> None:
    """Pose, mesh and Euler angles of one face; NaN where the fit was degenerate."""
    pose, mesh, euler = _geometry_arrays(geometry)
    result.poses.append(pose)
    result.meshes.append(mesh)
    result.eulers.append(euler)


def _append(result: TrackResult, name: str, frame: FrameResult) -> None:
    scale = np.array([frame.width, frame.height, frame.width], dtype=np.float32)
    result.frame_index.append(frame.index)
    result.face_count.append(len(frame.faces))
    result.widths.append(frame.width)
    result.heights.append(frame.height)
    result.names.append(name)
    for face in frame.faces:
        result.landmarks.append(face.landmarks / scale)
        result.scores.append(face.score)
        result.face_id.append(face.id)
        _append_geometry(result, face.geometry)
        result.expressions.append(np.array([face.expressions.get(name, np.nan) for name in EXPRESSION_NAMES],
                                           dtype=np.float32))
    result.hands.append(list(frame.hands))
    result.bodies.append(list(frame.bodies))


def to_arrays(result: TrackResult, points: int) -> dict[str, np.ndarray]:
    """The .npz layout (TRACK_KEYS): faces of frame i are rows face_offset[i]:face_offset[i+1]."""
    counts = np.asarray(result.face_count, dtype=np.int32)
    arrays: dict[str, np.ndarray] = {
        "schema_version": np.int32(SCHEMA_VERSION),
        "frame_index": np.asarray(result.frame_index, dtype=np.int32),
        "frame_name": np.asarray(result.names),
        "face_count": counts,
        "face_offset": np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
        "face_landmarks": (np.stack(result.landmarks).astype(np.float32) if result.landmarks
                           else np.zeros((0, points, 3), np.float32)),
        "face_score": np.asarray(result.scores, dtype=np.float32),
        "face_id": np.asarray(result.face_id, dtype=np.int32),
        "fps": np.float32(result.fps),
        "face_expressions": (np.stack(result.expressions) if result.expressions
                             else np.zeros((0, len(EXPRESSION_NAMES)), np.float32)),
        "expression_names": np.asarray(EXPRESSION_NAMES),
    }
    arrays["face_landmarks68"] = np.ascontiguousarray(landmarks68(arrays["face_landmarks"]))
    xy = arrays["face_landmarks"][:, :, :2]
    arrays["face_box"] = np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1).astype(np.float32)
    uniform = len(set(result.widths)) <= 1 and len(set(result.heights)) <= 1
    if uniform and result.widths:
        arrays["width"] = np.int32(result.widths[0])
        arrays["height"] = np.int32(result.heights[0])
    else:
        arrays["width"] = np.asarray(result.widths, dtype=np.int32)
        arrays["height"] = np.asarray(result.heights, dtype=np.int32)
    if result.fov is not None:
        arrays["face_pose"] = (np.stack(result.poses) if result.poses else np.zeros((0, 4, 4), np.float32))
        arrays["face_mesh"] = (np.stack(result.meshes) if result.meshes else np.zeros((0, 468, 3), np.float32))
        arrays["face_euler"] = (np.stack(result.eulers) if result.eulers else np.zeros((0, 3), np.float32))
        arrays["face_translation"] = np.ascontiguousarray(arrays["face_pose"][:, :3, 3], dtype=np.float32)
        arrays["fov"] = np.float32(result.fov)
        arrays["near"] = np.float32(result.near)
        arrays["fov_source"] = np.asarray(result.fov_source)
        arrays["fov_uncertainty"] = np.float32(result.fov_uncertainty)
        arrays["fov_estimate"] = np.float32(result.fov_estimate)
        arrays["frame_fov"] = np.asarray(result.fovs, dtype=np.float32)
    if result.track_hands:
        arrays.update(_hand_arrays(result))
    if result.track_pose:
        arrays.update(_body_arrays(result))
    return arrays


def _entity_arrays(entity: str, frames: list[list], result: TrackResult, points: int,
                   extra: dict[str, tuple[str, tuple]]) -> dict[str, np.ndarray]:
    """An entity's flat arrays (HAND_KEYS, BODY_KEYS): `<entity>_count`/`_offset`, id, score,
    landmarks normalized like the faces', world landmarks, pose (NaN where degenerate), and
    `extra` fields: key suffix -> (attribute, per-row shape; () for text)."""
    rows = [(item, w, h) for frame, w, h in zip(frames, result.widths, result.heights) for item in frame]
    counts = np.asarray([len(frame) for frame in frames], dtype=np.int32)

    def stack(values, shape):
        return np.stack(values).astype(np.float32) if values else np.zeros((0, *shape), np.float32)

    arrays = {
        f"{entity}_count": counts,
        f"{entity}_offset": np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
        f"{entity}_id": np.asarray([item.id for item, _, _ in rows], dtype=np.int32),
        f"{entity}_score": np.asarray([item.score for item, _, _ in rows], dtype=np.float32),
        f"{entity}_landmarks": stack([item.landmarks / np.array([w, h, w], np.float32) for item, w, h in rows],
                                     (points, 3)),
        f"{entity}_world": stack([item.world for item, _, _ in rows], (points, 3)),
        f"{entity}_pose": stack([item.pose if item.pose is not None else np.full((4, 4), np.nan)
                                 for item, _, _ in rows], (4, 4)),
    }
    for suffix, (attribute, shape) in extra.items():
        values = [getattr(item, attribute) for item, _, _ in rows]
        arrays[f"{entity}_{suffix}"] = np.asarray(values, dtype=str) if shape == () else stack(values, shape)
    return arrays


def _body_arrays(result: TrackResult) -> dict[str, np.ndarray]:
    """The BODY_KEYS arrays: every frame's bodies."""
    return _entity_arrays("body", result.bodies, result, 33, {"visibility": ("visibility", (33,))})


def _hand_arrays(result: TrackResult) -> dict[str, np.ndarray]:
    """The HAND_KEYS arrays: every frame's hands."""
    return _entity_arrays("hand", result.hands, result, 21,
                          {"handedness": ("handedness", ()), "gesture": ("gesture", ())})


def check_npz_output(output: str | Path, overwrite: bool = False) -> Path:
    """Refuse, before any tracking, an output that is not .npz, exists, or has no folder."""
    from arfx.outputs import check_output_path

    return check_output_path(output, overwrite, {".npz": "npz"}, "track output")


def write_npz(result: TrackResult, output: str | Path, refine: bool = False,
              overwrite: bool = False) -> Path:
    """Write the .npz under a temp name and rename it (a failed write leaves no file)."""
    out = check_npz_output(output, overwrite)
    arrays = to_arrays(result, 478 if refine else 468)

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:  # a file object: numpy would append .npz to a name
            np.savez_compressed(handle, **arrays)

    return write_atomically(out, write, overwrite, "landmarks")
