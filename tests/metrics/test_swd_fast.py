"""Video SWD's parts on tiny inputs (fast enough for every mutant of a mutation run).

tests/metrics/test_swd.py checks the metric on moving digits (seconds per call); these pin down each
step of PGGAN's protocol on clips of a few pixels: pyramid sizes, patch extents, the float16 store,
the per-set normalisation, the seeded random directions, and how the per-level values are combined.
"""

import numpy as np
import pytest
import torch

from provgan.metrics.swd import (DescriptorSet, SWDOptions, batch_descriptors, extract_patches,
                                 finalize_descriptors, laplacian_pyramid, pyr_down, pyr_up, pyramid_resolutions,
                                 sliced_wasserstein, swd_scores, video_swd)

TINY = SWDOptions(patches_per_clip=3, dir_repeats=2, dirs_per_repeat=5, seed=7)


def test_pyramid_resolutions_halve_the_short_side_down_to_the_minimum():
    assert pyramid_resolutions(32, 64) == [32, 16]
    assert pyramid_resolutions(32, 32, min_resolution=8) == [32, 16, 8]
    assert pyramid_resolutions(16, 16) == [16]
    assert pyramid_resolutions(15, 40) == [15]  # below the minimum: still one band


@pytest.mark.parametrize("h, t, p, pt", [(9, 5, 7, 3), (5, 2, 5, 2), (4, 4, 3, 3), (8, 1, 7, 1)])
def test_patches_shrink_to_the_largest_odd_size_that_fits(h, t, p, pt):
    band = torch.rand(2, 3, t, h, h + 1)
    patches = extract_patches(band, 4, SWDOptions(), np.random.default_rng(0))
    assert patches.shape == (8, 3, pt, p, p)


def test_pyr_up_has_four_times_the_gain_so_a_constant_survives_down_and_up():
    x = torch.full((1, 2, 3, 8, 8), 0.5)
    assert torch.allclose(pyr_down(x), torch.full((1, 2, 3, 4, 4), 0.5), atol=1e-6)
    assert torch.allclose(pyr_up(pyr_down(x)), x, atol=1e-6)


def test_batch_descriptors_are_float16_patches_of_each_band():
    clips = torch.rand(2, 3, 4, 32, 32) * 2 - 1
    got = batch_descriptors(clips, TINY, np.random.default_rng(1))
    rng = np.random.default_rng(1)
    bands = laplacian_pyramid(clips, 2)
    assert list(got) == [32, 16]
    for res, band in zip((32, 16), bands):
        want = extract_patches(band, 3, TINY, rng).astype(np.float16)
        assert got[res].dtype == np.float16 and np.array_equal(got[res], want)


def test_finalize_normalises_each_channel_over_the_whole_set():
    rng = np.random.default_rng(2)
    parts = [rng.normal([1.0, -3.0, 10.0], [2.0, 0.5, 4.0], size=(20, 2, 3, 3, 3)).transpose(0, 4, 1, 2, 3)
             for _ in range(2)]
    parts[0][:, 2] = 5.0  # part of the third channel is constant: the std stays finite
    desc = finalize_descriptors([p.astype(np.float16) for p in parts])
    assert desc.shape == (40, 3 * 2 * 3 * 3) and desc.dtype == np.float32
    per_channel = desc.reshape(40, 3, -1).transpose(1, 0, 2).reshape(3, -1)
    assert np.allclose(per_channel.mean(axis=1), 0.0, atol=1e-5) and np.allclose(per_channel.std(axis=1), 1.0, atol=1e-4)
    zero = finalize_descriptors([np.zeros((4, 1, 1, 1, 1), np.float16)])
    assert np.all(zero == 0.0)  # eps: a constant channel gives zeros, not NaN


def _sw_by_hand(a, b, repeats, dirs, rng):
    values = []
    for _ in range(repeats):
        d = rng.standard_normal((a.shape[1], dirs)).astype(np.float32)
        d = d / np.linalg.norm(d, axis=0)
        values.append(np.abs(np.sort(a @ d, axis=0) - np.sort(b @ d, axis=0)).mean())
    return float(np.mean(values))


def test_sliced_wasserstein_uses_unit_directions_and_sorted_projections():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((30, 6)).astype(np.float32), rng.standard_normal((30, 6)).astype(np.float32) + 0.4
    got = sliced_wasserstein(a, b, 3, 4, np.random.default_rng(9))
    assert got == pytest.approx(_sw_by_hand(a, b, 3, 4, np.random.default_rng(9)), rel=1e-5)
    assert sliced_wasserstein(2 * a, 2 * b, 3, 4, np.random.default_rng(9)) == pytest.approx(2 * got, rel=1e-5)
    with pytest.raises(ValueError, match=r"^sliced_wasserstein: descriptor sets differ in shape \(\(30, 6\) vs \(29, 6\)\)$"):
        sliced_wasserstein(a, b[:29], 1, 1, rng)


def test_descriptor_sets_draw_from_their_own_seeded_stream():
    clips = torch.rand(2, 3, 4, 16, 16)

    def patches(opts, stream):
        s = DescriptorSet(opts, stream)
        s.add(clips)
        s.add(clips)
        return s.parts[16]

    first = patches(TINY, 0)
    assert len(first) == 2 and not np.array_equal(first[0], first[1])  # one stream across batches
    assert all(np.array_equal(x, y) for x, y in zip(first, patches(TINY, 0)))
    assert not np.array_equal(first[0], patches(TINY, 1)[0])
    assert not np.array_equal(first[0], patches(SWDOptions(patches_per_clip=3, seed=8), 0)[0])
    rng = np.random.default_rng([7, 0])
    assert np.array_equal(first[0], batch_descriptors(clips, TINY, rng)[16])


def test_video_swd_is_the_mean_of_per_level_values_times_a_thousand():
    g = torch.Generator().manual_seed(4)
    real, fake = torch.rand(2, 3, 4, 32, 32, generator=g), torch.rand(2, 3, 4, 32, 32, generator=g) ** 2
    got = video_swd([real[:1], real[1:]], [fake], TINY)
    sets = DescriptorSet(TINY, 0), DescriptorSet(TINY, 1)
    sets[0].add(real[:1]), sets[0].add(real[1:]), sets[1].add(fake)
    d_real, d_fake = sets[0].finalize(), sets[1].finalize()
    rng = np.random.default_rng([7, 2])
    want = {f"swd_{r}": 1e3 * _sw_by_hand(d_real[r], d_fake[r], 2, 5, rng) for r in (32, 16)}
    assert list(got) == ["swd_32", "swd_16", "swd"]
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-4)
    assert got["swd"] == pytest.approx((want["swd_32"] + want["swd_16"]) / 2, rel=1e-4)
    assert swd_scores(*sets) == got


def test_video_swd_refuses_sets_of_different_clip_shapes():
    with pytest.raises(ValueError, match="^video_swd: real and generated clips have different shapes$"):
        video_swd([torch.rand(2, 3, 4, 32, 32)], [torch.rand(2, 3, 4, 16, 16)], TINY)


def test_descriptors_follow_the_short_side_and_the_options_minimum():
    rng = np.random.default_rng(5)
    assert list(batch_descriptors(torch.rand(1, 3, 2, 32, 16), TINY, rng)) == [16]
    small = SWDOptions(patches_per_clip=2, min_resolution=8)
    assert list(batch_descriptors(torch.rand(1, 3, 2, 32, 32), small, rng)) == [32, 16, 8]


def test_pyramid_filters_keep_the_clips_float_dtype():
    x = torch.rand(1, 1, 2, 8, 8, dtype=torch.float64)
    assert pyr_down(x).dtype == torch.float64 and pyr_up(x).dtype == torch.float64


def test_patch_positions_are_drawn_per_patch_over_every_offset():
    band = torch.arange(1 * 1 * 4 * 8 * 8, dtype=torch.float32).reshape(1, 1, 4, 8, 8)
    patches = extract_patches(band, 300, SWDOptions(), np.random.default_rng(6))  # 3x7x7 in 4x8x8
    corner = patches[:, 0, 0, 0, 0].astype(int)
    t, y, x = corner // 64, (corner // 8) % 8, corner % 8
    assert set(t) == {0, 1} and set(y) == {0, 1} and set(x) == {0, 1}
