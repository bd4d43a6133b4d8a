"""Data centring (model.pixel_mean): D reads x - mean, G writes net(z) + mean, nothing else changes."""

import pytest
import torch

from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.nn import Discriminator, Generator

MEAN = (-0.8, -0.7, -0.6)


def _pair():
    plain = load_config("tiny").model
    centred = load_config("tiny", [f"model.pixel_mean=[{', '.join(map(str, MEAN))}]"]).model
    return plain, centred


@pytest.mark.parametrize("level,alpha", [(0, 1.0), (1, 0.0), (1, 0.4), (1, 1.0)])
def test_generator_adds_the_mean_to_every_level_and_fade(level, alpha):
    plain, centred = _pair()
    torch.manual_seed(0)
    g0 = Generator(plain)
    g1 = Generator(centred)
    g1.load_state_dict(g0.state_dict())  # the mean is no parameter: the same state dict fits both
    z = torch.randn(4, plain.latent_dim)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    torch.testing.assert_close(g1(z, level, alpha), g0(z, level, alpha) + mean)


@pytest.mark.parametrize("level,alpha", [(0, 1.0), (1, 0.3), (1, 1.0)])
def test_discriminator_subtracts_the_mean(level, alpha):
    plain, centred = _pair()
    torch.manual_seed(0)
    d0 = Discriminator(plain)
    d1 = Discriminator(centred)
    d1.load_state_dict(d0.state_dict())
    x = torch.randn(4, 3, *plain.plan[level])
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    torch.testing.assert_close(d1.features(x, level, alpha), d0.features(x - mean, level, alpha))
    assert not torch.allclose(d1.features(x, level, alpha), d0.features(x, level, alpha))


def test_uncentred_model_is_unchanged_and_keeps_no_buffer():
    g = Generator(load_config("tiny").model)
    assert g.pixel_mean is None and "pixel_mean" not in g.state_dict()


@pytest.mark.parametrize("value", ["[0.1, 0.2]", "[0.0, 0.0, 1.5]"])
def test_pixel_mean_is_validated(value):
    with pytest.raises(ConfigError, match="model.pixel_mean needs 3 values in \\[-1, 1\\]"):
        load_config("tiny", [f"model.pixel_mean={value}"])
