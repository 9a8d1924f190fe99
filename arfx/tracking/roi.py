"""Rotated square regions of interest around a face, from a detection or from landmarks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ROI_SCALE = 1.5
# Landmarks whose direction sets the roll of a tracked face: the outer eye corners.
EYE_ROLL_START, EYE_ROLL_END = 33, 263


@dataclass(frozen=True)
class Roi:
    """A square in image pixels: centre, side, and rotation (radians, image y down)."""

    cx: float
    cy: float
    size: float
    angle: float

    def axis_box(self) -> tuple[float, float, float, float]:
        """Unrotated box (xmin, ymin, xmax, ymax), as used for overlap tests."""
        half = self.size / 2
        return (self.cx - half, self.cy - half, self.cx + half, self.cy + half)

    def iou(self, other: "Roi") -> float:
        a, b = self.axis_box(), other.axis_box()
        ix = min(a[2], b[2]) - max(a[0], b[0])
        iy = min(a[3], b[3]) - max(a[1], b[1])
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / (self.size ** 2 + other.size ** 2 - inter)

    def crop_matrix(self, out_size: int) -> np.ndarray:
        """2x3 affine mapping output-tensor pixels to image pixels (for WARP_INVERSE_MAP)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.size / out_size
        half = self.size / 2
        # image = centre + R(angle) @ (uv * k - half)
        return np.array([
            [c * k, -s * k, self.cx - c * half + s * half],
            [s * k, c * k, self.cy - s * half - c * half],
        ], dtype=np.float64)

    def to_image(self, points: np.ndarray, out_size: int) -> np.ndarray:
        """Map [N, 3] tensor-space points (x, y, z in tensor pixels) to image pixels."""
        m = self.crop_matrix(out_size)
        out = np.empty_like(points, dtype=np.float32)
        x, y = points[:, 0], points[:, 1]
        out[:, 0] = m[0, 0] * x + m[0, 1] * y + m[0, 2]
        out[:, 1] = m[1, 0] * x + m[1, 1] * y + m[1, 2]
        if points.shape[1] > 2:
            out[:, 2] = points[:, 2] * (self.size / out_size)
        return out

    def world_to_image_axes(self, world: np.ndarray) -> np.ndarray:
        """[N, 3] world points a model gave in the crop's axes, turned by the crop's angle into
        the image's (a new float32 array; x and y rotate, z is kept)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        x, y = world[:, 0], world[:, 1]
        out = np.empty(world.shape, np.float32)
        out[:, 0] = c * x - s * y
        out[:, 1] = s * x + c * y
        out[:, 2] = world[:, 2]
        return out


def _roll(start: np.ndarray, end: np.ndarray) -> float:
    """Rotation that makes start->end point along +x; wrapped to [-pi, pi)."""
    angle = -math.atan2(-(end[1] - start[1]), end[0] - start[0])
    return (angle + math.pi) % (2 * math.pi) - math.pi


def roi_from_box(xmin: float, ymin: float, width: float, height: float,
                 start: np.ndarray, end: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    return Roi(cx=xmin + width / 2, cy=ymin + height / 2,
               size=max(width, height) * scale, angle=_roll(start, end))


def roi_from_detection(detection, scale: float = ROI_SCALE) -> Roi:
    """ROI around a detection: eye line horizontal, long side of the box times `scale`."""
    x, y, w, h = (float(v) for v in detection.box)
    return roi_from_box(x, y, w, h, detection.keypoints[0], detection.keypoints[1], scale)


def roi_from_landmarks(landmarks: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """ROI for the next frame from this frame's landmarks (pixels, [N, >=2])."""
    x, y = landmarks[:, 0], landmarks[:, 1]
    # four whole-array reductions: a 2-column min/max along axis 0 costs ~5x as much
    x0, y0 = x.min(), y.min()
    return roi_from_box(float(x0), float(y0), float(x.max() - x0), float(y.max() - y0),
                        landmarks[EYE_ROLL_START, :2], landmarks[EYE_ROLL_END, :2], scale)


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def roi_mismatch(crop: Roi, found: Roi, offset: float = 0.06, size: float = 0.15,
                 roll: float = 0.3) -> float:
    """How far the ROI implied by new landmarks is from the crop they came from.

    The largest of: centre offset in crop sides / `offset`, |log size ratio| / `size`, and
    roll change in radians / `roll`. Landmarks that sit well inside their crop imply (nearly)
    the crop itself (< 1); a face that ran off the crop's centre or out of it gives a large
    value. (The landmark model under-reports a roll or size change of its crop, so those
    weigh less than the centre.)
    """
    moved = math.hypot(found.cx - crop.cx, found.cy - crop.cy) / max(crop.size, 1e-6)
    scaled = abs(math.log(max(found.size, 1e-6) / max(crop.size, 1e-6)))
    turned = abs(_wrap(found.angle - crop.angle))
    return max(moved / offset, scaled / size, turned / roll)


def predict_roi(previous: Roi, current: Roi, dt_seen: float, dt_ahead: float,
                noise: float = 0.004) -> Roi:
    """`current` moved on by the motion from `previous` to `current` (constant velocity).

    Motion below `noise` (in ROI sides per frame, from landmark jitter) is not extrapolated,
    so a still face keeps a still crop.
    """
    if dt_seen <= 0 or dt_ahead <= 0:
        return current
    k = min(dt_ahead / dt_seen, 3.0)
    dx, dy = current.cx - previous.cx, current.cy - previous.cy
    dsize = math.log(max(current.size, 1e-6) / max(previous.size, 1e-6))
    dangle = _wrap(current.angle - previous.angle)
    step = max(math.hypot(dx, dy) / max(current.size, 1e-6), abs(dsize), abs(dangle) / 4)
    gain = min(max((step - noise) / noise, 0.0), 1.0) * k
    return Roi(cx=current.cx + gain * dx, cy=current.cy + gain * dy,
               size=current.size * math.exp(gain * dsize),
               angle=_wrap(current.angle + gain * dangle))


def letterbox(rgb: np.ndarray, canvas: np.ndarray, like_mediapipe: bool = False) -> tuple[float, float, float]:
    """Draw `rgb` into the square uint8 `canvas` (in place) scaled to fit, centred, zero padded.

    Returns (s, ox, oy): frame pixel = canvas pixel * s - (ox, oy). As MediaPipe does, the square
    around the frame maps corner to corner onto the canvas: the detectors are sensitive to the
    sampling phase, so cv2.resize (centre-aligned samples) is not used. `like_mediapipe`: sample
    as MediaPipe's own OpenCV does (see mediapipe_remap).
    """
    import cv2

    h, w = rgb.shape[:2]
    size = canvas.shape[0]
    side = float(max(w, h))
    scale = size / side
    ox, oy = (side - w) / 2, (side - h) / 2
    if like_mediapipe:
        maps = _LETTERBOX_MAPS.get((h, w, size))
        if maps is None:  # one per frame size: it does not change from frame to frame
            square = Roi(cx=w / 2, cy=h / 2, size=side, angle=0.0)
            maps = _LETTERBOX_MAPS[(h, w, size)] = mediapipe_maps(mediapipe_crop_matrix(square, size), size, size)
        cv2.remap(rgb, *maps, cv2.INTER_LINEAR, dst=canvas, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return 1.0 / scale, ox, oy
    step = side / size
    if step == round(step) and all(v % step == 0 for v in (w, h, ox, oy)):
        _letterbox_by_stride(rgb, canvas, int(step), int(ox / step), int(oy / step))
        return 1.0 / scale, ox, oy
    matrix = np.array([[scale, 0.0, ox * scale], [0.0, scale, oy * scale]])
    cv2.warpAffine(rgb, matrix, (size, size), dst=canvas, flags=cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return 1.0 / scale, ox, oy


def _letterbox_by_stride(rgb: np.ndarray, canvas: np.ndarray, step: int, left: int, top: int) -> None:
    """letterbox's warp where canvas pixel (left + i, top + j) samples frame pixel (i, j) * step
    (512x512, 640x360, 640x480, 1280x720, 1920x1080 frames into the 128 px detector): bilinear
    weights are then 1 and 0, and OpenCV's nearest-neighbour resize (which samples at
    floor(i * step)) gives the warp's bytes in about a third of its time (OpenCV has no fast path
    for 3-channel warps)."""
    import cv2

    h, w = rgb.shape[:2]
    cols, rows = w // step, h // step
    canvas[:top] = 0
    canvas[top + rows:] = 0
    canvas[top:top + rows, :left] = 0
    canvas[top:top + rows, left + cols:] = 0
    canvas[top:top + rows, left:left + cols] = cv2.resize(rgb, (cols, rows), interpolation=cv2.INTER_NEAREST)


def crop_into(rgb: np.ndarray, roi: Roi, patch: np.ndarray, tensor: np.ndarray, scale: np.float32,
              like_mediapipe: bool = False) -> np.ndarray:
    """Resample `roi` of the frame into the square uint8 `patch` (edges replicated, as MediaPipe's
    landmark crops) and fill the model input `tensor` [1, S, S, 3] with patch * scale.
    `like_mediapipe`: sample as MediaPipe's own OpenCV does (see mediapipe_remap)."""
    import cv2

    size = patch.shape[0]
    if like_mediapipe:
        mediapipe_remap(rgb, mediapipe_crop_matrix(roi, size), patch, cv2.BORDER_REPLICATE)
    else:
        cv2.warpAffine(rgb, roi.crop_matrix(size), (size, size), dst=patch,
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    np.multiply(patch, scale, out=tensor[0], casting="unsafe")
    return tensor


class RgbxCropper:
    """crop_into's warp of an RGB frame, through 4-channel pixels: the same output bytes in
    about half the time (OpenCV's bilinear warp has a fast path for 4-channel pixels but not
    for 3-channel ones; measured 79 vs 196 us for a 192x192 crop).

    Only the frame region that the crop's samples reach (their bounding box plus the bilinear
    neighbours) is widened to RGBX, into a frame-sized buffer kept between calls, and the warp
    reads that buffer with the crop's own matrix: each sample, weight and replicated edge is the
    whole frame's (a region of its own would need a shifted matrix, whose rounding moves some
    samples by 1/32 pixel).
    """

    def __init__(self, size: int) -> None:
        self._frame = np.empty((0, 0, 4), dtype=np.uint8)
        self._patch = np.empty((size, size, 4), dtype=np.uint8)

    def __call__(self, rgb: np.ndarray, roi: Roi, patch: np.ndarray, tensor: np.ndarray,
                 scale: np.float32) -> np.ndarray:
        """As crop_into(rgb, roi, patch, tensor, scale)."""
        import cv2

        h, w = rgb.shape[:2]
        size = patch.shape[0]
        if self._frame.shape[:2] != (h, w):
            self._frame = np.empty((h, w, 4), dtype=np.uint8)
        matrix = roi.crop_matrix(size)
        (a, b, c), (d, e, f) = matrix.tolist()  # Python floats: 4 corners cost less than numpy
        xs = (c, c + a * size, c + b * size, c + (a + b) * size)
        ys = (f, f + d * size, f + e * size, f + (d + e) * size)
        # A frame edge the samples pass stays in the region (replicated edges read it); a crop
        # wholly off the frame reads only the nearest row or column.
        x0 = min(max(math.floor(min(xs)) - 2, 0), w - 1)
        y0 = min(max(math.floor(min(ys)) - 2, 0), h - 1)
        x1 = max(min(math.ceil(max(xs)) + 3, w), x0 + 1)
        y1 = max(min(math.ceil(max(ys)) + 3, h), y0 + 1)
        cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA, dst=self._frame[y0:y1, x0:x1])
        cv2.warpAffine(self._frame, matrix, (size, size), dst=self._patch,
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        cv2.cvtColor(self._patch, cv2.COLOR_RGBA2RGB, dst=patch)
        np.multiply(patch, scale, out=tensor[0], casting="unsafe")
        return tensor


def mediapipe_crop_matrix(roi: Roi, out_size: int) -> np.ndarray:
    """3x3 homography from output-tensor pixels to image pixels, built as MediaPipe's
    ImageToTensorCalculator builds it: the ROI's corners (cv2.boxPoints, float32) onto the
    tensor's corners (cv2.getPerspectiveTransform), inverted. Equal to Roi.crop_matrix up to
    float32 rounding, which the 1/32-pixel sampling grid of mediapipe_remap can tell apart."""
    import cv2

    corners = cv2.boxPoints(((roi.cx, roi.cy), (roi.size, roi.size), math.degrees(roi.angle)))
    tensor_corners = np.array([[0, out_size], [0, 0], [out_size, 0], [out_size, out_size]], dtype=np.float32)
    return np.linalg.inv(cv2.getPerspectiveTransform(corners.astype(np.float32), tensor_corners))


_PIXEL_GRIDS: dict[tuple[int, int], np.ndarray] = {}
_LETTERBOX_MAPS: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}


def mediapipe_maps(to_image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap's fixed-point maps (CV_16SC2 whole pixels, 1/32-pixel fractions) for an output
    of height x width whose pixel (x, y) samples the source at to_image @ (x, y, 1) (3x3)."""
    import cv2

    grid = _PIXEL_GRIDS.get((height, width))
    if grid is None:
        # float32 pixel positions (exact): perspectiveTransform still computes in double and
        # rounds once to float32, the same values as from a float64 grid, with half the memory
        # and no conversion pass.
        grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)),
                        axis=-1).reshape(-1, 1, 2)
        _PIXEL_GRIDS[(height, width)] = grid
    source = cv2.perspectiveTransform(grid, to_image).reshape(height, width, 2)
    return cv2.convertMaps(source, None, cv2.CV_16SC2)


def mediapipe_remap(rgb: np.ndarray, to_image: np.ndarray, out: np.ndarray, border: int) -> None:
    """Fill `out` (uint8 HxWx3) with `rgb` sampled where the 3x3 `to_image` maps each output
    pixel, bilinearly, the way the OpenCV built into MediaPipe 0.10 warps: each source position
    rounded to 1/32 pixel and fixed-point interpolation weights (cv2.convertMaps + cv2.remap do
    exactly that). The OpenCV arfx installs (5.x) interpolates warpAffine/warpPerspective at
    the exact position; the crops differ by a few levels on some pixels, which moves the hand
    landmark model's answer by up to 1% of the hand's size on an uncertain hand and sets two
    trackers drifting apart.
    """
    import cv2

    whole, fraction = mediapipe_maps(to_image, *out.shape[:2])
    cv2.remap(rgb, whole, fraction, cv2.INTER_LINEAR, dst=out, borderMode=border, borderValue=(0, 0, 0))
