"""The live app under Xvfb: fixed-length runs, recording, keys, signals and a camera that goes away."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from arfx.demo import astronaut_image, write_clip
from fakes import FakeCamera

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 320, 240, count=60, fps=30)


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def arfx(args: list[str], display: str, cwd: Path, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "arfx", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_input_file_fixed_frames_with_recording(display: str, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.mp4"
    proc = arfx(["glasses", "--input", str(clip), "--frames", "12", "--record", str(out)], display, tmp_path)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert f"recording saved: {out}" in stdout
    assert frame_count(out) == 12
    assert "12 frame(s)" in stderr


def test_recording_a_video_input_keeps_its_sound(display: str, tmp_path: Path) -> None:
    """`--input clip-with-audio --record`: the recording carries the clip's sound, as long as its pictures."""
    clip = write_clip(tmp_path / "sound.mp4", 320, 240, count=45, fps=30, audio=True)
    out = tmp_path / "rec.mp4"
    proc = arfx(["mesh", "--input", str(clip), "--record", str(out)], display, tmp_path)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1, "the clip's sound was not recorded"
        frames = list(container.decode(video=0))
    with av.open(str(out)) as container:
        packets = [p for p in container.demux(audio=0) if p.size]
    audio_start = float(packets[0].pts * packets[0].time_base)
    audio_end = float((packets[-1].pts + packets[-1].duration) * packets[-1].time_base)
    video_end = float(frames[-1].time) + 1 / 30
    assert len(frames) == 45, stderr  # a file being recorded is paced by the app: nothing dropped
    assert "dropped" not in stderr
    assert abs(audio_start) <= 0.05 and abs(audio_end - video_end) <= 0.1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_recording_keeps_every_frame(display: str, tmp_path: Path, sig: int) -> None:
    still = tmp_path / "face.png"
    Image.fromarray(astronaut_image()[:320, 80:400]).save(still)
    out = tmp_path / "sig.mp4"
    proc = arfx(["mesh", "--input", str(still), "--record", str(out)], display, tmp_path)
    lines: list[str] = []

    def collect() -> None:
        for line in proc.stderr:
            lines.append(line)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("recording to" in line for line in lines):
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "".join(lines)
        time.sleep(0.1)
    time.sleep(1.5)  # let some frames reach the encoder
    proc.send_signal(sig)
    stdout = proc.stdout.read()
    proc.wait(timeout=60)
    reader.join(5)
    text = "".join(lines)
    assert proc.returncode == 130, text
    assert f"recording saved: {out}" in stdout
    recorded = [line for line in lines if line.startswith("recorded ")]
    assert recorded, text
    promised = int(recorded[0].split()[1])
    assert promised > 0
    assert frame_count(out) == promised
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("failure", ["error", "hang"])
def test_camera_loss_ends_session_with_recording_kept(display: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    from arfx.app import AppOptions, LiveApp
    from arfx.sources import CameraSource

    monkeypatch.setenv("DISPLAY", display)
    out = tmp_path / "cam.mp4"
    camera = CameraSource(0, device=FakeCamera(good=25, failure=failure, image=np.ascontiguousarray(astronaut_image()[:320, 80:400])), timeout=1.0)
    result = LiveApp(AppOptions(effect="glasses", record=str(out), camera_timeout=1.0,
                                output_dir=tmp_path), source=camera).run()
    assert 0 < result.frames <= 25
    assert result.recordings == [out]
    assert frame_count(out) == result.frames
    reason = result.end_reason
    assert ("stopped delivering" in reason) if failure == "error" else ("no frame" in reason)


def _wait_for(lines: list[str], text: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not any(text in line for line in lines):
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(lines)
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_keys_switch_effect_screenshot_record_and_quit(display: str, tmp_path: Path) -> None:
    """Real key presses (xdotool on Xvfb) reach the window: Right, S, R ... R, M, D, Q."""
    still = tmp_path / "face.png"
    Image.fromarray(astronaut_image()[:320, 80:400]).save(still)
    proc = arfx(["glasses", "--input", str(still)], display, tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    env = dict(os.environ, DISPLAY=display)

    def press(key: str) -> None:
        subprocess.run(["xdotool", "search", "--sync", "--name", "^arfx", "windowfocus", "--sync",
                        "key", key], env=env, check=True, timeout=30, capture_output=True)

    try:
        _wait_for(lines, "keys:", proc)
        press("Right")
        _wait_for(lines, "effect: ", proc)  # the next effect after glasses, whichever it is
        press("s")
        _wait_for(lines, "screenshot saved to", proc)
        press("r")
        _wait_for(lines, "recording to", proc)
        time.sleep(1.0)
        press("r")
        _wait_for(lines, "recorded ", proc)
        press("m")
        press("d")
        press("q")
        stdout = proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert "ended: quit" in text
    shots = sorted(tmp_path.glob("arfx-*.png"))
    videos = sorted(tmp_path.glob("arfx-*.mp4"))
    assert len(shots) == 1 and len(videos) == 1, (list(tmp_path.iterdir()), text, stdout)
    assert Image.open(shots[0]).size == (320, 320)
    recorded = int(next(line for line in lines if line.startswith("recorded ")).split()[1])
    assert recorded > 0 and frame_count(videos[0]) == recorded


def test_repeated_signals_while_finishing_keep_the_recording(display: str, tmp_path: Path) -> None:
    """Ctrl-C pressed again and again: the recording is still finished with every frame."""
    still = tmp_path / "face.png"
    Image.fromarray(astronaut_image()[:320, 80:400]).save(still)
    out = tmp_path / "burst.mp4"
    proc = arfx(["mesh", "--input", str(still), "--record", str(out)], display, tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        _wait_for(lines, "recording to", proc, 120)
        time.sleep(1.5)  # let some frames reach the encoder
        deadline = time.monotonic() + 60
        # One press, then one every millisecond until the recording is reported (or the app ends).
        while proc.poll() is None and not any(line.startswith("recorded ") for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.001)
        stdout = proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    text = "".join(lines)
    assert proc.returncode == 130, text
    recorded = [line for line in lines if line.startswith("recorded ")]
    assert recorded, text + stdout
    promised = int(recorded[0].split()[1])
    assert promised > 0 and frame_count(out) == promised
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_input_file_recording_keeps_every_frame_from_the_first(display: str, tmp_path: Path) -> None:
    """Playback starts when the window is ready: set-up time skips no frames of the file."""
    clip = write_clip(tmp_path / "ninety.mp4", 160, 120, count=90, fps=20)
    out = tmp_path / "all.mp4"
    proc = arfx(["axis", "--input", str(clip), "--record", str(out)], display, tmp_path)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "ended: end of input" in stderr
    with av.open(str(out)) as container:
        recorded = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    with av.open(str(clip)) as container:
        source = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    # Every frame, however slow the machine: a file being recorded waits for the app (no-drop).
    assert len(recorded) == len(source) == 90, stderr
    # In order from the clip's first frame (set-up time used to skip the first ones).
    closest = [int(np.argmin([np.abs(r - f).mean() for f in source[max(0, i - 3):i + 4]])) + max(0, i - 3)
               for i, r in enumerate(recorded)]
    assert closest == list(range(90))


def test_screenshot_and_record_into_missing_folder_keep_running(display: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """S and R with an output folder that cannot exist (under a file): a warning, no crash."""
    from arfx.app import AppOptions, LiveApp

    monkeypatch.setenv("DISPLAY", display)
    still = tmp_path / "face.png"
    Image.fromarray(astronaut_image()[:320, 80:400]).save(still)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    app = LiveApp(AppOptions(effect="glasses", input=str(still), frames=8, output_dir=blocker / "shots"))
    app.act("screenshot")
    app.act("record")
    with caplog.at_level("WARNING", logger="arfx.app"):
        result = app.run()
    assert result.frames == 8 and result.end_reason == "8 frames done"
    assert result.screenshots == [] and result.recordings == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("screenshot not saved" in w and "shots" in w for w in warnings), warnings
    assert any("recording" in w and "does not exist" in w for w in warnings), warnings
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.png", "notes.txt"]


def test_camera_capture_to_display_latency_and_drops_are_reported(display: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A 30 fps camera: each shown frame's capture-to-display time is measured; the camera keeps
    its latest frame (the app never waits), and what it skipped is counted."""
    from arfx.app import AppOptions, LiveApp
    from arfx.sources import CameraSource

    monkeypatch.setenv("DISPLAY", display)
    face = np.ascontiguousarray(astronaut_image()[:320, 80:400][:, :, ::-1])
    camera = CameraSource(0, device=FakeCamera(good=200, image=face), timeout=2.0)
    with caplog.at_level("INFO", logger="arfx.app"):
        result = LiveApp(AppOptions(effect="glasses", frames=30, output_dir=tmp_path), source=camera).run()
    assert result.frames == 30 and len(result.latencies) == 30
    assert all(0.0 < t < 30.0 for t in result.latencies)
    # Every frame the camera delivered was shown, skipped (counted) or still waiting at the end.
    assert result.frames + result.dropped <= result.delivered <= result.frames + result.dropped + 1
    assert any("capture to display: p50" in r.getMessage() for r in caplog.records)
    if result.dropped:
        assert any("were dropped" in r.getMessage() for r in caplog.records)


def test_no_drop_plays_every_frame_of_a_file_and_drops_are_reported_otherwise(
        display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A 1000 fps clip is faster than any frame the app can show: played as is, frames are
    dropped and said to be; with no_drop every frame is shown, in order."""
    from arfx.app import AppOptions, LiveApp

    monkeypatch.setenv("DISPLAY", display)
    fast = write_clip(tmp_path / "fast.mp4", 160, 120, count=40, fps=1000)
    with caplog.at_level("WARNING", logger="arfx.app"):
        played = LiveApp(AppOptions(effect="axis", input=str(fast), output_dir=tmp_path)).run()
    assert played.end_reason == "end of input" and played.delivered == 40
    assert played.dropped > 0 and played.frames + played.dropped in (39, 40)
    assert any("were dropped" in r.getMessage() and "--no-drop" in r.getMessage() for r in caplog.records)

    app = LiveApp(AppOptions(effect="axis", input=str(fast), no_drop=True, output_dir=tmp_path))
    shown: list[int] = []
    show = app._show
    monkeypatch.setattr(app, "_show", lambda frame: (shown.append(frame.index), show(frame)))
    kept = app.run()
    assert kept.frames == 40 and kept.dropped == 0 and shown == list(range(40))


@pytest.mark.parametrize("effect, stage", [("pose", "body"), ("hands", "hand")])
def test_live_app_tracks_what_the_effect_needs(effect: str, stage: str) -> None:
    """`arfx pose` / `arfx hands` live track bodies / hands (they were left untracked before)."""
    from arfx.app import AppOptions, LiveApp
    from arfx.stream import local_udp_url
    from arfx.synthetic import SyntheticClip

    app = LiveApp(AppOptions(effect=effect, frames=2, window=False, stream=local_udp_url(),
                             no_drop=True), source=SyntheticClip(160, 96, fps=1000.0))
    app.run()
    assert stage in [s.name for s in app.pipeline.stages]


def test_a_long_live_session_keeps_only_recent_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage times and latencies are kept for the last KEEP_SAMPLES frames, so hours of a live
    session do not grow memory (the soak runs 20,000 frames)."""
    import arfx.app
    import arfx.stream
    from arfx.app import AppOptions, LiveApp
    from arfx.sources import CameraSource
    from arfx.stream import local_udp_url
    from arfx.synthetic import SyntheticCamera

    monkeypatch.setattr(arfx.app, "KEEP_SAMPLES", 5)
    monkeypatch.setattr(arfx.stream, "KEEP_SAMPLES", 5)
    camera = CameraSource(0, device=SyntheticCamera(96, 64, fps=60.0), timeout=5.0)
    app = LiveApp(AppOptions(effect="axis", frames=30, window=False, stream=local_udp_url()),
                  source=camera)

    def trim_every_frame(live: LiveApp) -> None:  # the trim runs with the title update (every 0.5 s)
        live._t_title = 0.0

    app.after_frame = trim_every_frame
    result = app.run()
    assert result.frames == 30
    # 5 kept at the last title update, plus the last frame (the session ends before updating).
    assert 0 < len(result.latencies) <= 6
    assert all(len(samples) <= 6 for samples in app.times.samples.values())
    assert 0 < len(result.send_latencies) <= 10
