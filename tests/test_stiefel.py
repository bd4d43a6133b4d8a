"""The Stiefel step against closed forms (thesis ch. 5: Theta holds orthonormal slicing directions).

These guard the update itself, not only its invariants: a projection that returns ~0 keeps Theta
orthonormal for ever and passes every "stays on the manifold" test while never learning anything.
"""

import pytest
import torch
import torch.nn.functional as F

from provgan.nn.sliced_head import SlicedHead, random_orthonormal
from provgan.optim import make_adam, qr_retract, set_lr, stiefel_project, stiefel_step


def _orthonormal64(n: int, k: int) -> torch.Tensor:
    """A point of the Stiefel manifold in float64, so closed forms hold to round-off."""
    return torch.linalg.qr(torch.randn(n, k, dtype=torch.float64))[0]


def _skew(a: torch.Tensor) -> torch.Tensor:
    return 0.5 * (a - a.T)


def test_square_projection_is_w_times_skew_part_of_wtg_and_keeps_most_of_g():
    torch.manual_seed(0)
    w = _orthonormal64(8, 8)
    g = torch.randn(8, 8, dtype=torch.float64)
    p = stiefel_project(w, g)
    assert torch.allclose(p, w @ _skew(w.T @ g), atol=1e-12)
    # a random G is half symmetric, half skew in W's frame: the projection keeps ~1/sqrt(2) of it
    ratio = (p.norm() / g.norm()).item()
    assert 0.5 < ratio < 0.9, ratio


def test_rectangular_projection_keeps_the_normal_part_and_the_skew_part():
    torch.manual_seed(1)
    w = _orthonormal64(9, 4)
    g = torch.randn(9, 4, dtype=torch.float64)
    p = stiefel_project(w, g)
    expected = (torch.eye(9, dtype=torch.float64) - w @ w.T) @ g + w @ _skew(w.T @ g)
    assert torch.allclose(p, expected, atol=1e-12)


def test_projection_is_idempotent_and_removes_a_pure_normal_direction():
    torch.manual_seed(2)
    w = _orthonormal64(6, 6)
    g = torch.randn(6, 6, dtype=torch.float64)
    p = stiefel_project(w, g)
    assert torch.allclose(stiefel_project(w, p), p, atol=1e-12)
    s = torch.randn(6, 6, dtype=torch.float64)
    assert torch.allclose(stiefel_project(w, w @ (s + s.T)), torch.zeros(6, 6, dtype=torch.float64), atol=1e-12)


def test_qr_retraction_of_a_general_matrix_is_its_positive_diagonal_q():
    torch.manual_seed(3)
    a = torch.randn(5, 5, dtype=torch.float64)
    q = qr_retract(a)
    r = q.T @ a  # a = q r with r upper triangular and a positive diagonal
    assert torch.allclose(q.T @ q, torch.eye(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(torch.tril(r, -1), torch.zeros(5, 5, dtype=torch.float64), atol=1e-10)
    assert torch.all(torch.diagonal(r) > 0)
    flipped = a * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    assert not torch.allclose(qr_retract(flipped), q)  # the retraction depends on the input's column signs


def test_stiefel_step_is_adam_on_the_projected_gradient_then_qr():
    torch.manual_seed(4)
    start = random_orthonormal(6)
    theta = torch.nn.Parameter(start.clone())
    opt = make_adam([theta], lr=0.05, beta1=0.0, beta2=0.99, eps=1e-8)
    g = torch.randn(6, 6)
    theta.grad = g.clone()
    stiefel_step(opt, theta)
    p = stiefel_project(start, g)
    adam_first = start - 0.05 * p / (p.abs() + 1e-8)  # Adam's first step with beta1 = 0 is lr * sign
    assert torch.allclose(theta.detach(), qr_retract(adam_first), atol=1e-5)
    assert not torch.allclose(theta.detach(), start, atol=1e-3)  # compared with its own start


def test_stiefel_step_leaves_theta_alone_without_a_gradient_and_steps_other_params():
    theta = torch.nn.Parameter(random_orthonormal(4))
    other = torch.nn.Parameter(torch.zeros(3))
    start = theta.detach().clone()
    opt = make_adam([theta, other], lr=0.1, beta1=0.0, beta2=0.99, eps=1e-8)
    other.grad = torch.ones(3)
    stiefel_step(opt, theta)
    assert torch.allclose(theta.detach(), start, atol=1e-6)
    assert torch.allclose(other.detach(), torch.full((3,), -0.1))


def test_stiefel_steps_on_theta_alone_lower_the_head_loss():
    """Only Theta is trained: the head's regression loss must fall while Theta stays orthonormal."""
    torch.manual_seed(5)
    head = SlicedHead(8)
    y = torch.randn(64, 8)
    target = F.leaky_relu(y @ random_orthonormal(8), 0.2).mean(dim=1) * 3.0
    start = head.theta.detach().clone()
    opt = make_adam([head.theta], lr=0.02, beta1=0.0, beta2=0.99, eps=1e-8)

    def loss():
        return (head(y) - target).square().mean()

    before = loss().item()
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        stiefel_step(opt, head.theta)
    after = loss().item()
    theta = head.theta.detach()
    assert after < 0.7 * before, (before, after)
    assert torch.allclose(theta.T @ theta, torch.eye(8), atol=1e-5)
    assert (theta - start).norm() > 0.1


def test_projection_and_retraction_work_on_a_batch_of_matrices():
    """Both act on the last two dims, so a stack of Thetas is handled matrix by matrix."""
    torch.manual_seed(6)
    w = torch.stack([_orthonormal64(5, 3) for _ in range(2)])
    g = torch.randn(2, 5, 3, dtype=torch.float64)
    p = stiefel_project(w, g)
    for i in range(2):
        assert torch.allclose(p[i], stiefel_project(w[i], g[i]), atol=1e-12)
    a = torch.randn(2, 4, 4, dtype=torch.float64)
    q = qr_retract(a)
    for i in range(2):
        assert torch.allclose(q[i], qr_retract(a[i]), atol=1e-12)


def test_qr_retraction_keeps_a_column_where_r_has_a_zero_pivot():
    """sign(0) = 0 would zero that column of Q; the fix takes +1 there so Q stays orthonormal."""
    a = torch.eye(3, dtype=torch.float64)
    a[:, 1] = 0.0  # rank-deficient: R[1, 1] == 0
    q = qr_retract(a)
    assert torch.allclose(q.T @ q, torch.eye(3, dtype=torch.float64), atol=1e-12)


def test_make_adam_uses_the_given_betas_and_eps_and_set_lr_changes_every_group():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = make_adam([a], lr=0.1, beta1=0, beta2=0.99, eps=1e-6)
    opt.add_param_group({"params": [b], "lr": 0.3})
    group = opt.param_groups[0]
    assert group["betas"] == (0.0, 0.99) and isinstance(group["betas"][0], float) and group["eps"] == 1e-6
    set_lr(opt, 0.02)
    assert [g["lr"] for g in opt.param_groups] == [0.02, 0.02]


def test_make_optimizer_passes_every_setting_and_has_pggans_defaults():
    from provgan.optim import make_optimizer

    p = torch.nn.Parameter(torch.zeros(2))
    adam = make_optimizer([p], "adam", 0.01).param_groups[0]
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"]) == (0.01, (0.0, 0.99), 1e-8, 0.0)
    rms = make_optimizer([p], "rmsprop", 0.02).param_groups[0]
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["weight_decay"]) == (0.02, 0.99, 1e-8, 0.0)
    set_ = make_optimizer([p], "rmsprop", 0.03, eps=1e-6, weight_decay=0.1, alpha=0.9).param_groups[0]
    assert (set_["alpha"], set_["eps"], set_["weight_decay"]) == (0.9, 1e-6, 0.1)
    a2 = make_optimizer([p], "adam", 0.03, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.2).param_groups[0]
    assert (a2["betas"], a2["eps"], a2["weight_decay"]) == ((0.5, 0.9), 1e-6, 0.2)
    with pytest.raises(ValueError, match="^unknown optimizer 'sgd'; choose adam or rmsprop$"):
        make_optimizer([p], "sgd", 0.1)
