"""Lighting from the camera frame: each face's light, estimated from its own shading.

The face is a light probe. Its skin is sampled at the tracked mesh's vertices (five pixels
around each, in linear light) and fitted, against the mesh's camera-space
normals, with second-order spherical harmonics per colour channel (9 coefficients; the
quadratic terms held small by a ridge term, since only the front half of the sphere is seen).
What comes out is irradiance E(n) for any normal n in camera space: a 3D object's diffuse
colour is base * E(n), so an object is bright on the side the face is bright.

Skin colour is taken out (each channel divided by its mean over the face, so the light is
grey), and the overall level is the face's mean luminance over a nominal skin albedo,
clamped, so a dim scene dims objects without a dark-skinned face turning them black.
The linear terms also give a key direction for highlights. Eyes, brows, lips and the face's
outer edge (hair, background) are left out of the fit, and so are vertices seen edge-on.

The renderer estimates a face's light again only when the picture or the face changed, or
every LIGHT_REUSE_FRAMES frames (arfx.render.renderer.Renderer._face_light): a still scene
keeps its light.

Frames: `rgb` is the input frame as tracked (never mirrored); the face mesh and normals are
in the unmirrored camera space the shaders light in.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: Nominal linear diffuse albedo of skin: the face's mean luminance over it is the light level.
SKIN_ALBEDO = 0.5
#: The light level is kept within this range (a black or blown-out frame must not make
#: objects vanish or glow).
LEVEL_RANGE = (0.2, 1.4)
#: Ridge weights of the 9 coefficients (times the sample count): constant, linear, quadratic.
RIDGE = np.array([0.0, 0.02, 0.02, 0.02, 0.4, 0.4, 0.4, 0.4, 0.4])
#: Fewer usable skin samples than this: no estimate (the fixed studio light is used).
MIN_SAMPLES = 40
#: Reflections see the frame at 1/ENVIRONMENT_DOWNSAMPLE size.
ENVIRONMENT_DOWNSAMPLE = 16
#: A face's light is estimated again after LIGHT_REUSE_FRAMES frames, or sooner when the
#: frame at 1/ENVIRONMENT_DOWNSAMPLE size changes by LIGHT_REUSE_LEVELS (of 255, mean absolute)
#: or the face moves LIGHT_REUSE_CM (arfx.render.renderer.Renderer._face_light); a webcam's
#: noise is ~1 level at that size, a lamp switched on or a hand in front tens.
LIGHT_REUSE_FRAMES = 4
LIGHT_REUSE_LEVELS = 2.0
LIGHT_REUSE_CM = 1.0

# MediaPipe face-mesh vertices that are not skin: eye contours, brows, lips.
_EYES = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246,
         263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
_BROWS = (46, 53, 52, 65, 55, 107, 66, 105, 63, 70, 276, 283, 282, 295, 285, 336, 296, 334, 293, 300)
_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)


@dataclass(frozen=True)
class FaceLight:
    """One face's light in camera space.

    sh: float32 [9, 3] irradiance coefficients per RGB channel over sh_basis(n).
    key_direction: unit vector towards the strongest light; key_strength: its share (0..1).
    level: the scene's light level (1: a face of nominal albedo at full brightness).
    face_luminance: the face's mean linear luminance (what face paint shades against).
    """

    sh: np.ndarray
    key_direction: np.ndarray
    key_strength: float
    level: float
    face_luminance: float

    def irradiance(self, normals: np.ndarray) -> np.ndarray:
        """float [N, 3] irradiance for unit normals [N, 3] (clamped at 0)."""
        return np.maximum(sh_basis(np.asarray(normals, np.float64)) @ self.sh, 0.0)


def sh_basis(normals: np.ndarray) -> np.ndarray:
    """[N, 9] real SH basis (constant factors dropped; the shader uses the same): 1, x, y, z,
    xy, yz, 3z^2 - 1, xz, x^2 - y^2."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    return np.stack([np.ones_like(x), x, y, z, x * y, y * z, 3.0 * z * z - 1.0, x * z, x * x - y * y], axis=1)


@functools.lru_cache(maxsize=4)
def _incidence(triangles_bytes: bytes, vertex_count: int):
    """Sparse [vertices, triangles] matrix: 1 where a vertex is a corner of a triangle."""
    from scipy.sparse import csr_matrix

    triangles = np.frombuffer(triangles_bytes, dtype=np.uint32).reshape(-1, 3)
    triangle_count = len(triangles)
    rows = triangles.ravel().astype(np.int64)
    cols = np.repeat(np.arange(triangle_count), 3)
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(vertex_count, triangle_count))


@functools.lru_cache(maxsize=1)
def skin_vertices() -> np.ndarray:
    """Indices of the canonical face's vertices that are skin: not eyes, brows, lips (nor
    within 0.6 cm of them), nor on the mesh's outer edge or behind the cheeks (z < 0)."""
    from arfx.geometry.canonical import CanonicalFace

    face = CanonicalFace.load()
    v = face.vertices.astype(np.float64)
    keep = v[:, 2] > 0.0
    features = v[list(_EYES + _BROWS + _LIPS)]
    distance = np.min(np.linalg.norm(v[:, None, :] - features[None, :, :], axis=2), axis=1)
    keep &= distance > 0.6
    counts: dict[tuple[int, int], int] = {}
    for tri in face.triangles:
        for i in range(3):
            edge = tuple(sorted((int(tri[i]), int(tri[(i + 1) % 3]))))
            counts[edge] = counts.get(edge, 0) + 1
    edge_vertices = {i for edge, count in counts.items() if count == 1 for i in edge}
    keep[list(edge_vertices)] = False
    return np.nonzero(keep)[0]


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    c = np.asarray(values, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def small_frame(rgb: np.ndarray, step: int = ENVIRONMENT_DOWNSAMPLE) -> np.ndarray:
    """Every `step`-th pixel of every `step`-th row, uint8 RGB (a plain subsample: reflections
    are blurred anyway, and an area filter costs ~1 ms at 720p)."""
    return np.ascontiguousarray(rgb[step // 2::step, step // 2::step])


def estimate_face_light(rgb: np.ndarray, face, camera, width: int, height: int,
                        triangles: np.ndarray) -> FaceLight | None:
    """The light on one tracked face (pose, mesh) from the width x height frame `rgb`
    (each vertex's colour: the mean of 5 pixels in a cross 2 px wide, in linear light); None
    when too little skin is seen."""
    mesh = np.asarray(face.mesh, np.float64)[:468]
    if not np.isfinite(mesh).all():
        return None
    skin, incidence, corners = _skin_normals_setup(np.ascontiguousarray(triangles, np.uint32).tobytes(),
                                                   len(mesh))
    # Area-weighted normals at the skin vertices only (from the triangles around them).
    a, b, c = mesh[corners[0]], mesh[corners[1]], mesh[corners[2]]
    u, v = b - a, c - a
    crossed = np.empty_like(u)
    crossed[:, 0] = u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1]
    crossed[:, 1] = u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2]
    crossed[:, 2] = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    normals = incidence @ crossed
    normals /= np.maximum(np.sqrt(np.einsum("ij,ij->i", normals, normals)), 1e-12)[:, None]
    points = mesh[skin]
    distance = np.sqrt(np.einsum("ij,ij->i", points, points))
    facing = -np.einsum("ij,ij->i", normals, points) > 0.25 * np.maximum(distance, 1e-9)
    pixels = camera.project(points, width, height)
    col = (pixels[:, 0] * (rgb.shape[1] / width)).astype(np.int64)  # floor: on screen, >= 0
    row = (pixels[:, 1] * (rgb.shape[0] / height)).astype(np.int64)
    inside = (pixels[:, 0] >= 0) & (pixels[:, 1] >= 0) & (col >= 2) & (col < rgb.shape[1] - 2) \
        & (row >= 2) & (row < rgb.shape[0] - 2)
    use = facing & inside
    if np.count_nonzero(use) < MIN_SAMPLES:
        return None
    # The 5 pixels of each vertex in one gather, decoded to linear by a table (a per-value
    # power costs more than the rest of the fit).
    stride = rgb.shape[1]
    centre = row[use] * stride + col[use]
    cross = (centre[None, :] + np.array([0, -2 * stride, 2 * stride, -2, 2])[:, None]).ravel()
    colours = _LINEAR[rgb.reshape(-1, 3)[cross]].reshape(5, -1, 3).mean(axis=0)
    basis = sh_basis(normals[use])
    weights = np.ones(len(basis))
    for _ in range(2):  # fit, then again without outliers (stray hair, a hand, a specular spot)
        coefficients = _ridge_fit(basis, colours, weights)
        residual = np.abs(basis @ coefficients - colours).mean(axis=1)
        spread = float(np.partition(residual, len(residual) // 2)[len(residual) // 2]) * 1.4826 + 1e-4
        weights = (residual < 3.0 * spread).astype(np.float64)
        if weights.sum() < MIN_SAMPLES:
            weights[:] = 1.0
            break
    mean = np.maximum((colours * weights[:, None]).sum(0) / weights.sum(), 1e-4)
    luminance = float(mean @ np.array([0.2126, 0.7152, 0.0722]))
    level = float(np.clip(luminance / SKIN_ALBEDO, *LEVEL_RANGE))
    # Skin colour out (each channel's mean over the face becomes 1), then the level in.
    sh = coefficients / mean[None, :] * level
    # The fit's mean over the samples is the mean of the colours: scale so that a face-average
    # normal gets `level`.
    linear = sh[1:4].mean(axis=1)
    norm = float(np.linalg.norm(linear))
    key = linear / norm if norm > 1e-6 else np.array([0.0, 0.0, 1.0])
    strength = float(np.clip(norm / max(float(sh[0].mean()) + norm, 1e-6), 0.0, 1.0))
    return FaceLight(sh.astype(np.float32), key.astype(np.float32), strength, level, luminance)


#: sRGB byte -> linear value.
_LINEAR = srgb_to_linear(np.arange(256) / 255.0)


@functools.lru_cache(maxsize=4)
def _skin_normals_setup(triangles_bytes: bytes, vertex_count: int):
    """(skin vertex indices, sparse [skin vertices, their triangles] incidence, the corner
    indices [3, T] of those triangles): what the per-frame normals at the skin need."""
    triangles = np.frombuffer(triangles_bytes, dtype=np.uint32).reshape(-1, 3)
    skin = skin_vertices()
    incidence = _incidence(triangles_bytes, vertex_count)[skin]
    used = np.unique(incidence.indices)
    incidence = incidence[:, used].tocsr()
    corners = np.ascontiguousarray(triangles[used].T.astype(np.int64))
    return skin, incidence, corners


#: The studio light of shaders/object.frag (lighting "fixed"): key and fill directions (camera
#: space, towards the light), their strengths, and the ambient level.
STUDIO_KEY = ((-0.4, 0.6, 0.7), 0.95)
STUDIO_FILL = ((0.6, -0.1, 0.5), 0.35)
STUDIO_AMBIENT = 0.22


@functools.lru_cache(maxsize=1)
def studio_light() -> FaceLight:
    """The studio light as a FaceLight, for faces whose light cannot be estimated (too little
    skin seen): its irradiance (ambient + each light's clamped cosine) fitted with the same
    harmonics over the sphere, and the key as the punctual light."""
    count = 2000  # a Fibonacci sphere of normals
    z = 1.0 - (np.arange(count) + 0.5) * 2.0 / count
    angle = np.pi * (3.0 - np.sqrt(5.0)) * np.arange(count)
    ring = np.sqrt(1.0 - z * z)
    normals = np.stack([ring * np.cos(angle), ring * np.sin(angle), z], axis=1)
    irradiance = np.full(count, STUDIO_AMBIENT)
    for direction, strength in (STUDIO_KEY, STUDIO_FILL):
        direction = np.asarray(direction) / np.linalg.norm(direction)
        irradiance += strength * np.clip(normals @ direction, 0.0, None)
    coefficients = np.linalg.lstsq(sh_basis(normals), irradiance, rcond=None)[0]
    key = np.asarray(STUDIO_KEY[0]) / np.linalg.norm(STUDIO_KEY[0])
    return FaceLight(np.repeat(coefficients[:, None], 3, axis=1).astype(np.float32), key.astype(np.float32),
                     STUDIO_KEY[1], 1.0, SKIN_ALBEDO)


def _ridge_fit(basis: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    weighted = basis * weights[:, None]
    normal = weighted.T @ basis + np.diag(RIDGE * max(weights.sum(), 1.0))
    return np.linalg.solve(normal, weighted.T @ values)
