"""model.g_skips and model.d_skips (StyleGAN2's skip G and input-skip D inside progressive growing), and
model.g_upsample (trilinear upsampling in G's blocks)."""

import dataclasses

import pytest
import torch

from provgan.config import load_config
from provgan.nn import Discriminator, Generator
from provgan.nn.layers import downsample, pixel_norm, upsample


def _networks(g_skips=True, d_skips=True):
    cfg = dataclasses.replace(load_config("tiny").model, g_skips=g_skips, d_skips=d_skips)
    torch.manual_seed(0)
    return cfg, Generator(cfg), Discriminator(cfg)


def test_off_by_default_and_the_same_parameters():
    cfg = load_config("tiny").model
    assert not cfg.g_skips and not cfg.d_skips
    _, g_on, d_on = _networks()
    _, g_off, d_off = _networks(False, False)
    # no new parameters: a skip network uses the toRGB/fromRGB layers every level already has
    assert g_on.state_dict().keys() == g_off.state_dict().keys()
    assert d_on.state_dict().keys() == d_off.state_dict().keys()


def test_generator_sums_every_levels_rgb():
    cfg, g, _ = _networks()
    z = torch.randn(3, cfg.latent_dim)
    w = pixel_norm(z)  # what Generator.forward passes to every block
    hs = [g.blocks[0](z, w)]
    for level in range(1, len(cfg.plan)):
        hs.append(g.blocks[level](hs[-1], w))
    rgb = g.to_rgb[0](hs[0])
    assert torch.allclose(g(z, 0), rgb, atol=1e-5)
    for level in range(1, len(cfg.plan)):
        up = upsample(rgb, g.blocks[level].factor)
        new = g.to_rgb[level](hs[level])
        assert torch.allclose(g(z, level, 0.25), up + 0.25 * new, atol=1e-5)
        rgb = up + new
        assert torch.allclose(g(z, level), rgb, atol=1e-5)


@pytest.mark.parametrize("g_skips,d_skips", [(True, True), (True, False), (False, True)])
def test_fades_are_continuous(g_skips, d_skips):
    """alpha = 0 of a fade is the level below: G's output upsampled, D's features of the pooled clip."""
    cfg, g, d = _networks(g_skips, d_skips)
    z = torch.randn(2, cfg.latent_dim)
    for level in range(1, len(cfg.plan)):
        factor = g.blocks[level].factor
        clip = g(z, level, 0.0)
        assert clip.shape == (2, cfg.image_channels, *cfg.plan[level])
        assert torch.allclose(clip, upsample(g(z, level - 1), factor), atol=1e-5)
        assert torch.allclose(d.features(clip, level, 0.0), d.features(downsample(clip, factor), level - 1),
                              atol=1e-5)
        # and the fade moves continuously away from it
        near = d.features(clip, level, 1e-4) - d.features(clip, level, 0.0)
        assert near.abs().max() < 1e-2


def test_discriminator_adds_every_levels_pooled_view():
    cfg, _, d = _networks(False, True)
    x = torch.randn(2, cfg.image_channels, *cfg.plan[2])
    x1 = downsample(x, d.blocks[2].factor)
    x0 = downsample(x1, d.blocks[1].factor)
    h = 0.5 * d.blocks[2](d.from_rgb[2](x)) + d.from_rgb[1](x1)
    h = d.blocks[1](h) + d.from_rgb[0](x0)
    assert torch.allclose(d.features(x, 2, 0.5), d.epilogue(h), atol=1e-5)
    _, _, plain = _networks(False, False)
    plain.load_state_dict(d.state_dict())
    assert not torch.allclose(plain.features(x, 2), d.features(x, 2), atol=1e-3)


def test_skip_generator_counts_every_torgb():
    cfg, g, _ = _networks()
    _, plain, _ = _networks(False, False)
    top = len(cfg.plan) - 1
    lower_rgb = sum(p.numel() for m in g.to_rgb[:top] for p in m.parameters())
    assert g.num_parameters(top) == plain.num_parameters(top) + lower_rgb


def test_linear_upsampling_generator():
    """model.g_upsample=linear: every block reads its input upsampled trilinearly; fades stay continuous."""
    from provgan.nn.layers import leaky_relu, linear_upsample

    cfg = dataclasses.replace(load_config("tiny").model, g_upsample="linear")
    assert load_config("tiny").model.g_upsample == "nearest"
    torch.manual_seed(0)
    g = Generator(cfg)
    z = torch.randn(2, cfg.latent_dim)
    h = g.blocks[0](z)
    block = g.blocks[1]
    x = torch.nn.functional.interpolate(h, scale_factor=tuple(map(float, block.factor)), mode="trilinear")
    expected = pixel_norm(leaky_relu(block.conv1(pixel_norm(leaky_relu(block.conv0(x))))))
    assert torch.allclose(block(h), expected, atol=1e-5)
    # a constant stays constant (no blocks, no ringing), and the fade's alpha = 0 is still the level below
    assert torch.allclose(linear_upsample(torch.full((1, 2, 2, 3, 3), 0.5), (2, 2, 2)), torch.tensor(0.5))
    for level in range(1, len(cfg.plan)):
        assert torch.allclose(g(z, level, 0.0), upsample(g(z, level - 1), g.blocks[level].factor), atol=1e-5)
    nearest = Generator(load_config("tiny").model)
    nearest.load_state_dict(g.state_dict())
    assert not torch.allclose(nearest(z), g(z), atol=1e-4)


def test_unknown_upsampling_is_one_clear_error():
    from provgan.errors import ConfigError

    with pytest.raises(ConfigError, match="g_upsample must be nearest or linear"):
        load_config("tiny", ["model.g_upsample=bicubic"])
