"""The training step's parts one at a time, each against what it must do (fast: one tiny step each).

The long behaviour test (training reduces the distance to a toy distribution) shows the parts work
together; these pin down each part so a broken one is named directly: which parameters a D or G step
may touch, the per-rank latents, the gradient averaging over ranks, the EMA's buffers, and how
``train_step`` splits its batch over ``n_critic`` D steps.
"""

import inspect

import pytest
import torch

import provgan.train.step as step_mod
from provgan.config import load_config
from provgan.levels import position_at
from provgan.shard import Shard
from provgan.train.models import build_models, build_optimizers
from provgan.train.step import autocast, d_step, draw_latents, ema_update, g_step, train_step


def _setup(*overrides):
    torch.manual_seed(0)
    cfg = load_config("tiny", list(overrides))
    models = build_models(cfg)
    opts = build_optimizers(models, cfg, 1e-2)
    pos = position_at(0, cfg.model.plan, cfg.schedule)
    return cfg, models, opts, pos


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(module, before):
    return [not torch.equal(p.detach(), b) for p, b in zip(module.parameters(), before)]


def test_autocast_is_bf16_only_when_asked():
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert not torch.is_autocast_enabled("cpu")


def test_latents_are_this_ranks_rows_of_the_global_draw():
    torch.manual_seed(3)
    whole = torch.randn(8, 5)
    torch.manual_seed(3)
    mine = draw_latents(8, 5, Shard(rank=1, world=2), torch.device("cpu"))
    assert torch.equal(mine, whole[1::2])
    torch.manual_seed(3)
    assert torch.equal(draw_latents(8, 5, Shard(), torch.device("cpu")), whole)


def test_d_step_moves_d_and_the_head_but_not_g():
    cfg, models, opts, pos = _setup()
    g0, d0, h0 = _snapshot(models.generator), _snapshot(models.discriminator), _snapshot(models.head)
    theta0 = models.head.theta.detach().clone()
    terms = d_step(models, opts, torch.rand(4, 3, *cfg.model.plan[0]) * 2 - 1, pos, cfg, Shard(), "fp32")
    assert not any(_changed(models.generator, g0))
    assert any(_changed(models.discriminator, d0)) and all(_changed(models.head, h0))  # level 0: D uses some parts
    theta = models.head.theta.detach()
    assert torch.allclose(theta.T @ theta, torch.eye(theta.shape[0]), atol=1e-5) and not torch.equal(theta, theta0)
    assert {"Loss/D/real", "Loss/D/fake", "Loss/D/gp", "Loss/D/proj", "Loss/D/total"} <= set(terms)
    assert all(not v.requires_grad for v in terms.values())


def test_g_step_moves_g_only_and_gives_the_critic_back_its_gradients():
    cfg, models, opts, pos = _setup()
    g0, d0, h0 = _snapshot(models.generator), _snapshot(models.discriminator), _snapshot(models.head)
    terms = g_step(models, opts, 4, pos, cfg, Shard(), "fp32", torch.device("cpu"))
    assert any(_changed(models.generator, g0))
    assert not any(_changed(models.discriminator, d0)) and not any(_changed(models.head, h0))
    critic = list(models.discriminator.parameters()) + list(models.head.parameters())
    assert all(p.requires_grad for p in critic) and all(p.grad is None for p in critic)
    assert set(terms) == {"Loss/G/fake", "Loss/G/total"}
    assert terms["Loss/G/total"].item() == pytest.approx(terms["Loss/G/fake"].item())  # swgan: G minimises f(E(fake))


def test_g_step_restores_requires_grad_even_when_the_loss_fails(monkeypatch):
    cfg, models, opts, pos = _setup()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(models, "critic", broken)
    with pytest.raises(RuntimeError, match="boom"):
        g_step(models, opts, 4, pos, cfg, Shard(), "fp32", torch.device("cpu"))
    assert all(p.requires_grad for p in models.discriminator.parameters())


def test_gradients_are_averaged_over_ranks_and_missing_ones_count_as_zero(monkeypatch):
    p, q = torch.nn.Parameter(torch.ones(2, 3)), torch.nn.Parameter(torch.ones(4))
    p.grad = torch.arange(6.0).reshape(2, 3)
    calls = []

    def all_reduce(flat):  # a stand-in for 3 ranks: this one's gradients plus two others' (2x and 3x)
        calls.append(flat.clone())
        flat.mul_(1 + 2 + 3)

    monkeypatch.setattr(step_mod.dist, "all_reduce", all_reduce)
    step_mod._all_reduce_grads([p, q], Shard(rank=0, world=3))
    assert len(calls) == 1 and calls[0].shape == (10,)  # one flat call for every parameter
    assert torch.allclose(p.grad, 2 * torch.arange(6.0).reshape(2, 3)) and torch.equal(q.grad, torch.zeros(4))
    monkeypatch.setattr(step_mod.dist, "all_reduce", lambda flat: pytest.fail("called with one process"))
    step_mod._all_reduce_grads([p, q], Shard())


def test_ema_update_copies_buffers_and_blends_every_parameter():
    a, b = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        b.weight.fill_(2.0)
        b.bias.fill_(-1.0)
    b.running_mean.fill_(5.0)
    ema_update(a, b, 0.75)
    assert torch.allclose(a.weight, torch.full((3,), 0.75 + 0.25 * 2.0))
    assert torch.allclose(a.bias, torch.full((3,), -0.25))
    assert torch.equal(a.running_mean, torch.full((3,), 5.0))


def test_train_step_splits_the_batch_over_n_critic_d_steps_with_running_indices(monkeypatch):
    cfg, models, opts, pos = _setup("optim.n_critic=2")
    seen = []
    real_d_step = step_mod.critic_step

    signature = inspect.signature(real_d_step)

    def spy(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        seen.append((bound.arguments["reals"].clone(), bound.arguments["d_step_index"]))
        return real_d_step(*args, **kwargs)

    monkeypatch.setattr(step_mod, "critic_step", spy)
    reals = torch.rand(8, 3, *cfg.model.plan[0]) * 2 - 1
    ema0 = _snapshot(models.generator_ema)
    terms = train_step(models, opts, reals, pos, cfg, Shard(), "fp32", step=3)
    assert [i for _, i in seen] == [6, 7]
    assert torch.equal(seen[0][0], reals[:4]) and torch.equal(seen[1][0], reals[4:])
    assert "Loss/D/total" in terms and "Loss/G/total" in terms
    assert any(_changed(models.generator_ema, ema0))  # the EMA followed G's step


def test_conditional_steps_pass_the_reals_labels_to_d_and_draw_uniform_ones_for_g(monkeypatch):
    cfg, models, opts, pos = _setup("model.conditional=true", "model.num_classes=5", "loss.name=wgan-gp",
                                    "optim.n_critic=2")
    seen = []
    real_critic = models.critic

    def critic(name, level, alpha, labels=None):
        seen.append(None if labels is None else labels.clone())
        return real_critic(name, level, alpha, labels)

    monkeypatch.setattr(models, "critic", critic)
    reals, labels = torch.rand(8, 3, *cfg.model.plan[0]) * 2 - 1, torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    torch.manual_seed(11)
    train_step(models, opts, reals, pos, cfg, Shard(), "fp32", 0, labels)
    torch.manual_seed(11)
    for _ in range(2):  # each D step draws its latents and its interpolation weights
        torch.randn(4, cfg.model.latent_dim), torch.rand(4)
    torch.randn(8, cfg.model.latent_dim)
    g_labels = torch.randint(5, (8,))
    assert [s.tolist() for s in seen] == [[0, 1, 2, 3], [4, 0, 1, 2], g_labels.tolist()]
    with pytest.raises(ValueError, match="^a conditional model trains on labelled clips: pass the reals' labels$"):
        train_step(models, opts, reals, pos, cfg, Shard(), "fp32", 1)


def test_labels_are_this_ranks_rows_of_the_global_draw():
    torch.manual_seed(12)
    whole = torch.randint(7, (6,))
    torch.manual_seed(12)
    assert torch.equal(step_mod.draw_labels(6, 7, Shard(rank=2, world=3), torch.device("cpu")), whole[2::3])


def test_autocast_asks_for_bf16_on_cuda_too():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available" on a CPU-only machine
        ctx = autocast(torch.device("cuda"), "bf16")
    assert ctx.fast_dtype == torch.bfloat16  # torch's CUDA default would be fp16


def test_d_and_g_steps_run_their_losses_under_the_asked_precision(monkeypatch):
    cfg, models, opts, pos = _setup()
    seen = []
    real_critic = models.critic

    def critic(*args):
        seen.append(torch.is_autocast_enabled("cpu"))
        return real_critic(*args)

    monkeypatch.setattr(models, "critic", critic)
    train_step(models, opts, torch.rand(4, 3, *cfg.model.plan[0]) * 2 - 1, pos, cfg, Shard(), "bf16", 0)
    train_step(models, opts, torch.rand(4, 3, *cfg.model.plan[0]) * 2 - 1, pos, cfg, Shard(), "fp32", 1)
    assert seen == [True, True, False, False]


def test_steps_leave_unused_parameters_without_a_gradient():
    """zero_grad(set_to_none=True): parts of other levels get no (zero) gradient, so Adam skips them."""
    cfg, models, opts, pos = _setup()
    stale = [models.discriminator.from_rgb[2].conv.weight, models.generator.to_rgb[2].weight]
    for p in stale:
        p.grad = torch.ones_like(p)
    reals = torch.rand(4, 3, *cfg.model.plan[0]) * 2 - 1
    d_step(models, opts, reals, pos, cfg, Shard(), "fp32")
    assert stale[0].grad is None
    g_step(models, opts, 4, pos, cfg, Shard(), "fp32", torch.device("cpu"))
    assert stale[1].grad is None


def test_d_step_defaults_to_step_index_zero_which_carries_the_lazy_penalty():
    cfg, models, opts, pos = _setup("loss.reg_interval=4")
    assert "Loss/D/gp" in d_step(models, opts, torch.rand(4, 3, *cfg.model.plan[0]), pos, cfg, Shard(), "fp32")


def test_two_rank_steps_all_reduce_every_trained_parameter_and_draw_global_numbers(monkeypatch):
    cfg, models, opts, pos = _setup("loss.name=swgan")
    sizes = []
    monkeypatch.setattr(step_mod.dist, "all_reduce", lambda flat: sizes.append(flat.numel()) or flat.mul_(2))
    rank = Shard(rank=1, world=2)
    reals = torch.rand(4, 3, *cfg.model.plan[0]) * 2 - 1
    torch.manual_seed(21)
    d_step(models, opts, reals, pos, cfg, rank, "fp32")
    after_d = torch.rand(1)
    g_step(models, opts, 8, pos, cfg, rank, "fp32", torch.device("cpu"))
    count = lambda *ms: sum(p.numel() for m in ms for p in m.parameters())  # noqa: E731
    assert sizes == [count(models.discriminator, models.head), count(models.generator)]
    torch.manual_seed(21)  # the D step drew latents, t and t' for the global batch of 8
    torch.randn(8, cfg.model.latent_dim), torch.rand(8), torch.rand(8)
    assert torch.equal(after_d, torch.rand(1))


def test_all_reduce_places_every_parameter_back_at_its_own_offset(monkeypatch):
    params = [torch.nn.Parameter(torch.zeros(n)) for n in (2, 3, 4)]
    for i, p in enumerate(params):
        p.grad = torch.full((p.numel(),), float(i + 1))
    monkeypatch.setattr(step_mod.dist, "all_reduce", lambda flat: flat.mul_(2))
    step_mod._all_reduce_grads(params, Shard(rank=0, world=2))
    assert [p.grad.tolist() for p in params] == [[1.0] * 2, [2.0] * 3, [3.0] * 4]


def test_train_step_keeps_terms_of_every_d_step_and_feeds_g_and_the_ema_the_global_batch(monkeypatch):
    cfg, models, opts, pos = _setup("loss.reg_interval=2", "optim.n_critic=2", "optim.ema_halflife_kimg=0.5",
                                    "optim.ema_rampup=false")
    batches = []
    real_g_step = step_mod.g_step
    signature = inspect.signature(real_g_step)

    def spy(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        batches.append(bound.arguments["global_batch"])
        return real_g_step(*args, **kwargs)

    monkeypatch.setattr(step_mod, "g_step", spy)
    ema0 = [p.detach().clone() for p in models.generator_ema.parameters()]
    terms = train_step(models, opts, torch.rand(8, 3, *cfg.model.plan[0]), pos, cfg, Shard(), "fp32", 0)
    assert "Loss/D/gp" in terms  # from the first D step (index 0); the second (index 1) has none
    assert batches == [8]
    beta = 0.5 ** (8 / 500)
    for e0, e, g in zip(ema0, models.generator_ema.parameters(), models.generator.parameters()):
        assert torch.allclose(e, e0 * beta + g.detach() * (1 - beta), atol=1e-6)


def test_ema_half_life_applies_below_one_kimg():
    cfg = load_config("tiny", ["optim.ema_halflife_kimg=0.5", "optim.ema_rampup=false"])
    assert step_mod.ema_beta(cfg, 10, 10) == pytest.approx(0.5 ** (10 / 500))


def test_the_ema_half_life_counts_the_clips_of_every_rank(monkeypatch):
    cfg, models, opts, pos = _setup("optim.ema_halflife_kimg=0.5", "optim.ema_rampup=false")
    monkeypatch.setattr(step_mod.dist, "all_reduce", lambda flat: flat.mul_(2))
    ema0 = [p.detach().clone() for p in models.generator_ema.parameters()]
    train_step(models, opts, torch.rand(4, 3, *cfg.model.plan[0]), pos, cfg, Shard(rank=0, world=2), "fp32", 0)
    beta = 0.5 ** (8 / 500)  # 4 clips here and 4 on the other rank
    for e0, e, g in zip(ema0, models.generator_ema.parameters(), models.generator.parameters()):
        assert torch.allclose(e, e0 * beta + g.detach() * (1 - beta), atol=1e-6)
