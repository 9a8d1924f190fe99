#!/usr/bin/env python3
"""One-shot GPU check: does arfx's GPU path run on this machine, and how fast, against the CPU
in the same run. Prints a short text report (and writes JSON with --json, after every section,
so a run cut short still leaves what it found).

    timeout 600 python scripts/gpu_check.py [--runs 50] [--size 1280x720] [--json report.json]
        [--bench] [--require-cuda] [--require-gpu-gl] [--timeout 300]

Sections:
  onnxruntime  installed build(s), providers, whether CUDA runs (and why not)
  models       per-model median latency, CPU vs CUDA, and the largest output difference
  tracker      FaceTracker on the astronaut image, CPU vs CUDA: ms per frame, landmark difference
  gl           every EGL device: vendor/renderer, glasses frame ms, frame checksum and its
               difference from the software (llvmpipe) device's frame
  bench        (--bench) `arfx bench --json` on the default 720p clip

It runs on machines without a GPU too (reporting why CUDA or GPU rendering is not there);
the exit status is 0 unless --require-cuda / --require-gpu-gl ask for what is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FACE_MODELS = ("face_detection_short_range.onnx", "face_detection_full_range.onnx",
               "face_landmark.onnx", "face_landmark_with_attention.onnx")


class OutOfTime(Exception):
    pass


def _alarm(signum, frame):
    raise OutOfTime("the --timeout ran out")


def _error(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def _median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 3)


def check_environment() -> dict:
    from arfx.doctor import nvidia_gpu

    return {"python": platform.python_version(), "platform": platform.platform(),
            "nvidia_smi": nvidia_gpu(), "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "ARFX_PROVIDER": os.environ.get("ARFX_PROVIDER"),
            "GLCONTEXT_DEVICE_INDEX": os.environ.get("GLCONTEXT_DEVICE_INDEX")}


def check_onnxruntime() -> dict:
    from arfx.errors import ModelError
    from arfx.tracking import models

    report: dict = {"installed": models.installed_builds()}
    ort = models.onnxruntime()
    report.update(imported=models.build_info(ort), providers=ort.get_available_providers())
    try:
        start = time.perf_counter()
        models.create_session(models.FACE_LANDMARK, provider="cuda")
        report["cuda"] = {"runs": True, "first_session_s": round(time.perf_counter() - start, 3)}
    except ModelError as error:
        report["cuda"] = {"runs": False, "reason": models.cuda_unavailable_reason() or str(error)}
    return report


def _feeds(session, rng):
    import numpy as np

    feeds = {}
    for value in session.get_inputs():
        shape = [dim if isinstance(dim, int) and dim > 0 else 1 for dim in value.shape]
        feeds[value.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return feeds


def _time_session(session, feeds, runs: int) -> tuple[float, list]:
    for _ in range(3):
        session.run(None, feeds)
    times = []
    outputs = None
    for _ in range(runs):
        start = time.perf_counter()
        outputs = session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return _median_ms(times), outputs


def check_models(runs: int, cuda: bool) -> dict:
    import numpy as np

    from arfx.tracking import models

    report = {}
    for name in FACE_MODELS:
        rng = np.random.default_rng(0)
        cpu = models.create_session(name, provider="cpu")
        feeds = _feeds(cpu, rng)
        entry: dict = {}
        entry["cpu_ms"], cpu_out = _time_session(cpu, feeds, runs)
        if cuda:
            gpu = models.create_session(name, provider="cuda")
            entry["cuda_ms"], gpu_out = _time_session(gpu, feeds, runs)
            entry["speedup"] = round(entry["cpu_ms"] / max(entry["cuda_ms"], 1e-6), 2)
            entry["max_abs_diff"] = float(max(np.max(np.abs(a - b)) for a, b in zip(cpu_out, gpu_out)))
        report[name] = entry
    return report


def _astronaut():
    import numpy as np
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def check_tracker(runs: int, cuda: bool) -> dict:
    import numpy as np

    from arfx.tracking import FaceTracker

    rgb = _astronaut()
    report: dict = {"image": f"astronaut {rgb.shape[1]}x{rgb.shape[0]}, static mode"}
    landmarks = {}
    saved = os.environ.get("ARFX_PROVIDER")
    try:
        for provider in ("cpu", "cuda") if cuda else ("cpu",):
            os.environ["ARFX_PROVIDER"] = provider   # read when the tracker opens its sessions
            with FaceTracker(max_num_faces=1, static_image_mode=True) as tracker:
                for _ in range(3):
                    faces = tracker.process(rgb)
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    faces = tracker.process(rgb)
                    times.append(time.perf_counter() - start)
            report[f"{provider}_ms_per_frame"] = _median_ms(times)
            report[f"{provider}_faces"] = len(faces)
            if faces:
                landmarks[provider] = faces[0].landmarks[:, :2]
    finally:
        if saved is None:
            os.environ.pop("ARFX_PROVIDER", None)
        else:
            os.environ["ARFX_PROVIDER"] = saved
    if len(landmarks) == 2:
        report["max_landmark_diff_px"] = round(float(np.max(np.abs(landmarks["cpu"] - landmarks["cuda"]))), 4)
    return report


def _render_frames(ctx, width: int, height: int, frames: int):
    """The glasses effect on the astronaut, one canonical face under a fixed pose."""
    import numpy as np
    from PIL import Image

    from arfx.effects.registry import EffectRegistry
    from arfx.geometry.canonical import CanonicalFace
    from arfx.geometry.pipeline import FaceGeometry, rotation_from_euler
    from arfx.render.renderer import Renderer

    rgb = np.asarray(Image.fromarray(_astronaut()).resize((width, height)), dtype=np.uint8)
    canonical = CanonicalFace.load()
    pose = np.eye(4)
    pose[:3, :3] = rotation_from_euler(15.0, 5.0, 0.0)
    pose[:3, 3] = (0.0, 0.0, -50.0)
    mesh = canonical.vertices @ pose[:3, :3].T + pose[:3, 3]
    faces = [FaceGeometry(pose.astype(np.float32), mesh.astype(np.float32))]
    renderer = Renderer(ctx, width, height)
    try:
        effect = EffectRegistry(include_user=False).load("glasses")
        out = renderer.render(rgb, faces, effect)
        times = []
        for _ in range(frames):
            start = time.perf_counter()
            out = renderer.render(rgb, faces, effect)
            times.append(time.perf_counter() - start)
        return out, _median_ms(times)
    finally:
        renderer.release()


def check_gl(size: str, frames: int) -> dict:
    import moderngl
    import numpy as np

    from arfx.doctor import _is_software, egl_devices

    width, height = (int(v) for v in size.lower().split("x"))
    devices = egl_devices()
    images = {}
    chosen = os.environ.get("GLCONTEXT_DEVICE_INDEX")
    for device in devices:
        if "error" in device:
            continue
        try:
            # glcontext lets GLCONTEXT_DEVICE_INDEX override device_index
            os.environ["GLCONTEXT_DEVICE_INDEX"] = str(device["index"])
            try:
                ctx = moderngl.create_standalone_context(backend="egl", require=330)
            finally:
                os.environ.pop("GLCONTEXT_DEVICE_INDEX")
                if chosen is not None:
                    os.environ["GLCONTEXT_DEVICE_INDEX"] = chosen
            try:
                image, ms = _render_frames(ctx, width, height, frames)
            finally:
                ctx.release()
            device.update(glasses_ms=ms, sha256=hashlib.sha256(image.tobytes()).hexdigest()[:16],
                          software=_is_software(device["GL_RENDERER"]))
            images[device["index"]] = image
        except OutOfTime:
            raise
        except Exception as error:  # a device that cannot render is a finding
            device["render_error"] = _error(error)
    reference = next((d["index"] for d in devices if d.get("software") and d["index"] in images), None)
    for device in devices:
        index = device["index"]
        if reference is None or index == reference or index not in images:
            continue
        diff = np.abs(images[index].astype(np.int16) - images[reference].astype(np.int16))
        device["vs_software"] = {"identical": bool(not diff.any()), "mean_abs_diff": round(float(diff.mean()), 4),
                                 "pixels_over_8": round(float((diff.max(axis=2) > 8).mean()), 5)}
    default = int(os.environ.get("GLCONTEXT_DEVICE_INDEX") or 0)
    return {"size": f"{width}x{height}", "devices": devices, "arfx_uses_device": default,
            "gpu_devices": [d["index"] for d in devices if d.get("GL_RENDERER") and not _is_software(d["GL_RENDERER"])]}


def check_bench(frames: int, timeout: float) -> dict:
    command = [sys.executable, "-m", "arfx", "bench", "--json", "--frames", str(frames)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout)


def _summary(report: dict) -> list[str]:
    lines = []
    ort = report.get("onnxruntime", {})
    if "imported" in ort:
        info = ort["imported"]
        lines.append(f"ONNX Runtime: {info['package']} {info['version']}"
                     + (f" (CUDA {info['cuda']})" if info["cuda"] else " (CPU build)")
                     + f"; installed: {', '.join(ort['installed']) or 'none'}")
        lines.append(f"providers: {', '.join(ort['providers'])}")
        cuda = ort.get("cuda", {})
        lines.append("CUDA: runs" if cuda.get("runs") else f"CUDA: unavailable: {cuda.get('reason')}")
    for name, entry in report.get("models", {}).items():
        if isinstance(entry, dict) and "cpu_ms" in entry:
            line = f"  {name}: CPU {entry['cpu_ms']} ms"
            if "cuda_ms" in entry:
                line += f", CUDA {entry['cuda_ms']} ms (x{entry['speedup']}), max diff {entry['max_abs_diff']:.2e}"
            lines.append(line)
    tracker = report.get("tracker", {})
    if "cpu_ms_per_frame" in tracker:
        line = f"tracker ({tracker['image']}): CPU {tracker['cpu_ms_per_frame']} ms/frame"
        if "cuda_ms_per_frame" in tracker:
            line += (f", CUDA {tracker['cuda_ms_per_frame']} ms/frame, "
                     f"landmarks differ by <= {tracker.get('max_landmark_diff_px')} px")
        lines.append(line)
    gl = report.get("gl", {})
    for device in gl.get("devices", []):
        if "error" in device:
            lines.append(f"EGL device {device['index']}: {device['error']}")
            continue
        line = (f"EGL device {device['index']}: {device.get('GL_RENDERER')} ({device.get('GL_VENDOR')}, "
                f"{device.get('GL_VERSION')})")
        if "glasses_ms" in device:
            line += f": glasses {gl['size']} {device['glasses_ms']} ms, frame sha256 {device['sha256']}"
        if "vs_software" in device:
            versus = device["vs_software"]
            line += (" (= software frame)" if versus["identical"] else
                     f" (vs software: mean diff {versus['mean_abs_diff']}, {versus['pixels_over_8'] * 100:.2f}% px > 8)")
        if "render_error" in device:
            line += f": render failed: {device['render_error']}"
        lines.append(line)
    if gl.get("devices"):
        lines.append(f"arfx renders on EGL device {gl['arfx_uses_device']}; GPU devices: {gl['gpu_devices'] or 'none'}")
    bench = report.get("bench", {})
    if "end_to_end_fps" in bench:
        stages = ", ".join(f"{k} {v}" for k, v in bench.get("stages_median_ms", {}).items())
        lines.append(f"arfx bench ({bench.get('input')}): {bench['end_to_end_fps']} fps; median ms: {stages}")
    elif "error" in bench:
        lines.append(f"arfx bench: {bench['error']}")
    for key, value in report.get("errors", {}).items():
        lines.append(f"{key}: ERROR {value}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="timed runs per model and tracker (default 50)")
    parser.add_argument("--frames", type=int, default=20, help="timed frames per EGL device (default 20)")
    parser.add_argument("--size", default="1280x720", help="rendered frame size (default 1280x720)")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON here")
    parser.add_argument("--bench", action="store_true", help="also run `arfx bench --json` (720p clip)")
    parser.add_argument("--require-cuda", action="store_true", help="exit 1 unless CUDA runs")
    parser.add_argument("--require-gpu-gl", action="store_true", help="exit 1 unless an EGL device is a GPU")
    parser.add_argument("--timeout", type=float, default=300, help="stop after this many seconds (default 300)")
    args = parser.parse_args()

    report: dict = {"errors": {}}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(max(1, int(args.timeout)))

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")

    def section(name: str, run) -> None:
        start = time.perf_counter()
        try:
            report[name] = run()
        except OutOfTime as error:
            report["errors"][name] = str(error)
            raise
        except Exception as error:  # each section reports its own failure; the others still run
            report["errors"][name] = _error(error)
        report.setdefault("seconds", {})[name] = round(time.perf_counter() - start, 2)
        save()

    try:
        section("environment", check_environment)
        section("onnxruntime", check_onnxruntime)
        cuda = bool(report.get("onnxruntime", {}).get("cuda", {}).get("runs"))
        section("models", lambda: check_models(args.runs, cuda))
        section("tracker", lambda: check_tracker(args.runs, cuda))
        section("gl", lambda: check_gl(args.size, args.frames))
        if args.bench:
            section("bench", lambda: check_bench(60, max(10.0, args.timeout / 2)))
    except OutOfTime:
        pass
    finally:
        signal.alarm(0)
    if not report["errors"]:
        del report["errors"]
    save()
    print("\n".join(_summary(report)))
    cuda_runs = bool(report.get("onnxruntime", {}).get("cuda", {}).get("runs"))
    gpu_gl = bool(report.get("gl", {}).get("gpu_devices"))
    missing = [what for what, asked, there in (("CUDA", args.require_cuda, cuda_runs),
                                                ("GPU rendering", args.require_gpu_gl, gpu_gl)) if asked and not there]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
