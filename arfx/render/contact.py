"""Soft contact shadows: a 3D object darkens the face where it comes close to it.

Each object gets, once, a distance field: the distance (cm) from points of a grid around its
opaque parts (in anchor space) to their nearest surface. Each frame the field is read at the
face mesh's 468 vertices (trilinear, on the CPU): a vertex at distance d from the object is
darkened by STRENGTH * (1 - d / RADIUS)^2, and the face mesh is drawn once more under the
object with that darkness interpolated across its triangles and a multiplying blend. So
glasses shade the nose under their bridge and the temples where they rest, and a hat its
brow; transparent parts (lenses) cast none. Cost per frame: ~0.1 ms of numpy, and one draw
of the face triangles that have a darkened corner (none when no vertex is near the object).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: Distance (cm) within which an object darkens the face, and how dark it makes it at contact.
RADIUS_CM = 1.2
STRENGTH = 0.45
#: Grid spacing (cm) and the most cells along one side.
CELL_CM = 0.2
MAX_CELLS = 96


def shade_at(field: DistanceField, points: np.ndarray, radius: float | None = None,
             strength: float | None = None) -> np.ndarray:
    """float32 [N]: the contact darkness (0..strength) at points in the field's space (cm)."""
    from scipy.ndimage import map_coordinates

    radius = RADIUS_CM if radius is None else radius
    strength = STRENGTH if strength is None else strength
    shape = np.array(field.values.shape[::-1], np.float64)  # x, y, z cells
    cells = (np.asarray(points, np.float64) - field.low) / (field.high - field.low) * shape - 0.5
    inside = np.flatnonzero(np.all((cells >= -0.5) & (cells <= shape - 0.5), axis=1))
    shade = np.zeros(len(cells), np.float32)
    if len(inside):  # most of the face is outside a pair of glasses' box: only the rest is read
        distance = map_coordinates(field.values, cells[inside, ::-1].T, order=1, mode="nearest")
        closeness = np.clip(1.0 - distance / radius, 0.0, 1.0)
        shade[inside] = strength * closeness * closeness
    return shade


@dataclass(frozen=True, eq=False)
class DistanceField:
    """Distances (cm) on a grid in anchor space: values [nz, ny, nx] float32, from `low` to
    `high` (cm), cell centres at low + (i + 0.5) * (high - low) / n."""

    values: np.ndarray
    low: np.ndarray
    high: np.ndarray


def surface_points(vertices: np.ndarray, triangles: np.ndarray, spacing: float) -> np.ndarray:
    """Points on the triangles no farther apart than about `spacing` (vertices, and a
    barycentric lattice on each triangle as fine as its longest edge needs)."""
    v = np.asarray(vertices, np.float64)
    points = [v]
    if len(triangles):
        a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
        longest = np.max(np.stack([np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1),
                                   np.linalg.norm(a - c, axis=1)]), axis=0)
        steps = np.clip(np.ceil(longest / spacing).astype(int), 1, 40)
        for n in np.unique(steps):
            pick = steps == n
            i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
            keep = i + j <= n
            u, w = (i[keep] / n)[None, :, None], (j[keep] / n)[None, :, None]
            aa, bb, cc = a[pick][:, None, :], b[pick][:, None, :], c[pick][:, None, :]
            points.append((aa + u * (bb - aa) + w * (cc - aa)).reshape(-1, 3))
    return np.concatenate(points)


def distance_field(parts: list[tuple[np.ndarray, np.ndarray]], radius: float = RADIUS_CM
                   ) -> DistanceField | None:
    """The distance field of (vertices in anchor space, triangles) parts; None when empty."""
    from scipy.ndimage import distance_transform_edt

    parts = [(np.asarray(v, np.float64), np.asarray(t, np.int64)) for v, t in parts if len(v)]
    if not parts:
        return None
    vertices = np.concatenate([v for v, _ in parts])
    low, high = vertices.min(axis=0) - radius, vertices.max(axis=0) + radius
    cell = max(CELL_CM, float((high - low).max()) / MAX_CELLS)
    counts = np.maximum(np.ceil((high - low) / cell).astype(int), 2)
    high = low + counts * cell
    points = np.concatenate([surface_points(v, t, cell * 0.5) for v, t in parts])
    # Cells the surface passes through, then each cell's distance to the nearest of them
    # (centre to centre, less half a cell: within half a cell of the true distance).
    index = np.clip(np.floor((points - low) / cell).astype(np.int64), 0, counts - 1)
    occupied = np.zeros((counts[2], counts[1], counts[0]), bool)
    occupied[index[:, 2], index[:, 1], index[:, 0]] = True
    distances = np.maximum(distance_transform_edt(~occupied) * cell - 0.5 * cell, 0.0)
    distances = np.minimum(distances, radius * 1.5)
    log.debug("contact field: %s cells of %.2f cm from %d surface points", counts, cell, len(points))
    field = DistanceField(distances.astype(np.float32), low.astype(np.float32), high.astype(np.float32))
    if not np.all(np.isfinite(field.low)) or not np.all(field.high - field.low > 0):
        return None  # placed so far away (or so large) that float32 cannot hold its box: no contact
    return field


_FIELDS: "weakref.WeakKeyDictionary" = None  # effect -> DistanceField | None


def object_field(effect) -> DistanceField | None:
    """The distance field of a 3D object effect's opaque, lit parts in anchor space (computed
    once per effect object); None when it has none (a debug axis, only lenses)."""
    import weakref

    global _FIELDS
    if _FIELDS is None:
        _FIELDS = weakref.WeakKeyDictionary()
    try:
        return _FIELDS[effect]
    except (KeyError, TypeError):
        pass
    placement = np.asarray(effect.placement, np.float64)
    parts = []
    for mesh in effect.meshes:
        if mesh.material.blended or mesh.material.unlit or not len(mesh.indices):
            continue
        matrix = placement @ np.asarray(mesh.transform, np.float64)
        positions = np.asarray(mesh.positions, np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
        parts.append((positions, np.asarray(mesh.indices, np.int64)))
    field = distance_field(parts)
    try:
        _FIELDS[effect] = field
    except TypeError:
        pass
    return field
