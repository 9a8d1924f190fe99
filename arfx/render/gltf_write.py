"""Writing glTF 2.0 binary files (.glb) from numpy arrays: used by the asset scripts (e.g. the
built-in avatar, which needs morph targets that trimesh cannot export) and by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class GltfBuilder:
    """A glTF 2.0 file assembled from numpy arrays: `accessor`, `image`, `texture`, `material`,
    `mesh`, `node`, `skin`, `animation`, then `write` (a .glb). Units are the file's (metres)."""

    def __init__(self):
        self.tree: dict = {"asset": {"version": "2.0"}, "buffers": [], "bufferViews": [],
                           "accessors": []}
        self.blob = bytearray()

    def _add(self, key: str, item: dict) -> int:
        self.tree.setdefault(key, []).append(item)
        return len(self.tree[key]) - 1

    def view(self, data: bytes) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        start = len(self.blob)
        self.blob += data
        return self._add("bufferViews", {"buffer": 0, "byteOffset": start, "byteLength": len(data)})

    def accessor(self, array, component: int | None = None, normalized: bool = False, minmax: bool = False) -> int:
        array = np.asarray(array)
        if array.ndim == 1:
            array = array[:, None]
        kinds = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
        dtypes = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8, 5122: np.int16,
                  5120: np.int8}
        component = component or 5126
        data = np.ascontiguousarray(array, dtype=dtypes[component])
        columns = data.shape[1]
        if component in (5121, 5120, 5123, 5122) and columns * data.itemsize % 4:
            # Vertex attributes keep 4-byte aligned elements: pad each row.
            pad = (-columns * data.itemsize) % 4 // data.itemsize
            padded = np.zeros((len(data), columns + pad), data.dtype)
            padded[:, :columns] = data
            view = self.view(padded.tobytes())
            self.tree["bufferViews"][view]["byteStride"] = padded.shape[1] * data.itemsize
        else:
            view = self.view(data.tobytes())
        item = {"bufferView": view, "componentType": component, "count": len(data), "type": kinds[columns]}
        if normalized:
            item["normalized"] = True
        if minmax:
            item["min"] = [float(v) for v in array.min(axis=0)]
            item["max"] = [float(v) for v in array.max(axis=0)]
        return self._add("accessors", item)

    def image(self, rgba) -> int:
        import io

        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(np.asarray(rgba, np.uint8)).save(out, format="PNG")
        return self._add("images", {"bufferView": self.view(out.getvalue()), "mimeType": "image/png"})

    def texture(self, rgba, sampler: dict | None = None) -> int:
        item = {"source": self.image(rgba)}
        if sampler is not None:
            item["sampler"] = self._add("samplers", sampler)
        return self._add("textures", item)

    def material(self, **fields) -> int:
        return self._add("materials", fields)

    def mesh(self, positions, indices, normals=None, uvs=None, colors=None, material=None, targets=None,
             joints=None, weights=None, tangents=None, extra: dict | None = None,
             target_names=None) -> int:
        attributes = {"POSITION": self.accessor(positions, minmax=True)}
        for name, values in (("NORMAL", normals), ("TEXCOORD_0", uvs), ("COLOR_0", colors),
                             ("TANGENT", tangents), ("WEIGHTS_0", weights)):
            if values is not None:
                attributes[name] = self.accessor(values)
        if joints is not None:
            attributes["JOINTS_0"] = self.accessor(joints, component=5123)
        attributes.update(extra or {})
        primitive = {"attributes": attributes, "indices": self.accessor(np.asarray(indices).reshape(-1),
                                                                        component=5125)}
        if material is not None:
            primitive["material"] = material
        if targets:
            primitive["targets"] = [{"POSITION": self.accessor(t)} for t in targets]
        mesh = {"primitives": [primitive]}
        if target_names:  # the convention exporters use for morph target names
            mesh["extras"] = {"targetNames": list(target_names)}
        return self._add("meshes", mesh)

    def node(self, **fields) -> int:
        return self._add("nodes", fields)

    def skin(self, joints, inverse_bind) -> int:
        matrices = np.asarray(inverse_bind, np.float32).transpose(0, 2, 1).reshape(-1, 16)  # column-major
        return self._add("skins", {"joints": list(joints), "inverseBindMatrices": self.accessor(matrices)})

    def animation(self, name: str, channels) -> int:
        """channels: (node, path, times, values, interpolation)."""
        samplers, targets = [], []
        for node, path, times, values, interpolation in channels:
            values = np.asarray(values, np.float32)
            if path == "weights":
                values = values.reshape(-1, 1)
            samplers.append({"input": self.accessor(np.asarray(times, np.float32), minmax=True),
                             "output": self.accessor(values), "interpolation": interpolation})
            targets.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})
        return self._add("animations", {"name": name, "samplers": samplers, "channels": targets})

    def write(self, path: Path, roots=None) -> Path:
        import json
        import struct

        nodes = self.tree.get("nodes", [])
        if roots is None:
            children = {c for node in nodes for c in node.get("children", [])}
            roots = [i for i in range(len(nodes)) if i not in children]
        self.tree["scenes"] = [{"nodes": list(roots)}]
        self.tree["scene"] = 0
        while len(self.blob) % 4:
            self.blob.append(0)
        self.tree["buffers"] = [{"byteLength": len(self.blob)}]
        text = json.dumps(self.tree).encode()
        text += b" " * (-len(text) % 4)
        body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(self.blob), 0x004E4942) \
            + bytes(self.blob)
        path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)
        return path
