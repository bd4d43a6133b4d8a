"""``model.latent_codes`` and ``loss.info_weight``: an unsupervised categorical code in G's latent and
InfoGAN's mutual-information term (Chen et al. 2016) in both losses."""

import pytest
import torch
import torch.nn.functional as F

from provgan.config import load_config
from provgan.errors import ConfigError
from provgan.losses import info_loss
from provgan.nn import Generator
from provgan.nn.conditioning import latent_code
from provgan.nn.layers import pixel_norm
from provgan.train.models import build_models
from provgan.train.step import remembering
from tests.train.test_rotation_task import _step  # one step of the tiny config from seed 0

CODES = ["model.latent_codes=4", "loss.info_weight=1"]


def test_the_code_is_the_argmax_of_zs_first_entries_and_uniform():
    z = torch.tensor([[0.1, 2.0, -1.0, 9.0], [3.0, 0.0, 1.0, 9.0]])
    assert latent_code(z, 3).tolist() == [1, 0]  # entries past the first 3 do not count
    counts = torch.bincount(latent_code(torch.randn(40000, 16), 5), minlength=5).float() / 40000
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.01)


def test_generator_reads_its_code_through_the_embedding():
    cfg = load_config("tiny", ["model.latent_codes=4"]).model
    torch.manual_seed(0)
    g = Generator(cfg)
    z = torch.randn(6, cfg.latent_dim)
    joined = torch.cat([pixel_norm(z), pixel_norm(g.codes.embed[latent_code(z, 4)])], dim=1)
    w = pixel_norm(joined)
    h = g.blocks[0](joined, w)
    for block in g.blocks[1:]:
        h = block(h, w)
    assert torch.allclose(g(z), g.to_rgb[-1](h), atol=1e-5)
    # the code matters: the same z with its first entries reordered (another code) draws another clip
    other = z.clone()
    other[:, :4] = z[:, :4].roll(1, dims=1)
    assert not torch.allclose(g(z), g(other), atol=1e-3)
    assert g.num_parameters() == Generator(load_config("tiny").model).num_parameters() + \
        g.codes.embed.numel() + g.blocks[0].dense.weight.shape[0] * cfg.latent_dim


def test_info_loss_is_the_cross_entropy_written_out():
    logits, codes = torch.randn(5, 4), torch.tensor([0, 3, 1, 1, 2])
    expected = -logits.log_softmax(dim=1)[torch.arange(5), codes]
    assert torch.allclose(info_loss(logits, codes), expected, atol=1e-6)


def test_remembering_keeps_the_features_of_those_clips_only():
    torch.manual_seed(0)
    models = build_models(load_config("tiny"))
    critic = models.critic("D", 0, 1.0)
    x, y = torch.randn(2, 3, 4, 4, 4), torch.randn(2, 3, 4, 4, 4)
    wrapped, seen = remembering(critic, x)
    wrapped.features(y)
    assert "e" not in seen
    assert torch.equal(wrapped.features(x), seen["e"]) and torch.allclose(seen["e"], critic.features(x))


def test_off_by_default():
    models, terms = _step([])
    assert models.generator.codes is None and models.critics["D"].module.info is None
    assert not any(k.endswith("/info") for k in terms)


def test_both_losses_add_the_weighted_term_and_q_learns():
    models, terms = _step(CODES)
    q = models.critics["D"].module.info
    assert q is not None and q.weight.shape[0] == 4
    # an untrained Q is near chance: log 4
    for key in ("Loss/D/info", "Loss/G/info"):
        assert abs(float(terms[key]) - torch.log(torch.tensor(4.0))) < 0.7
    assert q.weight.grad is not None and q.weight.grad.abs().sum() > 0
    assert models.generator.codes.embed.grad is not None and models.generator.codes.embed.grad.abs().sum() > 0
    _, double = _step(CODES, ["model.latent_codes=4", "loss.info_weight=2"])
    assert torch.isclose(double["Loss/D/info"], terms["Loss/D/info"])
    assert torch.isclose(double["Loss/D/total"] - terms["Loss/D/total"], terms["Loss/D/info"], atol=1e-5)
    # G steps after D (which the weight changed), so its total is checked against its own terms
    for weight, t in ((1, terms), (2, double)):
        assert torch.isclose(t["Loss/G/total"], t["Loss/G/fake"] + weight * t["Loss/G/info"], atol=1e-5)


def test_a_code_without_the_term_only_changes_g():
    models, terms = _step(["model.latent_codes=4"])
    assert models.generator.codes is not None and models.critics["D"].module.info is None
    assert "Loss/D/info" not in terms


def test_the_critic_term_is_q_on_the_features_of_the_fakes():
    """Recompute the D step's term from the same draws: z first, then Q(E(G(z))) against z's codes."""
    cfg = load_config("tiny", CODES)
    torch.manual_seed(0)
    models = build_models(cfg)
    d, q = models.critics["D"].module, models.critics["D"].module.info
    torch.rand(8, 3, *cfg.model.plan[0])  # the step's real clips come first
    z = torch.randn(8, cfg.model.latent_dim)
    with torch.no_grad():
        e = d.features(models.generator(z, 0), 0)
        expected = F.cross_entropy(q(e), latent_code(z, 4))
    _, terms = _step(CODES)
    assert torch.isclose(terms["Loss/D/info"], expected, atol=1e-5)


@pytest.mark.parametrize("overrides, match", [
    (["model.latent_codes=1"], "latent_codes must be 0"),
    (["model.latent_codes=4", "model.conditional=true"], "unconditional"),
    (["loss.info_weight=1"], "needs model.latent_codes"),
    (["loss.info_weight=-1"], "info_weight must be >= 0"),
    (CODES + ["loss.shuffled_fakes=0.25"], "exclude each other"),
])
def test_bad_settings_are_one_clear_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", overrides)
