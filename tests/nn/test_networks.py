import pytest
import torch

from provgan.config import load_config
from provgan.levels import fade_reals
from provgan.nn import Discriminator, Generator, SlicedHead
from provgan.nn.layers import downsample, upsample


def test_thesis_generator_has_table_a1_parameter_count():
    """Table A.1: blocks of all levels + the final toRGB (8->3, 27 params); earlier toRGBs not counted."""
    with torch.device("meta"):
        g = Generator(load_config("thesis-256").model)
    assert g.num_parameters() == 3_702_091  # Table A.1 with PGGAN's per-channel dense bias
    assert g.num_parameters(0) == 1_048_576 + 128 + 442_496 + 128 * 3 + 3  # dense, its bias, conv, toRGB


@pytest.mark.parametrize("preset", ["thesis-256", "ucf101-128"])
def test_shapes_at_every_level_fading_and_stable(preset):
    cfg = load_config(preset).model
    with torch.device("meta"):  # shape propagation without computing 256x256x32 clips
        g, d = Generator(cfg), Discriminator(cfg)
        for level, (t, h, w) in enumerate(cfg.plan):
            for alpha in (0.0, 0.5, 1.0):
                x = g(torch.empty(4, cfg.latent_dim), level, alpha)
                assert tuple(x.shape) == (4, 3, t, h, w)
                assert tuple(d.features(x, level, alpha).shape) == (4, cfg.feature_dim)
                assert tuple(d(x, level, alpha).shape) == (4,)


def test_input_shape_is_checked():
    cfg = load_config("tiny").model
    d = Discriminator(cfg)
    with pytest.raises(ValueError, match="expected shape \\*x3x4x8x8"):
        d(torch.randn(2, 3, 4, 4, 4), level=1)


def _tiny():
    torch.manual_seed(0)
    cfg = load_config("tiny").model
    return cfg, Generator(cfg), Discriminator(cfg)


def test_generator_fade_continuity():
    cfg, g, _ = _tiny()
    z = torch.randn(3, cfg.latent_dim)
    for level in (1, 2):
        factor = g.blocks[level].factor
        # at alpha = 0 the grown G equals the previous level's output, upsampled
        assert torch.allclose(g(z, level, 0.0), upsample(g(z, level - 1, 1.0), factor), atol=1e-6)
        # at alpha = 1 it is the new branch alone; in between it is continuous in alpha
        h = z
        h = g.blocks[0](h)
        for b in g.blocks[1:level + 1]:
            h = b(h)
        assert torch.allclose(g(z, level, 1.0), g.to_rgb[level](h), atol=1e-6)
        a = g(z, level, 0.5)
        assert torch.allclose(a, g(z, level, 0.5 + 1e-4), atol=1e-3)
        assert torch.allclose(a, 0.5 * g(z, level, 0.0) + 0.5 * g(z, level, 1.0), atol=1e-5)


def test_discriminator_fade_continuity():
    cfg, _, d = _tiny()
    for level in (1, 2):
        x = torch.randn(4, 3, *cfg.plan[level])
        factor = d.blocks[level].factor
        assert torch.allclose(d.features(x, level, 0.0), d.features(downsample(x, factor), level - 1), atol=1e-5)
        e0, e1 = d.features(x, level, 0.0), d.features(x, level, 1.0)
        assert not torch.allclose(e0, e1)
        assert torch.allclose(d.features(x, level, 1.0 - 1e-5), e1, atol=1e-3)


def test_real_clip_fade_matches_generator_fade():
    """At alpha the reals are blended exactly as G blends: the D input of a grown G at alpha=0 equals
    the faded reals when G's previous output equals the reals' pooled version."""
    cfg, _, _ = _tiny()
    x = torch.randn(2, 3, *cfg.plan[2])
    factor = (2, 2, 2)
    assert torch.allclose(fade_reals(x, factor, 0.0), upsample(downsample(x, factor), factor), atol=1e-6)
    assert torch.equal(fade_reals(x, factor, 1.0), x)


def test_gradients_reach_every_parameter_at_the_top_level_during_fade():
    cfg, g, d = _tiny()
    x = g(torch.randn(4, cfg.latent_dim), 2, 0.5)
    d(x, 2, 0.5).sum().backward()
    unused_g = [n for n, p in g.named_parameters() if p.grad is None]
    assert unused_g == ["to_rgb.0.weight", "to_rgb.0.bias"]  # only toRGB of level 0 is not on the path
    assert all(p.grad is not None for n, p in d.named_parameters() if not n.startswith("from_rgb.0"))


def test_sliced_head_formula_slice_by_slice():
    torch.manual_seed(0)
    head = SlicedHead(16)
    with torch.no_grad():
        head.scale.uniform_(0.5, 2)
        head.bias.normal_()
    y = torch.randn(5, 16)
    expected = torch.zeros(5)
    for k in range(16):
        o = head.scale[k] * (y @ head.theta[:, k]) + head.bias[k]
        expected += torch.where(o > 0, o, 0.2 * o)
    assert torch.allclose(head(y), expected / 16, atol=1e-5)
    assert torch.allclose(head.theta.T @ head.theta, torch.eye(16), atol=1e-5)
