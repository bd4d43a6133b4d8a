"""Video SWD: the pyramid matches OpenCV, reconstructs exactly, and the distance orders perturbed sets."""

import cv2
import numpy as np
import pytest
import torch

from provgan.data.moving_digits import render_clips
from provgan.metrics.classifier import to_tensor
from provgan.metrics.swd import (SWDOptions, extract_patches, laplacian_pyramid, pyr_down, pyr_up,
                                 pyramid_resolutions, sliced_wasserstein, video_swd)


def test_pyr_down_and_up_match_opencv():
    frame = np.random.default_rng(0).random((32, 24)).astype(np.float32)
    x = torch.from_numpy(frame)[None, None, None]  # (1, 1, 1, H, W)
    np.testing.assert_allclose(pyr_down(x)[0, 0, 0].numpy(), cv2.pyrDown(frame), atol=1e-5)
    small = cv2.pyrDown(frame)
    up = pyr_up(torch.from_numpy(small)[None, None, None])[0, 0, 0].numpy()
    np.testing.assert_allclose(up, cv2.pyrUp(small, dstsize=(24, 32)), atol=1e-5)


def test_laplacian_pyramid_collapses_back_to_the_clip():
    clips = torch.rand(2, 3, 4, 32, 32)
    bands = laplacian_pyramid(clips, 3)
    assert [b.shape[-1] for b in bands] == [32, 16, 8]
    x = bands[-1]
    for band in reversed(bands[:-1]):
        x = band + pyr_up(x)
    torch.testing.assert_close(x, clips, atol=1e-5, rtol=0)


def test_pyramid_resolutions_stop_at_16_like_pggan():
    assert pyramid_resolutions(64, 64) == [64, 32, 16]
    assert pyramid_resolutions(8, 8) == [8]  # small levels: one band


def test_patches_are_the_pixels_they_claim_to_be():
    band = torch.arange(2 * 3 * 5 * 9 * 9, dtype=torch.float32).reshape(2, 3, 5, 9, 9)
    rng = np.random.default_rng(0)
    patches = extract_patches(band, 4, SWDOptions(), rng)
    assert patches.shape == (8, 3, 3, 7, 7)
    flat = band.numpy()
    for p in patches:  # every patch is a contiguous 3x7x7 block of one clip, all channels aligned
        n, c, t, y, x = np.unravel_index(np.flatnonzero(flat == p[0, 0, 0, 0])[0], flat.shape)
        np.testing.assert_array_equal(p, flat[n, :, t:t + 3, y:y + 7, x:x + 7])


def test_sliced_wasserstein_of_shifted_gaussians_in_one_dimension():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((20000, 1)).astype(np.float32)
    # in 1-D every direction is +-1, so SWD is W1 between N(0,1) and N(0.5,1): 0.5
    assert sliced_wasserstein(a, a + 0.5, 2, 4, rng) == pytest.approx(0.5, abs=1e-5)


@pytest.fixture(scope="module")
def digit_sets():
    a, _ = render_clips(0, 0, 48, (8, 32, 32))
    b, _ = render_clips(1, 0, 48, (8, 32, 32))
    return to_tensor(a), to_tensor(b)


def test_video_swd_orders_increasingly_perturbed_sets(digit_sets):
    real, other = digit_sets
    g = torch.Generator().manual_seed(0)
    noisy = [(other + s * torch.randn(other.shape, generator=g)).clamp(-1, 1) for s in (0.05, 0.2, 0.5)]
    values = [video_swd([real], [y])["swd"] for y in [other, *noisy]]
    assert values == sorted(values) and values[0] * 1.5 < values[1]


def test_video_swd_sees_broken_motion(digit_sets):
    real, other = digit_sets
    shuffled = other[:, :, torch.tensor([3, 0, 6, 1, 7, 4, 2, 5])]  # same frames, incoherent order
    same, broken = video_swd([real], [other])["swd"], video_swd([real], [shuffled])["swd"]
    assert broken > 1.3 * same


def test_video_swd_streams_equal_one_batch_and_report_every_level(digit_sets):
    real, other = digit_sets
    whole = video_swd([real], [other])
    streamed = video_swd(real.split(16), other.split(16))
    assert set(whole) == {"swd_32", "swd_16", "swd"}
    assert whole["swd"] == pytest.approx(streamed["swd"], rel=0.05)  # same patches up to rng order
