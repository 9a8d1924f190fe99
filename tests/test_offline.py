"""Offline rendering keeps frame count, timing and audio, and handles images, folders and bad outputs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from arfx.cli import main
from arfx.demo import GeneratedSource, astronaut_image, write_clip
from arfx.errors import OutputError
from arfx.offline import render_video
from arfx.options import RenderOptions


def media_info(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = list(container.decode(video))
        info = {
            "frames": len(frames),
            "fps": float(video.average_rate),
            "duration": float(video.duration * video.time_base),
            "times": [float(f.time) for f in frames],
            "first": frames[0].to_ndarray(format="rgb24"),
            "audio_codec": container.streams.audio[0].codec_context.name if container.streams.audio else None,
        }
    if info["audio_codec"]:
        with av.open(str(path)) as container:
            audio = container.streams.audio[0]
            packets = [p for p in container.demux(audio) if p.size]
            info["audio_packets"] = len(packets)
            info["audio_bytes"] = bytes().join(bytes(p) for p in packets)
    return info


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("in") / "astronaut.mp4", 320, 240, count=36, fps=24,
                      audio=True)


def test_render_keeps_frames_timing_and_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    seen = []
    result = render_video("glasses", clip, out, RenderOptions(), progress=lambda d, t: seen.append((d, t)))
    source, rendered = media_info(clip), media_info(out)
    assert source["audio_codec"] == "aac"
    assert rendered["frames"] == source["frames"] == result.frames == 36
    assert rendered["fps"] == pytest.approx(source["fps"])
    assert rendered["duration"] == pytest.approx(source["duration"], abs=1e-3)
    assert rendered["times"] == pytest.approx(source["times"], abs=1e-3)
    # The audio is the input's, packet for packet.
    assert rendered["audio_codec"] == "aac"
    assert rendered["audio_bytes"] == source["audio_bytes"]
    # The astronaut's face is found and the glasses change the picture.
    assert result.frames_with_faces >= 30
    assert np.abs(rendered["first"].astype(int) - source["first"].astype(int)).mean() > 0.5
    assert seen[-1] == (36, 36)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no partial files left


def test_existing_output_is_refused_before_work(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    code = main(["render", "glasses", "-i", str(clip), "-o", str(out)])
    assert code == 2
    assert out.read_bytes() == b"keep me"


def test_cli_render_video_with_overwrite(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "again.mp4"
    out.write_bytes(b"old")
    assert main(["render", "mesh", "-i", str(clip), "-o", str(out), "--overwrite"]) == 0
    assert "36 frame(s)" in capsys.readouterr().out
    assert media_info(out)["frames"] == 36


def test_folder_to_folder_and_to_video(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    face = astronaut_image()[:320, 80:400]
    for i in range(3):
        Image.fromarray(np.ascontiguousarray(np.roll(face, i * 4, axis=1))).save(folder / f"f{i}.png")
    out_dir = tmp_path / "rendered"
    result = render_video("glasses", folder, out_dir, RenderOptions())
    assert sorted(p.name for p in out_dir.iterdir()) == ["f0.png", "f1.png", "f2.png"]
    assert result.frames_with_faces == 3
    with pytest.raises(OutputError, match="already exist"):
        render_video("glasses", folder, out_dir, RenderOptions())
    video = tmp_path / "frames.mp4"
    render_video("glasses", folder, video, RenderOptions(folder_fps=10))
    info = media_info(video)
    assert info["frames"] == 3 and info["fps"] == pytest.approx(10)


def test_mismatched_output_kind_is_refused(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="must be a video"):
        render_video("glasses", clip, tmp_path / "x.png", RenderOptions())
    assert list(tmp_path.iterdir()) == []


def write_late_ts(path: Path, video_start: float, audio_start: float, seconds: float = 2.0,
                  fps: int = 25, rate: int = 48000) -> Path:
    """An MPEG-TS clip whose clock starts late (as broadcast captures and trimmed clips do)."""
    with av.open(str(path), "w", format="mpegts") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        sound = container.add_stream("aac", rate=rate)
        sound.layout = "mono"
        samples = 0
        end = int(round((video_start - audio_start + seconds) * rate))
        for frame in GeneratedSource(160, 120, int(seconds * fps), fps):
            vf = av.VideoFrame.from_ndarray(frame.rgb, format="rgb24")
            vf.pts, vf.time_base = int(round(video_start * fps)) + frame.index, Fraction(1, fps)
            for packet in video.encode(vf):
                container.mux(packet)
            target = end * (frame.index + 1) // int(seconds * fps)
            while samples + 1024 <= target:
                t = (samples + np.arange(1024)) / rate
                af = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                                format="fltp", layout="mono")
                af.sample_rate, af.time_base = rate, Fraction(1, rate)
                af.pts = int(round(audio_start * rate)) + samples
                for packet in sound.encode(af):
                    container.mux(packet)
                samples += 1024
        for stream in (video, sound):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def test_late_starting_ts_keeps_audio_in_sync(tmp_path: Path) -> None:
    """A file whose clock starts at 4.8 s (audio) and 5.0 s (video): the output starts at 0,
    keeps the 0.2 s of sound before the first picture, and lasts as long as the input."""
    clip = write_late_ts(tmp_path / "late.ts", video_start=5.0, audio_start=4.8)
    out = tmp_path / "late.mp4"
    with av.open(str(clip)) as container:
        starts = {s.type: float(s.start_time * s.time_base) for s in container.streams}
        lead = starts["video"] - min(starts.values())  # ~0.2 s plus the AAC encoder's priming
    render_video("mesh", clip, out, RenderOptions())
    with av.open(str(out)) as container:
        assert container.duration / 1e6 == pytest.approx(2.2, abs=0.1)  # was 7 s: audio at 5 s
        frames = list(container.decode(video=0))
        assert len(frames) == 50 and frames[0].time == pytest.approx(lead, abs=2e-3)
        assert 0.19 < lead < 0.25
    with av.open(str(out)) as container:
        audio = [p for p in container.demux(audio=0) if p.size]
    first = float(audio[0].pts * audio[0].time_base)
    last = float((audio[-1].pts + audio[-1].duration) * audio[-1].time_base)
    assert -1 / 25 <= first <= 1 / 25
    assert last == pytest.approx(2.2, abs=0.1)
    assert leftovers_free(tmp_path)


def leftovers_free(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if "partial" in p.name]
