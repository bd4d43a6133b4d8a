"""Class conditioning: the projection term equals its formula; the latent join depends on the class."""

import pytest
import torch

from provgan.nn.conditioning import LatentConditioning, ProjectionTerm, check_labels
from provgan.nn.layers import pixel_norm


def test_projection_term_is_the_inner_product_with_the_class_embedding():
    torch.manual_seed(0)
    term = ProjectionTerm(num_classes=5, feature_dim=7)
    with torch.no_grad():
        term.embed.normal_()
    feats, labels = torch.randn(4, 7), torch.tensor([0, 3, 3, 4])
    written_out = torch.stack([sum(term.embed[labels[i], k] * feats[i, k] for k in range(7)) for i in range(4)])
    torch.testing.assert_close(term(feats, labels), written_out)


def test_projection_term_starts_at_zero_so_a_conditional_critic_starts_unconditional():
    term = ProjectionTerm(num_classes=3, feature_dim=4)
    assert torch.equal(term(torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])), torch.zeros(6))


def test_latent_conditioning_joins_normalised_latent_and_class_embedding():
    torch.manual_seed(0)
    cond = LatentConditioning(num_classes=10, dim=8)
    z = torch.randn(3, 16)
    out = cond(z, torch.tensor([2, 2, 7]))
    assert out.shape == (3, 24)
    torch.testing.assert_close(out[:, :16], pixel_norm(z))
    torch.testing.assert_close(out[0, 16:], pixel_norm(cond.embed[2:3])[0])
    same_z = cond(z[:1].expand(2, 16), torch.tensor([1, 4]))
    assert not torch.allclose(same_z[0], same_z[1])  # the class changes the input for a fixed z


@pytest.mark.parametrize("labels, message", [(None, "pass one label per sample"),
                                             (torch.tensor([0, 1]), "expected 3 labels"),
                                             (torch.tensor([0, 1, 10]), r"must lie in \[0, 10\)"),
                                             (torch.tensor([-1, 1, 2]), r"must lie in \[0, 10\)")])
def test_bad_labels_are_one_clear_error(labels, message):
    with pytest.raises(ValueError, match=message):
        check_labels(labels, 10, 3, "the generator")


def _cond_model_config(**extra):
    from provgan.config import load_config

    cfg = load_config("tiny", ["model.plan=[[4,4,4],[4,8,8]]", "model.g_channels=[8,8]", "model.conditional=true",
                               "model.num_classes=10"])
    return cfg.model


def test_conditional_generator_output_depends_on_the_class_for_a_fixed_z():
    from provgan.nn.generator import Generator

    torch.manual_seed(0)
    g = Generator(_cond_model_config())
    z = torch.randn(1, g.latent_dim).expand(3, -1)
    out = g(z, 1, 1.0, torch.tensor([0, 3, 3]))
    assert out.shape == (3, 3, 4, 8, 8)
    assert torch.equal(out[1], out[2]) and not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match="pass one label per sample"):
        g(z, 1, 1.0)


def test_unconditional_networks_refuse_labels():
    from provgan.config import load_config
    from provgan.nn.generator import Generator

    g = Generator(load_config("tiny").model)
    with pytest.raises(ValueError, match="unconditional"):
        g(torch.randn(2, g.latent_dim), 0, 1.0, torch.tensor([0, 1]))


def test_conditional_scalar_critic_is_dense_score_plus_projection_written_out():
    from provgan.nn.discriminator import Discriminator

    torch.manual_seed(0)
    d = Discriminator(_cond_model_config())
    with torch.no_grad():
        d.projection.embed.normal_()
    x, y = torch.randn(4, 3, 4, 8, 8), torch.tensor([1, 1, 7, 9])
    e = d.features(x, 1, 1.0)
    expected = d.score(e).squeeze(1) + (d.projection.embed[y] * e).sum(dim=1)
    torch.testing.assert_close(d(x, 1, 1.0, y), expected)


def test_conditioned_sliced_head_adds_the_projection_and_keeps_the_heads_slices():
    from provgan.nn.conditioning import ConditionedSlicedHead
    from provgan.nn.sliced_head import SlicedHead

    torch.manual_seed(0)
    head, proj = SlicedHead(6), ProjectionTerm(4, 6)
    with torch.no_grad():
        proj.embed.normal_()
    e, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 0])
    bound = ConditionedSlicedHead(head, proj, y)
    torch.testing.assert_close(bound(e), head(e) + (proj.embed[y] * e).sum(dim=1))
    torch.testing.assert_close(bound.slices(e), head.slices(e))
    assert bound.theta is head.theta and bound.scale is head.scale
