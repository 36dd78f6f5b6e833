"""The authors' FNO2d (``neptune/models/fno2d.py``) in torch: a pointwise lift, Fourier layers
(truncated 2-D real FFT, complex weights on the lowest modes of both signs along the first
axis and the lowest along the second, plus a 1x1 convolution, GELU after every layer), then a
two-layer pointwise projection; optionally GELU on the outputs (the basis of the hard
constraint). GELU is the tanh form (JAX's default).

Why not the ``neuraloperator`` package: its FNO differs in ways that change the model (a
lifting MLP, channel MLPs inside the blocks, no activation after the last block, "forward" FFT
normalisation, a different spectral initialisation; see the family README), and it pulls in
wandb, tensorly and others; this is the authors' layer exactly, in sixty lines.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def gelu(x):
    return F.gelu(x, approximate="tanh")


class SpectralConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, m1: int, m2: int):
        super().__init__()
        self.m1, self.m2 = m1, m2
        scale = 1.0 / math.sqrt((cin + cout) / 2)
        # complex weights stored as real pairs (last axis), for the lowest +/- m1 modes of axis 1
        self.w_pos = nn.Parameter(scale * torch.randn(cin, cout, m1, m2, 2))
        self.w_neg = nn.Parameter(scale * torch.randn(cin, cout, m1, m2, 2))

    def forward(self, x):  # x [B, C, H, W]
        H, W = x.shape[-2:]
        xf = torch.fft.rfft2(x)
        out = torch.zeros(x.shape[0], self.w_pos.shape[1], H, W // 2 + 1, dtype=xf.dtype, device=x.device)
        # on a grid too coarse for the layer's modes, the modes it has: at most H // 2 of each
        # sign along the first axis (the two blocks must not overlap; a weight stays with its
        # frequency) and W // 2 + 1 along the second; on the grids the layer was sized for,
        # all of them
        m1, m2 = min(self.m1, H // 2), min(self.m2, W // 2 + 1)
        wp = torch.view_as_complex(self.w_pos[:, :, :m1, :m2].to(x.dtype).contiguous())
        wn = torch.view_as_complex(self.w_neg[:, :, self.m1 - m1:, :m2].to(x.dtype).contiguous())
        out[:, :, :m1, :m2] = torch.einsum("bixy,ioxy->boxy", xf[:, :, :m1, :m2], wp)
        out[:, :, -m1:, :m2] = torch.einsum("bixy,ioxy->boxy", xf[:, :, -m1:, :m2], wn)
        return torch.fft.irfft2(out, s=(H, W))


class FNO2d(nn.Module):
    """[B, in, H, W] -> [B, out, H, W]."""

    def __init__(self, cin: int = 3, cout: int = 16, lift: int = 32, width: int = 32, layers: int = 5,
                 modes: tuple[int, int] = (6, 8), fc: int = 128, activate_last: bool = True):
        super().__init__()
        self.config = dict(cin=cin, cout=cout, lift=lift, width=width, layers=layers, modes=tuple(modes), fc=fc,
                           activate_last=activate_last)
        self.fc0 = nn.Linear(cin, lift)
        chans = [lift] + [width] * layers
        self.spectral = nn.ModuleList(SpectralConv2d(a, b, *modes) for a, b in zip(chans[:-1], chans[1:]))
        self.pointwise = nn.ModuleList(nn.Conv2d(a, b, 1) for a, b in zip(chans[:-1], chans[1:]))
        self.fc1 = nn.Linear(width, fc)
        self.fc2 = nn.Linear(fc, cout)
        self.activate_last = activate_last

    def forward(self, x):
        h = self.fc0(x.movedim(1, -1)).movedim(-1, 1)
        for spec, pw in zip(self.spectral, self.pointwise):
            h = gelu(spec(h) + pw(h))
        h = gelu(self.fc1(h.movedim(1, -1)))
        y = self.fc2(h).movedim(-1, 1)
        return gelu(y) if self.activate_last else y
