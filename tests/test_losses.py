import pytest
import torch
import torch.nn.functional as F

from provgan.config import LossConfig, load_config
from provgan.losses import Critic, LOSSES, get_loss, jacobian_frobenius_sq
from provgan.nn import Discriminator, Generator, SlicedHead


def _setup(score_head=True):
    torch.manual_seed(0)
    cfg = load_config("tiny").model
    d = Discriminator(cfg, score_head=score_head)
    head = SlicedHead(cfg.feature_dim)
    reals = torch.randn(4, 3, *cfg.plan[1])
    fakes = torch.randn(4, 3, *cfg.plan[1])
    return cfg, d, head, reals, fakes


def test_wgan_gp_equals_its_definition():
    cfg, d, _, reals, fakes = _setup()
    critic = Critic(lambda x: d.features(x, 1, 0.7), d.score)
    loss_cfg = LossConfig(name="wgan-gp")
    torch.manual_seed(1)
    out = get_loss("wgan-gp").d(critic, reals, fakes, loss_cfg)
    torch.manual_seed(1)
    t = torch.rand(4, 1, 1, 1, 1)
    xhat = (reals + t * (fakes - reals)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(xhat).sum(), xhat)
    gp = (grad.reshape(4, -1).norm(dim=1) - 1) ** 2
    real, fake = critic(reals), critic(fakes)
    expected = (fake - real + 10 * gp + 0.001 * real ** 2).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.terms["gp"].item() == pytest.approx(gp.mean().item(), rel=1e-5)


def test_swgan_equals_reference_formula():
    cfg, d, head, reals, fakes = _setup(score_head=False)
    with torch.no_grad():
        head.scale.uniform_(0.5, 1.5)
        head.bias.normal_(0, 0.1)
    critic = Critic(lambda x: d.features(x, 1, 1.0), head, sliced=head)
    loss_cfg = LossConfig()
    torch.manual_seed(3)
    out = get_loss("swgan").d(critic, reals, fakes, loss_cfg)
    torch.manual_seed(3)
    t = torch.rand(4, 1, 1, 1, 1)
    t2 = torch.rand(4, 1)

    def f(y):  # slice by slice, as written in ch. 5
        return sum(F.leaky_relu(head.scale[k] * (y @ head.theta[:, k]) + head.bias[k], 0.2)
                   for k in range(head.num_slices)) / head.num_slices

    e_r, e_f = d.features(reals, 1), d.features(fakes, 1)
    xhat = (reals + t * (fakes - reals)).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(d.features(xhat, 1)).sum(), xhat)
    gp = ((1 - t) * grad).reshape(4, -1).pow(2).sum(1)
    yhat = (1 - t2) * e_r + t2 * e_f
    o = F.leaky_relu(yhat @ head.theta * head.scale + head.bias, 0.2)
    proj = ((head.scale * (F.relu(o) + 0.2 * F.relu(-o)) - 0.01) ** 2).mean(1)
    expected = (f(e_r) - f(e_f) + 50 * gp + 10 * proj).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-4)
    g_out = get_loss("swgan").g(critic, fakes, loss_cfg)
    assert g_out.loss.item() == pytest.approx(f(e_f).mean().item(), rel=1e-5)


def test_jacobian_estimate_is_unbiased():
    w = torch.randn(3, 5)

    def features(x):
        return x.flatten(1) @ w.T  # J = w, ||J||_F^2 = sum w^2

    x = torch.randn(1, 5).requires_grad_(True)
    est = torch.stack([jacobian_frobenius_sq(features, x) for _ in range(4000)]).mean()
    assert est.item() == pytest.approx(w.square().sum().item(), rel=0.1)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_backpropagates_to_d_and_g(name):
    cfg = load_config("tiny").model
    torch.manual_seed(0)
    g = Generator(cfg)
    pair = get_loss(name)
    d = Discriminator(cfg, score_head=not pair.sliced)
    head = SlicedHead(cfg.feature_dim)
    critic = Critic(lambda x: d.features(x, 0), head if pair.sliced else d.score, head if pair.sliced else None)
    fakes = g(torch.randn(4, cfg.latent_dim), 0)
    out = pair.d(critic, torch.randn(4, 3, *cfg.plan[0]), fakes.detach(), LossConfig(name=name, r1_gamma=1.0))
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert d.epilogue.dense.weight.grad is not None and d.epilogue.dense.weight.grad.abs().sum() > 0
    g_out = pair.g(critic, fakes, LossConfig(name=name))
    g_out.loss.backward()
    assert g.blocks[0].dense.weight.grad.abs().sum() > 0


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("lsgan")


@pytest.mark.parametrize("name,term,weight", [("swgan", "gp", "swgan_lambda1"), ("wgan-gp", "gp", "gp_weight"),
                                              ("swgan-eq53", "jac", "swgan_lambda1"), ("ns", "r1", None)])
def test_lazy_regularisation_scales_or_skips_the_double_backward_penalty(name, term, weight):
    cfg, d, head, reals, fakes = _setup(score_head=not get_loss(name).sliced)
    sliced = get_loss(name).sliced
    critic = Critic(lambda x: d.features(x, 1, 1.0), head if sliced else d.score, head if sliced else None)
    loss_cfg = LossConfig(name=name, r1_gamma=2.0)
    factor = getattr(loss_cfg, weight) if weight else 0.5 * loss_cfg.r1_gamma
    outs = {}
    for k in (1.0, 4.0):
        torch.manual_seed(5)  # same draws of t for both: the difference is the penalty alone
        outs[k] = get_loss(name).d(critic, reals, fakes, loss_cfg, reg_weight=k)
    penalty = outs[1.0].terms[term]
    assert outs[4.0].terms[term].item() == pytest.approx(penalty.item(), rel=1e-5)
    assert (outs[4.0].loss - outs[1.0].loss).item() == pytest.approx(3 * factor * penalty.item(), rel=1e-4)
    skipped = get_loss(name).d(critic, reals, fakes, loss_cfg, reg_weight=0.0)
    assert term not in skipped.terms  # not computed at all, not merely weighted by 0
    assert skipped.terms["real"].item() == pytest.approx(outs[1.0].terms["real"].item(), rel=1e-5)


def test_plain_wgan_has_no_penalty_and_no_drift():
    cfg, d, _, reals, fakes = _setup()
    critic = Critic(lambda x: d.features(x, 1, 1.0), d.score)
    out = get_loss("wgan").d(critic, reals, fakes, LossConfig(name="wgan"), reg_weight=4.0)
    real, fake = critic(reals), critic(fakes)
    assert out.loss.item() == pytest.approx((fake - real).mean().item(), rel=1e-6)
    assert set(out.terms) == {"real", "fake", "wdist"}
    assert get_loss("wgan").g(critic, fakes, LossConfig()).loss.item() == pytest.approx(-fake.mean().item(), rel=1e-6)


def test_a_patch_critic_is_scored_per_patch_then_averaged():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 1, 4, 4)  # (N, 3, 8, 8) -> (N, 1, 2, 2): four patch logits
    critic = Critic(conv, lambda x: x)
    reals, fakes = torch.randn(5, 3, 8, 8), torch.randn(5, 3, 8, 8)
    r, f = conv(reals).flatten(1), conv(fakes).flatten(1)
    out = get_loss("ns").d(critic, reals, fakes, LossConfig(name="ns"))
    expected = (F.softplus(f).mean(1) + F.softplus(-r).mean(1)).mean()  # BCE per patch, as MoCoGAN's D_I
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert out.loss.item() != pytest.approx((F.softplus(f.mean(1)) + F.softplus(-r.mean(1))).mean().item(), rel=1e-4)
    g = get_loss("ns").g(critic, fakes, LossConfig(name="ns"))
    assert g.loss.item() == pytest.approx(F.softplus(-f).mean().item(), rel=1e-6)
    assert critic(reals).shape == (5,) and torch.allclose(critic(reals), r.mean(1))
