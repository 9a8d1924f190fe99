#!/usr/bin/env python3
"""Import MediaPipe's canonical face model into models/canonical_face.npz.

The canonical face (468 vertices in centimetres, their UVs, 898 triangles and the 33
weighted landmarks used by the Procrustes solve) is not in the MediaPipe wheel. The npm
package @mediapipe/face_mesh ships it inside face_mesh_solution_packed_assets.data as a
serialized GeometryPipelineMetadata protobuf; the loader script beside it lists every
packed file's byte range. This script fetches the package with `npm pack` (or reuses a
cached tarball), slices the protobuf out, decodes it with a small wire-format reader and
writes a plain npz. Running it twice produces identical bytes.

Usage: python scripts/import_canonical_face.py [--cache DIR] [--out models/]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "@mediapipe/face_mesh"
VERSION = "0.4.1657299874"
TARBALL = f"mediapipe-face_mesh-{VERSION}.tgz"
DATA_FILE = "face_mesh_solution_packed_assets.data"
LOADER_FILE = "face_mesh_solution_packed_assets_loader.js"
PACKED_NAME = "geometry_pipeline_metadata_landmarks.binarypb"
EXPECTED_SIZE = 19376
OUTPUT_NAME = "canonical_face.npz"

# Field numbers of mediapipe.face_geometry.GeometryPipelineMetadata and its messages.
META_CANONICAL_MESH = 1
META_PROCRUSTES_BASIS = 2
META_INPUT_SOURCE = 3
MESH_VERTEX_TYPE = 1
MESH_PRIMITIVE_TYPE = 2
MESH_VERTEX_BUFFER = 3
MESH_INDEX_BUFFER = 4
REF_LANDMARK_ID = 1
REF_WEIGHT = 2
VERTEX_PT = 0  # x, y, z, u, v per vertex
TRIANGLE = 0
FACE_LANDMARK_PIPELINE = 1

# A fixed zip timestamp keeps the npz byte-identical between runs.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

ROOT = Path(__file__).resolve().parent.parent


# --- protobuf wire format -----------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def parse_fields(buf: bytes) -> list[tuple[int, int, object]]:
    """Split one message into (field number, wire type, raw value) in file order.

    Varints come back as int, 32/64-bit values as their raw bytes, length-delimited
    values as bytes (a sub-message, a string or a packed repeated field).
    """
    fields = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire} for field {number}")
        if pos > len(buf):
            raise ValueError(f"field {number} runs past the end of the message")
        fields.append((number, wire, value))
    return fields


def _repeated_floats(fields, number: int) -> list[float]:
    out: list[float] = []
    for num, wire, value in fields:
        if num != number:
            continue
        if wire == 2:  # packed
            out.extend(struct.unpack(f"<{len(value) // 4}f", value))
        elif wire == 5:
            out.append(struct.unpack("<f", value)[0])
        else:
            raise ValueError(f"field {number}: unexpected wire type {wire} for float")
    return out


def _repeated_varints(fields, number: int) -> list[int]:
    out: list[int] = []
    for num, wire, value in fields:
        if num != number:
            continue
        if wire == 2:  # packed
            pos = 0
            while pos < len(value):
                item, pos = _varint(value, pos)
                out.append(item)
        elif wire == 0:
            out.append(value)
        else:
            raise ValueError(f"field {number}: unexpected wire type {wire} for varint")
    return out


def _single_varint(fields, number: int, default: int) -> int:
    values = _repeated_varints(fields, number)
    return values[-1] if values else default


def decode_metadata(blob: bytes) -> dict[str, np.ndarray]:
    """Decode a GeometryPipelineMetadata message into the arrays arfx stores."""
    top = parse_fields(blob)
    source = _single_varint(top, META_INPUT_SOURCE, 0)
    if source not in (0, FACE_LANDMARK_PIPELINE):
        raise ValueError(f"input_source {source} is not FACE_LANDMARK_PIPELINE")
    meshes = [v for n, w, v in top if n == META_CANONICAL_MESH and w == 2]
    if len(meshes) != 1:
        raise ValueError(f"expected one canonical_mesh, found {len(meshes)}")
    mesh = parse_fields(meshes[0])
    if _single_varint(mesh, MESH_VERTEX_TYPE, VERTEX_PT) != VERTEX_PT:
        raise ValueError("canonical_mesh vertex_type is not VERTEX_PT")
    if _single_varint(mesh, MESH_PRIMITIVE_TYPE, TRIANGLE) != TRIANGLE:
        raise ValueError("canonical_mesh primitive_type is not TRIANGLE")
    vertex_buffer = np.asarray(_repeated_floats(mesh, MESH_VERTEX_BUFFER), dtype=np.float32)
    index_buffer = np.asarray(_repeated_varints(mesh, MESH_INDEX_BUFFER), dtype=np.int64)
    if vertex_buffer.size % 5 or index_buffer.size % 3:
        raise ValueError("vertex/index buffer sizes are not multiples of 5/3")
    vertex_buffer = vertex_buffer.reshape(-1, 5)

    ids, weights = [], []
    for num, wire, value in top:
        if num != META_PROCRUSTES_BASIS or wire != 2:
            continue
        ref = parse_fields(value)
        ids.append(_single_varint(ref, REF_LANDMARK_ID, 0))
        w = _repeated_floats(ref, REF_WEIGHT)
        weights.append(w[-1] if w else 0.0)

    return {
        "vertices": np.ascontiguousarray(vertex_buffer[:, :3]),
        "uvs": np.ascontiguousarray(vertex_buffer[:, 3:]),
        "triangles": index_buffer.reshape(-1, 3).astype(np.int32),
        "landmark_ids": np.asarray(ids, dtype=np.int32),
        "landmark_weights": np.asarray(weights, dtype=np.float32),
    }


# --- package access -----------------------------------------------------------------------


def fetch_tarball(cache: Path) -> Path:
    """Return the npm tarball in `cache`, running `npm pack` only when it is missing."""
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / TARBALL
    if tgz.is_file():
        return tgz
    print(f"npm pack {PACKAGE}@{VERSION} -> {cache}")
    subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=cache, check=True,
        stdout=subprocess.DEVNULL,
    )
    if not tgz.is_file():
        raise SystemExit(f"npm pack did not produce {tgz}")
    return tgz


def read_member(tar: tarfile.TarFile, name: str) -> bytes:
    for member in tar.getmembers():
        if member.isfile() and member.name.split("/", 1)[-1] == name:
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()
    raise SystemExit(f"{name} not found in the package")


def packed_range(loader_js: str, name: str) -> tuple[int, int]:
    """Byte range of `name` inside the packed .data file, from the loader's file list."""
    pattern = re.compile(
        r'"filename"\s*:\s*"[^"]*/' + re.escape(name) + r'"\s*,\s*"start"\s*:\s*(\d+)\s*,'
        r'\s*"end"\s*:\s*(\d+)'
    )
    matches = pattern.findall(loader_js)
    if len(matches) != 1:
        raise SystemExit(f"expected one entry for {name} in the loader, found {len(matches)}")
    start, end = (int(v) for v in matches[0])
    return start, end


def extract_metadata(tgz: Path) -> bytes:
    with tarfile.open(tgz, "r:gz") as tar:
        loader = read_member(tar, LOADER_FILE).decode("utf-8")
        data = read_member(tar, DATA_FILE)
    start, end = packed_range(loader, PACKED_NAME)
    blob = data[start:end]
    if len(blob) != EXPECTED_SIZE:
        raise SystemExit(f"{PACKED_NAME} is {len(blob)} bytes, expected {EXPECTED_SIZE}")
    return blob


# --- output -------------------------------------------------------------------------------


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An npz (uncompressed, like np.savez) with fixed member order and timestamps."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return out.getvalue()


def update_manifest(path: Path, entry: dict) -> None:
    """Set this file's entry under "files" (convert_models.py writes the others there)."""
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest.pop(OUTPUT_NAME, None)  # older layout: entry beside "files"
    manifest.setdefault("files", {})[OUTPUT_NAME] = entry
    path.write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "arfx",
                        help="folder for the npm tarball (reused when present)")
    parser.add_argument("--out", type=Path, default=ROOT / "models",
                        help="models folder to write into")
    args = parser.parse_args(argv)

    tgz = fetch_tarball(args.cache)
    blob = extract_metadata(tgz)
    arrays = decode_metadata(blob)
    data = npz_bytes(arrays)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / OUTPUT_NAME).write_bytes(data)
    update_manifest(args.out / "manifest.json", {
        "source_package": PACKAGE,
        "source_version": VERSION,
        "source_path": f"{DATA_FILE}#{PACKED_NAME}",
        "source_sha256": hashlib.sha256(blob).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    })
    v, t = arrays["vertices"], arrays["triangles"]
    print(f"wrote {args.out / OUTPUT_NAME}: {len(v)} vertices, {len(t)} triangles, "
          f"{len(arrays['landmark_ids'])} Procrustes landmarks, "
          f"width {v[:, 0].max() - v[:, 0].min():.2f} cm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
