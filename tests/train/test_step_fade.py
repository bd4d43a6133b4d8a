"""The D step during a fade sees the blended reals (thesis §4.1), checked through its logged terms.

D at level L with weight alpha fades its own input paths, but the real clips must be blended the same
way G's output is (``fade_reals``), or D can tell reals from fakes by their sharpness alone. The
check is behavioural: the step's logged D(real) must equal D, before the update, applied to the
blended clips, and differ from D applied to the raw clips.
"""

import pytest
import torch

from provgan.config import load_config
from provgan.levels import fade_reals, position_at
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import d_step


def _fading_setup(loss: str, frac: float):
    torch.manual_seed(0)
    cfg = load_config("tiny", [f"loss.name={loss}"])
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-3)
    pos = position_at(cfg.schedule.stable_kimg + frac * cfg.schedule.fade_kimg, cfg.model.plan, cfg.schedule)
    reals = torch.rand(8, 3, *cfg.model.plan[1]) * 2 - 1  # white noise: blurring changes it a lot
    return cfg, models, opts, pos, reals


def _critic_means(models, pos, clips):
    critic = models.critic("D", pos.level, pos.alpha)
    with torch.no_grad():
        if models.head is not None:
            return models.head(critic.features(clips).float()).mean().item()
        return critic(clips).mean().item()


@pytest.mark.parametrize("loss", ["wgan-gp", "swgan"])
def test_d_step_while_fading_scores_the_blended_reals(loss):
    cfg, models, opts, pos, reals = _fading_setup(loss, 0.25)
    assert pos.fading and pos.level == 1 and 0.0 < pos.alpha < 1.0
    blended = fade_reals(reals, models.generator.blocks[pos.level].factor, pos.alpha)
    on_blended = _critic_means(models, pos, blended)
    on_raw = _critic_means(models, pos, reals)
    assert abs(on_blended - on_raw) > 1e-4 * max(1.0, abs(on_raw))  # the check can tell them apart
    terms = d_step(models, opts, reals, pos, cfg, Shard(), "fp32")
    assert terms["Loss/D/real"].item() == pytest.approx(on_blended, rel=1e-5, abs=1e-7)


def test_d_step_at_a_stable_level_scores_the_reals_as_they_are():
    cfg, models, opts, _, reals = _fading_setup("wgan-gp", 0.0)
    pos = position_at(cfg.schedule.stable_kimg + cfg.schedule.fade_kimg, cfg.model.plan, cfg.schedule)
    assert not pos.fading and pos.level == 1
    expected = _critic_means(models, pos, reals)
    terms = d_step(models, opts, reals, pos, cfg, Shard(), "fp32")
    assert terms["Loss/D/real"].item() == pytest.approx(expected, rel=1e-5, abs=1e-7)
