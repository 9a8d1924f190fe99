"""Every run's options, each declared once: how faces are tracked, how outputs are encoded, how
frames are rendered. The CLI, the Python API, the live app, offline rendering, `arfx track`,
the demo and the benchmark all build these same values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

#: x264 speed/size trade-offs, fastest first.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow")
DETECTORS = ("auto", "short", "full")


@dataclass(frozen=True)
class TrackingOptions:
    """How faces are found and followed: MediaPipe FaceMesh's options under short names.

    detector: "auto" (both ranges, tiled for small faces), "short" (MediaPipe's default:
    faces near the camera) or "full" (small, distant faces). smooth: lag-compensated landmark
    smoothing across frames (ignored in static mode). static: detect on every frame, as for
    unrelated images (folders and photos are always tracked statically). hands, max_hands:
    MediaPipe Hands' options, with the full models. fov: the camera's vertical field of view
    for the metric geometry and the 3D rendering: None (the input's metadata when it has some,
    else 63 degrees, MediaPipe's), degrees, or "auto" (estimated from the faces as they move,
    see arfx.geometry.fov; metadata or 63 degrees until the estimate is confident).
    """

    max_faces: int = 1
    static: bool = False
    detector: str = "auto"
    refine: bool = False
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth: bool = True
    #: Search frames 800 px or larger in overlapping tiles too: "auto" (with the auto detector),
    #: "on" or "off".
    tiling: str = "auto"
    #: Track hands too (they are tracked anyway when an effect is anchored to a hand).
    hands: bool = False
    max_hands: int = 2
    #: Track the body pose (one person) and the person mask (both automatic when an effect
    #: needs them: body anchors, backgrounds).
    pose: bool = False
    segmentation: bool = False
    #: Run the pose model on every Nth frame, predicting the body between (the live app: 2).
    pose_every: int = 1
    fov: float | str | None = None

    def __post_init__(self) -> None:
        from arfx.geometry.fov import parse_fov

        object.__setattr__(self, "fov", parse_fov(self.fov))  # ValueError names a bad value

    def tracker_arguments(self) -> dict[str, Any]:
        """FaceTracker's keyword arguments for these options."""
        return dict(max_num_faces=self.max_faces, static_image_mode=self.static,
                    min_detection_confidence=self.min_detection_confidence,
                    min_tracking_confidence=self.min_tracking_confidence,
                    refine_landmarks=self.refine, detector=self.detector, smooth=self.smooth,
                    tiling={"on": True, "off": False}.get(self.tiling, self.tiling))


@dataclass(frozen=True)
class EncodeOptions:
    """How output files are written."""

    #: x264 speed/size trade-off for video outputs; superfast keeps 720p rendering above 50
    #: fps on 2 cores, where veryfast's encoding alone takes ~17 ms.
    preset: str = "superfast"
    #: Copy a video input's audio into a video output.
    copy_audio: bool = True
    #: Replace an existing output.
    overwrite: bool = False
    #: JPEG/WebP quality of image outputs (which also keep the input's colour profile and EXIF).
    jpeg_quality: int = 95


@dataclass(frozen=True)
class RenderOptions:
    """A rendering run: tracking, encoding, and how frames are drawn and read."""

    tracking: TrackingOptions = field(default_factory=TrackingOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    mirror: bool = False
    effects_dirs: Sequence[str] = ()
    #: MSAA samples for edges (0 off, 2, 4, 8); None: 4 on a GPU, off on software GL (llvmpipe).
    antialias: int | None = None
    #: Frame rate given to a folder of images turned into a video.
    folder_fps: float = 30.0
    max_frames: int | None = None
