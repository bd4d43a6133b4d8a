import math

import numpy as np
import pytest
import torch

from provgan.nn.layers import (EqualizedConv3d, EqualizedLinear, MinibatchStdDev, PixelNorm, downsample,
                               upsample)


@pytest.mark.parametrize("cin", [1, 8, 128])
def test_equalized_conv_runtime_scale_is_gain_over_sqrt_27_cin(cin):
    conv = EqualizedConv3d(cin, 4)
    assert conv.weight_gain == pytest.approx(math.sqrt(2) / math.sqrt(27 * cin))
    assert torch.all(conv.bias == 0)


def test_equalized_conv_effective_init_std():
    torch.manual_seed(0)
    conv = EqualizedConv3d(64, 64)
    effective = conv.weight * conv.weight_gain
    assert effective.std().item() == pytest.approx(math.sqrt(2 / (27 * 64)), rel=0.02)
    assert conv.weight.std().item() == pytest.approx(1.0, rel=0.02)  # stored weights are N(0, 1)
    x = torch.randn(3, 64, 4, 5, 6)
    ref = torch.nn.functional.conv3d(x, effective, conv.bias, padding=1)
    assert torch.allclose(conv(x), ref, atol=1e-5)


def test_equalized_linear_and_1x1_gains():
    lin = EqualizedLinear(128, 8192, gain=math.sqrt(2) / 4)
    assert lin.weight_gain == pytest.approx(math.sqrt(2) / 4 / math.sqrt(128))
    to_rgb = EqualizedConv3d(8, 3, kernel_size=1, gain=1.0)
    assert to_rgb.weight_gain == pytest.approx(1 / math.sqrt(8))


def test_pixel_norm_eq_4_1():
    x = torch.randn(2, 5, 3, 4, 4)
    y = PixelNorm()(x).numpy()
    xn = x.numpy()
    ref = xn / np.sqrt((xn ** 2).mean(axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(y, ref, rtol=1e-5)


def test_minibatch_stddev_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 2, 4, 4)).astype(np.float32)
    out = MinibatchStdDev(group_size=4)(torch.from_numpy(x)).numpy()
    # hand-written: strided groups -> sample n is in group n % M, M = N / 4
    n, m = 8, 2
    expected = np.zeros(n)
    for group in range(m):
        members = x[group::m]  # samples group, group+M, ...
        std = np.sqrt(((members - members.mean(axis=0)) ** 2).mean(axis=0) + 1e-8)
        expected[group::m] = std.mean()
    assert out.shape == (8, 4, 2, 4, 4)
    np.testing.assert_allclose(out[:, :3], x)
    for i in range(n):
        np.testing.assert_allclose(out[i, 3], expected[i], rtol=1e-5)


def test_minibatch_stddev_odd_batch_uses_a_divisor():
    out = MinibatchStdDev(4)(torch.randn(6, 2, 1, 2, 2))  # group 3
    assert out.shape == (6, 3, 1, 2, 2)
    single = MinibatchStdDev(4)(torch.randn(1, 2, 1, 2, 2))[:, 2]  # one sample: std = sqrt(eps)
    assert torch.allclose(single, torch.full_like(single, 1e-4))


@pytest.mark.parametrize("factor", [(2, 2, 2), (1, 2, 2)])
def test_resampling(factor):
    x = torch.randn(2, 3, 4, 4, 4)
    up = upsample(x, factor)
    assert up.shape == (2, 3, 4 * factor[0], 8, 8)
    assert torch.equal(up[:, :, :: factor[0], ::2, ::2], x)
    assert torch.allclose(downsample(up, factor), x, atol=1e-6)
    y = torch.randn(1, 1, 4, 4, 4)
    manual = y.reshape(1, 1, 4 // factor[0], factor[0], 2, 2, 2, 2).mean(dim=(3, 5, 7))
    assert torch.allclose(downsample(y, factor), manual, atol=1e-6)
