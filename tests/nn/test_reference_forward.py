"""G and D against a functional re-implementation of Table A.1 / A.2, written out from their weights.

Each network's forward is recomputed here with plain torch functions (conv3d with the weights times
``gain / sqrt(fan_in)``, LReLU 0.2, eq. 4.1's pixel norm, nearest upsampling, box pooling, the
minibatch-stddev channel, §4.1's fade) at every level, stable and fading, so any change to the order
or the parts of a block, to a gain, or to which toRGB/fromRGB a fade uses shows up as a mismatch.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from provgan.config import load_config
from provgan.nn import Discriminator, Generator
from provgan.nn.layers import (EqualizedConv3d, EqualizedLinear, MinibatchStdDev, PixelNorm, assert_shape,
                               pixel_norm)

CFG = load_config("tiny", ["model.d_channels=[12,6,4]"]).model  # D's channels differ from G's


def _conv(layer, x):
    o, i, k = layer.weight.shape[:3]
    w = layer.weight * (layer._test_gain / math.sqrt(i * k ** 3))  # the gain Table A.1 gives it
    return F.conv3d(x, w, layer.bias, padding=k // 2)


def _dense(layer, x):
    return F.linear(x, layer.weight * (layer._test_gain / math.sqrt(layer.weight.shape[1])), layer.bias)


def _lrelu(x):
    return torch.where(x >= 0, x, 0.2 * x)


def _pn(x):
    return x / torch.sqrt((x ** 2).mean(dim=1, keepdim=True) + 1e-8)


def _up(x, f):
    for dim, k in zip((2, 3, 4), f):
        x = x.repeat_interleave(k, dim=dim)
    return x


def _pool(x, f):
    n, c, t, h, w = x.shape
    return x.reshape(n, c, t // f[0], f[0], h // f[1], f[1], w // f[2], f[2]).mean(dim=(3, 5, 7))


def _mbstd(x, group=4):
    n = x.shape[0]
    g = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    m = n // g
    stds = []
    for j in range(m):
        members = x[j::m]
        stds.append(torch.sqrt(((members - members.mean(0)) ** 2).mean(0) + 1e-8).mean())
    col = torch.stack([stds[i % m] for i in range(n)]).reshape(n, 1, 1, 1, 1).expand(n, 1, *x.shape[2:])
    return torch.cat([x, col], dim=1)


def _label_gains(g, d):
    """Tag each layer with its gain by Table A.1's rules (sqrt 2; sqrt(2)/4 for G's first dense;
    1 for toRGB and D's score), independently of what the layers computed for themselves."""
    root2 = math.sqrt(2)
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (EqualizedConv3d, EqualizedLinear)):
            m._test_gain = root2
    g.blocks[0].dense._test_gain = root2 / 4
    for rgb in g.to_rgb:
        rgb._test_gain = 1.0
    if d.score is not None:
        d.score._test_gain = 1.0


def _factor(level):
    a, b = CFG.plan[level - 1], CFG.plan[level]
    return (b[0] // a[0], 2, 2)


def _g_ref(g, z, level, alpha):
    b0 = g.blocks[0]
    dense = F.linear(_pn(z), b0.dense.weight * (b0.dense._test_gain / math.sqrt(CFG.latent_dim)))
    h = dense.reshape(z.shape[0], CFG.g_channels[0], *CFG.plan[0])  # no bias per unit: one per channel
    h = _pn(_lrelu(h + b0.bias.view(1, -1, 1, 1, 1)))
    h = _pn(_lrelu(_conv(b0.conv, h)))
    for lv in range(1, level):
        blk = g.blocks[lv]
        h = _pn(_lrelu(_conv(blk.conv1, _pn(_lrelu(_conv(blk.conv0, _up(h, _factor(lv))))))))
    if level == 0:
        return _conv(g.to_rgb[0], h)
    blk = g.blocks[level]
    new = _conv(g.to_rgb[level], _pn(_lrelu(_conv(blk.conv1, _pn(_lrelu(_conv(blk.conv0, _up(h, _factor(level)))))))))
    old = _up(_conv(g.to_rgb[level - 1], h), _factor(level))
    return new if alpha >= 1 else (1 - alpha) * old + alpha * new


def _d_ref(d, x, level, alpha):
    def block(lv, h):
        blk = d.blocks[lv]
        return _pool(_lrelu(_conv(blk.conv1, _lrelu(_conv(blk.conv0, h)))), _factor(lv))

    h = _lrelu(_conv(d.from_rgb[level].conv, x))
    if level > 0:
        h = block(level, h)
        if alpha < 1:
            old = _lrelu(_conv(d.from_rgb[level - 1].conv, _pool(x, _factor(level))))
            h = (1 - alpha) * old + alpha * h
    for lv in range(level - 1, 0, -1):
        h = block(lv, h)
    ep = d.epilogue
    h = _lrelu(_conv(ep.conv, _mbstd(h)))
    return _lrelu(_dense(ep.dense, h.flatten(1)))


@pytest.fixture
def nets():  # built per test, so a mutation run credits each test with the constructors it runs
    torch.manual_seed(0)
    g, d = Generator(CFG), Discriminator(CFG)
    with torch.no_grad():  # non-zero biases so a dropped bias shows
        for p in list(g.parameters()) + list(d.parameters()):
            if p.ndim == 1:
                p.normal_(0, 0.3)
    _label_gains(g, d)
    return g, d


@pytest.mark.parametrize("level, alpha", [(0, 1.0), (1, 0.3), (1, 1.0), (2, 0.6), (2, 1.0)])
def test_generator_equals_table_a1_written_out(nets, level, alpha):
    g, _ = nets
    z = torch.randn(6, CFG.latent_dim)
    with torch.no_grad():
        out, ref = g(z, level, alpha), _g_ref(g, z, level, alpha)
    assert out.shape == (6, 3, *CFG.plan[level])
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("level, alpha", [(0, 1.0), (1, 0.3), (1, 1.0), (2, 0.6), (2, 1.0)])
def test_discriminator_equals_table_a2_written_out(nets, level, alpha):
    _, d = nets
    x = torch.randn(6, 3, *CFG.plan[level])
    with torch.no_grad():
        e, ref = d.features(x, level, alpha), _d_ref(d, x, level, alpha)
        score = d(x, level, alpha)
    assert e.shape == (6, CFG.feature_dim) and torch.allclose(e, ref, atol=1e-5, rtol=1e-4)
    assert score.shape == (6,) and torch.allclose(score, _dense(d.score, ref).squeeze(1), atol=1e-5, rtol=1e-4)


def test_default_level_is_the_top_and_out_of_range_levels_are_refused(nets):
    g, d = nets
    z = torch.randn(2, CFG.latent_dim)
    with torch.no_grad():
        assert torch.equal(g(z), g(z, 2, 1.0))
        x = torch.randn(2, 3, *CFG.plan[2])
        assert torch.equal(d.features(x), d.features(x, 2, 1.0))
    for level in (-1, 3):
        with pytest.raises(ValueError, match=f"^level {level} is outside this 3-level generator$"):
            g(z, level)
        with pytest.raises(ValueError, match=f"^level {level} is outside this 3-level discriminator$"):
            d.features(x, level)
    assert g.output_shape(1) == (3, 4, 8, 8) and d.input_shape(2) == (3, 8, 16, 16)
    assert g.num_levels == d.num_levels == 3


def test_shape_errors_name_what_and_both_shapes():
    with pytest.raises(ValueError, match=r"^generator latent: expected shape \*x16, got 2x15$"):
        Generator(CFG)(torch.randn(2, 15))
    with pytest.raises(ValueError, match=r"^discriminator input at level 1: expected shape \*x3x4x8x8, got 2x3x4x8x9$"):
        Discriminator(CFG).features(torch.randn(2, 3, 4, 8, 9), 1)
    with pytest.raises(ValueError, match=r"^t: expected shape 2x\*, got 2$"):
        assert_shape(torch.zeros(2), [2, None], "t")
    assert_shape(torch.zeros(2, 5), [2, None], "t")


def test_a_discriminator_without_its_scalar_head_says_so():
    d = Discriminator(CFG, score_head=False)
    assert d.score is None
    with pytest.raises(RuntimeError, match=r"^this discriminator was built without a scalar head \(SWGAN uses the sliced head\)$"):
        d(torch.randn(2, 3, *CFG.plan[2]))


def test_generator_parameter_count_per_level_counts_its_blocks_and_its_own_torgb():
    g = Generator(CFG)
    for level in range(3):
        modules = list(g.blocks[:level + 1]) + [g.to_rgb[level]]
        assert g.num_parameters(level) == sum(p.numel() for m in modules for p in m.parameters())
    assert g.num_parameters() == g.num_parameters(2)


def test_layer_reprs_and_norm_helpers():
    assert repr(EqualizedConv3d(4, 2, kernel_size=1, gain=1.0)).endswith("(4->2, k=1, weight_gain=0.5)")
    assert repr(EqualizedLinear(16, 3, gain=2.0)).endswith("(16->3, weight_gain=0.5)")
    x = torch.randn(2, 5, 1, 2, 2) * 1e-5
    assert torch.allclose(PixelNorm()(x), _pn(x)) and torch.allclose(pixel_norm(x), _pn(x))
    assert torch.allclose(PixelNorm(eps=1.0)(x), x / torch.sqrt((x ** 2).mean(1, keepdim=True) + 1.0))
    assert torch.allclose(pixel_norm(x, eps=1.0), x / torch.sqrt((x ** 2).mean(1, keepdim=True) + 1.0))
    y = torch.randn(8, 3, 2, 2, 2)
    assert torch.allclose(MinibatchStdDev()(y), _mbstd(y, 4), atol=1e-6)
    assert torch.allclose(MinibatchStdDev(2)(y), _mbstd(y, 2), atol=1e-6)
    assert torch.allclose(MinibatchStdDev(4, eps=1.0)(y)[:, 3], _mbstd_eps(y, 1.0), atol=1e-6)
    bf = MinibatchStdDev()(y.bfloat16())
    assert bf.dtype == torch.bfloat16


def _mbstd_eps(x, eps):
    m = x.shape[0] // 4
    col = torch.stack([torch.sqrt(((x[j::m] - x[j::m].mean(0)) ** 2).mean(0) + eps).mean() for j in range(m)])
    return col[torch.arange(x.shape[0]) % m].reshape(-1, 1, 1, 1).expand(-1, *x.shape[2:])


def test_conditional_networks_need_a_class_count_and_unconditional_g_refuses_labels():
    import dataclasses

    one = dataclasses.replace(CFG, conditional=True, num_classes=1)
    g, d = Generator(one), Discriminator(one)  # one class is enough
    assert g.num_parameters(0) == sum(p.numel() for m in (g.blocks[0], g.to_rgb[0], g.condition) for p in m.parameters())
    zero = dataclasses.replace(CFG, conditional=True, num_classes=0)
    for net, what in ((Generator, "generator"), (Discriminator, "discriminator")):
        with pytest.raises(ValueError, match=rf"^a conditional {what} needs model.num_classes >= 1 \(resolved from the store\)$"):
            net(zero)
    with pytest.raises(ValueError, match="^this generator is unconditional: it takes no class labels$"):
        Generator(CFG)(torch.randn(2, CFG.latent_dim), 0, 1.0, torch.tensor([0, 1]))


@pytest.mark.parametrize("factor", [(2, 1, 1), (1, 2, 1), (1, 1, 2)])
def test_resampling_along_one_axis_only(factor):
    from provgan.nn.layers import downsample, upsample

    x = torch.randn(1, 2, 2, 2, 2)
    up = upsample(x, factor)
    assert up.shape[2:] == tuple(2 * f for f in factor)
    assert torch.allclose(downsample(up, factor), x)


def test_larger_kernels_keep_the_size_and_layers_follow_a_bf16_input():
    conv5 = EqualizedConv3d(2, 3, kernel_size=5)
    assert conv5(torch.randn(1, 2, 5, 6, 7)).shape == (1, 3, 5, 6, 7)
    x = torch.randn(2, 2, 3, 4, 4, dtype=torch.bfloat16)
    assert EqualizedConv3d(2, 3)(x).dtype == torch.bfloat16
    assert EqualizedLinear(4, 3)(x[:, 0, 0]).dtype == torch.bfloat16


def test_minibatch_stddev_groups_default_to_four_samples():
    y = torch.randn(10, 3, 1, 2, 2)  # divisors of 10 up to 4: 2 (with 5 allowed it would be 5)
    assert torch.allclose(MinibatchStdDev()(y), _mbstd(y, 2), atol=1e-6)
    assert torch.allclose(MinibatchStdDev(4)(y), _mbstd(y, 2), atol=1e-6)


def test_rgb_layers_are_1x1x1_and_block_convolutions_3x3x3():
    g, d = Generator(CFG), Discriminator(CFG)
    assert all(m.weight.shape[2:] == (1, 1, 1) for m in list(g.to_rgb) + [f.conv for f in d.from_rgb])
    convs = [b.conv0 for b in list(g.blocks[1:]) + list(d.blocks[1:])] + [g.blocks[0].conv, d.epilogue.conv]
    assert all(c.weight.shape[2:] == (3, 3, 3) for c in convs)
    assert d.feature_dim == CFG.feature_dim and g.image_channels == CFG.image_channels
