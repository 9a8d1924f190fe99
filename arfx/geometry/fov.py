"""The camera's vertical field of view: the option's values, what photo and video metadata say,
and an estimate from a face moving over a video.

Every angle here is the VERTICAL field of view of the upright picture, in degrees (what
`PerspectiveCamera.fov_y` takes).

Metadata: EXIF FocalLengthIn35mmFilm (a 35 mm equivalent focal length, taken on the film's
43.27 mm diagonal, as camera makers compute it), else FocalLength with FocalPlaneX/YResolution
(pixels per unit on the sensor; scaled when the image was resized from PixelX/YDimension).
A photo stored sideways (EXIF Orientation 5-8) is upright in arfx, so its vertical field of
view is measured along the stored width. Videos: a 35 mm equivalent focal length in the
container's or stream's metadata (QuickTime's com.apple.quicktime.camera.focal_length.35mm_equivalent
and similar keys).

Estimation (`FovEstimator`): what in a face's 2D landmarks tells the field of view. Not its size
against its place: a face's centre and size in the picture are f X / Z and f S / Z, which any
focal length f fits with the distances scaled along. Nor how turned it looks off the axis (by
atan(x / f)): the head's own turn gives the same. What is left is perspective within the face:
its nearer parts (the nose) magnified more than its farther ones (cheeks, temples) by an amount
that grows as it comes nearer, seen as it moves in depth and across the frame.
For each candidate field of view, every frame's landmarks (the rigid ones: forehead, temples,
nose, cheeks) are fitted by the canonical face in perspective (a batched Gauss-Newton pose fit
on x and y, started from the geometry pipeline's lifting) and lifted onto their camera rays at
the fitted depths, back in the canonical face's frame. With the right field of view a rigid face
comes out the same shape in every frame (its own shape, whatever it is); with a wrong one its
perspective is over- or under-corrected by an amount that changes with its distance and its
place in the frame, so its shape seems to change as it moves. The estimate is the field of view
with the least scatter of those shapes about the face's own (its mean plus a part linear in
where it looks: the tracker's points drift as the head turns), refined by a parabola; frames
whose shape is far off the others' (the tracker half lost the face) are left out. The face
landmark model shows only part of a true change of perspective, and how much varies from face to
face (TRACKER_PERSPECTIVE_GAIN and TRACKER_GAIN_SPREAD, measured by scripts/measure_fov.py on six
faces); the estimate is scaled back by the gain. Its uncertainty combines the larger of the
least-squares one and a jackknife over six runs of frames with what the gain's spread does to it
(3.5-5 degrees over 40-75: nothing in one face's clip tells its own gain). A face that does not
both change its distance and cross the frame gives no estimate, nor does one less certain than
MAX_UNCERTAINTY: the fallback (metadata or 63 degrees) is used then. Limits: the estimate leans on
the canonical face's proportions of depth to size, and on how the landmark model renders a given
face's perspective (see the README).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from arfx.geometry.camera import DEFAULT_FOV
from arfx.geometry.procrustes import perspective_step

log = logging.getLogger(__name__)

#: Values a user may give, degrees (vertical).
FOV_LIMITS = (10.0, 150.0)
#: The diagonal of 35 mm film (36 x 24 mm): what 35 mm equivalent focal lengths refer to.
FILM_DIAGONAL_MM = math.hypot(36.0, 24.0)

# EXIF tags (Exif sub-IFD unless noted).
EXIF_IFD = 0x8769
ORIENTATION = 0x0112  # base IFD
FOCAL_LENGTH = 0x920A
FOCAL_LENGTH_35MM = 0xA405
FOCAL_PLANE_X_RESOLUTION = 0xA20E
FOCAL_PLANE_Y_RESOLUTION = 0xA20F
FOCAL_PLANE_RESOLUTION_UNIT = 0xA210
PIXEL_X_DIMENSION = 0xA002
PIXEL_Y_DIMENSION = 0xA003
#: FocalPlaneResolutionUnit -> millimetres (1 = none, treated as inches as the standard's default).
_UNIT_MM = {1: 25.4, 2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}

#: Terms of a face's own shape: its mean, and linear in the x and y of its forward axis.
TURN_TERMS = 3
#: Motion the estimate needs: the face's size in the frame changing by this ratio (it came
#: nearer or went farther) AND its centre moving this far (in frame heights). On the tracker's
#: landmarks either motion alone gave estimates 10-28 degrees off (scripts/measure_fov.py).
MIN_DEPTH_RATIO = 1.3
MIN_ACROSS = 0.25
#: How much of a true change of perspective the face landmark model's points show, and how much
#: that varies from face to face (measured by scripts/measure_fov.py on rendered clips of known
#: field of view, six faces: 0.83-1.04): the estimate is scaled back by the gain (tan(fov / 2) of
#: the landmarks' best fit over it), and the spread (the standard deviation of the gain's log over
#: the faces) is part of its uncertainty: a face's own gain cannot be told from its clip.
TRACKER_PERSPECTIVE_GAIN = 0.907
TRACKER_GAIN_SPREAD = 0.095
#: An estimate less certain than this (one standard deviation, degrees) is not used: the
#: fallback, 63 degrees, is about this far from real cameras' 40-75 degrees on average, so a
#: less certain estimate would not beat it.
MAX_UNCERTAINTY = 8.0

#: Video metadata keys holding a 35 mm equivalent focal length (compared lower case).
VIDEO_35MM_KEYS = ("com.apple.quicktime.camera.focal_length.35mm_equivalent", "focal_length_35mm",
                   "focallengthin35mmfilm", "focal_length_35mm_equivalent")


def parse_fov(value: Any) -> float | str | None:
    """An option value: None (metadata or the default), "auto", or degrees in FOV_LIMITS."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "default", "none"):
            return None
        if text == "auto":
            return "auto"
        try:
            value = float(text.rstrip("°").removesuffix("deg"))
        except ValueError:
            raise ValueError(f"field of view {value!r}: give degrees (e.g. 55) or 'auto'") from None
    if isinstance(value, bool):
        raise ValueError(f"field of view {value!r}: give degrees (e.g. 55) or 'auto'")
    degrees = float(value)
    low, high = FOV_LIMITS
    if not (low <= degrees <= high):  # also False for NaN
        raise ValueError(f"field of view {degrees:g} degrees is outside {low:g}..{high:g} "
                         "(vertical; webcams and phones are about 40-75)")
    return degrees


def vertical_fov(focal_pixels: float, height: float) -> float:
    """Degrees spanned by `height` pixels at a focal length of `focal_pixels` pixels."""
    return math.degrees(2.0 * math.atan(0.5 * height / focal_pixels))


def fov_from_35mm(focal_35mm: float, width: int, height: int) -> float:
    """The vertical field of view of an upright `width` x `height` picture from its 35 mm
    equivalent focal length (defined on the film's diagonal)."""
    diagonal_pixels = math.hypot(width, height)
    focal_pixels = focal_35mm * diagonal_pixels / FILM_DIAGONAL_MM
    return vertical_fov(focal_pixels, height)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def exif_fov(exif: Mapping[int, Any] | Any, stored_size: tuple[int, int]) -> tuple[float, str] | None:
    """(vertical fov of the upright picture, how it was found) from a Pillow `Image.Exif`, or None.

    `stored_size`: (width, height) of the picture as stored (before its Orientation is applied).
    """
    if exif is None:
        return None
    try:
        sub = exif.get_ifd(EXIF_IFD) if hasattr(exif, "get_ifd") else {}
    except Exception:  # a broken sub-IFD: treat as absent
        log.debug("unreadable Exif sub-IFD", exc_info=True)
        sub = {}

    def tag(key: int) -> Any:
        return sub.get(key, exif.get(key)) if hasattr(exif, "get") else None

    width, height = stored_size
    orientation = tag(ORIENTATION)
    sideways = orientation in (5, 6, 7, 8)
    upright = (height, width) if sideways else (width, height)
    focal_35 = _number(tag(FOCAL_LENGTH_35MM))
    if focal_35 is not None:
        fov = fov_from_35mm(focal_35, *upright)
        return fov, f"EXIF FocalLengthIn35mmFilm {focal_35:g} mm"
    focal = _number(tag(FOCAL_LENGTH))
    unit_mm = _UNIT_MM.get(int(tag(FOCAL_PLANE_RESOLUTION_UNIT) or 2), None)
    # The upright picture's vertical axis is the stored x axis when it is stored sideways.
    resolution = _number(tag(FOCAL_PLANE_X_RESOLUTION if sideways else FOCAL_PLANE_Y_RESOLUTION))
    if focal is None or resolution is None or unit_mm is None:
        return None
    focal_pixels = focal * resolution / unit_mm  # pixels of the sensor's full-resolution picture
    axis_pixels = width if sideways else height
    full = _number(tag(PIXEL_X_DIMENSION if sideways else PIXEL_Y_DIMENSION))
    if full is not None:  # the picture was resized from the sensor's
        focal_pixels *= axis_pixels / full
    fov = vertical_fov(focal_pixels, axis_pixels)
    if not (1.0 <= fov <= 179.0):
        log.debug("EXIF focal length %g mm gives an implausible %.1f degrees; ignored", focal, fov)
        return None
    return fov, f"EXIF FocalLength {focal:g} mm and FocalPlaneResolution"


def metadata_35mm(metadata: Mapping[str, Any]) -> float | None:
    """A 35 mm equivalent focal length from video metadata (container or stream), or None."""
    for key, value in metadata.items():
        name = str(key).lower()
        if name in VIDEO_35MM_KEYS or ("35mm" in name and "focal" in name):
            number = _number(str(value).strip().split()[0] if str(value).strip() else None)
            if number is not None:
                return number
    return None


# --- estimation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FovEstimate:
    """What `FovEstimator.estimate` found.

    fov: the field of view to use (degrees): the estimate when `confident`, else the fallback.
    estimated: the best-fitting value whatever its confidence (None with too few frames).
    uncertainty: one standard deviation of `estimated`, degrees (inf when unconstrained).
    frames: the face observations used. reason: a short account, for logs.
    """

    fov: float
    estimated: float | None
    uncertainty: float
    confident: bool
    frames: int
    reason: str


class FovEstimator:
    """Collects tracked faces' landmarks over a video and estimates the camera's field of view.

    `add(landmarks, width, height, face_id)` per face per frame (or `add_result(frame_result)`),
    then `estimate()`. Keeps at most `max_frames` observations (thinned evenly as more come).
    The estimate is confident when its standard deviation is at most `max_uncertainty` degrees,
    it lies inside `search` and at least `min_frames` observations back it.
    """

    def __init__(self, fallback: float = DEFAULT_FOV, *, max_frames: int = 300, min_frames: int = 12,
                 max_uncertainty: float = MAX_UNCERTAINTY, search: tuple[float, float] = (20.0, 120.0),
                 canonical: Any = None, points: Any = None,
                 perspective_gain: float = TRACKER_PERSPECTIVE_GAIN,
                 gain_spread: float = TRACKER_GAIN_SPREAD) -> None:
        from arfx.geometry.canonical import CanonicalFace

        canonical = canonical if canonical is not None else CanonicalFace.load()
        self.fallback = float(fallback)
        self.max_frames = int(max_frames)
        self.min_frames = int(min_frames)
        self.max_uncertainty = float(max_uncertainty)
        self.search = (float(search[0]), float(search[1]))
        #: The share of a true change of perspective the landmarks show (1: exact landmarks).
        self.perspective_gain = float(perspective_gain)
        #: How much that share varies from face to face (standard deviation of its log; 0: exact).
        self.gain_spread = float(gain_spread)
        self._ids = np.asarray(rigid_points(canonical) if points is None else points, dtype=np.int64)
        points = canonical.vertices[self._ids].astype(np.float64)
        self._canonical_mean = points.mean(axis=0)
        self._canonical = points - self._canonical_mean  # centred [N,3]
        self._obs: list[np.ndarray] = []  # [N,3]: x, y from the centre (y up), z; pixels
        self._heights: list[float] = []
        self._groups: list[int] = []
        self._stride = 1
        self._seen = 0

    def __len__(self) -> int:
        return len(self._obs)

    def copy(self) -> "FovEstimator":
        """An estimator holding the same observations (to estimate on while this one collects)."""
        other = object.__new__(FovEstimator)
        other.__dict__.update(self.__dict__)
        other._obs, other._heights, other._groups = list(self._obs), list(self._heights), list(self._groups)
        return other

    def reset(self) -> None:
        self._obs.clear()
        self._heights.clear()
        self._groups.clear()
        self._stride = 1
        self._seen = 0

    def add(self, landmarks: np.ndarray, width: int, height: int, face_id: int = 0) -> None:
        """One face in one frame: tracker landmarks [>=468, 3] in pixels (z in x's pixel units)."""
        lm = np.asarray(landmarks, dtype=np.float64)
        if lm.ndim != 2 or lm.shape[0] < 468 or lm.shape[1] < 3 or width <= 0 or height <= 0:
            return
        self._seen += 1
        if (self._seen - 1) % self._stride:
            return
        sub = lm[self._ids, :3]
        if not np.all(np.isfinite(sub)):
            return
        # z about the whole mesh's mean depth, as the geometry pipeline takes it.
        obs = np.column_stack([sub[:, 0] - 0.5 * width, 0.5 * height - sub[:, 1],
                               sub[:, 2] - lm[:468, 2].mean()])
        self._obs.append(obs)
        self._heights.append(float(height))
        self._groups.append(int(face_id))
        if len(self._obs) > self.max_frames:  # keep every other one, and take every other from now on
            self._obs = self._obs[::2]
            self._heights = self._heights[::2]
            self._groups = self._groups[::2]
            self._stride *= 2

    def add_result(self, result: Any) -> None:
        """Every face of a FrameResult."""
        for face in getattr(result, "faces", ()):
            if face.landmarks is not None:
                self.add(face.landmarks, result.width, result.height, face.id)

    def cost(self, fovs: Iterable[float]) -> np.ndarray:
        """Mean squared change of the face's shape (cm^2 per coordinate) for each candidate fov."""
        fovs = np.asarray(list(fovs), dtype=np.float64)
        if not self._obs:
            return np.full(len(fovs), np.nan)
        sums, count = self._scatter(*self._shapes(fovs))
        return sums / count

    def _shapes(self, fovs: np.ndarray, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """[K,T,N,3]: each observation's shape for each candidate fov: every landmark (or every
        `every`-th) lifted onto its camera ray at the depth of the perspective pose fit of the
        canonical face, in the canonical frame, less the canonical face (across the rays; along
        them nothing is seen); and [K,T,2], the x and y of the face's forward axis in that fit."""
        obs = np.stack(self._obs)[:, ::every]  # [T,N,3]
        canonical = self._canonical[::every]
        heights = np.asarray(self._heights)
        focal = 0.5 * heights[None, :] / np.tan(np.radians(fovs) / 2.0)[:, None]  # [K,T] pixels
        seen = obs[None, ..., :2] / focal[..., None, None]  # [K,T,N,2]: x / depth, y / depth
        rotation, translation = self._initial_poses(seen, obs[None, ..., 2] / focal[..., None], canonical)
        for _ in range(self.iterations):
            rotation, translation = perspective_step(canonical, seen, rotation, translation)
        placed = np.einsum("nj,ktij->ktni", canonical, rotation) + translation[..., None, :]
        depth = np.maximum(-placed[..., 2], 1e-6)
        across = (seen - placed[..., :2] / depth[..., None]) * depth[..., None]  # [K,T,N,2] cm
        shapes = np.einsum("ktni,ktij->ktnj", across, rotation[..., :2, :])  # R^T (dx, dy, 0)
        return shapes, rotation[..., :2, 2]  # and where the face looks (x, y of its forward axis)

    def _scatter(self, shapes: np.ndarray, forward: np.ndarray,
                 frames: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Per candidate: the squared scatter of the shapes about each face's own shape (over the
        observations selected by the boolean mask `frames`), and the coordinates counted."""
        each, count = self._each(shapes, forward, frames)
        return each.sum(axis=1), count

    def _each(self, shapes: np.ndarray, forward: np.ndarray,
              frames: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """[K,T]: each observation's squared deviation from its face's own shape (0 for those not
        selected by `frames`), and the coordinates counted over the selected ones.

        A face's own shape is its mean plus a part linear in where it looks (the x and y of its
        forward axis): the tracker's landmarks drift with the head's turn, which says nothing
        about the camera (and a face of other depths than the canonical one changes so as it
        turns)."""
        groups = np.asarray(self._groups)
        use = np.ones(len(groups), bool) if frames is None else frames
        each = np.zeros(shapes.shape[:2])
        count = 0
        for group in np.unique(groups[use]):
            select = (groups == group) & use
            members = shapes[:, select].reshape(shapes.shape[0], int(select.sum()), -1)  # [K,Tg,M]
            if members.shape[1] < 2 * TURN_TERMS:
                continue
            design = _turn_terms(forward[:, select])
            fit, *_ = _lstsq(design, members)
            each[:, select] = ((members - design @ fit) ** 2).sum(axis=2)
            count += members.shape[1] * members.shape[2]
        return each, max(count, 1)

    #: Gauss-Newton steps of the perspective pose fit (from the landmark model's own depths).
    iterations = 2

    def _initial_poses(self, seen: np.ndarray, relative_z: np.ndarray,
                       canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Poses (canonical cm -> camera cm) from lifting with the landmark model's depths, as
        the geometry pipeline does: the similarity's scale is taken out into the distance."""
        depth = relative_z + 1.0
        lifted = np.concatenate([seen * depth[..., None], -depth[..., None]], axis=-1)
        centre = lifted.mean(axis=2)
        cov = np.einsum("ktni,nj->ktij", lifted - centre[..., None, :], canonical)
        u, sv, vt = np.linalg.svd(cov)
        d = np.sign(np.linalg.det(u @ vt))
        u[..., :, 2] *= d[..., None]
        sv[..., 2] *= d
        spread = float(((canonical - canonical.mean(axis=0)) ** 2).sum())
        scale = np.maximum(sv.sum(axis=-1) / spread, 1e-12)
        return u @ vt, centre / scale[..., None]

    def estimate(self, fallback: float | None = None) -> FovEstimate:
        """The field of view that keeps the face's shape most constant over the frames."""
        fallback = self.fallback if fallback is None else float(fallback)
        frames = len(self._obs)
        if frames < self.min_frames:
            return FovEstimate(fallback, None, math.inf, False, frames,
                               f"{frames} face observation(s); need {self.min_frames}")
        nearer, across = self.motion()
        if nearer < MIN_DEPTH_RATIO or across < MIN_ACROSS:
            return FovEstimate(fallback, None, math.inf, False, frames,
                               f"the face did not move enough (size x{nearer:.2f}, need {MIN_DEPTH_RATIO:g}; "
                               f"across {across:.2f} of the frame height, need {MIN_ACROSS:g}): it needs to "
                               "come nearer, go farther and cross the frame")
        # The search runs over the landmarks' apparent field of view; the camera's is their
        # best fit scaled back by the gain.
        low, high = (_apparent(v, self.perspective_gain) for v in self.search)
        coarse = np.arange(low, high + 1e-9, 5.0)
        # The coarse search (and the stray frames) from every third landmark: a third of the time.
        coarse_shapes = self._shapes(coarse, every=3)
        each, _ = self._each(*coarse_shapes)
        if not np.all(np.isfinite(each)):
            return FovEstimate(fallback, None, math.inf, False, frames, "degenerate landmarks")
        kept = self._kept(each[int(np.argmin(each.sum(axis=1)))])
        used = int(kept.sum())
        coarse_cost, _ = self._scatter(*coarse_shapes, kept)
        best = int(np.argmin(coarse_cost))
        fine = np.arange(max(low, coarse[best] - 6.0), min(high, coarse[best] + 6.0) + 1e-9, 1.0)
        shapes, forward = self._shapes(fine)
        fine_cost, count = self._scatter(shapes, forward, kept)
        estimated, curvature = _parabola_minimum(fine, fine_cost)
        # Least squares: var = sigma^2 / curvature, sigma^2 = residual sum over its degrees of
        # freedom (coordinates less each face's mean shape and each observation's pose).
        faces = len(set(self._groups))
        dof = max(count - faces * 2 * TURN_TERMS * len(self._ids) - 6 * used - 1, 1)
        sigma2 = float(fine_cost.min()) / dof
        spread = math.sqrt(sigma2 / curvature) if curvature > 0 else math.inf
        # Tracker errors are not independent from frame to frame: also the jackknife spread of
        # the estimates leaving out each of JACKNIFE_BLOCKS runs of consecutive observations.
        blocks = np.array_split(np.flatnonzero(kept), self.jackknife_blocks)
        partial = []
        for block in blocks:
            use = kept.copy()
            use[block] = False
            value, _ = _parabola_minimum(fine, self._scatter(shapes, forward, use)[0])
            partial.append(value)
        partial = np.asarray([_actual(v, self.perspective_gain) for v in partial])
        n = len(partial)
        jackknife = math.sqrt((n - 1) / n * float(((partial - partial.mean()) ** 2).sum()))
        at_edge = best in (0, len(coarse) - 1) or estimated <= low + 1.0 or estimated >= high - 1.0
        if math.isfinite(spread):
            spread = abs(_actual(estimated + spread, self.perspective_gain) - _actual(estimated, self.perspective_gain))
        # How the landmark model renders this face's perspective is not known: the spread of its
        # gain over faces moves the estimate by this much (one standard deviation).
        systematic = 0.5 * abs(_actual(estimated, self.perspective_gain * math.exp(-self.gain_spread))
                               - _actual(estimated, self.perspective_gain * math.exp(self.gain_spread)))
        estimated = _actual(estimated, self.perspective_gain)
        uncertainty = math.hypot(max(spread, jackknife), systematic)
        confident = (not at_edge) and uncertainty <= self.max_uncertainty
        if at_edge:
            reason = f"best fit at the edge of {low:g}-{high:g} degrees"
        elif not confident:
            reason = (f"the motion does not pin it down ({estimated:.1f} +- {uncertainty:.1f} degrees; "
                      "longer clips with more motion help)")
        else:
            reason = f"{estimated:.1f} +- {uncertainty:.1f} degrees from {used} face observations"
        if systematic > 0 and not at_edge:
            reason += f" ({systematic:.1f} of it from how the landmark model sees different faces)"
        if used < frames:
            reason += f"; {frames - used} stray observation(s) left out"
        return FovEstimate(estimated if confident else fallback, estimated, uncertainty, confident, used,
                           reason)

    def _kept(self, each: np.ndarray) -> np.ndarray:
        """The observations to estimate from (a boolean mask): not those whose squared deviation
        from their face's own shape (`each`, at the coarse search's best fit) is more than `stray`
        times the median observation's. Frames where the tracker half lost the face (turned far
        near the frame's edge: landmarks 10-20 % of the face off) pulled a clip's estimate by up
        to 3 degrees."""
        return each <= self.stray * np.median(each) + 1e-12

    #: Observations whose squared deviation is more than this many times the median's are left
    #: out (4: twice the median's rms deviation).
    stray = 4.0

    def motion(self) -> tuple[float, float]:
        """How the faces moved: the ratio of their largest to smallest size in the frame (5th
        and 95th percentiles: how much nearer they came) and how far their centres went across
        the frame (same percentiles, in frame heights). Turning alone does not count: how a face
        turns says little about the camera, and much about its own shape."""
        obs = np.stack(self._obs)
        groups = np.asarray(self._groups)
        heights = np.asarray(self._heights)[:, None]
        sizes = np.sqrt(((obs[..., :2] - obs[..., :2].mean(axis=1, keepdims=True)) ** 2).sum(-1).mean(-1))
        centres = obs[..., :2].mean(axis=1) / heights
        nearer, across = 1.0, 0.0
        for group in np.unique(groups):
            select = groups == group
            low, high = np.percentile(sizes[select] / heights[select, 0], [5, 95])
            nearer = max(nearer, float(high / max(low, 1e-9)))
            span = np.percentile(centres[select], 95, axis=0) - np.percentile(centres[select], 5, axis=0)
            across = max(across, float(np.hypot(*span)))
        return nearer, across

    #: Runs of observations left out in turn for the jackknife uncertainty.
    jackknife_blocks = 6


def _apparent(fov: float, gain: float) -> float:
    """The field of view whose perspective is `gain` times that of `fov` (degrees)."""
    return math.degrees(2.0 * math.atan(gain * math.tan(math.radians(fov) / 2.0)))


def _actual(apparent: float, gain: float) -> float:
    """The inverse of `_apparent`."""
    return math.degrees(2.0 * math.atan(math.tan(math.radians(apparent) / 2.0) / gain))


def _turn_terms(forward: np.ndarray) -> np.ndarray:
    """[K,T,TURN_TERMS]: 1, x, y of the face's forward axis."""
    return np.concatenate([np.ones(forward.shape[:-1] + (1,)), forward], axis=-1)


def _lstsq(design: np.ndarray, values: np.ndarray) -> tuple[np.ndarray]:
    """Batched least squares: [K,T,P] design, [K,T,M] values -> [K,P,M] coefficients."""
    normal = np.einsum("ktp,ktq->kpq", design, design) + 1e-9 * np.eye(design.shape[-1])
    return (np.linalg.solve(normal, np.einsum("ktp,ktm->kpm", design, values)),)


def _parabola_minimum(fovs: np.ndarray, cost: np.ndarray) -> tuple[float, float]:
    """The minimum of a parabola through the cost's lowest point and its neighbours (within 3
    degrees), kept among those points, and the parabola's curvature (cost per degree^2)."""
    i = int(np.argmin(cost))
    centre = float(fovs[i])
    near = np.abs(fovs - centre) <= 3.0
    if near.sum() < 3:
        return centre, 0.0
    a, b, _ = np.polyfit(fovs[near] - centre, cost[near], 2)
    value = centre - b / (2.0 * a) if a > 0 else centre
    return float(np.clip(value, fovs[near].min(), fovs[near].max())), float(a)


def rigid_points(canonical: Any, every: int = 1) -> np.ndarray:
    """Vertex ids of the face's rigid parts: forehead, temples, nose, cheeks (every `every`-th),
    leaving out the eyes and eyelids and the mouth and jaw, which move with expressions.

    The estimator takes all of them (242): every third (81) left the tracked clips' held-out
    error at a mean 5.7 degrees, 46 % within 5; all of them 4.7 and 67 % (scripts/measure_fov.py)."""
    v = np.asarray(canonical.vertices, dtype=np.float64)
    mouth = v[[61, 291, 13, 14]].mean(axis=0)
    eyes = [v[[33, 133, 159, 145]].mean(axis=0), v[[362, 263, 386, 374]].mean(axis=0)]
    keep = (np.linalg.norm(v - mouth, axis=1) > 2.5) & (v[:, 1] > mouth[1] + 0.5)
    for eye in eyes:
        keep &= np.linalg.norm(v - eye, axis=1) > 1.6
    return np.flatnonzero(keep)[::every]
