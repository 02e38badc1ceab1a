"""Measure the receptive field of a real torch network: the oracle for whole models.

DESIGN.md's method: positive weights, max pools as average pools (also
``F.max_pool2d`` called in ``forward``), norms and activations as
identities, so that no path cancels; backpropagate from one output position
whose field stays clear of the borders; the support of the input gradient is
the field. Thin inputs, long along the measured axis, keep this cheap.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


def _avg_like(pool: nn.Module) -> nn.Module:
    cls = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}[type(pool)]
    if getattr(pool, "dilation", 1) not in (1, (1, 1), (1, 1, 1)):
        raise ValueError("dilated max pooling has no average-pool twin")
    return cls(pool.kernel_size, pool.stride, pool.padding, ceil_mode=pool.ceil_mode)


def prepare(model: nn.Module) -> nn.Module:
    """Make every path positive and linear (in place): see the module docstring."""
    for name, child in list(model.named_children()):
        if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            setattr(model, name, _avg_like(child))
        elif isinstance(child, _NORMS) or isinstance(child, (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish,
                                                              nn.LeakyReLU, nn.ELU, nn.Dropout, nn.Dropout2d,
                                                              nn.Sigmoid, nn.Tanh, nn.Hardsigmoid, nn.Mish)):
            setattr(model, name, nn.Identity())
        else:
            prepare(child)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                m.weight.copy_(torch.rand_like(m.weight) + 0.5)
                if m.bias is not None:
                    m.bias.zero_()
    return model.eval().double()


@contextlib.contextmanager
def functional_max_as_avg() -> Iterator[None]:
    """``F.max_pool2d`` and friends called in forward become average pools while measuring;
    activations called functionally become identities."""
    saved = {}
    patches: dict[str, Callable] = {}
    for n in (1, 2, 3):
        avg = getattr(F, f"avg_pool{n}d")

        def max_as_avg(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, _avg=avg):
            return _avg(x, kernel_size, stride, padding, ceil_mode=ceil_mode)

        patches[f"max_pool{n}d"] = max_as_avg
    ident = lambda x, *a, **k: x  # noqa: E731
    for name in ("relu", "relu6", "silu", "gelu", "hardswish", "leaky_relu", "dropout"):
        patches[name] = ident
    for name, fn in patches.items():
        saved[name] = getattr(F, name)
        setattr(F, name, fn)
    saved_torch_relu = torch.relu
    torch.relu = ident  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(F, name, fn)
        torch.relu = saved_torch_relu  # type: ignore[assignment]


@dataclass(frozen=True)
class Measured:
    """Measured frame along one axis: per phase (start, end) relative to ``o*j``."""

    j: Fraction
    alpha: tuple[Fraction, ...]
    beta: tuple[Fraction, ...]

    @property
    def r(self) -> int:
        return int(max(b - a for a, b in zip(self.alpha, self.beta))) + 1

    @property
    def padding(self) -> Fraction:
        return -min(self.alpha)


def support(grad: torch.Tensor, axis: int) -> tuple[int, int] | None:
    """First and last input index along ``axis`` with a nonzero gradient."""
    dims = [d for d in range(grad.dim()) if d != axis]
    mass = grad.abs().sum(dim=dims)
    idx = torch.nonzero(mass > 0).flatten()
    if idx.numel() == 0:
        return None
    return int(idx[0]), int(idx[-1])


def measure(
    model: nn.Module,
    shape: tuple[int, ...],
    period: int = 1,
    output: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    axis: int = -1,
) -> Measured:
    """Frame of ``output(model, x)`` (default: ``model(x)``) along the last axis.

    ``shape`` is the input shape, long along ``axis``. Positions ``m..m+2*period``
    around the middle of the output are measured; ``j`` comes from the shift
    between outputs ``period`` apart.
    """
    model = prepare(model)
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    with functional_max_as_avg():
        y = output(model, x) if output is not None else model(x)
    n_out = y.shape[axis]
    mid = n_out // 2
    mid -= mid % period
    spans = []
    for o in range(mid, mid + 2 * period):
        grad, = torch.autograd.grad(_select(y, axis, o).sum(), x, retain_graph=True)
        s = support(grad, axis % x.dim())
        if s is None:
            raise AssertionError(f"output {o} reads no input (a gap)")
        spans.append(s)
    j = Fraction(spans[period][0] - spans[0][0], period)
    if spans[period][1] - spans[0][1] != j * period:
        raise AssertionError(f"measured frame is not periodic with period {period}: {spans}")
    alpha = tuple(Fraction(spans[p][0]) - (mid + p) * j for p in range(period))
    beta = tuple(Fraction(spans[p][1]) - (mid + p) * j for p in range(period))
    return Measured(j, alpha, beta)


def _select(y: torch.Tensor, axis: int, index: int) -> torch.Tensor:
    """Output position ``index`` along ``axis`` and the middle of every other spatial axis."""
    axis %= y.dim()
    idx: list[object] = [slice(None)] * y.dim()
    for d in range(2, y.dim()):
        idx[d] = index if d == axis else y.shape[d] // 2
    return y[tuple(idx)]
