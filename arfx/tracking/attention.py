"""478-point face landmarks: the attention model's mesh refined by its lips, eyes and irises."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from arfx.tracking._runner import ModelRunner
from arfx.tracking.landmarks import CROP_SIZE, LandmarkModel, sigmoid
from arfx.tracking.roi import Roi

# Which mesh landmark each point of a refined 2D subset replaces (MediaPipe's
# LandmarksRefinementCalculator configuration for face_landmark_with_attention).
LIPS = np.array([
    # lower outer, upper outer (no corners)
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291,
    185, 40, 39, 37, 0, 267, 269, 270, 409,
    # lower inner, upper inner (no corners)
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308,
    191, 80, 81, 82, 13, 312, 311, 310, 415,
    # lower semi-outer, upper semi-outer (no corners)
    76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306,
    184, 74, 73, 72, 11, 302, 303, 304, 408,
    # lower semi-inner, upper semi-inner (no corners)
    62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292,
    183, 42, 41, 38, 12, 268, 271, 272, 407,
], dtype=np.intp)

LEFT_EYE = np.array([
    # eye contour: lower, then upper without the corners
    33, 7, 163, 144, 145, 153, 154, 155, 133,
    246, 161, 160, 159, 158, 157, 173,
    # rings around it, each lower then upper
    130, 25, 110, 24, 23, 22, 26, 112, 243,
    247, 30, 29, 27, 28, 56, 190,
    226, 31, 228, 229, 230, 231, 232, 233, 244,
    113, 225, 224, 223, 222, 221, 189,
    35, 124, 46, 53, 52, 65,
    143, 111, 117, 118, 119, 120, 121, 128, 245,
    156, 70, 63, 105, 66, 107, 55, 193,
], dtype=np.intp)

RIGHT_EYE = np.array([
    263, 249, 390, 373, 374, 380, 381, 382, 362,
    466, 388, 387, 386, 385, 384, 398,
    359, 255, 339, 254, 253, 252, 256, 341, 463,
    467, 260, 259, 257, 258, 286, 414,
    446, 261, 448, 449, 450, 451, 452, 453, 464,
    342, 445, 444, 443, 442, 441, 413,
    265, 353, 276, 283, 282, 295,
    372, 340, 346, 347, 348, 349, 350, 357, 465,
    383, 300, 293, 334, 296, 336, 285, 417,
], dtype=np.intp)

# The first 16 points of each eye subset are its contour: an iris, whose depth the model
# does not predict, takes the mean depth of that contour.
EYE_CONTOUR = 16
LEFT_IRIS = np.arange(468, 473)   # centre, then right, top, left, bottom edge
RIGHT_IRIS = np.arange(473, 478)
NUM_POINTS = 478


# Every refined point's index in the 478, in the order of the model's subset outputs.
REFINED = np.concatenate([LIPS, LEFT_EYE, RIGHT_EYE, LEFT_IRIS, RIGHT_IRIS])
_CONTOURS = np.concatenate([LEFT_EYE[:EYE_CONTOUR], RIGHT_EYE[:EYE_CONTOUR]])


def refine(mesh: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """478 points [478, 3] from the 468-point mesh [468, 3] and the 2D subsets (lips, eyes,
    irises) as one array [len(REFINED), 2] in REFINED's order.

    Lips and eyes overwrite x, y of their mesh points and keep the mesh z; the irises are
    appended with the mean z of their eye's contour.
    """
    out = np.empty((NUM_POINTS, 3), dtype=np.float32)
    out[:468] = mesh
    out[REFINED, :2] = subsets
    out[468:, 2] = np.repeat(mesh[_CONTOURS, 2].reshape(2, EYE_CONTOUR).mean(axis=1), 5)
    return out


class AttentionLandmarkModel(LandmarkModel):
    """face_landmark_with_attention: 478 landmarks (irises included) and a presence score."""

    model_name = "face_landmark_with_attention.onnx"

    def run_crop(self, roi: Roi) -> tuple[np.ndarray, float]:
        """Landmarks float32 [478, 3] (x, y pixels; z pixels, relative) and presence 0..1 from
        the model input as the last `crop` (of `roi`) left it."""
        out = self._run()
        points = refine(out["output_mesh_identity"].reshape(468, 3), _subsets(out))
        presence = sigmoid(float(out["conv_faceflag"].reshape(-1)[0]))
        return roi.to_image(points, CROP_SIZE), presence

    def refine_mesh(self, rgb: np.ndarray, roi: Roi, mesh: np.ndarray) -> np.ndarray:
        """478 points from another model's 468-point mesh (image pixels) found in `roi`:
        this model's lips, eyes and irises in the same crop, laid over that mesh."""
        return overlay(self._model(self.crop(rgb, roi)), roi, mesh)


def overlay(out: dict[str, np.ndarray], roi: Roi, mesh: np.ndarray) -> np.ndarray:
    """The attention model's outputs `out` for the crop of `roi` laid over a 468-point mesh."""
    return refine(mesh[:468], roi.to_image(_subsets(out), CROP_SIZE))


def _subsets(out: dict[str, np.ndarray]) -> np.ndarray:
    """The model's lips, eyes and irises outputs as one array [len(REFINED), 2] (crop pixels)."""
    return np.concatenate([out[name].reshape(-1, 2) for name in _SUBSET_OUTPUTS])


_SUBSET_OUTPUTS = tuple(f"output_{part}" for part in
                        ("lips", "left_eye", "right_eye", "left_iris", "right_iris"))


class ConcurrentRefiner:
    """The 468-point model and the attention model on the same crop at the same time.

    With refine_landmarks the tracker runs the 468-point model on a crop to decide whether it
    holds a face, and the attention model refines that face in the same crop. Both only read
    the crop, and ONNX Runtime releases the GIL while a model runs, so `look` runs the
    468-point model in a worker thread while the caller's thread runs the attention model: a
    crop takes about the longer model's time instead of both (when a second core is free).
    The shorter model is the one handed over, so the time a busy machine takes to wake the
    worker hides behind the attention model. A crop the 468-point model then rejects (no
    face, or looked at again from another crop) wastes its attention run. Results equal
    AttentionLandmarkModel.refine_mesh's.
    """

    def __init__(self, threads: int = 1) -> None:
        self._model = ModelRunner(AttentionLandmarkModel.model_name, threads=threads)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="arfx-refine")
        self._done: list[tuple[Roi, dict[str, np.ndarray]]] = []  # attention outputs by crop

    def look(self, landmarks: LandmarkModel, roi: Roi, crop: np.ndarray
             ) -> tuple[np.ndarray, float]:
        """`landmarks.run_crop(roi)` (its input `crop` holds `roi`), with the attention model
        run on `crop` meanwhile; its outputs wait for `refine_mesh(roi, ...)`."""
        mesh = self._pool.submit(landmarks.run_crop, roi)
        self._done.append((roi, self._model(crop)))
        return mesh.result()

    def refine_mesh(self, roi: Roi, mesh: np.ndarray) -> np.ndarray:
        """As AttentionLandmarkModel.refine_mesh, from `look`'s run on this very `roi` (every
        face the tracker keeps was found through `look`)."""
        for k, (looked, out) in enumerate(self._done):
            if looked is roi:
                del self._done[k]
                return overlay(out, roi, mesh)
        raise LookupError("refine_mesh: look() never ran on this crop")

    def forget(self) -> None:
        """Drop the attention outputs of crops that were not refined (end of a frame)."""
        self._done.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._done.clear()
        self._model = None
