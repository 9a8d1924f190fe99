"""The virtual camera through a fake device: this machine has no V4L2 (no /dev/video*, no
v4l2loopback), so the device tree (/dev, /sys) and the device's opening are stood in; the
rest (device discovery, PyAV's raw YU12 frames, the live app sending them) runs for real.
What stays untested: FFmpeg's v4l2 output writing to a real v4l2loopback device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

import arfx.vcam as vcam
from arfx.errors import OutputError
from fakes import FakeCamera

REPO = Path(__file__).resolve().parents[1]


def fake_tree(root: Path, loopback: dict[str, str], real: tuple[str, ...] = ()) -> Path:
    """/dev and /sys under `root`: v4l2loopback devices (virtual) and real ones (on a bus)."""
    classes = root / "sys" / "class" / "video4linux"
    classes.mkdir(parents=True)
    (root / "dev").mkdir()
    for name, label in loopback.items():
        node = root / "sys" / "devices" / "virtual" / "video4linux" / name
        node.mkdir(parents=True)
        (node / "name").write_text(label + "\n")
        (classes / name).symlink_to(node)
        (root / "dev" / name).write_bytes(b"")
    for name in real:
        node = root / "sys" / "devices" / "pci0000:00" / "usb1" / "video4linux" / name
        node.mkdir(parents=True)
        (node / "name").write_text("Integrated Camera\n")
        (classes / name).symlink_to(node)
        (root / "dev" / name).write_bytes(b"")
    module = root / "sys" / "module"
    module.mkdir(parents=True, exist_ok=True)
    if loopback:
        (module / "v4l2loopback").mkdir()
    return root


@pytest.fixture
def device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake v4l2loopback device: frames go to a NUT file of raw video instead of /dev/video10."""
    root = fake_tree(tmp_path / "root", {"video10": "arfx"}, real=("video0",))
    monkeypatch.setattr(vcam, "DEVICE_ROOT", root)
    written = tmp_path / "video10.nut"
    opened: list[tuple[str, str]] = []

    def open_device(path: str, fmt: str = "v4l2"):
        opened.append((path, fmt))
        return av.open(str(written), "w", format="nut")

    monkeypatch.setattr(vcam, "open_device", open_device)
    return root, written, opened


def read_raw(path: Path) -> tuple[list[np.ndarray], str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream.codec_context.pix_fmt


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_no_module_names_the_modprobe_set_up(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as error:
        vcam.find_device(None, root=tmp_path)
    text = one_line(error)
    assert "not loaded" in text and "modprobe v4l2loopback" in text
    assert "exclusive_caps=1" in text and "card_label=" in text


def test_real_cameras_are_not_taken_for_virtual_ones(tmp_path: Path) -> None:
    root = fake_tree(tmp_path, {}, real=("video0", "video1"))
    (root / "sys" / "module" / "v4l2loopback").mkdir()
    with pytest.raises(OutputError) as error:
        vcam.find_device(None, root=root)
    assert "loaded but has no device" in one_line(error)


def test_first_loopback_device_is_found(tmp_path: Path) -> None:
    root = fake_tree(tmp_path, {"video12": "second", "video10": "arfx"}, real=("video0",))
    assert vcam.loopback_devices(root) == [(root / "dev" / "video10", "arfx"),
                                           (root / "dev" / "video12", "second")]
    assert vcam.find_device(None, root=root) == root / "dev" / "video10"
    assert vcam.find_device("/dev/video12", root=root) == root / "dev" / "video12"
    assert vcam.find_device("video12", root=root) == root / "dev" / "video12"
    with pytest.raises(OutputError) as error:
        vcam.find_device("/dev/video3", root=root)
    assert "/dev/video3" in one_line(error) and "modprobe" in str(error.value)


def test_virtual_camera_writes_raw_yu12_frames(device) -> None:
    root, written, opened = device
    cam = vcam.VirtualCamera(None, 64, 48, fps=30)
    for i in range(5):
        cam.write(np.full((48, 64, 3), 40 * i, np.uint8), timestamp=i / 30)
        while cam.frames_sent + cam.dropped < i + 1:
            pass
    cam.close()
    assert opened == [(str(root / "dev" / "video10"), "v4l2")]
    frames, pix_fmt = read_raw(written)
    assert pix_fmt == "yuv420p" and len(frames) == 5 and frames[0].shape == (48, 64, 3)
    assert [int(round(f.mean() / 40)) for f in frames] == [0, 1, 2, 3, 4]


def test_device_that_cannot_be_opened_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_tree(tmp_path, {"video10": "arfx"})
    monkeypatch.setattr(vcam, "DEVICE_ROOT", root)

    def refuse(path: str, fmt: str = "v4l2"):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(vcam, "open_device", refuse)
    with pytest.raises(OutputError) as error:
        vcam.VirtualCamera(None, 64, 48)
    assert "usermod -aG video" in one_line(error)


def test_live_app_without_window_feeds_the_virtual_camera(device, tmp_path: Path) -> None:
    """A camera -> arfx (no window) -> the virtual camera: every shown frame reaches the device."""
    from arfx.app import AppOptions, LiveApp
    from arfx.sources import CameraSource

    root, written, _ = device
    camera = CameraSource(0, device=FakeCamera(good=40), timeout=2.0)
    result = LiveApp(AppOptions(effect="axis", vcam="", window=False, frames=20, mirror=False,
                                output_dir=tmp_path), source=camera).run()
    assert result.frames == 20 and result.end_reason == "20 frames done"
    frames, pix_fmt = read_raw(written)
    assert pix_fmt == "yuv420p" and frames[0].shape == (24, 32, 3)
    # FakeCamera's frames count the reads in their grey level; shown frames arrive in order.
    levels = [int(round(f.mean())) for f in frames]
    assert 0 < len(frames) <= 20 and levels == sorted(levels) and levels[0] >= 1
    assert len(result.latencies) == 20


def test_cli_without_v4l2_says_how_to_set_it_up(tmp_path: Path) -> None:
    """This machine has no V4L2: `arfx EFFECT --vcam` stops at once with the set-up commands."""
    if Path("/sys/class/video4linux").exists() and any(Path("/sys/class/video4linux").iterdir()):
        pytest.skip("this machine has video devices")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "arfx", "glasses", "--vcam", "--no-window"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "modprobe v4l2loopback" in lines[0] and "exclusive_caps=1" in lines[0], proc.stderr


def test_virtual_camera_gets_the_unmirrored_picture(device, tmp_path: Path) -> None:
    """The window mirrors a camera (a mirror is what people expect to see of themselves); the
    virtual camera sends the camera's own view, as call apps expect (they mirror the self-view)."""
    from arfx.app import AppOptions, LiveApp
    from arfx.sources import CameraSource

    _, written, _ = device
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 32:] = 255  # right half white
    camera = CameraSource(0, device=FakeCamera(good=10, image=image), timeout=2.0)
    LiveApp(AppOptions(effect="axis", vcam="", window=False, frames=3, output_dir=tmp_path),
            source=camera).run()
    frames, _ = read_raw(written)
    assert frames and frames[-1][:, :28].mean() < 20 and frames[-1][:, 36:].mean() > 235
