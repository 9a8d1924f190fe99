"""`arfx bench`: measures what `arfx render` runs, reports one structure, compares two effects, and
refuses what is not a video.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from PIL import Image

from makers import assert_one_line_error, face_crop, run_cli


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


def test_bench_refuses_a_photo_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(face_crop(96)).save(photo)
    code, _, err = run_cli(["bench", "--input", str(photo)], capsys)
    line = assert_one_line_error(code, err, str(photo), "bench needs a video input")
    assert "arfx-bench-" not in line and ".partial" not in line
