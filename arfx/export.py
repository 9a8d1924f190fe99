"""Exports for other tools: `arfx track` as JSON Lines or CSV, face meshes (OBJ/PLY), face textures.

Track formats are written from the same arrays as the .npz (arfx.track.to_arrays, keys and
meanings in TRACK_KEYS), so every format holds the same values:

- JSON Lines (.jsonl): one object per frame, holding the file's scalars (`schema_version`, `fps`,
  `fov`, ...), the frame's own values (`frame_index`, `frame_name`, `frame_fov`, ...) and a list
  per entity (`faces`, `hands`, `bodies`) of objects with that entity's keys (`face_id`,
  `face_landmarks`, ...); counts and offsets are implied by the lists. NaN and infinity are null.
- CSV (.csv): one row per face, with its frame's values and the file's scalars; arrays are spread
  over columns named `<key>_<index>...` (`face_landmarks_12_x`, `face_pose_0_3`), a few with names
  (`face_box_x0`, `face_euler_yaw`, `face_expressions_jawOpen`). Frames without faces have no row.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from arfx.errors import OutputError

log = logging.getLogger(__name__)

#: `arfx track` output formats by file suffix.
TRACK_FORMATS = {".npz": "npz", ".jsonl": "jsonl", ".csv": "csv"}
#: entity prefix -> the JSON Lines list holding its rows
ENTITY_LISTS = {"face": "faces", "hand": "hands", "body": "bodies"}
_NAMED_COLUMNS = {"face_box": ("x0", "y0", "x1", "y1"), "face_euler": ("yaw", "pitch", "roll"),
                  "face_translation": ("x", "y", "z")}


def track_format(output: str | Path, fmt: str | None = None) -> str:
    """The format of a track output: `fmt` when given, else from the suffix (one-line error otherwise)."""
    if fmt is not None:
        if fmt not in TRACK_FORMATS.values():
            raise OutputError(f"unknown track format '{fmt}'; use one of {', '.join(TRACK_FORMATS.values())}")
        return fmt
    suffix = Path(output).suffix.lower()
    if suffix not in TRACK_FORMATS:
        raise OutputError(f"{output}: unsupported track output type {suffix or '(no suffix)'}; name it "
                          f"{' / '.join(TRACK_FORMATS)} or give --format {'|'.join(TRACK_FORMATS.values())}")
    return TRACK_FORMATS[suffix]


def _layout(arrays: dict[str, np.ndarray]) -> tuple[dict, list[str], dict[str, list[str]]]:
    """Split the arrays into file scalars, per-frame keys and per-entity keys."""
    frames = len(arrays["frame_index"])
    file_values, per_frame, per_entity = {}, [], {}
    for key, value in arrays.items():
        entity = key.split("_", 1)[0]
        if entity in ENTITY_LISTS and f"{entity}_offset" in arrays:
            if key not in (f"{entity}_count", f"{entity}_offset"):
                per_entity.setdefault(entity, []).append(key)
        elif np.ndim(value) >= 1 and len(value) == frames and key not in ("expression_names",):
            per_frame.append(key)
        else:
            file_values[key] = value
    return file_values, per_frame, per_entity


def _json(value) -> str:
    """JSON text of a value; float32 values in their shortest form, NaN and infinity as null."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        text = array.astype(np.float32).astype(str)
        text = np.where(np.isfinite(array), text, "null")
        return _nest(text)
    if array.dtype.kind in "iub":
        return _nest(array.astype(np.int64).astype(str))
    if array.ndim == 0:
        return json.dumps(str(array))
    return json.dumps([str(v) for v in array.ravel()]) if array.ndim == 1 else json.dumps(array.tolist())


def _nest(text: np.ndarray) -> str:
    if text.ndim == 0:
        return str(text)
    if text.ndim == 1:
        return "[" + ",".join(text.tolist()) + "]"
    return "[" + ",".join(_nest(row) for row in text) + "]"


def jsonl_lines(arrays: dict[str, np.ndarray]) -> Iterator[str]:
    """One JSON object per frame (see the module doc)."""
    file_values, per_frame, per_entity = _layout(arrays)
    head = [f"{json.dumps(key)}:{_json(value)}" for key, value in file_values.items()]
    for i in range(len(arrays["frame_index"])):
        parts = head + [f"{json.dumps(key)}:{_json(arrays[key][i])}" for key in per_frame]
        for entity, keys in per_entity.items():
            start, end = arrays[f"{entity}_offset"][i], arrays[f"{entity}_offset"][i + 1]
            rows = ["{" + ",".join(f"{json.dumps(key)}:{_json(arrays[key][j])}" for key in keys) + "}"
                    for j in range(start, end)]
            parts.append(f"{json.dumps(ENTITY_LISTS[entity])}:[" + ",".join(rows) + "]")
        yield "{" + ",".join(parts) + "}\n"


def _columns(key: str, shape: tuple[int, ...], arrays: dict[str, np.ndarray]) -> list[str]:
    if not shape:
        return [key]
    if key in _NAMED_COLUMNS:
        return [f"{key}_{name}" for name in _NAMED_COLUMNS[key]]
    if key == "face_expressions":
        return [f"{key}_{name}" for name in arrays["expression_names"].tolist()]
    names = []
    for index in np.ndindex(*shape):
        tail = [str(i) for i in index]
        if shape[-1] == 3 and len(shape) == 2:  # points: x, y, z
            tail[-1] = "xyz"[index[-1]]
        names.append(key + "_" + "_".join(tail))
    return names


def _cells(value) -> list[str]:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array.astype(np.float32).ravel().astype(str).tolist()
    if array.dtype.kind in "iub":
        return array.astype(np.int64).ravel().astype(str).tolist()
    return [str(v) for v in array.ravel()]


def csv_text(arrays: dict[str, np.ndarray]) -> Iterator[str]:
    """CSV, one row per face (see the module doc); hands and bodies do not fit it."""
    file_values, per_frame, per_entity = _layout(arrays)
    others = sorted(set(per_entity) - {"face"})
    if others:
        raise OutputError(f"CSV holds one row per face and cannot hold {' or '.join(ENTITY_LISTS[e] for e in others)}; "
                          "write .npz or .jsonl (--format jsonl) for them")
    scalars = {key: value for key, value in file_values.items() if np.ndim(value) == 0}
    face_keys = per_entity.get("face", [])
    header = list(scalars) + per_frame
    for key in face_keys:
        header += _columns(key, arrays[key].shape[1:], arrays)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    fixed = [cell for value in scalars.values() for cell in _cells(value)]
    offsets = arrays["face_offset"]
    for i in range(len(arrays["frame_index"])):
        frame_cells = fixed + [cell for key in per_frame for cell in _cells(arrays[key][i])]
        for j in range(offsets[i], offsets[i + 1]):
            writer.writerow(frame_cells + [cell for key in face_keys for cell in _cells(arrays[key][j])])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def write_track_text(arrays: dict[str, np.ndarray], path: Path, fmt: str) -> None:
    """Write JSON Lines or CSV to `path` (the caller renames it into place)."""
    chunks = jsonl_lines(arrays) if fmt == "jsonl" else csv_text(arrays)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a track CSV as dicts (for tests and quick looks)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def check_track_output(output: str | Path, overwrite: bool = False, fmt: str | None = None) -> tuple[Path, str]:
    """Refuse, before any tracking, an output that cannot be written; its path and format."""
    from arfx.outputs import check_output_path

    fmt = track_format(output, fmt)
    return check_output_path(output, overwrite, None, "track output"), fmt


def write_track(result, output: str | Path, fmt: str | None = None, refine: bool = False,
                overwrite: bool = False) -> Path:
    """Write an `arfx track` result (arfx.track.TrackResult) as .npz, JSON Lines or CSV, atomically."""
    from arfx.outputs import write_atomically
    from arfx.track import to_arrays

    out, fmt = check_track_output(output, overwrite, fmt)
    arrays = to_arrays(result, 478 if refine else 468)

    def write(temp: Path) -> None:
        if fmt == "npz":
            with open(temp, "wb") as handle:  # a file object: numpy would append .npz to a name
                np.savez_compressed(handle, **arrays)
        else:
            write_track_text(arrays, temp, fmt)

    return write_atomically(out, write, overwrite, "landmarks")
