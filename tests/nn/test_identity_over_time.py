"""G and D options for a clip that keeps its content through time: model.latent_broadcast, model.temporal_std."""

import dataclasses

import torch

from provgan.config import load_config
from provgan.nn import Generator
from provgan.nn.layers import leaky_relu, pixel_norm, upsample


def _pair():
    cfg = load_config("tiny").model
    on = dataclasses.replace(cfg, latent_broadcast=True)
    torch.manual_seed(0)
    return cfg, Generator(cfg), Generator(on)


def test_off_by_default_and_old_state_dicts_still_load():
    cfg, plain, broadcast = _pair()
    assert not cfg.latent_broadcast
    assert not any(".latent." in k for k in plain.state_dict())
    extra = {k for k in broadcast.state_dict() if ".latent." in k}
    assert extra == {f"blocks.{i}.latent.{p}" for i in range(1, len(cfg.plan)) for p in ("weight", "bias")}
    # the other parameters are the same set, so a plain checkpoint's tensors fit the shared ones
    assert set(plain.state_dict()) == set(broadcast.state_dict()) - extra


def test_block_adds_the_same_latent_bias_at_every_frame_and_pixel():
    cfg, _, g = _pair()
    z = torch.randn(3, cfg.latent_dim)
    block = g.blocks[1]
    h = g.blocks[0](z)
    up = upsample(h, block.factor)
    bias = torch.nn.functional.linear(pixel_norm(z), block.latent.weight * block.latent.weight_gain,
                                      block.latent.bias)
    x = up + bias[:, :, None, None, None]
    expected = pixel_norm(leaky_relu(block.conv1(pixel_norm(leaky_relu(block.conv0(x))))))
    w = pixel_norm(z)  # what Generator.forward passes to every block
    assert torch.allclose(block(h, w), expected, atol=1e-6)
    assert torch.allclose(g(z, 1), g.to_rgb[1](block(h, w)), atol=1e-6)
    # a nonzero latent bias changes the block's output: z reaches it directly
    assert not torch.allclose(block(h, w), block(h, torch.zeros_like(w)), atol=1e-4)


def assert_grows_continuously(g, cfg, z, atol=1e-6):
    """Every level's shape, and alpha = 0 of a fade equal to the level below upsampled (§4.1)."""
    for level in range(len(cfg.plan)):
        assert g(z, level).shape == (len(z), cfg.image_channels, *cfg.plan[level])
    for level in range(1, len(cfg.plan)):
        factor = g.blocks[level].factor
        assert torch.allclose(g(z, level, 0.0), upsample(g(z, level - 1, 1.0), factor), atol=atol)


def test_shapes_fade_continuity_and_gradients_with_broadcast():
    cfg, _, g = _pair()
    z = torch.randn(2, cfg.latent_dim)
    assert_grows_continuously(g, cfg, z)
    top = len(cfg.plan) - 1
    g(z, top, 0.5).square().mean().backward()
    for level in range(1, top + 1):
        assert g.blocks[level].latent.weight.grad is not None
        assert g.blocks[level].latent.weight.grad.abs().sum() > 0


# model.temporal_std: the critic's statistic of content change through time

def test_temporal_std_is_zero_for_content_that_only_moves_and_matches_its_formula():
    from provgan.nn.layers import TemporalStdDev

    torch.manual_seed(1)
    frame = torch.randn(2, 5, 1, 4, 4)
    moving = torch.cat([torch.roll(frame, shifts=(s, 2 * s), dims=(3, 4)) for s in range(4)], dim=2)
    out = TemporalStdDev(eps=0.0)(moving)
    assert out.shape == (2, 6, 4, 4, 4)
    assert torch.equal(out[:, :5], moving)  # the features pass through unchanged
    assert out[:, 5].abs().max() < 1e-6  # a pure shift keeps every channel's spatial mean
    x = torch.randn(3, 5, 4, 2, 2)
    pooled = x.mean(dim=(3, 4))  # [N, C, T]
    expected = pooled.std(dim=2, unbiased=False).mean(dim=1)
    got = TemporalStdDev(eps=0.0)(x)[:, 5]
    assert torch.allclose(got, expected.view(3, 1, 1, 1).expand_as(got), atol=1e-6)


def test_critic_with_temporal_std_sees_a_clip_turn_into_another():
    from provgan.nn import Discriminator

    cfg = dataclasses.replace(load_config("tiny").model, temporal_std=True)
    torch.manual_seed(0)
    d = Discriminator(cfg)
    assert d.epilogue.conv.weight.shape[1] == cfg.discriminator_channels[0] + 2
    top = len(cfg.plan) - 1
    shape = cfg.plan[top]
    a, b = torch.randn(2, 1, cfg.image_channels, 1, *shape[1:]).unbind(0)
    still = a.expand(-1, -1, shape[0], -1, -1)
    spliced = torch.cat([still[:, :, : shape[0] // 2], b.expand(-1, -1, shape[0] - shape[0] // 2, -1, -1)], dim=2)
    plain = Discriminator(dataclasses.replace(cfg, temporal_std=False))
    assert plain.epilogue.conv.weight.shape[1] == cfg.discriminator_channels[0] + 1
    # the statistic is larger for the splice than for the still clip (whose frames differ only by the
    # convolutions' zero padding at the clip's ends), and D's output depends on it
    def statistic(clip):
        h = d.blocks[top](d.from_rgb[top](clip))
        for lv in range(top - 1, 0, -1):
            h = d.blocks[lv](h)
        return d.epilogue.tstd(h)[:, -1, 0, 0, 0]

    assert (statistic(spliced) > statistic(still)).all()
    d.features(spliced).sum().backward()
    assert d.epilogue.conv.weight.grad[:, -1].abs().sum() > 0


def test_factorized_base_is_one_content_map_plus_a_code_per_frame():
    cfg = dataclasses.replace(load_config("tiny").model, factorized_base=True)
    torch.manual_seed(0)
    g = Generator(cfg)
    first = g.blocks[0]
    c, (t0, h0, w0) = cfg.g_channels[0], cfg.plan[0]
    assert first.dense.weight.shape == (c * (h0 * w0 + t0), cfg.latent_dim)
    w = pixel_norm(torch.randn(3, cfg.latent_dim))
    base = first.base(w)
    assert base.shape == (3, c, t0, h0, w0)
    # written out: the first H0*W0*C units are the content map, the last T0*C the per-frame codes
    y = torch.nn.functional.linear(w, first.dense.weight * first.dense.weight_gain)
    content, time = y[:, : c * h0 * w0].reshape(3, c, h0, w0), y[:, c * h0 * w0:].reshape(3, c, t0)
    for t in range(t0):
        assert torch.allclose(base[:, :, t], content + time[:, :, t, None, None], atol=1e-6)
    # so two frames differ by a vector that is the same at every pixel
    step = base[:, :, 1:] - base[:, :, :-1]
    assert torch.allclose(step, step[..., :1, :1].expand_as(step), atol=1e-5)
    z = torch.randn(2, cfg.latent_dim)
    assert_grows_continuously(g, cfg, z)


def test_factorized_base_off_keeps_the_dense_layout():
    cfg = load_config("tiny").model
    assert not cfg.factorized_base
    g = Generator(cfg)
    c, plan0 = cfg.g_channels[0], cfg.plan[0]
    assert g.blocks[0].dense.weight.shape[0] == c * plan0[0] * plan0[1] * plan0[2]
