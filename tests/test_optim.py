import torch

from provgan.nn.sliced_head import random_orthonormal
from provgan.optim import make_adam, qr_retract, reset_adam_state, stiefel_project, stiefel_step


def test_projection_is_tangent():
    w = random_orthonormal(8)
    g = torch.randn(8, 8)
    p = stiefel_project(w, g)
    skew = w.T @ p  # tangent vectors at W satisfy W^T P + P^T W = 0
    assert torch.allclose(skew + skew.T, torch.zeros(8, 8), atol=1e-5)


def test_qr_retraction_sign_fix_keeps_columns():
    w = random_orthonormal(6)
    assert torch.allclose(qr_retract(w), w, atol=1e-5)  # a point on the manifold is a fixed point
    assert torch.allclose(qr_retract(w * 1.5), w, atol=1e-5)  # and without the sign fix QR may flip columns


def test_thousand_stiefel_steps_stay_orthonormal_without_flips():
    torch.manual_seed(0)
    theta = torch.nn.Parameter(random_orthonormal(32))
    opt = make_adam([theta], lr=1e-3, beta1=0, beta2=0.99, eps=1e-8)
    previous = theta.detach().clone()
    for _ in range(1000):
        theta.grad = torch.randn(32, 32)
        stiefel_step(opt, theta)
        current = theta.detach()
        assert torch.all((previous * current).sum(dim=0) > 0), "a column flipped sign"
        previous = current.clone()
    err = torch.linalg.matrix_norm(theta.T @ theta - torch.eye(32)).item()
    assert err < 1e-5
    assert not torch.allclose(theta.detach(), random_orthonormal(32))  # it did move


def test_adam_reset_clears_moments():
    p = torch.nn.Parameter(torch.ones(3))
    opt = make_adam([p], 0.1, 0, 0.99, 1e-8)
    p.grad = torch.ones(3)
    opt.step()
    assert opt.state[p]["step"] == 1
    reset_adam_state(opt)
    assert len(opt.state) == 0
    p.grad = torch.ones(3)
    opt.step()
    assert opt.state[p]["step"] == 1


def test_make_optimizer_builds_adam_or_rmsprop_with_weight_decay():
    import pytest

    from provgan.optim import make_optimizer

    p = [torch.nn.Parameter(torch.ones(3))]
    adam = make_optimizer(p, "adam", 2e-4, (0.5, 0.999), weight_decay=1e-5)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["betas"] == (0.5, 0.999)
    assert adam.param_groups[0]["weight_decay"] == 1e-5
    rms = make_optimizer(p, "rmsprop", 5e-5, alpha=0.99, eps=1e-8)
    assert isinstance(rms, torch.optim.RMSprop) and rms.param_groups[0]["alpha"] == 0.99
    # one step equals the textbook RMSprop update lr * g / (sqrt(ms) + eps) with ms = (1 - alpha) g^2
    p[0].grad = torch.full((3,), 2.0)
    rms.step()
    ms = 0.01 * 4.0
    assert torch.allclose(p[0].detach(), torch.ones(3) - 5e-5 * 2.0 / (ms ** 0.5 + 1e-8))
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        make_optimizer(p, "sgd", 1e-3)
