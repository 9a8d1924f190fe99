"""Person segmentation: the uncertainty-weighted temporal blend, the guided-filter upsampling,
and the Segmenter on a real photo (scikit-image's astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from arfx.tracking.segmentation import (GuidedUpsampler, Segmenter, blend_with_previous, guided_upsample,
                                        quantised_uncertainty, uncertainty, working_size)


def _astronaut() -> np.ndarray:
    from skimage import data
    return data.astronaut()


@pytest.fixture(scope="module")
def general() -> Segmenter:
    with Segmenter(model_selection=0, smoothing=0.0) as segmenter:
        yield segmenter


# ----- smoothing and refinement, on synthetic values -------------------------------------------

def test_uncertainty_is_one_at_a_coin_flip_and_zero_when_sure():
    p = np.array([0.0, 1e-4, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], np.float32)
    u = uncertainty(p)
    assert u.dtype == np.float32
    assert u[4] == pytest.approx(1.0, abs=1e-6)
    assert u[0] == pytest.approx(0.0, abs=1e-4) and u[-1] == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(u, uncertainty(1 - p), atol=1e-5)  # symmetric
    assert np.all(np.diff(u[:5]) > 0)                           # rises towards 0.5
    assert u[3] == pytest.approx(0.811 ** 2, abs=2e-3)          # H(0.25) = 0.811 bits
    fine = np.linspace(0, 1, 10001, dtype=np.float32).reshape(1, -1)
    np.testing.assert_allclose(quantised_uncertainty(fine), uncertainty(fine), atol=6e-3)  # the Segmenter's


def test_blend_keeps_sure_pixels_and_holds_back_unsure_ones():
    new = np.array([[0.0, 1.0, 0.5, 0.5]], np.float32)
    previous = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    out = blend_with_previous(new, previous, 0.7)
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.85, 0.15]], atol=1e-4)
    assert blend_with_previous(new, None, 0.7) is new
    assert blend_with_previous(new, previous, 0.0) is new
    assert blend_with_previous(new, np.zeros((2, 2), np.float32), 0.7) is new  # another size
    # keep_decision: pulled towards the previous frame, but not across 0.5 nor within the margin
    unsure = np.array([[0.4, 0.6, 0.49, 0.45, 0.3]], np.float32)
    before = np.array([[1.0, 0.0, 1.0, 0.0, 0.35]], np.float32)
    assert (blend_with_previous(unsure, before, 0.7)[0, :3] > 0.5).tolist() == [True, False, True]  # crossed
    kept = blend_with_previous(unsure, before, 0.7, keep_decision=0.02)
    np.testing.assert_allclose(kept[0, :3], [0.48, 0.52, 0.49])  # stopped at the margin, or where it was
    np.testing.assert_allclose(kept[0, 3:], blend_with_previous(unsure, before, 0.7)[0, 3:])  # away from 0.5


def test_guided_upsampling_puts_the_edge_where_the_image_has_it():
    """A low-resolution mask edge a few pixels off the image's edge: bilinear resizing ramps
    evenly across the low-resolution pixel, the guided filter makes its steepest step exactly
    at the image's edge."""
    height, width = 240, 320
    guide = np.zeros((height, width, 3), np.uint8)
    guide[:, 170:] = 220                                       # the image's edge: x 169 -> 170
    low = np.zeros((60, 80), np.float32)
    low[:, 42:] = 1.0                                          # the mask's edge about x 164..168
    low[:, 41] = 0.5
    plain = cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)
    refined = guided_upsample(low, guide)
    assert refined.shape == (height, width) and refined.dtype == np.float32
    assert 0.0 <= refined.min() and refined.max() <= 1.0
    step_plain, step_refined = np.diff(plain[height // 2]), np.diff(refined[height // 2])
    assert int(np.argmax(step_refined)) == 169
    assert int(np.argmax(step_plain)) != 169
    assert step_refined.max() > 1.4 * step_plain.max()
    np.testing.assert_allclose(refined[:, :150], 0.0, atol=1e-3)  # away from edges: unchanged
    np.testing.assert_allclose(refined[:, 180:], 1.0, atol=1e-3)
    flat = GuidedUpsampler()(np.full((60, 80), 0.3, np.float32), guide)
    np.testing.assert_allclose(flat, 0.3, atol=1e-3)           # nothing to fit: unchanged


@pytest.mark.parametrize("frame,expected", [((720, 1280), (320, 180)), ((1080, 1920), (384, 216)),
                                            ((360, 640), (320, 180)), ((512, 512), (512, 512)),
                                            ((240, 320), (320, 240)), ((1137, 910), (303, 379))])
def test_working_size_divides_the_frame_when_it_can(frame, expected):
    assert working_size(*frame, side=384) == expected


# ----- the Segmenter on a real photo -----------------------------------------------------------

@pytest.mark.parametrize("model_selection", [0, 1])
def test_astronaut_is_segmented(model_selection):
    image = _astronaut()
    if model_selection == 1:  # the landscape model on a 16:9 frame
        image = np.ascontiguousarray(image[100:388])[:, :, :].copy()
        image = cv2.resize(image, (512, 288))
    with Segmenter(model_selection=model_selection, smoothing=0.0) as segmenter:
        mask = segmenter.process(image)
    height, width = image.shape[:2]
    assert mask.shape == (height, width) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    face = (100, 200) if model_selection == 0 else (20, 200)
    assert mask[face] > 0.9
    assert mask[int(height * 0.6), int(width * 0.3)] > 0.9    # her suit
    assert mask[5, 5] < 0.1 and mask[5, width - 5] < 0.1     # flag, wall/rocket


def test_refinement_stays_close_to_the_plain_mask(general):
    image = _astronaut()
    refined = general.process(image)
    general.refine_edges = False
    try:
        plain = general.process(image)
    finally:
        general.refine_edges = True
    a, b = refined > 0.5, plain > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.97


def test_smoothing_reduces_flicker_on_a_noisy_still():
    """A still photo with fresh camera-like noise in every frame: smoothing (and the guided
    filter) keep the mask's edge pixels from jumping between frames."""
    rng = np.random.default_rng(3)
    image = _astronaut().astype(np.int16)
    frames = [np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    flicker = {}
    for name, options in (("raw", dict(smoothing=0.0, refine_edges=False)), ("smoothed", {})):
        with Segmenter(**options) as segmenter:
            masks = np.array([segmenter.process(frame) for frame in frames])
        edge = (masks.mean(axis=0) > 0.05) & (masks.mean(axis=0) < 0.95)
        flicker[name] = float(np.abs(np.diff(masks[2:], axis=0))[:, edge].mean())
    assert flicker["smoothed"] < 0.6 * flicker["raw"], flicker


def test_smoothing_leaves_no_trail_behind_a_moving_person():
    """The person moves 48 px between frames: with smoothing on (the defaults) the mask's
    person/background boundary is the new frame's, as without smoothing; only soft values lean
    on the previous frame. (Pulling unsure pixels across 0.5 towards the last frame left a
    trail of background called person, and cost IoU against MediaPipe's unsmoothed mask.)"""
    first = _astronaut()
    second = np.roll(first, 48, axis=1)
    with Segmenter() as smoothed, Segmenter(smoothing=0.0) as fresh:
        smoothed.process(first)
        moved = smoothed.process(second)
        expected = fresh.process(second)
    a, b = moved > 0.5, expected > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.995
    softened = (np.abs(moved - expected) > 0.02).mean()
    assert softened > 0.002  # the blend still acts on unsure pixels


def test_a_new_frame_size_starts_afresh(general):
    general.smoothing = 0.7
    try:
        general.process(_astronaut())
        small = cv2.resize(_astronaut(), (256, 256))
        fresh = Segmenter(smoothing=0.0)
        np.testing.assert_allclose(general.probability(small), fresh.probability(small), atol=1e-6)
    finally:
        general.smoothing = 0.0
        general.reset()


def test_options_and_input_are_checked():
    with pytest.raises(ValueError, match="model_selection"):
        Segmenter(model_selection=2)
    with pytest.raises(ValueError, match="smoothing"):
        Segmenter(smoothing=1.0)
    with Segmenter() as segmenter, pytest.raises(ValueError, match="uint8"):
        segmenter.process(np.zeros((4, 4, 3), np.float32))
