"""`arfx bench`: measures what `arfx render` runs, reports one structure, compares two effects, and
refuses what is not a video.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from makers import assert_one_line_error, face_crop, run_cli

ROOT = Path(__file__).resolve().parents[1]


def _open_paths() -> set[str]:
    paths = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            paths.add(os.readlink(f"/proc/self/fd/{fd}"))
    return paths


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_bench_measures_what_render_runs_and_closes_its_input(clip: Path, capsys: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`arfx bench` smooths like `arfx render` on videos, and leaves no handle on its input open."""
    from arfx.tracking.tracker import FaceTracker

    smooth: list[bool] = []
    original = FaceTracker.__init__

    def spy(self, *args, **kwargs):
        smooth.append(kwargs.get("smooth"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(FaceTracker, "__init__", spy)
    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "6", "--json"], capsys)
    assert code == 0, err
    assert smooth == [True]
    import json

    report = json.loads(out)  # the one report structure later measurements add to
    assert {"machine", "stages_median_ms", "ratios"} <= set(report)
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["gl_renderer"]
    assert report["ratios"]["realtime"] > 0 and report["stages_median_ms"]["track"] > 0
    assert str(clip) not in _open_paths()
    code, _, err = run_cli(["render", "glasses", "-i", str(clip), "-o", str(clip.with_name("r.mp4")),
                            "--overwrite"], capsys)
    assert code == 0, err
    assert smooth == [True, True]  # the same tracker settings as the render it stands for


def test_bench_compares_two_effects_in_one_run(clip: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "4", "--effect", "mesh",
                              "--compare", "blur+mesh", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["ratios"]["blur+mesh_vs_mesh_fps"] > 0
    assert report["stages_median_ms"]["blur+mesh/segmentation"] > 0  # the background needs the mask
    assert "segmentation" not in report["stages_median_ms"]           # the mesh alone does not


def test_bench_reports_render_against_the_floor_and_start_up_apart(clip: Path, capsys: pytest.CaptureFixture) -> None:
    """The floor (decode -> RGB -> encode, nothing drawn) runs after each render, interleaved;
    the table shows both fps, their ratio and the start-up time on lines of their own."""
    import json

    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "5", "--repeats", "2",
                              "--effect", "axis", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["floor_fps"] > 0 and report["startup_s"] > 0 and report["repeats"] == 2
    assert len(report["vs_floor_each"]) == 2
    assert report["ratios"]["vs_floor"] == pytest.approx(report["end_to_end_fps"] / report["floor_fps"], rel=0.02)
    # Tracking and drawing cost CPU on top of decoding and encoding the same frames.
    assert report["cpu_ms_per_frame"] > report["floor_cpu_ms_per_frame"] > 0
    assert report["ratios"]["floor_cpu_vs_render_cpu"] == pytest.approx(
        report["floor_cpu_ms_per_frame"] / report["cpu_ms_per_frame"], rel=0.02)
    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "3", "--effect", "axis"], capsys)
    assert code == 0, err
    assert re.search(r"^floor \(decode -> RGB -> encode, superfast, nothing drawn\): [\d.]+ fps; "
                     r"render / floor [\d.]+$", out, re.M), out
    assert re.search(r"^process CPU per frame \(all threads\): render [\d.]+ ms, floor [\d.]+ ms; "
                     r"floor / render [\d.]+ ", out, re.M), out
    assert re.search(r"^start-up \(models, shaders, first frame\): [\d.]+ s$", out, re.M), out


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_bench_shows_where_the_cpu_goes_by_thread(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The render's and the floor's CPU per frame by what the threads do: tracking, drawing and
    llvmpipe in the render only, decoding and x264 in both, adding up to about the process's
    CPU time (threads are sampled while they run; the kernel counts in 10 ms ticks, so the clip
    runs long enough to fill some)."""
    import json

    from arfx.demo import write_clip

    clip = write_clip(tmp_path / "clip.mp4", 480, 360, count=60, fps=30)
    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "60", "--effect", "glasses",
                              "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    threads = report["cpu_ms_per_frame_by_thread"]
    for kind in ("tracking", "main thread (GL calls, read-back)", "OpenGL rasteriser (llvmpipe)"):
        assert threads["render"][kind] > 0, kind
        assert kind == "main thread (GL calls, read-back)" or kind not in threads["floor"], kind
    assert threads["render"]["other native threads (x264's)"] > 0 and threads["floor"]["other native threads (x264's)"] > 0
    total = report["cpu_ms_per_frame"]
    assert 0.6 * total < sum(threads["render"].values()) < 1.2 * total, (threads["render"], total)
    code, out, err = run_cli(["bench", "--input", str(clip), "--frames", "60", "--effect", "glasses"], capsys)
    assert code == 0, err
    assert re.search(r"^CPU ms per frame, by thread +render +floor$", out, re.M), out
    assert re.search(r"^tracking +[\d.]+ +0\.00$", out, re.M), out


def test_floor_script_decodes_and_encodes_every_frame(clip: Path, tmp_path: Path) -> None:
    from arfx.bench import run_floor

    from makers import decode

    result = run_floor(clip, tmp_path / "floor.mp4")
    frames, width, height = decode(tmp_path / "floor.mp4")
    assert result.frames == frames == decode(clip)[0] and result.fps > 0
    assert (width, height) == decode(clip)[1:]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "offline_floor.py"), str(clip), "--frames", "4"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"floor: 4 frames in [\d.]+ s = [\d.]+ fps", proc.stdout), proc.stdout


def test_bench_refuses_a_photo_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(face_crop(96)).save(photo)
    code, _, err = run_cli(["bench", "--input", str(photo)], capsys)
    line = assert_one_line_error(code, err, str(photo), "bench needs a video input")
    assert "arfx-bench-" not in line and ".partial" not in line


def test_bench_live_without_a_window_reports_stream_latency_fps_and_stages(capsys: pytest.CaptureFixture) -> None:
    import json

    code, out, err = run_cli(["bench", "--live", "--no-window", "--frames", "12", "--size", "320x180",
                              "--effect", "axis", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["frames"] == 12 and report["window"] is False and report["stream"].startswith("udp://127.0.0.1:")
    assert report["display_latency_ms"] is None
    latency = report["stream_latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] < 5000
    assert 0 < report["achieved_fps"] <= 31  # the camera delivers 30 fps
    assert {"wait", "track", "render"} <= set(report["stages_median_ms"])


def test_bench_live_with_a_window_reports_capture_to_display(display: str, capsys: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", display)
    code, out, err = run_cli(["bench", "--live", "--frames", "10", "--size", "320x180", "--effect", "axis",
                              "--no-stream"], capsys)
    assert code == 0, err
    assert re.search(r"^capture to display: p50 [\d.]+ ms, p95 [\d.]+ ms$", out, re.M), out
    assert "capture to stream" not in out and re.search(r"^swap\s+[\d.]+$", out, re.M), out


def test_bench_live_window_without_a_display_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = run_cli(["bench", "--live", "--frames", "5"], capsys)
    assert_one_line_error(code, err, "xvfb-run", "--no-window")
