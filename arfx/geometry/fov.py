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

Estimation (`FovEstimator`): for a candidate field of view every frame's landmarks are lifted
as the geometry pipeline lifts them (on their camera rays, relative depth from the landmark
model, scaled to the canonical face's size) and mapped back into the canonical face's frame by
their best similarity fit. With the right field of view a rigid face comes out the same shape
in every frame (its own shape, whatever it is); with a wrong one its perspective is over- or
under-corrected by an amount that changes with its distance and its place in the frame, so the
shape changes as it moves. The estimate is the field of view with the least change of shape
over the frames (the scatter about each face's own mean shape), refined by a parabola; its
uncertainty comes from that parabola's curvature and the residual scatter (least squares).
A face that stays at one distance and place does not constrain it: the estimate is then not
confident and the fallback (metadata or the 63 degree default) is used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from arfx.geometry.camera import DEFAULT_FOV

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
                 max_uncertainty: float = 3.0, search: tuple[float, float] = (20.0, 120.0),
                 canonical: Any = None) -> None:
        from arfx.geometry.canonical import CanonicalFace

        canonical = canonical if canonical is not None else CanonicalFace.load()
        self.fallback = float(fallback)
        self.max_frames = int(max_frames)
        self.min_frames = int(min_frames)
        self.max_uncertainty = float(max_uncertainty)
        self.search = (float(search[0]), float(search[1]))
        self._ids = np.asarray(canonical.landmark_ids, dtype=np.int64)
        points = canonical.vertices[self._ids].astype(np.float64)
        self._canonical_mean = points.mean(axis=0)
        self._canonical = points - self._canonical_mean  # centred [N,3]
        self._spread = float((self._canonical ** 2).sum())
        self._obs: list[np.ndarray] = []  # [N,3]: x, y from the centre (y up), z; pixels
        self._heights: list[float] = []
        self._groups: list[int] = []
        self._stride = 1
        self._seen = 0

    def __len__(self) -> int:
        return len(self._obs)

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
        sums, count = self._sums(fovs)
        return sums / count

    def _sums(self, fovs: np.ndarray) -> tuple[np.ndarray, int]:
        """Sum of squared deviations of each observation's canonical-frame shape from its face's
        mean shape, per candidate fov, and how many coordinates went into it."""
        obs = np.stack(self._obs)  # [T,N,3]
        heights = np.asarray(self._heights)
        focal = 0.5 * heights[None, :] / np.tan(np.radians(fovs) / 2.0)[:, None]  # [K,T] pixels
        screen = obs[None] / focal[:, :, None, None]  # near plane (near = 1), z like x
        depth = screen[..., 2] + 1.0  # [K,T,N]: the face's mean depth at the near plane
        lifted = np.empty_like(screen)
        lifted[..., :2] = screen[..., :2] * depth[..., None]
        lifted[..., 2] = -depth
        centre = lifted.mean(axis=2, keepdims=True)
        centred = lifted - centre
        cov = np.einsum("ktni,nj->ktij", centred, self._canonical)  # target x source
        u, sv, vt = np.linalg.svd(cov)
        d = np.sign(np.linalg.det(u @ vt))
        u[..., :, 2] *= d[..., None]
        sv[..., 2] *= d
        rotation = u @ vt  # canonical -> lifted
        scale = sv.sum(axis=-1) / self._spread  # [K,T]
        # Back into the canonical frame: R^T (p - centre) / scale (rows: p @ R).
        shape = np.einsum("ktni,ktij->ktnj", centred, rotation) / scale[..., None, None]
        groups = np.asarray(self._groups)
        total = np.zeros(len(fovs))
        count = 0
        for group in np.unique(groups):
            members = shape[:, groups == group]
            if members.shape[1] < 2:
                continue
            total += ((members - members.mean(axis=1, keepdims=True)) ** 2).sum(axis=(1, 2, 3))
            count += members.shape[1] * members.shape[2] * 3
        return total, max(count, 1)

    def estimate(self, fallback: float | None = None) -> FovEstimate:
        """The field of view that keeps the face's shape most constant over the frames."""
        fallback = self.fallback if fallback is None else float(fallback)
        frames = len(self._obs)
        if frames < self.min_frames:
            return FovEstimate(fallback, None, math.inf, False, frames,
                               f"{frames} face observation(s); need {self.min_frames}")
        low, high = self.search
        coarse = np.arange(low, high + 1e-9, 4.0)
        coarse_cost, _ = self._sums(coarse)
        if not np.all(np.isfinite(coarse_cost)):
            return FovEstimate(fallback, None, math.inf, False, frames, "degenerate landmarks")
        best = int(np.argmin(coarse_cost))
        fine = np.arange(max(low, coarse[best] - 6.0), min(high, coarse[best] + 6.0) + 1e-9, 0.5)
        fine_cost, count = self._sums(fine)
        i = int(np.argmin(fine_cost))
        centre = float(fine[i])
        near = np.abs(fine - centre) <= 3.0
        a, b, _ = np.polyfit(fine[near] - centre, fine_cost[near], 2)
        estimated = centre - b / (2.0 * a) if a > 0 else centre
        estimated = float(np.clip(estimated, fine[near].min(), fine[near].max()))
        # Least squares: var = sigma^2 / a, sigma^2 = residual sum over its degrees of freedom
        # (coordinates less each face's mean shape and each observation's similarity).
        faces = len(set(self._groups))
        dof = max(count - faces * 3 * len(self._ids) - 7 * frames - 1, 1)
        sigma2 = float(fine_cost[i]) / dof
        uncertainty = math.sqrt(sigma2 / a) if a > 0 else math.inf
        at_edge = best in (0, len(coarse) - 1) or estimated <= low + 1.0 or estimated >= high - 1.0
        confident = (not at_edge) and uncertainty <= self.max_uncertainty
        if at_edge:
            reason = f"best fit at the edge of {low:g}-{high:g} degrees"
        elif not confident:
            reason = (f"the motion does not pin it down (+-{uncertainty:.1f} degrees; "
                      "the face needs to move nearer and farther or across the frame)")
        else:
            reason = f"{estimated:.1f} +- {uncertainty:.1f} degrees from {frames} face observations"
        return FovEstimate(estimated if confident else fallback, estimated, uncertainty, confident, frames,
                           reason)
