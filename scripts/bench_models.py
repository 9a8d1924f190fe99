"""Median inference time of each model in models/ (ONNX Runtime) next to the TFLite original.

    python scripts/bench_models.py [--threads 1] [--runs 300] [--cache DIR]

The TFLite column runs MediaPipe's original file through ai-edge-litert (XNNPACK) when the
wheel is cached; the attention model needs MediaPipe's custom ops, which that runtime lacks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_models  # noqa: E402
from arfx.tracking import models  # noqa: E402


def median_ms(run, runs: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def bench_onnx(name: str, x: np.ndarray, threads: int, runs: int) -> float:
    session = models.create_session(name, threads=threads)
    feed = {session.get_inputs()[0].name: x}
    return median_ms(lambda: session.run(None, feed), runs)


def bench_tflite(data: bytes, x: np.ndarray, threads: int, runs: int) -> float | None:
    try:
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_content=data, num_threads=threads)
        interpreter.allocate_tensors()
    except (ImportError, RuntimeError):
        return None
    index = interpreter.get_input_details()[0]["index"]

    def run():
        interpreter.set_tensor(index, x)
        interpreter.invoke()
    return median_ms(run, runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=convert_models.default_cache())
    args = parser.parse_args(argv)

    wheel = convert_models.find_wheel(args.cache)
    rng = np.random.default_rng(0)
    print(f"{'model':36s} {'MB':>6s} {'onnx ms':>8s} {'tflite ms':>9s}   ({args.threads} thread(s), median of "
          f"{args.runs})")
    for model in convert_models.MODELS:
        path = models.model_path(model.output)
        shape = models.create_session(model.output).get_inputs()[0].shape
        x = rng.uniform(0, 1, size=shape).astype(np.float32)
        onnx_ms = bench_onnx(model.output, x, args.threads, args.runs)
        tflite_ms = bench_tflite(convert_models.read_tflite(wheel, model.source_path), x, args.threads,
                                 args.runs) if wheel else None
        tflite_text = f"{tflite_ms:9.3f}" if tflite_ms is not None else f"{'n/a':>9s}"
        print(f"{model.output:36s} {path.stat().st_size / 1e6:6.2f} {onnx_ms:8.3f} {tflite_text}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
