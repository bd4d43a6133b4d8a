"""Regression guard for the critic-set refactor (issue 15): one critic with the identity view must
reproduce the progressive step of before the refactor exactly.

``_old_train_step`` is a frozen copy of the step logic as it was (one D, the SWGAN head on the
Stiefel manifold, n_critic chunks, then G on fresh latents, then the EMA), written against plain
modules and optimizers. Both sides start from the same weights and the same RNG seed; after a few
steps their losses and every parameter must agree.
"""

import copy

import pytest
import torch

from provgan.config import load_config
from provgan.levels import fade_reals, position_at
from provgan.losses import Critic, get_loss
from provgan.optim import stiefel_step
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import ema_beta, ema_update, reg_weight, train_step


def _parts(models, opts):
    """(G, D, head, G_ema, opt_G, opt_D, opt_head) of the trainer's containers."""
    o = opts.all()
    return (models.generator, models.discriminator, models.head, models.generator_ema,
            o["G"], o["D"], o.get("head"))


def _critic(d, head, level, alpha):
    if head is not None:
        return Critic(lambda x: d.features(x, level, alpha), head, sliced=head)
    return Critic(lambda x: d.features(x, level, alpha), d.score)


def _old_train_step(parts, reals, pos, cfg, step):
    g, d, head, g_ema, opt_g, opt_d, opt_head = parts
    pair = get_loss(cfg.loss.name)
    terms = {}
    for i, chunk in enumerate(reals.chunk(cfg.optim.n_critic)):
        z = torch.randn(chunk.shape[0], cfg.model.latent_dim)
        if pos.fading and pos.level > 0:
            chunk = fade_reals(chunk, g.blocks[pos.level].factor, pos.alpha)
        for opt in (opt_d, opt_head):
            if opt is not None:
                opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            fakes = g(z, pos.level, pos.alpha)
        out = pair.d(_critic(d, head, pos.level, pos.alpha), chunk, fakes, cfg.loss, shard=Shard(),
                     reg_weight=reg_weight(cfg, step * cfg.optim.n_critic + i))
        out.loss.backward()
        opt_d.step()
        if opt_head is not None:
            stiefel_step(opt_head, head.theta)
        terms["Loss/D/total"] = out.loss.detach()
    z = torch.randn(reals.shape[0], cfg.model.latent_dim)
    opt_g.zero_grad(set_to_none=True)
    critic_params = [p for m in (d, head) if m is not None for p in m.parameters()]
    for p in critic_params:
        p.requires_grad_(False)
    fakes = g(z, pos.level, pos.alpha)
    out = pair.g(_critic(d, head, pos.level, pos.alpha), fakes, cfg.loss)
    out.loss.backward()
    for p in critic_params:
        p.requires_grad_(True)
    opt_g.step()
    terms["Loss/G/total"] = out.loss.detach()
    ema_update(g_ema, g, ema_beta(cfg, step, reals.shape[0]))
    return terms


@pytest.mark.parametrize("loss,extra", [("swgan", []), ("wgan-gp", ["optim.n_critic=2"]),
                                        ("ns", ["loss.r1_gamma=1"])])
@pytest.mark.parametrize("fading", [False, True])
def test_one_identity_critic_reproduces_the_progressive_step(loss, extra, fading):
    cfg = load_config("tiny", [f"loss.name={loss}", *extra])
    kimg = cfg.schedule.stable_kimg * 1.5 if fading else 0.0
    pos = position_at(kimg, cfg.model.plan, cfg.schedule)
    assert pos.fading == fading
    torch.manual_seed(0)
    new_models = build_models(cfg)
    new_opts = build_optimizers(new_models, cfg, 2e-3)
    old_models = copy.deepcopy(new_models)
    old_opts = build_optimizers(old_models, cfg, 2e-3)
    data = torch.Generator().manual_seed(1)
    batches = [torch.rand(8, 3, *cfg.model.plan[pos.level], generator=data) * 2 - 1 for _ in range(3)]
    for step, reals in enumerate(batches):
        torch.manual_seed(100 + step)
        new_terms = train_step(new_models, new_opts, reals, pos, cfg, Shard(), "fp32", step)
        torch.manual_seed(100 + step)
        old_terms = _old_train_step(_parts(old_models, old_opts), reals, pos, cfg, step)
        for key in ("Loss/D/total", "Loss/G/total"):
            assert torch.allclose(new_terms[key], old_terms[key], atol=1e-6, rtol=0), (step, key)
    new_p = {k: m.state_dict() for k, m in new_models.modules().items()}
    old_p = {k: m.state_dict() for k, m in old_models.modules().items()}
    assert new_p.keys() == old_p.keys()
    for net in new_p:
        for key, value in new_p[net].items():
            assert torch.allclose(value, old_p[net][key], atol=1e-6, rtol=0), (net, key)
