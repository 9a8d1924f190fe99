r"""Expression scores per face from the metric face mesh, named after ARKit/MediaPipe blendshapes.

MediaPipe's 52-blendshape model is not available to arfx, so the scores here are computed
from the geometry alone (see DESIGN.md section 12):

1. Pose compensation: the camera-space mesh (cm) is brought back into canonical face space
   with the inverse of the face's pose, so a turned, tilted or distant head reads like a
   frontal one. Only the ~50 vertices the features use are transformed. Before that the
   mesh's depth about the head's centre, along the line of sight to it, is scaled by
   `DEPTH_SCALE` (0.7): the landmark
   model's relative z is deeper than the face, so without it a nodding head moved the brow
   and mouth-corner heights. Measured on photos of 6 people (the astronaut and 5 from the
   development media) whose face was turned by warping its tracked mesh, scored against the
   unturned face (`scripts/measure_expressions.py --turn pitch|yaw --photos ...`): the mean
   change over every score within 20 degrees of pitch falls from 0.029 to 0.014 (within 30:
   0.053 -> 0.030); the largest within 20 degrees fall for browDown (0.92 -> 0.20),
   browInnerUp (0.49 -> 0.13), mouthFrown (0.49 -> 0.31) and eyeWide (0.41 -> 0.26) and rise
   for jawOpen (0.20 -> 0.29) and mouthSmile (0.17 -> 0.25). Yaw is unchanged (0.0056 ->
   0.0050 within 20 degrees). Chosen on any 4 of the photos, the best factor for pitch was
   0.7-0.8, and on the other 2 the mean change fell from 0.029 to 0.015.
2. Features: each is a ratio of distances between landmark groups, normalised by a rigid
   reference distance along the same axis (eye width, the outer-eye-corner distance `iod`,
   or the vertical distance `vref` from the inner eye corners down to the base of the nose,
   vertex 2). Like distances foreshorten alike under yaw or pitch, so ratios cancel much of
   the pose dependence the metric mesh keeps (DESIGN.md: the raw eye-corner distance varies
   8.5-10.3 cm with pitch).
3. Neutral calibration, per face and per feature, with no user action: the neutral value is
   a running quantile (the median, or the 60th percentile for eye openness, since blinks only
   lower it) of samples taken every `sample_interval` (0.1) seconds over the last `window`
   (10) seconds, blended with a prior worth `prior_samples` (5) samples that fades out over
   the face's first `prior_fade` (3) seconds; frames beyond 30 degrees of yaw or 25 of
   pitch are not sampled. The prior is the canonical face's features,
   corrected where the landmark model's resting faces differ from it (`_PRIOR_CORRECTION`).
   Frame one (or a single image) is therefore scored against an average resting face, and
   after a few seconds against the person's own.
4. Scores: the feature's change from neutral (a ratio, or a difference in reference units)
   mapped linearly from a dead zone `dead` (score 0) to `full` (score 1), clipped to [0, 1].

LEFT AND RIGHT are the person's own: in canonical face space the person's left is +x (their
left eye, vertices 263/362, has x > 0; their right eye, 33/133, x < 0). arfx's tracker always
runs on the unmirrored camera image, so the mesh is never mirrored and "eyeBlinkLeft" is the
person's left eye whether or not the preview is shown mirrored.

Formulas (the Left side shown, Right uses the mirrored vertices: 386/374 -> 159/145,
385/380 -> 158/153, 387/373 -> 160/144, 263/362 -> 33/133, 291 -> 61, 336/285 -> 107/55,
334/296 -> 105/66, 300/276 -> 70/46). Vertex numbers are MediaPipe's 468-point mesh; |a-b| is
a 3D distance and y(a) a height, in pose-compensated canonical face space (cm); n is the
feature's neutral value; ramp(c, dead, full) = clip((c - dead) / (full - dead), 0, 1).
References: iod = |33-263| (outer eye corners), vref = y(mid(133, 362)) - y(2) (inner eye
corners over the nose base).

| score | feature | score = |
|---|---|---|
| eyeBlinkLeft | eye = mean(\|386-374\|, \|385-380\|, \|387-373\|) / \|263-362\| | ramp(1 - eye/n, 0.15, 0.70) |
| eyeWideLeft | eye | ramp(eye/n - 1, 0.12, 0.45) |
| jawOpen | jaw = \|152-2\| / vref (chin to nose base) | ramp(jaw/n - 1, 0.03, 0.35) |
| mouthSmileLeft | up = (y(291) - y(mid(13, 14))) / vref (corner over the lip centre); width = \|61-291\| / iod | ramp(0.5 (up-n)/0.15 + 0.5 (width/n - 1)/0.30, 0.15, 0.90) |
| mouthFrownLeft | up, width | ramp((n - up) - 0.3 max(width/n - 1, 0), 0.04, 0.14) |
| mouthPucker | width; lipOpen = ramp(\|13-14\|/vref - n, 0, 0.15) | ramp(1 - width/n, 0.03, 0.20) * (1 - lipOpen) |
| mouthFunnel | width, lipOpen | ramp(1 - width/n, 0.03, 0.20) * lipOpen |
| browInnerUp | inner = (y(mid(336, 285)) - y(362)) / vref, both sides averaged | ramp(inner - n, 0.04, 0.18) |
| browDownLeft | down = (y(mid(336, 285, 334, 296)) - y(362)) / vref | ramp(n - down, 0.03, 0.10) |
| browOuterUpLeft | outer = (y(mid(300, 276)) - y(263)) / vref | ramp(outer - n, 0.04, 0.18) |
| cheekPuff | cheek = mean(\|50-280\|, \|205-425\|) / iod | ramp(cheek/n - 1, 0.02, 0.08) * (1 - max smile) * (1 - jawOpen) |

Limits (numbers: scripts/measure_expressions.py):
- Scores approximate the blendshapes of the same name; they are not MediaPipe's values
  (those come from a learned model). Use them as triggers with thresholds, not as exact
  animation weights.
- A face that holds an expression for more than half of `window` (e.g. a steady smile)
  comes to read it as neutral; its score then decays to 0. Single images are scored against
  the prior, an average resting face: brow heights vary between people by more than a full
  brow raise (0.17-0.40 vref), so single-image brow scores mean little.
- Smile and frown take the lip centre as the reference for the corners, i.e. they assume
  the corners drop half as far as the lower lip when the jaw opens; people whose corners
  stay higher read as a slight smile with the mouth wide open, and the other way round.
- Blinks need refined landmarks (`refine=True`, `--refine`: the attention model's eye
  contours). The plain model's eyelid points never meet: photos of 6 people with their
  eyelids warped shut read eye openness down by only 17-40 % (eyeBlink 0.04-0.45), and in
  video tracking a 3-frame blink of the astronaut peaks at 0.28-0.35, two frames late. With
  refined landmarks the same shut eyes read 62-82 % down (eyeBlink 0.85-1.0) and the blink
  reaches 1.0 on its first shut frame, with no open frame above 0.3
  (scripts/measure_expressions.py --blink [--refine]).
- The mesh's depth comes from the landmark model's relative z, which is less accurate than
  x and y: beyond about 35 degrees of yaw the far side's features drift (eyes read as half
  closed in profile). The geometry pipeline puts that relative z along the camera's z axis
  while the model measures it along the face's own line of sight, so a face far from the
  image centre reads differently. DEPTH_SCALE is applied along that line of sight, which
  takes out part of it: the same photo 60 px above or below the centre of a 640x360 frame
  changes jaw by -9/+9 % and the inner brow heights by -0.09/+0.05 vref (with the depth as
  tracked -15/+13 % and about 0.09; scaled along the camera's z, -14/+15 % and
  -0.13/+0.09; scripts/measure_expressions.py --off-axis). The calibration absorbs a face
  that stays in one place; a face moving up and down the frame moves jawOpen and the brow
  scores. Pucker, funnel and cheekPuff are weak: the landmark model barely moves the cheeks, and a microphone or hand over the mouth makes every mouth score noise.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from arfx.geometry.canonical import NUM_VERTICES, CanonicalFace

log = logging.getLogger(__name__)

EXPRESSION_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeBlinkRight",
    "eyeWideLeft", "eyeWideRight",
    "jawOpen",
    "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight",
    "mouthPucker", "mouthFunnel",
    "browInnerUp",
    "browDownLeft", "browDownRight",
    "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff",
)

# Vertex indices of MediaPipe's 468-point face mesh. (L, R) pairs are the person's own left
# (+x in canonical space) and right.
_EYE_PAIRS = {"L": ((386, 374), (385, 380), (387, 373)), "R": ((159, 145), (158, 153), (160, 144))}
_EYE_CORNERS = {"L": (263, 362), "R": (33, 133)}  # (outer, inner)
_MOUTH_CORNER = {"L": 291, "R": 61}
_BROW_INNER = {"L": (336, 285), "R": (107, 55)}
_BROW_MID = {"L": (334, 296), "R": (105, 66)}
_BROW_OUTER = {"L": (300, 276), "R": (70, 46)}
_CHEEKS = ((50, 280), (205, 425))
_CHIN, _NOSE_BASE, _LIP_UPPER_INNER, _LIP_LOWER_INNER = 152, 2, 13, 14

# The features, in this order, as columns of a feature vector.
FEATURE_NAMES: tuple[str, ...] = (
    "eyeL", "eyeR", "jaw", "cornerUpL", "cornerUpR",
    "mouthWidth", "lipGap", "browInnerL", "browInnerR", "browDownL", "browDownR",
    "browOuterL", "browOuterR", "cheek",
)
_F = {name: i for i, name in enumerate(FEATURE_NAMES)}
# Quantile of the recent samples taken as neutral: eye openness is mostly open (blinks are
# short and only lower it), everything else the median.
_QUANTILES = np.array([0.6 if name.startswith("eye") else 0.5 for name in FEATURE_NAMES])
# The prior is the canonical face's features, corrected where the landmark model's resting
# faces differ from it: (factor, offset) per feature, prior = canonical * factor + offset.
# Measured on MediaPipe FaceMesh landmarks of 7 resting faces (6 people) in the development
# media through arfx's GeometryPipeline: the canonical face's brows sit 1.2-1.7x higher above
# the eyes, its jaw is longer and its lips are parted.
_PRIOR_CORRECTION = {
    "jaw": (0.79, 0.0),  # 0.82 measured before DEPTH_SCALE, which shortens frontal jaws 3.5 %
    "cornerUpL": (1.0, 0.055), "cornerUpR": (1.0, 0.055),
    "lipGap": (1.0, -0.09),
    "browInnerL": (0.6, 0.0), "browInnerR": (0.6, 0.0),
    "browDownL": (0.65, 0.0), "browDownR": (0.65, 0.0),
    "browOuterL": (0.77, 0.0), "browOuterR": (0.77, 0.0),
}


def prior_features(canonical: CanonicalFace) -> np.ndarray:
    """The neutral features assumed before a face has been seen (see _PRIOR_CORRECTION)."""
    prior = features(canonical.vertices)
    for name, (factor, offset) in _PRIOR_CORRECTION.items():
        prior[_F[name]] = prior[_F[name]] * factor + offset
    return prior


def _used_vertices() -> np.ndarray:
    ids: set[int] = {_CHIN, _NOSE_BASE, _LIP_UPPER_INNER, _LIP_LOWER_INNER}
    for table in (_EYE_CORNERS, _BROW_INNER, _BROW_MID, _BROW_OUTER):
        for pair in table.values():
            ids.update(pair)
    for pairs in _EYE_PAIRS.values():
        for pair in pairs:
            ids.update(pair)
    ids.update(_MOUTH_CORNER.values())
    for pair in _CHEEKS:
        ids.update(pair)
    return np.array(sorted(ids), dtype=np.intp)


_USED = _used_vertices()
#: Factor on the mesh's depth about the head's centre before pose compensation (see 1. above).
DEPTH_SCALE = 0.7
_ROW = {int(v): i for i, v in enumerate(_USED)}


def to_face_space(pose: np.ndarray, points: np.ndarray, depth_scale: float = 1.0) -> np.ndarray:
    """Camera-space points (cm, [N,3]) -> canonical face space with the inverse of `pose`.

    `pose` is a similarity (rotation, uniform scale, translation) [4,4] mapping face space to
    camera space; its inverse undoes the head pose and the scale. `depth_scale` first scales
    the points' depth about the head's centre along the line of sight from the camera to it
    (the direction the landmark model measures depth in; see DEPTH_SCALE).
    """
    pose = np.asarray(pose, dtype=np.float64)
    offsets = np.asarray(points, dtype=np.float64) - pose[:3, 3]
    if depth_scale != 1.0:
        distance = float(np.linalg.norm(pose[:3, 3]))
        if distance > 0:
            sight = pose[:3, 3] / distance
            offsets = offsets + np.outer(offsets @ sight * (depth_scale - 1.0), sight)
    return np.linalg.solve(pose[:3, :3], offsets.T).T


def _rows(ids: Iterable[int]) -> np.ndarray:
    return np.array([_ROW[i] for i in ids], dtype=np.intp)


# Distances, as (from, to) rows of the used vertices, in this order: iod, eye width L, R,
# the eyelid gaps L (3) and R (3), chin-nose base, mouth width, inner lip gap, cheeks (2).
_PAIRS = (
    [(_EYE_CORNERS["L"][0], _EYE_CORNERS["R"][0]), _EYE_CORNERS["L"], _EYE_CORNERS["R"]]
    + list(_EYE_PAIRS["L"]) + list(_EYE_PAIRS["R"])
    + [(_CHIN, _NOSE_BASE), (_MOUTH_CORNER["L"], _MOUTH_CORNER["R"]),
       (_LIP_UPPER_INNER, _LIP_LOWER_INNER)] + list(_CHEEKS)
)
_PAIR_A = _rows(a for a, _ in _PAIRS)
_PAIR_B = _rows(b for _, b in _PAIRS)


def _height_matrix() -> np.ndarray:
    """Rows: cornerUp L/R, browInner L/R, browDown L/R, browOuter L/R as mean(y) - mean(y)."""
    terms = []
    for side in ("L", "R"):
        terms.append(([_MOUTH_CORNER[side]], [_LIP_UPPER_INNER, _LIP_LOWER_INNER]))
    for groups in (_BROW_INNER, {k: _BROW_INNER[k] + _BROW_MID[k] for k in _BROW_INNER}):
        for side in ("L", "R"):
            terms.append((list(groups[side]), [_EYE_CORNERS[side][1]]))
    for side in ("L", "R"):
        terms.append((list(_BROW_OUTER[side]), [_EYE_CORNERS[side][0]]))
    # vref: the inner eye corners' height above the nose base
    terms.append(([_EYE_CORNERS["L"][1], _EYE_CORNERS["R"][1]], [_NOSE_BASE]))
    m = np.zeros((len(terms), len(_USED)))
    for row, (plus, minus) in enumerate(terms):
        m[row, _rows(plus)] += 1.0 / len(plus)
        m[row, _rows(minus)] -= 1.0 / len(minus)
    return m


_HEIGHTS = _height_matrix()
_HEIGHT_FEATURES = [_F[n] for n in ("cornerUpL", "cornerUpR", "browInnerL", "browInnerR",
                                    "browDownL", "browDownR", "browOuterL", "browOuterR")]


def features(face_points: np.ndarray) -> np.ndarray:
    """The raw feature vector (float64 [len(FEATURE_NAMES)]) of a face-space mesh [468,3].

    Also accepts only the rows in `_USED` ([len(_USED), 3]), as `ExpressionEstimator` passes.
    All NaN when the face is degenerate (no eye-corner distance or nose below the eyes).
    """
    p = np.asarray(face_points, dtype=np.float64)
    if p.shape[0] == NUM_VERTICES:
        p = p[_USED]
    d = np.sqrt(np.sum((p[_PAIR_A] - p[_PAIR_B]) ** 2, axis=1))
    h = _HEIGHTS @ p[:, 1]
    iod, vref = d[0], h[-1]
    out = np.empty(len(FEATURE_NAMES))
    if not (iod > 1e-6 and vref > 1e-6 and d[1] > 1e-6 and d[2] > 1e-6):
        out.fill(np.nan)
        return out
    out[_F["eyeL"]] = (d[3] + d[4] + d[5]) / (3.0 * d[1])
    out[_F["eyeR"]] = (d[6] + d[7] + d[8]) / (3.0 * d[2])
    out[_F["jaw"]] = d[9] / vref
    out[_F["mouthWidth"]] = d[10] / iod
    out[_F["lipGap"]] = d[11] / vref
    out[_F["cheek"]] = 0.5 * (d[12] + d[13]) / iod
    out[_HEIGHT_FEATURES] = h[:-1] / vref
    return out


def _ramp(change: float, dead: float, full: float) -> float:
    return float(min(1.0, max(0.0, (change - dead) / (full - dead))))


def scores_from_features(f: np.ndarray, neutral: np.ndarray) -> dict[str, float]:
    """The scores (see the module docstring's table) of features `f` against `neutral`."""
    s: dict[str, float] = {}
    lip_open = _ramp(f[_F["lipGap"]] - neutral[_F["lipGap"]], 0.0, 0.15)
    widen = f[_F["mouthWidth"]] / neutral[_F["mouthWidth"]] - 1.0
    for side, name in (("L", "Left"), ("R", "Right")):
        ratio = f[_F["eye" + side]] / neutral[_F["eye" + side]]
        s["eyeBlink" + name] = _ramp(1.0 - ratio, 0.15, 0.70)
        s["eyeWide" + name] = _ramp(ratio - 1.0, 0.12, 0.45)
        rise = f[_F["cornerUp" + side]] - neutral[_F["cornerUp" + side]]
        s["mouthSmile" + name] = _ramp(0.5 * rise / 0.15 + 0.5 * widen / 0.30, 0.15, 0.90)
        s["mouthFrown" + name] = _ramp(-rise - 0.3 * max(widen, 0.0), 0.04, 0.14)
        s["browDown" + name] = _ramp(neutral[_F["browDown" + side]] - f[_F["browDown" + side]],
                                     0.03, 0.10)
        s["browOuterUp" + name] = _ramp(f[_F["browOuter" + side]] - neutral[_F["browOuter" + side]],
                                        0.04, 0.18)
    s["jawOpen"] = _ramp(f[_F["jaw"]] / neutral[_F["jaw"]] - 1.0, 0.03, 0.35)
    narrow = _ramp(1.0 - f[_F["mouthWidth"]] / neutral[_F["mouthWidth"]], 0.03, 0.20)
    s["mouthPucker"] = narrow * (1.0 - lip_open)
    s["mouthFunnel"] = narrow * lip_open
    inner = 0.5 * (f[_F["browInnerL"]] + f[_F["browInnerR"]])
    inner_n = 0.5 * (neutral[_F["browInnerL"]] + neutral[_F["browInnerR"]])
    s["browInnerUp"] = _ramp(inner - inner_n, 0.04, 0.18)
    # Smiles and an open jaw also widen the cheeks: a puff is a widening without them.
    smile = max(s["mouthSmileLeft"], s["mouthSmileRight"])
    s["cheekPuff"] = (_ramp(f[_F["cheek"]] / neutral[_F["cheek"]] - 1.0, 0.02, 0.08)
                      * (1.0 - smile) * (1.0 - s["jawOpen"]))
    return {name: s[name] for name in EXPRESSION_NAMES}


@dataclass
class _FaceState:
    samples: deque = field(default_factory=deque)  # feature vectors
    last_sample: float = -np.inf
    neutral: np.ndarray | None = None
    frames: int = 0


class ExpressionEstimator:
    """Expression scores in [0, 1] per tracked face, with a per-face neutral calibration.

    `update(face_id, geometry, timestamp)` returns {name: score} for every name in
    EXPRESSION_NAMES; state is kept per face id until `forget` drops it. `geometry` is an
    arfx.geometry.FaceGeometry (or anything with `pose` [4,4] and `mesh` [468,3]).

    Calibration (see the module docstring): a sample every `sample_interval` seconds, the
    last `window` seconds kept, the canonical face's features as a prior worth
    `prior_samples` samples at first, fading to nothing over the face's first `prior_fade`
    seconds. Frames turned more than `max_yaw` or tilted more than `max_pitch` degrees are
    scored but not sampled (the features drift at large angles).
    """

    def __init__(self, canonical: CanonicalFace | None = None, window: float = 10.0,
                 sample_interval: float = 0.1, prior_samples: float = 5.0,
                 prior_fade: float = 3.0, max_yaw: float = 30.0, max_pitch: float = 25.0,
                 depth_scale: float = DEPTH_SCALE) -> None:
        if window <= 0 or sample_interval <= 0 or prior_samples < 0 or prior_fade <= 0:
            raise ValueError("window, sample_interval and prior_fade must be > 0, prior_samples >= 0")
        canonical = canonical if canonical is not None else CanonicalFace.load()
        self.prior = prior_features(canonical)
        self.window = float(window)
        self.sample_interval = float(sample_interval)
        self.prior_samples = float(prior_samples)
        self.prior_fade = float(prior_fade)
        self.max_yaw = float(max_yaw)
        self.max_pitch = float(max_pitch)
        self.depth_scale = float(depth_scale)
        self._max_samples = max(1, int(round(window / sample_interval)))
        self._fade_samples = max(1.0, prior_fade / sample_interval)
        self._faces: dict[int, _FaceState] = {}

    @property
    def face_ids(self) -> list[int]:
        return list(self._faces)

    def neutral(self, face_id: int) -> np.ndarray:
        """The current neutral feature vector of a face (the prior for an unknown face)."""
        state = self._faces.get(face_id)
        if state is None or state.neutral is None:
            return self.prior.copy()
        return state.neutral.copy()

    def features(self, geometry) -> np.ndarray:
        """The raw, pose-compensated feature vector of one face (see FEATURE_NAMES)."""
        mesh = np.asarray(geometry.mesh)
        if mesh.ndim != 2 or mesh.shape[0] < NUM_VERTICES or mesh.shape[1] != 3:
            raise ValueError(f"expected a [468,3] mesh, got {mesh.shape}")
        return features(to_face_space(geometry.pose, mesh[_USED], self.depth_scale))

    def update(self, face_id: int, geometry, timestamp: float | None = None) -> dict[str, float]:
        """Scores for one face in one frame; `timestamp` in seconds (None: frames at 30 fps)."""
        state = self._faces.get(face_id)
        if state is None:
            state = self._faces[face_id] = _FaceState()
            log.debug("expressions: new face %d", face_id)
        t = state.frames / 30.0 if timestamp is None else float(timestamp)
        state.frames += 1
        try:
            f = self.features(geometry)
        except np.linalg.LinAlgError:
            f = np.full(len(FEATURE_NAMES), np.nan)
        if not np.all(np.isfinite(f)):
            log.debug("expressions: face %d has a degenerate pose or mesh; scores 0", face_id)
            return {name: 0.0 for name in EXPRESSION_NAMES}
        if t < state.last_sample:  # time went backwards (a new clip): start over
            state.samples.clear()
            state.last_sample = -np.inf
        if state.neutral is None:
            state.neutral = self.prior.copy()
        if (t - state.last_sample >= self.sample_interval * 0.999
                and self._frontal_enough(geometry.pose)):
            state.samples.append(f)
            state.last_sample = t
            while len(state.samples) > self._max_samples:
                state.samples.popleft()
            state.neutral = self._calibrate(state.samples)
        return scores_from_features(f, state.neutral)

    def _frontal_enough(self, pose: np.ndarray) -> bool:
        """Whether a frame's head pose is close enough to frontal to calibrate from."""
        m = np.asarray(pose, dtype=np.float64)[:3, :3]
        scale = float(np.linalg.norm(m[:, 2]))
        if not scale > 0:
            return False
        yaw = math.degrees(math.atan2(m[0, 2], m[2, 2]))
        pitch = math.degrees(math.asin(max(-1.0, min(1.0, m[1, 2] / scale))))
        return abs(yaw) <= self.max_yaw and abs(pitch) <= self.max_pitch

    def _calibrate(self, samples: deque) -> np.ndarray:
        data = np.asarray(samples)
        n = len(data)
        # Per-column quantiles with linear interpolation (as np.quantile), from one sort.
        ordered = np.sort(data, axis=0)
        pos = _QUANTILES * (n - 1)
        low = np.floor(pos).astype(np.intp)
        high = np.minimum(low + 1, n - 1)
        cols = np.arange(data.shape[1])
        frac = pos - low
        quantiles = ordered[low, cols] * (1.0 - frac) + ordered[high, cols] * frac
        weight = self.prior_samples * max(0.0, 1.0 - n / self._fade_samples)
        neutral = (self.prior * weight + quantiles * n) / (weight + n)
        # Ratios are taken against these; keep them away from zero.
        return np.where(np.abs(neutral) < 1e-6, 1e-6, neutral)

    def forget(self, ids_to_keep: Iterable[int]) -> None:
        """Drop the state of every face not in `ids_to_keep` (faces no longer tracked)."""
        keep = set(ids_to_keep)
        for face_id in [i for i in self._faces if i not in keep]:
            del self._faces[face_id]
            log.debug("expressions: forgot face %d", face_id)

    def reset(self) -> None:
        """Forget every face."""
        self._faces.clear()
