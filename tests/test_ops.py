"""From-scratch conv2d / max_pool2d / dropout against torch.nn.functional (float64, gradcheck)."""
import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from minitorch_vision import ops

CONV_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=1, padding=2, dilation=2, groups=1),
    dict(stride=(2, 1), padding=(1, 0), dilation=1, groups=2),
]


@pytest.mark.parametrize("kw", CONV_CASES)
def test_conv2d_forward_matches_torch(kw):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 11, 9, generator=g, dtype=torch.float64)
    w = torch.randn(6, 4 // kw["groups"], 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    assert torch.allclose(ops.conv2d(x, w, b, **kw), F.conv2d(x, w, b, **kw), atol=1e-12)
    assert torch.allclose(ops.conv2d(x, w, None, **kw), F.conv2d(x, w, None, **kw), atol=1e-12)


def test_conv2d_depthwise_matches_torch():
    """groups == C_in (one filter pair per input channel) goes through the grouped branch."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 7, 7, generator=g, dtype=torch.float64)
    w = torch.randn(8, 1, 3, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(ops.conv2d(x, w, padding=1, groups=4), F.conv2d(x, w, padding=1, groups=4), atol=1e-12)


@pytest.mark.parametrize("kw", CONV_CASES[:3])
def test_conv2d_gradcheck(kw):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: ops.conv2d(x, w, b, **kw), (x, w, b))


def test_conv2d_gradients_equal_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    ours = torch.autograd.grad(ops.conv2d(x, w, padding=2).square().sum(), (x, w))
    ref = torch.autograd.grad(F.conv2d(x, w, padding=2).square().sum(), (x, w))
    for a, r in zip(ours, ref):
        assert torch.allclose(a, r, atol=1e-10)


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (3, 1, 0), ((2, 3), (2, 1), (1, 1))])
def test_max_pool2d_matches_torch(k, s, p):
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ops.max_pool2d(x, k, s, p), F.max_pool2d(x, k, s, p))


def test_max_pool2d_gradcheck_and_grad_equal():
    # distinct values: the arg-max of each window is unique, so the max is differentiable there
    x = torch.randperm(2 * 2 * 6 * 6, generator=torch.Generator().manual_seed(4)).double().view(2, 2, 6, 6) / 10
    x.requires_grad_(True)
    assert gradcheck(lambda t: ops.max_pool2d(t, 2), (x,))
    ga, = torch.autograd.grad(ops.max_pool2d(x, 3, 2, 1).sum(), x)
    gr, = torch.autograd.grad(F.max_pool2d(x, 3, 2, 1).sum(), x)
    assert torch.equal(ga, gr)


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1)])
def test_max_pool2d_ties_route_the_gradient_like_torch(k, s, p):
    x = torch.tensor([[1.0, 1.0, 0.0, 2.0], [1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 3.0, 3.0, 3.0]],
                     dtype=torch.float64).view(1, 1, 4, 4).requires_grad_(True)
    ga, = torch.autograd.grad(ops.max_pool2d(x, k, s, p).sum(), x)
    gr, = torch.autograd.grad(F.max_pool2d(x, k, s, p).sum(), x)
    assert torch.equal(ga, gr)


def test_dropout_statistics_and_modes():
    x = torch.ones(200_000, dtype=torch.float64)
    y = ops.dropout(x, 0.3, generator=torch.Generator().manual_seed(0))
    zero_frac = (y == 0).double().mean().item()
    assert abs(zero_frac - 0.3) < 0.01                      # drops about p of the units
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))  # survivors scaled by 1/(1-p)
    assert abs(y.mean().item() - 1.0) < 0.01                # expectation preserved, like F.dropout
    assert abs(F.dropout(x, 0.3).mean().item() - y.mean().item()) < 0.02
    assert torch.equal(ops.dropout(x, 0.3, training=False), x)
    assert torch.equal(ops.dropout(x, 0.0), x)
    assert torch.equal(ops.dropout(x, 1.0), torch.zeros_like(x))


def test_dropout_gradcheck_with_fixed_mask():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: ops.dropout(t, 0.4, generator=torch.Generator().manual_seed(5)), (x,))
