"""Network stream output, for real: MPEG-TS H.264 sent over UDP and TCP on 127.0.0.1,
received by the test and decoded back with PyAV."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from arfx.errors import OutputError
from arfx.stream import StreamOutput, check_stream_url

REPO = Path(__file__).resolve().parents[1]


class UdpReceiver:
    """Collects every datagram sent to a fresh 127.0.0.1 port until `quiet` seconds pass without one."""

    def __init__(self, quiet: float = 3.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.quiet = quiet
        self.data = bytearray()
        self.started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(120)  # the first datagram may come after models load
        while True:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return
            self.data.extend(chunk)
            self.started.set()
            self.sock.settimeout(self.quiet)

    def frames(self, join: float = 150) -> list[np.ndarray]:
        self._thread.join(join)
        self.sock.close()
        return decode_ts(bytes(self.data))


class TcpReceiver:
    """Listens on a fresh 127.0.0.1 port and collects one connection's bytes until it closes."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.server.settimeout(60)
        self.port = self.server.getsockname()[1]
        self.data = bytearray()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn, _ = self.server.accept()
        conn.settimeout(60)
        with conn:
            while chunk := conn.recv(65536):
                self.data.extend(chunk)

    def frames(self, join: float = 30) -> list[np.ndarray]:
        self._thread.join(join)
        self.server.close()
        return decode_ts(bytes(self.data))


def decode_ts(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), format="mpegts") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


def numbered(i: int, size=(240, 320)) -> np.ndarray:
    """A frame whose grey level says its number (H.264 keeps flat areas within a few levels)."""
    return np.full((*size, 3), 20 + 7 * i, np.uint8)


def level(rgb: np.ndarray) -> int:
    return int(round((float(rgb[8:-8, 8:-8].mean()) - 20) / 7))


def test_udp_stream_arrives_and_decodes_in_order() -> None:
    receiver = UdpReceiver(quiet=2.0)
    out = StreamOutput(f"udp://127.0.0.1:{receiver.port}", 320, 240, fps=30)
    sent = []
    for i in range(24):
        out.write(numbered(i), timestamp=i / 30)
        sent.append(i)
        # Each frame taken before the next: latest-frame-wins then skips none.
        while out.frames_sent + out.dropped < i + 1:
            threading.Event().wait(0.002)
    out.close()
    frames = receiver.frames()
    assert out.dropped == 0 and out.frames_sent == 24
    assert len(frames) == 24 and frames[0].shape == (240, 320, 3)
    assert [level(f) for f in frames] == sent


def test_tcp_stream_to_a_listening_receiver() -> None:
    receiver = TcpReceiver()
    out = StreamOutput(f"tcp://127.0.0.1:{receiver.port}", 161, 121, fps=25)  # odd sizes are padded
    for i in range(10):
        out.write(numbered(i, (121, 161)), timestamp=i / 25)
        while out.frames_sent + out.dropped < i + 1:
            threading.Event().wait(0.002)
    out.close()
    frames = receiver.frames()
    assert len(frames) == 10 and frames[0].shape == (122, 162, 3)
    assert [level(f) for f in frames] == list(range(10))


def test_tcp_without_receiver_is_one_line_naming_the_fix() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(OutputError) as error:
        StreamOutput(f"tcp://127.0.0.1:{port}", 64, 64)
    text = str(error.value)
    assert "\n" not in text and "listen" in text and "ffplay" in text


@pytest.mark.parametrize("url", ["srt://127.0.0.1:9000", "rtmp://example.invalid/live", "127.0.0.1:5000",
                                 "udp://127.0.0.1", "udp://:5000"])
def test_unsupported_or_incomplete_urls_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(OutputError) as error:
        check_stream_url(url)
    text = str(error.value)
    assert "\n" not in text and ("udp://" in text)


def test_latest_frame_wins_when_the_encoder_falls_behind() -> None:
    """A burst written faster than the encoder takes it: the stream skips frames, counts them."""
    receiver = UdpReceiver(quiet=2.0)
    out = StreamOutput(f"udp://127.0.0.1:{receiver.port}", 640, 480, fps=30)
    for i in range(30):
        out.write(numbered(i, (480, 640)), timestamp=i / 30)  # no waiting
    out.close()
    frames = receiver.frames()
    assert out.frames_sent + out.dropped == 30 and len(frames) == out.frames_sent
    levels = [level(f) for f in frames]
    assert levels == sorted(levels) and levels[-1] == 29  # in order, ending with the newest


def test_cli_streams_a_file_without_a_window(tmp_path: Path) -> None:
    """`arfx axis --input clip --no-window --no-drop --stream udp://...`: every frame of the clip arrives."""
    from arfx.demo import write_clip

    clip = write_clip(tmp_path / "clip.mp4", 160, 120, count=20, fps=20)
    receiver = UdpReceiver(quiet=5.0)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("DISPLAY", None)  # no display needed
    proc = subprocess.run([sys.executable, "-m", "arfx", "axis", "--input", str(clip), "--no-window",
                           "--no-drop", "--stream", f"udp://127.0.0.1:{receiver.port}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    frames = receiver.frames()
    with av.open(str(clip)) as container:
        source = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    # The stream itself is latest-frame-wins: what it sent and what it skipped make the 20 frames.
    sent = int(re.search(r"sent (\d+) frames", proc.stderr).group(1))
    skipped = re.search(r"(\d+) frame\(s\) skipped", proc.stderr)
    assert sent + (int(skipped.group(1)) if skipped else 0) == 20, proc.stderr
    assert len(frames) == sent and sent >= 1, proc.stderr
    assert frames[0].shape == (120, 160, 3)
    assert np.abs(frames[0].astype(int) - source[0]).mean() < 8  # the clip's first picture
    assert "20 frame(s)" in proc.stderr and "ended: end of input" in proc.stderr


def test_cli_refuses_srt_before_loading_anything(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "arfx", "axis", "--camera", "7", "--no-window",
                           "--stream", "srt://127.0.0.1:9000"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "srt://" in lines[0] and "udp://" in lines[0], proc.stderr


def _clip_frames(clip: Path) -> list[np.ndarray]:
    with av.open(str(clip)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_render_streams_every_frame_of_a_clip_over_udp_at_its_pace(tmp_path: Path, capsys) -> None:
    """`arfx render axis -i clip.mp4 -o udp://127.0.0.1:PORT`: every frame arrives, decodes, in
    order, no faster than the clip plays."""
    import time

    from arfx.demo import write_clip
    from makers import run_cli

    clip = write_clip(tmp_path / "clip.mp4", 160, 120, count=20, fps=20)
    receiver = UdpReceiver(quiet=3.0)
    url = f"udp://127.0.0.1:{receiver.port}"
    t0 = time.monotonic()
    code, out, err = run_cli(["render", "axis", "-i", str(clip), "-o", url], capsys)
    seconds = time.monotonic() - t0
    assert code == 0, err
    assert f"{url}: 20 frame(s)" in out
    frames = receiver.frames()
    source = _clip_frames(clip)
    assert len(frames) == 20 and frames[0].shape == (120, 160, 3)
    # The axis effect draws over the face; the picture around it is the clip's, frame by frame.
    for sent, original in zip(frames, source):
        assert np.abs(sent[:, :30].astype(int) - original[:, :30]).mean() < 8
    assert seconds >= 19 / 20  # paced: the 20 frames span 0.95 s of the clip


def test_render_streams_over_tcp_and_refuses_srt_in_one_line(tmp_path: Path, capsys) -> None:
    from arfx.demo import write_clip
    from makers import assert_one_line_error, run_cli

    clip = write_clip(tmp_path / "clip.mp4", 96, 64, count=8, fps=30)
    receiver = TcpReceiver()
    code, _, err = run_cli(["render", "axis", "-i", str(clip), "-o", f"tcp://127.0.0.1:{receiver.port}"], capsys)
    assert code == 0, err
    assert len(receiver.frames()) == 8
    code, _, err = run_cli(["render", "axis", "-i", str(clip), "-o", "srt://127.0.0.1:9000"], capsys)
    assert_one_line_error(code, err, "srt://", "udp://")
