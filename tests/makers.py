"""Small test assets made at run time (so no binary test fixtures are committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def box_glb(path: Path, centre=(0.0, 0.0, 9.0), color=(0, 255, 0, 255), node_offset=None,
            size: float = 3.0) -> Path:
    """A small box GLB in canonical face space (in front of the nose by default).

    centre, node_offset and size are in cm; the file is written in metres (glTF's unit).
    """
    import trimesh
    from trimesh.visual.material import PBRMaterial

    box = trimesh.creation.box(extents=(size, size, size))
    # metallicFactor 0: glTF's default is 1 (a metal), which would make the test box a mirror.
    box.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(baseColorFactor=list(color), metallicFactor=0.0,
                                                                    roughnessFactor=0.5))
    scene = trimesh.Scene()
    transform = np.eye(4)
    transform[:3, 3] = centre if node_offset is None else node_offset
    if node_offset is not None:
        box.apply_translation(np.asarray(centre) - np.asarray(node_offset))
    box.apply_scale(0.01)
    transform[:3, 3] *= 0.01
    scene.add_geometry(box, node_name="box", geom_name="box", transform=transform)
    path.write_bytes(scene.export(file_type="glb", include_normals=True))
    return path


# -- glTF files written with numpy (no trimesh): materials, animations, skins ----------------

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
             joints=None, weights=None, tangents=None, extra: dict | None = None) -> int:
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
        return self._add("meshes", {"primitives": [primitive]})

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


def uv_sphere(radius: float, rows: int = 24, columns: int = 48):
    """(positions, normals, uvs, triangles) of a sphere; u around (from +x towards -z), v down."""
    v = np.linspace(0.0, 1.0, rows + 1)
    u = np.linspace(0.0, 1.0, columns + 1)
    vv, uu = np.meshgrid(v, u, indexing="ij")
    theta, phi = vv * np.pi, uu * 2.0 * np.pi
    normals = np.stack([np.sin(theta) * np.cos(phi), np.cos(theta), -np.sin(theta) * np.sin(phi)], axis=-1)
    normals = normals.reshape(-1, 3)
    uvs = np.stack([uu, vv], axis=-1).reshape(-1, 2)
    triangles = []
    for r in range(rows):
        for c in range(columns):
            a, b = r * (columns + 1) + c, (r + 1) * (columns + 1) + c
            triangles += [(a, b, a + 1), (a + 1, b, b + 1)]
    return normals * radius, normals, uvs, np.asarray(triangles, np.uint32)


def quad(width: float, height: float, z: float = 0.0):
    """(positions, normals, uvs, triangles) of a rectangle facing +z, u along +x, v down."""
    w, h = width / 2.0, height / 2.0
    positions = np.array([[-w, h, z], [w, h, z], [-w, -h, z], [w, -h, z]], np.float32)
    normals = np.tile([0.0, 0.0, 1.0], (4, 1))
    uvs = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
    return positions, normals, uvs, np.array([[0, 2, 1], [1, 2, 3]], np.uint32)
