"""``loss.g_top_k``: top-k training (Sinha et al. 2020), G learns from its most realistic fakes only."""

import pytest
import torch

from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.losses import top_k_mean
from provgan.shard import Shard
from provgan.train.step import g_step
from tests.train.test_frame_critic import g_step_setup


def test_top_k_mean_keeps_the_smallest_losses():
    x = torch.tensor([3.0, -1.0, 2.0, 0.5, 4.0])
    assert torch.equal(top_k_mean(x, 1.0), x.mean())
    assert torch.isclose(top_k_mean(x, 0.4), torch.tensor(-0.25))  # ceil(0.4 * 5) = 2: -1 and 0.5
    assert torch.isclose(top_k_mean(x, 0.5), torch.tensor(0.5))  # ceil(2.5) = 3: -1, 0.5 and 2
    assert torch.isclose(top_k_mean(x, 0.01), torch.tensor(-1.0))  # at least one


@pytest.mark.parametrize("loss", ["swgan", "wgan-gp", "ns"])
def test_the_g_loss_averages_the_fakes_the_critic_finds_most_real(loss):
    cfg, models, opts, pos, state = g_step_setup([f"loss.name={loss}", "loss.g_top_k=0.5"])
    z = torch.randn(8, cfg.model.latent_dim)
    with torch.no_grad():
        critic = models.critic("D", 0, 1.0)
        score = critic(models.generator(z, 0))
        per_sample = {"swgan": score, "wgan-gp": -score, "ns": torch.nn.functional.softplus(-score)}[loss]
    torch.random.set_rng_state(state)
    terms = g_step(models, opts, 8, pos, cfg, Shard(), "fp32", torch.device("cpu"))
    assert torch.isclose(terms["Loss/G/total"], per_sample.sort().values[:4].mean(), atol=1e-5)
    assert not torch.isclose(terms["Loss/G/total"], per_sample.mean(), atol=1e-5)


def test_a_share_outside_0_1_is_one_clear_error():
    for value in ("0", "1.5"):
        with pytest.raises(ConfigError, match="g_top_k must be in"):
            load_config("tiny", [f"loss.g_top_k={value}"])
