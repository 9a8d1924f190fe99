"""Rerun logging: see what the tracker sees, frame by frame, in the Rerun viewer.

    from arfx.rerun_log import RerunLogger
    with RerunLogger("session.rrd") as rr_log:      # or RerunLogger(spawn=True) for a live viewer
        for rgb, result in frames_and_results:      # any loop that has a FrameResult per frame
            rr_log.log(rgb, result)

Each `FrameResult` is logged on the timelines `time` (seconds, the frame's timestamp) and
`frame_idx` (its index). Entity paths follow the result (README "Rerun" lists them):

    world                                  view coordinates RUB (arfx camera space), static
    world/camera                           pinhole of the metric camera (logged when the size changes)
    world/camera/image                     the frame, JPEG-encoded
    world/camera/image/face/<id>/box       box around the landmarks, labelled with id and score
    world/camera/image/face/<id>/keypoints the detector's 6 keypoints, taken from the landmarks
    world/camera/image/face/<id>/landmarks 2D landmarks, one class per facial feature
    world/face/<id>                        the head pose (canonical face space -> camera space)
    world/face/<id>/mesh                   the face mesh in face space (moves with the expression)
    world/face/<id>/landmarks              the metric landmarks (cm), classes as in 2D
    world/camera/image/<hand|body>/<id>/{landmarks,box}  hands and bodies: skeleton classes, label
    world/<hand|body>/<id>/landmarks       their camera-space points (cm), when the stage has them
    pose/face/<id>                         head angles in degrees: series yaw, pitch, roll
    expressions/face/<id>                  expression scores 0..1, one series per name
    score/face/<id>                        face presence 0..1

The facial feature classes are derived from the canonical mesh's topology
(`feature_classes`): the face oval is the mesh's boundary loop; eye contours, lip lines and
eyebrows are shortest edge paths through a few named vertices (a path may be restricted to
one vertex ring so it follows the lip or brow edge); irises are the refine model's points
468-477. `rerun-sdk` is an optional dependency (`pip install "arfx[rerun]"`), imported on
first use.
"""

from __future__ import annotations

import functools
import heapq
import logging
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from arfx.errors import ArfxError, OutputError

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "arfx[rerun]"'
APPLICATION_ID = "arfx"
TIMELINE_TIME = "time"
TIMELINE_FRAME = "frame_idx"

#: Annotation classes: id -> (name, RGB). Faces use 0-9; hands and bodies have their own.
CLASSES: dict[int, tuple[str, tuple[int, int, int]]] = {
    0: ("face", (150, 150, 150)),
    1: ("face_oval", (235, 235, 235)),
    2: ("lips", (235, 60, 110)),
    3: ("right_eye", (40, 200, 245)),
    4: ("left_eye", (70, 225, 90)),
    5: ("right_eyebrow", (40, 110, 255)),
    6: ("left_eyebrow", (30, 160, 70)),
    7: ("right_iris", (255, 220, 40)),
    8: ("left_iris", (255, 140, 30)),
    9: ("nose", (190, 110, 255)),
    10: ("hand", (255, 200, 0)),
    11: ("body", (0, 205, 205)),
    12: ("points", (200, 200, 200)),
}
CLASS_ID = {name: class_id for class_id, (name, _) in CLASSES.items()}
#: The detector's 6 face keypoints (BlazeFace's order), here placed from the landmarks.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear_tragion", "left_ear_tragion")
FACE_COLOURS = ((255, 90, 60), (60, 170, 255), (120, 220, 60), (240, 200, 40), (220, 90, 220), (60, 220, 200))
POSE_NAMES = ("yaw", "pitch", "roll")  # the series of pose/face/<id>, degrees


def import_rerun() -> Any:
    """The rerun module, or a one-line ArfxError saying how to install it."""
    try:
        import rerun
    except ImportError:
        need = "" if sys.version_info >= (3, 11) else f" (it needs Python >= 3.11; this is " \
               f"{sys.version_info.major}.{sys.version_info.minor})"
        raise ArfxError(f"Rerun logging needs rerun-sdk{need}: {INSTALL_HINT}") from None
    return rerun


# ---------------------------------------------------------------- feature classes from the mesh

def _edges(triangles: np.ndarray) -> dict[int, set[int]]:
    adjacency: dict[int, set[int]] = defaultdict(set)
    for a, b, c in np.asarray(triangles, dtype=np.int64):
        for u, v in ((a, b), (b, c), (c, a)):
            adjacency[int(u)].add(int(v))
            adjacency[int(v)].add(int(u))
    return adjacency


def _boundary_loop(triangles: np.ndarray) -> list[int]:
    """The mesh's boundary edges (in one triangle only), walked as one closed loop."""
    count: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, c in np.asarray(triangles, dtype=np.int64):
        for u, v in ((a, b), (b, c), (c, a)):
            count[(min(u, v), max(u, v))] += 1
    nexts: dict[int, list[int]] = defaultdict(list)
    for (u, v), n in count.items():
        if n == 1:
            nexts[int(u)].append(int(v))
            nexts[int(v)].append(int(u))
    start = min(nexts)
    loop, previous = [start], None
    while True:
        step = [v for v in nexts[loop[-1]] if v != previous and v not in loop]
        if not step:
            return loop
        previous = loop[-1]
        loop.append(step[0])


def _shortest_path(adjacency: dict[int, set[int]], vertices: np.ndarray, start: int, end: int,
                   allowed: set[int] | None) -> list[int]:
    """Shortest edge path (3D edge lengths) from start to end through `allowed` vertices."""
    distance = {start: 0.0}
    previous: dict[int, int] = {}
    queue = [(0.0, start)]
    while queue:
        d, u = heapq.heappop(queue)
        if u == end:
            break
        if d > distance[u]:
            continue
        for v in adjacency[u]:
            if allowed is not None and v not in allowed and v != end:
                continue
            nd = d + float(np.linalg.norm(vertices[u] - vertices[v]))
            if nd < distance.get(v, np.inf):
                distance[v] = nd
                previous[v] = u
                heapq.heappush(queue, (nd, v))
    if end not in distance:
        raise ValueError(f"no mesh path from vertex {start} to {end}")
    path = [end]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def _through(adjacency: dict[int, set[int]], vertices: np.ndarray, waypoints: Sequence[int],
             allowed: set[int] | None = None) -> list[int]:
    """A path through the waypoints in order, never revisiting a vertex."""
    path = [waypoints[0]]
    everything = set(adjacency)
    for a, b in zip(waypoints, waypoints[1:]):
        pool = (allowed if allowed is not None else everything) - set(path[:-1])
        path += _shortest_path(adjacency, vertices, a, b, pool | {a})[1:]
    return path


def _rings(adjacency: dict[int, set[int]], sources: Iterable[int]) -> dict[int, int]:
    """Edge hops from a set of vertices, for every vertex."""
    hops = {s: 0 for s in sources}
    frontier = list(hops)
    while frontier:
        following = []
        for u in frontier:
            for v in adjacency[u]:
                if v not in hops:
                    hops[v] = hops[u] + 1
                    following.append(v)
        frontier = following
    return hops


def _polyline(path: Sequence[int], closed: bool = False) -> list[tuple[int, int]]:
    pairs = list(zip(path, path[1:]))
    if closed and len(path) > 2:
        pairs.append((path[-1], path[0]))
    return pairs


# Named vertices of the canonical mesh (the person's own left and right; facts also used by
# arfx.geometry.expressions): eye corners and lid midpoints, mouth corners and lip midpoints,
# eyebrow ends, nose landmarks. Everything between them is found on the mesh.
_EYE = {"right_eye": (33, 159, 133, 145), "left_eye": (263, 386, 362, 374)}  # outer, top, inner, bottom
_INNER_LIPS = (78, 13, 308, 14)  # left end (image), upper middle, right end, lower middle
_OUTER_LIPS = (61, 0, 291, 17)
_BROWS = {"right_eyebrow": ((70, 107), (46, 55)), "left_eyebrow": ((300, 336), (276, 285))}  # upper, lower line
_NOSE = ((168, 1, 2), (98, 2, 327))  # bridge to tip to base; base across the nostrils
_IRISES = {"right_iris": (468, (469, 470, 471, 472)), "left_iris": (473, (474, 475, 476, 477))}


@functools.lru_cache(maxsize=1)
def feature_classes() -> dict[str, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]]:
    """Facial feature -> (landmark indices, connections), derived from the canonical mesh."""
    from arfx.geometry.canonical import CanonicalFace

    canonical = CanonicalFace.load()
    vertices = np.asarray(canonical.vertices, dtype=np.float64)
    adjacency = _edges(canonical.triangles)
    features: dict[str, list[tuple[int, int]]] = {}
    features["face_oval"] = _polyline(_boundary_loop(canonical.triangles), closed=True)
    for name, (outer, top, inner, bottom) in _EYE.items():
        features[name] = _polyline(_through(adjacency, vertices, (outer, top, inner, bottom, outer)))
    inner = _through(adjacency, vertices, _INNER_LIPS + _INNER_LIPS[:1])
    # The outer lip line is the ring of vertices as many edges from the inner line as the
    # mouth corners and lip midpoints are (3 on MediaPipe's mesh).
    hops = _rings(adjacency, inner)
    depth = {hops[v] for v in _OUTER_LIPS}
    if len(depth) != 1:
        raise ValueError(f"outer lip vertices lie on different rings: {sorted(depth)}")
    level = depth.pop()
    ring = {v for v, h in hops.items() if h == level}
    outer = _through(adjacency, vertices, _OUTER_LIPS + _OUTER_LIPS[:1], ring)
    features["lips"] = _polyline(inner) + _polyline(outer)
    for name, (upper, lower) in _BROWS.items():
        top = _through(adjacency, vertices, upper)
        beside = set().union(*(adjacency[v] for v in top)) - set(top)  # the ring just below the top line
        features[name] = _polyline(top) + _polyline(_through(adjacency, vertices, lower, beside | set(lower)))
    features["nose"] = [pair for line in _NOSE for pair in _polyline(_through(adjacency, vertices, line))]
    for name, (centre, ring_points) in _IRISES.items():
        features[name] = _polyline(ring_points, closed=True) + [(centre, ring_points[0])]
    out = {}
    owner: dict[int, str] = {}
    for name, pairs in features.items():
        points = tuple(sorted({v for pair in pairs for v in pair}))
        for v in points:
            if v in owner:
                raise ValueError(f"landmark {v} is in both {owner[v]} and {name}")
            owner[v] = name
        out[name] = (points, tuple((int(a), int(b)) for a, b in pairs))
    return out


@functools.lru_cache(maxsize=1)
def landmark_class_ids() -> np.ndarray:
    """uint16 [478]: the feature class of every face landmark (0 = no feature)."""
    ids = np.zeros(478, dtype=np.uint16)
    for name, (points, _) in feature_classes().items():
        ids[list(points)] = CLASS_ID[name]
    return ids


def _skeleton(module: str) -> tuple[tuple[int, int], ...]:
    try:
        return tuple(getattr(__import__(module, fromlist=["CONNECTIONS"]), "CONNECTIONS"))
    except Exception:  # noqa: BLE001 - a tracker module that is not there: points without lines
        log.debug("no skeleton connections from %s", module)
        return ()


def keypoints_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """float32 [6,2]: the detector's keypoints (KEYPOINT_NAMES) placed from 468+ landmarks."""
    classes = feature_classes()
    xy = np.asarray(landmarks, dtype=np.float32)[:, :2]
    right_eye = xy[list(classes["right_eye"][0])].mean(axis=0)
    left_eye = xy[list(classes["left_eye"][0])].mean(axis=0)
    mouth = xy[[13, 14]].mean(axis=0)
    return np.stack([right_eye, left_eye, xy[1], mouth, xy[234], xy[454]]).astype(np.float32)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """float32 [N,3] unit normals: area-weighted mean of the normals of each vertex's triangles."""
    v = np.asarray(vertices, dtype=np.float32)
    t = np.asarray(triangles, dtype=np.int64)
    face = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    normals = np.zeros_like(v)
    for corner in range(3):
        for axis in range(3):
            normals[:, axis] += np.bincount(t[:, corner], weights=face[:, axis], minlength=len(v))
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-12)


def has_display() -> bool:
    """Whether a viewer window can open here (Linux and BSDs need an X11 or Wayland display)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_rerun_target(path: str | os.PathLike[str] | None, overwrite: bool = False) -> Path | None:
    """Refuse, before any work, a missing rerun-sdk, a bad .rrd path or a viewer with no display."""
    import_rerun()
    if path is None or str(path) == "":
        if not has_display():
            raise ArfxError("no display for the Rerun viewer (DISPLAY is not set): save a recording "
                            "with --rerun FILE.rrd and open it with `rerun FILE.rrd` where there is one")
        return None
    from arfx.outputs import check_output_path

    return check_output_path(path, overwrite, {".rrd": "rrd"}, "Rerun recording")


class RerunLogger:
    """Logs frames and their FrameResults to a Rerun recording: an .rrd file or a spawned viewer.

    path: the .rrd file to write (no viewer); spawn=True opens the viewer instead (needs a
    display). jpeg_quality: of the logged frames (None logs no image). fov_y: vertical field
    of view for the 3D view's pinhole when a FrameResult carries no `camera` (arfx's default).
    name: the recording's name in the viewer. Calls from one thread at a time.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, spawn: bool = False,
                 jpeg_quality: int | None = 80, fov_y: float | None = None, name: str | None = None,
                 overwrite: bool = False, blueprint: bool = True) -> None:
        self._rr = rr = import_rerun()
        if path is None and not spawn:
            raise ValueError("RerunLogger needs a path to an .rrd file or spawn=True")
        target = check_rerun_target(None if spawn else path, overwrite)
        if fov_y is None:
            from arfx.geometry.camera import PerspectiveCamera

            fov_y = PerspectiveCamera().fov_y
        self.fov_y = float(fov_y)
        self.jpeg_quality = jpeg_quality
        self.path = target
        self._stream = rr.RecordingStream(APPLICATION_ID)
        self._stream.set_log_time_enabled(False)  # only the frames' own clocks: `time` and `frame_idx`
        self._stream.set_log_tick_enabled(False)
        layout = self._blueprint() if blueprint else None
        if target is not None:
            self._stream.save(target, default_blueprint=layout)
            log.info("logging to Rerun recording %s", target)
        else:
            try:  # the viewer from PATH, else the one installed next to this Python (a venv not on PATH)
                import shutil

                beside = Path(sys.executable).with_name("rerun")
                executable = shutil.which("rerun") or (str(beside) if beside.exists() else None)
                rr.spawn(executable_path=executable, recording=self._stream, default_blueprint=layout)
            except Exception as error:  # noqa: BLE001 - the viewer binary or its port: one line
                from arfx.errors import reason

                raise ArfxError(f"could not start the Rerun viewer ({reason(error)}): save a recording "
                                "with --rerun FILE.rrd and open it with `rerun FILE.rrd`") from None
            log.info("logging to a spawned Rerun viewer")
        if name:
            self._stream.send_recording_name(name)
        self._static_done = False
        self._size: tuple[int, int, float] | None = None
        self._shown: set[tuple[str, int]] = set()  # (kind, id) logged in the previous frame
        self._mesh_static: set[int] = set()
        self._series: dict[int, list[str]] = {}  # face id -> its expression series names
        self._closed = False
        self.frames = 0

    # -------------------------------------------------------------------------------- layout

    def _blueprint(self) -> Any:
        import rerun.blueprint as rrb

        eye = {}
        if hasattr(rrb, "EyeControls3D"):  # the 3D view from beside the camera, towards the faces
            eye["eye_controls"] = rrb.EyeControls3D(position=(38.0, 20.0, 0.0), look_target=(0.0, 0.0, -40.0),
                                                    eye_up=(0.0, 1.0, 0.0))
        return rrb.Blueprint(rrb.Horizontal(
            rrb.Vertical(rrb.Spatial2DView(name="image", origin="world/camera/image"),
                         rrb.Spatial3DView(name="3D (camera space, cm)", origin="world", **eye),
                         row_shares=[3, 2]),
            rrb.Vertical(rrb.TimeSeriesView(name="head pose (degrees)", origin="pose"),
                         rrb.TimeSeriesView(name="expressions", origin="expressions"),
                         rrb.TimeSeriesView(name="face score", origin="score"), row_shares=[2, 2, 1]),
            column_shares=[3, 2]), collapse_panels=True)

    def _log_static(self) -> None:
        rr = self._rr
        descriptions = []
        for class_id, (name, colour) in CLASSES.items():
            if name in ("hand", "body"):
                pairs = _skeleton("arfx.tracking.hands" if name == "hand" else "arfx.tracking.pose")
            else:
                pairs = feature_classes().get(name, ((), ()))[1]
            descriptions.append(rr.ClassDescription(info=rr.AnnotationInfo(id=class_id, label=name, color=colour),
                                                    keypoint_connections=list(pairs)))
        self._stream.log("world", rr.AnnotationContext(descriptions), static=True)
        self._stream.log("world", rr.ViewCoordinates.RUB, static=True)
        self._static_done = True

    # -------------------------------------------------------------------------------- logging

    def log(self, frame_rgb: np.ndarray | None, result: Any) -> None:
        """Log one frame (HxWx3 uint8 RGB, or None for results only) and its FrameResult."""
        if self._closed:
            raise ValueError("RerunLogger is closed")
        rr, stream = self._rr, self._stream
        if not self._static_done:
            self._log_static()
        stream.set_time(TIMELINE_FRAME, sequence=int(result.index))
        stream.set_time(TIMELINE_TIME, duration=float(result.timestamp))
        camera = getattr(result, "camera", None)  # the camera the geometry was lifted with, when known
        fov = float(getattr(camera, "fov_y", None) or self.fov_y)
        size = (int(result.width), int(result.height), round(fov, 4))
        if size != self._size:  # logged again when the frame size or the field of view changes
            focal = 0.5 * size[1] / np.tan(np.radians(fov) / 2.0)
            stream.log("world/camera", rr.Pinhole(focal_length=float(focal), width=size[0], height=size[1],
                                                  camera_xyz=rr.ViewCoordinates.RUB, image_plane_distance=20.0))
            self._size = size
        if frame_rgb is not None and self.jpeg_quality is not None:
            stream.log("world/camera/image", rr.EncodedImage(contents=self._jpeg(frame_rgb), media_type="image/jpeg"))
        shown: set[tuple[str, int]] = set()
        for face in getattr(result, "faces", ()) or ():
            self._log_face(face)
            shown.add(("face", int(face.id)))
        for kind, items in (("hand", getattr(result, "hands", ()) or ()), ("body", getattr(result, "bodies", ()) or ())):
            for number, item in enumerate(items):
                item_id = int(getattr(item, "id", number))
                if self._log_points(kind, item_id, item):
                    shown.add((kind, item_id))
        for kind, item_id in self._shown - shown:
            self._clear(kind, item_id)
        self._shown = shown
        self.frames += 1

    def _jpeg(self, rgb: np.ndarray) -> bytes:
        import cv2

        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 uint8 RGB frame, got {rgb.dtype} {rgb.shape}")
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg_quality or 80)])
        if not ok:
            raise ValueError("JPEG encoding of the frame failed")
        return data.tobytes()

    def _log_face(self, face: Any) -> None:
        rr, stream = self._rr, self._stream
        fid = int(face.id)
        colour = FACE_COLOURS[fid % len(FACE_COLOURS)]
        landmarks = np.asarray(face.landmarks, dtype=np.float32)
        xy = landmarks[:, :2]
        base = f"world/camera/image/face/{fid}"
        low, high = xy.min(axis=0), xy.max(axis=0)
        stream.log(f"{base}/box", rr.Boxes2D(mins=[low], sizes=[high - low], colors=[colour],
                                             labels=[f"face {fid} {float(face.score):.2f}"]))
        stream.log(f"{base}/keypoints", rr.Points2D(keypoints_from_landmarks(landmarks), colors=[colour],
                                                    labels=list(KEYPOINT_NAMES), radii=rr.Radius.ui_points(4.0),
                                                    show_labels=False))
        count = len(landmarks)
        stream.log(f"{base}/landmarks", rr.Points2D(xy, class_ids=landmark_class_ids()[:count],
                                                    keypoint_ids=np.arange(count, dtype=np.uint16),
                                                    radii=rr.Radius.ui_points(1.5)))
        stream.log(f"score/face/{fid}", rr.Scalars(float(face.score)))
        geometry = getattr(face, "geometry", None)
        if geometry is None:  # listed but not fitted: nothing in 3D for this frame
            for path in (f"world/face/{fid}", f"pose/face/{fid}", f"expressions/face/{fid}"):
                stream.log(path, rr.Clear(recursive=True))
            return
        pose = np.asarray(geometry.pose, dtype=np.float64)
        linear = pose[:3, :3]
        scale = float(np.cbrt(abs(np.linalg.det(linear)))) or 1.0
        stream.log(f"world/face/{fid}", rr.Transform3D(translation=pose[:3, 3], mat3x3=linear))
        # The mesh in face space: the pose places it; the expression moves its vertices.
        local = ((np.asarray(geometry.mesh, dtype=np.float64)[:468] - pose[:3, 3]) @ linear) / (scale * scale)
        local = local.astype(np.float32)
        triangles = np.asarray(geometry.triangles, dtype=np.uint32)
        if fid not in self._mesh_static:
            stream.log(f"world/face/{fid}/mesh", rr.Mesh3D.from_fields(
                triangle_indices=triangles, albedo_factor=(*colour, 160)), static=True)
            self._mesh_static.add(fid)
        stream.log(f"world/face/{fid}/mesh", rr.Mesh3D.from_fields(
            vertex_positions=local, vertex_normals=vertex_normals(local, triangles)))
        stream.log(f"world/face/{fid}/landmarks", rr.Points3D(
            local, class_ids=landmark_class_ids()[:468], keypoint_ids=np.arange(468, dtype=np.uint16),
            radii=rr.Radius.ui_points(1.5)))
        # Scalars: one entity per face and kind, one named series per value (fewer log calls).
        if fid not in self._series:
            stream.log(f"pose/face/{fid}", rr.SeriesLines(names=list(POSE_NAMES)), static=True)
            self._series[fid] = []
        stream.log(f"pose/face/{fid}", rr.Scalars([float(a) for a in geometry.euler]))
        expressions = getattr(face, "expressions", None) or {}
        if expressions:
            names = self._series[fid]
            if not names:
                names.extend(expressions)
                stream.log(f"expressions/face/{fid}", rr.SeriesLines(names=names), static=True)
            stream.log(f"expressions/face/{fid}", rr.Scalars([float(expressions.get(n, np.nan)) for n in names]))

    def _log_points(self, kind: str, item_id: int, item: Any) -> bool:
        """Hands, bodies and later entities: any item with `landmarks` [N, 2+] in pixels."""
        landmarks = getattr(item, "landmarks", None)
        if landmarks is None:
            return False
        xy = np.asarray(landmarks, dtype=np.float32).reshape(len(landmarks), -1)[:, :2]
        count = len(xy)
        class_id = CLASS_ID["hand"] if count == 21 else CLASS_ID["body"] if count == 33 else CLASS_ID["points"]
        gesture = getattr(item, "gesture", None)
        label = " ".join(str(part) for part in (kind, item_id, getattr(item, "handedness", None),
                                                 None if gesture in (None, "none") else gesture) if part is not None)
        score = getattr(item, "score", None)
        if score is not None:
            label += f" {float(score):.2f}"
        mesh = getattr(item, "mesh", None)  # camera-space points (cm), when the stage lifts them
        if mesh is not None and np.shape(mesh) == (count, 3):
            self._stream.log(f"world/{kind}/{item_id}/landmarks", self._rr.Points3D(
                np.asarray(mesh, dtype=np.float32), class_ids=np.full(count, class_id, np.uint16),
                keypoint_ids=np.arange(count, dtype=np.uint16), radii=self._rr.Radius.ui_points(2.5)))
        else:
            self._stream.log(f"world/{kind}/{item_id}", self._rr.Clear(recursive=True))
        self._stream.log(f"world/camera/image/{kind}/{item_id}/landmarks", self._rr.Points2D(
            xy, class_ids=np.full(count, class_id, np.uint16), keypoint_ids=np.arange(count, dtype=np.uint16),
            radii=self._rr.Radius.ui_points(2.5)))
        low, high = xy.min(axis=0), xy.max(axis=0)
        self._stream.log(f"world/camera/image/{kind}/{item_id}/box", self._rr.Boxes2D(
            mins=[low], sizes=[high - low], class_ids=[class_id], labels=[label]))
        return True

    def _clear(self, kind: str, item_id: int) -> None:
        """An entity that left the frame: its lines end here instead of staying on screen."""
        clear = self._rr.Clear(recursive=True)
        self._stream.log(f"world/camera/image/{kind}/{item_id}", clear)
        self._stream.log(f"world/{kind}/{item_id}", clear)
        if kind == "face":
            for path in (f"pose/face/{item_id}", f"expressions/face/{item_id}", f"score/face/{item_id}"):
                self._stream.log(path, clear)

    # -------------------------------------------------------------------------------- closing

    def close(self) -> None:
        """Flush everything logged and close the file (or the viewer connection)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stream.flush(timeout_sec=30.0)
        finally:
            self._stream.disconnect()
        if self.path is not None:
            if not self.path.exists():
                raise OutputError(f"{self.path}: the Rerun recording was not written")
            log.info("Rerun recording %s: %d frame(s)", self.path, self.frames)

    def __enter__(self) -> "RerunLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_logger(target: str | os.PathLike[str] | "RerunLogger" | None, **options: Any) -> RerunLogger:
    """A RerunLogger from what a user passes: an existing logger, an .rrd path, or "" / True
    for a spawned viewer."""
    if isinstance(target, RerunLogger):
        return target
    if target is True or target is None or str(target) == "":
        return RerunLogger(spawn=True, **options)
    return RerunLogger(target, **options)


def measure_overhead(frames: int = 60, size: tuple[int, int] = (1280, 720), folder: str | None = None) -> dict:
    """Milliseconds per frame that logging adds (median), with and without the JPEG frame, and
    bytes per frame in the .rrd, on the astronaut photo scaled to `size` (one tracked face)."""
    import tempfile
    import time

    import cv2
    from skimage import data

    from arfx.api import FaceEffects

    rgb = cv2.resize(data.astronaut(), (size[1], size[1]))
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    left = (size[0] - size[1]) // 2
    frame[:, left:left + size[1]] = rgb
    with FaceEffects(None) as fx:
        results = [fx.track(frame, timestamp=i / 30.0) for i in range(frames)]
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=folder) as temp:
        for label, quality, image in (("jpeg", 80, frame), ("results_only", None, None)):
            path = Path(temp) / f"{label}.rrd"
            times = []
            with RerunLogger(path, jpeg_quality=quality) as logger:
                for result in results:
                    t0 = time.perf_counter()
                    logger.log(image, result)
                    times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
            report[f"{label}_ms"] = float(np.median(times[1:]) * 1000.0)
            report[f"{label}_close_ms_per_frame"] = (time.perf_counter() - t0) * 1000.0 / frames
            report[f"{label}_bytes_per_frame"] = path.stat().st_size / frames
        encode = []
        for _ in range(20):
            t0 = time.perf_counter()
            cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
            encode.append(time.perf_counter() - t0)
        report["jpeg_encode_ms"] = float(np.median(encode) * 1000.0)
    return report


if __name__ == "__main__":  # python -m arfx.rerun_log: the logging overhead per 720p frame
    import json

    print(json.dumps({key: round(value, 2) for key, value in measure_overhead().items()}, indent=1))
