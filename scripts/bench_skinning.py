"""Skinning on the CPU (arfx.render.gltf_anim, numpy, then a vertex upload) against skinning in a
vertex shader (joint matrices as uniforms, 4 joints a vertex), same mesh, same frame size, same
run: milliseconds per frame for the deform + upload + draw (+ glFinish) of one skinned mesh.

    python scripts/bench_skinning.py [--vertices 10000] [--frames 60] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

VERTEX_SKINNED = """
#version 330 core
in vec3 in_position; in vec3 in_normal; in vec4 in_joints; in vec4 in_weights;
uniform mat4 u_joints[64]; uniform mat4 u_mvp;
out vec3 v_normal;
void main() {
    mat4 m = in_weights.x * u_joints[int(in_joints.x)] + in_weights.y * u_joints[int(in_joints.y)]
           + in_weights.z * u_joints[int(in_joints.z)] + in_weights.w * u_joints[int(in_joints.w)];
    v_normal = mat3(m) * in_normal;
    gl_Position = u_mvp * (m * vec4(in_position, 1.0));
}
"""
VERTEX_PLAIN = """
#version 330 core
in vec3 in_position; in vec3 in_normal;
uniform mat4 u_mvp;
out vec3 v_normal;
void main() { v_normal = in_normal; gl_Position = u_mvp * vec4(in_position, 1.0); }
"""
FRAGMENT = """
#version 330 core
in vec3 v_normal; out vec4 f_color;
void main() { f_color = vec4(normalize(v_normal) * 0.5 + 0.5, 1.0); }
"""


def skinned_model(vertices: int):
    from makers import GltfBuilder, uv_sphere

    from arfx.render.gltf import load_model

    rows = max(int(np.sqrt(vertices / 2)), 4)
    positions, normals, uvs, triangles = uv_sphere(0.05, rows, 2 * rows)
    share = np.clip((positions[:, 0] + 0.01) / 0.02, 0, 1)
    weights = np.stack([1 - share, share, 0 * share, 0 * share], 1)
    joints = np.tile([0, 1, 0, 0], (len(positions), 1))
    b = GltfBuilder()
    mesh = b.mesh(positions, triangles, normals, uvs, joints=joints, weights=weights)
    root = b.node(children=[1])
    elbow = b.node()
    skin = b.skin([root, elbow], np.stack([np.eye(4), np.eye(4)]))
    b.node(mesh=mesh, skin=skin)
    half = np.sin(np.pi / 4)
    b.animation("bend", [(elbow, "rotation", [0, 1], [[0, 0, 0, 1], [0, 0, half, half]], "LINEAR")])
    with tempfile.TemporaryDirectory() as folder:
        return load_model(b.write(Path(folder) / "skinned.glb"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vertices", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))

    from arfx.render.context import create_headless_context
    from arfx.render.gltf_anim import Player, deform

    model = skinned_model(args.vertices)
    mesh = model.meshes[0]
    rest = mesh.rest_vertices
    ctx = create_headless_context()
    fbo = ctx.framebuffer(color_attachments=[ctx.renderbuffer((width, height), 4)],
                          depth_attachment=ctx.depth_renderbuffer((width, height)))
    fbo.use()
    ctx.enable(ctx.DEPTH_TEST)
    mvp = np.eye(4, dtype=np.float32)
    mvp[0, 0] = mvp[1, 1] = mvp[2, 2] = 8.0  # asset cm -> roughly a third of the frame
    indices = ctx.buffer(mesh.indices.tobytes())
    player = Player(model)

    plain = ctx.program(vertex_shader=VERTEX_PLAIN, fragment_shader=FRAGMENT)
    cpu_vbo = ctx.buffer(rest[:, :6].astype(np.float32).tobytes(), dynamic=True)
    cpu_vao = ctx.vertex_array(plain, [(cpu_vbo, "3f 3f", "in_position", "in_normal")], index_buffer=indices,
                               index_element_size=4)
    plain["u_mvp"].write(mvp.T.tobytes())

    skinned = ctx.program(vertex_shader=VERTEX_SKINNED, fragment_shader=FRAGMENT)
    attributes = np.concatenate([rest[:, :6], mesh.joints.astype(np.float32), mesh.weights.astype(np.float32)], 1)
    gpu_vbo = ctx.buffer(np.ascontiguousarray(attributes, np.float32).tobytes())
    gpu_vao = ctx.vertex_array(skinned, [(gpu_vbo, "3f 3f 4f 4f", "in_position", "in_normal", "in_joints",
                                          "in_weights")], index_buffer=indices, index_element_size=4)
    skinned["u_mvp"].write(mvp.T.tobytes())
    skin = model.skins[mesh.skin]

    def cpu(i):
        _, vertices = deform(model, mesh, player.pose(i / args.frames))
        cpu_vbo.write(np.ascontiguousarray(vertices[:, :6], np.float32).tobytes())
        cpu_vao.render()

    def gpu(i):
        pose = player.pose(i / args.frames)
        joints = np.stack([pose.world[j] for j in skin.joints]) @ skin.inverse_bind
        matrices = np.zeros((64, 4, 4), np.float32)
        matrices[: len(joints)] = joints
        skinned["u_joints"].write(np.ascontiguousarray(matrices.transpose(0, 2, 1)).tobytes())
        gpu_vao.render()

    results = {}
    for _ in range(2):  # interleaved twice: the machine is shared
        for name, step in (("cpu (numpy) + upload", cpu), ("vertex shader", gpu)):
            times = []
            for i in range(args.frames):
                t0 = time.perf_counter()
                fbo.clear(0, 0, 0, 1)
                step(i)
                ctx.finish()
                times.append(time.perf_counter() - t0)
            results.setdefault(name, []).append(1000 * float(np.median(times)))
    print(f"{ctx.info['GL_RENDERER']}, {width}x{height}, {len(rest)} vertices, {len(mesh.indices)} triangles")
    for name, values in results.items():
        print(f"{name:22} median {min(values):6.2f} ms a frame (best of 2 runs)")
    ctx.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
