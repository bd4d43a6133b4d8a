"""``model.mapping_layers``: StyleGAN's mapping network in front of the progressive G (issue 14)."""

import pytest
import torch

from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.nn import Generator
from provgan.nn.layers import EqualizedLinear, leaky_relu, pixel_norm


def test_lr_mul_keeps_the_function_and_scales_the_step():
    x = torch.randn(5, 12)
    layers = {}
    for mul in (1.0, 0.01):
        torch.manual_seed(0)
        layers[mul] = EqualizedLinear(12, 7, lr_mul=mul)
    plain, slow = layers[1.0], layers[0.01]
    assert torch.allclose(plain(x), slow(x), atol=1e-5)  # the same function at initialisation
    moved = {}
    for mul, layer in layers.items():
        before = (layer.weight * layer.weight_gain).detach().clone()
        opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
        layer(x).square().sum().backward()
        opt.step()  # Adam's first step moves every stored weight by lr
        moved[mul] = ((layer.weight * layer.weight_gain).detach() - before).abs().mean()
    assert torch.isclose(moved[0.01] / moved[1.0], torch.tensor(0.01), rtol=0.05)


def test_generator_reads_w_from_the_mapping():
    cfg = load_config("tiny", ["model.mapping_layers=2", "model.latent_broadcast=true"]).model
    torch.manual_seed(0)
    g = Generator(cfg)
    z = torch.randn(4, cfg.latent_dim)
    w = pixel_norm(z)
    for layer in g.mapping.layers:
        w = leaky_relu(layer(w))
    h = g.blocks[0](z, w)
    for block in g.blocks[1:]:
        h = block(h, w)
    assert torch.allclose(g(z), g.to_rgb[-1](h), atol=1e-5)
    base = Generator(load_config("tiny", ["model.latent_broadcast=true"]).model)
    assert g.num_parameters() == base.num_parameters() + 2 * (cfg.latent_dim ** 2 + cfg.latent_dim)


def test_off_by_default_and_the_same_initial_weights():
    torch.manual_seed(0)
    g = Generator(load_config("tiny").model)
    torch.manual_seed(0)
    mapped = Generator(load_config("tiny", ["model.mapping_layers=3"]).model)
    assert g.mapping is None and len(mapped.mapping.layers) == 3
    for key, value in g.state_dict().items():  # the mapping is built last: the rest is drawn as before
        assert torch.equal(value, mapped.state_dict()[key])


def test_a_negative_count_is_one_clear_error():
    with pytest.raises(ConfigError, match="mapping_layers must be >= 0"):
        load_config("tiny", ["model.mapping_layers=-1"])


def test_mapping_lr_mul_reaches_every_layer_and_keeps_the_initial_function():
    z = torch.randn(3, 32)
    outs = {}
    for mul in (0.01, 1.0):
        torch.manual_seed(0)
        g = Generator(load_config("tiny", ["model.mapping_layers=2", f"model.mapping_lr_mul={mul}"]).model)
        assert [layer.lr_mul for layer in g.mapping.layers] == [mul, mul]
        outs[mul] = g(z[:, :g.latent_dim])
    assert torch.allclose(outs[0.01], outs[1.0], atol=1e-4)  # only the speed of learning differs


@pytest.mark.parametrize("bad", ["0", "-0.1", "2"])
def test_a_mapping_lr_mul_out_of_range_is_one_clear_error(bad):
    with pytest.raises(ConfigError, match="mapping_lr_mul must be in"):
        load_config("tiny", ["model.mapping_layers=2", f"model.mapping_lr_mul={bad}"])


def test_a_checkpoint_of_another_mapping_lr_mul_is_another_architecture():
    """The stored weights are W / lr_mul: read with another multiplier they draw another function."""
    from provgan.config import architecture_diff

    a = load_config("tiny", ["model.mapping_layers=2"])
    b = load_config("tiny", ["model.mapping_layers=2", "model.mapping_lr_mul=1.0"])
    assert architecture_diff(a, b) == ["model.mapping_lr_mul"]
