#!/usr/bin/env python3
"""Milliseconds per rendered frame (upload, occluder, effect, readback) on this machine's GL.

    python scripts/bench_render.py [--size 1280x720] [--frames 100] [--faces 1] [--samples 0]
        [--effects none,glasses,...] [--lighting frame|fixed] [--occlusion face,head] [--no-contact]
        [--baseline DIR [--rounds 7] [--markdown]]

Uses the astronaut scaled to the frame size as the camera image and a face of canonical
shape under a fixed pose (so no tracker time is included). Prints one line per effect.
--lighting, --occlusion (3D objects' occluders) and --no-contact (no soft contact shadows)
take the look's parts away one at a time, to see what each costs.

--baseline DIR compares with another checkout of arfx (e.g. `git worktree add /tmp/pre 9b4606e`):
each round runs the baseline's glasses, then this checkout's effects, each in a fresh
process, the order swapped every round so that a machine getting busier or quieter weighs on
both alike; each effect's time is given as a ratio to this checkout's glasses and to the
baseline's glasses of the same round (the median over rounds). --markdown prints that table
for the README. The time compared is CPU time per frame (all the process's threads,
llvmpipe's included): on a shared machine it moves far less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent


def face_at(x: float, yaw: float):
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.pipeline import FaceGeometry, rotation_from_euler

    canonical = CanonicalFace.load()
    pose = np.eye(4)
    pose[:3, :3] = rotation_from_euler(yaw, 5.0, 0.0)
    pose[:3, 3] = (x, 0.0, -50.0)
    mesh = canonical.vertices @ pose[:3, :3].T + pose[:3, 3]
    return FaceGeometry(pose.astype(np.float32), mesh.astype(np.float32))


def measure(args, root: Path) -> tuple[str, dict[str, dict[str, float]]]:
    """Render each effect with the arfx found in `root`; (header, effect -> ms figures)."""
    sys.path.insert(0, str(root))
    from arfx.effects.registry import EffectRegistry
    from arfx.render.context import create_headless_context
    from arfx.render.renderer import Renderer

    if args.no_contact:
        import arfx.render.contact as contact

        contact.object_field = lambda effect: None
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PIL import Image
    from skimage import data

    frame = np.asarray(Image.fromarray(data.astronaut()).resize((width, height)), dtype=np.uint8)
    faces = [face_at(-12.0 + 24.0 * i / max(args.faces - 1, 1) if args.faces > 1 else 0.0, 15.0)
             for i in range(args.faces)]
    ctx = create_headless_context()
    header = (f"{ctx.info['GL_RENDERER']}, {width}x{height}, {args.faces} face(s), "
              f"MSAA {args.samples or 'off'}, {args.frames} frames, lighting {args.lighting}, "
              f"occlusion {args.occlusion or 'default'}, contact {'off' if args.no_contact else 'on'}")
    # An older checkout's Renderer may predate the lighting option: pass it only when asked.
    options = {} if args.lighting == "frame" else {"lighting": args.lighting}
    renderer = Renderer(ctx, width, height, samples=args.samples, **options)
    registry = EffectRegistry(include_user=False)
    results = {}
    for name in args.effects.split(","):
        effect = None if name == "none" else registry.load(name)
        # --occlusion reaches only this checkout (child() passes it to no other)
        if args.occlusion is not None and getattr(effect, "kind", "") == "object3d":
            from dataclasses import replace

            effect = replace(effect, occlusion=frozenset(filter(None, args.occlusion.split(","))))
        for _ in range(5):
            renderer.render(frame, faces, effect)
        times, cpu = [], []
        for _ in range(args.frames):
            start, start_cpu = time.perf_counter(), time.process_time()
            renderer.render(frame, faces, effect)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        times.sort()
        # CPU time of all the process's threads (llvmpipe's included): the work a frame takes,
        # which other load on a shared machine changes far less than the wall time.
        results[name] = {"median": statistics.median(times) * 1000,
                         "p90": times[int(len(times) * 0.9)] * 1000,
                         "cpu": statistics.mean(cpu) * 1000}
    renderer.release()
    ctx.release()
    return header, results


def child(root: Path, args, effects: str) -> tuple[str, dict]:
    """Run `measure` in a fresh process with the arfx of `root` (old and new cannot share one)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(root), "--effects", effects,
               "--size", args.size, "--frames", str(args.frames), "--faces", str(args.faces),
               "--samples", str(args.samples), "--lighting", args.lighting]
    if root.resolve() == HERE:
        command += ["--occlusion", args.occlusion] if args.occlusion is not None else []
        command += ["--no-contact"] if args.no_contact else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench_render: the run in {root} failed:\n{done.stderr.strip()}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["header"], out["results"]


def compare(args) -> int:
    baseline = Path(args.baseline).resolve()
    if not (baseline / "arfx" / "render" / "renderer.py").is_file():
        raise SystemExit(f"bench_render: {baseline} is not an arfx checkout; make one with "
                         "`git worktree add /tmp/pre <commit>`")
    names = args.effects.split(",")
    if "glasses" not in names:
        names.insert(0, "glasses")
    rounds: list[tuple[dict, dict]] = []
    header = ""
    for index in range(args.rounds):
        runs = [(baseline, "glasses"), (HERE, ",".join(names))]
        got = {}
        for root, effects in (runs if index % 2 == 0 else runs[::-1]):
            header, got[root] = child(root, args, effects)
        rounds.append((got[baseline], got[HERE]))
        print(f"round {index + 1}/{args.rounds}: baseline glasses {got[baseline]['glasses']['cpu']:.2f} ms, "
              f"glasses {got[HERE]['glasses']['cpu']:.2f} ms cpu", file=sys.stderr)
    print(f"{header}, {args.rounds} rounds against {baseline}")

    def median(values) -> float:
        return statistics.median(values)

    base_cpu = median(b["glasses"]["cpu"] for b, _ in rounds)
    base_wall = median(b["glasses"]["median"] for b, _ in rounds)
    rows = []
    for name in names:
        cpu = median(n[name]["cpu"] for _, n in rounds)
        wall = median(n[name]["median"] for _, n in rounds)
        vs_glasses = median(n[name]["cpu"] / n["glasses"]["cpu"] for _, n in rounds)
        vs_base = median(n[name]["cpu"] / b["glasses"]["cpu"] for b, n in rounds)
        rows.append((name, cpu, wall, vs_glasses, vs_base))
    if args.markdown:
        print(f"| effect | CPU ms / frame | wall ms (median) | x glasses | x baseline glasses "
              f"({base_cpu:.2f} ms) | within {args.budget:g}x |")
        print("|---|---:|---:|---:|---:|:---:|")
        for name, cpu, wall, vs_glasses, vs_base in rows:
            print(f"| {name} | {cpu:.2f} | {wall:.2f} | {vs_glasses:.2f} | {vs_base:.2f} | "
                  f"{'yes' if vs_base <= args.budget else 'no'} |")
    else:
        print(f"{'baseline':10s} cpu {base_cpu:6.2f} ms   median {base_wall:6.2f} ms   (glasses)")
        for name, cpu, wall, vs_glasses, vs_base in rows:
            print(f"{name:10s} cpu {cpu:6.2f} ms   median {wall:6.2f} ms   x glasses {vs_glasses:5.2f}   "
                  f"x baseline glasses {vs_base:5.2f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--faces", type=int, default=1)
    parser.add_argument("--samples", type=int, default=0, help="MSAA samples (0: off)")
    parser.add_argument("--effects", default="none,glasses,facepaint,mesh,axis,landmarks")
    parser.add_argument("--lighting", default="frame", choices=("frame", "fixed"))
    parser.add_argument("--occlusion", default=None, help="occluders of 3D objects, e.g. face (default: the kind's)")
    parser.add_argument("--no-contact", action="store_true", help="no soft contact shadows")
    parser.add_argument("--baseline", default=None, help="another arfx checkout to compare with")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds with --baseline")
    parser.add_argument("--budget", type=float, default=1.5, help="ratio to the baseline's glasses allowed")
    parser.add_argument("--markdown", action="store_true", help="with --baseline: a README table")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.frames < 1 or args.rounds < 1:
        raise SystemExit("bench_render: --frames and --rounds must be at least 1")
    if args.child is not None:
        header, results = measure(args, Path(args.child))
        print(json.dumps({"header": header, "results": results}))
        return 0
    if args.baseline is not None:
        return compare(args)
    header, results = measure(args, HERE)
    print(header)
    for name, r in results.items():
        print(f"{name:10s} median {r['median']:6.2f} ms   p90 {r['p90']:6.2f} ms   cpu {r['cpu']:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
