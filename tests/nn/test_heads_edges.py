"""The sliced head's and the class conditioning's edges: seeded orthonormal draws with the sign
fix, default size, exact error lines naming the network, dtypes under bf16.

Written to close what a mutation run found open (README "Mutation testing").
"""

import pytest
import torch

from provgan.nn.conditioning import LatentConditioning, ProjectionTerm
from provgan.nn.sliced_head import SlicedHead, random_orthonormal
from provgan.optim import qr_retract


def test_random_orthonormal_is_the_sign_fixed_q_of_a_seeded_gaussian():
    a = random_orthonormal(5, torch.Generator().manual_seed(3))
    torch.randn(3)  # the global stream moves; a seeded generator must not care
    b = random_orthonormal(5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    gaussian = torch.randn(5, 5, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(a, qr_retract(gaussian), atol=1e-6)  # columns scaled by sign(diag R)


def test_sliced_head_defaults_to_128_slices_and_names_its_input_in_errors():
    assert SlicedHead().num_slices == 128
    with pytest.raises(ValueError, match=r"^sliced head input E\(x\): expected shape \*x4, got 2x3$"):
        SlicedHead(4).slices(torch.zeros(2, 3))


@pytest.mark.parametrize("module, what", [(LatentConditioning(3, 4), "the generator"), (ProjectionTerm(3, 4), "the critic")])
def test_conditioning_errors_name_the_network(module, what):
    x = torch.zeros(2, 4)
    with pytest.raises(ValueError, match=f"^{what} is class-conditional \\(3 classes\\): pass one label per sample$"):
        module(x, None)
    with pytest.raises(ValueError, match=f"^{what}: expected 2 labels, got shape \\(3,\\)$"):
        module(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=f"^{what}: labels must lie in \\[0, 3\\), got 0..3$"):
        module(x, torch.tensor([0, 3]))


def test_latent_conditioning_keeps_the_latents_dtype():
    cond = LatentConditioning(3, 4)
    z = torch.randn(2, 6, dtype=torch.bfloat16)  # cat would promote a float32 embedding to float32
    out = cond(z, torch.tensor([1, 2]))
    assert out.dtype == torch.bfloat16 and out.shape == (2, 10)
