"""Recorder: playable H.264 files, real-time timestamps, audio copied, safe output handling."""

from __future__ import annotations

import gc
import os
import signal
from pathlib import Path

import av
import numpy as np
import pytest

from arfx.demo import write_clip
from arfx.errors import OutputError
from arfx.outputs import write_image
from arfx.recorder import Recorder


def probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [f for f in container.decode(video)]
        info = {
            "frames": len(frames),
            "size": (video.codec_context.width, video.codec_context.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "codec": video.codec_context.name,
            "times": [float(f.time) for f in frames],
            "first": frames[0].to_ndarray(format="rgb24") if frames else None,
        }
    with av.open(str(path)) as container:
        info["audio"] = [s for s in container.streams.audio]
        info["audio_packets"] = sum(1 for p in container.demux(audio=0) if p.size) if info["audio"] else 0
    return info


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "partial" in p.name]


def test_constant_rate_recording_is_playable_h264(tmp_path: Path) -> None:
    out = tmp_path / "cfr.mp4"
    recorder = Recorder(out, 161, 91, fps=25)
    for i in range(20):
        recorder.write(np.full((91, 161, 3), (i * 12, 80, 200 - i * 5), np.uint8))
    assert recorder.close() == out
    assert recorder.close() == out  # idempotent
    info = probe(out)
    assert info["frames"] == 20
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["size"] == (162, 92)  # odd sizes padded to even
    assert info["times"] == pytest.approx([i / 25 for i in range(20)], abs=1e-3)
    assert np.abs(info["first"][10, 10].astype(int) - [0, 80, 200]).max() < 12
    assert leftovers(tmp_path) == []


def test_realtime_recording_keeps_capture_clock(tmp_path: Path) -> None:
    out = tmp_path / "vfr.mp4"
    stamps = [100.0, 100.03, 100.10, 100.5, 100.52, 101.25]  # irregular, as from a camera
    recorder = Recorder(out, 64, 48, fps=30)
    for t in stamps:
        recorder.write(np.zeros((48, 64, 3), np.uint8), timestamp=t)
    recorder.close()
    info = probe(out)
    assert info["frames"] == len(stamps)
    assert info["times"] == pytest.approx([t - stamps[0] for t in stamps], abs=2e-3)


def test_audio_is_copied_from_input(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "in.mp4", 96, 64, count=30, fps=30, audio=True)
    src_info = probe(source)
    assert src_info["audio"]
    out = tmp_path / "with_audio.mp4"
    recorder = Recorder(out, 96, 64, fps=30, audio_from=source)
    for _ in range(30):
        recorder.write(np.zeros((64, 96, 3), np.uint8))
    recorder.close()
    info = probe(out)
    assert info["frames"] == 30
    assert len(info["audio"]) == 1 and info["audio"][0].codec_context.name == "aac"
    assert info["audio_packets"] == src_info["audio_packets"]


def test_existing_file_is_refused_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "taken.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists.*--overwrite"):
        Recorder(out, 32, 32)
    assert out.read_bytes() == b"precious"
    recorder = Recorder(out, 32, 32, overwrite=True)
    recorder.write(np.zeros((32, 32, 3), np.uint8))
    recorder.close()
    assert probe(out)["frames"] == 1


def test_missing_folder_and_bad_suffix_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        Recorder(tmp_path / "no" / "such" / "out.mp4", 32, 32)
    with pytest.raises(OutputError, match="unsupported video type"):
        Recorder(tmp_path / "out.txt", 32, 32)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            Recorder(folder / "out.mp4", 32, 32)
    finally:
        folder.chmod(0o755)


def test_no_file_appears_until_close_and_none_without_frames(tmp_path: Path) -> None:
    out = tmp_path / "later.mp4"
    recorder = Recorder(out, 32, 32)
    recorder.write(np.zeros((32, 32, 3), np.uint8))
    assert not out.exists()  # only the hidden partial name exists while recording
    recorder.close()
    assert out.exists()
    empty = Recorder(tmp_path / "empty.mp4", 32, 32)
    assert empty.close() is None
    assert not (tmp_path / "empty.mp4").exists() and leftovers(tmp_path) == []


def test_wrong_frame_size_is_an_output_error(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "x.mp4", 32, 32)
    with pytest.raises(OutputError, match="frame is 16x16"):
        recorder.write(np.zeros((16, 16, 3), np.uint8))
    recorder.abort()
    assert list(tmp_path.iterdir()) == []


def test_write_image_refuses_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "a.png"
    write_image(out, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(OutputError, match="already exists"):
        write_image(out, np.zeros((4, 4, 3), np.uint8))
    write_image(out, np.full((4, 4, 3), 9, np.uint8), overwrite=True)
    assert leftovers(tmp_path) == []


def _inside_close(frame) -> bool:
    """Whether `frame` runs inside Recorder.close, and not in a finaliser or pytest's hook for
    exceptions raised in finalisers (an interrupt there is not the recorder's to handle)."""
    inside = False
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or "unraisable" in code.co_filename:
            return False
        if code.co_name == "close" and code.co_filename.endswith("recorder.py"):
            inside = True
        frame = frame.f_back
    return inside


def test_ctrl_c_during_close_still_finishes_the_file(tmp_path: Path) -> None:
    """Repeated Ctrl-C (KeyboardInterrupt every 2 ms, only while close() runs) is no write failure:
    the file is finished with every frame, then the interrupt reaches the caller."""
    out = tmp_path / "interrupted.mp4"
    recorder = Recorder(out, 320, 240, fps=30, preset="medium")  # a slow flush: many chances
    for i in range(40):
        recorder.write(np.full((240, 320, 3), (i * 6, 90, 40), np.uint8))
    hits: list[int] = []

    def interrupt(signum, frame) -> None:
        if _inside_close(frame):
            hits.append(signum)
            raise KeyboardInterrupt

    # Earlier tests' garbage is collected now, not by a collection that close() happens to
    # trigger (an interrupt inside another object's finaliser is not what this test is about).
    gc.collect()
    gc.disable()
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
    try:
        with pytest.raises(KeyboardInterrupt):
            recorder.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        gc.enable()
    assert hits
    assert probe(out)["frames"] == 40
    assert recorder.saved_path == out and recorder.close() == out
    assert leftovers(tmp_path) == []
