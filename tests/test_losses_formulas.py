"""Every loss and every logged term against its formula written out (thesis eq. 2.7, ch. 5, eq. 5.3).

The critic is a small closed-form function, not a network, so each term is recomputed here by hand
from the same random draws (t, the Jacobian probe v, t') and compared tightly. Weights are set away
from their defaults so a dropped or hard-coded weight changes the total by far more than round-off.
"""

import pytest
import torch
import torch.nn.functional as F

from provgan.config import LossConfig
from provgan.losses import (LOSSES, Critic, get_loss, hinge_d, ns_d, ns_g, swgan_d, swgan_eq53_d, swgan_g,
                            wgan_g, wgan_gp_d)
from provgan.nn.sliced_head import SlicedHead
from provgan.shard import Shard

N, K = 6, 4


class Toy:
    """E(x) = (x A)^2 / 4 + x B (nonlinear, so the gradient depends on where it is taken), D = 2 E(x) c."""

    def __init__(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.a = torch.randn(2 * 3, K, generator=g)
        self.b = torch.randn(2 * 3, K, generator=g)
        self.c = torch.randn(K, generator=g)
        self.reals = torch.randn(N, 2, 3, generator=g)
        self.fakes = torch.randn(N, 2, 3, generator=g) * 1.5 + 0.5
        self.head = SlicedHead(K)
        with torch.no_grad():
            self.head.theta.copy_(torch.linalg.qr(torch.randn(K, K, generator=g))[0])
            self.head.scale.uniform_(0.5, 2.0, generator=g)
            self.head.bias.normal_(0.0, 0.3, generator=g)

    def features(self, x):
        x = x.flatten(1)
        return (x @ self.a).square() / 4 + x @ self.b

    def score(self, e):
        return 2.0 * e @ self.c

    def d(self, x):
        return self.score(self.features(x))

    def f(self, e):  # eq. 5.2 slice by slice
        h = self.head
        return sum(F.leaky_relu(h.scale[k] * (e @ h.theta[:, k]) + h.bias[k], 0.2) for k in range(K)) / K

    def critic(self):
        return Critic(self.features, self.score)

    def sliced_critic(self):
        return Critic(self.features, self.head, sliced=self.head)


def _grad(fn, x):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x).sum(), x)
    return g


def _approx(x, rel=1e-5):
    return pytest.approx(float(torch.as_tensor(x).detach()), rel=rel, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# WGAN-GP (eq. 2.7 with PGGAN's drift)


def test_wgan_gp_each_term_and_the_total_follow_their_definitions():
    toy, cfg = Toy(), LossConfig(name="wgan-gp", gp_weight=3.0, drift_weight=0.5)
    torch.manual_seed(1)
    out = wgan_gp_d(toy.critic(), toy.reals, toy.fakes, cfg)
    torch.manual_seed(1)
    t = torch.rand(N).reshape(N, 1, 1)
    real, fake = toy.d(toy.reals), toy.d(toy.fakes)
    grad = _grad(toy.d, toy.reals + t * (toy.fakes - toy.reals))
    gp = (grad.flatten(1).norm(dim=1) - 1.0).square()
    assert out.terms["real"].item() == _approx(real.mean())
    assert out.terms["fake"].item() == _approx(fake.mean())
    assert out.terms["drift"].item() == _approx(real.square().mean())
    assert out.terms["wdist"].item() == _approx((real - fake).mean())
    assert out.terms["gp"].item() == _approx(gp.mean())
    assert out.loss.item() == _approx((fake - real + 0.5 * real.square() + 3.0 * gp).mean())
    assert set(out.terms) == {"real", "fake", "drift", "wdist", "gp"}
    assert all(not v.requires_grad for v in out.terms.values()) and out.loss.requires_grad


def test_wgan_gp_drift_weight_enters_the_total_once():
    toy = Toy(1)
    outs = {}
    for w in (0.0, 0.001, 1.0):
        torch.manual_seed(2)
        outs[w] = wgan_gp_d(toy.critic(), toy.reals, toy.fakes, LossConfig(name="wgan-gp", drift_weight=w))
    drift = toy.d(toy.reals).square().mean().item()
    assert (outs[1.0].loss - outs[0.0].loss).item() == _approx(drift)
    assert (outs[0.001].loss - outs[0.0].loss).item() == _approx(0.001 * drift, rel=1e-3)


def test_wgan_generator_loss_is_minus_the_critic_on_fakes():
    toy = Toy(2)
    out = wgan_g(toy.critic(), toy.fakes, LossConfig(name="wgan-gp"))
    fake = toy.d(toy.fakes)
    assert out.loss.item() == _approx(-fake.mean()) and out.terms["fake"].item() == _approx(fake.mean())
    assert get_loss("wgan-gp").g is wgan_g and get_loss("hinge").g is wgan_g


def test_wgan_gp_under_two_processes_uses_this_ranks_share_of_the_global_draws():
    toy, cfg = Toy(3), LossConfig(name="wgan-gp")
    rank = Shard(rank=1, world=2)
    torch.manual_seed(4)
    out = wgan_gp_d(toy.critic(), toy.reals, toy.fakes, cfg, shard=rank)
    torch.manual_seed(4)
    t = torch.rand(2 * N)[1::2].reshape(N, 1, 1)
    real, fake = toy.d(toy.reals), toy.d(toy.fakes)
    gp = (_grad(toy.d, toy.reals + t * (toy.fakes - toy.reals)).flatten(1).norm(dim=1) - 1.0).square()
    assert out.terms["gp"].item() == _approx(gp.mean())
    assert out.loss.item() == _approx((fake - real + 0.001 * real.square() + 10.0 * gp).mean())


# ---------------------------------------------------------------------------------------------
# SWGAN (reference code) and eq. 5.3


def test_swgan_terms_follow_the_reference_formulas():
    toy = Toy(4)
    cfg = LossConfig(swgan_lambda1=3.0, swgan_lambda2=7.0, swgan_target=0.2)
    torch.manual_seed(5)
    out = swgan_d(toy.sliced_critic(), toy.reals, toy.fakes, cfg)
    torch.manual_seed(5)
    t, t2 = torch.rand(N).reshape(N, 1, 1), torch.rand(N).reshape(N, 1)
    e_r, e_f = toy.features(toy.reals), toy.features(toy.fakes)
    grad = _grad(lambda x: toy.f(toy.features(x)), toy.reals + t * (toy.fakes - toy.reals))
    gp = ((1 - t) * grad).flatten(1).square().sum(dim=1)
    o = toy.head.slices((1 - t2) * e_r + t2 * e_f)
    proj = (toy.head.scale * (F.relu(o) + 0.2 * F.relu(-o)) - 0.2).square().mean(dim=1)
    f_r, f_f = toy.f(e_r), toy.f(e_f)
    assert out.terms["real"].item() == _approx(f_r.mean()) and out.terms["fake"].item() == _approx(f_f.mean())
    assert out.terms["swdist"].item() == _approx((f_f - f_r).mean())
    assert out.terms["gp"].item() == _approx(gp.mean()) and out.terms["proj"].item() == _approx(proj.mean())
    assert out.loss.item() == _approx((f_r - f_f + 3.0 * gp + 7.0 * proj).mean())
    g = swgan_g(toy.sliced_critic(), toy.fakes, cfg)
    assert g.loss.item() == _approx(f_f.mean()) and g.terms["fake"].item() == _approx(f_f.mean())


def test_swgan_eq53_terms_follow_the_equation():
    toy = Toy(5)
    cfg = LossConfig(name="swgan-eq53", swgan_lambda1=3.0, swgan_lambda2=7.0, eq53_k=0.5)
    torch.manual_seed(6)
    out = swgan_eq53_d(toy.sliced_critic(), toy.reals, toy.fakes, cfg)
    torch.manual_seed(6)
    t = torch.rand(N).reshape(N, 1, 1)
    v = torch.randn(N, K)
    t2 = torch.rand(N).reshape(N, 1)
    xhat = toy.reals + t * (toy.fakes - toy.reals)
    jac = _grad(lambda x: toy.features(x) * v, xhat).flatten(1).square().sum(dim=1)
    e_r, e_f = toy.features(toy.reals), toy.features(toy.fakes)
    gy = _grad(toy.f, (1 - t2) * e_r + t2 * e_f)
    lip = (gy.norm(dim=1) - 0.5).square()  # squared: eq. 5.3's second penalty
    f_r, f_f = toy.f(e_r), toy.f(e_f)
    assert out.terms["jac"].item() == _approx(jac.mean()) and out.terms["lip"].item() == _approx(lip.mean())
    assert out.terms["real"].item() == _approx(f_r.mean()) and out.terms["swdist"].item() == _approx((f_f - f_r).mean())
    assert out.loss.item() == _approx((f_r - f_f + 3.0 * jac + 7.0 * lip).mean())
    assert get_loss("swgan-eq53").g is swgan_g


def test_swgan_eq53_second_penalty_trains_f_but_not_the_features():
    """yhat is detached (eq. 5.3 constrains f alone): the lip term's gradient reaches the head only."""
    toy = Toy(6)
    toy.a = toy.a.clone().requires_grad_(True)
    grads = {}
    for lam2 in (0.0, 1.0):
        torch.manual_seed(7)
        cfg = LossConfig(name="swgan-eq53", swgan_lambda2=lam2)
        out = swgan_eq53_d(toy.sliced_critic(), toy.reals, toy.fakes, cfg, reg_weight=0.0)
        grads[lam2] = torch.autograd.grad(out.loss, [toy.a, toy.head.scale])
    assert torch.allclose(grads[1.0][0], grads[0.0][0], atol=1e-6)  # the features get nothing from lip
    assert not torch.allclose(grads[1.0][1], grads[0.0][1], atol=1e-4)  # the head does


def test_sliced_losses_need_a_sliced_critic():
    toy = Toy(7)
    for name in ("swgan", "swgan-eq53"):
        with pytest.raises(ValueError, match="sliced head"):
            get_loss(name).d(toy.critic(), toy.reals, toy.fakes, LossConfig(name=name))
    with pytest.raises(ValueError, match="sliced head"):
        swgan_g(toy.critic(), toy.fakes, LossConfig())


# ---------------------------------------------------------------------------------------------
# non-saturating logistic and hinge (the baselines)


def test_hinge_d_is_relu_margin_on_reals_and_fakes():
    toy = Toy(8)
    real, fake = toy.d(toy.reals), toy.d(toy.fakes)
    assert ((real.abs() < 1) | (fake.abs() < 1)).any() and ((real.abs() > 1) | (fake.abs() > 1)).any()
    out = hinge_d(toy.critic(), toy.reals, toy.fakes, LossConfig(name="hinge"))
    assert out.loss.item() == _approx((F.relu(1 - real) + F.relu(1 + fake)).mean())
    assert out.terms["real"].item() == _approx(real.mean()) and out.terms["fake"].item() == _approx(fake.mean())
    assert set(out.terms) == {"real", "fake"}  # r1_gamma = 0: no R1 term


def test_ns_losses_are_softplus_of_the_logits():
    toy = Toy(9)
    real, fake = toy.d(toy.reals), toy.d(toy.fakes)
    d = ns_d(toy.critic(), toy.reals, toy.fakes, LossConfig(name="ns"))
    assert d.loss.item() == _approx((F.softplus(fake) + F.softplus(-real)).mean())
    assert d.loss.item() == _approx(-(torch.log(torch.sigmoid(real)) + torch.log(1 - torch.sigmoid(fake))).mean())
    g = ns_g(toy.critic(), toy.fakes, LossConfig(name="ns"))
    assert g.loss.item() == _approx(F.softplus(-fake).mean()) and g.terms["fake"].item() == _approx(fake.mean())


@pytest.mark.parametrize("loss_d", [ns_d, hinge_d])
def test_r1_is_half_gamma_times_the_squared_gradient_norm_at_the_reals(loss_d):
    toy = Toy(10)
    cfg = LossConfig(name="ns", r1_gamma=3.0)
    out = loss_d(toy.critic(), toy.reals, toy.fakes, cfg, reg_weight=2.0)
    plain = loss_d(toy.critic(), toy.reals, toy.fakes, LossConfig(name="ns"))
    r1 = _grad(toy.d, toy.reals).flatten(1).square().sum(dim=1)
    assert out.terms["r1"].item() == _approx(r1.mean())
    assert (out.loss - plain.loss).item() == _approx(2.0 * 0.5 * 3.0 * r1.mean())


def test_the_loss_table_pairs_each_d_loss_with_its_g_loss_and_head():
    from provgan.losses import wgan_d

    assert {k: (p.d, p.g, p.sliced) for k, p in LOSSES.items()} == {
        "wgan-gp": (wgan_gp_d, wgan_g, False), "wgan": (wgan_d, wgan_g, False), "swgan": (swgan_d, swgan_g, True),
        "swgan-eq53": (swgan_eq53_d, swgan_g, True), "ns": (ns_d, ns_g, False), "hinge": (hinge_d, wgan_g, False)}
    with pytest.raises(ValueError, match="choose from wgan-gp, wgan, swgan, swgan-eq53, ns, hinge"):
        get_loss("WGAN")


# ---------------------------------------------------------------------------------------------
# details the formulas above do not pin down


def test_penalty_interpolates_keep_the_clips_dtype_under_bf16():
    """xhat is blended in fp32 but handed to D in the clips' own dtype (bf16 autocast runs)."""
    toy, seen = Toy(11), []

    def features(x):
        seen.append(x.dtype)
        return toy.features(x.float())

    reals, fakes = toy.reals.bfloat16(), toy.fakes.bfloat16()
    wgan_gp_d(Critic(features, toy.score), reals, fakes, LossConfig(name="wgan-gp"))
    assert seen == [torch.bfloat16] * 3  # reals, fakes and the interpolates


def test_feature_projection_penalty_is_per_sample():
    from provgan.losses import feature_projection_penalty

    toy = Toy(12)
    y = torch.randn(N, K)
    o = toy.head.slices(y)
    expected = (toy.head.scale * (F.relu(o) + 0.2 * F.relu(-o)) - 0.3).square().mean(dim=1)
    got = feature_projection_penalty(toy.head, y, 0.3)
    assert got.shape == (N,) and torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("loss_d", [ns_d, hinge_d])
def test_r1_runs_for_any_positive_gamma_and_the_default_weight_is_one(loss_d):
    toy = Toy(13)
    cfg = LossConfig(name="ns", r1_gamma=0.5)
    default = loss_d(toy.critic(), toy.reals, toy.fakes, cfg)
    once = loss_d(toy.critic(), toy.reals, toy.fakes, cfg, reg_weight=1.0)
    plain = loss_d(toy.critic(), toy.reals, toy.fakes, LossConfig(name="ns"))
    r1 = _grad(toy.d, toy.reals).flatten(1).square().sum(dim=1).mean()
    assert set(default.terms) == {"real", "fake", "r1"} and set(plain.terms) == {"real", "fake"}
    assert default.loss.item() == _approx(once.loss) and (default.loss - plain.loss).item() == _approx(0.25 * r1)
    assert plain.terms["fake"].item() == _approx(toy.d(toy.fakes).mean())


def test_every_d_loss_logs_real_and_fake_and_the_sliced_ones_need_the_exact_message():
    toy = Toy(14)
    for name, pair in LOSSES.items():
        critic = toy.sliced_critic() if pair.sliced else toy.critic()
        out = pair.d(critic, toy.reals, toy.fakes, LossConfig(name=name))
        score = toy.f(toy.features(toy.fakes)) if pair.sliced else toy.d(toy.fakes)
        assert out.terms["fake"].item() == _approx(score.mean()), name
    with pytest.raises(ValueError, match="^the swgan losses need a critic with a sliced head$"):
        swgan_g(toy.critic(), toy.fakes, LossConfig())


def test_plain_wgan_d_is_fake_minus_real_and_logs_the_distance():
    from provgan.losses import wgan_d

    toy = Toy(15)
    real, fake = toy.d(toy.reals), toy.d(toy.fakes)
    out = wgan_d(toy.critic(), toy.reals, toy.fakes, LossConfig(name="wgan"))
    assert out.loss.item() == _approx((fake - real).mean())
    assert out.terms["wdist"].item() == _approx((real - fake).mean()) and set(out.terms) == {"real", "fake", "wdist"}
