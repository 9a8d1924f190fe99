"""Conformance of arfx's glTF materials against three.js (a reference renderer, not part of arfx).

Writes a set of small test assets (spheres and quads covering metallic-roughness factors and
textures, normal, occlusion and emissive maps, KHR_texture_transform, alpha modes;
plus any .glb files given), renders each with arfx (fixed studio light, no MSAA, the file's
origin 45 cm in front of the camera, as the canonical face's) and with three.js in headless
Chromium (scripts/threejs_reference.mjs: same camera, same lights, a uniform environment for the
ambient), and reports per asset the mean absolute difference (0-255) inside the object's mask
and the PSNR there, and writes side-by-side sheets (arfx | three.js | difference x4).

    python scripts/compare_threejs.py --modules DIR_WITH_NODE_MODULES [--out DIR] [--gltfpack] [FILE.glb ...]

--gltfpack also compares every asset as gltfpack writes it by default (quantized, with texture
transforms).

Needs node, `three` and `puppeteer-core` in the given node_modules, and Chromium.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

W, H, FOV = 480, 360, 63.0


def assets(folder: Path) -> list[Path]:
    from makers import GltfBuilder, quad, uv_sphere

    folder.mkdir(parents=True, exist_ok=True)
    out = []

    def sphere(name, material=None, extensions_used=(), texture=None):
        b = GltfBuilder()
        positions, normals, uvs, triangles = uv_sphere(0.05, 48, 96)
        fields = dict(material or {})
        if texture is not None:
            fields = texture(b, fields)
        m = b.material(**fields) if fields else None
        b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=m), translation=[0, 0, 0.09])
        if extensions_used:
            b.tree["extensionsUsed"] = list(extensions_used)
        out.append(b.write(folder / f"{name}.glb"))

    rng = np.random.default_rng(1)
    sphere("plastic_red", {"pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.1, 0.1, 1], "metallicFactor": 0.0,
                                                    "roughnessFactor": 0.4}})
    sphere("plastic_rough", {"pbrMetallicRoughness": {"baseColorFactor": [0.2, 0.5, 0.8, 1], "metallicFactor": 0.0,
                                                      "roughnessFactor": 0.9}})
    sphere("gold", {"pbrMetallicRoughness": {"baseColorFactor": [1.0, 0.78, 0.34, 1], "metallicFactor": 1.0,
                                             "roughnessFactor": 0.35}})
    sphere("steel_rough", {"pbrMetallicRoughness": {"baseColorFactor": [0.6, 0.6, 0.62, 1], "metallicFactor": 1.0,
                                                    "roughnessFactor": 0.8}})
    sphere("defaults")  # no material: metallic 1, roughness 1, white

    def checker(b, fields):
        image = np.zeros((64, 64, 4), np.uint8)
        image[..., 3] = 255
        cells = (np.arange(64)[:, None] // 8 + np.arange(64)[None, :] // 8) % 2 == 0
        image[cells] = [230, 180, 40, 255]
        image[~cells] = [40, 90, 200, 255]
        mr = np.zeros((64, 64, 4), np.uint8)
        mr[..., 1] = np.where(cells, 80, 220)
        mr[..., 2] = np.where(cells, 255, 0)
        mr[..., 3] = 255
        fields["pbrMetallicRoughness"] = {
            "baseColorTexture": {"index": b.texture(image, {"magFilter": 9728, "minFilter": 9729})},
            "metallicRoughnessTexture": {"index": b.texture(mr, {"magFilter": 9728, "minFilter": 9729})}}
        return fields

    sphere("textured_mr", texture=checker)

    def bumpy(b, fields):
        normal = np.zeros((128, 128, 4), np.uint8)
        u = np.linspace(0, 8 * np.pi, 128)
        tilt = 0.5 * np.sin(u)[None, :].repeat(128, 0)
        normal[..., 0] = np.round((tilt * 0.5 + 0.5) * 255)
        normal[..., 1] = 128
        normal[..., 2] = np.round((np.sqrt(1 - tilt ** 2) * 0.5 + 0.5) * 255)
        normal[..., 3] = 255
        occlusion = np.full((128, 128, 4), 255, np.uint8)
        occlusion[::16, :, 0] = 40
        fields.update({"pbrMetallicRoughness": {"baseColorFactor": [0.7, 0.7, 0.7, 1], "metallicFactor": 0.0,
                                                "roughnessFactor": 0.5},
                       "normalTexture": {"index": b.texture(normal)},
                       "occlusionTexture": {"index": b.texture(occlusion)}})
        return fields

    sphere("normal_occlusion", texture=bumpy)

    def glow(b, fields):
        image = (rng.integers(0, 255, (16, 16, 4))).astype(np.uint8)
        image[..., 3] = 255
        info = {"index": b.texture(image, {"magFilter": 9728, "minFilter": 9728}),
                # Uniform scale: three.js composes a rotation with a non-uniform scale in the other
                # order than the extension's translation x rotation x scale (measured: those differ).
                "extensions": {"KHR_texture_transform": {"offset": [0.25, 0.1], "scale": [2.0, 2.0],
                                                         "rotation": 0.3}}}
        fields.update({"pbrMetallicRoughness": {"baseColorFactor": [0.1, 0.1, 0.1, 1], "metallicFactor": 0.0},
                       "emissiveFactor": [1.0, 1.0, 1.0], "emissiveTexture": info})
        return fields

    sphere("emissive_transform", extensions_used=["KHR_texture_transform"], texture=glow)
    sphere("unlit", {"pbrMetallicRoughness": {"baseColorFactor": [0.3, 0.7, 0.2, 1]},
                     "extensions": {"KHR_materials_unlit": {}}}, ["KHR_materials_unlit"])
    # (KHR_materials_pbrSpecularGlossiness is left out: three.js no longer reads it.)
    # Alpha: a blended quad over an opaque one; a masked checker.
    b = GltfBuilder()
    positions, normals, uvs, triangles = quad(0.08, 0.08)
    back = b.material(pbrMetallicRoughness={"baseColorFactor": [0.9, 0.9, 0.2, 1], "metallicFactor": 0.0})
    front = b.material(pbrMetallicRoughness={"baseColorFactor": [0.1, 0.3, 0.9, 0.5], "metallicFactor": 0.0,
                                             "roughnessFactor": 0.6}, alphaMode="BLEND")
    b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=back), translation=[0.02, 0.02, 0.08])
    b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=front), translation=[-0.02, -0.02, 0.1])
    out.append(b.write(folder / "blend.glb"))
    b = GltfBuilder()
    image = np.full((8, 8, 4), 255, np.uint8)
    image[::2, :, 3] = 30
    mask = b.material(pbrMetallicRoughness={"baseColorTexture": {"index": b.texture(
        image, {"magFilter": 9728, "minFilter": 9728})}, "metallicFactor": 0.0}, alphaMode="MASK",
        alphaCutoff=0.5, doubleSided=True)
    b.node(mesh=b.mesh(positions, triangles, normals, uvs, material=mask), translation=[0, 0, 0.09],
           rotation=[0, 0.2588, 0, 0.9659])
    out.append(b.write(folder / "mask.glb"))
    return out


def arfx_render(path: Path) -> np.ndarray:
    from arfx.effects.object3d import Object3DEffect
    from arfx.geometry.camera import PerspectiveCamera
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.pipeline import FaceGeometry
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    pose = np.eye(4, dtype=np.float32)
    pose[2, 3] = -45.0
    face = FaceGeometry(pose, (CanonicalFace.load().vertices + pose[:3, 3]).astype(np.float32))
    ctx = create_headless_context()
    renderer = Renderer(ctx, W, H, PerspectiveCamera(FOV), lighting="fixed")
    try:
        effect = Object3DEffect.from_file(path.stem, path, occlusion=frozenset(), units="m")
        return renderer.render(np.zeros((H, W, 3), np.uint8), [face], effect)
    finally:
        renderer.release()
        ctx.release()


def main(argv=None) -> int:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--modules", type=Path, required=True, help="node_modules with three and puppeteer-core")
    parser.add_argument("--out", type=Path, default=Path("compare_threejs"))
    parser.add_argument("--gltfpack", action="store_true",
                        help="also compare each asset after gltfpack (Debian package gltfpack)")
    args = parser.parse_args(argv)
    files = assets(args.out / "assets") + [f.resolve() for f in args.files]
    if args.gltfpack and shutil.which("gltfpack"):
        # gltfpack's default output: quantized attributes (KHR_mesh_quantization) and UVs put
        # back by KHR_texture_transform.
        packed = []
        for path in files:
            target = args.out / "assets" / f"{path.stem}_gltfpack.glb"
            subprocess.run(["gltfpack", "-i", str(path), "-o", str(target)], check=True, capture_output=True)
            packed.append(target)
        files += packed
    reference = args.out / "threejs"
    subprocess.run(["node", str(ROOT / "scripts" / "threejs_reference.mjs"), str(args.modules), str(reference),
                    str(W), str(H), str(FOV), *map(str, files)], check=True)
    rows, sheet = [], []
    for path in files:
        ours = arfx_render(path).astype(np.float64)
        theirs = np.asarray(Image.open(reference / f"{path.stem}.png").convert("RGB"), np.float64)
        mask = (ours.max(axis=2) > 0) | (theirs.max(axis=2) > 0)
        difference = np.abs(ours - theirs)
        mad = float(difference[mask].mean()) if mask.any() else 0.0
        mse = float((difference[mask] ** 2).mean()) if mask.any() else 0.0
        psnr = 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")
        coverage = float(((ours.max(axis=2) > 0) != (theirs.max(axis=2) > 0)).sum() / max(mask.sum(), 1))
        rows.append((path.stem, mad, psnr, coverage))
        ys, xs = np.nonzero(mask)
        if len(xs):
            y0, y1 = max(ys.min() - 8, 0), min(ys.max() + 8, H)
            x0, x1 = max(xs.min() - 8, 0), min(xs.max() + 8, W)
        else:
            y0, y1, x0, x1 = 0, H, 0, W
        crop = lambda image: np.asarray(Image.fromarray(image[y0:y1, x0:x1].astype(np.uint8)).resize((160, 160)))
        sheet.append(np.concatenate([crop(ours), crop(theirs), crop(np.clip(difference * 4, 0, 255))], axis=1))
    args.out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(sheet, axis=0)).save(args.out / "sheet.png")
    print(f"{'asset':28} {'MAD (0-255)':>11} {'PSNR dB':>8} {'mask differs':>12}")
    for name, mad, psnr, coverage in rows:
        print(f"{name:28} {mad:11.2f} {psnr:8.1f} {100 * coverage:11.1f}%")
    print(f"sheet: {args.out / 'sheet.png'} (arfx | three.js | difference x4)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
