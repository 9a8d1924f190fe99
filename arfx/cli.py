"""Command-line interface: argument parsing and printing; the work happens in the modules it calls."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from arfx import __version__
from arfx.errors import ArfxError

log = logging.getLogger("arfx")

COMMANDS = ("run", "demo", "render", "track", "export-mesh", "capture-face", "list", "preview", "doctor", "bench")


def _count(text: str) -> int:
    """A whole number of at least 1 (faces, frames)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use 1 or more")
    return value


def _probability(text: str) -> float:
    """A confidence threshold from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1")
    return value


def _fov(text: str) -> float | str:
    """A vertical field of view in degrees, or 'auto'."""
    from arfx.geometry.fov import parse_fov

    try:
        value = parse_fov(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give degrees (e.g. 55) or 'auto'")
    return value


def _add_tracker_options(parser: argparse.ArgumentParser) -> None:
    from arfx.options import DETECTORS, TrackingOptions

    defaults = TrackingOptions()
    group = parser.add_argument_group("tracking")
    group.add_argument("--max-faces", type=_count, default=defaults.max_faces, metavar="N",
                       help="most faces to track at once (default 1)")
    group.add_argument("--detector", choices=DETECTORS, default=defaults.detector,
                       help="face detector: auto (both ranges, small faces too; the default), short "
                            "(MediaPipe's: faces near the camera, fastest) or full (small, distant faces)")
    group.add_argument("--no-smooth", action="store_true",
                       help="turn off landmark smoothing across frames (on by default; lag-compensated)")
    group.add_argument("--hands", action="store_true",
                       help="track hands too (automatic when an effect is anchored to a hand)")
    group.add_argument("--pose", action="store_true",
                       help="track the body pose too, one person (automatic for body-anchored effects)")
    group.add_argument("--refine", action="store_true",
                       help="478 landmarks: adds the 10 iris points and refines lips and eyes (one more "
                            "model run per face; never changes which faces are found)")
    group.add_argument("--tiling", choices=("auto", "on", "off"), default=defaults.tiling,
                       help="also search large frames (800 px or more) in overlapping tiles for small "
                            "faces (auto: with --detector auto)")
    group.add_argument("--fov", type=_fov, default=defaults.fov, metavar="DEGREES|auto",
                       help="the camera's vertical field of view in degrees (default: from the photo's or "
                            "video's metadata when it has some, else 63, MediaPipe's); auto estimates it "
                            "from the face as it moves nearer, farther and across the frame")
    group.add_argument("--min-detection-confidence", type=_probability, default=0.5, metavar="P",
                       help="detections below this score are ignored (0..1, default 0.5)")
    group.add_argument("--min-tracking-confidence", type=_probability, default=0.5, metavar="P",
                       help="a tracked face below this presence is dropped (0..1, default 0.5)")


def _tracking_options(args: argparse.Namespace, static: bool = False):
    from arfx.options import TrackingOptions

    return TrackingOptions(
        max_faces=args.max_faces, static=static, detector=args.detector, refine=args.refine,
        min_detection_confidence=args.min_detection_confidence,
        min_tracking_confidence=args.min_tracking_confidence, smooth=not args.no_smooth,
        tiling=getattr(args, "tiling", "auto"),
        hands=bool(getattr(args, "hands", False)), pose=bool(getattr(args, "pose", False)),
        fov=getattr(args, "fov", None))


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 100") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not from 1 to 100")
    return value


def _add_antialias_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--antialias", type=int, choices=(0, 2, 4, 8), metavar="{0,2,4,8}",
                        help="MSAA samples for smooth edges (default: 4 on a GPU, 0 on software "
                             "OpenGL such as llvmpipe, where 4 costs about 4x the render time)")


def _add_encoder_options(parser: argparse.ArgumentParser) -> None:
    from arfx.options import X264_PRESETS, EncodeOptions

    parser.add_argument("--preset", choices=X264_PRESETS, default=EncodeOptions.preset,
                        help="H.264 speed/size trade-off for video output (default superfast: "
                             "fast on 2 cores; veryfast or slower make smaller files)")
    parser.add_argument("--quality", type=_quality, default=EncodeOptions.jpeg_quality, metavar="Q",
                        help=f"JPEG/WebP image output quality, 1-100 (default {EncodeOptions.jpeg_quality})")


def _add_rerun_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rerun", nargs="?", const="", metavar="FILE.rrd",
                        help="log frames, landmarks, 3D face, pose and expressions to a Rerun recording "
                             "FILE.rrd, or to the Rerun viewer when no file is given "
                             "(needs: pip install \"arfx[rerun]\")")


def _open_rerun(args: argparse.Namespace, name: str):
    """The RerunLogger that --rerun asks for (None without the flag), checked before any work."""
    if getattr(args, "rerun", None) is None:
        return None
    from arfx.rerun_log import RerunLogger

    if args.rerun == "":
        return RerunLogger(spawn=True, name=name)
    return RerunLogger(args.rerun, name=name, overwrite=args.overwrite)


def _close_rerun(logger, failed: bool) -> None:
    """Close the recording; one with no frame from a failed run is removed."""
    if logger is None:
        return
    logger.close()
    if logger.path is not None:
        if failed and logger.frames == 0:
            logger.path.unlink(missing_ok=True)
        else:
            print(f"{logger.path}: Rerun recording of {logger.frames} frame(s); open it with `rerun {logger.path}`")


def _add_effect_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--effects-dir", action="append", default=[], metavar="DIR",
                        help="extra folder of effects (may repeat)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arfx",
        description="AR face effects: `arfx EFFECT` opens the live window; see the commands below.",
    )
    parser.add_argument("--version", action="version", version=f"arfx {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging and full tracebacks")
    # -v also works after the command; SUPPRESS keeps the top-level value when it is absent.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", parents=[verbose], help="live window with an effect (the default: `arfx EFFECT`)")
    run.add_argument("effect", nargs="?", default="glasses",
                     help="effect name, or names joined with + to stack them (see `arfx list`)")
    run.add_argument("--camera", type=int, default=0, metavar="N", help="camera index (default 0)")
    run.add_argument("--size", default="1280x720", metavar="WxH", help="camera capture size")
    run.add_argument("--input", metavar="FILE", help="video or image instead of the camera")
    run.add_argument("--record", metavar="FILE", help="start recording to FILE at launch")
    run.add_argument("--frames", type=_count, metavar="N", help="quit after N frames")
    run.add_argument("--no-mirror", action="store_true", help="do not mirror the camera image")
    run.add_argument("--gestures", nargs="?", const="", metavar="MAP",
                     help="steer with held hand gestures: victory = next effect, open palm (2 s) = "
                          "start/stop recording, thumbs up = screenshot; or your own MAP, e.g. "
                          "victory=next,pinch=screenshot,open_palm=record:2 (seconds to hold)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing recording")
    run.add_argument("--no-drop", action="store_true",
                     help="keep every frame of an --input file, slowing playback when rendering cannot "
                          "keep up (always on while recording a file)")
    run.add_argument("--stream", metavar="URL",
                     help="also send the picture as MPEG-TS H.264 to URL: udp://HOST:PORT or tcp://HOST:PORT "
                          "(open it in ffplay, VLC or OBS as a media source)")
    run.add_argument("--vcam", nargs="?", const="", metavar="DEVICE",
                     help="also send the picture to a v4l2loopback virtual camera (Linux; default: the "
                          "first one found, e.g. /dev/video10) for video calls")
    run.add_argument("--no-window", action="store_true",
                     help="no window: only --stream, --vcam and --record get the picture")
    run.add_argument("--no-overlay", action="store_true",
                     help="no on-screen interface in the window (effect, fps, REC, dropped frames)")
    run.add_argument("--record-overlay", action="store_true",
                     help="recordings, screenshots, --stream and --vcam include the on-screen interface")
    _add_tracker_options(run)
    _add_effect_options(run)
    _add_antialias_option(run)
    _add_rerun_option(run)

    demo = sub.add_parser("demo", parents=[verbose], help="render every built-in effect on a generated clip")
    demo.add_argument("-o", "--output", metavar="FILE",
                      help="video to write (default arfx-demo.mp4, replaced on every run)")
    demo.add_argument("--no-window", action="store_true", help="never open a window")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing -o FILE")

    render = sub.add_parser("render", parents=[verbose], help="render an effect onto a video, image or image folder")
    render.add_argument("effect", help="effect name, or names joined with + to stack them, "
                                       "e.g. facepaint+glasses (see `arfx list`)")
    render.add_argument("-i", "--input", required=True, metavar="PATH",
                        help="video, image, or folder of images")
    render.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="same kind as the input (a folder of images may become a video), or "
                             "udp://HOST:PORT or tcp://HOST:PORT to stream it (MPEG-TS, at the clip's pace)")
    render.add_argument("--overwrite", action="store_true", help="replace an existing output")
    render.add_argument("--mirror", action="store_true", help="mirror the output horizontally")
    _add_encoder_options(render)
    _add_antialias_option(render)
    _add_tracker_options(render)
    _add_effect_options(render)
    _add_rerun_option(render)

    track = sub.add_parser("track", parents=[verbose],
                           help="write landmarks, pose and mesh for every frame to .npz, .jsonl or .csv")
    track.add_argument("input", help="image, folder of images, or video")
    track.add_argument("-o", "--output", metavar="OUT",
                       help="the file to write: .npz, .jsonl or .csv (needed unless --rerun)")
    track.add_argument("--format", choices=("npz", "jsonl", "csv"),
                       help="output format (default: from the output's suffix)")
    track.add_argument("--static", action="store_true", help="detect on every frame (no tracking)")
    # Smoothing is on by default everywhere now; --smooth stays accepted for old scripts.
    track.add_argument("--smooth", action="store_true", help=argparse.SUPPRESS)
    track.add_argument("--overwrite", action="store_true", help="replace an existing output")
    mesh = track.add_argument_group("dense mesh export")
    mesh.add_argument("--mesh-out", metavar="DIR",
                      help="also write each face of each frame as a mesh file into DIR (camera space, canonical UVs)")
    mesh.add_argument("--mesh-format", choices=("obj", "ply", "glb"), default="obj",
                      help="mesh file type (default obj; obj and ply in cm, glb in metres)")
    mesh.add_argument("--mesh-texture", action="store_true",
                      help="give each mesh the face's pixels unwrapped into the UV layout as its texture")
    _add_tracker_options(track)
    _add_rerun_option(track)

    export = sub.add_parser("export-mesh", parents=[verbose],
                            help="the metric face mesh of an image (or of every frame of a video, into a folder)")
    export.add_argument("input", help="image, folder of images, or video")
    export.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="OUT.obj / .ply / .glb for an image (its largest face); a folder otherwise")
    export.add_argument("--texture", action="store_true", help="the face's own pixels as the mesh's texture")
    export.add_argument("--mesh-format", choices=("obj", "ply", "glb"), default="obj",
                        help="file type of the meshes written into a folder (default obj)")
    export.add_argument("--overwrite", action="store_true", help="replace existing files")
    _add_tracker_options(export)

    capture = sub.add_parser("capture-face", parents=[verbose],
                             help="unwrap a face from a photo into the canonical UV layout (a face paint PNG)")
    capture.add_argument("input", metavar="PHOTO", help="a photo with a face (the largest one is taken)")
    capture.add_argument("-o", "--output", default="face.png", metavar="OUT.png", help="the PNG to write")
    capture.add_argument("--size", type=_count, default=512, help="texture size in pixels (default 512)")
    capture.add_argument("--mirror", action="store_true",
                         help="fill what the photo does not show from the other side of the face")
    capture.add_argument("--overwrite", action="store_true", help="replace an existing output")

    listing = sub.add_parser("list", parents=[verbose], help="list the effects arfx can find")
    _add_effect_options(listing)

    preview = sub.add_parser("preview", parents=[verbose],
                             help="an effect alone on a translucent canonical head (front, three-quarter, side)")
    preview.add_argument("effect", metavar="ASSET_OR_EFFECT",
                         help="a .glb/.gltf/.png file, an effect folder, or an effect name (a+b stacks)")
    preview.add_argument("-o", "--output", default="preview.png", metavar="IMAGE",
                         help="PNG or JPEG to write (default preview.png)")
    preview.add_argument("--size", type=_count, default=400, metavar="PX", help="pixels per view (default 400)")
    preview.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_effect_options(preview)

    sub.add_parser("doctor", parents=[verbose], help="check the installation: packages, ONNX Runtime, OpenGL, models")

    bench = sub.add_parser("bench", parents=[verbose],
                           help="per-stage timings of offline rendering, against the decode-and-encode floor")
    bench.add_argument("--input", metavar="VIDEO", help="video to use (default: generated 720p clip)")
    bench.add_argument("--effect", default="glasses", help="effect to render (default glasses)")
    bench.add_argument("--frames", type=_count, default=120, metavar="N",
                       help="frames to render (default 120)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--compare", metavar="EFFECT",
                       help="also render EFFECT (e.g. blur+glasses) in the same run and report its speed "
                            "as a ratio of --effect's")
    bench.add_argument("--repeats", type=_count, default=1, metavar="N",
                       help="render and floor runs, interleaved; fps are medians (default 1)")
    live = bench.add_argument_group("live", "--live: the live app on a synthetic 30 fps camera")
    live.add_argument("--live", action="store_true",
                      help="measure the live app instead: achieved fps, capture-to-display and "
                           "capture-to-stream latency p50/p95, stage times (--frames after 15 warm-up)")
    live.add_argument("--size", default="1280x720", help="--live: camera size (default 1280x720)")
    live.add_argument("--no-window", action="store_true", help="--live: no window (stream only)")
    live.add_argument("--stream", metavar="URL",
                      help="--live: stream to URL (default: a free UDP port on 127.0.0.1)")
    live.add_argument("--no-stream", action="store_true", help="--live: window only")
    _add_encoder_options(bench)
    _add_antialias_option(bench)
    _add_tracker_options(bench)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """`arfx glasses` means `arfx run glasses`."""
    for i, arg in enumerate(argv):
        if arg.startswith("-"):
            if arg in ("-h", "--help", "--version"):
                return argv
            continue
        if arg not in COMMANDS:
            return argv[:i] + ["run"] + argv[i:]
        return argv
    return argv


def _cmd_doctor(args: argparse.Namespace) -> int:
    from arfx import doctor

    ok = True
    for check in doctor.run_checks():
        mark = "ok  " if check.ok else ("WARN" if not check.essential else "FAIL")
        print(f"[{mark}] {check.name}: {check.detail}")
        ok = ok and (check.ok or not check.essential)
    print("arfx is ready." if ok else "arfx is not ready: fix the FAIL lines above.")
    return 0 if ok else 1


def _cmd_track(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arfx.export import check_track_output, write_track
    from arfx.track import track_file

    if args.output is None and args.rerun is None and args.mesh_out is None:
        raise ArfxError("nothing to write: give -o OUT.npz, --rerun FILE.rrd, or both (or --mesh-out DIR)")
    output, fmt = (check_track_output(Path(args.output), args.overwrite, args.format) if args.output
                   else (None, None))  # before any work
    if fmt == "csv" and (args.hands or getattr(args, "pose", False)):
        raise ArfxError("CSV holds one row per face, not hands or bodies: write .npz or .jsonl (--format jsonl)")
    options = _tracking_options(args, static=args.static)
    meshes = None
    if args.mesh_out is not None:
        from arfx.export import MeshWriter

        meshes = MeshWriter(args.mesh_out, Path(args.input).stem, args.mesh_format, args.mesh_texture,
                            args.overwrite)
    logger = _open_rerun(args, Path(args.input).name)
    bar = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None and (total or 0) > 1:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="frame", desc="tracking", leave=False)
        if bar is not None:
            bar.update(done - bar.n)

    failed = True
    try:
        def on_frame(frame, found) -> None:
            if logger is not None:
                logger.log(frame.rgb, found)
            if meshes is not None:
                meshes(frame, found)

        result = track_file(args.input, options, progress,
                            on_frame=None if logger is None and meshes is None else on_frame)
        failed = False
    finally:
        if bar is not None:
            bar.close()
        _close_rerun(logger, failed)
        if meshes is not None:
            meshes.close()
    if meshes is not None:
        print(f"{args.mesh_out}: {len(meshes.written)} mesh file(s)")
    if output is not None:
        write_track(result, output, fmt, refine=args.refine, overwrite=args.overwrite)
    frames = len(result.face_count)
    with_faces = sum(1 for c in result.face_count if c)
    hands = f", {sum(len(h) for h in result.hands)} hand(s)" if result.track_hands else ""
    hands += f", {sum(len(b) for b in result.bodies)} body pose(s)" if result.track_pose else ""
    print(f"{output or Path(args.input).name}: {frames} frame(s), {sum(result.face_count)} face(s){hands}; "
          f"faces on {with_faces} frame(s); field of view {result.fov:.1f} degrees ({result.fov_source})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from arfx.effects.registry import EffectRegistry

    registry = EffectRegistry(args.effects_dir)
    effects = registry.verify()  # every effect loaded once: what is OK here renders
    winners = {id(info) for info in registry.effects().values()}
    width = max([len(info.name) for info in effects] + [4])
    print(f"{'name':<{width}}  {'kind':<9}  {'source':<8}  location")
    for info in effects:
        line = f"{info.name:<{width}}  {info.kind:<9}  {info.source:<8}  {info.path}"
        if info.broken:
            line += f"  BROKEN: {info.broken}"
        elif id(info) not in winners:
            line += "  (shadowed by a later effect of the same name)"
        elif info.debug:
            line += "  (debug view)"
        print(line)
    missing = "" if registry.user_dir.is_dir() else "; it does not exist yet"
    print(f"user effects folder: {registry.user_dir} (set ARFX_EFFECTS to change it{missing})")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from arfx.preview import write_preview

    output = write_preview(args.effect, args.output, args.size, args.effects_dir, args.overwrite)
    print(f"{output}: '{args.effect}' on the canonical head (front, three-quarter, side)")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arfx.sources import IMAGE_SUFFIXES

    if Path(args.input).suffix.lower() in IMAGE_SUFFIXES:
        # Through the offline renderer: its reader handles gray/16-bit/RGBA/EXIF-rotated
        # images and its writer never leaves a half-written file.
        from arfx.offline import render_video

        options = _render_options(args, mirror=args.mirror)
        logger = _open_rerun(args, Path(args.input).name)
        failed = True
        try:
            result = render_video(args.effect, args.input, args.output, options, on_frame=_log_to(logger))
            failed = False
        finally:
            _close_rerun(logger, failed)
        print(f"{result.output}: {result.faces} face(s) with '{args.effect}'")
        _hint_if_no_face(result.faces, args)
        return 0
    return _render_media(args)


def _log_to(logger):
    """render_video's on_frame callback for a RerunLogger (None without one)."""
    return None if logger is None else (lambda frame, found: logger.log(frame.rgb, found))


def _render_options(args: argparse.Namespace, **extra: object):
    from arfx.options import EncodeOptions, RenderOptions

    encode = EncodeOptions(preset=getattr(args, "preset", EncodeOptions.preset),
                           overwrite=bool(getattr(args, "overwrite", False)),
                           jpeg_quality=getattr(args, "quality", EncodeOptions.jpeg_quality))
    return RenderOptions(tracking=_tracking_options(args), encode=encode,
                         antialias=getattr(args, "antialias", None),
                         effects_dirs=tuple(getattr(args, "effects_dir", ()) or ()),
                         **extra)  # type: ignore[arg-type]


class _Progress:
    """tqdm bar (frames, fps, ETA) fed by the offline renderer's progress callback."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar = None

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="frame", desc=self.desc, leave=False, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _render_media(args: argparse.Namespace) -> int:
    """Video or image-folder input: decode, track, render headless, encode."""
    from arfx.offline import render_video

    from pathlib import Path

    options = _render_options(args, mirror=args.mirror)
    logger = _open_rerun(args, Path(args.input).name)
    progress = _Progress(f"rendering {args.effect}")
    failed = True
    try:
        result = render_video(args.effect, args.input, args.output, options, progress=progress,
                              on_frame=_log_to(logger))
        failed = False
    finally:
        progress.close()
        _close_rerun(logger, failed)
    print(f"{result.output}: {result.frames} frame(s), faces on {result.frames_with_faces}, "
          f"{result.fps:.1f} fps")
    _hint_if_no_face(result.frames_with_faces, args)
    return 0


def _hint_if_no_face(found: int, args: argparse.Namespace) -> None:
    if found == 0 and args.detector == "short":
        print("no face found; for small or distant faces try --detector auto", file=sys.stderr)


def _gesture_map(text: str | None):
    """False (no --gestures), True (the default map) or (actions, holds) from --gestures MAP."""
    if text is None:
        return False
    if text == "":
        return True
    from arfx.triggers import parse_gesture_map

    try:
        return parse_gesture_map(text)
    except ValueError as error:
        raise ArfxError(f"--gestures: {error}") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arfx.app import AppOptions, run_app
    from arfx.sources import parse_size

    logging.getLogger("arfx.app").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logger = _open_rerun(args, args.input or f"camera {args.camera}")
    options = AppOptions(
        effect=args.effect, camera=args.camera, size=parse_size(args.size), input=args.input,
        record=args.record, frames=args.frames, mirror=False if args.no_mirror else None,
        gestures=_gesture_map(args.gestures),
        render=_render_options(args),
        output_dir=Path.cwd(), no_drop=args.no_drop, stream=args.stream, vcam=args.vcam,
        window=not args.no_window, overlay=not args.no_overlay, overlay_in_outputs=args.record_overlay,
        rerun=logger)
    if args.record:
        from arfx.outputs import check_output_path
        from arfx.recorder import VIDEO_FORMATS

        check_output_path(args.record, args.overwrite, VIDEO_FORMATS, "video", source=args.input)
    failed = True
    try:
        result = run_app(options)
        failed = False
    finally:
        _close_rerun(logger, failed)
    for path in result.recordings:
        print(f"recording saved: {path}")
    for path in result.screenshots:
        print(f"screenshot saved: {path}")
    dropped = f"; {result.dropped} of {result.delivered} dropped" if result.dropped else ""
    print(f"arfx: {result.frames} frame(s); ended: {result.end_reason}{dropped}", file=sys.stderr)
    if result.interrupted:
        return 130
    if result.source_error:
        kept = f" (recording kept: {', '.join(map(str, result.recordings))})" if result.recordings else ""
        print(f"arfx: error: {result.source_error}{kept}", file=sys.stderr)
        return 2
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from arfx.demo import run_demo

    progress = _Progress("demo")
    try:
        # The default file is the demo's own and is replaced; a named one is the user's.
        result = run_demo(args.output or "arfx-demo.mp4", window=not args.no_window,
                          overwrite=args.overwrite or args.output is None, progress=progress)
    finally:
        progress.close()
    print(f"demo video: {result.output.resolve()} ({result.frames} frames, effects: "
          f"{', '.join(result.effects)})")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import json

    from arfx.bench import format_table, run_bench

    if args.live:
        from arfx.bench import format_live_table, run_live_bench
        from arfx.sources import parse_size

        report = run_live_bench(args.effect, parse_size(args.size), frames=args.frames,
                                window=not args.no_window, stream=None if args.no_stream else args.stream or "")
        print(json.dumps(report.to_dict(), indent=2) if args.json else format_live_table(report))
        return 0
    # The same options as `arfx render`: bench measures what render runs.
    report = run_bench(effect=args.effect, input=args.input, frames=args.frames,
                       options=_render_options(args), repeats=args.repeats)
    if args.compare:
        from arfx.bench import add_comparison

        other = run_bench(effect=args.compare, input=args.input, frames=args.frames,
                          options=_render_options(args), floor=False, repeats=args.repeats)
        add_comparison(report, other)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_table(report))
    return 0


def _cmd_export_mesh(args: argparse.Namespace) -> int:
    from arfx.export import export_mesh

    written = export_mesh(args.input, args.output, texture=args.texture, fmt=args.mesh_format,
                          overwrite=args.overwrite, options=_tracking_options(args))
    print(f"{args.output}: {len(written)} mesh file(s)")
    return 0


def _cmd_capture_face(args: argparse.Namespace) -> int:
    from arfx.export import capture_face_file

    out = capture_face_file(args.input, args.output, size=args.size, mirror=args.mirror, overwrite=args.overwrite)
    print(f"{out}: the face of {args.input} in the canonical UV layout ({args.size}x{args.size}, RGBA)")
    return 0


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "doctor": _cmd_doctor,
        "track": _cmd_track,
        "capture-face": _cmd_capture_face,
        "export-mesh": _cmd_export_mesh,
        "list": _cmd_list,
        "preview": _cmd_preview,
        "render": _cmd_render,
        "run": _cmd_run,
        "demo": _cmd_demo,
        "bench": _cmd_bench,
    }
    return handlers[command]


class _StderrHandler(logging.Handler):
    """Log lines to the current sys.stderr, above any progress bar (never torn by one)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _configure_logging(verbose: bool) -> None:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(
        "%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler],
                        force=True)


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0 ok, 2 user-facing error, 1 bug, 130 interrupted.

    SIGTERM is handled like Ctrl-C (KeyboardInterrupt, through arfx.threads.StopSignals): the
    command's cleanup runs (no half-written output is left) and the status is 130 for both.
    The live app installs its own (stop the loop, finish the recording) for its session and
    puts these back afterwards.
    """
    from arfx.threads import StopSignals

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(argv))
    _configure_logging(args.verbose)
    if args.command is None:
        parser.print_help()
        return 0

    signals = StopSignals().install()
    try:
        return _handler(args.command)(args)
    except ArfxError as error:
        if args.verbose:
            log.exception("arfx %s failed", args.command)
        print(f"arfx: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arfx: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug or an unforeseen failure: one line unless --verbose
        if args.verbose:
            raise
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"arfx: error: {args.command} failed: {type(error).__name__}"
              f"{': ' + reason if reason else ''} (run with --verbose for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        signals.restore()
