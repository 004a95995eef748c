"""Convolution, max-pooling and dropout written from scratch, to see what the library does.

Each function has the same signature and result as its ``torch.nn.functional`` twin (the tests
check this in float64 with ``allclose`` and ``gradcheck``). They are built only from indexing,
``unfold``-style patch extraction and matmul, so autograd gives the backward pass for free.
Training uses ``nn.Conv2d``: the same maths, in a tuned kernel.
"""
import torch


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, pad_value=0.0):
    """Extract sliding patches (the "im2col" trick, Chellapilla et al. 2006).

    Args:
        x: (N, C, H, W)
    Returns:
        patches (N, C*kh*kw, L) with L = out_h*out_w, plus (out_h, out_w). Equals
        ``torch.nn.functional.unfold``; written with ``Tensor.unfold`` (a strided view).
    """
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    N, C, H, W = x.shape
    if ph or pw:
        x = torch.nn.functional.pad(x, (pw, pw, ph, ph), value=pad_value)
    # A dilated kernel of size k spans (k-1)*d+1 pixels; take windows of that span, then every d-th.
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    win = x.unfold(2, span_h, sh).unfold(3, span_w, sw)  # (N, C, out_h, out_w, span_h, span_w)
    win = win[..., ::dh, ::dw]                            # (N, C, out_h, out_w, kh, kw)
    out_h, out_w = win.shape[2], win.shape[3]
    cols = win.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, out_h * out_w)
    return cols, (out_h, out_w)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation as one matrix multiply: ``weight.view(C_out, -1) @ im2col(x)``.

    Args:
        x: (N, C_in, H, W); weight: (C_out, C_in/groups, kh, kw); bias: (C_out,) or None.
    Returns:
        (N, C_out, H_out, W_out), H_out = (H + 2p - d(kh-1) - 1) // s + 1.
    """
    N = x.shape[0]
    C_out, C_in_g, kh, kw = weight.shape
    cols, (oh, ow) = im2col(x, (kh, kw), stride, padding, dilation)   # (N, C_in*kh*kw, L), L = oh*ow
    if groups == 1:
        # Each output pixel is the dot product of one flattened filter with one flattened patch.
        out = weight.view(C_out, -1) @ cols                          # (C_out, C_in*kh*kw) @ (N, C_in*kh*kw, L) -> (N, C_out, L)
    else:
        # Grouped: input channels split into ``groups`` slices, each with its own C_out/groups filters
        # (groups == C_in is a depthwise conv): one matmul per group, as a batched einsum.
        cols = cols.view(N, groups, C_in_g * kh * kw, oh * ow)       # (N, G, C_in/G*kh*kw, L)
        w = weight.view(groups, C_out // groups, C_in_g * kh * kw)   # (G, C_out/G, C_in/G*kh*kw)
        out = torch.einsum("gok,ngkl->ngol", w, cols)                # (N, G, C_out/G, L)
    out = out.reshape(N, C_out, oh, ow)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each window; padding counts as -inf, as in PyTorch.

    Args:
        x: (N, C, H, W). ``stride`` defaults to ``kernel_size``.
    Returns:
        (N, C, H_out, W_out). The gradient flows to the arg-max of each window (the first one
        when several values tie).
    """
    stride = kernel_size if stride is None else stride
    N, C = x.shape[:2]
    cols, (oh, ow) = im2col(x, kernel_size, stride, padding, pad_value=float("-inf"))
    kh, kw = _pair(kernel_size)
    cols = cols.view(N, C, kh * kw, oh * ow)
    # .max(dim) (not .amax) sends the gradient to one arg-max per window, the first in scan
    # order, as PyTorch's pooling does; .amax would split it between tied values.
    return cols.max(dim=2).values.view(N, C, oh, ow)


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout (Srivastava et al. 2014): zero each element with probability ``p`` and
    scale survivors by ``1/(1-p)`` so the expected activation is unchanged; identity at eval."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1.0 - p)
