"""Person segmentation as MediaPipe SelfieSegmentation does it, with steadier edges.

The model side follows MediaPipe 0.10.21's legacy selfie segmentation graph (facts, not code):

- model_selection 0: the general model, input 256x256; 1: the landscape model, input 144x256
  (height x width), made for 16:9 frames and about twice as fast.
- The whole frame is resized to the input (aspect ratio not kept, bilinear, pixel corners
  mapped to pixel corners), RGB in [0, 1];
  the output is a person probability per input pixel (the sigmoid is inside the model), which
  MediaPipe resizes bilinearly to the frame.

What arfx adds (MediaPipe's SelfieSegmentation has neither):

- Temporal smoothing (`smoothing` > 0): each new probability is pulled towards the previous
  frame's by `smoothing * u(p)`, where u(p) = H(p)^2 and H is the binary entropy in bits:
  1 at p = 0.5, 0 at p = 0 or 1. Sure pixels follow the new frame at once; unsure ones (hair,
  edges, noise) move slowly, so they stop flickering. MediaPipe Pose smooths its own mask the
  same way (ratio 0.7) and `PoseTracker` uses `blend_with_previous` for it. The Segmenter
  also keeps each pixel on the side of 0.5 the new frame puts it, and no closer to 0.5 than
  `DECISION_MARGIN` unless the new frame put it there (`keep_decision`): the current frame
  decides what is person, the history only steadies how sure each soft pixel is. Without
  that, unsure pixels the new frame calls person stayed background for several frames (a
  moving person left a trail; after a cut the last shot's outline lingered). On
  short_hamilton_clip.mp4 with the general model and edge refinement (scripts/compare_pose.py):
  mask IoU against MediaPipe's unsmoothed mask 0.864 before, 0.96 now; the soft edges'
  mean frame-to-frame change on the still shots 0.094 for MediaPipe, 0.093 unsmoothed,
  0.058 before, 0.064 now (landscape model: IoU 0.923 -> 0.977; flicker 0.064, 0.061, 0.041,
  0.044).
- Edge refinement (`refine_edges`): a guided filter (He et al.) with the frame's luminance as
  the guide, at a working resolution (long side near `REFINE_SIDE`, about 1.5x the model's), then
  resized to the frame. The mask's edges snap to the image's edges (hair, shoulders) instead of
  the model's 256-pixel grid. With refinement the temporal smoothing runs on the refined mask
  (so it also steadies what the guide's noise adds), without it on the model's output.

`Segmenter.process` returns float32 HxW in [0, 1], the same size as the frame.
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from arfx.tracking._runner import ModelRunner

log = logging.getLogger(__name__)

SELFIE_MODELS = {0: "selfie_segmentation.onnx", 1: "selfie_segmentation_landscape.onnx"}
INPUT_SIZES = {0: (256, 256), 1: (144, 256)}  # (height, width)
REFINE_SIDE = 384           # long side of the guided filter's working resolution
REFINE_RADIUS = 2           # box radius at that resolution
REFINE_EPS = 1e-4           # regularisation (guide in [0, 1]): smaller follows image edges more
COEFF_SUBSAMPLE = 2         # the filter's coefficients are fitted at 1/2 the working size
_UNIT = np.float32(1 / 255)
DECISION_MARGIN = 0.02      # smoothing keeps pixels at least this far on the new frame's side of 0.5
_LOG2 = np.float32(1 / np.log(2))


def uncertainty(p: np.ndarray) -> np.ndarray:
    """H(p)^2, H the binary entropy in bits: 1 at p = 0.5, 0 at p = 0 or 1 (float32)."""
    q = np.clip(p, 1e-6, 1 - 1e-6).astype(np.float32, copy=False)
    h = -(q * np.log(q) + (1 - q) * np.log1p(-q)) * _LOG2
    return h * h


_UNCERTAINTY_TABLE = uncertainty(np.arange(256, dtype=np.float32) / np.float32(255)).reshape(1, 256)


def quantised_uncertainty(p: np.ndarray) -> np.ndarray:
    """`uncertainty(p)` looked up on p rounded to 1/255: within 0.006 of the exact value and
    no logarithms (0.02 instead of 0.2-0.65 ms at 320x180), for the Segmenter's own smoothing,
    where no parity with MediaPipe is at stake (the pose mask keeps the exact weights)."""
    return cv2.LUT(cv2.convertScaleAbs(p, alpha=255.0), _UNCERTAINTY_TABLE)


def blend_with_previous(new: np.ndarray, previous: np.ndarray | None, ratio: float,
                        keep_decision: float | None = None, weigh=uncertainty) -> np.ndarray:
    """`new` pulled towards `previous` by ratio * uncertainty(new) (see the module notes).

    weigh: how unsure each new value is (`uncertainty`, or `quantised_uncertainty` where
    MediaPipe's exact weights need not be matched).
    keep_decision (a margin m): the blend moves no pixel closer to 0.5 than 0.5 +- m unless
    `new` already lies there, and never across 0.5, so the person/background boundary stays
    the new frame's (for any threshold within m of 0.5) while soft edges are steadied.
    """
    if previous is None or ratio <= 0 or previous.shape != new.shape:
        return new
    weight = weigh(new)
    weight *= np.float32(ratio)
    out = np.subtract(previous, new, dtype=np.float32)
    out *= weight
    out += new
    if keep_decision is not None:
        # the bound is min(new, 0.5 + m) on the person side, max(new, 0.5 - m) on the other
        margin = np.float32(keep_decision)
        bound = np.clip(new, np.float32(0.5) - margin, np.float32(0.5) + margin)
        out = np.where(new > 0.5, np.maximum(out, bound), np.minimum(out, bound))
    return out


def working_size(height: int, width: int, side: int) -> tuple[int, int]:
    """(width, height) of the frame shrunk by a whole number that brings its long side near
    `side`, preferring one that divides both sides (OpenCV's area averaging by an exact integer
    factor is several times faster than by a fractional one): 1280x720 -> 320x180, 1920x1080
    -> 384x216, 640x360 -> 320x180, 512x512 -> itself."""
    target = max(height, width) / side
    common = math.gcd(height, width)
    exact = [f for f in range(1, common + 1) if common % f == 0 and f <= 2 * target + 1]
    factor = min(exact, key=lambda f: abs(math.log(f / target)) if target > 0 else f)
    if abs(math.log(factor / max(target, 1e-6))) > math.log(1.5):  # no good divisor: round
        factor = max(1, round(target))
    return max(1, width // factor), max(1, height // factor)


def shrink(image: np.ndarray, size: tuple[int, int], dst: np.ndarray) -> None:
    """`image` averaged down to `size` (width, height) into `dst`. A power-of-two factor is
    taken as repeated halvings with bilinear sampling, which at an exact factor 2 averages each
    2x2 block: the same picture as OpenCV's area averaging (within 1 level of rounding) at a
    quarter of its time for 1280x720 -> 320x180 (0.37 vs 1.3 ms)."""
    height, width = image.shape[:2]
    factor = width // size[0]
    if factor < 4 or factor & (factor - 1) or width != factor * size[0] or height != factor * size[1]:
        cv2.resize(image, size, dst=dst, interpolation=cv2.INTER_AREA)
        return
    while factor > 2:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
        factor //= 2
    cv2.resize(image, size, dst=dst, interpolation=cv2.INTER_LINEAR)


class GuidedUpsampler:
    """A low-resolution mask resized to the frame with its edges fitted to the frame's.

    A guided filter at a working size (`working_size`), computed the fast way (He and Sun's
    subsampled form): in every (2 radius + 1)^2 window of the guide shrunk by `COEFF_SUBSAMPLE`
    fit mask = a * luminance + b, average a and b over windows, enlarge a and b bilinearly to
    the working size and apply them to the luminance there; the result is resized to the frame
    bilinearly. The edges still come from the working-size luminance, while the window sums run
    on a quarter of the pixels (on the development clip the refined mask differs from the
    full-size filter's by 0.002 on average, IoU 0.99, for about half the time). Applying a and b
    to the full-resolution luminance instead would pass the camera's pixel noise into the mask
    and cost more. Buffers are kept between calls of one frame size.
    """

    def __init__(self, side: int = REFINE_SIDE, radius: int = REFINE_RADIUS, eps: float = REFINE_EPS) -> None:
        self.side, self.radius, self.eps = int(side), int(radius), np.float32(eps)
        self._shape: tuple[int, int] | None = None

    def _allocate(self, height: int, width: int) -> None:
        self._small = working_size(height, width, self.side)
        sw, sh = self._small
        self._coarse = (max(1, sw // COEFF_SUBSAMPLE), max(1, sh // COEFF_SUBSAMPLE))
        cw, ch = self._coarse
        self._rgb_small = np.empty((sh, sw, 3), np.uint8)
        self._gray_small = np.empty((sh, sw), np.uint8)
        self._guide = np.empty((sh, sw), np.float32)
        self._a_full, self._b_full = np.empty((sh, sw), np.float32), np.empty((sh, sw), np.float32)
        self._s = {name: np.empty((ch, cw), np.float32) for name in ("i", "p", "mi", "mp", "t", "mt", "a", "b")}
        self._shape = (height, width)

    def fit(self, mask: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        """The refined mask at the working size (float32, a new array)."""
        height, width = rgb.shape[:2]
        if self._shape != (height, width):
            self._allocate(height, width)
        s, border = self._s, cv2.BORDER_REFLECT
        # the window keeps its size in working-size pixels at the coarse scale
        box = (2 * max(1, round(self.radius / COEFF_SUBSAMPLE)) + 1,) * 2
        shrink(rgb, self._small, self._rgb_small)
        cv2.cvtColor(self._rgb_small, cv2.COLOR_RGB2GRAY, dst=self._gray_small)
        np.multiply(self._gray_small, _UNIT, out=self._guide, casting="unsafe")
        cv2.resize(self._guide, self._coarse, dst=s["i"], interpolation=cv2.INTER_AREA)
        cv2.resize(mask.astype(np.float32, copy=False), self._coarse, dst=s["p"], interpolation=cv2.INTER_LINEAR)
        cv2.boxFilter(s["i"], cv2.CV_32F, box, dst=s["mi"], borderType=border)
        cv2.boxFilter(s["p"], cv2.CV_32F, box, dst=s["mp"], borderType=border)
        # a = cov(I, p) / (var(I) + eps), b = mean(p) - a mean(I)
        np.multiply(s["i"], s["p"], out=s["t"])
        cv2.boxFilter(s["t"], cv2.CV_32F, box, dst=s["mt"], borderType=border)
        np.multiply(s["mi"], s["mp"], out=s["t"])
        np.subtract(s["mt"], s["t"], out=s["a"])                      # cov(I, p)
        np.multiply(s["i"], s["i"], out=s["t"])
        cv2.boxFilter(s["t"], cv2.CV_32F, box, dst=s["mt"], borderType=border)
        np.multiply(s["mi"], s["mi"], out=s["t"])
        np.subtract(s["mt"], s["t"], out=s["t"])                      # var(I)
        s["t"] += self.eps
        np.divide(s["a"], s["t"], out=s["a"])
        np.multiply(s["a"], s["mi"], out=s["t"])
        np.subtract(s["mp"], s["t"], out=s["b"])
        cv2.boxFilter(s["a"], cv2.CV_32F, box, dst=s["mi"], borderType=border)
        cv2.boxFilter(s["b"], cv2.CV_32F, box, dst=s["mp"], borderType=border)
        cv2.resize(s["mi"], self._small, dst=self._a_full, interpolation=cv2.INTER_LINEAR)
        cv2.resize(s["mp"], self._small, dst=self._b_full, interpolation=cv2.INTER_LINEAR)
        out = self._a_full * self._guide
        out += self._b_full
        return np.clip(out, 0.0, 1.0, out=out)

    def __call__(self, mask: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        """`mask` (any size, [0, 1]) refined and resized to `rgb`'s size (float32, a new array)."""
        refined = self.fit(mask, rgb)
        height, width = rgb.shape[:2]
        if refined.shape == (height, width):
            return refined
        return cv2.resize(refined, (width, height), interpolation=cv2.INTER_LINEAR)


def guided_upsample(mask: np.ndarray, rgb: np.ndarray, side: int = REFINE_SIDE, radius: int = REFINE_RADIUS,
                    eps: float = REFINE_EPS) -> np.ndarray:
    """One-off `GuidedUpsampler` call."""
    return GuidedUpsampler(side, radius, eps)(mask, rgb)


class Segmenter:
    """Person probability per pixel from MediaPipe's selfie segmentation models.

    model_selection: 0 general (256x256), 1 landscape (144x256), as MediaPipe's option.
    smoothing: how far unsure pixels lean on the previous frame (0 turns it off; see the module
    notes; pixels never cross 0.5 against the new frame). Use 0, or call `reset()`, when the
    frames are unrelated images.
    refine_edges: fit the mask's edges to the frame with a guided filter (else bilinear
    resize, as MediaPipe does).
    """

    def __init__(self, model_selection: int = 0, smoothing: float = 0.7, refine_edges: bool = True,
                 threads: int = 1) -> None:
        if model_selection not in SELFIE_MODELS:
            raise ValueError(f"model_selection must be 0 (general) or 1 (landscape), not {model_selection!r}")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), not {smoothing!r}")
        self.model_selection = int(model_selection)
        self.smoothing = float(smoothing)
        self.refine_edges = bool(refine_edges)
        self._model = ModelRunner(SELFIE_MODELS[self.model_selection], threads=threads)
        self._output = self._model.output_names[0]
        height, width = INPUT_SIZES[self.model_selection]
        self._size = (width, height)
        self._resized = np.empty((height, width, 3), dtype=np.uint8)
        self._input = np.empty((1, height, width, 3), dtype=np.float32)
        self._run_model = self._model.bound(self._input)  # output reused: see probability()
        self._previous: np.ndarray | None = None  # last probability at the model's resolution
        self._frame_shape: tuple[int, int] | None = None
        self._upsampler = GuidedUpsampler()

    def reset(self) -> None:
        """Forget the previous frame (the next one is not smoothed)."""
        self._previous = None

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        # Pixel corners to pixel corners (tensor px * frame/tensor = frame px), as MediaPipe
        # samples the frame; cv2.resize's centre alignment moves the mask by up to a pixel.
        height, width = rgb.shape[:2]
        matrix = np.array([[width / self._size[0], 0.0, 0.0], [0.0, height / self._size[1], 0.0]])
        cv2.warpAffine(rgb, matrix, self._size, dst=self._resized, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE)
        np.multiply(self._resized, _UNIT, out=self._input[0], casting="unsafe")
        if rgb.shape[:2] != self._frame_shape:  # another video or image size: nothing to lean on
            self._previous, self._frame_shape = None, rgb.shape[:2]
        return self._run_model()[self._output][0, :, :, 0]

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """The smoothed probability, unrefined, at the model's resolution (float32 h x w)."""
        raw = self._run(rgb)
        prob = blend_with_previous(raw, self._previous, self.smoothing, DECISION_MARGIN, quantised_uncertainty)
        if prob is raw:  # the model's output buffer, overwritten by the next frame
            prob = raw.copy()
        self._previous = prob
        return prob

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Person probability for one HxWx3 uint8 RGB frame: float32 HxW in [0, 1]."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        height, width = rgb.shape[:2]
        if not self.refine_edges:
            return cv2.resize(self.probability(rgb), (width, height), interpolation=cv2.INTER_LINEAR)
        refined = self._upsampler.fit(self._run(rgb), rgb)
        refined = blend_with_previous(refined, self._previous, self.smoothing, DECISION_MARGIN,
                                      quantised_uncertainty)
        self._previous = refined
        if refined.shape == (height, width):
            return refined
        return cv2.resize(refined, (width, height), interpolation=cv2.INTER_LINEAR)

    def close(self) -> None:
        self._model = self._run_model = None
        self._previous = None

    def __enter__(self) -> "Segmenter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
