"""Screen landmarks -> metric face: a camera-space face mesh (cm) and a pose matrix per face.

The method follows DESIGN.md section 5 (MediaPipe's face geometry pipeline):
1. Landmark x, y are placed on the camera's near plane; the relative landmark z is put on
   the same scale as x.
2. For a guessed canonical-to-near-plane scale s (the face at distance near / s), the
   relative z becomes a depth (rel_z + near) / s and x, y are unprojected along their
   camera rays to that depth. A weighted Procrustes fit of the canonical face to these
   points gives the face's scale; the right s is the one where that scale is 1, i.e. the
   face has the canonical face's metric size.
3. MediaPipe finds s in two fits (first on the near-plane points, then on a first
   unprojection). Every unprojected point is proportional to 1 / s, so the unprojection
   for s = 1 divided by its fitted scale k IS the answer (s = k): one fit suffices, and
   it gives the same mesh and pose, with the pose's scale exactly 1.
4. The pose is that fit's rotation with its translation divided by k.
5. Perspective refinement (arfx's addition, `refine=True`): step 2 adds the landmark model's
   relative depth along the camera's optical axis, but the model sees a face's relief along the
   ray to it: a face seen at an angle off the axis comes out turned by about half that angle
   (20-24 degrees in the corners of an 85 degree view, 40 degrees off). Starting from step 4's
   pose, a few Gauss-Newton steps fit the rigid canonical face's projection to the landmarks'
   pixels (the weighted landmarks of step 2, a Huber weight for the ones far off), which depend
   only on the camera. The mesh keeps its shape in the face's frame (its expression), is placed
   with the refined pose, and each vertex then moves along its landmark's camera ray to the
   depth so placed. The refinement trusts the camera's rays, so it is for a known field of view
   (given, from metadata or estimated): on seven photos at the guessed 63 degrees it turned the
   faces by 0.6-0.85 of the angle the guess puts them off the axis (4-23 degrees), which is
   right only where the guess is, and the pose-compensated mesh that expressions read turns
   with it (the astronaut photo's jawOpen 0.25 -> 1.0).
Every metric landmark lies on the camera ray of its screen landmark, so projecting the
mesh with the same camera returns the input landmarks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterable, Protocol

import numpy as np

from arfx.geometry.camera import PerspectiveCamera
from arfx.geometry.canonical import NUM_VERTICES, CanonicalFace
from arfx.geometry.procrustes import ProcrustesError, WeightedProcrustes, perspective_step

log = logging.getLogger(__name__)

# Faces whose landmarks' bounding box has a diagonal below this fraction of the frame
# (in normalized coordinates) are too small to fit stably.
_TOO_COMPACT = 1e-3
#: Gauss-Newton steps of the perspective refinement: from 20-24 degrees off, two place the lenses
#: within 0.5 % of the eye distance of where more would; the Huber weights need more (5 of the 33
#: landmarks 40 px off: 6.1 degrees after three steps, 3.5 after four).
PERSPECTIVE_STEPS = 4
#: Landmarks whose reprojection error exceeds this many times the median get a Huber weight.
ROBUST_LIMIT = 2.0
#: A step changing no rotation entry nor translation coordinate (cm) by more ends the refinement.
_CONVERGED = 2e-4


@dataclass(frozen=True, eq=False)
class FaceGeometry:
    """The metric geometry of one face in camera space (see arfx.geometry.camera).

    `pose` maps canonical face space (cm) into camera space (cm): a similarity transform
    (rotation, a uniform scale close to 1, translation) as a float32 [4,4] column-vector
    matrix; it is the model-view matrix for an object attached to the head.
    `mesh` holds the face's 468 vertices in camera space (cm), float32 [468,3]; they
    follow the expression (open mouth, closed eyes), which the rigid pose does not.
    """

    pose: np.ndarray
    mesh: np.ndarray
    face_id: int = 0
    landmarks: np.ndarray | None = field(default=None, repr=False)  # the screen input, pixels
    canonical: CanonicalFace | None = field(default=None, repr=False)

    def _canonical(self) -> CanonicalFace:
        return self.canonical if self.canonical is not None else CanonicalFace.load()

    @property
    def uvs(self) -> np.ndarray:
        """float32 [468,2] texture coordinates of the mesh vertices (v from the image top)."""
        return self._canonical().uvs

    @property
    def triangles(self) -> np.ndarray:
        """int32 [898,3] vertex indices, counter-clockwise seen from in front of the face."""
        return self._canonical().triangles

    @property
    def euler(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees; see `euler_angles`."""
        return euler_angles(self.pose)


class _HasLandmarks(Protocol):
    landmarks: np.ndarray
    id: int


def euler_angles(pose: np.ndarray) -> tuple[float, float, float]:
    """Head pose angles (yaw, pitch, roll) in degrees from a pose matrix.

    The rotation part R (scale removed) is decomposed as R = Ry(yaw) @ Rx(-pitch) @ Rz(roll),
    each a right-handed rotation about a camera axis (x right, y up, z towards the viewer).
    With all three zero the face looks straight into the camera. Signs:
    - yaw > 0: the face turns to ITS left, so its nose moves towards image right in an
      unmirrored camera image (a mirrored preview shows it moving left);
    - pitch > 0: the face looks up (the nose moves up the image);
    - roll > 0: the face rotates counter-clockwise in an unmirrored image (the head tilts
      towards its right shoulder, which appears on the image's left).
    Ranges: yaw and roll in (-180, 180], pitch in [-90, 90].
    """
    m = np.asarray(pose, dtype=np.float64)[:3, :3]
    # Remove the uniform scale (and any tiny shear) by taking the nearest rotation.
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    yaw = math.degrees(math.atan2(r[0, 2], r[2, 2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, r[1, 2]))))
    roll = math.degrees(math.atan2(r[1, 0], r[1, 1]))
    return yaw, pitch, roll


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The float64 [3,3] rotation with the given `euler_angles` (degrees)."""
    a, b, c = (math.radians(v) for v in (yaw, -pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


class GeometryPipeline:
    """Lifts tracked screen landmarks into metric camera space, one FaceGeometry per face.

    `refine`: refine the pose in perspective (step 5 of the module docstring); for a camera
    whose field of view is known. May be changed between frames, as may `camera`.
    """

    def __init__(self, camera: PerspectiveCamera = PerspectiveCamera(),
                 canonical: CanonicalFace | None = None, refine: bool = False) -> None:
        self.camera = camera
        self.canonical = canonical if canonical is not None else CanonicalFace.load()
        self.refine = bool(refine)
        #: Gauss-Newton steps when refining.
        self.perspective_steps = PERSPECTIVE_STEPS
        ids = self.canonical.landmark_ids
        self._ids = ids
        self._solver = WeightedProcrustes(self.canonical.vertices[ids],
                                          self.canonical.landmark_weights)
        # The refinement's model, centred so that its rotation and translation steps decouple.
        weights = np.asarray(self.canonical.landmark_weights, dtype=np.float64)
        self._weights = weights / weights.sum()
        model = self.canonical.vertices[ids].astype(np.float64)
        self._model_centre = self._weights @ model
        self._model = model - self._model_centre

    def estimate(self, landmarks: np.ndarray, width: int, height: int,
                 face_id: int = 0) -> FaceGeometry | None:
        """The geometry of one face, or None (logged at debug level) when it is degenerate.

        `landmarks`: [468 or 478, 3] with x, y in pixels (origin top-left, y down) and z
        the landmark model's relative depth in the same pixel units as x (MediaPipe's
        normalized z times the frame width; smaller is nearer). Only the first 468 are used.
        """
        screen = np.asarray(landmarks, dtype=np.float32)
        lm = screen.astype(np.float64)
        if lm.ndim != 2 or lm.shape[0] < NUM_VERTICES or lm.shape[1] < 3:
            log.debug("face %d: landmarks of shape %s, need [>=468, 3]", face_id, lm.shape)
            return None
        lm = lm[:NUM_VERTICES, :3]
        if width <= 0 or height <= 0:
            raise ValueError(f"invalid frame size {width}x{height}")
        if not math.isfinite(float(lm.sum())):  # any NaN or inf makes the sum non-finite
            log.debug("face %d: landmarks are not finite; skipped", face_id)
            return None
        extent = lm[:, :2].max(axis=0) - lm[:, :2].min(axis=0)
        size = math.hypot(float(extent[0]) / width, float(extent[1]) / height)
        if size <= _TOO_COMPACT:
            log.debug("face %d: landmarks too compact (%.2g of the frame); skipped", face_id, size)
            return None
        try:
            pose, mesh = self._solve(lm, width, height)
        except ProcrustesError as exc:
            log.debug("face %d: no pose (%s); skipped", face_id, exc)
            return None
        if not float(mesh[:, 2].max()) < 0:  # also False for NaN
            log.debug("face %d: geometry not in front of the camera; skipped", face_id)
            return None
        return FaceGeometry(pose=pose.astype(np.float32), mesh=mesh.astype(np.float32),
                            face_id=int(face_id), landmarks=screen, canonical=self.canonical)

    def estimate_faces(self, faces: Iterable[_HasLandmarks], width: int,
                       height: int) -> list[FaceGeometry]:
        """Geometry for each tracked face (objects with `.landmarks` and `.id`), skipping degenerate ones."""
        out = []
        for face in faces:
            geometry = self.estimate(face.landmarks, width, height, face_id=face.id)
            if geometry is not None:
                out.append(geometry)
        return out

    def _solve(self, lm: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        near = self.camera.near
        # Pixels -> near-plane coordinates (cm), y flipped; z on the same scale as x
        # (MediaPipe's z convention), so one multiply-add does all three.
        k = near / self.camera.focal_pixels(height)
        screen = lm * np.array([k, -k, k])
        screen += np.array([-0.5 * width * k, 0.5 * height * k, 0.0])
        # Relative z: only its deviations from the mean carry information.
        rel_z = screen[:, 2] - screen[:, 2].mean()
        # Unproject as if the face were at unit scale (its mean depth at the near plane),
        # fit once, and divide by the fitted scale: see the module docstring.
        unit = _unproject(screen, rel_z, 1.0, near)
        fit = self._solver.solve(unit[self._ids])
        mesh = unit * (1.0 / fit.scale)
        rotation, translation = fit.rotation, fit.translation / fit.scale
        if self.refine and self.perspective_steps > 0:
            refined = self._refine(screen[:, :2] * (1.0 / near), mesh, rotation, translation)
            if refined is not None:
                rotation, translation, mesh = refined
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:3, 3] = translation
        return pose, mesh

    def _refine(self, seen: np.ndarray, mesh: np.ndarray, rotation: np.ndarray,
                translation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Step 5 of the module docstring: the pose fitted to the landmarks' rays `seen` [468,2]
        ((x, y) / depth), and the mesh placed with it; None when the fit breaks down."""
        centre = translation + rotation @ self._model_centre
        refined_rotation, observed = rotation, seen[self._ids]
        for _ in range(self.perspective_steps):
            previous = refined_rotation
            refined_rotation, moved = perspective_step(self._model, observed, refined_rotation, centre,
                                                       self._weights, robust=ROBUST_LIMIT)
            moved, centre = moved - centre, moved
            # Landmarks the pose already fits (about 0.01 degrees, 0.002 mm) need no more steps.
            if np.abs(refined_rotation - previous).max() < _CONVERGED and np.abs(moved).max() < _CONVERGED:
                break
        refined_translation = centre - refined_rotation @ self._model_centre
        # The mesh in the face's own frame (R^T (m - t)), placed with the refined pose.
        placed = (mesh - translation) @ (rotation @ refined_rotation.T) + refined_translation
        depth = -placed[:, 2]
        if not (math.isfinite(float(refined_translation.sum())) and float(depth.min()) > 0):
            log.debug("perspective refinement diverged; MediaPipe's pose kept")
            return None
        refined_mesh = np.empty_like(mesh)
        refined_mesh[:, :2] = seen * depth[:, None]
        refined_mesh[:, 2] = -depth
        return refined_rotation, refined_translation, refined_mesh


def _unproject(screen: np.ndarray, rel_z: np.ndarray, scale: float, near: float) -> np.ndarray:
    """Near-plane points with relative z -> camera-space points, for a canonical-to-near-plane scale.

    `scale` is near / distance: the face's mean depth is near / scale, and the relative z,
    measured at the near plane, grows by 1 / scale at that distance. The result is
    proportional to 1 / scale.
    """
    depth = (rel_z + near) * (1.0 / scale)  # distance along -z, positive in front
    out = screen * (depth * (1.0 / near))[:, None]
    out[:, 2] = -depth
    return out
