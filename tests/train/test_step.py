import pytest
import torch

from provgan.errors import ConfigError

from provgan.config import load_config
from provgan.levels import position_at
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import ema_beta, ema_update, reg_weight, train_step


def _toy_reals(n: int, pattern: torch.Tensor) -> torch.Tensor:
    """A fixed toy video distribution: a fixed spatio-temporal pattern with random contrast and noise."""
    contrast = torch.rand(n, 1, 1, 1, 1) * 0.5 + 0.5
    return (pattern * contrast + 0.05 * torch.randn(n, *pattern.shape)).clamp(-1, 1)


def _distance(reals: torch.Tensor, fakes: torch.Tensor) -> float:
    return ((reals.mean(0) - fakes.mean(0)).norm() + (reals.std(0) - fakes.std(0)).norm()).item()


@pytest.mark.parametrize("loss", ["wgan-gp", "swgan"])
def test_training_reduces_distance_to_toy_distribution(loss):
    torch.manual_seed(0)
    cfg = load_config("tiny", [f"loss.name={loss}"])
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 2e-3)
    pattern = torch.sin(torch.linspace(0, 6, 3 * 64)).reshape(3, 4, 4, 4) * 0.8
    eval_z = torch.randn(256, cfg.model.latent_dim)
    probe = _toy_reals(256, pattern)
    before = _distance(probe, models.generator(eval_z, 0).detach())
    for step in range(300):
        train_step(models, opts, _toy_reals(16, pattern), pos, cfg, Shard(), "fp32", step)
    after = _distance(probe, models.generator_ema(eval_z, 0).detach())
    assert after < 0.5 * before, (before, after)


def test_ema_update_and_ramp():
    cfg = load_config("tiny")
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    expected = 0.9 * a.weight.detach() + 0.1 * b.weight.detach()
    ema_update(a, b, 0.9)
    assert torch.allclose(a.weight, expected)
    assert ema_beta(cfg, 0, 8) == pytest.approx(0.1)
    assert ema_beta(cfg, 10**6, 8) == pytest.approx(0.999)
    assert ema_beta(load_config("tiny", ["optim.ema_rampup=false"]), 0, 8) == 0.999
    # half-life in clips: after halflife / batch steps a step's weight has halved, at any batch size
    halflife = load_config("tiny", ["optim.ema_halflife_kimg=2", "optim.ema_rampup=false"])
    for batch in (4, 8, 32):
        assert ema_beta(halflife, 10**6, batch) ** (2000 / batch) == pytest.approx(0.5)


def test_theta_stays_orthonormal_during_training():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-2)
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    theta0 = models.head.theta.detach().clone()
    for step in range(20):
        train_step(models, opts, torch.randn(8, 3, 4, 4, 4), pos, cfg, Shard(), "fp32", step)
    theta = models.head.theta.detach()
    assert not torch.allclose(theta, theta0)
    assert torch.allclose(theta.T @ theta, torch.eye(theta.shape[0]), atol=1e-5)


@pytest.mark.parametrize("loss", ["swgan", "wgan-gp"])
def test_bf16_autocast_step_while_fading(loss):
    torch.manual_seed(0)
    cfg = load_config("tiny", [f"loss.name={loss}"])
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-3)
    pos = position_at(cfg.schedule.stable_kimg * 1.5, cfg.model.plan, cfg.schedule)
    assert pos.fading and pos.level == 1
    terms = train_step(models, opts, torch.rand(8, 3, *cfg.model.plan[1]) * 2 - 1, pos, cfg, Shard(), "bf16", 0)
    assert all(torch.isfinite(v) for v in terms.values())
    assert models.generator.blocks[1].conv0.weight.dtype == torch.float32  # master weights stay fp32


def test_lazy_regularisation_puts_the_penalty_on_every_kth_d_step():
    assert [reg_weight(load_config("tiny"), i) for i in range(3)] == [1.0, 1.0, 1.0]
    lazy = load_config("tiny", ["loss.reg_interval=4"])
    assert [reg_weight(lazy, i) for i in range(9)] == [4.0, 0, 0, 0, 4.0, 0, 0, 0, 4.0]
    torch.manual_seed(0)
    models = build_models(lazy)
    opts = build_optimizers(models, lazy, 1e-3)
    pos = position_at(0, lazy.model.plan, lazy.schedule)
    reals = torch.rand(8, 3, *lazy.model.plan[0]) * 2 - 1
    with_gp = ["Loss/D/gp" in train_step(models, opts, reals, pos, lazy, Shard(), "fp32", step)
               for step in range(8)]
    assert with_gp == [True, False, False, False, True, False, False, False]


def test_reg_interval_must_be_positive():
    with pytest.raises(ConfigError, match="reg_interval"):
        load_config("tiny", ["loss.reg_interval=0"])
