"""A virtual camera on Linux: raw frames to a v4l2loopback device through PyAV's FFmpeg `v4l2` output.

Browsers and call apps then list it as a camera (with v4l2loopback's `exclusive_caps=1`,
which they need to see it as a capture device). No GPL code is involved (pyvirtualcam is
GPL-2.0; FFmpeg's v4l2 output device is LGPL). Windows and macOS have no v4l2loopback: send
`--stream udp://127.0.0.1:5000` to OBS (Media Source) and start OBS's virtual camera.

The device seam: `DEVICE_ROOT` (where /dev and /sys are looked up) and `open_device` (how
the device is opened) are module attributes, so tests stand in a fake device; this project's
machines have no V4L2, so the real device path is untested here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from arfx.errors import OutputError, reason
from arfx.stream import TIME_BASE, LiveOutput

log = logging.getLogger(__name__)

#: Where /dev and /sys are looked up (tests point it at a fake tree).
DEVICE_ROOT = Path("/")
#: The pixel format sent (V4L2 YU12); call apps and browsers accept it from v4l2loopback.
PIX_FMT = "yuv420p"
SETUP = ("sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 video_nr=10 "
         "card_label=arfx exclusive_caps=1")


def open_device(path: str, fmt: str = "v4l2") -> Any:
    """The seam: the output container for a device (PyAV's FFmpeg v4l2 output device)."""
    import av

    return av.open(path, "w", format=fmt)


def loopback_devices(root: Path | None = None) -> list[tuple[Path, str]]:
    """(device node, card label) of each v4l2loopback device, lowest number first.

    v4l2loopback's devices are virtual: their sysfs entries live under devices/virtual.
    """
    root = DEVICE_ROOT if root is None else root
    found = []
    classes = root / "sys" / "class" / "video4linux"
    if not classes.is_dir():
        return []
    for entry in sorted(classes.iterdir(), key=lambda p: (len(p.name), p.name)):
        try:
            resolved = entry.resolve()
        except OSError:
            continue
        if "virtual" not in resolved.parts:
            continue
        try:
            label = (entry / "name").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            label = ""
        found.append((root / "dev" / entry.name, label))
    return found


def find_device(device: str | None = None, root: Path | None = None) -> Path:
    """The device to write to: `device` if given (checked), else the first v4l2loopback device."""
    root = DEVICE_ROOT if root is None else root
    if device:
        path = Path(device)
        node = root / path.relative_to("/") if path.is_absolute() else root / "dev" / path
        if not node.exists():
            raise OutputError(f"{device}: no such video device; create a virtual camera with: {SETUP}")
        return node
    devices = loopback_devices(root)
    if not devices:
        loaded = (root / "sys" / "module" / "v4l2loopback").exists()
        what = ("v4l2loopback is loaded but has no device" if loaded
                else "no virtual camera (the v4l2loopback kernel module is not loaded)")
        raise OutputError(f"{what}; set it up with: {SETUP}")
    node, label = devices[0]
    log.info("virtual camera: %s (%s)", node, label or "v4l2loopback")
    return node


class VirtualCamera(LiveOutput):
    """Raw YU12 frames to a v4l2loopback device (latest frame wins; skipped frames counted)."""

    def __init__(self, device: str | None, width: int, height: int, fps: float = 30.0) -> None:
        self.device = find_device(device)
        self.name = f"virtual camera {self.device}"
        super().__init__(width, height, fps)

    def _open(self) -> None:
        import av

        try:
            self.container = open_device(str(self.device))
        except (av.FFmpegError, OSError) as error:
            why = reason(error)
            fix = ("add yourself to the video group: sudo usermod -aG video $USER, then log in again"
                   if "ermission" in why else f"check it is a v4l2loopback device ({SETUP})")
            raise OutputError(f"{self.device}: cannot open the virtual camera ({why}); {fix}") from None
        try:
            stream = self.container.add_stream("rawvideo", rate=int(round(self.fps)))
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = PIX_FMT
            stream.codec_context.time_base = TIME_BASE
            stream.time_base = TIME_BASE
            self.stream = stream
            self.container.start_encoding()  # opens the device and sets its format now
        except Exception as error:
            self._close_quietly()
            raise OutputError(f"{self.device}: cannot set up the virtual camera ({reason(error)}); "
                              f"check it is a v4l2loopback device ({SETUP})") from None
        log.info("virtual camera %s: %dx%d %s", self.device, self.width, self.height, PIX_FMT)
